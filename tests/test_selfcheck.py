"""The staff self-check: the DSL builds a kit of keyed hashes, a member of staff checks their own
exports against it with no database and no network, and sees what the audit would flag.

The school below is synthetic and made by hand for these tests (names chosen to be unlike any
word of the policy texts, so a plain-text leak cannot hide behind a clause).
"""

from __future__ import annotations

import csv
import json
import re
import socket
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DEV_WORLD
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor import selfcheck
from auditor.cli import main
from auditor.db import Database
from auditor.errors import ExpiredError, InputError
from auditor.policy import load_policy

AS_OF = "2026-11-01"

SCHOOLS = [
    {"school": "QF1", "name": "Quillmere Fictional Primary", "urn": "990011", "la": "990", "estab": "1001"},
]
PUPILS = [
    # current pupil; found by a handle with their full name and birth year
    ("P9001", "Zephyrine", "Quillbottom", "", "Araminta", "2014-03-02", "", ""),
    # current pupil known by a nickname in the staff export
    ("P9002", "Oliver", "Brackenwhistle", "", "", "2013-06-11", "", ""),
    # past pupil aged 17 on the audit date: under nineteen, a breach under luton
    ("P9003", "Thaddeus", "Marrowfield", "", "", "2009-05-05", "2025-07-20", ""),
    # past pupil aged 20: no rule applies
    ("P9004", "Ignatius", "Pembertree", "", "", "2006-01-01", "2022-07-20", ""),
    # current pupil whose surname the member of staff's phone book misspells
    ("P9005", "Lucasta", "Fennimore", "", "", "2012-09-30", "", ""),
    # current pupil known by a preferred forename
    ("P9006", "Wilhelmina", "Starlingford", "Mina", "", "2015-01-15", "", ""),
]
CONTACTS = [
    ("C9001", "P9001", "Mrs", "Rosamund", "Quillbottom", "Mother", "rosamund.q@example.invalid", "07700 900123"),
    ("C9002", "P9002", "Mr", "Peregrine", "Brackenwhistle", "Father", "", "07700 900456"),
]
STAFF = [
    ("T9001", "Bartholomew", "Inkwright", "b.inkwright@qf1.example.invalid", "QF1", "Teacher"),
    ("T9002", "Cordelia", "Ashdown", "c.ashdown@qf1.example.invalid", "QF1", "Teaching Assistant"),
]


def write_roster(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, header: list[str], rows: list) -> None:
        with open(folder / name, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(header)
            out.writerows(rows)

    write("schools.csv", list(SCHOOLS[0]), [list(s.values()) for s in SCHOOLS])
    write("pupils.csv", ["pupil_id", "upn", "legal_forename", "legal_surname", "preferred_forename", "middle_names",
                         "date_of_birth", "school", "year_group", "admission_date", "leaving_date"],
          [[pid, "", fore, sur, pref, middle, dob, "QF1", "", "2020-09-01", left]
           for pid, fore, sur, pref, middle, dob, left, _ in PUPILS])
    write("contacts.csv", ["contact_id", "pupil_id", "title", "forename", "surname", "relationship",
                           "parental_responsibility", "priority", "email", "mobile_phone"],
          [[cid, pid, title, fore, sur, rel, "true", "1", email, phone]
           for cid, pid, title, fore, sur, rel, email, phone in CONTACTS])
    write("staff.csv", ["staff_id", "forename", "surname", "email", "school", "role"], [list(s) for s in STAFF])
    return folder


def _ig_entry(username: str, when: int = 1_760_000_000) -> dict:
    return {"title": "", "media_list_data": [],
            "string_list_data": [{"href": f"https://www.instagram.com/{username}", "value": username,
                                  "timestamp": when}]}


def write_exports(folder: Path) -> list[Path]:
    """Bartholomew Inkwright's exports: an Instagram download (2023 layout) and a vCard."""
    ig = folder / "instagram-binkwright"
    lists = ig / "connections" / "followers_and_following"
    lists.mkdir(parents=True)
    (lists / "followers_1.json").write_text(json.dumps([
        _ig_entry("zephyrinequillbottom2014"), _ig_entry("allotment.society.uk"), _ig_entry("mina.starlingford"),
    ]))
    (lists / "following.json").write_text(json.dumps({"relationships_following": [
        _ig_entry("thaddeus.marrowfield"), _ig_entry("olly_brackenwhistle"), _ig_entry("ignatius.pembertree"),
        _ig_entry("bakery_on_the_corner"),
    ]}))
    cards = [
        ("Ros Q", "+44 7700 900123", ""),  # the parent, by phone
        ("Cordelia Ashdown", "", "c.ashdown@qf1.example.invalid"),  # a colleague
        ("Lucasta Fenimore", "", ""),  # a pupil, misspelt
        ("Dentist Surgery", "+44 20 7946 0999", ""),
    ]
    vcf = folder / "contacts.vcf"
    vcf.write_text("".join(
        "BEGIN:VCARD\r\nVERSION:3.0\r\n" + f"FN:{name}\r\n" + (f"TEL;TYPE=CELL:{tel}\r\n" if tel else "")
        + (f"EMAIL:{mail}\r\n" if mail else "") + "END:VCARD\r\n" for name, tel, mail in cards))
    return [ig, vcf]


@pytest.fixture
def school(cli, tmp_path: Path) -> dict:
    """The DSL's side: roster, one member of staff's exports, an audit and a kit."""
    roster = write_roster(tmp_path / "roster")
    exports = write_exports(tmp_path / "exports")
    cli("init", "--policy", "luton")
    cli("roster", "import", roster)
    cli("import", "--staff", "T9001", *exports)
    cli("audit", "--as-of", AS_OF, "--format", "json", "--out", tmp_path / "findings.json")
    kit = tmp_path / "kit.json"
    cli("selfcheck-kit", "--as-of", AS_OF, "--days", "30", "--out", kit)
    return {"roster": roster, "exports": exports, "kit": kit,
            "findings": json.loads((tmp_path / "findings.json").read_text())["findings"]}


def run_self_check(kit: Path, files: list[Path], *extra: str) -> tuple[int, str]:
    """The member of staff's command: no --db, no database anywhere."""
    result = CliRunner().invoke(main, ["self-check", "--kit", str(kit), *map(str, files), *extra])
    return result.exit_code, result.output


def self_check_json(kit: Path, files: list[Path]) -> dict:
    code, out = run_self_check(kit, files, "--json")
    assert code == 0, out
    return json.loads(out)


def shown(finding: dict) -> tuple:
    return finding["account"]["display_name"], finding["account"]["username"]


def roster_secrets(roster: Path) -> set[str]:
    """Everything in the roster a kit must not hold in plain text: names, refs, dates, contact
    details, school names and numbers."""
    values: set[str] = set()
    for name in ("pupils.csv", "contacts.csv", "staff.csv", "schools.csv"):
        with open(roster / name, encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for column, value in row.items():
                    if column in ("relationship", "parental_responsibility", "priority", "year_group", "title",
                                  "role", "la", "estab"):
                        continue
                    if value and value.strip() and value.strip().lower() not in ("true", "false"):
                        values.add(value.strip())
    return values


KINDS = {"pupil", "contact", "staff"}
ROLES = {"pupil", "past_pupil", "future_pupil", "parent_carer", "staff"}
NAME_SOURCES = {"legal", "preferred", "former"}


def public_words(kit: dict) -> set[str]:
    """Words a kit may hold in plain text: its structure (JSON keys), closed vocabularies (kinds,
    roles, which name a digest is of) and the public texts of the preset it carries."""
    words: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                words.update(re.findall(r"[a-z0-9]+", str(key).lower()))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(kit)
    for person in kit["people"]:  # closed vocabularies: anything else there is a leak
        assert person["k"] in KINDS and person["r"] in ROLES
        assert all(how in NAME_SOURCES for _, how, *_ in person["f"] + person["s"])
    words.update(re.findall(r"[a-z]+", " ".join(KINDS | ROLES | NAME_SOURCES)))
    public = [json.dumps(kit["policy"]), *kit["categories"], kit["notice"], kit["scope"], kit["kit"]]
    words.update(re.findall(r"[a-z0-9]+", " ".join(public).lower()))
    return words


def kit_leaks(kit_text: str, secrets_: set[str]) -> list[str]:
    """Secrets the kit holds in plain text: any name part of three letters or more, ref, date,
    e-mail or phone number (as written or in E.164) standing as a word of its own. A digest is a
    word of its own too, so a name inside one is not counted (nor could it be told apart)."""
    kit = json.loads(kit_text)
    text = kit_text.lower()
    words = set(re.findall(r"[a-z0-9]+", text)) - public_words(kit)
    dates = set(re.findall(r"\d{4}-\d{2}-\d{2}", text)) - {kit["as_of"], kit["expires"]}
    emails = set(re.findall(r"[a-z0-9._%+-]+@[a-z0-9.-]+", text))
    leaks = []
    for value in secrets_:
        low = value.lower()
        digits = re.sub(r"[\s+()-]", "", low)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", low):
            leaked = low in dates
        elif "@" in low:
            leaked = low in emails
        elif digits.isdigit():
            leaked = len(digits) >= 6 and bool({digits, "44" + digits[1:]} & words)
        else:
            leaked = any(len(part) >= 3 and part in words for part in re.findall(r"[a-z0-9]+", low))
        if leaked:
            leaks.append(value)
    return sorted(leaks)


# -- the kit --------------------------------------------------------------------------------
def test_kit_holds_no_roster_name_ref_date_or_contact_detail_in_plain_text(school, db_url) -> None:
    text = school["kit"].read_text(encoding="utf-8")
    secrets_ = roster_secrets(school["roster"])
    assert {"Zephyrine", "Quillbottom", "P9001", "2014-03-02", "07700 900123", "Quillmere Fictional Primary"} <= secrets_
    assert kit_leaks(text, secrets_) == []
    assert db_url not in text and Path(db_url).name not in text
    assert "QF1" not in text  # the school's own reference


def test_kit_says_when_it_expires_and_what_it_is_for(school) -> None:
    kit = json.loads(school["kit"].read_text())
    assert kit["as_of"] == AS_OF and kit["expires"] == "2026-12-01"
    assert "2026-12-01" in kit["notice"] and "guess" in kit["notice"]
    assert kit["policy"]["name"] == "luton"
    assert [r["clause"] for r in kit["policy"]["rules"]] == [r.clause for r in load_policy("luton").rules]


def test_every_kit_has_its_own_key(school, cli, tmp_path: Path) -> None:
    second = tmp_path / "kit2.json"
    cli("selfcheck-kit", "--as-of", AS_OF, "--out", second)
    one, two = json.loads(school["kit"].read_text()), json.loads(second.read_text())
    assert one["key"] != two["key"]
    # nothing links the two kits: not a single name digest in common
    digests_one = {d for person in one["people"] for d, *_ in person["f"] + person["s"]}
    digests_two = {d for person in two["people"] for d, *_ in person["f"] + person["s"]}
    assert digests_one and not digests_one & digests_two


def test_kit_for_a_trust_needs_a_school(cli, tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "roster")
    with open(roster / "schools.csv", "a", encoding="utf-8") as handle:
        handle.write("QF2,Second Fictional Academy,990012,990,4001\n")
    with open(roster / "pupils.csv", "a", encoding="utf-8") as handle:
        handle.write("P9100,,Evangeline,Thistlewood,,,2013-02-02,QF2,,2020-09-01,\n")
    cli("init", "--policy", "luton")
    cli("roster", "import", roster)
    refused = cli("selfcheck-kit", "--as-of", AS_OF, "--out", tmp_path / "k.json", expect=2)
    assert "--school" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "k.json").exists()
    cli("selfcheck-kit", "--as-of", AS_OF, "--school", "QF2", "--out", tmp_path / "k2.json")
    cli("selfcheck-kit", "--as-of", AS_OF, "--school", "all", "--out", tmp_path / "k3.json")
    unknown = cli("selfcheck-kit", "--as-of", AS_OF, "--school", "QF9", "--out", tmp_path / "k4.json", expect=2)
    assert "QF9" in unknown.output


# -- the check ------------------------------------------------------------------------------
def test_self_check_lists_what_the_audit_flags_as_the_export_shows_it(school) -> None:
    audit = {(f["account"]["display_name"], f["account"]["username"]): f for f in school["findings"]
             if f["staff_ref"] == "T9001"}
    result = self_check_json(school["kit"], school["exports"])
    found = {shown(f): f for f in result["findings"]}
    assert audit, "the hand-made school has connections the audit flags"
    for account, expected in audit.items():
        assert account in found, f"the audit flags {account} and the self-check does not"
        assert found[account]["severity"] == expected["severity"]
        assert found[account]["clause"] == expected["clause"]
    for finding in result["findings"]:
        assert finding["category"] and finding["action"] and finding["clause"]
        assert set(finding["account"]) == {"display_name", "username"}


def test_self_check_names_pupils_and_leaves_out_adults_and_colleagues(school) -> None:
    result = self_check_json(school["kit"], school["exports"])
    found = {shown(f): f for f in result["findings"]}
    pupil = found[(None, "zephyrinequillbottom2014")]
    assert (pupil["category"], pupil["severity"]) == ("current pupil", "breach")
    assert pupil["clause"] == load_policy("luton").rule("current-pupil").clause
    past = found[(None, "thaddeus.marrowfield")]
    assert (past["category"], past["severity"]) == ("past pupil under 19", "breach")
    parent = found[("Ros Q", None)]
    assert (parent["category"], parent["severity"]) == ("parent or carer of a current pupil", "advisory")
    for absent in ((None, "ignatius.pembertree"), ("Cordelia Ashdown", None), ("Dentist Surgery", None),
                   (None, "allotment.society.uk"), (None, "bakery_on_the_corner")):
        assert absent not in found


def test_self_check_output_shows_only_what_the_export_says(school) -> None:
    code, out = run_self_check(school["kit"], school["exports"])
    assert code == 0, out
    assert "zephyrinequillbottom2014" in out
    # The roster's own spellings never appear: the legal forename behind a nickname, the surname
    # behind a typo, the preferred name behind a handle, a middle name, a parent's full name.
    for hidden in ("Oliver", "Fennimore", "Wilhelmina", "Araminta", "Rosamund", "2014-03-02", "P900"):
        assert hidden.lower() not in out.lower()


def test_self_check_needs_no_database_no_network_and_writes_nothing(school, tmp_path: Path, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the self-check tried to use the network")

    def no_database(self, *args, **kwargs):
        raise AssertionError("the self-check opened a database")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(Database, "__init__", no_database)
    monkeypatch.delenv("AUDITOR_DB", raising=False)
    desk = tmp_path / "desk"
    desk.mkdir()
    monkeypatch.chdir(desk)
    before = sorted(p for p in tmp_path.rglob("*"))
    code, out = run_self_check(school["kit"], school["exports"])
    assert code == 0, out
    assert "zephyrinequillbottom2014" in out
    assert sorted(p for p in tmp_path.rglob("*")) == before, "the self-check wrote a file"
    code, out = run_self_check(school["kit"], school["exports"], "--json", "--out", desk / "mine.json")
    assert code == 0, out
    assert json.loads((desk / "mine.json").read_text())["findings"]


def test_expired_kit_is_refused(school, tmp_path: Path) -> None:
    kit = selfcheck.load_kit(school["kit"])
    assert selfcheck.check(kit, school["exports"], date(2026, 12, 1)).findings  # the last valid day
    with pytest.raises(ExpiredError, match="2026-12-01"):
        selfcheck.check(kit, school["exports"], date(2026, 12, 2))
    old = json.loads(school["kit"].read_text())
    old["expires"] = "2020-01-31"
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(old))
    code, out = run_self_check(stale, school["exports"])
    assert code == ExpiredError.exit_code
    assert out.strip().count("\n") == 0 and "expired on 2020-01-31" in out and "Traceback" not in out


def test_what_is_not_a_kit_is_refused_in_one_line(school, tmp_path: Path) -> None:
    for name, body in (("notes.json", '{"hello": 1}'), ("broken.json", "{"), ("empty.json", "")):
        path = tmp_path / name
        path.write_text(body)
        code, out = run_self_check(path, school["exports"])
        assert code == InputError.exit_code and "not a self-check kit" in out and out.strip().count("\n") == 0
    code, out = run_self_check(tmp_path / "absent.json", school["exports"])
    assert code == InputError.exit_code and "cannot read the kit" in out
    code, out = run_self_check(school["kit"], [tmp_path / "no-such-export.zip"])
    assert code != 0 and "Traceback" not in out


def test_one_unreadable_file_does_not_hide_the_others(school, tmp_path: Path) -> None:
    junk = tmp_path / "holiday-photo.json"
    junk.write_text('{"camera": "x"}')
    code, out = run_self_check(school["kit"], [junk, *school["exports"]])
    assert code == InputError.exit_code
    assert "holiday-photo.json" in out and "zephyrinequillbottom2014" in out
    assert "could not be read" in out and "Traceback" not in out


def test_a_kit_of_another_format_is_refused(school, tmp_path: Path) -> None:
    other = json.loads(school["kit"].read_text())
    other["format"] = other["format"] + 1
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(other))
    code, out = run_self_check(path, school["exports"])
    assert code == InputError.exit_code and "format" in out and "ask your DSL" in out


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12), st.data())
@settings(max_examples=200, deadline=None)
def test_names_one_typing_error_apart_always_share_a_near_digest(word: str, data) -> None:
    """The typo pre-check must never rule out a one-edit misspelling (else the audit's fuzzy
    match would be missed), and the misspelling must be among the variants tried."""
    typo = data.draw(st.sampled_from(sorted(selfcheck.one_edit(word))))
    digest = selfcheck.Hasher(b"k" * 32)
    assert set(selfcheck.near_digests(digest, word)) & set(selfcheck.near_digests(digest, typo))
    assert word in selfcheck.one_edit(typo)


def test_commands_explain_themselves() -> None:
    runner = CliRunner()
    for command in ("self-check", "selfcheck-kit"):
        out = runner.invoke(main, [command, "--help"]).output
        assert "Example" in out and "auditor " + command in out


# -- the dev world --------------------------------------------------------------------------
def _manifest(world: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = defaultdict(list)
    with open(world / "manifest.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            files[row["staff_ref"]].append(world / row["path"])
    return files


@pytest.mark.slow
@pytest.mark.skipif(not DEV_WORLD.exists(), reason="needs ../shared/datasets/dev-world")
def test_dev_world_self_check_lists_the_audits_breaches(cli, db_url, tmp_path: Path) -> None:
    """For every member of staff, the self-check on their own files (with their school's kit)
    lists at least 90 % of the contacts the DSL's audit under luton flags as breaches for them;
    and no roster name is in any kit in plain text."""
    cli("init", "--policy", "luton")
    cli("roster", "import", DEV_WORLD / "roster")
    cli("exemptions", "import", DEV_WORLD / "exemptions.csv")
    cli("import", "--manifest", DEV_WORLD / "manifest.csv")
    cli("audit", "--as-of", AS_OF, "--policy", "luton", "--format", "json", "--out", tmp_path / "findings.json")
    findings = json.loads((tmp_path / "findings.json").read_text())["findings"]
    staff_school = {}
    with open(DEV_WORLD / "roster" / "staff.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            staff_school[row["staff_id"]] = row["school"]
    kits = {}
    for school_ref in sorted(set(staff_school.values())):
        path = tmp_path / f"kit-{school_ref}.json"
        cli("selfcheck-kit", "--as-of", AS_OF, "--policy", "luton", "--school", school_ref, "--out", path)
        assert kit_leaks(path.read_text(encoding="utf-8"), roster_secrets(DEV_WORLD / "roster")) == []
        kits[school_ref] = selfcheck.load_kit(path)

    flagged: dict[str, set] = defaultdict(set)
    for f in findings:
        if f["severity"] == "breach" and f["status"] != "excepted":
            flagged[f["staff_ref"]].add((f["platform"], f["account"]["display_name"], f["account"]["username"]))
    assert sum(len(v) for v in flagged.values()) >= 50, "the dev world's audit flags breaches to compare with"
    listed = total = 0
    per_staff_missed = {}
    for staff_ref, paths in _manifest(DEV_WORLD).items():
        result = selfcheck.check(kits[staff_school[staff_ref]], paths, date.fromisoformat(AS_OF))
        seen = {(f.platform, f.display_name, f.username) for f in result.findings if f.severity == "breach"}
        wanted = flagged.get(staff_ref, set())
        listed += len(wanted & seen)
        total += len(wanted)
        if wanted - seen:
            per_staff_missed[staff_ref] = len(wanted - seen)
    coverage = listed / total
    print(f"self-check coverage of the audit's breaches: {listed}/{total} = {coverage:.3f}; "
          f"staff with a miss: {per_staff_missed}")
    assert coverage >= 0.90
