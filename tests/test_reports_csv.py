"""The CSV for Excel: BOM, fixed and documented columns, one row per finding, and no cell a
spreadsheet would evaluate."""

from __future__ import annotations

import csv
import io
import json

from auditor.reports import csv_findings
from auditor.reports.csv_findings import COLUMNS, render_csv
from auditor.reports.display import FORMULA_START, csv_cell
from tests.test_reports_world import AT_SUM, HYPERLINK, IMG, PLUS_CMD, RLO, SCRIPT, build_world, hostile_context, poison


def rows_of(text: str) -> list[dict]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_every_column_is_documented_in_the_writer():
    doc = csv_findings.__doc__
    for column in COLUMNS:
        assert f"\n{column} " in doc, column
    assert len(set(COLUMNS)) == len(COLUMNS)


def test_cells_that_start_a_formula_are_neutralised():
    for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", " =1", "\uff1d1+1", HYPERLINK, PLUS_CMD, AT_SUM]:
        cell = csv_cell(text)
        assert cell.startswith("'"), text
        assert not cell.lstrip(" ").startswith(FORMULA_START)
    assert csv_cell("Ann Smith") == "Ann Smith"
    assert csv_cell(0.97) == 0.97
    assert csv_cell(None) == ""
    assert csv_cell(RLO) == "Ignatius [U+202E]gnp.exe"


def test_hostile_context_gives_safe_rows():
    text = render_csv(hostile_context())
    rows = rows_of(text)
    assert list(rows[0]) == list(COLUMNS)
    assert "\r\n" in text and "\u202e" not in text
    names = {row["display_name"] for row in rows}
    assert f"'{HYPERLINK}" in names and f"'{PLUS_CMD}" in names and f"'{AT_SUM}" in names
    assert SCRIPT in names and IMG in names  # plain text in a spreadsheet: nothing to neutralise
    assert "Ignatius [U+202E]gnp.exe" in names
    long = next(n for n in names if n.startswith("Wilhelmina"))
    assert len(long) < 1100 and long.endswith("(5,000 characters)")
    for row in rows:
        for column, value in row.items():
            assert not value.lstrip(" ").startswith(FORMULA_START), (column, value)


def test_csv_through_the_cli_matches_the_findings(tmp_path, cli, db_url):
    world = build_world(tmp_path, cli)
    poison(db_url, "P06", RLO)
    out = tmp_path / "findings.csv"
    cli("report", "--format", "csv", "--out", out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = rows_of(raw.decode("utf-8"))
    findings = json.loads((world.root / "audit.json").read_text(encoding="utf-8"))["findings"]
    assert [int(r["finding_id"]) for r in rows] == [f["id"] for f in findings]
    by_id = {int(r["finding_id"]): r for r in rows}
    for f in findings:
        row = by_id[f["id"]]
        assert row["finding_key"] == f["key"] and row["staff_ref"] == f["staff_ref"]
        assert row["export_sha256"] == f["source"]["file_sha256"] and row["export_member"] == f["source"]["member"]
        assert row["status"] == f["status"] and float(row["confidence"]) == f["confidence"]
        assert row["name_only"] in ("yes", "no")
    formulas = [r["display_name"] for r in rows if r["person_ref"] in ("P03", "P04", "P05")]
    assert formulas and all(name.startswith("'") for name in formulas)
    assert "\u202e" not in raw.decode("utf-8")
    staff_names = {r["staff_ref"]: r["staff_name"] for r in rows}
    assert staff_names["T01"] == "Perpetua Grindlewood"
