"""Findings as CSV for Excel: UTF-8 with a byte-order mark (so Excel reads accents and emoji),
CRLF line ends, one row per finding, and these fixed columns in this order:

====================  ==========================================================================
column                meaning
====================  ==========================================================================
audit_id              the audit the finding belongs to
finding_id            the finding's id (``auditor review show FINDING_ID``)
finding_key           stable key: the same staff, person, account and connection kind in every audit
staff_ref             staff_id of the member of staff
staff_name            their name on the staff list
staff_school          their school(s)
person_ref            pupil_id or contact_id of the roster person the account may be
person_name           that person's name on the roster
person_role           pupil, past_pupil, parent_carer …
rule                  the policy rule's id
clause                the clause of the policy it quotes
severity              breach, report or advisory
status                needs_review, probable, confirmed, dismissed or excepted
name_only             yes when nothing but the name supports the match
confidence            0–1, from the match weight
platform              facebook, instagram, snapchat …
relationship          connection kind: friend, follower, following, request_sent, contact …
connected_at          when the connection was made (ISO 8601, UTC), if the export says
display_name          the account's display name as the export gives it
username              the account's handle
profile_url           the account's profile address (text, never a live link)
evidence              each comparison as "comparison: level (weight)", separated by " | "
decision              the DSL's decision: who, when (UTC) and why
exemption             the exemption applied: relationship, approver, review date
export_sha256         SHA-256 of the export file the connection was read from
export_member         the file inside the export (zip member path)
====================  ==========================================================================

Formula injection is neutralised: a text cell beginning with ``=``, ``+``, ``-``, ``@``, tab or
carriage return gets a leading apostrophe; direction controls are written as ``[U+202E]``;
cells are cut at 1,000 characters (the JSON report keeps everything whole).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from auditor.registry import report_writers
from auditor.reporting import ReportContext
from auditor.reports.display import csv_cell
from auditor.review import is_name_only

COLUMNS = (
    "audit_id", "finding_id", "finding_key", "staff_ref", "staff_name", "staff_school", "person_ref", "person_name",
    "person_role", "rule", "clause", "severity", "status", "name_only", "confidence", "platform", "relationship",
    "connected_at", "display_name", "username", "profile_url", "evidence", "decision", "exemption",
    "export_sha256", "export_member",
)
BOM = "\ufeff"


def _evidence(f: dict) -> str:
    return " | ".join(f"{e['comparison']}: {e.get('level', '')} ({float(e.get('weight') or 0):+.2f})"
                      for e in f.get("explanation") or [] if "comparison" in e)


def _decision(detail: dict) -> str:
    d = detail.get("decision")
    if d:
        return f"{d.get('by')} at {d.get('at')}: {d.get('reason')}"
    if detail.get("decision_lapsed"):
        return f"earlier decision lapsed: {detail['decision_lapsed']}"
    return ""


def _exemption(detail: dict) -> str:
    e = detail.get("exemption")
    if e:
        return f"{e.get('relationship')}, approved by {e.get('approved_by')}, review {e.get('review_date')}"
    if detail.get("exemption_refused"):
        return f"refused: {detail['exemption_refused']}"
    if detail.get("exemption_lapsed"):
        return f"lapsed {detail['exemption_lapsed']}"
    return ""


def finding_row(context: ReportContext, f: dict) -> list:
    staff = context.people.get(f["staff_ref"], {})
    person = context.people.get(f["person_ref"] or "", {})
    detail = f.get("detail") or {}
    values = {
        "audit_id": context.audit["id"], "finding_id": f["id"], "finding_key": f["key"], "staff_ref": f["staff_ref"],
        "staff_name": staff.get("name"), "staff_school": staff.get("school"), "person_ref": f["person_ref"],
        "person_name": person.get("name"), "person_role": f["person_role"], "rule": f["rule"], "clause": f["clause"],
        "severity": f["severity"], "status": f["status"], "name_only": is_name_only(f.get("explanation") or []),
        "confidence": f["confidence"], "platform": f["platform"], "relationship": f["relationship"],
        "connected_at": f.get("connected_at"), "display_name": f["account"].get("display_name"),
        "username": f["account"].get("username"), "profile_url": f["account"].get("profile_url"),
        "evidence": _evidence(f), "decision": _decision(detail), "exemption": _exemption(detail),
        "export_sha256": f["source"].get("file_sha256"), "export_member": f["source"].get("member"),
    }
    return [csv_cell(values[c]) for c in COLUMNS]


def render_csv(context: ReportContext) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for f in context.findings:
        writer.writerow(finding_row(context, f))
    return BOM + buffer.getvalue()


@report_writers.register("csv")
def write_csv(context: ReportContext, out: Path | None, options: dict) -> str | None:
    text = render_csv(context)
    if out is None:
        return text
    out.write_bytes(text.encode("utf-8"))
    return None
