"""The canonical roster CSV folder (DESIGN.md): pupils.csv, contacts.csv, staff.csv and an
optional schools.csv, which any MIS report can be made to fill. A lone staff.csv (beside a
CTF or OneRoster import) is read by the same code.

Headings are matched case- and space-insensitively; ``options["columns"]`` (from the
``[roster.columns]`` table of the config) maps a school's own headings onto ours.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date, datetime
from pathlib import Path

from auditor.connector import decode_text
from auditor.errors import InputError
from auditor.registry import roster_connectors
from auditor.roster import (
    RosterConnector,
    RosterData,
    RosterLink,
    RosterPerson,
    RosterSchool,
    RowIssue,
    normalise_relationship,
    parse_bool,
    upn_problem,
)

PUPIL_COLUMNS = ["pupil_id", "upn", "legal_forename", "legal_surname", "preferred_forename",
                 "middle_names", "date_of_birth", "school", "year_group", "admission_date", "leaving_date"]
CONTACT_COLUMNS = ["contact_id", "pupil_id", "title", "forename", "surname", "relationship",
                   "parental_responsibility", "priority", "email", "mobile_phone"]
STAFF_COLUMNS = ["staff_id", "forename", "surname", "email", "school", "role"]
SCHOOL_COLUMNS = ["school", "name", "urn", "la", "estab"]
OPTIONAL = {"preferred_surname", "former_surname", "sex", "vulnerable", "home_phone", "work_phone", "date_of_birth"}

# Headings other MIS reports use for the same fields (SIMS, Arbor, Bromcom style).
ALIASES = {
    "pupil_id": ["adno", "admission number", "mis id", "pupil id", "student id", "id"],
    "upn": ["unique pupil number"],
    "legal_forename": ["legal forename", "forename", "first name", "legal first name", "given name"],
    "legal_surname": ["legal surname", "surname", "last name", "family name", "legal last name"],
    "preferred_forename": ["preferred forename", "preferred first name", "known as", "chosen name"],
    "preferred_surname": ["preferred surname", "preferred last name"],
    "former_surname": ["former surname", "previous surname"],
    "middle_names": ["middle name", "middle names", "middle name(s)"],
    "date_of_birth": ["dob", "date of birth", "birth date", "birthdate"],
    "year_group": ["year", "year group", "ncyear", "nc year", "curriculum year"],
    "admission_date": ["admission date", "entry date", "start date", "date of admission"],
    "leaving_date": ["leaving date", "date of leaving", "end date", "leave date"],
    "school": ["school id", "school ref", "establishment"],
    "contact_id": ["contact id", "contact ref"],
    "mobile_phone": ["mobile", "mobile phone", "mobile telephone", "phone", "telephone"],
    "email": ["email address", "e-mail", "e-mail address"],
    "parental_responsibility": ["parental responsibility", "responsible", "pr"],
    "priority": ["contact priority", "order", "priority order"],
    "relationship": ["relation", "relationship to pupil"],
    "staff_id": ["staff id", "staff code", "employee id", "payroll number"],
    "role": ["job title", "post", "staff role"],
}


def _key(heading: str) -> str:
    return re.sub(r"[\s_\-]+", " ", heading.strip().lower().lstrip("\ufeff"))


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        reader = csv.DictReader(io.StringIO(text))
        rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from None
    return list(reader.fieldnames or []), rows


def map_columns(path: Path, headings: list[str], wanted: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Our column name -> the heading in this file, or an error naming every missing one."""
    by_key = {_key(h): h for h in headings}
    found: dict[str, str] = {}
    for column in wanted + sorted(OPTIONAL):
        candidates = [mapping.get(column, ""), column] + ALIASES.get(column, [])
        for candidate in candidates:
            if candidate and _key(candidate) in by_key:
                found[column] = by_key[_key(candidate)]
                break
    missing = [c for c in wanted if c not in found and c not in OPTIONAL]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}",
                         hint="map your headings in [roster.columns] of the config, or see 'auditor roster template'")
    return found


def parse_date(value: str) -> date | None:
    """ISO dates, and the UK day-first forms MIS reports write (01/09/2026, 1-9-2026)."""
    if not value:
        return None
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%d %b %Y", "%d %B %Y"):
        try:
            return datetime.strptime(text[:19] if "T" in text else text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text!r}")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_staff(path: Path, data: RosterData, mapping: dict[str, str]) -> None:
    headings, rows = read_csv(path)
    cols = map_columns(path, headings, STAFF_COLUMNS[:3], mapping)
    data.files.append((path.name, _sha(path)))
    seen = set()
    for number, row in enumerate(rows, start=2):
        ref = row.get(cols["staff_id"], "")
        if not ref:
            data.issues.append(RowIssue(path.name, number, "no staff_id; row skipped"))
            continue
        if ref in seen:
            data.issues.append(RowIssue(path.name, number, f"duplicate staff_id {ref}; later row skipped"))
            continue
        seen.add(ref)
        data.people.append(RosterPerson(
            ref=ref, kind="staff", legal_forename=row.get(cols["forename"]) or None,
            legal_surname=row.get(cols["surname"]) or None,
            school_ref=row.get(cols.get("school", ""), "") or None,
            job_title=row.get(cols.get("role", ""), "") or None,
            emails=[row[cols["email"]]] if cols.get("email") and row.get(cols["email"]) else [],
        ))


def read_pupils(path: Path, data: RosterData, mapping: dict[str, str]) -> None:
    headings, rows = read_csv(path)
    cols = map_columns(path, headings, ["pupil_id", "legal_forename", "legal_surname"], mapping)
    data.files.append((path.name, _sha(path)))
    seen = set()

    def get(row: dict, column: str) -> str:
        return row.get(cols[column], "") if column in cols else ""

    for number, row in enumerate(rows, start=2):
        ref = get(row, "pupil_id")
        if not ref:
            data.issues.append(RowIssue(path.name, number, "no pupil_id; row skipped"))
            continue
        if ref in seen:
            data.issues.append(RowIssue(path.name, number, f"duplicate pupil_id {ref}; later row skipped"))
            continue
        seen.add(ref)
        dates = {}
        for column in ("date_of_birth", "admission_date", "leaving_date"):
            try:
                dates[column] = parse_date(get(row, column))
            except ValueError as exc:
                data.issues.append(RowIssue(path.name, number, f"{column}: {exc}"))
                dates[column] = None
        if dates["date_of_birth"] is None and not get(row, "date_of_birth"):
            data.issues.append(RowIssue(path.name, number, "no date_of_birth (ages cannot be checked)"))
        upn = get(row, "upn") or None
        if upn and (problem := upn_problem(upn)):
            data.issues.append(RowIssue(path.name, number, problem))
        data.people.append(RosterPerson(
            ref=ref, kind="pupil", upn=upn,
            legal_forename=get(row, "legal_forename") or None, legal_surname=get(row, "legal_surname") or None,
            preferred_forename=get(row, "preferred_forename") or None,
            preferred_surname=get(row, "preferred_surname") or None,
            former_surname=get(row, "former_surname") or None,
            middle_names=get(row, "middle_names") or None, date_of_birth=dates["date_of_birth"],
            sex=get(row, "sex") or None, school_ref=get(row, "school") or None,
            year_group=get(row, "year_group") or None, start_date=dates["admission_date"],
            end_date=dates["leaving_date"], vulnerable=bool(parse_bool(get(row, "vulnerable"))),
        ))


def read_contacts(path: Path, data: RosterData, mapping: dict[str, str]) -> None:
    headings, rows = read_csv(path)
    cols = map_columns(path, headings, ["contact_id", "pupil_id", "forename", "surname"], mapping)
    data.files.append((path.name, _sha(path)))
    people: dict[str, RosterPerson] = {}

    def get(row: dict, column: str) -> str:
        return row.get(cols[column], "") if column in cols else ""

    for number, row in enumerate(rows, start=2):
        ref, pupil = get(row, "contact_id"), get(row, "pupil_id")
        if not ref or not pupil:
            data.issues.append(RowIssue(path.name, number, "contact row needs contact_id and pupil_id; skipped"))
            continue
        phones = [v for v in (get(row, "mobile_phone"), get(row, "home_phone"), get(row, "work_phone")) if v]
        emails = [get(row, "email")] if get(row, "email") else []
        if ref not in people:
            people[ref] = RosterPerson(
                ref=ref, kind="contact", title=get(row, "title") or None,
                legal_forename=get(row, "forename") or None, legal_surname=get(row, "surname") or None,
                phones=phones, emails=emails,
            )
        else:
            person = people[ref]
            person.phones += [p for p in phones if p not in person.phones]
            person.emails += [e for e in emails if e not in person.emails]
        raw = get(row, "relationship") or None
        relationship = normalise_relationship(raw)
        if raw and relationship is None:
            data.issues.append(RowIssue(path.name, number, f"unknown relationship {raw!r} (kept as 'other')"))
            relationship = "other"
        priority = get(row, "priority")
        data.links.append(RosterLink(
            pupil_ref=pupil, contact_ref=ref, relationship_raw=raw, relationship=relationship,
            parental_responsibility=parse_bool(get(row, "parental_responsibility")),
            priority=int(priority) if priority.isdigit() else None,
        ))
    data.people.extend(people.values())


def read_schools(path: Path, data: RosterData, mapping: dict[str, str]) -> None:
    headings, rows = read_csv(path)
    cols = map_columns(path, headings, ["school"], mapping)
    data.files.append((path.name, _sha(path)))
    for row in rows:
        if row.get(cols["school"]):
            data.schools.append(RosterSchool(
                ref=row[cols["school"]], name=row.get(cols.get("name", ""), "") or None,
                urn=row.get(cols.get("urn", ""), "") or None, la=row.get(cols.get("la", ""), "") or None,
                estab=row.get(cols.get("estab", ""), "") or None,
            ))


def _headings(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        first = handle.readline(65536)
    return [_key(h) for h in next(csv.reader([decode_text(first)]), [])]


@roster_connectors.register("csv")
class CanonicalFolder(RosterConnector):
    name = "csv"
    title = "canonical roster CSV folder (pupils.csv, contacts.csv, staff.csv, schools.csv)"

    def detect(self, path: Path) -> bool:
        return path.is_dir() and (path / "pupils.csv").is_file()

    def read(self, path: Path, options: dict) -> RosterData:
        mapping = options.get("columns", {})
        data = RosterData(source="csv")
        if (path / "schools.csv").is_file():
            read_schools(path / "schools.csv", data, mapping)
        read_pupils(path / "pupils.csv", data, mapping)
        if (path / "contacts.csv").is_file():
            read_contacts(path / "contacts.csv", data, mapping)
        if (path / "staff.csv").is_file():
            read_staff(path / "staff.csv", data, mapping)
        return data


@roster_connectors.register("staff-csv")
class StaffList(RosterConnector):
    name = "staff-csv"
    title = "staff list CSV (staff_id, forename, surname, email, school, role)"

    def detect(self, path: Path) -> bool:
        if not path.is_file() or path.suffix.lower() != ".csv":
            return False
        headings = _headings(path)
        return "staff id" in headings or "staff_id" in headings

    def read(self, path: Path, options: dict) -> RosterData:
        data = RosterData(source="staff-csv")
        read_staff(path, data, options.get("columns", {}))
        return data
