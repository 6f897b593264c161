"""The roster: people, their roles and links, read by roster connectors and written here.

Roster connectors turn a source (canonical CSV folder, CTF XML, OneRoster, SDS, Wonde, a
staff list) into ``RosterData``; ``consolidate`` joins what several sources said (schools
named by URN or LA+Estab in one file and by a short code in another become one school;
contacts a source gives no id are merged only when names *and* a phone or e-mail agree);
``apply_roster`` writes it in one transaction, updating people in place by their source
reference (or, for a pupil whose source changed, by UPN), so next term's roster turns leavers
into past pupils without losing anyone. People are never merged on names alone.

People model (one row each in ``person``): legal and preferred names, middle and former
names, date of birth, UPN; a ``role`` per school with start and end dates (a pupil role with
an end date is a past pupil from the day after it); ``pupilcontact`` links with the
relationship as given and normalised, parental responsibility and priority; households are
derived, never stored (``households``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor import auditlog
from auditor.db import Database, utcnow
from auditor.errors import ConfigError, InputError
from auditor.gcpause import cyclic_gc_paused
from auditor.models import ContactPoint, ImportRun, Person, PupilContact, Role, School
from auditor.registry import roster_connectors
from auditor.text import normalise_email, normalise_phone, storable
from auditor.version import __version__ as TOOL_VERSION


@dataclass
class RosterSchool:
    ref: str
    name: str | None = None
    urn: str | None = None
    la: str | None = None
    estab: str | None = None
    derived: bool = False  # ref made up by the reader (CTF: URN or LA+Estab), not the school's own code


@dataclass
class RosterPerson:
    """One person in one role at one school, as one source gives it. A pupil who moved
    between two schools of a trust comes as two entries with the same ``ref``."""

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
    derived_ref: bool = False  # the source has no id for this contact: ref made up, merge by contact points


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
    unit: str = "row"  # what ``row`` counts: a CSV row (heading = 1), or a CTF "pupil"

    def __str__(self) -> str:
        return f"{self.file}" + (f" {self.unit} {self.row}" if self.row is not None else "") + f": {self.message}"


@dataclass
class RosterData:
    source: str
    schools: list[RosterSchool] = field(default_factory=list)
    people: list[RosterPerson] = field(default_factory=list)
    links: list[RosterLink] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)  # (label, sha256)
    # Schools whose whole pupil list this import holds: a pupil of theirs on roll in the
    # database but absent here has left (a partial CTF, a OneRoster delta never sets this).
    complete_schools: set[str] = field(default_factory=set)
    extracted_on: date | None = None  # the date the source says it was produced, if it says

    def extend(self, other: RosterData) -> None:
        self.schools.extend(other.schools)
        self.people.extend(other.people)
        self.links.extend(other.links)
        self.issues.extend(other.issues)
        self.files.extend(other.files)
        self.complete_schools |= other.complete_schools
        if other.extracted_on and (self.extracted_on is None or other.extracted_on > self.extracted_on):
            self.extracted_on = other.extracted_on
        if other.source not in self.source.split("+"):
            self.source = f"{self.source}+{other.source}" if self.source else other.source


class RosterConnector:
    """Base class: ``detect`` says whether a path is this format; ``read`` returns the data."""

    name: str
    title: str

    def detect(self, path: Path, options: dict) -> bool:
        raise NotImplementedError

    def read(self, path: Path, options: dict) -> RosterData:
        raise NotImplementedError


# -- relationships -------------------------------------------------------------------------
# CTF relationship codes (DfE CBDS "relationship to pupil"; PAR, CAR, FAM confirmed in the
# research notes, the rest as MIS suppliers use them) and the words MIS reports use, onto one
# vocabulary the policy presets name.
RELATIONSHIP_CODES = {
    "PAR": "parent", "MTH": "parent", "FTH": "parent", "MOTHER": "parent", "FATHER": "parent",
    "PARENT": "parent", "MUM": "parent", "DAD": "parent", "BIRTH MOTHER": "parent",
    "BIRTH FATHER": "parent", "ADOPTIVE PARENT": "parent", "ADOPTIVE MOTHER": "parent",
    "ADOPTIVE FATHER": "parent",
    "STP": "step_parent", "STEPMOTHER": "step_parent", "STEPFATHER": "step_parent",
    "STEP PARENT": "step_parent", "STEPPARENT": "step_parent", "STEP MOTHER": "step_parent",
    "STEP FATHER": "step_parent", "MOTHER'S PARTNER": "step_parent", "FATHER'S PARTNER": "step_parent",
    "CAR": "carer", "CARER": "carer", "FOS": "foster_carer", "FOSTER CARER": "foster_carer",
    "FOSTER PARENT": "foster_carer", "FOSTER MOTHER": "foster_carer", "FOSTER FATHER": "foster_carer",
    "GUARDIAN": "guardian", "GRD": "guardian", "LEGAL GUARDIAN": "guardian", "SPECIAL GUARDIAN": "guardian",
    "FAM": "other_family", "REL": "other_family", "RELATIVE": "other_family", "OTHER RELATIVE": "other_family",
    "OTHER FAMILY MEMBER": "other_family", "COUSIN": "other_family",
    "GRANDMOTHER": "grandparent", "GRANDFATHER": "grandparent", "GRANDPARENT": "grandparent",
    "GRANDPARENTS": "grandparent", "GRANDMA": "grandparent", "GRANDAD": "grandparent", "GPA": "grandparent",
    "AUNT": "aunt_uncle", "UNCLE": "aunt_uncle", "AUNTIE": "aunt_uncle",
    "SIBLING": "sibling", "SIB": "sibling", "BROTHER": "sibling", "SISTER": "sibling",
    "STEP BROTHER": "sibling", "STEP SISTER": "sibling", "HALF BROTHER": "sibling", "HALF SISTER": "sibling",
    "CHM": "professional", "SWR": "professional", "SOCIAL WORKER": "professional",
    "DOC": "professional", "DOCTOR": "professional", "HEAD": "professional", "HDT": "professional",
    "CHILDMINDER": "professional", "AIDE": "professional",
    "OTH": "other", "OTHER": "other", "OTHER CONTACT": "other", "FAMILY FRIEND": "other",
    "FRIEND": "other", "NEIGHBOUR": "other",
}


def normalise_relationship(raw: str | None) -> str | None:
    """Our vocabulary for a relationship code or word (None when unknown or empty).

    >>> normalise_relationship("Step-father"), normalise_relationship(" par "), normalise_relationship("Lodger")
    ('step_parent', 'parent', None)
    """
    if raw is None or not raw.strip():
        return None
    key = re.sub(r"[\s_\-]+", " ", raw.strip().upper())
    return RELATIONSHIP_CODES.get(key) or RELATIONSHIP_CODES.get(key.replace(" ", ""))


def parse_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("true", "t", "yes", "y", "1"):
        return True
    if text in ("false", "f", "no", "n", "0"):
        return False
    return None


def normalise_year(raw: str | None) -> str | None:
    """One spelling per national-curriculum year: ``Year  7``, ``07``, ``Y7`` → ``7``;
    reception (``R``, ``0``, ``00``, ``YR``, ``Reception``, OneRoster ``KG``) → ``R``;
    nursery ``N1``/``N2`` kept; anything else kept as given.

    >>> [normalise_year(v) for v in ("Year  7", "07", "00", "YR", "N2", "13", "")]
    ['7', '7', 'R', 'R', 'N2', '13', None]
    """
    if raw is None or not raw.strip():
        return None
    text = re.sub(r"\s+", " ", raw.strip().upper())
    if text in ("R", "YR", "REC", "RECEPTION", "YEAR R", "KG", "0", "00"):
        return "R"
    match = re.fullmatch(r"(?:YEAR|YR|Y|NC)?\s*(\d{1,2})", text)
    if match:
        return str(int(match.group(1))) if int(match.group(1)) else "R"
    match = re.fullmatch(r"(?:NURSERY\s*|N)([12])", text)
    if match:
        return f"N{match.group(1)}"
    return raw.strip()


def normalise_sex(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip().lower()
    return {"m": "M", "male": "M", "boy": "M", "f": "F", "female": "F", "girl": "F"}.get(text, raw.strip())


# -- dates ---------------------------------------------------------------------------------
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


def infer_date_order(values: Iterable[str]) -> str | None:
    """``dmy`` or ``mdy`` when some numeric date in ``values`` settles it (a part over 12),
    None when every one is ambiguous (or ISO). MIS reports in England write day first; SDS
    samples write month first."""
    day_first = month_first = False
    for value in values:
        match = _NUMERIC_DATE.match(value.strip()) if value else None
        if not match:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        day_first |= first > 12
        month_first |= second > 12
    if day_first and not month_first:
        return "dmy"
    if month_first and not day_first:
        return "mdy"
    return None


def parse_date(value: str | None, order: str = "dmy") -> date | None:
    """ISO dates (with or without a time), numeric dates in ``order`` (``dmy`` or ``mdy``),
    and ``1 Sep 2026``; raises ValueError naming the value when unreadable."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    iso = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?$", text)
    if iso:
        return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    match = _NUMERIC_DATE.match(text)
    if match:
        a, b, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        day, month = (a, b) if order == "dmy" else (b, a)
        try:
            return date(year, month, day)
        except ValueError:
            raise ValueError(f"unreadable date {text!r}") from None
    for fmt in ("%d %b %Y", "%d %B %Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text!r}")


# -- UPN -----------------------------------------------------------------------------------
_UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn_problem(upn: str) -> str | None:
    """Why a UPN is malformed (13 characters, check letter over positions 2–13), or None.
    A temporary UPN ends in a letter instead of the last digit."""
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


def looks_like_upn(value: str | None) -> bool:
    return bool(value) and re.fullmatch(r"[A-Z]\d{11}[0-9A-Z]", value.strip().upper()) is not None


# -- reading -------------------------------------------------------------------------------
def detect(path: Path, options: dict | None = None) -> RosterConnector:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    for _, cls in roster_connectors.items():
        connector = cls()
        try:
            if connector.detect(path, options or {}):
                return connector
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    raise InputError(
        f"{path}: not a roster auditor can read",
        hint="give a canonical CSV folder, CTF XML, OneRoster or SDS CSV (folder or zip), or a staff list; "
             "'auditor roster template' writes a canonical folder",
    )


ROSTER_SETTINGS = ("columns", "files", "date_order", "partial", "today")


def check_options(options: dict) -> None:
    """The config's [roster] table, every problem at once."""
    problems = [f"unknown setting {key!r} (known: {', '.join(ROSTER_SETTINGS)})"
                for key in options if key not in ROSTER_SETTINGS]
    if options.get("date_order") not in (None, "", "dmy", "mdy"):
        problems.append("date_order must be \"dmy\" (day first) or \"mdy\" (month first)")
    columns = options.get("columns", {})
    if not isinstance(columns, dict):
        problems.append("columns must be a table: our column = \"your heading\"")
    else:
        for key, value in columns.items():
            inner = value if isinstance(value, dict) else {key: value}
            problems += [f"columns.{key}: {k} must name a heading (a string)" for k, v in inner.items()
                         if not isinstance(v, str)]
    files = options.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        problems.append("files must be a table: pupils = \"your file name.csv\"")
    if problems:
        raise ConfigError(problems, source="[roster]")


def read_roster(paths: Sequence[Path], options: dict | None = None) -> RosterData:
    """Read every path (each detected on its own) and join them into one consolidated roster."""
    options = options or {}
    check_options(options)
    data = RosterData(source="")
    for path in paths:
        data.extend(detect(path, options).read(path, options))
    if options.get("partial"):
        data.complete_schools = set()
    return consolidate(data)


def consolidate(data: RosterData) -> RosterData:
    """Join what several files said: one ref per school, derived contacts merged on
    names plus a phone or e-mail, preferred names equal to legal ones dropped."""
    _unify_schools(data)
    merge_derived_contacts(data)
    for person in data.people:
        if person.preferred_forename and _same(person.preferred_forename, person.legal_forename):
            person.preferred_forename = None
        if person.preferred_surname and _same(person.preferred_surname, person.legal_surname):
            person.preferred_surname = None
    return data


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and _fold(a) == _fold(b)


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().casefold())


def _school_keys(school: RosterSchool) -> list[tuple[str, str]]:
    keys = []
    if school.urn:
        keys.append(("urn", school.urn.strip()))
    if school.la and school.estab:
        keys.append(("dfe", f"{school.la.strip()}{school.estab.strip()}"))
    return keys


def _unify_schools(data: RosterData) -> None:
    """A school named by its own code in one file (schools.csv, OneRoster orgs) and by URN or
    LA+Estab in another (a CTF header) becomes one school under its own code."""
    ordered = sorted(data.schools, key=lambda s: s.derived)  # the school's own codes first
    by_key: dict[tuple[str, str], RosterSchool] = {}
    alias: dict[str, str] = {}
    kept: dict[str, RosterSchool] = {}
    for school in ordered:
        target = kept.get(school.ref) or next((by_key[k] for k in _school_keys(school) if k in by_key), None)
        if target is None:
            kept[school.ref] = target = RosterSchool(school.ref, derived=school.derived)
        elif target.ref != school.ref:
            alias[school.ref] = target.ref
        for attr in ("name", "urn", "la", "estab"):
            if getattr(target, attr) is None and getattr(school, attr):
                setattr(target, attr, getattr(school, attr))
        for key in _school_keys(school) + _school_keys(target):
            by_key.setdefault(key, target)
    data.schools = list(kept.values())
    for person in data.people:
        if person.school_ref in alias:
            person.school_ref = alias[person.school_ref]
    data.complete_schools = {alias.get(ref, ref) for ref in data.complete_schools}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, item: Hashable) -> Hashable:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb, key=str)] = min(ra, rb, key=str)


def merge_derived_contacts(data: RosterData) -> None:
    """Contacts without a source id (CTF repeats a parent under each child) are one person
    only when forename, surname AND a phone or e-mail agree; names alone never merge (two
    "Wendy Bradshaw, Mother" records with different details stay two people). The merged
    person keeps the smallest of the refs, so the choice does not depend on file order."""
    derived = [p for p in data.people if p.kind == "contact" and p.derived_ref]
    if not derived:
        return
    groups = _UnionFind()
    first_by_key: dict[tuple, str] = {}
    for person in derived:
        groups.find(person.ref)
        if not person.legal_forename or not person.legal_surname:
            continue
        names = (_fold(person.legal_forename), _fold(person.legal_surname))
        keys = [("e", e) for e in (normalise_email(x) for x in person.emails) if e]
        keys += [("p", n) for n in (normalise_phone(x) for x in person.phones) if n]
        for key in keys:
            full = names + key
            if full in first_by_key:
                groups.union(first_by_key[full], person.ref)
            else:
                first_by_key[full] = person.ref
    rename = {p.ref: groups.find(p.ref) for p in derived}
    merged: dict[str, RosterPerson] = {}
    others = []
    for person in data.people:
        if not (person.kind == "contact" and person.derived_ref):
            others.append(person)
            continue
        target_ref = rename[person.ref]
        if target_ref not in merged:
            person.ref = target_ref
            merged[target_ref] = person
            continue
        target = merged[target_ref]
        for attr in ("title", "middle_names", "date_of_birth", "sex"):
            if getattr(target, attr) is None and getattr(person, attr) is not None:
                setattr(target, attr, getattr(person, attr))
        target.phones += [x for x in person.phones if x not in target.phones]
        target.emails += [x for x in person.emails if x not in target.emails]
    data.people = others + list(merged.values())
    for link in data.links:
        link.contact_ref = rename.get(link.contact_ref, link.contact_ref)


def validate(data: RosterData) -> list[RowIssue]:
    """Cross-file checks: links to people nobody supplied, a ref used for two kinds of
    person, one UPN on two pupils."""
    issues = []
    kinds: dict[str, str] = {}
    upns: dict[str, str] = {}
    for person in data.people:
        if person.ref in kinds and kinds[person.ref] != person.kind:
            issues.append(RowIssue("roster", None, f"reference {person.ref} is both {kinds[person.ref]} and "
                                                   f"{person.kind}; the {person.kind} entry is skipped"))
            continue
        kinds[person.ref] = person.kind
        if person.kind == "pupil" and person.upn:
            upn = person.upn.strip().upper()
            if upns.setdefault(upn, person.ref) != person.ref:
                issues.append(RowIssue("roster", None, f"UPN {upn} is on two pupils ({upns[upn]} and {person.ref})"))
    for link in data.links:
        if kinds.get(link.pupil_ref) != "pupil":
            issues.append(RowIssue("roster", None, f"contact link names pupil {link.pupil_ref}, who is not in the roster"))
        if kinds.get(link.contact_ref) != "contact":
            issues.append(RowIssue("roster", None, f"contact link names contact {link.contact_ref}, who is not in the roster"))
    staff_schools = {p.school_ref for p in data.people if p.kind == "staff" and p.school_ref}
    known = {s.ref for s in data.schools} | {p.school_ref for p in data.people if p.kind == "pupil" and p.school_ref}
    if known:
        for ref in sorted(staff_schools - known):
            issues.append(RowIssue("roster", None, f"staff list names school {ref}, which no roster file describes "
                                                   "(give schools.csv so its URN joins it to the pupils' school)"))
    return issues


# -- writing -------------------------------------------------------------------------------
@dataclass
class ChangeSummary:
    joined: int = 0
    left: int = 0
    changed: int = 0
    unchanged: int = 0
    absent: int = 0  # in the database, not in this import (kept; pupils of a complete school closed)
    people: int = 0
    links: int = 0
    households: int = 0
    unlinked_contacts: int = 0  # contacts in the database now linked to no pupil
    issues: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


PERSON_FIELDS = ("kind", "title", "legal_forename", "legal_surname", "preferred_forename", "preferred_surname",
                 "middle_names", "former_surname", "date_of_birth", "sex", "upn", "vulnerable")
ROLE_FIELDS = ("start_date", "end_date", "year_group", "job_title", "leaving_reason")


def _could_be_same_pupil(a, b) -> bool:
    """Two records sharing a UPN are one pupil unless their dates of birth differ or they share
    neither forename nor surname (then the UPN is a data error, reported by validate())."""
    if a.date_of_birth and b.date_of_birth and a.date_of_birth != b.date_of_birth:
        return False

    def folded(value) -> str:
        return " ".join((value or "").lower().split())

    return (folded(a.legal_surname) == folded(b.legal_surname) or folded(a.legal_forename) == folded(b.legal_forename)
            or not (a.legal_surname and b.legal_surname))


def _merged_fields(entries: list[RosterPerson]) -> dict:
    """Person fields from every entry of one ref: the first non-empty value of each."""
    values: dict = {}
    for name in PERSON_FIELDS:
        value = next((getattr(e, name) for e in entries if getattr(e, name) not in (None, "")), None)
        values[name] = value
    values["kind"] = entries[0].kind
    values["vulnerable"] = any(e.vulnerable for e in entries)
    if values["upn"]:
        values["upn"] = values["upn"].strip().upper()
    return values


def _role_values(entries: list[RosterPerson], school_ids: dict[str, int]) -> dict[int | None, dict]:
    """One role per school: later entries for the same school fill what earlier ones left empty."""
    roles: dict[int | None, dict] = {}
    for e in entries:
        school_id = school_ids.get(e.school_ref) if e.school_ref else None
        values = {"start_date": e.start_date, "end_date": e.end_date, "year_group": normalise_year(e.year_group),
                  "job_title": e.job_title, "leaving_reason": e.leaving_reason}
        if school_id not in roles:
            roles[school_id] = values
        else:
            for key, value in values.items():
                if roles[school_id][key] is None:
                    roles[school_id][key] = value
    return roles


def _resolve_schools(conn: Connection, data: RosterData) -> dict[str, int]:
    """School ref → id, joining an incoming school to a stored one by ref, URN or LA+Estab."""
    table = School.__table__
    stored = list(conn.execute(sa.select(table)))
    ids = {r.ref: r.id for r in stored}
    by_key: dict[tuple[str, str], int] = {}
    for r in stored:
        for key in _school_keys(RosterSchool(r.ref, urn=r.urn, la=r.la, estab=r.estab)):
            by_key.setdefault(key, r.id)
    for s in data.schools:
        values = {"name": s.name, "urn": s.urn, "la": s.la, "estab": s.estab}
        school_id = ids.get(s.ref) or next((by_key[k] for k in _school_keys(s) if k in by_key), None)
        if school_id is not None:
            conn.execute(table.update().where(table.c.id == school_id).values(
                **{k: v for k, v in values.items() if v is not None}))
        else:
            school_id = conn.execute(table.insert().values(ref=s.ref, **values)).inserted_primary_key[0]
        ids[s.ref] = school_id
        for key in _school_keys(s):
            by_key.setdefault(key, school_id)
    for p in data.people:
        if p.school_ref and p.school_ref not in ids:
            ids[p.school_ref] = conn.execute(table.insert().values(ref=p.school_ref)).inserted_primary_key[0]
    return ids


def apply_roster(conn: Connection, data: RosterData, source_label: str, on: date | None = None) -> ChangeSummary:
    """Write roster data in the caller's transaction, updating people in place.

    A stored person is found by ref, or (a pupil) by UPN when the school changed source.
    Pupils on roll at a school this import covers completely, but absent from it, are given a
    leaving date (``on``, else the date the source was produced, else today): they become past
    pupils and are never deleted."""
    people, roles, links = Person.__table__, Role.__table__, PupilContact.__table__
    points = ContactPoint.__table__
    summary = ChangeSummary(issues=[str(i) for i in data.issues])
    school_ids = _resolve_schools(conn, data)

    existing = {r.ref: r for r in conn.execute(sa.select(people))}
    by_id = {r.id: r for r in existing.values()}
    upn_owners: dict[str, list[int]] = {}
    for r in existing.values():
        if r.kind == "pupil" and r.upn:
            upn_owners.setdefault(r.upn.upper(), []).append(r.id)
    old_roles: dict[int, list] = {}
    for r in conn.execute(sa.select(roles)):
        old_roles.setdefault(r.person_id, []).append(r)
    old_points: dict[int, list[tuple[str, str]]] = {}
    for r in conn.execute(sa.select(points.c.person_id, points.c.kind, points.c.value)):
        old_points.setdefault(r.person_id, []).append((r.kind, r.value))

    # One group of entries per person: by ref, and two pupil refs with one UPN are one pupil
    # when nothing else contradicts it (validate() reported it); a UPN on two pupils with
    # different dates of birth or names is a data error, and they stay two people.
    groups: dict[str, list[RosterPerson]] = {}
    same_pupil: dict[str, str] = {}
    first_by_upn: dict[str, RosterPerson] = {}
    for p in data.people:
        ref = p.ref
        if p.kind == "pupil" and p.upn:
            first = first_by_upn.setdefault(p.upn.strip().upper(), p)
            if first.ref != p.ref and _could_be_same_pupil(first, p):
                ref = first.ref
                same_pupil[p.ref] = ref
        entries = groups.setdefault(ref, [])
        if not entries or entries[0].kind == p.kind:
            entries.append(p)

    ids: dict[str, int] = {}
    joining: list[tuple] = []  # new people, written together after the loop
    for ref, entries in groups.items():
        fields = _merged_fields(entries)
        new_roles = _role_values(entries, school_ids)
        phones = sorted({n for e in entries for n in (normalise_phone(x) for x in e.phones) if n})
        emails = sorted({m for e in entries for m in (normalise_email(x) for x in e.emails) if m})
        new_points = sorted([("email", m) for m in emails] + [("phone", n) for n in phones])
        before = existing.get(ref)
        if before is None and fields["kind"] == "pupil" and fields["upn"]:
            owners = upn_owners.get(fields["upn"], [])
            if len(owners) == 1 and _could_be_same_pupil(by_id[owners[0]], entries[0]):
                # the UPN is a strong identifier: the same pupil, from another source or ref
                before = by_id[owners[0]]
        if before is not None and before.kind != fields["kind"]:
            summary.issues.append(f"roster: reference {ref} is a {before.kind} in the database and a "
                                  f"{fields['kind']} here; skipped")
            continue
        if before is None:
            joining.append((ref, fields, new_roles, phones, emails))
            continue
        pid = before.id
        ids[ref] = pid
        changed = any(getattr(before, k) != v for k, v in fields.items())
        left = False
        for school_id, values in new_roles.items():
            match = next((r for r in old_roles.get(pid, []) if r.role == fields["kind"] and r.school_id == school_id), None)
            if match is None:
                changed = True
                conn.execute(roles.insert().values(person_id=pid, school_id=school_id, role=fields["kind"], **values))
                continue
            if any(getattr(match, k) != v for k, v in values.items()):
                changed = True
                left |= fields["kind"] == "pupil" and match.end_date is None and values["end_date"] is not None
                conn.execute(roles.update().where(roles.c.id == match.id).values(**values))
        if sorted(old_points.get(pid, [])) != new_points:
            changed = True
            conn.execute(points.delete().where(points.c.person_id == pid))
            _insert_points(conn, pid, phones, emails)
        if any(getattr(before, k) != v for k, v in fields.items()):
            conn.execute(people.update().where(people.c.id == pid).values(**fields, source=data.source))
        if left:
            summary.left += 1
        elif changed:
            summary.changed += 1
        else:
            summary.unchanged += 1

    _insert_people(conn, data.source, joining, ids)
    summary.joined = len(joining)
    for ref, target in same_pupil.items():
        if target in ids:
            ids[ref] = ids[target]
    touched = set(ids.values())
    summary.absent = len({r.id for r in existing.values()} - touched)
    summary.people = len(touched)
    summary.left += _close_absent_pupils(conn, data, school_ids, touched, old_roles,
                                         on or data.extracted_on or utcnow().date())

    # Links: a pupil's links are replaced by those of an import that supplied the pupil and
    # carried contacts at all (a pupils-only file leaves the stored contacts alone).
    if data.links:
        pupils_supplied = sorted({ids[ref] for ref, entries in groups.items() if entries[0].kind == "pupil" and ref in ids})
        for start in range(0, len(pupils_supplied), 500):
            conn.execute(links.delete().where(links.c.pupil_id.in_(pupils_supplied[start:start + 500])))
        all_ids = {ref: row.id for ref, row in existing.items()}
        all_ids.update(ids)
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
    summary.households = len(load_households(conn))
    linked = sa.select(links.c.contact_id)
    summary.unlinked_contacts = conn.execute(
        sa.select(sa.func.count()).select_from(people).where(people.c.kind == "contact", people.c.id.not_in(linked))
    ).scalar_one()
    auditlog.append(conn, "roster import", subject=source_label, details={
        "files": [sha for _, sha in data.files], "joined": summary.joined, "left": summary.left,
        "changed": summary.changed, "unchanged": summary.unchanged})
    return summary


def _close_absent_pupils(conn: Connection, data: RosterData, school_ids: dict[str, int], touched: set[int],
                         old_roles: dict[int, list], on: date) -> int:
    # "" stands for pupils given no school (a one-school roster without a school column).
    complete = {school_ids.get(ref) if ref else None for ref in data.complete_schools if not ref or ref in school_ids}
    if not complete:
        return 0
    roles = Role.__table__
    closed = 0
    for person_id, person_roles in old_roles.items():
        if person_id in touched:
            continue
        for role in person_roles:
            if role.role == "pupil" and role.school_id in complete and role.end_date is None:
                conn.execute(roles.update().where(roles.c.id == role.id).values(
                    end_date=on, leaving_reason=f"not in the roster imported on {on.isoformat()}"))
                closed += 1
    return closed


def _insert_people(conn: Connection, source: str, joining: list[tuple], ids: dict[str, int]) -> None:
    """New people, their roles and contact points, in a few bulk statements (a trust's roster
    is tens of thousands of people)."""
    if not joining:
        return
    people = Person.__table__
    conn.execute(people.insert(), [{"ref": ref, "source": source, **fields} for ref, fields, *_ in joining])
    refs = [ref for ref, *_ in joining]
    for start in range(0, len(refs), 500):
        chunk = refs[start:start + 500]
        ids.update({r.ref: r.id for r in conn.execute(sa.select(people.c.ref, people.c.id).where(people.c.ref.in_(chunk)))})
    role_rows, point_rows = [], []
    for ref, fields, new_roles, phones, emails in joining:
        pid = ids[ref]
        role_rows += [{"person_id": pid, "school_id": sid, "role": fields["kind"], **values}
                      for sid, values in new_roles.items()]
        point_rows += [{"person_id": pid, "kind": "phone", "value": n} for n in phones]
        point_rows += [{"person_id": pid, "kind": "email", "value": e} for e in emails]
    if role_rows:
        conn.execute(Role.__table__.insert(), role_rows)
    if point_rows:
        conn.execute(ContactPoint.__table__.insert(), point_rows)


def _insert_points(conn: Connection, person_id: int, phones: list[str], emails: list[str]) -> None:
    rows = [{"person_id": person_id, "kind": "phone", "value": n} for n in phones]
    rows += [{"person_id": person_id, "kind": "email", "value": e} for e in emails]
    if rows:
        conn.execute(ContactPoint.__table__.insert(), rows)


def roster_version(conn: Connection) -> str:
    """A digest of everything matching depends on, so matches are redone when it changes."""
    digest = hashlib.sha256()
    for table in (Person.__table__, Role.__table__, PupilContact.__table__, ContactPoint.__table__):
        cols = [c for c in table.c if c.name != "id"]
        for row in conn.execute(sa.select(*cols).order_by(*cols)):
            digest.update(json.dumps(list(row), default=str).encode())
    return digest.hexdigest()[:16]


# -- households ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Household:
    """Pupils joined by a shared contact (or an explicit sibling link), with those contacts."""

    pupils: frozenset
    contacts: frozenset


def households(links: Iterable[tuple[Hashable, Hashable]],
               siblings: Iterable[tuple[Hashable, Hashable]] = ()) -> list[Household]:
    """Group pupils that share a contact (and pupils an explicit sibling link joins).

    ``links`` are (pupil, contact) pairs, ``siblings`` (pupil, pupil) pairs, any hashable ids.
    A pupil with no contact and no sibling is a household of one only if a link names them.

    >>> [sorted(h.pupils) for h in households([("p1", "mum"), ("p2", "mum"), ("p3", "dad3")])]
    [['p1', 'p2'], ['p3']]
    """
    groups = _UnionFind()
    pupils, contacts = set(), set()
    for pupil, contact in links:
        pupils.add(pupil)
        contacts.add(contact)
        groups.union(("p", pupil), ("c", contact))
    for a, b in siblings:
        pupils.update((a, b))
        groups.union(("p", a), ("p", b))
    members: dict[Hashable, tuple[set, set]] = {}
    for pupil in pupils:
        members.setdefault(groups.find(("p", pupil)), (set(), set()))[0].add(pupil)
    for contact in contacts:
        root = groups.find(("c", contact))
        if root in members:
            members[root][1].add(contact)
    found = [Household(frozenset(p), frozenset(c)) for p, c in members.values()]
    return sorted(found, key=lambda h: sorted(map(str, h.pupils)))


def load_households(conn: Connection) -> list[Household]:
    """Households over the stored links, by person id."""
    links = PupilContact.__table__
    return households((r.pupil_id, r.contact_id) for r in conn.execute(sa.select(links.c.pupil_id, links.c.contact_id)))


# -- import --------------------------------------------------------------------------------
def import_roster(db: Database, paths: Sequence[Path], strict: bool = False, options: dict | None = None,
                  on: date | None = None) -> ChangeSummary:
    """Read every path, check it, and write it all in one transaction (or nothing)."""
    with cyclic_gc_paused():
        data = read_roster(paths, options)
        return import_data(db, data, strict=strict, on=on)


def _check_reference_lengths(data: RosterData) -> None:
    """References longer than their column are refused in one line (PostgreSQL enforces the
    length; SQLite would keep them); found by fuzzing."""
    school_limit, person_limit = School.__table__.c.ref.type.length, Person.__table__.c.ref.type.length
    schools = {s.ref for s in data.schools} | {p.school_ref for p in data.people if p.school_ref}
    long_school = next((ref for ref in sorted(schools) if len(ref) > school_limit), None)
    if long_school is not None:
        raise InputError(f"roster: a school reference is longer than {school_limit} characters "
                         f"({long_school[:40]!r}...)", hint="use the school's short reference (e.g. its URN)")
    if any(len(p.ref) > person_limit for p in data.people):
        raise InputError(f"roster: a person reference (pupil_id, contact_id or staff_id) is longer than "
                         f"{person_limit} characters")


def import_data(db: Database, data: RosterData, strict: bool = False, on: date | None = None) -> ChangeSummary:
    """Check roster data already read (files or an API) and write it in one transaction."""
    for item in (*data.schools, *data.people, *data.links):  # a NUL or lone surrogate cannot be stored
        for spec in dataclasses.fields(item):
            setattr(item, spec.name, storable(getattr(item, spec.name)))
    _check_reference_lengths(data)
    data.issues.extend(validate(data))
    if strict and data.issues:
        raise ConfigError([str(i) for i in data.issues[:20]] + (
            [f"... and {len(data.issues) - 20} more"] if len(data.issues) > 20 else []),
            source="roster (--strict)")
    if not data.people:
        raise InputError("the roster holds nobody: nothing was imported")
    label = "+".join(label for label, _ in data.files) or data.source
    started = utcnow()
    with db.begin() as conn:
        summary = apply_roster(conn, data, label, on=on)
        db.set_setting(conn, "roster_imported_at", utcnow().isoformat())
        if summary.joined or summary.left or summary.changed or db.get_setting("roster_version") is None:
            # what matching depends on changed: a new version makes the next audit match afresh
            db.set_setting(conn, "roster_version", uuid.uuid4().hex[:16])
        conn.execute(ImportRun.__table__.insert().values(
            kind="roster", started_at=started, finished_at=utcnow(), status="done", tool_version=TOOL_VERSION,
            actor=auditlog.current_actor(),
            summary={"source": data.source, "files": [{"label": lb, "sha256": sha} for lb, sha in data.files],
                     **{k: v for k, v in summary.as_dict().items() if k != "issues"},
                     "issues": len(summary.issues)}))
    return summary
