"""The reports in a real browser: Debian's headless Chromium renders the DSL's report, and the
summary figures read from the rendered page are the audit's; hostile names stay inert in the
browser's own DOM; a screenshot is taken; a letter prints to an A4 PDF.

Skipped only when /usr/bin/chromium is absent (the project's test command installs it).
Set AUDITOR_ARTIFACTS=DIR to keep the screenshot and the PDF.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.test_reports_html import Page, assert_inert
from tests.test_reports_world import RLO, build_world, poison

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    result = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def keep(path: Path) -> None:
    target = os.environ.get("AUDITOR_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / path.name)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_rendered_report_shows_the_audits_figures(tmp_path, cli, db_url):
    world = build_world(tmp_path, cli)
    poison(db_url, "P06", RLO)
    report = tmp_path / "report.html"
    cli("report", "--format", "html", "--out", report)
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "<body" in dom and "Staff social-media audit" in dom
    page = assert_inert(dom)
    document = json.loads((world.root / "audit.json").read_text(encoding="utf-8"))
    findings, summary = document["findings"], document["summary"]
    figures = page.figures
    assert figures["findings"] == str(len(findings))
    assert figures["staff-audited"] == str(len({f["staff_ref"] for f in findings} | {"T01", "T02"}))
    assert figures["exports"] == str(summary["files"])
    assert figures["contacts"] == f"{summary['connections']:,}"
    for severity, count in Counter(f["severity"] for f in findings).items():
        assert figures[f"severity-{severity}"] == str(count)
    for platform, count in Counter(f["platform"] for f in findings).items():
        assert figures[f"platform-{platform}"] == str(count)
    assert len(re.findall(r'<article class="finding', dom)) == len(findings)
    screenshot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1280,2400", "--hide-scrollbars", report.as_uri())
    assert png_size(screenshot) == (1280, 2400)
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
    keep(screenshot)


def test_letter_prints_to_an_a4_pdf(tmp_path, cli):
    build_world(tmp_path, cli)
    folder = tmp_path / "letters"
    cli("report", "--format", "letters", "--include-review", "--out", folder)
    letter = folder / "letter-T01.html"
    pdf = tmp_path / "letter-T01.pdf"
    chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", letter.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes)  # A4 in points
    keep(pdf)


def test_dumped_dom_of_the_governor_summary_has_no_names(tmp_path, cli):
    build_world(tmp_path, cli)
    out = tmp_path / "governors.html"
    cli("report", "--format", "governor", "--out", out)
    dom = chromium(tmp_path, "--dump-dom", out.as_uri()).stdout
    page = Page(dom)
    assert page.figures["findings"].isdigit() or page.figures["findings"] == "<5"
    for name in ("Perpetua", "Grindlewood", "Zephyrine", "Quillfeather", "T01", "P01", "script"):
        assert name not in dom
