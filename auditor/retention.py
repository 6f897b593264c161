"""Retention and the rights of the people the tool holds data about.

``purge`` is the retention step (UK GDPR storage limitation): once an export has been through
an audit that is itself older than the retention period, the raw rows it brought in (every
contact of that member of staff, most of them adults who have nothing to do with the school)
are removed. What the school must keep to account for its decisions stays: the record of the
file (path, sha256, counts, layout, when imported, when purged), the findings of every audit,
the review decisions, the exemptions and the audit log. Accounts that no other file still
shows and that matched nobody lose every identifying field (their digest stays, so counts and
duplicates still add up); accounts matched to a roster person stay, as the evidence behind
findings. A later audit sees only what is still held, so purge after the term's audit is done.

``subject_export`` answers a subject access request: everything held about one person on the
roster (a member of staff, a pupil or a parent), as one JSON document. Other people's roster
records are not included: they appear by reference (person_ref), so the DPO can decide what to
redact before release; the connections listed for a member of staff are their own export's
contents, with the names their contacts gave their accounts.

Both are recorded in the audit log; neither reads the clock (``now`` is passed in).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor import auditlog
from auditor.db import Database
from auditor.errors import InputError, NotFound
from auditor.models import (
    Account,
    AuditLog,
    AuditRun,
    ContactPoint,
    Exemption,
    Finding,
    ImportedFile,
    MatchCandidate,
    Person,
    PupilContact,
    ReviewDecision,
    Role,
    School,
    StaffAccount,
)
from auditor.models import Connection as ConnectionRow
from auditor.version import __version__

CHUNK = 500
PURGED_KINDS = ("export", "fetch")
IDENTITY_CLEARED = {"username": None, "display_name": None, "display_name_raw": None, "profile_url": None,
                    "platform_id": None, "phones": None, "emails": None, "purged": True}


def parse_period(text: str) -> timedelta:
    """'30d', '4w' or '30' (days) as a period; anything else is refused in one line."""
    found = re.fullmatch(r"\s*(\d{1,5})\s*([dw]?)\s*", str(text).lower())
    if not found:
        raise InputError(f"--older-than {text!r} is not a period: write days or weeks, e.g. 30d or 6w")
    number, unit = int(found.group(1)), found.group(2) or "d"
    return timedelta(days=number * (7 if unit == "w" else 1))


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- purge ---------------------------------------------------------------------------------
@dataclass
class PurgeResult:
    cutoff: datetime
    dry_run: bool
    files: int = 0
    connections: int = 0
    accounts_cleared: int = 0
    not_yet_due: int = 0  # files imported or audited too recently, or never audited: kept whole
    already_purged: int = 0
    file_hashes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["cutoff"] = self.cutoff.isoformat()
        return data


def _due_files(conn: Connection, cutoff: datetime) -> tuple[list, int, int]:
    """Files whose rows are due for removal: not purged yet, and covered by a completed audit
    (one run after the import) that was itself run on or before the cutoff."""
    files, runs = ImportedFile.__table__, AuditRun.__table__
    audits = [r[0] for r in conn.execute(sa.select(runs.c.created_at).where(runs.c.status == "done"))]
    due, waiting, done = [], 0, 0
    for row in conn.execute(sa.select(files.c.id, files.c.sha256, files.c.imported_at, files.c.purged_at)
                            .where(files.c.kind.in_(PURGED_KINDS)).order_by(files.c.id)):
        if row.purged_at is not None:
            done += 1
        elif any(_aware(row.imported_at) <= _aware(at) <= cutoff for at in audits):
            due.append(row)
        else:
            waiting += 1
    return due, waiting, done


def _aware(moment: datetime) -> datetime:
    """Stored datetimes are UTC; SQLite hands them back naive."""
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def purge(db: Database, older_than: timedelta, now: datetime, dry_run: bool = False,
          actor: str | None = None) -> PurgeResult:
    """Remove the contact rows of exports audited more than ``older_than`` before ``now``.

    One transaction: an interrupted purge removes nothing, and a second run finds the same work.
    """
    cutoff = _aware(now) - older_than
    result = PurgeResult(cutoff=cutoff, dry_run=dry_run)
    files, conns, accounts = ImportedFile.__table__, ConnectionRow.__table__, Account.__table__
    cands, findings = MatchCandidate.__table__, Finding.__table__
    with db.begin() as conn:
        due, result.not_yet_due, result.already_purged = _due_files(conn, cutoff)
        file_ids = [r.id for r in due]
        result.files = len(due)
        result.file_hashes = [r.sha256 for r in due]
        touched: set[int] = set()
        for chunk in _chunks(file_ids):
            where = conns.c.file_id.in_(chunk)
            touched.update(r[0] for r in conn.execute(sa.select(conns.c.account_id).distinct().where(where)))
            result.connections += conn.execute(sa.select(sa.func.count()).select_from(conns).where(where)).scalar_one()
            if not dry_run:
                conn.execute(conns.delete().where(where))
        # Accounts these files brought in that nothing else still shows, that matched nobody and
        # that no finding cites: their identifying fields go.
        clear: list[int] = []
        for chunk in _chunks(sorted(touched)):
            still_shown = {r[0] for r in conn.execute(sa.select(conns.c.account_id).distinct().where(
                conns.c.account_id.in_(chunk), conns.c.file_id.not_in(file_ids) if file_ids else sa.true()))}
            matched = {r[0] for r in conn.execute(sa.select(cands.c.account_id).distinct().where(
                cands.c.account_id.in_(chunk), cands.c.band != "no_link"))}
            cited = {r[0] for r in conn.execute(sa.select(findings.c.account_id).distinct().where(
                findings.c.account_id.in_(chunk)))}
            clear += [a for a in chunk if a not in still_shown | matched | cited]
        for chunk in _chunks(clear):
            pending = accounts.c.id.in_(chunk)
            result.accounts_cleared += conn.execute(sa.select(sa.func.count()).select_from(accounts).where(
                pending, accounts.c.purged.is_(False))).scalar_one()
            if not dry_run:
                conn.execute(cands.delete().where(cands.c.account_id.in_(chunk)))
                conn.execute(accounts.update().where(pending).values(**IDENTITY_CLEARED))
        if not dry_run and file_ids:
            for chunk in _chunks(file_ids):
                conn.execute(files.update().where(files.c.id.in_(chunk)).values(purged_at=_aware(now)))
            auditlog.append(conn, "purge", subject="exports", actor=actor, details={
                "older_than_days": older_than.days, "cutoff": cutoff.isoformat(), "files": result.files,
                "connections": result.connections, "accounts_cleared": result.accounts_cleared,
                "sha256": result.file_hashes})
    return result


# -- subject access ------------------------------------------------------------------------
def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(row, drop: tuple[str, ...] = ("id",)) -> dict:
    return {k: _plain(v) for k, v in row._mapping.items() if k not in drop}


def _mentions(value, refs: set[str]) -> bool:
    """True if ``value`` (an audit-log subject or details) names one of ``refs`` exactly."""
    if isinstance(value, str):
        prefix, _, rest = value.partition(" ")
        return value in refs or (prefix in ("finding", "staff") and rest in refs)
    if isinstance(value, dict):
        return any(_mentions(v, refs) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, refs) for v in value)
    return False


def subject_export(db: Database, ref: str, now: datetime) -> dict:
    """Everything held about the roster person ``ref`` (see the module docstring)."""
    people, roles, points, links = Person.__table__, Role.__table__, ContactPoint.__table__, PupilContact.__table__
    files, conns, accounts = ImportedFile.__table__, ConnectionRow.__table__, Account.__table__
    findings, runs, decisions = Finding.__table__, AuditRun.__table__, ReviewDecision.__table__
    with db.engine.connect() as conn:
        person = conn.execute(sa.select(people).where(people.c.ref == ref)).first()
        if person is None:
            raise NotFound(f"nobody with reference {ref!r} is on the roster")
        pid = person.id
        refs = {r.id: r.ref for r in conn.execute(sa.select(people.c.id, people.c.ref))}
        schools = {r.id: r.ref for r in conn.execute(sa.select(School.__table__.c.id, School.__table__.c.ref))}
        doc: dict = {
            "subject_access_export": {"ref": ref, "generated_at": _aware(now).isoformat(), "tool_version": __version__,
                                      "note": "other people appear by reference; connections as the export named them"},
            "person": _row(person),
            "roles": [{**_row(r, ("id", "person_id", "school_id")), "school": schools.get(r.school_id)}
                      for r in conn.execute(sa.select(roles).where(roles.c.person_id == pid).order_by(roles.c.id))],
            "contact_points": [{"kind": r.kind, "value": r.value} for r in conn.execute(
                sa.select(points).where(points.c.person_id == pid).order_by(points.c.id))],
            "links": [{"pupil_ref": refs.get(r.pupil_id), "contact_ref": refs.get(r.contact_id),
                       **_row(r, ("id", "pupil_id", "contact_id"))} for r in conn.execute(
                sa.select(links).where(sa.or_(links.c.pupil_id == pid, links.c.contact_id == pid)).order_by(links.c.id))],
            "accounts": [_row(r, ("id", "staff_id")) for r in conn.execute(
                sa.select(StaffAccount.__table__).where(StaffAccount.__table__.c.staff_id == pid)
                .order_by(StaffAccount.__table__.c.id))],
            "files": [_row(r, ("staff_id", "run_id")) for r in conn.execute(
                sa.select(files).where(files.c.staff_id == pid).order_by(files.c.id))],
        }
        held = conn.execute(
            sa.select(conns.c.file_id, conns.c.kind, conns.c.direction, conns.c.connected_at, conns.c.member,
                      accounts.c.platform, accounts.c.display_name, accounts.c.username, accounts.c.profile_url,
                      accounts.c.platform_id, accounts.c.purged)
            .join(accounts, accounts.c.id == conns.c.account_id).where(conns.c.staff_id == pid).order_by(conns.c.id))
        doc["connections"] = [{
            "file_id": r.file_id, "platform": r.platform, "kind": r.kind, "direction": r.direction,
            "connected_at": _plain(r.connected_at), "member": r.member,
            "account": {"display_name": r.display_name, "username": r.username, "profile_url": r.profile_url,
                        "platform_id": r.platform_id, "details_removed": bool(r.purged)}} for r in held]
        audits = {r.id: r for r in conn.execute(sa.select(runs.c.id, runs.c.as_of, runs.c.policy_name,
                                                          runs.c.policy_version))}
        found = list(conn.execute(sa.select(findings).where(sa.or_(findings.c.staff_id == pid, findings.c.person_id == pid))
                                  .order_by(findings.c.audit_id, findings.c.id)))
        doc["findings"] = [{
            "audit": r.audit_id, "as_of": _plain(audits[r.audit_id].as_of) if r.audit_id in audits else None,
            "policy": f"{audits[r.audit_id].policy_name} {audits[r.audit_id].policy_version}" if r.audit_id in audits else None,
            "as": "member of staff" if r.staff_id == pid else "person found", "finding": r.id, "key": r.key,
            "staff_ref": refs.get(r.staff_id), "person_ref": refs.get(r.person_id), "person_role": r.person_role,
            "rule": r.rule, "clause": r.clause, "severity": r.severity, "status": r.status, "confidence": r.confidence,
            "platform": r.platform, "relationship": r.relationship,
            "account": {"display_name": r.display_name, "username": r.username, "profile_url": r.profile_url},
            "source": {"file_sha256": r.file_sha256, "member": r.member}, "connected_at": _plain(r.connected_at),
            "explanation": r.explanation, "detail": r.detail} for r in found]
        keys = sorted({r.key for r in found})
        doc["decisions"] = []
        for chunk in _chunks(keys):
            doc["decisions"] += [_row(r) for r in conn.execute(
                sa.select(decisions).where(decisions.c.finding_key.in_(chunk)).order_by(decisions.c.id))]
        exemptions = Exemption.__table__
        doc["exemptions"] = [{"staff_ref": refs.get(r.staff_id), "person_ref": refs.get(r.person_id),
                              **_row(r, ("id", "staff_id", "person_id"))} for r in conn.execute(
            sa.select(exemptions).where(sa.or_(exemptions.c.staff_id == pid, exemptions.c.person_id == pid))
            .order_by(exemptions.c.id))]
        cands = MatchCandidate.__table__
        doc["possible_accounts"] = [{
            "platform": r.platform, "display_name": r.display_name, "username": r.username,
            "profile_url": r.profile_url, "probability": r.probability, "band": r.band}
            for r in conn.execute(
                sa.select(accounts.c.platform, accounts.c.display_name, accounts.c.username, accounts.c.profile_url,
                          cands.c.probability, cands.c.band)
                .join(accounts, accounts.c.id == cands.c.account_id)
                .where(cands.c.person_id == pid, cands.c.band != "no_link").order_by(cands.c.id))]
        names = {ref} | set(keys)
        log = AuditLog.__table__
        doc["audit_log"] = [
            {"id": r.id, "at": _plain(r.at), "actor": r.actor, "action": r.action, "subject": r.subject,
             "details": r.details, "hash": r.hash}
            for r in conn.execute(sa.select(log).order_by(log.c.id)) if _mentions([r.subject, r.details], names)]
    doc["counts"] = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
    return doc


def subject_export_bytes(doc: dict) -> bytes:
    return (json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def record_subject_export(db: Database, ref: str, data: bytes, to: str, actor: str | None = None) -> None:
    """The export carries personal data out of the database: log who took it, and its hash."""
    with db.begin() as conn:
        auditlog.append(conn, "subject export", subject=ref, actor=actor, details={
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "to": to})
