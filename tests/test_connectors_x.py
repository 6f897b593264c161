"""X (Twitter): 2018 root files and 2020+ data/ files with parts; ids kept as text, never
evaluated; the owner from manifest.js; resolution of ids to handles afterwards."""

from __future__ import annotations

import json

import pytest

from auditor.connectors.twitter import read_handle_map
from auditor.errors import InputError
from auditor.ingest import parse_export
from tests.export_helpers import add_staff, by_name, fixture, import_json, kinds, read_every_form

LAYOUTS = {
    "2018": {"follower": 2, "following": 2, "blocked": 1},
    "2020": {"follower": 3, "following": 2, "blocked": 1, "muted": 2},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_reads_every_list_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("x", layout), zipped, tmp_path)
    assert kinds(parsed) == LAYOUTS[layout]
    assert parsed.layouts == [f"x-{layout}"]


def test_ids_are_text_and_rows_need_resolution():
    parsed = parse_export(fixture("x", "2020"))
    (big,) = by_name(parsed, "1234567890123456789")  # 19 digits: beyond a float's precision
    assert big.username is None and big.extra == {"needs_resolution": True}
    assert big.profile_url == "https://twitter.com/intent/user?user_id=1234567890123456789"
    assert by_name(parsed, "1414213562")[0].kind == "following"  # from following-part1.js
    (owner,) = parsed.owners
    assert (owner.username, owner.platform_id, owner.name) == ("demelzacarne", "1357924680", "Demelza Carne")
    assert owner.exported_at.isoformat() == "2023-05-06T07:08:09.123000+00:00"


def test_known_archive_files_are_not_reported_as_unknown():
    parsed = parse_export(fixture("x", "2020"))
    assert not any("not recognised" in w for w in parsed.warnings)


def test_code_in_the_file_is_never_run(tmp_path):
    path = tmp_path / "follower.js"
    path.write_text('window.YTD.follower.part0 = (function(){ throw new Error("x") })()')
    with pytest.raises(InputError, match="not valid JSON"):
        parse_export(path)


def test_resolution_fills_handles_of_stored_accounts(cli, tmp_path, zipped, db_url):
    staff = add_staff(cli, tmp_path)
    import_json(cli, staff, zipped(fixture("x", "2020"), name="twitter-2023.zip"))
    mapping = tmp_path / "handles.csv"
    mapping.write_text("accountId,username\n1234567890123456789,@Kerensa_Bligh\n1618033988,tre_vose\n99,nobody\n")
    out = json.loads(cli("resolve", "x", mapping, "--json").stdout)
    assert out == {"map_rows": 3, "accounts_resolved": 2}
    import sqlalchemy as sa

    from auditor.db import Database
    db = Database(db_url)
    with db.begin() as conn:
        rows = dict(conn.execute(sa.text("SELECT platform_id, username FROM account WHERE platform = 'x'")).all())
    db.dispose()
    assert rows["1234567890123456789"] == "kerensa_bligh" and rows["1618033988"] == "tre_vose"
    assert rows["42"] is None
    again = json.loads(cli("resolve", "x", mapping, "--json").stdout)
    assert again["accounts_resolved"] == 0


def test_handle_map_without_header_and_a_bad_map(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("42,someone\n8675309,jenny\n")
    assert read_handle_map(plain) == {"42": "someone", "8675309": "jenny"}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,handle\nnot-a-number,someone\n")
    with pytest.raises(InputError, match="line 2"):
        read_handle_map(bad)


def test_an_account_resolved_after_an_audit_is_matched_by_the_next(cli, tmp_path, zipped):
    """The DSL's order of work: import the X archive, audit (which forgets unmatched contacts),
    then resolve the ids to handles and audit again: the resolved pupil must be found."""
    roster = tmp_path / "roster"
    roster.mkdir()
    (roster / "pupils.csv").write_text(
        "pupil_id,upn,legal_forename,legal_surname,preferred_forename,middle_names,date_of_birth,school,year_group,"
        "admission_date,leaving_date\nP01,,Kerensa,Bligh,,,2011-03-04,S1,10,2022-09-01,\n", encoding="utf-8")
    (roster / "staff.csv").write_text("staff_id,forename,surname,email,school,role\n"
                                      "T900,Demelza,Carne,dc@school.example,S1,Teacher\n", encoding="utf-8")
    cli("init", "--policy", "luton")
    cli("roster", "import", roster)
    import_json(cli, "T900", zipped(fixture("x", "2020"), name="twitter-2023.zip"))

    def pupils_found() -> set[str]:
        out = tmp_path / "findings.json"
        cli("audit", "--as-of", "2026-11-01", "--format", "json", "--out", out)
        return {f["person_ref"] for f in json.loads(out.read_text())["findings"]}

    assert "P01" not in pupils_found()  # only a number so far: nobody to match
    mapping = tmp_path / "handles.csv"
    mapping.write_text("accountId,username\n1234567890123456789,@kerensa_bligh2011\n")
    assert json.loads(cli("resolve", "x", mapping, "--json").stdout)["accounts_resolved"] == 1
    assert "P01" in pupils_found()
