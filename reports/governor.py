"""The governors' summary: aggregates only, as an A4 HTML page.

Governors should not receive details of individual cases, so this page carries counts by
severity, status, rule, platform and school, the trend and the coverage, and nothing else: no
names, no references, no display names, no export hashes. Any count from 1 to 4 is shown as
"<5"; when a table would hide exactly one such count, its next smallest count is hidden too
(shown as "*"), so a small number cannot be worked out by subtracting from the total.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from auditor.registry import report_writers
from auditor.reporting import ReportContext
from auditor.reports.templating import SEVERITY_ORDER, STATUS_WORDS, render
from auditor.review import OPEN_STATUSES

THRESHOLD = 5
STATUS_GROUPS = {"needs_review": "awaiting the DSL's review", "probable": "awaiting the DSL's review",
                 "confirmed": "confirmed by the DSL", "dismissed": "found to be mistaken identity",
                 "excepted": "excepted (declared relatives)"}


def small(n: int, threshold: int = THRESHOLD) -> str:
    """One count as governors see it.

    >>> small(0), small(3), small(12)
    ('0', '<5', '12')
    """
    if 0 < n < threshold:
        return f"<{threshold}"
    return f"{n:,}"


def suppress(counts: list[tuple[str, int]], threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """A table of counts with small ones hidden, and one more hidden when only one would be.

    >>> suppress([("a", 20), ("b", 7), ("c", 2)])
    [('a', '20'), ('b', '*'), ('c', '<5')]
    >>> suppress([("a", 20), ("b", 3), ("c", 2)])
    [('a', '20'), ('b', '<5'), ('c', '<5')]
    """
    shown = {name: small(n, threshold) for name, n in counts}
    hidden = [name for name, n in counts if 0 < n < threshold]
    if len(hidden) == 1:
        larger = sorted((n, name) for name, n in counts if n >= threshold)
        if larger:
            shown[larger[0][1]] = "*"
    return [(name, shown[name]) for name, _ in counts]


def build_view(context: ReportContext) -> dict:
    findings = context.findings
    staff_school = {ref: (info.get("school") or "no school recorded") for ref, info in context.people.items()
                    if info.get("kind") == "staff"}
    by_severity = Counter(f["severity"] for f in findings)
    by_group = Counter(STATUS_GROUPS.get(f["status"], STATUS_WORDS.get(f["status"], f["status"])) for f in findings)
    by_rule = Counter(f["rule"] for f in findings)
    by_platform = Counter(f["platform"] for f in findings)
    by_school = Counter(staff_school.get(f["staff_ref"], "no school recorded") for f in findings)
    confirmed_breach_staff = len({f["staff_ref"] for f in findings if f["severity"] == "breach" and f["status"] == "confirmed"})
    staff_with_findings = len({f["staff_ref"] for f in findings if f["status"] not in ("dismissed", "excepted")})
    coverage = context.coverage
    trend = context.trend or {}
    group_order = list(dict.fromkeys(STATUS_GROUPS.values()))
    return {
        "audit": context.audit,
        "threshold": THRESHOLD,
        "schools": sorted(set(staff_school.values()) - {"no school recorded"}),
        "figures": {
            "staff_audited": small(coverage.get("staff_with_exports", 0)),
            "staff_total": small(coverage.get("staff_total", 0)),
            "staff_without_exports": small(len(coverage.get("staff_without_exports") or [])),
            "findings": small(len(findings)),
            "open": small(sum(1 for f in findings if f["status"] in OPEN_STATUSES)),
            "staff_with_findings": small(staff_with_findings),
            "confirmed_breach_staff": small(confirmed_breach_staff),
        },
        "by_severity": suppress([(s, by_severity[s]) for s in SEVERITY_ORDER]),
        "by_status": suppress([(g, by_group[g]) for g in group_order if g in by_group] or [(group_order[0], 0)]),
        "by_rule": suppress(sorted(by_rule.items())),
        "by_platform": suppress(sorted(by_platform.items())),
        "by_school": suppress(sorted(by_school.items())),
        "trend": dict(suppress([(k, trend.get(k) or 0) for k in ("new", "resolved", "unchanged")]))
        if trend.get("previous") else None,
    }


def render_governor(context: ReportContext) -> str:
    return render("governor.html", **build_view(context))


@report_writers.register("governor")
def write_governor(context: ReportContext, out: Path | None, options: dict) -> str | None:
    text = render_governor(context)
    if out is None:
        return text
    out.write_text(text, encoding="utf-8")
    return None
