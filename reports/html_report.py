"""The DSL's report: one self-contained HTML file (no script, no external file, no network; a
Content-Security-Policy forbids them anyway) that prints on A4.

Sections: summary figures (staff audited, exports and contacts read, findings by severity,
status, rule and platform, coverage gaps); the trend against the compared audit (new, resolved,
unchanged); what the audit cannot see; then, per member of staff with findings, an ego-network
picture and each finding with who, why (rule and quoted clause), the evidence waterfall, the
connection date and the export's SHA-256 and member path; staff audited with no findings; and
the audit log's head hash as an anchor for ``auditor log verify --head``.

Every untrusted string (display names, handles, URLs, member paths, names) goes through the
``show`` filter on top of autoescape: escaped, direction controls made visible, isolated in
``<bdi>``, shortened. Summary figures carry ``data-figure`` attributes so a test (or a script)
can read them from the rendered page.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from auditor.registry import export_connectors, report_writers
from auditor.reporting import ReportContext
from auditor.reports.display import plain
from auditor.reports.templating import SEVERITY_ORDER, STATUS_ORDER, render
from auditor.review import OPEN_STATUSES, is_name_only
from auditor.svg import EgoNode, ego_network, waterfall

SEVERITY_RANK = {name: i for i, name in enumerate(reversed(SEVERITY_ORDER))}


def _ordered_counts(counter: Counter, order: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    known = [(name, counter[name]) for name in order if counter.get(name)]
    rest = sorted((name, n) for name, n in counter.items() if name not in order and n)
    return known + rest


def account_group(f: dict) -> str:
    """Findings about the same account (one per connection kind) share a node in the picture."""
    a = f["account"]
    return "\x1f".join(str(x) for x in (f["platform"], a.get("username"), a.get("display_name"), a.get("profile_url")))


def evidence_steps(f: dict) -> list[tuple[str, float]]:
    steps = []
    for e in f.get("explanation") or []:
        if "comparison" not in e:
            continue
        label = e["comparison"] if e["comparison"] == "prior" else f"{e['comparison']}: {e.get('level', '')}"
        steps.append((plain(label, 44), float(e.get("weight") or 0.0)))
    return steps


def staff_order(context: ReportContext) -> list[str]:
    """Staff with the most serious open findings first."""
    scores: dict[str, tuple] = {}
    for f in context.findings:
        rank = SEVERITY_RANK.get(f["severity"], -1) if f["status"] not in ("dismissed", "excepted") else -1
        best, count = scores.get(f["staff_ref"], (-2, 0))
        scores[f["staff_ref"]] = (max(best, rank), count + 1)
    return sorted(scores, key=lambda ref: (-scores[ref][0], -scores[ref][1], ref))


def build_view(context: ReportContext) -> dict:
    people = context.people
    findings = context.findings
    counts = {key: Counter(f[key] for f in findings) for key in ("severity", "status", "rule", "platform")}
    coverage = context.coverage
    history: dict[str, list[dict]] = {}
    for h in context.history:
        history.setdefault(h["staff_ref"], []).append(h)
    sections = []
    number = 0
    for ref in staff_order(context):
        mine = context.findings_for(ref)
        mine.sort(key=lambda f: (-SEVERITY_RANK.get(f["severity"], -1), f["status"] in ("dismissed", "excepted"),
                                 f["person_ref"] or "", f["platform"], f["relationship"]))
        views, nodes = [], []
        for f in mine:
            number += 1
            person = people.get(f["person_ref"] or "", {})
            views.append({"f": f, "number": number, "trend": context.trend_of(f),
                          "person_name": person.get("name"), "person_school": person.get("school"),
                          "name_only": is_name_only(f.get("explanation") or []),
                          "waterfall": waterfall(evidence_steps(f))})
            nodes.append(EgoNode(number, plain(f["account"].get("display_name") or f["account"].get("username"), 40),
                                 f["severity"], f["status"], f["platform"], account_group(f)))
        ego = context.ego.get(ref, {})
        by_platform = dict(ego.get("by_platform") or {})
        groups_by_person: dict[str, str] = {}
        for f in mine:
            if f["person_ref"]:
                groups_by_person.setdefault(f["person_ref"], account_group(f))
        links = [(groups_by_person[a], groups_by_person[b], rel) for a, b, rel in ego.get("links") or []
                 if a in groups_by_person and b in groups_by_person]
        info = people.get(ref, {})
        title = f"Network of staff {ref}: {sum(by_platform.values())} contacts, {len({n.group for n in nodes})} with findings"
        sev = Counter(f["severity"] for f in mine)
        sections.append({
            "ref": ref, "name": info.get("name"), "school": info.get("school"), "job_title": info.get("job_title"),
            "contacts": sum(by_platform.values()), "findings": views, "by_severity": _ordered_counts(sev, SEVERITY_ORDER),
            "picture": ego_network(title, by_platform, nodes, links), "exports": context.exports.get(ref, []),
            "history": history.get(ref, []),
        })
    flagged = {s["ref"] for s in sections}
    quiet = []
    for ref, files in sorted(context.exports.items()):
        if ref in flagged:
            continue
        quiet.append({"ref": ref, "name": people.get(ref, {}).get("name"),
                      "platforms": sorted({f["platform"] for f in files if f["platform"]}),
                      "contacts": sum((context.ego.get(ref, {}).get("by_platform") or {}).values())})
    exported = set()
    for files in context.exports.values():
        for f in files:
            exported.update(p for p in (f["platform"] or "").split(",") if p)
    readable = sorted({cls.platform for _, cls in export_connectors.items()})
    resolved = [{**f, "staff_name": people.get(f["staff_ref"], {}).get("name")} for f in context.resolved]
    schools = sorted({info["school"] for info in people.values() if info.get("kind") == "staff" and info.get("school")})
    return {
        "audit": context.audit,
        "schools": schools,
        "figures": {
            "staff_audited": coverage.get("staff_with_exports", context.summary.get("staff_with_exports", 0)),
            "staff_total": coverage.get("staff_total", 0),
            "exports": context.summary.get("files", 0), "contacts": context.summary.get("connections", 0),
            "findings": len(findings), "open": sum(1 for f in findings if f["status"] in OPEN_STATUSES),
        },
        "by_severity": _ordered_counts(counts["severity"], SEVERITY_ORDER),
        "by_status": _ordered_counts(counts["status"], STATUS_ORDER),
        "by_rule": _ordered_counts(counts["rule"]),
        "by_platform": _ordered_counts(counts["platform"]),
        "coverage": coverage,
        "unexported": [p for p in readable if p not in exported],
        "exports_by_platform": sorted((coverage.get("files_by_platform") or {}).items()),
        "trend": context.trend or {}, "resolved": resolved,
        "sections": sections, "quiet_staff": quiet, "log_head": context.log_head,
        "staff_name": lambda ref: people.get(ref, {}).get("name"),
        "person_name": lambda ref: people.get(ref, {}).get("name"),
    }


def render_html(context: ReportContext) -> str:
    return render("report.html", **build_view(context))


@report_writers.register("html")
def write_html(context: ReportContext, out: Path | None, options: dict) -> str | None:
    text = render_html(context)
    if out is None:
        return text
    out.write_text(text, encoding="utf-8")
    return None
