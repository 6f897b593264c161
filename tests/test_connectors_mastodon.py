"""Mastodon data export CSVs, with and without their header rows."""

from __future__ import annotations

import pytest

from auditor.errors import InputError
from auditor.ingest import parse_export
from tests.export_helpers import fixture, kinds, read_every_form


@pytest.mark.parametrize("layout", ["2017", "2021"])
def test_each_layout_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("mastodon", layout), zipped, tmp_path)
    assert kinds(parsed) == {"following": 2, "blocked": 1, "muted": 1}


def test_addresses_keep_their_server_and_bad_lines_are_skipped():
    parsed = parse_export(fixture("mastodon", "2021"))
    following = {r.username: r.profile_url for r in parsed.records if r.kind == "following"}
    assert following == {"kensa@mastodon.example": "https://mastodon.example/@kensa",
                         "annear@fosstodon.example": "https://fosstodon.example/@Annear"}
    assert parsed.skipped == 1


def test_a_headerless_list_with_another_name_is_not_guessed(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text("someone@mastodon.example\n")
    with pytest.raises(InputError, match="not an export auditor can read"):
        parse_export(path)
