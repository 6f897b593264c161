"""The governors' summary: aggregates only, small counts suppressed, no names anywhere."""

from __future__ import annotations

import html
import json
import re

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from auditor.db import Database
from auditor.models import Person
from auditor.reports.governor import render_governor, small, suppress
from tests.test_reports_world import HOSTILE, build_world, hostile_context


def test_counts_one_to_four_are_shown_as_under_five():
    assert [small(n) for n in (0, 1, 4, 5, 1234)] == ["0", "<5", "<5", "5", "1,234"]


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=7))
def test_no_small_count_can_be_worked_out_from_the_total(counts):
    table = suppress([(f"c{i}", n) for i, n in enumerate(counts)])
    shown = [value for _, value in table]
    assert not any(value in {"1", "2", "3", "4"} for value in shown)
    hidden = [value for value in shown if value in ("<5", "*")]
    if len(hidden) == 1:
        # A lone hidden cell only when nothing larger could be hidden with it: then the total is small too.
        assert sum(counts) < 5 or all(n < 5 for n in counts)
        assert small(sum(counts)) == "<5"


def test_no_names_references_or_display_names(tmp_path, cli, db_url):
    world = build_world(tmp_path, cli)
    out = tmp_path / "governors.html"
    cli("report", "--format", "governor", "--out", out)
    text = html.unescape(out.read_text(encoding="utf-8"))
    db = Database(db_url)
    with db.engine.connect() as conn:
        people = list(conn.execute(sa.select(Person.__table__)))
    db.dispose()
    assert people
    for p in people:
        assert not re.search(rf"\b{re.escape(p.ref)}\b", text), p.ref
        for name in (p.legal_forename, p.legal_surname, p.preferred_forename):
            if name:
                assert name not in text, "a roster name is in the governors' summary"
    findings = world.findings()
    for f in findings:
        for value in (f["account"]["display_name"], f["account"]["username"], f["source"]["file_sha256"], f["key"]):
            if value:
                assert value[:20] not in text
    # The counts are the audit's, with the small ones hidden.
    figures = {k: html.unescape(v) for k, v in re.findall(r'data-figure="([^"]+)">([^<]*)<', out.read_text(encoding="utf-8"))}
    assert figures["findings"] == small(len(findings))
    assert figures["staff-audited"] == "<5"
    for cell in re.findall(r'<td class="n">([^<]*)</td>', out.read_text(encoding="utf-8")):
        assert cell in ("0", "&lt;5", "*") or int(cell.replace(",", "")) >= 5, cell
    log = json.loads(cli("log", "show", "--action", "report", "--json").output)[-1]
    assert log["details"]["format"] == "governor"


def test_hostile_context_leaks_nothing():
    text = html.unescape(render_governor(hostile_context(extra_findings=6)))
    for name in HOSTILE + ["Perpetua", "Grindlewood", "T01", "P01", "Plain Name", "javascript"]:
        assert name[:30] not in text
    assert "<script" not in text.lower()
