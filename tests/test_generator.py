"""The synthetic world generator: deterministic, in dev-world's layout, every export importable
with exactly the rows truth.json lists, and realistic in the ways the demo and the benchmark
rely on (families, leavers of every age, staff who are parents, one account per person)."""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import random
import subprocess
import sys
import unicodedata
import zipfile
from datetime import date
from pathlib import Path

import pytest

from auditor.ages import age_on
from auditor.errors import InputError
from auditor.generator import (
    DEFAULT_AS_OF,
    LAYOUTS,
    PROFILES,
    Namer,
    Person,
    RosterBuilder,
    deco_unicode,
    generate_world,
    make_typo,
    name_bank,
)
from auditor.ingest import parse_export
from auditor.registry import export_connectors
from auditor.roster import consolidate, read_roster, upn_problem, validate

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
DEV_WORLD = SHARED / "datasets" / "dev-world"
SCORE = SHARED / "tools" / "score.py"
TIERS = {"exact", "preferred", "upper", "decorated", "deco-unicode", "no-accents", "middle", "h-first.last",
         "h-firstlastyyyy", "h-first_last_yy", "h-last.first", "spelling", "nickname", "swapped", "typo",
         "h-first_l_yyyy", "initial", "h-xfirstx_yy", "first-only-emoji"}
CONNECTED = {"friend", "follower", "following", "mutual", "request_sent", "connection", "contact"}
CONNECTOR_FOR = {"vcard": "contacts"}  # truth.json's platform name -> the connector that reads it


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def truth_rows(world: Path) -> list[dict]:
    return json.loads((world / "truth.json").read_text(encoding="utf-8"))["rows"]


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, object]:
    world = tmp_path_factory.mktemp("small") / "world"
    return world, generate_world(world, "small", seed=3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, object]:
    world = tmp_path_factory.mktemp("demo") / "world"
    return world, generate_world(world, "demo", seed=1)


# -- reproducible ------------------------------------------------------------------------------
def test_same_seed_gives_identical_files_and_another_seed_another_world(tmp_path, small):
    world, _ = small
    again = generate_world(tmp_path / "again", "small", seed=3)
    assert digests(again.path) == digests(world)
    other = generate_world(tmp_path / "other", "small", seed=4)
    assert (other.path / "roster" / "pupils.csv").read_bytes() != (world / "roster" / "pupils.csv").read_bytes()


def test_the_audit_date_is_a_parameter(tmp_path):
    summary = generate_world(tmp_path / "w", "small", seed=3, as_of=date(2024, 9, 1))  # before term starts
    assert json.loads((summary.path / "truth.json").read_text())["as_of"] == "2024-09-01"
    pupils = read_csv(summary.path / "roster" / "pupils.csv")
    assert max(p["leaving_date"] for p in pupils) <= "2024-09-01"
    assert max(p["admission_date"] for p in pupils) <= "2024-09-01"
    assert all(p["admission_date"] <= (p["leaving_date"] or "9999") for p in pupils)
    for row in read_csv(summary.path / "manifest.csv"):  # every export was downloaded before the audit
        with zipfile.ZipFile(summary.path / row["path"]) as archive:
            assert all(info.date_time[:3] <= (2024, 9, 1) for info in archive.infolist()), row["path"]


def test_refuses_a_folder_with_files_in_it_and_an_unknown_profile(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an empty folder"):
        generate_world(tmp_path / "taken", "small")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "keep me"
    with pytest.raises(InputError, match="unknown world profile"):
        generate_world(tmp_path / "new", "enormous")


# -- the same layout as dev-world ----------------------------------------------------------------
@pytest.mark.skipif(not DEV_WORLD.exists(), reason="../shared/datasets/dev-world is not here")
def test_small_world_has_dev_worlds_files_and_columns(small):
    world, _ = small
    for name in ("schools.csv", "pupils.csv", "contacts.csv", "staff.csv"):
        assert header(world / "roster" / name) == header(DEV_WORLD / "roster" / name), name
    for name in ("manifest.csv", "exemptions.csv"):
        assert header(world / name) == header(DEV_WORLD / name), name
    ours, theirs = json.loads((world / "truth.json").read_text()), json.loads((DEV_WORLD / "truth.json").read_text())
    assert set(ours) == set(theirs)
    assert all(set(row) == set(theirs["rows"][0]) for row in ours["rows"])


def test_manifest_exemptions_and_truth_refer_to_what_exists(small):
    world, summary = small
    staff = {r["staff_id"]: r for r in read_csv(world / "roster" / "staff.csv")}
    pupils = {r["pupil_id"]: r for r in read_csv(world / "roster" / "pupils.csv")}
    contacts = {r["contact_id"] for r in read_csv(world / "roster" / "contacts.csv")}
    manifest = read_csv(world / "manifest.csv")
    assert len(manifest) == summary.exports and all((world / r["path"]).is_file() for r in manifest)
    assert {r["staff_ref"] for r in manifest} <= set(staff)
    for row in read_csv(world / "exemptions.csv"):
        assert row["staff_ref"] in staff and (row["person_ref"] in pupils or row["person_ref"] in contacts)
        assert row["review_date"] > DEFAULT_AS_OF.isoformat()
    files = {r["path"] for r in manifest}
    for row in truth_rows(world):
        assert row["file"] in files
        assert row["tier"] in TIERS | {"adult"}
        if row["role"] in ("pupil", "past_pupil"):
            pupil = pupils[row["person_ref"]]
            assert row["age"] == age_on(date.fromisoformat(pupil["date_of_birth"]), DEFAULT_AS_OF)
            assert row["school"] == pupil["school"]
            assert (row["role"] == "past_pupil") == bool(pupil["leaving_date"])
        elif row["role"] == "contact":
            assert row["person_ref"] in contacts
        elif row["role"] == "staff":
            assert row["person_ref"] in staff and row["school"] == staff[row["person_ref"]]["school"]
        else:
            assert row["person_ref"] is None


def test_roster_reads_with_the_canonical_reader_without_a_single_issue(small):
    world, _ = small
    data = read_roster([world / "roster"])
    assert data.issues == []
    assert validate(consolidate(data)) == []
    assert all(upn_problem(r["upn"]) is None for r in read_csv(world / "roster" / "pupils.csv"))


def test_trust_roster_has_the_benchmarks_size_and_one_upn_per_pupil():
    """Issue 11's trust: 10 schools, about 8,400 pupils, 3,600 past pupils, 16,000 parents and
    carers, 1,000 staff (the roster alone; the exports are measured by the benchmark)."""
    roster = RosterBuilder(PROFILES["trust"], 1, DEFAULT_AS_OF, name_bank()).build()
    on_roll = [p for p in roster.pupils if not p.left]
    contacts = {c.person.ref for f in roster.families for c in f.carers}
    assert len(roster.schools) == 10 and len(roster.staff) == 1000
    assert abs(len(on_roll) - 8400) < 400 and abs(len(roster.pupils) - len(on_roll) - 3600) < 400
    assert abs(len(contacts) - 16000) < 1600
    upns = [p.upn for p in roster.pupils]
    assert len(set(upns)) == len(upns) and not any(upn_problem(u) for u in upns)
    assert len({p.ref for p in roster.pupils}) == len(roster.pupils)


# -- importable, row for row ---------------------------------------------------------------------
def test_small_world_uses_every_layout(small):
    _, summary = small
    assert set(summary.by_layout) == {layout for options in LAYOUTS.values() for layout, _, _ in options}


@pytest.mark.parametrize("platform", ["facebook", "instagram", "tiktok", "snapchat", "linkedin", "vcard"])
def test_every_export_imports_with_exactly_the_rows_truth_lists(small, platform):
    if CONNECTOR_FOR.get(platform, platform) not in export_connectors.names():
        pytest.skip(f"no {platform} connector yet")
    world, _ = small
    by_file = collections.defaultdict(list)
    for row in truth_rows(world):
        if row["platform"] == platform:
            by_file[row["file"]].append(row)
    assert by_file, f"the small world has no {platform} export"
    for file, rows in by_file.items():
        parsed = parse_export(world / file)
        got = collections.Counter((r.kind, r.display_name, r.username) for r in parsed.records)
        want = collections.Counter((r["relationship"], r["display_name"], r["username"]) for r in rows)
        assert got == want, f"{file}: imported rows differ from truth.json"
        assert parsed.skipped == 0, f"{file}: {parsed.warnings}"


def test_meta_exports_carry_metas_mojibake(small):
    world, _ = small
    accented = {r["file"] for r in truth_rows(world)
                if r["platform"] == "facebook" and r["display_name"] and not r["display_name"].isascii()}
    assert accented, "no Facebook name outside ASCII to check"
    for file in accented:
        with zipfile.ZipFile(world / file) as archive:
            data = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".json"))
        assert data.isascii() and b"\\u00" in data


# -- score.py runs on a generated world ------------------------------------------------------------
@pytest.mark.skipif(not SCORE.exists(), reason="../shared/tools/score.py is not here")
def test_score_reads_the_world_and_perfect_findings_score_perfectly(small, tmp_path):
    world, _ = small
    exempt = {(r["staff_ref"], r["person_ref"]) for r in read_csv(world / "exemptions.csv")}
    pairs = {(r["staff_ref"], r["person_ref"]) for r in truth_rows(world)
             if r["role"] in ("pupil", "past_pupil") and r["relationship"] in CONNECTED} - exempt
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps({"findings": [
        {"staff_ref": s, "person_ref": p, "severity": "breach", "status": "probable"} for s, p in sorted(pairs)]}))
    results = {}
    for preset in ("bedford", "luton", "milton-keynes"):
        done = subprocess.run([sys.executable, str(SCORE), str(world), str(findings), "--preset", preset],
                              capture_output=True, text=True, timeout=120, check=True)
        results[preset] = json.loads(done.stdout)
    assert results["bedford"]["expected"] == len(pairs) > 0
    assert results["bedford"]["precision_auto"] == results["bedford"]["recall_auto"] == 1.0
    assert results["luton"]["recall_auto"] == 1.0  # luton's pairs are a subset of bedford's


# -- realistic ---------------------------------------------------------------------------------
def test_demo_is_a_few_hundred_pupils_thirty_staff_and_mostly_adults_in_the_exports(demo):
    world, summary = demo
    assert summary.schools == 2 and 300 <= summary.pupils <= 900 and 25 <= summary.staff <= 40
    assert summary.past_pupils > 50 and summary.contacts > summary.pupils
    roles = collections.Counter(r["role"] for r in truth_rows(world))
    assert roles["adult"] / summary.rows > 0.85
    assert 0.002 < summary.roster_rows / summary.rows < 0.05
    assert roles["pupil"] and roles["past_pupil"] and roles["contact"] and roles["staff"]


def test_pupils_on_roll_are_in_the_year_group_their_birthday_puts_them_in(demo):
    world, _ = demo
    school_year = DEFAULT_AS_OF.year if DEFAULT_AS_OF.month >= 9 else DEFAULT_AS_OF.year - 1
    for pupil in read_csv(world / "roster" / "pupils.csv"):
        if pupil["leaving_date"]:
            continue
        born = date.fromisoformat(pupil["date_of_birth"])
        cohort = born.year if born.month >= 9 else born.year - 1  # born September–August
        expected = school_year - 5 - cohort
        assert pupil["year_group"] == ("R" if expected == 0 else str(expected)), pupil["pupil_id"]


def test_leavers_are_of_every_age_around_the_policy_thresholds(demo):
    world, _ = demo
    ages = [age_on(date.fromisoformat(p["date_of_birth"]), DEFAULT_AS_OF)
            for p in read_csv(world / "roster" / "pupils.csv") if p["leaving_date"]]
    assert min(ages) < 16 and any(a in (17, 18) for a in ages) and max(ages) > 20


def test_families_are_not_all_alike(demo):
    world, _ = demo
    pupils = {p["pupil_id"]: p for p in read_csv(world / "roster" / "pupils.csv")}
    links = read_csv(world / "roster" / "contacts.csv")
    children = collections.defaultdict(set)
    for link in links:
        children[link["contact_id"]].add(link["pupil_id"])
    assert any(len(c) >= 2 for c in children.values()), "no contact with several pupils"
    assert any(link["surname"] != pupils[link["pupil_id"]]["legal_surname"] for link in links)
    assert any("-" in p["legal_surname"] for p in pupils.values())
    assert any(link["email"] and link["mobile_phone"] for link in links)
    assert any(not link["email"] for link in links)
    assert {link["relationship"] for link in links} >= {"Mother", "Father", "Grandmother"}


def test_some_staff_are_parents_or_relatives_of_pupils_and_declared_it(demo):
    world, _ = demo
    exemptions = read_csv(world / "exemptions.csv")
    assert {"own child"} <= {r["relationship"] for r in exemptions}
    contacts = {(r["forename"], r["surname"]) for r in read_csv(world / "roster" / "contacts.csv")}
    parents = [s for s in read_csv(world / "roster" / "staff.csv") if (s["forename"], s["surname"]) in contacts]
    assert parents, "no member of staff is also a parent on the roster"
    assert {s["staff_id"] for s in parents} & {r["staff_ref"] for r in exemptions}


def test_one_account_per_person_per_platform_seen_by_every_member_of_staff(demo):
    world, _ = demo
    handles: dict[tuple[str, str], set] = collections.defaultdict(set)
    accounts: dict[tuple[str, str], set] = collections.defaultdict(set)
    for row in truth_rows(world):
        if row["username"] and row["platform"] in ("instagram", "tiktok", "snapchat"):
            handles[(row["platform"], row["username"])].add(row["person_ref"] or row["display_name"])
            if row["person_ref"]:
                accounts[(row["platform"], row["person_ref"])].add(row["username"])
    assert all(len(owners) == 1 for key, owners in handles.items() if None not in owners)
    assert all(len(names) == 1 for names in accounts.values())


def test_names_vary_the_ways_real_display_names_do(demo):
    world, _ = demo
    rows = truth_rows(world)
    tiers = {r["tier"] for r in rows if r["role"] in ("pupil", "past_pupil", "contact")}
    assert tiers <= TIERS and len(tiers) >= 10
    kinds = {r["relationship"] for r in rows}
    assert {"friend", "follower", "following", "mutual", "request_received", "request_sent", "removed",
            "connection", "contact"} <= kinds
    truth_kinds = collections.Counter(r["truth_kind"] for r in rows)
    assert truth_kinds["namesake"] and truth_kinds["colleague"] and truth_kinds["page"]


def test_name_forms():
    names = name_bank()
    namer = Namer(1, names, DEFAULT_AS_OF)
    pupil = Person(key="t", forename="Oliver", surname="Łukaszewicz-Smith", sex="M", birth=date(2010, 5, 1),
                   heritage="polish", middle="James", preferred="Olly", role="pupil")
    rng = random.Random(5)

    def shown(tier: str) -> str:
        return " ".join(p for p in namer.display(rng, pupil, tier) if p)

    assert shown("exact") == "Oliver Łukaszewicz-Smith"
    assert shown("preferred") == "Olly Łukaszewicz-Smith"
    assert shown("upper") == "OLIVER ŁUKASZEWICZ-SMITH"
    assert shown("no-accents") == "Oliver Lukaszewicz-Smith"
    assert shown("middle") == "Oliver James Łukaszewicz-Smith"
    assert shown("swapped") == "Łukaszewicz-Smith Oliver"
    assert shown("initial").rstrip(".") == "Oliver Ł"
    assert shown("nickname").split()[0] in {"Ollie", "Oli"}  # a familiar form other than the roster's
    assert unicodedata.normalize("NFKC", shown("deco-unicode")).startswith("Oliver")
    assert shown("deco-unicode") != shown("exact")
    first_only = shown("first-only-emoji").split()
    assert first_only[0] == "Oliver" and len(first_only) == 2 and not first_only[1].isascii()
    decorated = shown("decorated")
    assert decorated != shown("exact") and {"Oliver", "Łukaszewicz-Smith"} <= set(decorated.split())
    assert unicodedata.normalize("NFKC", deco_unicode("Zoe Hall", 1)) == "Zoe Hall"
    typo = make_typo(random.Random(2), "Hannah")
    assert typo != "Hannah" and typo[0] == "H" and abs(len(typo) - 6) <= 1


def test_handles_carry_the_birth_year_the_tier_says():
    namer = Namer(1, name_bank(), DEFAULT_AS_OF)
    pupil = Person(key="h", forename="Amelia", surname="O'Neill", sex="F", birth=date(2009, 2, 3),
                   heritage="irish", role="pupil")
    forms = {"h-first.last": "amelia.oneill", "h-firstlastyyyy": "ameliaoneill2009", "h-first_last_yy": "amelia_oneill09",
             "h-last.first": "oneill.amelia", "h-first_l_yyyy": "amelia_o2009", "h-xfirstx_yy": "xameliax09"}
    first_of_each: dict[str, str] = {}
    for n in range(200):  # each form is free the first time its tier comes up
        tier, handle = namer.handle(random.Random(n), pupil, "instagram", on_roster=True)
        first_of_each.setdefault(tier, handle)
    assert first_of_each == forms
    tier, handle = namer.handle(random.Random(0), pupil, "instagram", on_roster=True)
    assert tier == "h-first.last" and handle.startswith("amelia.oneill") and handle != "amelia.oneill"
