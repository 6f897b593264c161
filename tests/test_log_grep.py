"""Logs and error messages never carry names or contact details.

The whole pipeline runs in-process with every logger at DEBUG (SQLAlchemy's SQL log included)
and with inputs made to go wrong: bad roster rows, a strict refusal, exports refused or with
bad entries, unknown references. Everything logged and everything written to standard error is
then searched for every roster name, contact display name, username, phone and e-mail address.
(Standard output carries reports, which name people by design; it is not searched.)"""

from __future__ import annotations

import csv
import json
import logging
import re
import zipfile
from pathlib import Path

import pytest

from auditor.generator import generate_world
from auditor.text import normalise_email, normalise_phone

FIXTURES = Path(__file__).parent / "fixtures"
AS_OF = "2026-11-01"
# A member of staff's export with entries that cannot all be read (names in the bad entries too).
BAD_ENTRIES = {
    "friends_v2": [
        {"name": "Perpetua Vandersloot", "timestamp": "not a time"},
        {"name": "Zebedee Ashworth-Quill", "timestamp": 10 ** 15},
        {"name": ["Octavia", "Brimblecombe"], "timestamp": 1700000000},
        {"timestamp": 1700000000, "contact_info": "perpetua.v@example.org"},
        {"name": "Lysander Pocklington", "timestamp": 1700000000, "contact_info": "+44 7700 900981"},
    ]
}
CRAFTED = {"Perpetua Vandersloot", "Vandersloot", "Zebedee Ashworth-Quill", "Ashworth-Quill", "Octavia",
           "Brimblecombe", "perpetua.v@example.org", "Lysander Pocklington", "Pocklington", "+44 7700 900981",
           "+447700900981"}


def roster_secrets(folder: Path) -> set[str]:
    found: set[str] = set()
    columns = {"pupils.csv": ("legal_forename", "legal_surname", "preferred_forename", "middle_names"),
               "contacts.csv": ("forename", "surname", "email", "mobile_phone"),
               "staff.csv": ("forename", "surname", "email")}
    for name, fields in columns.items():
        if not (folder / name).exists():
            continue
        with open(folder / name, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                values = [row.get(f) or "" for f in fields]
                found.update(values)
                found.add(f"{values[0]} {values[1]}")
                for value in values:
                    found.update(x for x in (normalise_email(value) if "@" in value else None,
                                             normalise_phone(value) if value[:1] in "0+" else None) if x)
    return found


def export_secrets(world: Path) -> set[str]:
    found: set[str] = set()
    for row in json.loads((world / "truth.json").read_text(encoding="utf-8"))["rows"]:
        found.update(v for v in (row.get("display_name"), row.get("username")) if v)
    return found


def leaks(text: str, secrets: set[str]) -> list[str]:
    """Secrets found in ``text``: whole words for single names (case as written: a lower-case
    'will' or 'hall' in a sentence is not the name), anywhere for the rest."""
    hits = []
    for secret in secrets:
        secret = secret.strip()
        if len(secret) < 3:
            continue
        if re.fullmatch(r"[A-Z][a-z'\-]+", secret):
            if re.search(rf"(?<![\w]){re.escape(secret)}(?![\w])", text):
                hits.append(secret)
        elif secret.lower() in text.lower():
            hits.append(secret)
    return sorted(hits)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("loggrep") / "world"
    generate_world(out, profile="small", seed=17)
    return out


def test_no_name_or_contact_detail_in_logs_or_error_messages(cli, world, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    stderr: list[str] = []

    def run(*args, expect=0):
        result = cli(*args, expect=expect)
        stderr.append(result.stderr)
        return result

    # Exports that go wrong in every way a file can: bad entries, unreadable, not an export.
    bad = tmp_path / "facebook-bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("connections/friends/your_friends.json", json.dumps(BAD_ENTRIES))
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + b"Vandersloot" * 20)
    (tmp_path / "notes.txt").write_text("Perpetua Vandersloot 07700 900981\n", encoding="utf-8")
    (tmp_path / "people.json").write_text(json.dumps({"people": [{"name": "Lysander Pocklington"}]}), encoding="utf-8")
    staff = sorted(p.name for p in (world / "exports").iterdir())[0]
    manifest = tmp_path / "manifest.csv"
    rows = (world / "manifest.csv").read_text(encoding="utf-8").strip().splitlines()
    manifest.write_text("\n".join(
        [rows[0]] + [r.replace(",", f",{world}/", 1) if not r.split(",", 1)[1].startswith("/") else r for r in rows[1:]]
        + [f"{staff},facebook-bad.zip", f"{staff},broken.zip", f"{staff},notes.txt", f"{staff},people.json"]) + "\n",
        encoding="utf-8")

    run("init", "--policy", "luton")
    run("roster", "import", "--strict", FIXTURES / "roster" / "canonical-bad", expect=2)
    run("roster", "import", world / "roster")
    run("roster", "import", FIXTURES / "roster" / "canonical-bad", "--partial", expect=None)
    run("exemptions", "import", world / "exemptions.csv")
    imported = json.loads(run("import", "--manifest", manifest, "--json", expect=2).stdout)["files"]
    statuses = {Path(f["path"]).name: f["status"] for f in imported}
    assert statuses["broken.zip"] == statuses["notes.txt"] == "refused"
    assert statuses["facebook-bad.zip"] == "imported"
    assert any(f["warnings"] for f in imported if f["path"].endswith("facebook-bad.zip"))
    run("import", "--manifest", manifest, expect=2)  # again: refusals and "unchanged" printed to stderr
    run("import", "--staff", "NOT-ON-ROSTER", bad, expect=3)
    run("audit", "--as-of", AS_OF, "--format", "html", "--out", tmp_path / "report.html")
    run("audit", "--as-of", "1 November", expect=2)
    for fmt, target in (("json", "f.json"), ("csv", "f.csv"), ("letters", "letters"), ("governor", "g.html")):
        run("report", "--format", fmt, "--out", tmp_path / target)
    listed = json.loads(run("review", "list", "--json").stdout)
    chosen = next(f for f in listed if f["status"] in ("needs_review", "probable"))
    run("review", "dismiss", str(chosen["id"]), "--reason", "checked: a different person")
    run("review", "show", "ffffffffffff", expect=3)
    run("review", "bulk", "confirm", "--status", "probable", "--dry-run", "--reason", "checked")
    run("log", "verify")
    run("subject-export", staff, "--out", tmp_path / "sar.json")
    run("subject-export", "Perpetua Vandersloot", expect=3)
    run("purge", "--older-than", "30d")

    secrets = roster_secrets(world / "roster") | roster_secrets(FIXTURES / "roster" / "canonical-bad")
    secrets |= export_secrets(world) | CRAFTED
    secrets -= {"Perpetua Vandersloot"}  # typed by the user as a reference on the command line above
    logged = caplog.text
    assert "SELECT" in logged and "INSERT INTO" in logged, "the SQL log must be on, or this test proves less"
    assert "parameters hidden" in logged
    said = "\n".join(stderr)
    for given in sorted({str(p) for p in (manifest, bad, world)} | {r.split(",", 1)[1] for r in rows[1:]}, key=len,
                        reverse=True):
        said = said.replace(given, "<path given>")  # the user's own file names are how files are named
    said = said.replace("'Perpetua Vandersloot'", "'<reference given>'")
    assert len(said) > 300 and len(logged) > 10_000
    assert leaks(logged, secrets) == []
    assert leaks(said, secrets) == []
    # The same search does find names where they belong (so it can fail): in the report.
    assert len(leaks((tmp_path / "report.html").read_text(encoding="utf-8"), secrets)) > 20
