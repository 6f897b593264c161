"""Instagram and Threads: 2018 connections.json, 2020 wrapped lists, 2023 bare/numbered lists,
late-2025 title/_u/ entries, the HTML download, Threads inside the archive."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from auditor.ingest import parse_export
from tests.export_helpers import add_staff, by_name, fixture, import_json, kinds, read_every_form

LAYOUTS = {
    "2018": {"follower": 2, "following": 1, "mutual": 1, "close_friend": 1, "request_sent": 1, "blocked": 1},
    "2020": {"follower": 2, "following": 2, "mutual": 1, "blocked": 1},
    "2023": {"follower": 5, "following": 3, "mutual": 1, "close_friend": 1, "request_received": 1, "request_sent": 2,
             "removed": 1, "blocked": 1, "restricted": 1, "rejected": 1},
    "2025": {"follower": 1, "following": 1, "mutual": 1},
    "html": {"follower": 2, "following": 1},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_reads_every_list_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("instagram", layout), zipped, tmp_path)
    assert kinds(parsed) == LAYOUTS[layout]


def test_follow_back_at_one_second_is_one_mutual_row():
    parsed = parse_export(fixture("instagram", "2023"))
    (both,) = by_name(parsed, "morvah.kate")
    assert both.kind == "mutual" and both.platform == "instagram"
    assert both.connected_at == datetime(2023, 3, 1, tzinfo=UTC)


def test_late_2025_entries_take_the_username_from_title_or_href():
    parsed = parse_export(fixture("instagram", "2025"))
    (cove,) = by_name(parsed, "sennen.cove_")
    assert cove.layout == "instagram-2025" and cove.profile_url == "https://www.instagram.com/_u/sennen.cove_"
    (club,) = by_name(parsed, "porthleven.fc")  # query string and _u/ stripped
    assert club.kind == "following" and club.display_name is None
    (blocked,) = by_name(parse_export(fixture("instagram", "2023")), "bad.actor_44")
    assert blocked.kind == "blocked" and blocked.layout == "instagram-2025"


def test_threads_rows_keep_display_names_repaired():
    parsed = parse_export(fixture("instagram", "2023"))
    threads = {r.username: r for r in parsed.records if r.platform == "threads"}
    assert set(threads) == {"elowen.p", "jenna_q", "newlyn.gallery"}
    assert threads["elowen.p"].display_name == "Elowen Páscoe ✨"
    assert threads["jenna_q"].display_name == "Jenna Quínn"
    assert all(r.layout == "threads" for r in threads.values())
    assert parsed.platforms == ["instagram", "threads"]


def test_lists_that_are_not_connections_keep_their_meaning():
    parsed = parse_export(fixture("instagram", "2023"))
    (stranger,) = by_name(parsed, "suggested.stranger")
    assert stranger.kind == "rejected" and stranger.extra == {"list": "dismissed_suggestion"}
    assert not [r for r in parsed.records if r.username == "kernow"]  # a hashtag, not a person
    assert [(o.name, o.username) for o in parsed.owners] == [("Demelza Carne", "demelza.carne")]
    assert any("liked_posts.json" in w for w in parsed.warnings)


def test_2018_connections_json_dates_are_utc():
    parsed = parse_export(fixture("instagram", "2018"))
    (mab,) = by_name(parsed, "mab_lanyon")
    assert mab.connected_at == datetime(2019, 1, 20, 21, 45, 10, tzinfo=UTC)
    assert not [r for r in parsed.records if r.username in ("someone.suggested", "cornwall")]


def test_html_is_read_by_structure_and_json_wins_when_both_are_present(tmp_path):
    html = parse_export(fixture("instagram", "html"))
    assert {(r.kind, r.username) for r in html.records} == {
        ("follower", "talan.grose"), ("follower", "merryn.ede"), ("following", "talan.grose")}
    (late,) = [r for r in html.records if r.kind == "following"]
    assert late.connected_at == datetime(2025, 11, 26, 0, 15, tzinfo=UTC)
    both = tmp_path / "both"
    shutil.copytree(fixture("instagram", "2023"), both)
    shutil.copytree(fixture("instagram", "html") / "connections", both / "connections", dirs_exist_ok=True)
    parsed = parse_export(both)
    assert kinds(parsed) == LAYOUTS["2023"]
    assert "instagram-html" not in parsed.layouts


def test_cli_imports_the_archive_with_its_layouts(cli, tmp_path, zipped):
    staff = add_staff(cli, tmp_path)
    archive = zipped(fixture("instagram", "2023"), name="instagram-demelza.carne-2026-11-01-123.zip")
    (result,) = import_json(cli, staff, archive)
    assert result["rows"] == sum(LAYOUTS["2023"].values())
    assert result["platform"] == "instagram,threads"
    assert set(result["layout"].split(",")) == {"instagram-2023", "instagram-2025", "threads"}
    assert any("not recognised" in w for w in result["warnings"])
