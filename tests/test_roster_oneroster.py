"""OneRoster 1.1 and 1.2 bundles, as folders and as zips (zipped at test time), and SDS v2.1."""

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
from auditor.roster import detect, import_roster

V11, V12, SDS = ROSTER / "oneroster-1.1", ROSTER / "oneroster-1.2", ROSTER / "sds-2.1"


@pytest.fixture(params=["folder", "zip"])
def bundle(request, zipped):
    """Each bundle as given (folder) or zipped inside a wrapper folder."""
    def make(folder: Path) -> Path:
        return folder if request.param == "folder" else zipped(folder, wrapper="export")
    return make


def test_oneroster_11_pupils_parents_staff_and_links(db, bundle) -> None:
    path = bundle(V11)
    assert detect(path).name == "oneroster"
    import_roster(db, [path], on=date(2026, 1, 10))
    found = people(db)
    assert found["stu-1"]["upn"] == "F930400112001"  # from {UPN:...} in userIds, not the identifier 5001
    assert found["stu-2"]["upn"] == "V930400112002"  # a UPN-shaped identifier
    assert found["stu-1"]["date_of_birth"] == date(2012, 3, 14)
    assert found["stu-1"]["roles"][0]["start_date"] == date(2023, 9, 4)  # from enrollments.csv
    assert found["stu-1"]["roles"][0]["year_group"] == "8"  # grades 08
    assert {k: found[k]["kind"] for k in ("par-1", "par-2", "rel-1", "tea-1", "adm-1")} == {
        "par-1": "contact", "par-2": "contact", "rel-1": "contact", "tea-1": "staff", "adm-1": "staff"}
    assert found["adm-1"]["roles"][0]["school"] is None  # a district administrator works trust-wide
    assert "gone-1" not in found  # a tobedeleted member of staff is left out
    stored = links(db)
    assert set(stored) == {("stu-1", "par-1"), ("stu-1", "par-2"), ("stu-2", "par-1"), ("stu-3", "rel-1")}
    assert (stored[("stu-1", "par-2")]["relationship"], stored[("stu-3", "rel-1")]["relationship"]) == (
        "guardian", "other_family")
    assert schools(db)["org-hcs"]["urn"] == "199001"


def test_oneroster_11_tobedeleted_pupil_is_a_past_pupil(db, bundle) -> None:
    import_roster(db, [bundle(V11)])
    role = people(db)["stu-3"]["roles"][0]
    assert role["end_date"] == date(2025, 7, 18)  # the enrolment's end date
    assert "tobedeleted" in role["leaving_reason"]


def test_oneroster_12_roles_preferred_names_and_demographics_drift(db, bundle) -> None:
    summary = import_roster(db, [bundle(V12)])
    found = people(db)
    assert found["P1001"]["preferred_forename"] == "Ash"  # misspelt prefferedGivenName heading
    assert found["P1005"]["preferred_surname"] == "Quayle-Penhale"
    assert found["P1003"]["date_of_birth"] == date(2008, 2, 29)  # userSourcedId / birthdate headings
    assert found["P1004"]["roles"][0]["end_date"] == date(2025, 7, 18)
    assert found["P1003"]["roles"][0]["end_date"] == date(2026, 7, 17)  # tobedeleted role, dateLastModified
    assert any("P1005" in i and "birthDate" in i for i in summary.issues)
    assert (schools(db)["HCS"]["la"], schools(db)["HCS"]["estab"]) == ("930", "4001")  # DfE number identifier


def test_a_member_of_staff_who_is_a_parent_is_two_people(db, bundle) -> None:
    import_roster(db, [bundle(V12)])
    found = people(db)
    assert found["T02"]["kind"] == "staff" and found["T02"]["roles"][0]["job_title"] == "aide"
    assert found["T02:contact"]["kind"] == "contact"
    assert ("P1005", "T02:contact") in links(db)


def test_a_delta_bundle_does_not_close_missing_pupils(db, tmp_path: Path) -> None:
    import_roster(db, [V11], on=date(2026, 1, 10))
    delta = tmp_path / "delta"
    shutil.copytree(V11, delta)
    manifest = (delta / "manifest.csv").read_text().replace("file.users,bulk", "file.users,delta")
    (delta / "manifest.csv").write_text(manifest)
    users = (delta / "users.csv").read_text().splitlines()
    (delta / "users.csv").write_text("\n".join(u for u in users if not u.startswith("stu-2")) + "\n")
    assert import_roster(db, [delta], on=date(2026, 2, 1)).left == 0
    assert people(db)["stu-2"]["roles"][0]["end_date"] is None
    bulk = tmp_path / "bulk"
    shutil.copytree(delta, bulk)
    (bulk / "manifest.csv").write_text(manifest.replace("file.users,delta", "file.users,bulk"))
    assert import_roster(db, [bulk], on=date(2026, 2, 1)).left == 1
    assert people(db)["stu-2"]["roles"][0]["end_date"] == date(2026, 2, 1)


def test_a_bundle_missing_users_is_refused(db, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(V11, broken)
    (broken / "users.csv").unlink()
    with pytest.raises(InputError):
        import_roster(db, [broken])


def test_a_damaged_zip_is_refused_and_nothing_is_written(db, tmp_path: Path, zipped) -> None:
    import_roster(db, [ROSTER / "canonical"])
    before = snapshot(db)
    good = zipped(V12)
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(InputError):
        import_roster(db, [damaged])
    assert snapshot(db) == before


def test_sds_21_users_roles_relationships_and_month_first_dates(db, bundle) -> None:
    path = bundle(SDS)
    assert detect(path).name == "sds"
    summary = import_roster(db, [path])
    found = people(db)
    assert found["7001"]["date_of_birth"] == date(2012, 3, 14)  # 3/14/2012: month first, settled by the 14
    assert found["7004"]["roles"][0]["end_date"] == date(2025, 7, 18)  # 7/18/2025
    assert found["7001"]["roles"][0]["start_date"] == date(2023, 9, 4)  # 9/4/2023 read month first too
    assert (found["8001"]["kind"], found["9001"]["kind"]) == ("contact", "staff")
    stored = links(db)
    assert set(stored) == {("7001", "8001"), ("7002", "8001"), ("7004", "8004")}
    assert stored[("7004", "8004")]["relationship"] == "other_family"
    assert not any("day or month" in i for i in summary.issues)


def test_sds_ambiguous_dates_follow_the_config_or_warn(db, tmp_path: Path) -> None:
    folder = tmp_path / "sds"
    shutil.copytree(SDS, folder)
    (folder / "demographics.csv").write_text("userSourcedId,sex,birthDate\n7001,female,3/4/2012\n")
    for name in ("roles.csv",):
        text = (folder / name).read_text().replace("7/18/2025", "7/1/2025")
        (folder / name).write_text(text)
    summary = import_roster(db, [folder], options={"date_order": "mdy"})
    assert people(db)["7001"]["date_of_birth"] == date(2012, 3, 4)
    assert not any("day or month" in i for i in summary.issues)
    summary = import_roster(db, [folder])
    assert people(db)["7001"]["date_of_birth"] == date(2012, 4, 3)
    assert any("day or month first" in i for i in summary.issues)
