"""Discord: account/user.json (older) and Account/user.json (newer) relationships."""

from __future__ import annotations

import pytest

from auditor.ingest import parse_export
from tests.export_helpers import by_name, fixture, kinds, read_every_form

LAYOUTS = {
    "2019": {"friend": 1, "blocked": 1},
    "2024": {"friend": 1, "request_received": 1, "request_sent": 1},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_in_every_form(layout, zipped, tmp_path):
    parsed = read_every_form(fixture("discord", layout), zipped, tmp_path)
    assert kinds(parsed) == LAYOUTS[layout]
    assert parsed.layouts == [f"discord-{layout}"]


def test_snowflakes_stay_text_and_names_are_kept():
    parsed = parse_export(fixture("discord", "2024"))
    (tamsin,) = by_name(parsed, "333333333333333333")
    assert (tamsin.username, tamsin.display_name) == ("tamsin.o", "Tamsin 🌈")
    assert tamsin.extra == {"nickname": "Cousin T"}
    assert parsed.skipped == 1  # type 5 (implicit) is not a connection
    (owner,) = parsed.owners
    assert owner.platform_id == "80351110224678912" and owner.username == "demelza_c"


def test_legacy_discriminator_kept_in_handle():
    parsed = parse_export(fixture("discord", "2019"))
    assert by_name(parsed, "111111111111111111")[0].username == "kensa#4821"
