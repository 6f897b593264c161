"""Snapchat: the old two-field friends.json, the 2023+ eight-section file, and the HTML twin."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from auditor.ingest import parse_export
from tests.export_helpers import by_name, fixture, kinds, read_every_form, row_keys

LAYOUTS = {
    "2020": {"friend": 3, "request_sent": 1, "blocked": 1, "removed": 1},
    "2023": {"friend": 3, "request_sent": 1, "blocked": 1, "removed": 2, "rejected": 1, "request_received": 1},
    "html": {"friend": 3, "request_received": 1},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_reads_every_section_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("snapchat", layout), zipped, tmp_path)
    assert kinds(parsed) == LAYOUTS[layout]


def test_shortcuts_are_not_people_and_empty_names_still_count():
    parsed = parse_export(fixture("snapchat", "2023"))
    assert sum(LAYOUTS["2023"].values()) == len(parsed.records)  # 2 shortcuts left out
    (gone,) = by_name(parsed, "Gone Away")
    assert gone.kind == "removed" and gone.username is None
    (creep,) = by_name(parsed, "creep_9000")
    assert creep.display_name is None and creep.kind == "blocked"


def test_fields_source_and_times():
    parsed = parse_export(fixture("snapchat", "2023"))
    (derwa,) = by_name(parsed, "derwa.b")
    assert derwa.connected_at == datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert derwa.extra["source"] == "added by phone"
    (locryn,) = by_name(parsed, "locryn_")
    assert locryn.display_name == "Locryn Trebilcock"  # newline inside the name collapsed
    assert len(by_name(parsed, "wenna_old")) == 2  # deleted and ignored: two rows


def test_html_twin_gives_the_same_rows_and_json_wins_in_an_archive():
    folder = fixture("snapchat", "2023")
    json_only = parse_export(folder / "json" / "friends.json")
    html_only = parse_export(folder / "html" / "friends.html")
    assert row_keys(json_only) == row_keys(html_only)
    archive = parse_export(folder)
    assert archive.layouts == ["snapchat-2023"] and len(archive.records) == len(json_only.records)


def test_old_layout_has_no_times_and_escapes_decode(tmp_path):
    parsed = parse_export(fixture("snapchat", "2020"))
    assert parsed.layouts == ["snapchat-2020"]
    assert all(r.connected_at is None for r in parsed.records)
    (kerra,) = by_name(parsed, "kerra_b")
    assert kerra.display_name == "Kerra Étienne 😊"
    assert by_name(parsed, "jowan.t")[0].display_name is None


def test_unknown_section_is_reported_not_guessed(tmp_path):
    path = tmp_path / "friends.json"
    path.write_text(json.dumps({"Friends": [{"Username": "a1", "Display Name": "A"}],
                                "Best Friends Forever": [{"Username": "b2", "Display Name": "B"}]}))
    parsed = parse_export(path)
    assert [r.username for r in parsed.records] == ["a1"]
    assert any("Best Friends Forever" in w for w in parsed.warnings)
