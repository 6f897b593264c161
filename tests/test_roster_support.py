"""Helpers shared by the roster tests: read back what an import stored, and snapshot a whole
database to prove a refused import changed nothing."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from auditor.db import Database
from auditor.models import ContactPoint, Person, PupilContact, Role, School

ROSTER = Path(__file__).parent / "fixtures" / "roster"


def snapshot(db: Database) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    out = {}
    with db.engine.connect() as conn:
        for name in sorted(sa.inspect(conn).get_table_names()):
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            rows = conn.execute(sa.select(table)).all()
            out[name] = sorted(tuple(map(str, r)) for r in rows)
    return out


def people(db: Database) -> dict[str, dict]:
    """ref → person columns, plus 'roles' (school ref, role, dates...) and 'points'."""
    with db.engine.connect() as conn:
        schools = {r.id: r.ref for r in conn.execute(sa.select(School.__table__))}
        found = {r.ref: dict(r._mapping) for r in conn.execute(sa.select(Person.__table__))}
        by_id = {p["id"]: p for p in found.values()}
        for p in found.values():
            p["roles"], p["points"] = [], set()
        for r in conn.execute(sa.select(Role.__table__)):
            by_id[r.person_id]["roles"].append({**dict(r._mapping), "school": schools.get(r.school_id)})
        for r in conn.execute(sa.select(ContactPoint.__table__)):
            by_id[r.person_id]["points"].add((r.kind, r.value))
    return found


def links(db: Database) -> dict[tuple[str, str], dict]:
    """(pupil ref, contact ref) → link columns."""
    with db.engine.connect() as conn:
        refs = {r.id: r.ref for r in conn.execute(sa.select(Person.__table__.c.id, Person.__table__.c.ref))}
        return {(refs[r.pupil_id], refs[r.contact_id]): dict(r._mapping)
                for r in conn.execute(sa.select(PupilContact.__table__))}


def schools(db: Database) -> dict[str, dict]:
    with db.engine.connect() as conn:
        return {r.ref: dict(r._mapping) for r in conn.execute(sa.select(School.__table__))}
