"""The append-only, hash-chained audit log.

Each entry's hash covers its own content and the previous entry's hash, so editing, deleting
or reordering any entry breaks the chain from that point on; ``verify`` finds the first break.
Entries hold references (staff ids, finding ids, file hashes), never names.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor.db import utcnow
from auditor.models import AuditLog

GENESIS = "0" * 64
_table = AuditLog.__table__


def current_actor() -> str:
    """Who is acting: ``AUDITOR_USER`` if set, else the operating-system user."""
    name = os.environ.get("AUDITOR_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, subject: str | None, details) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), actor, action, subject, details],
        sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(conn: Connection, action: str, subject: str | None = None, details=None, actor: str | None = None) -> str:
    """Add one entry inside the caller's transaction (so it commits with the work it records)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7391)"))
    last = conn.execute(sa.select(_table.c.hash).order_by(_table.c.id.desc()).limit(1)).first()
    prev = last[0] if last else GENESIS
    at = utcnow()
    actor = actor or current_actor()
    details = json.loads(json.dumps(details, default=str)) if details is not None else None
    digest = entry_hash(prev, at, actor, action, subject, details)
    conn.execute(
        _table.insert().values(at=at, actor=actor, action=action, subject=subject, details=details,
                               prev_hash=prev, hash=digest)
    )
    return digest


@dataclass
class Verification:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    reason: str | None = None


def verify(conn: Connection) -> Verification:
    prev = GENESIS
    count = 0
    for row in conn.execute(sa.select(_table).order_by(_table.c.id)):
        count += 1
        if row.prev_hash != prev:
            return Verification(count, False, row.id, "an entry before it was changed or removed")
        expected = entry_hash(prev, row.at, row.actor, row.action, row.subject, row.details)
        if expected != row.hash:
            return Verification(count, False, row.id, "its content was changed")
        prev = row.hash
    return Verification(count, True)
