"""Helpers for the export connector tests: read one fixture layout in every form a member of
staff can hand it over (folder, zip, zip with a wrapper folder, each list as a loose file)
and check that every form gives the same rows."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from auditor.ingest import ParsedExport, parse_export

EXPORTS = Path(__file__).parent / "fixtures" / "exports"


def fixture(platform: str, layout: str) -> Path:
    return EXPORTS / platform / layout


def kinds(parsed: ParsedExport) -> dict[str, int]:
    return dict(Counter(r.kind for r in parsed.records))


def row_keys(parsed: ParsedExport) -> list[tuple]:
    """What a row says about its account and connection, in a comparable form."""
    return sorted(
        (r.platform, r.kind, r.display_name or "", r.username or "", r.platform_id or "", tuple(r.phones),
         tuple(r.emails), r.connected_at.isoformat() if r.connected_at else "")
        for r in parsed.records
    )


def by_name(parsed: ParsedExport, name: str):
    found = [r for r in parsed.records if name in (r.display_name, r.username, r.platform_id)]
    assert found, f"no row for {name!r}"
    return found


def mutuals(parsed: ParsedExport) -> int:
    return sum(1 for r in parsed.records if r.kind == "mutual")


def read_every_form(folder: Path, zipped, tmp_path: Path) -> ParsedExport:
    """Parse the fixture as a folder, a zip and a zip inside a wrapper folder; all three must
    give the same rows. Then read each member that held rows as a loose file on its own: the
    loose files together give the same rows, except that a follow-back recorded in both lists
    at one second is one ``mutual`` row in the archive and two rows when the lists are apart."""
    as_folder = parse_export(folder)
    as_zip = parse_export(zipped(folder, name=f"{folder.parent.name}-{folder.name}.zip"))
    wrapped = parse_export(zipped(folder, wrapper=f"{folder.parent.name}-export-2026", name=f"{folder.name}-wrapped.zip"))
    assert row_keys(as_folder) == row_keys(as_zip) == row_keys(wrapped)
    assert as_zip.skipped == as_folder.skipped == wrapped.skipped
    before_merge = 0
    for number, member in enumerate(m for m in as_folder.members if m["rows"]):
        source = folder / member["member"]
        target = tmp_path / "loose" / str(number) / source.name
        target.parent.mkdir(parents=True)
        shutil.copyfile(source, target)
        alone = parse_export(target)
        assert alone.kind == "file"
        assert len(alone.records) + mutuals(alone) == member["rows"], member["member"]
        before_merge += member["rows"]
    assert before_merge == len(as_folder.records) + mutuals(as_folder)
    return as_folder


def add_staff(cli, tmp_path: Path, staff_ref: str = "T900") -> str:
    """A staff list holding one member of staff, imported through the CLI."""
    staff = tmp_path / "roster-staff" / "staff.csv"
    staff.parent.mkdir(parents=True, exist_ok=True)
    staff.write_text(f"staff_id,forename,surname,email,school,role\n{staff_ref},Demelza,Carne,dc@school.example,S1,Teacher\n")
    cli("init")
    cli("roster", "import", staff)
    return staff_ref


def import_json(cli, staff_ref: str, *paths: Path, expect: int = 0) -> list[dict]:
    """``auditor import --staff REF PATH... --json`` → the list of file results."""
    result = cli("import", "--staff", staff_ref, *paths, "--json", expect=expect)
    return json.loads(result.stdout)["files"]
