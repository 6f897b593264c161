"""The exemptions register: declared relationships (own child, niece ...) approved by someone,
with a review date after which the exemption lapses and the finding returns."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from auditor import auditlog
from auditor.connector import decode_text
from auditor.db import Database, utcnow
from auditor.errors import ConfigError, InputError, NotFound
from auditor.models import Exemption, Person

COLUMNS = ("staff_ref", "person_ref", "relationship", "approved_by", "review_date")


@dataclass
class ExemptionRow:
    staff_ref: str
    person_ref: str
    relationship: str
    approved_by: str
    review_date: date
    reason: str | None = None


def read_exemptions(path: Path) -> list[ExemptionRow]:
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    headings = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in headings]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    rows, problems = [], []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        empty = [c for c in COLUMNS if not row.get(c)]
        if empty:
            problems.append(f"row {number}: {', '.join(empty)} empty")
            continue
        try:
            review = date.fromisoformat(row["review_date"])
        except ValueError:
            problems.append(f"row {number}: review_date {row['review_date']!r} is not YYYY-MM-DD")
            continue
        rows.append(ExemptionRow(row["staff_ref"], row["person_ref"], row["relationship"], row["approved_by"],
                                 review, row.get("reason") or None))
    if problems:
        raise ConfigError(problems, source=str(path))
    return rows


def add_exemptions(db: Database, rows: list[ExemptionRow], policy=None,
                   warnings: list[str] | None = None) -> int:
    """Add exemptions in one transaction; every unknown reference is reported at once and
    nothing is written. A relationship the policy in force does not allow is kept in the
    register (it is a fact the DSL recorded) with a warning: audits under that policy do not
    apply it, and the finding says why."""
    people = Person.__table__
    with db.begin() as conn:
        ids = {r.ref: (r.id, r.kind) for r in conn.execute(sa.select(people.c.id, people.c.ref, people.c.kind))}
        problems = []
        for i, row in enumerate(rows, start=1):
            staff = ids.get(row.staff_ref)
            person = ids.get(row.person_ref)
            if staff is None or staff[1] != "staff":
                problems.append(f"entry {i}: staff {row.staff_ref} is not on the staff list")
            if person is None:
                problems.append(f"entry {i}: person {row.person_ref} is not on the roster")
            if policy is not None and not policy.allows_exemption(row.relationship) and warnings is not None:
                allowed = policy.exemptions_allowed
                warnings.append(f"entry {i}: {policy.name} does not allow exempting a {row.relationship!r}"
                                f" (allowed: {', '.join(allowed) if isinstance(allowed, list) else allowed});"
                                " kept in the register, not applied under this policy")
        if problems:
            raise ConfigError(problems, source="exemptions")
        table = Exemption.__table__
        added = 0
        for row in rows:
            staff_id, person_id = ids[row.staff_ref][0], ids[row.person_ref][0]
            exists = conn.execute(sa.select(table.c.id).where(
                table.c.staff_id == staff_id, table.c.person_id == person_id,
                table.c.relationship == row.relationship, table.c.review_date == row.review_date,
                table.c.expired_at.is_(None))).first()
            if exists:
                continue
            conn.execute(table.insert().values(
                staff_id=staff_id, person_id=person_id, relationship=row.relationship,
                approved_by=row.approved_by, reason=row.reason, review_date=row.review_date, created_at=utcnow()))
            added += 1
        auditlog.append(conn, "exemptions add", details={"added": added, "given": len(rows)})
    return added


def list_exemptions(db: Database, as_of: date) -> list[dict]:
    table, people = Exemption.__table__, Person.__table__
    staff = people.alias("staff")
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(table, staff.c.ref.label("staff_ref"), people.c.ref.label("person_ref"))
                            .join(staff, staff.c.id == table.c.staff_id).join(people, people.c.id == table.c.person_id)
                            .order_by(table.c.id))
        return [{
            "id": r.id, "staff_ref": r.staff_ref, "person_ref": r.person_ref, "relationship": r.relationship,
            "approved_by": r.approved_by, "reason": r.reason, "review_date": r.review_date.isoformat(),
            "state": "expired" if r.expired_at else ("active" if r.review_date >= as_of else "lapsed"),
        } for r in rows]


def expire_exemption(db: Database, exemption_id: int, reason: str) -> None:
    table = Exemption.__table__
    with db.begin() as conn:
        found = conn.execute(sa.select(table.c.id).where(table.c.id == exemption_id)).first()
        if not found:
            raise NotFound(f"no exemption {exemption_id}")
        conn.execute(table.update().where(table.c.id == exemption_id).values(expired_at=utcnow()))
        auditlog.append(conn, "exemption expire", subject=f"exemption {exemption_id}", details={"reason": reason})
