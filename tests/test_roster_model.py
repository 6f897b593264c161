"""The people model's pure parts: UPN check letters, relationship and year vocabularies, dates
in either order, merging only on strong evidence, one school under several names, settings."""

from __future__ import annotations

from datetime import date

import pytest

from auditor.errors import ConfigError
from auditor.roster import (
    RosterData,
    RosterLink,
    RosterPerson,
    RosterSchool,
    check_options,
    consolidate,
    import_data,
    infer_date_order,
    normalise_relationship,
    normalise_year,
    parse_date,
    upn_problem,
    validate,
)

try:  # tests/ as a package (tests/__init__.py) or as loose modules
    from .test_roster_support import links, people
except ImportError:
    from test_roster_support import links, people


@pytest.mark.parametrize("upn, problem", [
    ("F930400112001", None),
    ("F93040011201T", None),  # temporary UPN: 11 digits and a letter
    ("A930400112001", "UPN check letter does not match"),
    ("F93040011200", "UPN is not 13 characters"),
    ("F9304001120I1", "UPN is not a check letter and 12 characters of digits (or 11 and a letter)"),
    ("F93040011201I", "UPN is not a check letter and 12 characters of digits (or 11 and a letter)"),  # no I
])
def test_upn_check_letters(upn: str, problem: str | None) -> None:
    assert upn_problem(upn) == problem


def test_every_single_digit_error_is_caught_by_the_check_letter() -> None:
    good = "F930400112001"
    for position in range(1, 13):
        for digit in "0123456789":
            if digit != good[position]:
                assert upn_problem(good[:position] + digit + good[position + 1:]) is not None


@pytest.mark.parametrize("raw, expected", [
    ("Mother", "parent"), ("PAR", "parent"), ("Step-father", "step_parent"), ("step father", "step_parent"),
    ("CAR", "carer"), ("Foster Carer", "foster_carer"), ("FAM", "other_family"), ("Grandparent", "grandparent"),
    ("Aunt", "aunt_uncle"), ("guardian", "guardian"), ("SWR", "professional"), ("Lodger", None), ("", None),
])
def test_relationships_map_onto_one_vocabulary(raw: str, expected: str | None) -> None:
    assert normalise_relationship(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("Year  7", "7"), ("07", "7"), ("Y11", "11"), ("13", "13"), ("R", "R"), ("Reception", "R"), ("0", "R"),
    ("00", "R"), ("KG", "R"), ("N1", "N1"), ("Nursery 2", "N2"), ("X", "X"), (None, None),
])
def test_year_groups_have_one_spelling(raw, expected) -> None:
    assert normalise_year(raw) == expected


def test_dates_in_either_order_and_iso() -> None:
    assert parse_date("04/02/2010") == date(2010, 2, 4)
    assert parse_date("04/02/2010", "mdy") == date(2010, 4, 2)
    assert parse_date("2010-02-04T00:00:00Z") == date(2010, 2, 4)
    assert parse_date("4 Feb 2010") == date(2010, 2, 4)
    assert parse_date("") is None
    with pytest.raises(ValueError):
        parse_date("31/02/2010")
    assert infer_date_order(["04/02/2010", "25/12/2009"]) == "dmy"
    assert infer_date_order(["04/02/2010", "12/25/2009"]) == "mdy"
    assert infer_date_order(["04/02/2010", "2010-02-04"]) is None


def _contact(ref: str, forename: str, surname: str, phones=(), emails=()) -> RosterPerson:
    return RosterPerson(ref=ref, kind="contact", legal_forename=forename, legal_surname=surname,
                        phones=list(phones), emails=list(emails), derived_ref=True)


def test_derived_contacts_merge_only_when_names_and_a_phone_or_email_agree() -> None:
    data = RosterData(source="ctf", people=[
        _contact("U1-C1", "Hester", "Trevanion", ["07700 900101"]),
        _contact("U2-C1", "hester", "TREVANION", ["+44 7700 900101"]),      # same: one person
        _contact("U3-C1", "Jory", "Trevanion", ["07700 900101"]),           # shared landline, other name
        _contact("U4-C1", "Mirela", "Quayle", ["07700 900105"]),
        _contact("U5-C1", "Mirela", "Quayle", ["07700 900106"]),            # same name, nothing shared
        _contact("U6-C1", "Tamsin", "Hocking"),                              # nothing to go on
        _contact("U7-C1", "Tamsin", "Hocking"),
    ], links=[RosterLink(f"U{i}", f"U{i}-C1") for i in range(1, 8)])
    consolidate(data)
    refs = sorted(p.ref for p in data.people)
    assert refs == ["U1-C1", "U3-C1", "U4-C1", "U5-C1", "U6-C1", "U7-C1"]
    assert [link.contact_ref for link in data.links][:2] == ["U1-C1", "U1-C1"]


def test_contacts_with_their_own_ids_are_never_merged() -> None:
    same = [RosterPerson(ref=r, kind="contact", legal_forename="Mirela", legal_surname="Quayle",
                         phones=["07700 900105"]) for r in ("C1", "C2")]
    data = consolidate(RosterData(source="csv", people=same))
    assert sorted(p.ref for p in data.people) == ["C1", "C2"]


def test_one_school_under_its_code_its_urn_and_its_dfe_number() -> None:
    data = RosterData(source="x", schools=[
        RosterSchool("9304001", la="930", estab="4001", urn="199001", derived=True),
        RosterSchool("HCS", name="Harrowfield", urn="199001"),
    ], people=[RosterPerson(ref="U1", kind="pupil", school_ref="9304001"),
               RosterPerson(ref="T1", kind="staff", school_ref="HCS")], complete_schools={"9304001"})
    consolidate(data)
    assert [(s.ref, s.name, s.la, s.estab, s.urn) for s in data.schools] == [("HCS", "Harrowfield", "930", "4001",
                                                                               "199001")]
    assert {p.school_ref for p in data.people} == {"HCS"} and data.complete_schools == {"HCS"}


def test_staff_at_a_school_no_roster_file_describes_is_warned_about() -> None:
    data = RosterData(source="x", people=[RosterPerson(ref="U1", kind="pupil", school_ref="9304001"),
                                          RosterPerson(ref="T1", kind="staff", school_ref="S01")])
    assert any("staff list names school S01" in str(i) for i in validate(data))


def test_two_refs_with_one_upn_are_one_pupil(db) -> None:
    data = RosterData(source="x", people=[
        RosterPerson(ref="P1", kind="pupil", upn="F930400112001", legal_forename="Aisling", school_ref="S"),
        RosterPerson(ref="F930400112001", kind="pupil", upn="F930400112001", date_of_birth=date(2012, 3, 14),
                     school_ref="S"),
        RosterPerson(ref="C1", kind="contact", legal_forename="Hester"),
    ], links=[RosterLink("F930400112001", "C1")])
    summary = import_data(db, consolidate(data))
    assert any("UPN F930400112001 is on two pupils" in i for i in summary.issues)
    found = people(db)
    assert "F930400112001" not in found
    assert (found["P1"]["legal_forename"], found["P1"]["date_of_birth"]) == ("Aisling", date(2012, 3, 14))
    assert ("P1", "C1") in links(db)
    assert summary.people == 2


def test_roster_settings_are_checked_all_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        check_options({"colums": {}, "date_order": "ymd", "columns": {"pupil_id": 3}})
    assert len(caught.value.problems) == 3
