"""CTF XML: both spellings of sex and parental responsibility, leavers, temporary and bad
UPNs, contacts merged only on names plus a phone or e-mail, several files as several schools,
and files that must be refused (malformed, DTDs) with the database untouched."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

try:  # tests/ as a package (tests/__init__.py) or as loose modules
    from .test_roster_support import ROSTER, links, people, schools, snapshot
except ImportError:
    from test_roster_support import ROSTER, links, people, schools, snapshot

from auditor.errors import InputError
from auditor.roster import import_roster, read_roster

CTF = ROSTER / "ctf"
OLD = CTF / "9304001_CTF_9304001_001.xml"  # CTF 12: Gender, Responsibility, a namespace
NEW = CTF / "9304002_CTF_9304002_001.xml"  # CTF 25: Sex, Responsible


def test_both_layouts_give_sex_names_dates_and_responsibility(db) -> None:
    import_roster(db, [OLD, NEW])
    found = people(db)
    aisling, morwenna = found["F930400112001"], found["E930400112010"]
    assert (aisling["sex"], morwenna["sex"]) == ("F", "F")  # <Gender> and <Sex>
    assert (aisling["legal_forename"], aisling["preferred_forename"]) == ("Aisling", "Ash")
    assert aisling["preferred_surname"] is None  # PreferredSurname equal to the legal one is dropped
    assert (morwenna["preferred_forename"], morwenna["former_surname"], morwenna["middle_names"]) == (
        "Wenna", "Hocking", "Jane Elowen")
    assert morwenna["roles"][0]["year_group"] == "12"
    stored = links(db)
    hester = next(ref for ref, p in found.items() if p["legal_forename"] == "Hester")
    assert stored[("F930400112001", hester)]["parental_responsibility"] is True  # <Responsibility>
    assert stored[("E930400112010", hester)]["parental_responsibility"] is True  # <Responsible>
    tamsin = next(ref for ref, p in found.items() if p["legal_forename"] == "Tamsin")
    assert stored[("E930400112010", tamsin)]["parental_responsibility"] is False
    assert stored[("E930400112010", tamsin)]["relationship"] == "carer"


def test_two_files_are_two_schools_named_from_their_headers(db) -> None:
    import_roster(db, [OLD, NEW])
    stored = schools(db)
    assert {(s["urn"], s["la"], s["estab"]) for s in stored.values()} == {("199001", "930", "4001"),
                                                                          ("199002", "930", "4002")}
    found = people(db)
    by_urn = {s["ref"]: s["urn"] for s in stored.values()}
    assert by_urn[found["F930400112001"]["roles"][0]["school"]] == "199001"
    assert by_urn[found["E930400112010"]["roles"][0]["school"]] == "199002"


def test_a_leaver_gets_the_leaving_date_of_this_school_only(db) -> None:
    import_roster(db, [OLD])
    dilys = people(db)["Y930400112004"]
    assert [(r["start_date"], r["end_date"], r["leaving_reason"]) for r in dilys["roles"]] == [
        (date(2018, 9, 4), date(2025, 7, 18), "End of education")]


def test_temporary_upn_is_accepted_and_a_bad_check_letter_is_warned_about_but_kept(db) -> None:
    summary = import_roster(db, [OLD])
    found = people(db)
    assert "F93040011201T" in found and not any("F93040011201T" in i for i in summary.issues)
    assert "A930400112008" in found
    assert any("pupil 7" in i and "check letter" in i for i in summary.issues)
    assert any("pupil 7" in i and "no DOB" in i for i in summary.issues)


def test_unknown_relationship_code_is_listed_and_kept_as_other(db) -> None:
    summary = import_roster(db, [OLD])
    assert any("pupil 4" in i and "unknown relationship code 'ZZZ'" in i for i in summary.issues)
    tobias = next(ref for ref, p in people(db).items() if p["legal_forename"] == "Tobias")
    assert links(db)[("M930400112005", tobias)]["relationship"] == "other"


def test_a_parent_is_one_person_across_pupils_and_files_when_a_phone_or_email_agrees(db) -> None:
    import_roster(db, [OLD, NEW])
    found = people(db)
    hesters = [p for p in found.values() if p["legal_forename"] == "Hester"]
    assert len(hesters) == 1  # same phone for the twins (one written +44), same e-mail in the other file
    pupils_of_hester = {pupil for pupil, contact in links(db) if contact == hesters[0]["ref"]}
    assert pupils_of_hester == {"F930400112001", "V930400112002", "E930400112010"}
    assert ("phone", "+447700900101") in hesters[0]["points"] and ("phone", "+441632960001") in hesters[0]["points"]
    jory = [p for p in found.values() if p["legal_forename"] == "Jory"]
    assert len(jory) == 1


def test_names_alone_never_merge_contacts(db) -> None:
    import_roster(db, [OLD])
    mirelas = [p for p in people(db).values() if (p["legal_forename"], p["legal_surname"]) == ("Mirela", "Quayle")]
    assert len(mirelas) == 2  # same name and relationship, different phones


def test_contact_refs_do_not_depend_on_file_order(db, tmp_path: Path) -> None:
    forwards = read_roster([OLD, NEW])
    backwards = read_roster([NEW, OLD])
    assert sorted(p.ref for p in forwards.people) == sorted(p.ref for p in backwards.people)


def test_a_full_ctf_to_itself_closes_missing_pupils_but_a_partial_one_does_not(db, tmp_path: Path) -> None:
    import_roster(db, [OLD], on=date(2026, 1, 5))
    partial = tmp_path / "partial.xml"
    text = OLD.read_text()
    end = text.index("</Pupil>") + len("</Pupil>")
    only_first = text[:end] + text[text.index("</CTFpupilData>"):]
    partial.write_text(only_first.replace("<DocumentQualifier>full", "<DocumentQualifier>partial"))
    summary = import_roster(db, [partial], on=date(2026, 2, 1))
    assert summary.left == 0
    assert people(db)["V930400112002"]["roles"][0]["end_date"] is None
    full = tmp_path / "full.xml"
    full.write_text(only_first)
    summary = import_roster(db, [full], on=date(2026, 2, 1))
    assert summary.left == 5  # every other pupil on roll (the leaver already had a date)
    bram = people(db)["V930400112002"]["roles"][0]
    assert bram["end_date"] == date(2026, 2, 1) and "not in the roster" in bram["leaving_reason"]
    assert people(db)["F930400112001"]["roles"][0]["end_date"] is None  # the pupil in the file stays on roll


def test_ctf_plus_staff_list_joins_the_staff_school_by_urn(db) -> None:
    staff = ROSTER / "canonical" / "staff.csv"  # beside schools.csv: HCS has URN 199001
    summary = import_roster(db, [OLD, NEW, staff])
    stored = schools(db)
    assert set(stored) == {"HCS", "9304002"}
    found = people(db)
    assert found["T01"]["roles"][0]["school"] == "HCS"
    assert found["F930400112001"]["roles"][0]["school"] == "HCS"
    assert not any("staff list names school" in i for i in summary.issues)


def test_a_folder_of_ctf_files_reads_them_all(db) -> None:
    summary = import_roster(db, [CTF])
    assert summary.people == len(people(db)) and "E930400112010" in people(db) and "F930400112001" in people(db)


@pytest.mark.parametrize("body, message", [
    ("<CTfile><Header><CTFversion>25.0</CTFversion>", "not well-formed XML"),
    ('<?xml version="1.0"?><!DOCTYPE CTfile [<!ENTITY x "boom">]><CTfile><Header/></CTfile>',
     "refused, the XML declares a DTD"),
    ("<CTfile><CTFpupilData><Pupil><UPN>F930400112001</UPN></Pupil></CTFpupilData></CTfile>",
     "pupil data before the CTF header"),
])
def test_bad_files_are_refused_and_nothing_is_written(db, tmp_path: Path, body: str, message: str) -> None:
    import_roster(db, [ROSTER / "canonical"])
    before = snapshot(db)
    bad = tmp_path / "bad.xml"
    bad.write_text(body)
    with pytest.raises(InputError) as caught:
        import_roster(db, [OLD, bad])
    assert message in str(caught.value)
    assert snapshot(db) == before


def test_an_unknown_version_is_warned_about_and_read(db, tmp_path: Path) -> None:
    future = tmp_path / "future.xml"
    shutil.copy(NEW, future)
    future.write_text(future.read_text().replace("<CTFversion>25.0", "<CTFversion>31.0"))
    summary = import_roster(db, [future])
    assert any("CTF version 31.0" in i for i in summary.issues)
    assert "E930400112010" in people(db)
