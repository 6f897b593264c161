"""The canonical roster folder, a SIMS-style report with a column mapping, the template, and
bad input: row problems listed with file and row, --strict, unreadable rosters refused with
the database exactly as it was."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

try:  # tests/ as a package (tests/__init__.py) or as loose modules
    from .test_roster_support import ROSTER, links, people, schools, snapshot
except ImportError:
    from test_roster_support import ROSTER, links, people, schools, snapshot

from auditor.db import Database
from auditor.errors import ConfigError, InputError
from auditor.roster import import_roster


def test_canonical_folder_imports_people_roles_links_and_contact_points(db) -> None:
    summary = import_roster(db, [ROSTER / "canonical"], on=date(2026, 1, 10))
    assert (summary.joined, summary.people, summary.links) == (16, 16, 9)
    found = people(db)
    ash = found["P1001"]
    assert (ash["legal_forename"], ash["preferred_forename"], ash["upn"]) == ("Aisling", "Ash", "F930400112001")
    assert ash["date_of_birth"] == date(2012, 3, 14)
    assert [(r["school"], r["role"], r["start_date"], r["end_date"], r["year_group"]) for r in ash["roles"]] == [
        ("HCS", "pupil", date(2023, 9, 4), None, "8")]
    assert found["P1004"]["roles"][0]["end_date"] == date(2025, 7, 18)  # a past pupil
    assert found["C2001"]["points"] == {("email", "hester.t@example.org"), ("phone", "+447700900101")}
    assert found["T03"]["roles"][0]["school"] is None  # trust-wide member of staff
    assert found["T01"]["roles"][0]["job_title"] == "Teacher"
    stored = links(db)
    assert stored[("P1004", "C2004")]["relationship"] == "step_parent"
    assert stored[("P1004", "C2004")]["relationship_raw"] == "Step-father"
    assert stored[("P1004", "C2004")]["parental_responsibility"] is False
    assert stored[("P1005", "C2007")]["priority"] == 2
    assert schools(db)["HCS"]["urn"] == "199001"


def test_two_contacts_with_the_same_name_and_relationship_stay_two_people(db) -> None:
    import_roster(db, [ROSTER / "canonical"])
    found = people(db)
    mothers = [p for p in found.values() if (p["legal_forename"], p["legal_surname"]) == ("Mirela", "Quayle")]
    assert len(mothers) == 2
    assert {p["ref"] for p in mothers} == {"C2005", "C2006"}
    assert {("P1005", "C2005"), ("P1006", "C2006")} <= set(links(db))


def test_households_come_from_shared_contacts(db) -> None:
    summary = import_roster(db, [ROSTER / "canonical"])
    # twins share both parents; each other pupil is their own household
    assert summary.households == 5


def test_row_problems_are_listed_with_file_and_row(db) -> None:
    summary = import_roster(db, [ROSTER / "canonical-bad"])
    text = "\n".join(summary.issues)
    assert "pupils.csv row 3: no date_of_birth" in text
    assert "pupils.csv row 3: UPN check letter does not match (kept)" in text
    assert "pupils.csv row 4: duplicate pupil_id P3002" in text
    assert "pupils.csv row 5: date_of_birth: unreadable date '31/02/2011'" in text
    assert "contacts.csv row 2: unknown relationship 'Lodger'" in text
    assert "contact link names pupil P3009, who is not in the roster" in text
    found = people(db)
    assert found["P3002"]["upn"] == "A930400112008"  # a bad check letter is warned about, not dropped
    assert found["P3003"]["date_of_birth"] is None
    assert links(db)[("P3001", "C4001")]["relationship"] == "other"
    assert not any(name in text for name in ("Jessamy", "Carne", "Lamorna", "Marrack"))  # no names in messages


def test_strict_turns_row_problems_into_a_failure_and_writes_nothing(db) -> None:
    import_roster(db, [ROSTER / "canonical"])
    before = snapshot(db)
    with pytest.raises(ConfigError) as caught:
        import_roster(db, [ROSTER / "canonical-bad"], strict=True)
    assert "row 3" in str(caught.value)
    assert snapshot(db) == before


@pytest.mark.parametrize("damage", ["missing_column", "not_utf8_binary", "bad_link_file"])
def test_an_unreadable_roster_leaves_the_database_exactly_as_it_was(db, tmp_path: Path, damage: str) -> None:
    import_roster(db, [ROSTER / "canonical"])
    before = snapshot(db)
    folder = tmp_path / "next"
    shutil.copytree(ROSTER / "canonical-next", folder)
    if damage == "missing_column":
        text = (folder / "pupils.csv").read_text().replace("legal_surname", "family")
        (folder / "pupils.csv").write_text(text)
    elif damage == "not_utf8_binary":
        (folder / "contacts.csv").write_bytes(b"\x00\x01contact_id\x00\n\x00")
    else:
        (folder / "staff.csv").write_text("staff_id,forename\nT01,Rowena\n")
    with pytest.raises(InputError):
        import_roster(db, [folder])
    assert snapshot(db) == before


def test_a_failure_while_writing_rolls_everything_back(db, monkeypatch) -> None:
    import_roster(db, [ROSTER / "canonical"])
    before = snapshot(db)
    import auditor.roster as roster

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(roster, "load_households", explode)  # runs after people and links are written
    with pytest.raises(RuntimeError):
        import_roster(db, [ROSTER / "canonical-next"])
    assert snapshot(db) == before


def test_sims_style_report_with_a_column_mapping(cli, db_url: str, tmp_path: Path) -> None:
    report = tmp_path / "MIS export" / "Pupil List.csv"
    report.parent.mkdir()
    shutil.copy(ROSTER / "sims" / "Pupil List.csv", report)
    shutil.copy(ROSTER / "sims" / "auditor.toml", tmp_path / "school.toml")
    cli("init")
    result = cli("--config", tmp_path / "school.toml", "roster", "import", report, "--json")
    summary = json.loads(result.output)
    assert (summary["joined"], summary["links"]) == (6, 4)
    db = Database(db_url)
    found = people(db)
    treeve = found["5101"]
    assert (treeve["legal_forename"], treeve["preferred_forename"], treeve["legal_surname"]) == ("Treeve", "Trev", "Pascoe")
    assert treeve["date_of_birth"] == date(2013, 9, 14)  # 14/09/2013, day first
    assert treeve["roles"][0]["year_group"] == "7"  # "Year  7"
    assert found["5103"]["date_of_birth"] == date(2012, 2, 29)
    assert found["5102"]["middle_names"] == "Rose"
    stored = links(db)
    # one mother of two pupils in two rows: names and mobile agree, so one person
    assert {pair for pair in stored if pair[1] == "5101-C1"} == {("5101", "5101-C1"), ("5102", "5101-C1")}
    assert stored[("5101", "5101-C2")]["relationship"] == "step_parent"
    assert stored[("5101", "5101-C2")]["parental_responsibility"] is False
    assert stored[("5101", "5101-C2")]["priority"] == 2


def test_a_report_without_its_mapping_warns_on_every_row_and_strict_refuses_it(cli, tmp_path: Path) -> None:
    report = tmp_path / "Pupil List.csv"
    shutil.copy(ROSTER / "sims" / "Pupil List.csv", report)
    cli("init")
    refused = cli("roster", "import", report, "--strict", expect=2)
    assert "no date_of_birth" in refused.output
    result = cli("roster", "import", report)  # keyed by UPN, "Birthday" not understood
    assert result.output.count("no date_of_birth") == 3


def test_template_is_written_documented_and_never_overwrites(cli, tmp_path: Path) -> None:
    result = cli("roster", "template", tmp_path / "tpl")
    assert "README.txt" in result.output
    readme = (tmp_path / "tpl" / "README.txt").read_text()
    for column in ("pupil_id", "leaving_date", "contact_id", "parental_responsibility", "staff_id", "urn"):
        assert column in readme
    assert (tmp_path / "tpl" / "pupils.csv").read_text().startswith("pupil_id,upn,legal_forename")
    assert "[roster.columns]" in (tmp_path / "tpl" / "auditor.toml.example").read_text()
    (tmp_path / "tpl" / "pupils.csv").write_text("kept\n")
    again = cli("roster", "template", tmp_path / "tpl", expect=2)
    assert again.output.startswith("error:") and len(again.output.strip().splitlines()) == 1
    assert (tmp_path / "tpl" / "pupils.csv").read_text() == "kept\n"


def test_the_filled_template_imports(cli, tmp_path: Path) -> None:
    cli("roster", "template", tmp_path / "tpl")
    for name in ("pupils.csv", "contacts.csv", "staff.csv", "schools.csv"):
        (tmp_path / "tpl" / name).write_text((ROSTER / "canonical" / name).read_text())
    cli("init")
    result = cli("roster", "import", tmp_path / "tpl")
    assert "joined 16" in result.output
