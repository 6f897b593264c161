"""YouTube subscriptions from Google Takeout: the CSV (2020+) and the older JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.ingest import parse_export
from tests.export_helpers import by_name, fixture, kinds, read_every_form


@pytest.mark.parametrize("layout", ["csv", "json"])
def test_each_layout_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("youtube", layout), zipped, tmp_path)
    assert kinds(parsed) == {"subscription": 2}
    assert parsed.layouts == [f"youtube-{layout}"]


def test_channels_keep_id_title_and_url():
    parsed = parse_export(fixture("youtube", "csv"))
    (surf,) = by_name(parsed, "Surf, Sand & Science")
    assert surf.platform_id == "UCbbbbbbbbbbbbbbbbbbbbb2" and surf.direction == "outgoing"
    (mine,) = by_name(parse_export(fixture("youtube", "json")), "Tin Mine History")
    assert mine.connected_at == datetime(2018, 4, 5, 6, 7, 8, tzinfo=UTC)
    assert mine.profile_url == "https://www.youtube.com/channel/UCccccccccccccccccccccc3"
