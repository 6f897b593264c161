"""TikTok: user_data.json (≤2023), user_data_tiktok.json (2024+), the TXT form, key drift,
null lists, and the large-file key scan."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from auditor.connector import MAX_JSON_PARSE_BYTES
from auditor.ingest import parse_export
from tests.export_helpers import by_name, fixture, kinds, read_every_form

LAYOUTS = {
    "2019": {"follower": 2, "following": 1, "mutual": 1},
    "2024": {"follower": 2, "following": 1, "mutual": 1, "blocked": 1},
    "txt": {"follower": 1, "following": 1, "mutual": 1},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_reads_every_list_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("tiktok", layout), zipped, tmp_path)
    assert kinds(parsed) == LAYOUTS[layout]
    assert parsed.layouts == [f"tiktok-{layout}"]


def test_rows_carry_normalised_handles_and_utc_dates():
    parsed = parse_export(fixture("tiktok", "2019"))
    (pete,) = by_name(parsed, "porthcurno.pete")  # "@Porthcurno.Pete" in the file
    assert pete.profile_url == "https://www.tiktok.com/@porthcurno.pete"
    assert pete.connected_at == datetime(2021, 4, 5, 6, 7, 8, tzinfo=UTC)
    assert [o.username for o in parsed.owners] == ["demelza.c"]


def test_same_account_at_different_times_stays_two_rows():
    parsed = parse_export(fixture("tiktok", "2024"))
    (mutual,) = by_name(parsed, "tansy.h")
    assert mutual.kind == "mutual"
    assert by_name(parsed, "tansy.h.backup")[0].kind == "following"


def test_keys_drift_in_case_and_spacing(tmp_path):
    doc = {"your activity": {"follower": {"Fans List": [{"date": "2025-01-01 00:00:00", "username": "a.one"}]},
                             "FOLLOWING": {"following": [{"Date": "2025-01-02 00:00:00", "UserName": "b.two"}]}},
           "app settings": {"block list": {"blockList": []}}}
    path = tmp_path / "user_data_tiktok.json"
    path.write_text(json.dumps(doc))
    parsed = parse_export(path)
    assert {(r.kind, r.username) for r in parsed.records} == {("follower", "a.one"), ("following", "b.two")}


def test_null_lists_give_no_rows_and_a_bad_entry_is_skipped(tmp_path):
    doc = {"Your Activity": {"Follower": {"FansList": None}, "Following": {"Following": [
        {"Date": "2025-01-02 00:00:00", "UserName": "ok.one"}, {"Date": "2025-01-02 00:00:00"}, "junk"]}}}
    path = tmp_path / "user_data_tiktok.json"
    path.write_text(json.dumps(doc))
    parsed = parse_export(path)
    assert [r.username for r in parsed.records] == ["ok.one"]
    assert parsed.skipped == 2


def test_a_file_too_large_to_parse_whole_is_read_by_key(tmp_path, monkeypatch):
    """Real files that large are tens of MiB; the limit is lowered so the test stays small."""
    monkeypatch.setattr("auditor.connectors.tiktok.MAX_JSON_PARSE_BYTES", 2000)
    monkeypatch.setattr("auditor.connector.MAX_JSON_PARSE_BYTES", 2000)
    history = [{"Date": "2024-05-06 07:08:09", "Link": f"https://www.tiktokv.com/share/video/{i}/"} for i in range(200)]
    doc = json.loads((fixture("tiktok", "2024") / "user_data_tiktok.json").read_text())
    doc["Your Activity"]["Watch History"]["VideoList"] = history
    path = tmp_path / "user_data_tiktok.json"
    path.write_text(json.dumps(doc, indent=2))
    assert path.stat().st_size > 2000
    parsed = parse_export(path)
    assert kinds(parsed) == LAYOUTS["2024"]
    assert any("read by key" in w for w in parsed.warnings)


def test_the_whole_parse_limit_keeps_memory_bounded():
    # about four times the file in memory when parsed whole: 64 MiB stays far below 1 GB
    assert MAX_JSON_PARSE_BYTES * 4 < 1024 ** 3 // 2
