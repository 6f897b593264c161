"""What every report writer receives: one audit, loaded from the database, with the names a
DSL's report shows. Writers (JSON, CSV, HTML, letters, governor summary) are registered in
``auditor.registry.report_writers`` and never query the database themselves."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from auditor.db import Database
from auditor.errors import NotFound
from auditor.gcpause import cyclic_gc_paused
from auditor.models import (
    Account,
    AuditLog,
    AuditRun,
    Finding,
    ImportedFile,
    MatchCandidate,
    Person,
    PupilContact,
    Role,
    School,
)
from auditor.models import (
    Connection as ConnectionRow,
)
from auditor.registry import report_writers


@dataclass
class ReportContext:
    audit: dict
    findings: list[dict]
    summary: dict
    trend: dict
    people: dict[str, dict] = field(default_factory=dict)  # ref -> {name, kind, role, school}
    coverage: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    ego: dict[str, dict] = field(default_factory=dict)  # staff_ref -> {by_platform, flagged_accounts, links}
    previous: dict[str, dict] = field(default_factory=dict)  # key -> {id, status} in the compared audit
    resolved: list[dict] = field(default_factory=list)  # findings of the compared audit not found again
    exports: dict[str, list[dict]] = field(default_factory=dict)  # staff_ref -> files given
    log_head: dict = field(default_factory=dict)  # {entries, hash} of the audit log when loaded

    def findings_for(self, staff_ref: str) -> list[dict]:
        return [f for f in self.findings if f["staff_ref"] == staff_ref]

    def trend_of(self, finding: dict) -> str | None:
        """'new' or 'unchanged' against the compared audit; None when there is none."""
        if self.audit.get("previous_id") is None:
            return None
        return "unchanged" if finding["key"] in self.previous else "new"


_FINDING_FIELDS = ("person_role", "rule", "clause", "severity", "status", "confidence", "platform", "relationship")


def _finding_document(finding_id: int, key: str, staff_ref: str, person_ref: str | None, fields, account: dict,
                      source: dict, connected_at: str | None, explanation, detail) -> dict:
    """The one place the contract's keys are written, in their order (the JSON report's bytes
    depend on it)."""
    return {"id": finding_id, "key": key, "staff_ref": staff_ref, "person_ref": person_ref,
            **{name: fields[name] for name in _FINDING_FIELDS}, "account": account, "source": source,
            "connected_at": connected_at, "explanation": explanation or [], "detail": detail or {}}


def finding_as_json(row, staff_ref: str, person_ref: str | None) -> dict:
    """One finding in the DESIGN.md contract shape (plus id, key and detail)."""
    return _finding_document(
        row.id, row.key, staff_ref, person_ref, row._mapping,
        {"display_name": row.display_name, "username": row.username, "profile_url": row.profile_url},
        {"file_sha256": row.file_sha256, "member": row.member},
        row.connected_at.isoformat() if row.connected_at else None, row.explanation, row.detail)


def latest_audit_id(db: Database) -> int:
    table = AuditRun.__table__
    with db.engine.connect() as conn:
        found = conn.execute(sa.select(table.c.id).where(table.c.status == "done").order_by(table.c.id.desc())
                             .limit(1)).scalar()
    if found is None:
        raise NotFound("no audit has been run yet", hint="run: auditor audit")
    return found


def findings_from_result(result) -> list[dict]:
    """An audit's findings as ``finding_as_json`` reads them back from the database, made from
    the ``AuditResult`` that just stored them (whose values are those the database returns:
    the re-audit tests compare the two), so a report written straight after an audit need not
    read them again."""
    ids = result.finding_ids
    return [_finding_document(ids[f["key"]], f["key"], f["staff_ref"], f["person_ref"], f, dict(f["account"]),
                              dict(f["source"]), f["connected_at"], f["explanation"], f["detail"])
            for f in result.findings]


def load_report(db: Database, audit_id: int | None = None, whole: bool = True,
                findings: list[dict] | None = None) -> ReportContext:
    """One audit with everything a report shows. ``whole=False`` loads only the audit, its
    summary and its findings (what the JSON writer reads): the people, coverage, history,
    pictures, comparison and exports are left empty. ``findings`` (with ``whole=False``): the
    audit's findings already in hand (``findings_from_result``), not read again."""
    audit_id = audit_id or latest_audit_id(db)
    runs, table, people = AuditRun.__table__, Finding.__table__, Person.__table__
    history: list[dict] = []
    ego: dict[str, dict] = {}
    previous: dict[str, dict] = {}
    resolved: list[dict] = []
    exports: dict[str, list[dict]] = {}
    log_head: dict = {}
    coverage: dict = {}
    roles: dict[int, list] = defaultdict(list)
    schools: dict = {}
    with db.engine.connect() as conn:
        run = conn.execute(sa.select(runs).where(runs.c.id == audit_id)).first()
        if run is None or run.status != "done":
            raise NotFound(f"no completed audit {audit_id}")
        if findings is not None and not whole:
            refs, items = {}, findings
        else:
            refs = {r.id: r for r in conn.execute(sa.select(*(people.c if whole else (people.c.id, people.c.ref))))}
            rows = list(conn.execute(sa.select(table).where(table.c.audit_id == audit_id).order_by(table.c.id)))
            items = [finding_as_json(r, refs[r.staff_id].ref, refs[r.person_id].ref if r.person_id else None)
                     for r in rows]
        if whole:
            for r in conn.execute(sa.select(Role.__table__)):
                roles[r.person_id].append(r)
            schools = {r.id: r for r in conn.execute(sa.select(School.__table__))}
            recorded = (run.summary or {}).get("coverage")
            coverage = _coverage(conn, refs, recorded if isinstance(recorded, dict) else {})
            history = _history(conn, refs)
            ego = _ego(conn, refs, {f["account"]["display_name"] for f in items}, rows)
            previous, resolved = _compared(conn, refs, run.previous_id, {f["key"] for f in items})
            exports = _exports(conn, refs)
            log_head = _log_head(conn)
    from auditor.policy import load_policy

    try:
        policy = load_policy(run.policy_name)
        policy_info = {"name": policy.name, "version": policy.version, "title": policy.title,
                       "summary": policy.summary, "no_connection_rule": policy.no_connection_rule}
    except NotFound:
        policy_info = {"name": run.policy_name, "version": run.policy_version, "title": run.policy_name,
                       "summary": "", "no_connection_rule": False}
    involved = {f["staff_ref"] for f in items + resolved} | {f["person_ref"] for f in items + resolved if f["person_ref"]}
    involved |= {ref for f in items for ref in (f["detail"] or {}).get("alternatives") or ()}
    involved |= {h["person_ref"] for h in history}
    involved |= {p.ref for p in refs.values() if whole and p.kind == "staff"}
    people_info = {}
    for p in refs.values() if whole else ():
        if p.ref not in involved:
            continue
        school_ids = {r.school_id for r in roles[p.id] if r.school_id}
        people_info[p.ref] = {
            "name": " ".join(x for x in (p.preferred_forename or p.legal_forename, p.legal_surname) if x),
            "kind": p.kind, "school": ", ".join(sorted(schools[s].name or schools[s].ref for s in school_ids)),
            "job_title": next((r.job_title for r in roles[p.id] if r.job_title), None),
        }
    audit = {"id": run.id, "as_of": run.as_of.isoformat(), "created_at": run.created_at.isoformat(),
             "policy": policy_info, "tool_version": run.tool_version, "roster_version": run.roster_version,
             "previous_id": run.previous_id}
    summary = dict(run.summary or {})
    # Counts the audit took before minimisation forgot unmatched contacts win over a recount now.
    recorded = summary.get("coverage") if isinstance(summary.get("coverage"), dict) else {}
    coverage.update({k: recorded[k] for k in ("unresolved_ids", "nameless_contacts") if k in recorded})
    return ReportContext(audit, items, summary, summary.get("trend", {}), people_info, coverage, history, ego,
                         previous, resolved, exports, log_head)


def _coverage(conn, refs, recorded: dict) -> dict:
    """What the audit cannot see: staff with no export, platforms missing, unresolved ids,
    contacts with no usable name (counted again only if the audit did not record them)."""
    files = ImportedFile.__table__
    with_exports = {r[0] for r in conn.execute(sa.select(files.c.staff_id).distinct().where(files.c.kind != "roster"))}
    staff = [p for p in refs.values() if p.kind == "staff"]
    platforms: dict[str, int] = defaultdict(int)
    for (platform,) in conn.execute(sa.select(files.c.platform).where(files.c.staff_id.is_not(None))):
        for p in (platform or "").split(","):
            if p:
                platforms[p] += 1
    from auditor.audit import coverage_counts

    counted = ("unresolved_ids", "nameless_contacts")
    return {
        "staff_total": len(staff), "staff_with_exports": len(with_exports & {p.id for p in staff}),
        "staff_without_exports": sorted(p.ref for p in staff if p.id not in with_exports),
        "files_by_platform": dict(sorted(platforms.items())),
        **({k: recorded[k] for k in counted} if set(counted) <= recorded.keys() else coverage_counts(conn)),
    }


def _history(conn, refs) -> list[dict]:
    """Removed, blocked and rejected connections with roster people: context, never findings."""
    conns, cands, accounts = ConnectionRow.__table__, MatchCandidate.__table__, Account.__table__
    rows = conn.execute(
        sa.select(conns.c.staff_id, conns.c.kind, accounts.c.platform, accounts.c.display_name, accounts.c.username,
                  cands.c.person_id, cands.c.band)
        .join(accounts, accounts.c.id == conns.c.account_id).join(cands, cands.c.account_id == conns.c.account_id)
        .where(conns.c.kind.in_(["removed", "blocked", "rejected", "muted", "restricted"]),
               cands.c.band.in_(["probable", "needs_review"])))
    out = []
    for r in rows:
        person = refs.get(r.person_id)
        if person is None or person.kind == "staff":
            continue
        out.append({"staff_ref": refs[r.staff_id].ref, "kind": r.kind, "platform": r.platform,
                    "display_name": r.display_name, "username": r.username, "person_ref": person.ref,
                    "band": r.band})
    return out


def _ego(conn, refs, _names, finding_rows) -> dict:
    """Per member of staff: accounts by platform and which are flagged (for the picture)."""
    conns, accounts = ConnectionRow.__table__, Account.__table__
    flagged: dict[int, set[int]] = defaultdict(set)
    for f in finding_rows:
        if f.account_id:
            flagged[f.staff_id].add(f.account_id)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for r in conn.execute(sa.select(conns.c.staff_id, accounts.c.platform, sa.func.count(sa.distinct(conns.c.account_id)))
                          .join(accounts, accounts.c.id == conns.c.account_id)
                          .group_by(conns.c.staff_id, accounts.c.platform)):
        counts[r[0]][r[1]] = r[2]
    # Household links between the roster people one member of staff's findings are about.
    flagged_people: dict[int, set[int]] = defaultdict(set)
    for f in finding_rows:
        if f.person_id:
            flagged_people[f.staff_id].add(f.person_id)
    everyone = set().union(*flagged_people.values()) if flagged_people else set()
    household: list[tuple[int, int, str | None]] = []
    if everyone:
        # All the links, filtered here: two IN lists of thousands of people each make the
        # database probe every pair of the two lists. In (pupil, contact) order.
        links = PupilContact.__table__
        household = sorted((a, b, rel) for a, b, rel in conn.execute(
            sa.select(links.c.pupil_id, links.c.contact_id, links.c.relationship)) if a in everyone and b in everyone)
    out = {}
    for s in counts:
        mine = flagged_people.get(s, set())
        pairs = [(refs[a].ref, refs[b].ref, rel) for a, b, rel in household if a in mine and b in mine]
        out[refs[s].ref] = {"by_platform": counts[s], "flagged_accounts": sorted(flagged.get(s, set())),
                            "links": pairs}
    return out


def _compared(conn, refs, previous_id: int | None, keys: set[str]) -> tuple[dict[str, dict], list[dict]]:
    """The compared audit's findings: statuses by key, and those not found again (resolved)."""
    if previous_id is None:
        return {}, []
    table = Finding.__table__
    previous: dict[str, dict] = {}
    gone: list[int] = []
    for fid, key, status, staff_id in conn.execute(sa.select(table.c.id, table.c.key, table.c.status, table.c.staff_id)
                                                   .where(table.c.audit_id == previous_id).order_by(table.c.id)):
        previous[key] = {"id": fid, "status": status}
        if key not in keys and staff_id in refs:
            gone.append(fid)
    resolved = []  # read whole only for the findings not found again (usually few)
    for start in range(0, len(gone), 500):
        rows = conn.execute(sa.select(table).where(table.c.id.in_(gone[start:start + 500])).order_by(table.c.id))
        resolved += [finding_as_json(r, refs[r.staff_id].ref, refs[r.person_id].ref if r.person_id else None)
                     for r in rows]
    return previous, resolved


def _exports(conn, refs) -> dict[str, list[dict]]:
    """The files each member of staff gave: platform, layout, hash, rows (for provenance)."""
    files = ImportedFile.__table__
    out: dict[str, list[dict]] = defaultdict(list)
    for r in conn.execute(sa.select(files).where(files.c.staff_id.is_not(None), files.c.kind != "roster")
                          .order_by(files.c.id)):
        if r.staff_id in refs:
            out[refs[r.staff_id].ref].append({
                "platform": r.platform, "layout": r.layout, "sha256": r.sha256, "rows": r.rows, "kind": r.kind,
                "exported_at": r.exported_at.isoformat() if r.exported_at else None,
                "purged": r.purged_at is not None})
    return dict(out)


def _log_head(conn) -> dict:
    table = AuditLog.__table__
    last = conn.execute(sa.select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)).first()
    count = conn.execute(sa.select(sa.func.count(table.c.id))).scalar() or 0
    return {"entries": count, "id": last.id if last else None, "hash": last.hash if last else None}


def _digest(text: str | None, out: Path | None, written: list[Path]) -> dict:
    """What was written, for the audit log: a hash and size per file (never the content)."""
    if text is not None:
        data = text.encode("utf-8")
        return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "to": "standard output"}
    if written:
        return {"files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(written)}}
    if out is not None and out.is_file():
        data = out.read_bytes()
        return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return {}


def generate_report(db: Database, fmt: str, out: Path | None, audit_id: int | None = None,
                    options: dict | None = None, actor: str | None = None, result=None) -> str | None:
    """Load an audit, write one report and record it in the audit log (format, audit, hashes).
    ``result``: the ``AuditResult`` of the audit just run, whose findings a findings-only
    writer (JSON) takes as they are instead of reading them back.

    Reports carry children's data out of the database, so each one written is accounted for."""
    with cyclic_gc_paused():
        return _generate_report(db, fmt, out, audit_id, options, actor, result)


def _generate_report(db: Database, fmt: str, out: Path | None, audit_id: int | None, options: dict | None,
                     actor: str | None, result) -> str | None:
    from auditor import auditlog

    writer = report_writers.get(fmt)  # an unknown format fails before anything is loaded
    findings_only = getattr(writer, "findings_only", False)
    in_hand = findings_from_result(result) if (
        findings_only and result is not None and result.audit_id == (audit_id or result.audit_id)) else None
    context = load_report(db, audit_id or (result.audit_id if result is not None else None), whole=not findings_only,
                          findings=in_hand)
    written: list[Path] = []  # writers of several files (letters) list them here
    chosen = dict(options or {})
    keys = getattr(db, "keys", None)
    if keys is not None and out is not None:
        text, out = _write_encrypted(writer, context, out, chosen, written, keys)
    else:
        text = writer(context, out, {**chosen, "written": written})
    details = {"format": fmt, "audit": context.audit["id"], **_digest(text, out, written)}
    if chosen:
        details["options"] = {k: v for k, v in chosen.items() if isinstance(v, str | int | float | bool | list)}
    with db.begin() as conn:
        auditlog.append(conn, "report", subject=f"audit {context.audit['id']}", details=details, actor=actor)
    return text


def _write_encrypted(writer, context: ReportContext, out: Path, chosen: dict, written: list[Path], keys):
    """An encrypted workspace writes encrypted report files (``.enc``; see auditor.crypto): a
    one-file report is rendered in memory and encrypted as written; a writer of several files
    (letters) is handed ``write_file``, so no clear copy ever reaches the disk."""
    from auditor.crypto import write_output

    def write_file(path: Path, data: bytes) -> Path:
        return write_output(keys, path, data)

    if getattr(writer, "many_files", False):
        return writer(context, out, {**chosen, "written": written, "write_file": write_file}), out
    text = writer(context, None, chosen)
    target = write_file(out, text.encode("utf-8"))
    written.append(target)
    return None, target


def check_audit(db: Database, audit_id: int) -> None:
    """Refuse an audit number the database does not hold (before any work is done)."""
    runs = AuditRun.__table__
    with db.engine.connect() as conn:
        found = conn.execute(sa.select(runs.c.status).where(runs.c.id == audit_id)).scalar()
    if found != "done":
        raise NotFound(f"no completed audit {audit_id}", hint="see: auditor log show --action audit")
