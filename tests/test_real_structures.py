"""Every file of ../shared/datasets/real-structures (exact structures of real exports, values
replaced) imports as a loose file with exactly the entries expected.json gives it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from auditor.ingest import parse_export
from tests.conftest import REAL_STRUCTURES

EXPECTED = REAL_STRUCTURES / "expected.json"
CASES = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else []
pytestmark = pytest.mark.skipif(not CASES, reason="../shared/datasets/real-structures is not present")

# expected.json's kind words → the connection kinds auditor stores
SECTION_KINDS = {"friends": "friend", "requests_sent": "request_sent", "blocked": "blocked", "removed": "removed",
                 "followers": "follower", "following": "following"}


@pytest.mark.parametrize("case", CASES, ids=[c["path"] for c in CASES])
def test_loose_file_has_exactly_the_expected_entries(case):
    parsed = parse_export(REAL_STRUCTURES / case["path"])
    assert parsed.kind == "file"
    assert len(parsed.records) == case["entries"]
    assert parsed.skipped == 0
    assert parsed.platforms == [{"twitter": "x"}.get(case["platform"], case["platform"])]


@pytest.mark.parametrize("case", [c for c in CASES if c.get("sections")], ids=lambda c: c["path"])
def test_sections_hold_their_own_counts(case):
    parsed = parse_export(REAL_STRUCTURES / case["path"])
    got = Counter(r.kind for r in parsed.records)
    for name, section in case["sections"].items():
        kind = SECTION_KINDS.get(section["kind"])
        if kind is None or sum(1 for s in case["sections"].values() if SECTION_KINDS.get(s["kind"]) == kind) > 1:
            continue  # "other" (Shortcuts: not people) or a kind two sections share
        assert got[kind] == section["entries"], name


def test_meta_names_are_repaired_and_snapchat_twins_agree():
    path = REAL_STRUCTURES / "facebook/tieubachlongblog__thanhbobber/connections/friends/your_friends.json"
    # the dataset's README: json.loads, then latin-1 → utf-8 reads each name
    readme_way = sorted(e["name"].encode("latin-1").decode("utf-8").strip() for e in json.loads(path.read_text())["friends_v2"])
    friends = parse_export(path)
    assert sorted(r.display_name_raw.strip() for r in friends.records) == readme_way
    assert any(not r.display_name.isascii() for r in friends.records)
    base = REAL_STRUCTURES / "snapchat/ar705-y__at"
    as_json = parse_export(base / "json/friends.json")
    as_html = parse_export(base / "html/friends.html")
    key = lambda p: sorted((r.kind, r.username or "", r.display_name or "") for r in p.records)
    assert key(as_json) == key(as_html)


def test_x_ids_and_tiktok_separate_follow_backs():
    follower = parse_export(REAL_STRUCTURES / "twitter/larsbrinkhoff__twitter-data/data/follower.js")
    assert all(r.platform_id and r.platform_id.isdigit() and r.username is None for r in follower.records)
    tiktok = parse_export(REAL_STRUCTURES / "tiktok/beyzaacesur__tiktok-chronotypes-analysis/user_data_tiktok.json")
    assert not [r for r in tiktok.records if r.kind == "mutual"]  # same accounts, different times
    assert all(r.connected_at is not None for r in tiktok.records)
