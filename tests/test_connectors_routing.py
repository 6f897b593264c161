"""Routing across platforms: loose files recognised by content, unknown members reported,
multi-part archives, what each stored row keeps, and ``auditor connectors``."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor.archive import Limits
from auditor.db import Database
from auditor.ingest import parse_export
from tests.export_helpers import add_staff, fixture, import_json, kinds

# a list file of each platform, and the platform its content must be recognised as
LISTS = [
    ("facebook", "2022", "connections/friends/your_friends.json", "facebook"),
    ("facebook", "2018", "friends/friends.json", "facebook"),
    ("instagram", "2023", "connections/followers_and_following/followers_1.json", "instagram"),
    ("instagram", "2023", "your_instagram_activity/threads/followers.json", "threads"),
    ("instagram", "2018", "connections.json", "instagram"),
    ("instagram", "html", "connections/followers_and_following/followers_1.html", "instagram"),
    ("tiktok", "2024", "user_data_tiktok.json", "tiktok"),
    ("snapchat", "2023", "json/friends.json", "snapchat"),
    ("snapchat", "2023", "html/friends.html", "snapchat"),
    ("x", "2020", "data/follower.js", "x"),
    ("linkedin", "2020", "Connections.csv", "linkedin"),
    ("linkedin", "2018", "Invitations.csv", "linkedin"),
    ("discord", "2024", "Account/user.json", "discord"),
    ("contacts", "vcard-3.0", "Contacts.vcf", "contacts"),
    ("contacts", "google-csv", "contacts.csv", "contacts"),
    ("contacts", "outlook-csv", "contacts.csv", "contacts"),
    ("youtube", "csv", "Takeout/YouTube and YouTube Music/subscriptions/subscriptions.csv", "youtube"),
    ("youtube", "json", "Takeout/YouTube/subscriptions/subscriptions.json", "youtube"),
    ("mastodon", "2021", "following_accounts.csv", "mastodon"),
]


@pytest.mark.parametrize(("platform", "layout", "member", "expected"), LISTS, ids=[f"{p}-{m}" for p, _l, m, _e in LISTS])
def test_a_renamed_loose_file_is_recognised_by_content(tmp_path, platform, layout, member, expected):
    source = fixture(platform, layout) / member
    in_place = parse_export(source)
    renamed = tmp_path / ("download (3)" + source.suffix)
    shutil.copyfile(source, renamed)
    if platform == "mastodon":  # a header-less list cannot be told from e-mails; a headed one can
        assert source.read_text().startswith("Account address,")
    parsed = parse_export(renamed)
    assert parsed.platforms == [expected]
    assert kinds(parsed) == kinds(in_place) and len(parsed.records) > 0


def test_unknown_members_are_reported_and_media_only_parts_are_not_refused(tmp_path):
    archive = tmp_path / "mydata~123-2.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("memories/2024-01-01_abc-main.mp4", b"\0" * 64)
        zf.writestr("memories/2024-01-02_def-main.jpg", b"\xff\xd8" + b"\0" * 64)
    parsed = parse_export(archive)
    assert parsed.records == [] and "holds no lists of people" in parsed.warnings[0]
    mixed = tmp_path / "mixed.zip"
    with zipfile.ZipFile(mixed, "w") as zf:
        zf.writestr("json/friends.json", (fixture("snapchat", "2023") / "json/friends.json").read_bytes())
        zf.writestr("notes/diary.txt", b"not an export")
        zf.writestr("stray.xml", b"<x/>")
    parsed = parse_export(mixed)
    assert any("2 member(s) not recognised" in w and "notes/diary.txt" in w for w in parsed.warnings)


def test_sniffed_member_is_read_once(tmp_path):
    """A member recognised by content is charged to the archive's read budget once."""
    folder = tmp_path / "export"
    folder.mkdir()
    data = (fixture("tiktok", "2024") / "user_data_tiktok.json").read_bytes()
    (folder / "my-tiktok.json").write_bytes(data)
    parsed = parse_export(folder, limits=Limits(max_total_bytes=len(data) + 10))
    assert kinds(parsed) == {"follower": 2, "following": 1, "mutual": 1, "blocked": 1}


def test_parts_of_one_export_import_each_list_once(cli, tmp_path):
    staff = add_staff(cli, tmp_path)
    base = fixture("facebook", "2022")
    part1, part2 = tmp_path / "facebook-dc-2026-11-01-abc.zip", tmp_path / "facebook-dc-2026-11-01-abc-2.zip"
    with zipfile.ZipFile(part1, "w") as zf:
        for member in ("connections/friends/your_friends.json", "connections/followers/people_who_followed_you.json"):
            zf.write(base / member, member)
    with zipfile.ZipFile(part2, "w") as zf:  # Meta repeats a list in more than one part
        for member in ("connections/followers/people_who_followed_you.json", "connections/friends/removed_friends.json"):
            zf.write(base / member, member)
    first, second = import_json(cli, staff, part1, part2)
    assert (first["rows"], second["rows"]) == (4 + 3, 1)
    assert any("already imported from another part" in w for w in second["warnings"])


def test_stored_rows_keep_provenance_and_identity(cli, tmp_path, zipped, db_url):
    staff = add_staff(cli, tmp_path)
    archive = zipped(fixture("snapchat", "2023"), name="mydata~987.zip")
    (result,) = import_json(cli, staff, archive)
    db = Database(db_url)
    with db.begin() as conn:
        row = conn.execute(sa.text(
            "SELECT c.kind, c.direction, c.layout, c.member, c.connected_at, c.extra, a.platform, a.username, "
            "a.display_name, a.display_name_raw, a.profile_url, f.sha256 FROM connection c "
            "JOIN account a ON a.id = c.account_id JOIN importedfile f ON f.id = c.file_id "
            "WHERE a.username = 'locryn_'")).one()
        members = conn.execute(sa.text("SELECT members FROM importedfile")).scalar_one()
    db.dispose()
    assert (row.kind, row.direction, row.layout, row.member) == ("friend", "mutual", "snapchat-2023", "json/friends.json")
    assert (row.platform, row.display_name, row.display_name_raw) == ("snapchat", "Locryn Trebilcock", "Locryn\nTrebilcock")
    assert row.profile_url == "https://www.snapchat.com/add/locryn_" and row.sha256 == result["sha256"]
    assert str(row.connected_at).startswith("2023-03-04 05:06:07")
    members = json.loads(members) if isinstance(members, str) else members
    assert [m["member"] for m in members] == ["json/friends.json"] and len(members[0]["sha256"]) == 64


def test_connectors_command_lists_every_platform_and_layout(cli):
    rows = json.loads(cli("connectors", "--json").stdout)
    platforms = {row["platform"]: row["layouts"] for row in rows}
    assert set(platforms) >= {"facebook", "instagram", "tiktok", "snapchat", "x", "linkedin", "discord", "contacts",
                              "youtube", "mastodon"}
    for platform, layouts in {
        "facebook": ["facebook-2018", "facebook-2020", "facebook-2022", "facebook-html"],
        "instagram": ["instagram-2018", "instagram-2020", "instagram-2023", "instagram-2025", "instagram-html", "threads"],
        "tiktok": ["tiktok-2019", "tiktok-2024", "tiktok-txt"],
        "contacts": ["vcard-2.1", "vcard-3.0", "vcard-4.0", "google-csv-legacy", "google-csv", "outlook-csv"],
    }.items():
        assert set(layouts) <= set(platforms[platform])
    text = cli("connectors").stdout
    assert "tiktok-txt" in text and "x-2018" in text


def test_every_fixture_layout_is_listed_by_its_connector():
    from auditor.registry import export_connectors

    listed = {layout for _, cls in export_connectors.items() for layout in cls.layouts}
    seen = set()
    for folder in sorted(p for p in (Path(__file__).parent / "fixtures" / "exports").glob("*/*") if p.is_dir()):
        if folder.parent.name == "facebook" and folder.name == "html":
            continue
        seen |= set(parse_export(folder).layouts)
    assert seen <= listed
