"""Findings JSON: the contract of DESIGN.md (as_of, policy, tool_version, findings[...])."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.registry import report_writers
from auditor.reporting import ReportContext


def findings_document(context: ReportContext) -> dict:
    audit = context.audit
    return {
        "as_of": audit["as_of"],
        "policy": {"name": audit["policy"]["name"], "version": audit["policy"]["version"]},
        "tool_version": audit["tool_version"],
        "audit_id": audit["id"],
        "roster_version": audit["roster_version"],
        "summary": context.summary,
        "findings": context.findings,
    }


@report_writers.register("json")
def write_json(context: ReportContext, out: Path | None, options: dict) -> str | None:
    text = json.dumps(findings_document(context), indent=1, ensure_ascii=False, default=str) + "\n"
    if out is None:
        return text
    out.write_text(text, encoding="utf-8")
    return None
