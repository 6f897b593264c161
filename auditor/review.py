"""The DSL's review: list and show findings, decide on them one at a time or in bulk, and read
or verify the audit log.

A decision is a ``ReviewDecision`` row keyed by the finding's stable ``key`` and carrying the
``evidence_fingerprint`` it was made on; ``run_audit`` applies it to the same finding in every
later audit while the evidence is unchanged, and lets it lapse (the finding reopens) when new
evidence about that contact appears. Each decision also updates the finding in the latest
audit and appends an audit-log entry with who, when and why.

The bulk path takes only open findings and never confirms a name-only match: confirming that a
stranger's account is a child on the strength of a name alone needs a person looking at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor import auditlog
from auditor.db import Database, utcnow
from auditor.errors import InputError, NotFound
from auditor.models import AuditLog, Finding, Person, ReviewDecision

OPEN_STATUSES = ("needs_review", "probable")
VERBS = {"confirm": "confirmed", "dismiss": "dismissed", "exempt": "excepted"}
BULK_VERBS = ("confirm", "dismiss")
# Evidence that does not come from the name: a contact detail held by the school, a year that
# agrees with the date of birth, or a connection to the same household.
INDEPENDENT_EVIDENCE = frozenset({"phone", "e-mail", "birth year", "household"})
REASON_LIMIT = 2000
_KEY = re.compile(r"[0-9a-f]{6,64}")


def is_name_only(explanation: list[dict]) -> bool:
    """True when nothing but the name (and context such as the school) supports the match.

    >>> is_name_only([{"comparison": "forename", "weight": 4}, {"comparison": "surname", "weight": 3}])
    True
    >>> is_name_only([{"comparison": "forename", "weight": 4}, {"comparison": "phone", "weight": 17.8}])
    False
    """
    return not any(e.get("comparison") in INDEPENDENT_EVIDENCE and (e.get("weight") or 0) > 0 for e in explanation)


def _reason(text: str | None) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise InputError("a decision needs a reason (--reason TEXT): it is kept with the decision and in the audit log")
    if len(reason) > REASON_LIMIT:
        raise InputError(f"the reason is {len(reason):,} characters; keep it under {REASON_LIMIT:,}")
    return reason


def latest_audit(conn: Connection) -> int:
    from auditor.models import AuditRun

    runs = AuditRun.__table__
    found = conn.execute(sa.select(runs.c.id).where(runs.c.status == "done").order_by(runs.c.id.desc()).limit(1)).scalar()
    if found is None:
        raise NotFound("no audit has been run yet", hint="run: auditor audit")
    return found


def _refs(conn: Connection) -> dict[int, str]:
    people = Person.__table__
    return {r.id: r.ref for r in conn.execute(sa.select(people.c.id, people.c.ref))}


def _as_dict(row, refs: dict[int, str]) -> dict:
    from auditor.reporting import finding_as_json

    item = finding_as_json(row, refs.get(row.staff_id, "?"), refs.get(row.person_id) if row.person_id else None)
    item["audit_id"] = row.audit_id
    item["evidence_fingerprint"] = row.evidence_fingerprint
    item["name_only"] = is_name_only(item["explanation"])
    return item


def resolve_finding(conn: Connection, ref: str | int, audit_id: int | None = None):
    """The finding a user named, in the given (default: latest) audit.

    ``ref`` is a finding id (as the reports show it; an id from an earlier audit is followed to
    the same finding in this one) or a key, or the first six or more characters of one.
    """
    audit_id = audit_id or latest_audit(conn)
    table = Finding.__table__
    text = str(ref).strip().lstrip("#").lower()
    row = None
    if text.isdigit():
        by_id = conn.execute(sa.select(table).where(table.c.id == int(text))).first()
        if by_id is not None:
            if by_id.audit_id == audit_id:
                return by_id
            row = conn.execute(sa.select(table).where(table.c.audit_id == audit_id, table.c.key == by_id.key)).first()
            if row is None:
                raise NotFound(f"finding {text} (audit {by_id.audit_id}) is not in audit {audit_id}: "
                               "the connection is no longer in the exports")
            return row
    if _KEY.fullmatch(text):
        rows = list(conn.execute(sa.select(table).where(table.c.audit_id == audit_id, table.c.key.startswith(text))
                                 .limit(3)))
        if len(rows) > 1:
            raise InputError(f"finding key {text!r} is ambiguous in audit {audit_id}; give more characters")
        if rows:
            return rows[0]
    if not text.isdigit() and not _KEY.fullmatch(text):
        raise InputError(f"{ref!r} is not a finding id or key (ids are numbers, keys hexadecimal)")
    raise NotFound(f"no finding {text} in audit {audit_id}", hint="see: auditor review list")


# -- reading ---------------------------------------------------------------------------------
def list_findings(db: Database, audit_id: int | None = None, statuses: tuple[str, ...] | None = None,
                  staff_ref: str | None = None, severity: str | None = None, rule: str | None = None,
                  platform: str | None = None) -> list[dict]:
    table = Finding.__table__
    with db.engine.connect() as conn:
        audit_id = audit_id or latest_audit(conn)
        refs = _refs(conn)
        query = sa.select(table).where(table.c.audit_id == audit_id).order_by(table.c.id)
        if statuses:
            query = query.where(table.c.status.in_(statuses))
        if severity:
            query = query.where(table.c.severity == severity)
        if rule:
            query = query.where(table.c.rule == rule)
        if platform:
            query = query.where(table.c.platform == platform)
        if staff_ref:
            ids = [pid for pid, r in refs.items() if r == staff_ref]
            if not ids:
                raise NotFound(f"no member of staff {staff_ref}")
            query = query.where(table.c.staff_id.in_(ids))
        return [_as_dict(r, refs) for r in conn.execute(query)]


def show_finding(db: Database, ref: str | int, audit_id: int | None = None) -> dict:
    """One finding with its decisions and its status in every audit that found it."""
    table, decisions = Finding.__table__, ReviewDecision.__table__
    with db.engine.connect() as conn:
        row = resolve_finding(conn, ref, audit_id)
        refs = _refs(conn)
        item = _as_dict(row, refs)
        people = Person.__table__
        for key, pid in (("staff_name", row.staff_id), ("person_name", row.person_id)):
            p = conn.execute(sa.select(people).where(people.c.id == pid)).first() if pid else None
            item[key] = " ".join(x for x in (p.preferred_forename or p.legal_forename, p.legal_surname) if x) if p else None
        item["decisions"] = [{
            "decision": d.decision, "reason": d.reason, "by": d.actor, "at": d.decided_at.isoformat(),
            "applies": d.evidence_fingerprint == row.evidence_fingerprint,
        } for d in conn.execute(sa.select(decisions).where(decisions.c.finding_key == row.key).order_by(decisions.c.id))]
        item["audits"] = [{"audit": r.audit_id, "finding": r.id, "status": r.status} for r in conn.execute(
            sa.select(table.c.audit_id, table.c.id, table.c.status).where(table.c.key == row.key)
            .order_by(table.c.audit_id))]
    return item


# -- deciding --------------------------------------------------------------------------------
@dataclass
class Decided:
    finding_id: int
    key: str
    staff_ref: str
    before: str
    after: str


def _apply(conn: Connection, row, verb: str, reason: str, actor: str, refs: dict[int, str], bulk: bool = False) -> Decided:
    status = VERBS[verb]
    at = utcnow()
    conn.execute(ReviewDecision.__table__.insert().values(
        finding_key=row.key, decision=status, reason=reason, actor=actor, decided_at=at,
        evidence_fingerprint=row.evidence_fingerprint))
    detail = {k: v for k, v in (row.detail or {}).items() if k != "decision_lapsed"}
    detail["decision"] = {"by": actor, "at": at.isoformat(), "reason": reason}
    table = Finding.__table__
    conn.execute(table.update().where(table.c.id == row.id).values(status=status, detail=detail))
    staff_ref = refs.get(row.staff_id, "?")
    details = {"finding": row.id, "audit": row.audit_id, "staff": staff_ref, "person": refs.get(row.person_id),
               "from": row.status, "to": status, "reason": reason, "fingerprint": row.evidence_fingerprint}
    if bulk:
        details["bulk"] = True
    auditlog.append(conn, f"review {verb}", subject=f"finding {row.key}", details=details, actor=actor)
    return Decided(row.id, row.key, staff_ref, row.status, status)


def _check_decidable(row, verb: str) -> None:
    if (row.detail or {}).get("exemption") and row.status == "excepted":
        raise InputError(f"finding {row.id} is excepted by the exemptions register; "
                         "expire that exemption first if it no longer applies")
    if verb not in VERBS:
        raise InputError(f"unknown decision {verb!r} (decisions: {', '.join(VERBS)})")


def decide(db: Database, ref: str | int, verb: str, reason: str | None, actor: str | None = None,
           register: dict | None = None, policy=None) -> Decided:
    """Confirm, dismiss or exempt one finding of the latest audit.

    ``register`` (exempt only): {relationship, review_date, approved_by} also adds the pair to
    the exemptions register, checked against the policy's allowed relationships, so the
    exemption covers this person on every platform until its review date.
    """
    reason = _reason(reason)
    actor = actor or auditlog.current_actor()
    if register is not None:
        if verb != "exempt":
            raise InputError("a register entry goes only with an exemption")
        with db.engine.connect() as conn:
            row = resolve_finding(conn, ref)
            refs = _refs(conn)
        _check_decidable(row, verb)
        if row.person_id is None:
            raise InputError(f"finding {row.id} is not about a roster person; there is no one to register an exemption for")
        from auditor.exemptions import ExemptionRow, add_exemptions

        review_date = register["review_date"]
        if not isinstance(review_date, date):
            raise InputError("the exemption needs a review date (YYYY-MM-DD)")
        relationship = str(register.get("relationship") or "").strip()
        if policy is not None and not policy.allows_exemption(relationship):
            allowed = policy.exemptions_allowed
            raise InputError(f"{policy.name} does not allow exempting a {relationship!r} "
                             f"(allowed: {', '.join(allowed) if isinstance(allowed, list) else allowed})")
        add_exemptions(db, [ExemptionRow(refs[row.staff_id], refs[row.person_id], relationship,
                                         register.get("approved_by") or actor, review_date, reason)], policy)
    with db.begin() as conn:
        row = resolve_finding(conn, ref)
        _check_decidable(row, verb)
        return _apply(conn, row, verb, reason, actor, _refs(conn))


@dataclass
class BulkResult:
    selected: int
    decided: list[Decided] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)  # name-only matches left for one-by-one review
    dry_run: bool = False


def bulk_decide(db: Database, verb: str, reason: str | None, *, statuses: tuple[str, ...] = ("needs_review",),
                staff_ref: str | None = None, severity: str | None = None, rule: str | None = None,
                platform: str | None = None, dry_run: bool = False, actor: str | None = None) -> BulkResult:
    """Confirm or dismiss every open finding that matches the filters, in one transaction.

    Confirming skips name-only matches (they are returned in ``refused``); if every selected
    finding is name-only, nothing is done and the refusal is an error."""
    if verb not in BULK_VERBS:
        raise InputError(f"bulk review can only {' or '.join(BULK_VERBS)}; exempt findings one at a time")
    wrong = [s for s in statuses if s not in OPEN_STATUSES]
    if wrong:
        raise InputError(f"bulk review takes only open findings ({', '.join(OPEN_STATUSES)}), not {', '.join(wrong)}")
    reason = _reason(reason)
    actor = actor or auditlog.current_actor()
    chosen = list_findings(db, None, tuple(statuses), staff_ref, severity, rule, platform)
    result = BulkResult(len(chosen), dry_run=dry_run)
    todo = []
    for item in chosen:
        if verb == "confirm" and item["name_only"]:
            result.refused.append(item)
        else:
            todo.append(item)
    if chosen and not todo:
        raise InputError(f"all {len(chosen)} selected finding(s) rest on a name alone; bulk review never confirms "
                         "those: look at each and use 'auditor review confirm FINDING --reason TEXT'")
    if dry_run or not todo:
        result.decided = [Decided(i["id"], i["key"], i["staff_ref"], i["status"], VERBS[verb]) for i in todo]
        return result
    table = Finding.__table__
    with db.begin() as conn:
        refs = _refs(conn)
        for item in todo:
            row = conn.execute(sa.select(table).where(table.c.id == item["id"])).first()
            if row is None or row.status not in statuses:
                continue  # decided by someone else meanwhile
            result.decided.append(_apply(conn, row, verb, reason, actor, refs, bulk=True))
    return result


# -- the audit log ---------------------------------------------------------------------------
def log_entries(db: Database, limit: int = 50, action: str | None = None) -> list[dict]:
    """The most recent entries, oldest first."""
    table = AuditLog.__table__
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if action:
        query = query.where(table.c.action.startswith(action))
    with db.engine.connect() as conn:
        rows = list(conn.execute(query))
    return [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action, "subject": r.subject,
             "details": r.details, "hash": r.hash} for r in reversed(rows)]


@dataclass
class LogCheck:
    entries: int
    ok: bool
    head: str | None
    first_bad_id: int | None = None
    reason: str | None = None


def verify_log(db: Database, head: str | None = None) -> LogCheck:
    """Check the chain; with ``head`` (a hash noted earlier, e.g. from a printed report, at
    least 8 characters) also check that entry is still there, which catches entries removed
    from the end of the log, something the chain alone cannot show."""
    table = AuditLog.__table__
    with db.engine.connect() as conn:
        result = auditlog.verify(conn)
        last = conn.execute(sa.select(table.c.hash).order_by(table.c.id.desc()).limit(1)).scalar()
        check = LogCheck(result.entries, result.ok, last, result.first_bad_id, result.reason)
        if head is not None and check.ok:
            noted = head.strip().lower()
            if len(noted) < 8 or not re.fullmatch(r"[0-9a-f]+", noted):
                raise InputError("--head takes at least 8 hexadecimal characters of an entry's hash")
            found = conn.execute(sa.select(table.c.id).where(table.c.hash.startswith(noted))).first()
            if found is None:
                check.ok = False
                check.reason = f"no entry has the noted hash {noted[:16]}: entries were removed or rewritten since"
    return check
