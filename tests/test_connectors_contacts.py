"""Phone contacts: vCard 2.1/3.0/4.0, Google CSV (both header generations), Outlook CSV."""

from __future__ import annotations

import pytest

from auditor.ingest import parse_export
from tests.export_helpers import by_name, fixture, kinds, read_every_form

LAYOUTS = {"vcard-2.1": 3, "vcard-3.0": 4, "vcard-4.0": 2, "google-csv-legacy": 3, "google-csv": 4, "outlook-csv": 2}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("contacts", layout), zipped, tmp_path)
    assert kinds(parsed) == {"contact": LAYOUTS[layout]}
    assert parsed.layouts == [layout] and parsed.platforms == ["contacts"]


def test_vcard_21_quoted_printable_soft_breaks_and_n_only():
    parsed = parse_export(fixture("contacts", "vcard-2.1"))
    (mael,) = by_name(parsed, "Maël Le Bréton")
    assert mael.phones == ["+447700900111", "+441209710000"]
    assert by_name(parsed, "Kitto Penhallow")[0].emails == ["kitto.p@example.org"]  # no FN: built from N
    (aine,) = by_name(parsed, "Áine Ní Bhriain")  # soft line break inside the value
    assert aine.phones == ["+447700900333"]
    assert parsed.skipped == 1  # a card with nothing to match on


def test_vcard_30_folding_escapes_groups_and_truncation():
    parsed = parse_export(fixture("contacts", "vcard-3.0"))
    (rosie,) = by_name(parsed, "Dr Rosenwyn Jane Trevithick")
    assert rosie.phones == ["+447700900444"]  # item1.TEL
    assert rosie.emails == ["rosie@example.org", "r.trevithick@example.net"]
    assert by_name(parsed, "Pasco Smith, Jr.")[0].phones == ["+447700900555"]  # escaped comma, folded number
    assert by_name(parsed, "Long Name Person With A Very Long Display Name That Has To Be Folded Across Two Lines")
    assert [r.emails for r in parsed.records if r.display_name is None] == [["only.email@example.org"]]
    assert any("END:VCARD" in w for w in parsed.warnings)


def test_vcard_40_tel_uris():
    parsed = parse_export(fixture("contacts", "vcard-4.0"))
    assert by_name(parsed, "Bryok Angwin")[0].phones == ["+447700900777"]
    assert by_name(parsed, "Eseld Carlyon")[0].phones == ["+447700900888"]


def test_google_csv_multi_values_labels_and_excel_losses():
    legacy = parse_export(fixture("contacts", "google-csv-legacy"))
    assert by_name(legacy, "Wenna Polglase")[0].phones == ["+447700900901", "+447700900902"]
    (merryn,) = by_name(legacy, "Merryn O'Donnell")
    assert merryn.phones == ["+447700900904"]  # 447700900904: Excel dropped the +
    assert merryn.emails == ["merryn@example.net", "merryn.od@example.org"]
    current = parse_export(fixture("contacts", "google-csv"))
    assert by_name(current, "Conan Jowan Kemp")[0].phones == [
        "+447700900906", "+447700900907", "+441326560000", "+442079460001"]
    assert by_name(current, "Surf Shop")[0].phones == ["+441637870000"]
    assert by_name(current, "Nan")[0].phones == ["+447700900908"]  # Excel dropped the leading 0


def test_outlook_csv_in_windows_1252():
    parsed = parse_export(fixture("contacts", "outlook-csv"))
    (lowdy,) = by_name(parsed, "Lowdy Hocking")
    assert lowdy.phones == ["+447700900909"]  # the business fax is not a phone
    assert by_name(parsed, "Gorran Pengelly")[0].emails == ["g.pengelly@example.net"]
