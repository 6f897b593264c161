"""LinkedIn: Connections.csv with and without the Notes: preamble, Invitations.csv."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.errors import InputError
from auditor.ingest import parse_export
from tests.export_helpers import by_name, fixture, kinds, read_every_form

LAYOUTS = {
    "2018": {"connection": 3, "request_sent": 1, "request_received": 1},
    "2020": {"connection": 4, "request_received": 1},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_reads_every_file_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("linkedin", layout), zipped, tmp_path)
    assert kinds(parsed) == LAYOUTS[layout]


def test_2018_dates_names_and_emails():
    parsed = parse_export(fixture("linkedin", "2018"))
    (jen,) = by_name(parsed, "Jenifer Rowe")
    assert jen.connected_at == datetime(2018, 1, 8, 18, 14, tzinfo=UTC)
    assert jen.emails == ["jrowe@example.org"] and jen.layout == "linkedin-2018"
    assert by_name(parsed, "Hedley Bray, OBE")[0].extra == {"position": "Consultant"}


def test_invitations_name_the_other_person_and_drop_the_message():
    parsed = parse_export(fixture("linkedin", "2018"))
    assert by_name(parsed, "Rowan Tremayne")[0].kind == "request_sent"
    (perran,) = by_name(parsed, "Perran Uren")
    assert perran.kind == "request_received" and perran.extra is None
    assert not [r for r in parsed.records if r.display_name == "Demelza Carne"]  # the owner is not a contact
    assert parsed.skipped == 1  # Direction SIDEWAYS


def test_2020_preamble_url_slug_and_hidden_member():
    parsed = parse_export(fixture("linkedin", "2020"))
    (kev,) = by_name(parsed, "Keverne Hosking")
    assert kev.username == "keverne-hosking-0a1b2c" and kev.connected_at == datetime(2023, 1, 12, tzinfo=UTC)
    assert kev.extra["position"] == "Engineer, systems"
    assert by_name(parsed, "Morwenna Jago")[0].emails == ["morwenna@example.org"]  # spaces trimmed
    hidden = [r for r in parsed.records if r.extra and r.extra.get("hidden")]
    assert len(hidden) == 1 and hidden[0].connected_at == datetime(2025, 8, 10, tzinfo=UTC)
    assert not any("Profile.csv" in w for w in parsed.warnings)


def test_excel_resave_cp1252_crlf_and_bom(tmp_path):
    text = ("\ufeffFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
            "Zoë,Pascoe,,,,,03 Mar 2021\r\n")
    path = tmp_path / "Connections.csv"
    path.write_bytes(text.encode("utf-8-sig")[3:].replace(b"\xc3\xab", b"\xeb"))  # cp1252 e-diaeresis
    parsed = parse_export(path)
    assert [r.display_name for r in parsed.records] == ["Zoë Pascoe"]
    assert any("Windows-1252" in w for w in parsed.warnings)


def test_a_csv_without_the_header_is_one_clear_error(tmp_path):
    path = tmp_path / "Connections.csv"
    path.write_text("Name,When\nsomeone,today\n")
    with pytest.raises(InputError, match="header"):
        parse_export(path)
