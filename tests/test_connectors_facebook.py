"""Facebook: every layout (2018, 2020, 2022) in every form, names repaired, HTML refused."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from auditor.errors import InputError
from auditor.ingest import parse_export
from tests.export_helpers import add_staff, by_name, fixture, import_json, kinds, read_every_form

LAYOUTS = {
    "2018": {"friend": 3, "request_received": 2, "request_sent": 1, "rejected": 1, "removed": 1, "following": 2},
    "2020": {"friend": 3, "request_received": 1, "request_sent": 1, "rejected": 1, "removed": 1, "following": 2,
             "follower": 2},
    "2022": {"friend": 4, "request_received": 2, "request_sent": 1, "rejected": 1, "removed": 1, "follower": 3,
             "following": 2},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_reads_every_list_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("facebook", layout), zipped, tmp_path)
    assert kinds(parsed) == LAYOUTS[layout]
    assert parsed.platforms == ["facebook"]
    assert parsed.layouts == [f"facebook-{layout}"]
    assert all(r.layout == f"facebook-{layout}" for r in parsed.records)


def test_meta_mojibake_is_repaired_and_the_raw_name_kept():
    parsed = parse_export(fixture("facebook", "2022"))
    (vietnamese,) = by_name(parsed, "Nguyễn Thảo")
    assert vietnamese.display_name_raw == "Nguyễn Thảo"
    (emoji,) = by_name(parsed, "Seren ap Gwyn 🌿")
    assert emoji.connected_at == datetime(2022, 2, 1, tzinfo=UTC)
    assert "Ciarán Ó Dálaigh" in {r.display_name for r in parse_export(fixture("facebook", "2018")).records}


def test_followers_v3_have_no_time_and_duplicate_names_stay_two_rows():
    parsed = parse_export(fixture("facebook", "2022"))
    followers = [r for r in parsed.records if r.kind == "follower"]
    assert {r.display_name for r in followers} == {"Wenna Hocking", "Jörg Brandt", "CryptoDeals4U88"}
    assert all(r.connected_at is None for r in followers)
    assert len(by_name(parsed, "Fenella Rosewarne")) == 2
    (choir,) = by_name(parsed, "Truro Community Choir")  # trailing space trimmed
    assert choir.display_name_raw == "Truro Community Choir "


def test_suggestions_are_not_read_and_unknown_members_are_reported():
    parsed = parse_export(fixture("facebook", "2022"))
    assert not [r for r in parsed.records if r.display_name == "Not A Connection"]
    assert not any("people_you_may_know" in w for w in parsed.warnings)  # known, deliberately not read
    old = parse_export(fixture("facebook", "2018"))
    assert any("about_you/preferences.json" in w and "not recognised" in w for w in old.warnings)


def test_a_bad_entry_is_skipped_not_fatal():
    parsed = parse_export(fixture("facebook", "2018"))
    assert parsed.skipped == 1
    assert any("friends/friends.json entry 3" in w for w in parsed.warnings)


def test_owner_comes_from_profile_information():
    parsed = parse_export(fixture("facebook", "2022"))
    assert [(o.name, o.username) for o in parsed.owners] == [("Demelza Carne", "demelza.carne.77")]


def test_rewritten_apostrophe_in_file_name_is_read(tmp_path):
    folder = tmp_path / "fb"
    shutil.copytree(fixture("facebook", "2022"), folder)
    followed = folder / "connections" / "followers" / "who_you've_followed.json"
    followed.rename(followed.with_name("who_you_ve_followed.json"))
    assert kinds(parse_export(folder))["following"] == 2


def test_html_export_is_refused_asking_for_json(cli, tmp_path, zipped):
    staff = add_staff(cli, tmp_path)
    archive = zipped(fixture("facebook", "html"), name="facebook-html.zip")
    files = import_json(cli, staff, archive, expect=2)
    assert files[0]["status"] == "refused"
    assert "Format: JSON" in files[0]["error"]
    loose = tmp_path / "your_friends.html"
    shutil.copyfile(fixture("facebook", "html") / "connections/friends/your_friends.html", loose)
    with pytest.raises(InputError, match="JSON"):
        parse_export(loose)


def test_cli_json_reports_each_file_and_reimport_changes_nothing(cli, tmp_path, zipped):
    staff = add_staff(cli, tmp_path)
    archive = zipped(fixture("facebook", "2022"), wrapper="facebook-demelzacarne-2026", name="facebook.zip")
    (first,) = import_json(cli, staff, archive)
    assert {k: first[k] for k in ("platform", "layout", "rows", "skipped", "status")} == {
        "platform": "facebook", "layout": "facebook-2022", "rows": sum(LAYOUTS["2022"].values()), "skipped": 0,
        "status": "imported"}
    assert len(first["sha256"]) == 64
    (again,) = import_json(cli, staff, archive)
    assert again["status"] == "unchanged" and again["rows"] == first["rows"]


def test_a_truncated_list_is_one_clear_error(tmp_path):
    loose = tmp_path / "your_friends.json"
    text = (fixture("facebook", "2022") / "connections/friends/your_friends.json").read_text()
    loose.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not valid JSON|truncated|not an export"):
        parse_export(loose)


def test_json_null_and_empty_lists_are_no_entries(tmp_path):
    folder = tmp_path / "connections" / "friends"
    folder.mkdir(parents=True)
    (folder / "your_friends.json").write_text(json.dumps({"friends_v2": None}))
    (folder / "removed_friends.json").write_text(json.dumps({"deleted_friends_v2": []}))
    (folder / "sent_friend_requests.json").write_text("")
    parsed = parse_export(tmp_path)
    assert parsed.records == [] and parsed.platforms == ["facebook"]
    assert any("empty" in w for w in parsed.warnings)
