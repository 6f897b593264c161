"""The DSL's HTML report: hostile names are inert, the file stands alone, the figures are the
audit's, every finding carries its provenance, and the trend is against the previous audit."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser

from auditor.reports.html_report import render_html
from tests.test_reports_world import HOSTILE, LONG, RLO, build_world, hostile_context, poison, snapchat_export


class Page(HTMLParser):
    """Every start tag with its attributes, text inside <bdi>, and the data-figure values."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.bdi_text: list[str] = []
        self.figures: dict[str, str] = {}
        self._stack: list[tuple[str, str | None]] = []
        self._buffer: dict[int, list[str]] = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in ("meta", "br", "line", "circle", "rect", "path"):
            return
        self._stack.append((tag, attributes.get("data-figure")))
        self._buffer[len(self._stack)] = []

    def handle_endtag(self, tag):
        while self._stack:
            depth = len(self._stack)
            open_tag, figure = self._stack.pop()
            text = "".join(self._buffer.pop(depth, []))
            if figure:
                self.figures[figure] = text.strip()
            if open_tag == "bdi":
                self.bdi_text.append(text)
            if self._stack:
                self._buffer[len(self._stack)].append(text)
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._stack:
            self._buffer[len(self._stack)].append(data)


def assert_inert(html: str) -> Page:
    """No live markup from names: no script or img element, no event-handler attribute, no
    link anywhere, direction overrides visible, long names cut, every name inside <bdi>."""
    page = Page(html)
    tags = Counter(tag for tag, _ in page.tags)
    assert tags["script"] == 0 and tags["img"] == 0 and tags["iframe"] == 0 and tags["object"] == 0
    for tag, attributes in page.tags:
        assert not [a for a in attributes if a.lower().startswith("on")], (tag, attributes)
        for name in ("href", "src", "action", "formaction", "xlink:href"):
            value = attributes.get(name) or ""
            assert not value or value.startswith("#"), (tag, name, value)
    assert "\u202e" not in html and "[U+202E]" in html
    assert "W" * 200 not in html and "(5,000 characters)" in html
    shown = "\n".join(page.bdi_text)
    for name in ("<script>alert('owned')</script>", '<img src=x onerror="alert(1)">', '=HYPERLINK("http://evil.example/'):
        assert name in shown  # the text is displayed as text, inside an isolate
    return page


def test_hostile_names_are_inert_even_when_a_connector_passes_them_raw():
    html = render_html(hostile_context())
    page = assert_inert(html)
    assert "javascript:" not in "".join(str(a) for _, a in page.tags)
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_report_stands_alone_and_prints_on_a4():
    html = render_html(hostile_context(extra_findings=3))
    assert re.search(r"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';", html)
    assert "@page { size: A4" in html and "break-inside: avoid" in html
    assert "<link" not in html and "@import" not in html and "url(" not in html
    page = Page(html)
    assert sum(1 for tag, a in page.tags if tag == "svg" and "ego" in (a.get("class") or "")) == 1
    assert sum(1 for tag, a in page.tags if tag == "svg" and "waterfall" in (a.get("class") or "")) == len(HOSTILE) + 3


def test_figures_findings_and_provenance_through_the_cli(tmp_path, cli, db_url):
    world = build_world(tmp_path, cli)
    poison(db_url, "P06", RLO, "ignatius\u202e.pemberthy")  # a raw override straight into the database
    out = tmp_path / "report.html"
    cli("report", "--format", "html", "--out", out)
    html = out.read_text(encoding="utf-8")
    page = assert_inert(html)
    document = json.loads((world.root / "audit.json").read_text(encoding="utf-8"))
    findings = document["findings"]
    summary = document["summary"]
    figures = page.figures
    assert figures["findings"] == str(len(findings))
    assert figures["staff-audited"] == "2" and figures["staff-total"] == "3"
    assert figures["exports"] == str(summary["files"]) and figures["contacts"] == f"{summary['connections']:,}"
    for severity, count in Counter(f["severity"] for f in findings).items():
        assert figures[f"severity-{severity}"] == str(count)
    for rule, count in Counter(f["rule"] for f in findings).items():
        assert figures[f"rule-{rule}"] == str(count)
    assert figures["open"] == str(sum(1 for f in findings if f["status"] in ("needs_review", "probable")))
    assert figures["staff-without-exports"] == "1" and "(T03)" in html
    # Every finding is there with its export's hash and member path, under its member of staff.
    for f in findings:
        block = re.search(rf'<article class="finding[^"]*" id="finding-{f["id"]}".*?</article>', html, re.S)
        assert block, f["id"]
        assert f["source"]["file_sha256"] in block.group(0) and f["source"]["member"] in block.group(0)
        assert f["rule"] in block.group(0) and "<blockquote>" in block.group(0)
        assert 'class="waterfall"' in block.group(0)
    sections = re.findall(r'<section class="staff" id="[^"]+" data-staff="([^"]+)"', html)
    assert sorted(sections) == sorted({f["staff_ref"] for f in findings})
    t01 = re.search(r'data-staff="T01".*?</section>', html, re.S).group(0)
    ego = re.search(r'<svg[^>]*class="ego".*?</svg>', t01, re.S).group(0)
    accounts = {(f["platform"], f["account"]["username"]) for f in findings if f["staff_ref"] == "T01"}
    assert ego.count('<g class="flag"') == len(accounts)
    assert "household link" in ego  # the parent C01 and her child P01 are both connected to T01
    log = json.loads(cli("log", "show", "--action", "report", "--json").output)
    assert log[-1]["details"]["format"] == "html" and log[-1]["details"]["audit"] == document["audit_id"]
    assert log[-1]["details"]["sha256"] and "T01" not in json.dumps(log[-1]["details"])


def test_trend_against_the_previous_audit(tmp_path, cli):
    world = build_world(tmp_path, cli)
    first = world.findings()
    # T01 exports again without Tamsin (a past pupil) and with a new pupil connection.
    from tests.test_reports_world import T01_FRIENDS

    friends = [x for x in T01_FRIENDS if not x[0].startswith("tamsin")] + [("caspian.ravensworth", "Caspian Ravensworth")]
    cli("import", "--staff", "T01", snapchat_export(world.root / "exports" / "T01" / "mydata~3", friends))
    world.audit()
    second = world.findings()
    document = json.loads((world.root / "audit.json").read_text(encoding="utf-8"))
    trend = document["summary"]["trend"]
    assert trend["previous"] == world.audits[0]
    out = tmp_path / "report.html"
    cli("report", "--format", "html", "--out", out)
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    before, after = {f["key"] for f in first}, {f["key"] for f in second}
    assert page.figures["trend-new"] == str(len(after - before)) == str(trend["new"])
    assert page.figures["trend-unchanged"] == str(len(after & before))
    assert page.figures["trend-resolved"] == str(len(before - after))
    assert html.count('<span class="badge trend-new">new</span>') == len(after - before)
    # Next spring the past pupil is nineteen: her finding is resolved, and listed as such.
    world.audit(as_of="2027-04-01")
    spring = tmp_path / "spring.html"
    cli("report", "--format", "html", "--out", spring)
    text = spring.read_text(encoding="utf-8")
    resolved = re.search(r'<table id="resolved">.*?</table>', text, re.S).group(0)
    assert Page(text).figures["trend-resolved"] == "1" and "past-pupil-under-19" in resolved
    assert "Perpetua Grindlewood" in resolved
    # The earlier audit can still be reported, and its report shows no trend.
    old = tmp_path / "old.html"
    cli("report", "--audit", world.audits[0], "--format", "html", "--out", old)
    assert "nothing to compare with yet" in old.read_text(encoding="utf-8")


def test_long_names_are_cut_for_display_but_kept_in_json(tmp_path, cli):
    world = build_world(tmp_path, cli)
    assert any(f["account"]["display_name"] == LONG for f in world.findings())
    out = tmp_path / "report.html"
    cli("report", "--format", "html", "--out", out)
    html = out.read_text(encoding="utf-8")
    assert LONG not in html and "Wilhelmina WWWW" in html


def test_audit_command_writes_and_logs_any_format(tmp_path, cli):
    build_world(tmp_path, cli, audit=False)
    out = tmp_path / "first.html"
    cli("audit", "--as-of", "2026-11-01", "--format", "html", "--out", out)
    assert Page(out.read_text(encoding="utf-8")).figures["findings"].isdigit()
    assert "--out" in cli("audit", "--as-of", "2026-11-01", "--format", "letters", expect=2).output
    logged = json.loads(cli("log", "show", "--json").output)
    actions = [e["action"] for e in logged]
    assert actions[-1] == "report" and actions.count("audit") == 1  # the refused run left nothing
    assert "no completed audit 42" in cli("audit", "--since", "42", "--format", "json", expect=3).output
