"""The roster: people, their roles and links, read by roster connectors and written here.

Roster connectors turn a source (canonical CSV folder, CTF XML, OneRoster, SDS, Wonde, a
staff list) into ``RosterData``; ``apply_roster`` writes it in one transaction, updating
people in place by their source reference, so next term's roster turns leavers into past
pupils without losing anyone. People are merged only on their references, never on names.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor import auditlog
from auditor.db import Database, utcnow
from auditor.errors import ConfigError, InputError
from auditor.models import ContactPoint, Person, PupilContact, Role, School
from auditor.registry import roster_connectors
from auditor.text import normalise_email, normalise_phone


@dataclass
class RosterSchool:
    ref: str
    name: str | None = None
    urn: str | None = None
    la: str | None = None
    estab: str | None = None


@dataclass
class RosterPerson:
    ref: str
    kind: str  # pupil | contact | staff
    legal_forename: str | None = None
    legal_surname: str | None = None
    preferred_forename: str | None = None
    preferred_surname: str | None = None
    middle_names: str | None = None
    former_surname: str | None = None
    title: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    upn: str | None = None
    school_ref: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    year_group: str | None = None
    job_title: str | None = None
    leaving_reason: str | None = None
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    vulnerable: bool = False


@dataclass
class RosterLink:
    pupil_ref: str
    contact_ref: str
    relationship_raw: str | None = None
    relationship: str | None = None
    parental_responsibility: bool | None = None
    priority: int | None = None


@dataclass
class RowIssue:
    """A row-level problem: listed with file and row; ``--strict`` makes any of them fatal."""

    file: str
    row: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}" + (f" row {self.row}" if self.row is not None else "") + f": {self.message}"


@dataclass
class RosterData:
    source: str
    schools: list[RosterSchool] = field(default_factory=list)
    people: list[RosterPerson] = field(default_factory=list)
    links: list[RosterLink] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)  # (label, sha256)

    def extend(self, other: RosterData) -> None:
        self.schools.extend(other.schools)
        self.people.extend(other.people)
        self.links.extend(other.links)
        self.issues.extend(other.issues)
        self.files.extend(other.files)
        if other.source not in self.source.split("+"):
            self.source = f"{self.source}+{other.source}" if self.source else other.source


class RosterConnector:
    """Base class: ``detect`` says whether a path is this format; ``read`` returns the data."""

    name: str
    title: str

    def detect(self, path: Path) -> bool:
        raise NotImplementedError

    def read(self, path: Path, options: dict) -> RosterData:
        raise NotImplementedError


# -- relationships -------------------------------------------------------------------------
# CTF relationship codes (DfE CBDS common basic data set, contact relationship) and the words
# MIS reports use, onto one vocabulary the policy presets name.
RELATIONSHIP_CODES = {
    "PAR": "parent", "MTH": "parent", "FTH": "parent", "MOTHER": "parent", "FATHER": "parent",
    "PARENT": "parent", "MUM": "parent", "DAD": "parent",
    "STP": "step_parent", "STEPMOTHER": "step_parent", "STEPFATHER": "step_parent",
    "STEP PARENT": "step_parent", "STEP-PARENT": "step_parent", "STEP MOTHER": "step_parent",
    "STEP FATHER": "step_parent",
    "CAR": "carer", "CARER": "carer", "FOS": "foster_carer", "FOSTER CARER": "foster_carer",
    "FOSTER PARENT": "foster_carer", "GUARDIAN": "guardian", "GRD": "guardian",
    "LEGAL GUARDIAN": "guardian",
    "REL": "other_family", "RELATIVE": "other_family", "OTHER RELATIVE": "other_family",
    "GRANDMOTHER": "grandparent", "GRANDFATHER": "grandparent", "GRANDPARENT": "grandparent",
    "GPA": "grandparent",
    "AUNT": "aunt_uncle", "UNCLE": "aunt_uncle", "SIBLING": "sibling", "SIB": "sibling",
    "BROTHER": "sibling", "SISTER": "sibling", "COUSIN": "other_family",
    "CHM": "professional", "SWR": "professional", "SOCIAL WORKER": "professional",
    "DOC": "professional", "DOCTOR": "professional", "HEAD": "professional",
    "OTH": "other", "OTHER": "other", "FAMILY FRIEND": "other", "FRIEND": "other",
    "CHILDMINDER": "professional", "NEIGHBOUR": "other",
}


def normalise_relationship(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    key = re.sub(r"\s+", " ", raw.strip().upper())
    return RELATIONSHIP_CODES.get(key)


def parse_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("true", "t", "yes", "y", "1"):
        return True
    if text in ("false", "f", "no", "n", "0"):
        return False
    return None


# -- UPN -----------------------------------------------------------------------------------
_UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn_problem(upn: str) -> str | None:
    """Why a UPN is malformed (13 characters, check letter over positions 2–13), or None."""
    text = upn.strip().upper()
    if len(text) != 13:
        return "UPN is not 13 characters"
    body = text[1:]
    if not (body.isdigit() or (body[:11].isdigit() and body[11] in _UPN_ALPHABET)):
        return "UPN is not a check letter and 12 characters of digits (or 11 and a letter)"
    total = 0
    for weight, ch in enumerate(body, start=2):
        total += weight * (int(ch) if ch.isdigit() else _UPN_ALPHABET.index(ch))
    if _UPN_ALPHABET[total % 23] != text[0]:
        return "UPN check letter does not match"
    return None


# -- reading -------------------------------------------------------------------------------
def detect(path: Path) -> RosterConnector:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    for _, cls in roster_connectors.items():
        connector = cls()
        try:
            if connector.detect(path):
                return connector
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    raise InputError(
        f"{path}: not a roster auditor can read",
        hint="give a canonical CSV folder, CTF XML, OneRoster or SDS CSV; 'auditor roster template' writes one",
    )


def read_roster(paths: Sequence[Path], options: dict | None = None) -> RosterData:
    options = options or {}
    data = RosterData(source="")
    for path in paths:
        data.extend(detect(path).read(path, options))
    return data


def validate(data: RosterData) -> list[RowIssue]:
    """Cross-file checks: links to people nobody supplied, duplicate references."""
    issues = []
    seen: dict[str, str] = {}
    for person in data.people:
        if person.ref in seen and seen[person.ref] != person.kind:
            issues.append(RowIssue("roster", None, f"reference {person.ref} is both {seen[person.ref]} and {person.kind}"))
        seen[person.ref] = person.kind
    for link in data.links:
        if seen.get(link.pupil_ref) != "pupil":
            issues.append(RowIssue("roster", None, f"contact link names pupil {link.pupil_ref}, who is not in the roster"))
        if seen.get(link.contact_ref) != "contact":
            issues.append(RowIssue("roster", None, f"contact link names contact {link.contact_ref}, who is not in the roster"))
    return issues


# -- writing -------------------------------------------------------------------------------
@dataclass
class ChangeSummary:
    joined: int = 0
    left: int = 0
    changed: int = 0
    unchanged: int = 0
    absent: int = 0  # in the database, not in this import (kept as they were)
    people: int = 0
    links: int = 0
    issues: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _person_fields(p: RosterPerson) -> dict:
    return {
        "kind": p.kind, "title": p.title, "legal_forename": p.legal_forename,
        "legal_surname": p.legal_surname, "preferred_forename": p.preferred_forename,
        "preferred_surname": p.preferred_surname, "middle_names": p.middle_names,
        "former_surname": p.former_surname, "date_of_birth": p.date_of_birth, "sex": p.sex,
        "upn": p.upn, "vulnerable": p.vulnerable,
    }


def _fingerprint(p: RosterPerson, school_id: int | None) -> str:
    body = json.dumps([_person_fields(p), school_id, p.start_date, p.end_date, p.year_group, p.job_title,
                       sorted(p.phones), sorted(p.emails)], default=str, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def roster_version(conn: Connection) -> str:
    """A digest of everything matching depends on, so matches are redone when it changes."""
    digest = hashlib.sha256()
    for table in (Person.__table__, Role.__table__, PupilContact.__table__, ContactPoint.__table__):
        cols = [c for c in table.c if c.name != "id"]
        for row in conn.execute(sa.select(*cols).order_by(*cols)):
            digest.update(json.dumps(list(row), default=str).encode())
    return digest.hexdigest()[:16]


def apply_roster(conn: Connection, data: RosterData, source_label: str) -> ChangeSummary:
    """Write roster data in the caller's transaction, updating people in place."""
    schools, people, roles = School.__table__, Person.__table__, Role.__table__
    links, points = PupilContact.__table__, ContactPoint.__table__
    summary = ChangeSummary(issues=[str(i) for i in data.issues])

    school_ids = {r.ref: r.id for r in conn.execute(sa.select(schools.c.ref, schools.c.id))}
    for s in data.schools:
        values = {"name": s.name, "urn": s.urn, "la": s.la, "estab": s.estab}
        if s.ref in school_ids:
            conn.execute(schools.update().where(schools.c.id == school_ids[s.ref]).values(
                **{k: v for k, v in values.items() if v is not None}))
        else:
            school_ids[s.ref] = conn.execute(schools.insert().values(ref=s.ref, **values)).inserted_primary_key[0]
    for p in data.people:
        if p.school_ref and p.school_ref not in school_ids:
            school_ids[p.school_ref] = conn.execute(schools.insert().values(ref=p.school_ref)).inserted_primary_key[0]

    existing = {r.ref: r for r in conn.execute(sa.select(people.c.id, people.c.ref, people.c.kind))}
    old_roles: dict[int, list] = {}
    for r in conn.execute(sa.select(roles)):
        old_roles.setdefault(r.person_id, []).append(r)
    old_points: dict[int, list[tuple[str, str]]] = {}
    for r in conn.execute(sa.select(points.c.person_id, points.c.kind, points.c.value)):
        old_points.setdefault(r.person_id, []).append((r.kind, r.value))
    old_people = {r.id: r for r in conn.execute(sa.select(people))}

    ids: dict[str, int] = {}
    seen_refs = set()
    for p in data.people:
        if p.ref in seen_refs:
            continue
        seen_refs.add(p.ref)
        school_id = school_ids.get(p.school_ref) if p.school_ref else None
        phones = sorted({n for n in (normalise_phone(x) for x in p.phones) if n})
        emails = sorted({e for e in (normalise_email(x) for x in p.emails) if e})
        role_values = {"school_id": school_id, "role": p.kind, "start_date": p.start_date,
                       "end_date": p.end_date, "year_group": p.year_group, "job_title": p.job_title,
                       "leaving_reason": p.leaving_reason}
        if p.ref in existing:
            pid = existing[p.ref].id
            before = old_people[pid]
            fields = _person_fields(p)
            role_before = [r for r in old_roles.get(pid, []) if r.role == p.kind and r.school_id == school_id]
            changed = any(getattr(before, k) != v for k, v in fields.items())
            was_on_roll = bool(role_before) and role_before[0].end_date is None
            if role_before:
                rb = role_before[0]
                changed |= any(getattr(rb, k) != v for k, v in role_values.items())
            else:
                changed = True
            changed |= sorted(old_points.get(pid, [])) != sorted([("email", e) for e in emails] + [("phone", n) for n in phones])
            if p.kind == "pupil" and was_on_roll and p.end_date is not None:
                summary.left += 1
            elif changed:
                summary.changed += 1
            else:
                summary.unchanged += 1
            if changed:
                conn.execute(people.update().where(people.c.id == pid).values(**fields, source=data.source))
                if role_before:
                    conn.execute(roles.update().where(roles.c.id == role_before[0].id).values(**role_values))
                else:
                    conn.execute(roles.insert().values(person_id=pid, **role_values))
                conn.execute(points.delete().where(points.c.person_id == pid))
                _insert_points(conn, pid, phones, emails)
        else:
            pid = conn.execute(people.insert().values(ref=p.ref, source=data.source, **_person_fields(p))).inserted_primary_key[0]
            conn.execute(roles.insert().values(person_id=pid, **role_values))
            _insert_points(conn, pid, phones, emails)
            summary.joined += 1
        ids[p.ref] = pid
    summary.absent = len(set(existing) - seen_refs)
    summary.people = len(seen_refs)

    # Links: a pupil's links are replaced by those of the import that supplied the pupil.
    pupils_supplied = {ids[p.ref] for p in data.people if p.kind == "pupil" and p.ref in ids}
    all_ids = dict(ids)
    for ref, row in existing.items():
        all_ids.setdefault(ref, row.id)
    if data.links:
        for start in range(0, len(pupils_supplied), 500):
            chunk = list(pupils_supplied)[start:start + 500]
            conn.execute(links.delete().where(links.c.pupil_id.in_(chunk)))
        rows, seen_pairs = [], set()
        for link in data.links:
            pupil_id, contact_id = all_ids.get(link.pupil_ref), all_ids.get(link.contact_ref)
            if pupil_id is None or contact_id is None or (pupil_id, contact_id) in seen_pairs:
                continue
            seen_pairs.add((pupil_id, contact_id))
            rows.append({"pupil_id": pupil_id, "contact_id": contact_id, "relationship_raw": link.relationship_raw,
                         "relationship": link.relationship or normalise_relationship(link.relationship_raw),
                         "parental_responsibility": link.parental_responsibility, "priority": link.priority})
        if rows:
            conn.execute(links.insert(), rows)
        summary.links = len(rows)
    auditlog.append(conn, "roster import", subject=source_label, details={
        "files": [sha for _, sha in data.files], "joined": summary.joined, "left": summary.left,
        "changed": summary.changed, "unchanged": summary.unchanged})
    return summary


def _insert_points(conn: Connection, person_id: int, phones: list[str], emails: list[str]) -> None:
    rows = [{"person_id": person_id, "kind": "phone", "value": n} for n in phones]
    rows += [{"person_id": person_id, "kind": "email", "value": e} for e in emails]
    if rows:
        conn.execute(ContactPoint.__table__.insert(), rows)


def import_roster(db: Database, paths: Sequence[Path], strict: bool = False, options: dict | None = None) -> ChangeSummary:
    """Read every path, check it, and write it all in one transaction (or nothing)."""
    data = read_roster(paths, options)
    data.issues.extend(validate(data))
    if strict and data.issues:
        raise ConfigError([str(i) for i in data.issues[:20]] + (
            [f"... and {len(data.issues) - 20} more"] if len(data.issues) > 20 else []),
            source="roster (--strict)")
    if not data.people:
        raise InputError("the roster holds nobody: nothing was imported")
    with db.begin() as conn:
        summary = apply_roster(conn, data, "+".join(label for label, _ in data.files) or data.source)
        db.set_setting(conn, "roster_imported_at", utcnow().isoformat())
    return summary
