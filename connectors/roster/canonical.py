"""The canonical roster CSV folder (DESIGN.md) and the MIS reports a school maps onto it.

Layouts read here:

- the canonical folder: ``pupils.csv``, ``contacts.csv``, ``staff.csv``, optional
  ``schools.csv`` and ``leavers.csv`` (pupils who left, same columns as pupils.csv);
- a lone pupil report (``auditor roster import "Pupil List.csv"``): any CSV whose headings
  name a pupil id (or UPN) and legal names, such as a SIMS, Arbor or Bromcom report with
  ``Adno, UPN, Legal Surname, Legal Forename, Forename, Date of Birth, Year, Reg`` and
  contacts as numbered columns (``Contact 1 Surname``, ``Contact 1 Relationship``,
  ``Contact 1 Parental Responsibility``, ``Priority 2 Mobile``…);
- a lone ``staff.csv`` (beside a CTF or OneRoster import); a ``schools.csv`` in the same
  folder is read with it, so staff codes such as ``S01`` join the pupils' school by URN.

Headings are matched case-, space- and underscore-insensitively (SIMS CommandReporter's
``_x0020_`` is a space). ``options["columns"]`` (the config's ``[roster.columns]``) maps our
column names onto a school's own headings, flat or per file (``[roster.columns.contacts]``);
a value with ``{n}`` names numbered contact columns (``contact_forename = "Parent {n} First"``).
``options["files"]`` renames the folder's files (``pupils = "Student List.csv"``).
Numeric dates are day first (England) unless a value settles it or ``[roster] date_order``
says ``mdy``. When both ``Legal Forename`` and ``Forename`` are present, the plain one is the
preferred name (SIMS convention).

A canonical folder or pupil report is the school's whole roster: pupils on roll before and
missing now are given a leaving date (``--partial`` turns that off).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
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
    infer_date_order,
    normalise_relationship,
    normalise_sex,
    parse_bool,
    parse_date,
    upn_problem,
)

__all__ = ["parse_date", "read_csv", "map_columns", "write_template", "CanonicalFolder", "PupilReport", "StaffList"]

PUPIL_COLUMNS = ["pupil_id", "upn", "legal_forename", "legal_surname", "preferred_forename",
                 "middle_names", "date_of_birth", "school", "year_group", "admission_date", "leaving_date"]
CONTACT_COLUMNS = ["contact_id", "pupil_id", "title", "forename", "surname", "relationship",
                   "parental_responsibility", "priority", "email", "mobile_phone"]
STAFF_COLUMNS = ["staff_id", "forename", "surname", "email", "school", "role"]
SCHOOL_COLUMNS = ["school", "name", "urn", "la", "estab"]
EXTRA_PUPIL = ["preferred_surname", "former_surname", "sex", "vulnerable", "leaving_reason"]
EXTRA_CONTACT = ["home_phone", "work_phone", "middle_names"]

# What each column means, for the template's README and for --help texts.
COLUMN_NOTES = {
    "pupils.csv": {
        "pupil_id": "required; the MIS's own id for the pupil (admission number or person id), never reused",
        "upn": "Unique Pupil Number, 13 characters (checked; a bad check letter is warned about, not dropped)",
        "legal_forename": "required", "legal_surname": "required",
        "preferred_forename": "known-as name, if different", "middle_names": "",
        "date_of_birth": "YYYY-MM-DD (or DD/MM/YYYY); needed to tell a past pupil's age",
        "school": "the school's code, as in schools.csv (may be empty for a one-school roster)",
        "year_group": "R, 1 ... 13 (Year 7, 07 and Y7 are read too)",
        "admission_date": "YYYY-MM-DD", "leaving_date": "YYYY-MM-DD; filled in = a past pupil",
        "preferred_surname": "optional column", "former_surname": "optional column",
        "sex": "optional column (M/F)", "vulnerable": "optional column (true/false): a vulnerable adult",
    },
    "contacts.csv": {
        "contact_id": "required; the MIS's own id for the contact person (the same id on each of their pupils' rows)",
        "pupil_id": "required; the pupil this row links the contact to (one row per contact and pupil)",
        "title": "", "forename": "required", "surname": "required",
        "relationship": "Mother, Father, Step-father, Carer, Grandparent, Aunt, ... or a CTF code (PAR, CAR, ...)",
        "parental_responsibility": "true/false", "priority": "1 = first contact",
        "email": "", "mobile_phone": "home_phone and work_phone columns may be added",
    },
    "staff.csv": {
        "staff_id": "required; the reference used in the exports manifest (staff_ref)",
        "forename": "required", "surname": "required", "email": "school e-mail address",
        "school": "the school's code; empty = works across the trust", "role": "job title",
    },
    "schools.csv": {
        "school": "the short code used in the other files (e.g. S01)", "name": "",
        "urn": "six-digit URN (joins CTF files to this school)", "la": "three-digit LA number",
        "estab": "four-digit establishment number",
    },
}

# Headings other MIS reports use for the same fields (SIMS, Arbor, Bromcom, iSAMS style).
COMMON_ALIASES = {
    "upn": ["unique pupil number"],
    "legal_forename": ["legal forename", "legal first name", "legal given name", "forename", "first name",
                       "given name", "firstname"],
    "legal_surname": ["legal surname", "legal last name", "legal family name", "surname", "last name",
                      "family name", "lastname"],
    "preferred_forename": ["preferred forename", "preferred first name", "preferred name", "known as", "chosen name"],
    "preferred_surname": ["preferred surname", "preferred last name"],
    "former_surname": ["former surname", "previous surname"],
    "middle_names": ["middle name", "middle names", "middle name(s)", "middlename"],
    "date_of_birth": ["dob", "date of birth", "birth date", "birthdate"],
    "year_group": ["year", "year group", "ncyear", "nc year", "curriculum year", "yeargroup", "nc year actual"],
    "admission_date": ["admission date", "entry date", "start date", "date of admission", "enrolment date"],
    "leaving_date": ["leaving date", "date of leaving", "end date", "leave date"],
    "leaving_reason": ["reason for leaving"],
    "school": ["school id", "school ref", "school code", "establishment"],
    "sex": ["gender"],
    "contact_id": ["contact id", "contact ref", "contact person id", "parent id", "guardian id"],
    "mobile_phone": ["mobile", "mobile phone", "mobile telephone", "mobile number", "phone", "telephone"],
    "home_phone": ["home phone", "home telephone", "main telephone"],
    "work_phone": ["work phone", "work telephone"],
    "email": ["email address", "e-mail", "e-mail address", "primary email", "home email"],
    "parental_responsibility": ["parental responsibility", "responsible", "responsibility", "pr", "legal guardian"],
    "priority": ["contact priority", "order", "priority order", "contact order"],
    "relationship": ["relation", "relationship to pupil", "relationship to student", "relationship type"],
    "staff_id": ["staff id", "staff code", "employee id", "payroll number", "staff ref"],
    "role": ["job title", "post", "staff role"],
    "forename": ["first name", "given name", "legal forename"],
    "surname": ["last name", "family name", "legal surname"],
    "name": ["school name"],
}
FILE_ALIASES = {
    "pupils": {"pupil_id": ["adno", "admission number", "mis id", "pupil id", "student id", "person id", "id"]},
    "contacts": {"pupil_id": ["adno", "admission number", "pupil id", "student id", "pupil ref"]},
}

NUMBERED_CONTACT = re.compile(r"^(?:contact|priority|parent|carer|guardian)\s*(\d{1,2})\s*[-:.]?\s*(.+)$")
NUMBERED_EXTRA = {"contact_id": ["id", "person id", "ref"]}
CONTACT_FIELDS = ["contact_id", "title", "forename", "surname", "middle_names", "relationship",
                  "parental_responsibility", "email", "mobile_phone", "home_phone", "work_phone"]


def _key(heading: str) -> str:
    text = heading.replace("_x0020_", " ").strip().lower().lstrip("\ufeff")
    return re.sub(r"[\s_\-]+", " ", text)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from None
    headings = list(reader.fieldnames or [])
    if not headings:
        raise InputError(f"{path}: empty CSV (no heading row)")
    return headings, rows


def _mapping_for(options: dict, kind: str) -> dict[str, str]:
    """The config's column mapping for one kind of file: flat entries, then ``[roster.columns.KIND]``."""
    columns = options.get("columns") or {}
    if not isinstance(columns, dict):
        raise InputError("[roster.columns] must be a table of our column = your heading")
    flat = {k: v for k, v in columns.items() if isinstance(v, str)}
    specific = columns.get(kind) if isinstance(columns.get(kind), dict) else {}
    return {**flat, **specific}


def map_columns(path: Path, headings: list[str], wanted: list[str], mapping: dict[str, str], kind: str = "pupils",
                optional: list[str] = ()) -> dict[str, str]:
    """Our column name -> the heading in this file, or an error naming every missing one."""
    by_key = {_key(h): h for h in headings}
    found: dict[str, str] = {}
    used: set[str] = set()
    aliases = {**COMMON_ALIASES, **FILE_ALIASES.get(kind, {})}
    for column in list(wanted) + [c for c in optional if c not in wanted]:
        candidates = [mapping.get(column, ""), column] + aliases.get(column, [])
        for candidate in candidates:
            key = _key(candidate) if candidate else ""
            if key and key in by_key and by_key[key] not in used:
                found[column] = by_key[key]
                used.add(by_key[key])
                break
    missing = [c for c in wanted if c not in found]
    if missing:
        raise InputError(f"{path.name}: missing column(s) {', '.join(missing)}",
                         hint="map your headings in [roster.columns] of the config, or see 'auditor roster template'")
    # SIMS reports: "Legal Forename" and a plain "Forename" side by side = legal and preferred.
    for legal, preferred, plain in (("legal_forename", "preferred_forename", "forename"),
                                    ("legal_surname", "preferred_surname", "surname")):
        if (kind == "pupils" and preferred not in found and found.get(legal) and _key(found[legal]).startswith("legal")
                and plain in by_key and by_key[plain] not in used):
            found[preferred] = by_key[plain]
    return found


def _date_order(options: dict, rows: list[dict[str, str]], headings: list[str]) -> str:
    configured = str(options.get("date_order", "")).lower()
    if configured in ("dmy", "mdy"):
        return configured
    return infer_date_order(v for row in rows for v in row.values() if v and len(v) <= 10) or "dmy"


def _cell(row: dict[str, str], cols: dict[str, str], column: str) -> str:
    return row.get(cols[column], "") if column in cols else ""


# -- files ---------------------------------------------------------------------------------
def read_schools(path: Path, data: RosterData, options: dict) -> None:
    headings, rows = read_csv(path)
    cols = map_columns(path, headings, ["school"], _mapping_for(options, "schools"), "schools",
                       optional=SCHOOL_COLUMNS)
    data.files.append((path.name, _sha(path)))
    for row in rows:
        if _cell(row, cols, "school"):
            data.schools.append(RosterSchool(
                ref=_cell(row, cols, "school"), name=_cell(row, cols, "name") or None,
                urn=_cell(row, cols, "urn") or None, la=_cell(row, cols, "la") or None,
                estab=_cell(row, cols, "estab") or None))


def read_staff(path: Path, data: RosterData, options: dict) -> None:
    headings, rows = read_csv(path)
    cols = map_columns(path, headings, ["staff_id", "forename", "surname"], _mapping_for(options, "staff"), "staff",
                       optional=STAFF_COLUMNS)
    data.files.append((path.name, _sha(path)))
    seen = set()
    for number, row in enumerate(rows, start=2):
        ref = _cell(row, cols, "staff_id")
        if not ref:
            data.issues.append(RowIssue(path.name, number, "no staff_id; row skipped"))
            continue
        if ref in seen:
            data.issues.append(RowIssue(path.name, number, f"duplicate staff_id {ref}; later row skipped"))
            continue
        seen.add(ref)
        email = _cell(row, cols, "email")
        data.people.append(RosterPerson(
            ref=ref, kind="staff", legal_forename=_cell(row, cols, "forename") or None,
            legal_surname=_cell(row, cols, "surname") or None, school_ref=_cell(row, cols, "school") or None,
            job_title=_cell(row, cols, "role") or None, emails=[email] if email else []))


def _numbered_contact_columns(headings: list[str], mapping: dict[str, str]) -> dict[int, dict[str, str]]:
    """{priority: {contact field: heading}} for numbered contact columns in a pupil report."""
    found: dict[int, dict[str, str]] = {}
    by_key = {_key(h): h for h in headings}
    for column in CONTACT_FIELDS:  # explicit templates first: contact_surname = "Parent {n} Surname"
        template = mapping.get(f"contact_{column}") or mapping.get(column, "")
        if "{n}" in template:
            for n in range(1, 10):
                heading = by_key.get(_key(template.replace("{n}", str(n))))
                if heading:
                    found.setdefault(n, {})[column] = heading
    for heading in headings:
        match = NUMBERED_CONTACT.match(_key(heading))
        if not match:
            continue
        n, rest = int(match.group(1)), re.sub(r"^contact\s+", "", match.group(2).strip())
        for column in CONTACT_FIELDS:
            names = [column.replace("_", " ")] + COMMON_ALIASES.get(column, []) + NUMBERED_EXTRA.get(column, [])
            if rest in names and column not in found.get(n, {}):
                found.setdefault(n, {})[column] = heading
                break
    return {n: cols for n, cols in found.items() if {"forename", "surname"} & cols.keys()}


def read_pupils(path: Path, data: RosterData, options: dict, default_school: str | None = None) -> None:
    headings, rows = read_csv(path)
    mapping = _mapping_for(options, "pupils")
    try:
        cols = map_columns(path, headings, ["pupil_id", "legal_forename", "legal_surname"], mapping, "pupils",
                           optional=PUPIL_COLUMNS + EXTRA_PUPIL)
    except InputError:
        # A report keyed by UPN alone: the UPN is the pupil's reference.
        cols = map_columns(path, headings, ["upn", "legal_forename", "legal_surname"], mapping, "pupils",
                           optional=PUPIL_COLUMNS + EXTRA_PUPIL)
        cols["pupil_id"] = cols["upn"]
    numbered = _numbered_contact_columns(headings, mapping)
    order = _date_order(options, rows, headings)
    data.files.append((path.name, _sha(path)))
    seen: set[str] = set()
    contacts: dict[str, RosterPerson] = {}
    for number, row in enumerate(rows, start=2):
        ref = _cell(row, cols, "pupil_id")
        if not ref:
            if any(row.values()):
                data.issues.append(RowIssue(path.name, number, "no pupil_id; row skipped"))
            continue
        if ref in seen:
            data.issues.append(RowIssue(path.name, number, f"duplicate pupil_id {ref}; later row skipped"))
            continue
        seen.add(ref)
        dates = {}
        for column in ("date_of_birth", "admission_date", "leaving_date"):
            try:
                dates[column] = parse_date(_cell(row, cols, column), order)
            except ValueError as exc:
                data.issues.append(RowIssue(path.name, number, f"{column}: {exc}"))
                dates[column] = None
        if dates["date_of_birth"] is None and not _cell(row, cols, "date_of_birth"):
            data.issues.append(RowIssue(path.name, number, "no date_of_birth (ages cannot be checked)"))
        upn = _cell(row, cols, "upn").upper() or None
        if upn and (problem := upn_problem(upn)):
            data.issues.append(RowIssue(path.name, number, f"{problem} (kept)"))
        school = _cell(row, cols, "school") or default_school
        data.people.append(RosterPerson(
            ref=ref, kind="pupil", upn=upn,
            legal_forename=_cell(row, cols, "legal_forename") or None,
            legal_surname=_cell(row, cols, "legal_surname") or None,
            preferred_forename=_cell(row, cols, "preferred_forename") or None,
            preferred_surname=_cell(row, cols, "preferred_surname") or None,
            former_surname=_cell(row, cols, "former_surname") or None,
            middle_names=_cell(row, cols, "middle_names") or None, date_of_birth=dates["date_of_birth"],
            sex=normalise_sex(_cell(row, cols, "sex")), school_ref=school,
            year_group=_cell(row, cols, "year_group") or None, start_date=dates["admission_date"],
            end_date=dates["leaving_date"], leaving_reason=_cell(row, cols, "leaving_reason") or None,
            vulnerable=bool(parse_bool(_cell(row, cols, "vulnerable"))),
        ))
        data.complete_schools.add(school or "")
        for priority, ccols in sorted(numbered.items()):
            _numbered_contact(path, number, row, ref, priority, ccols, contacts, data)
    data.people.extend(contacts.values())


def _numbered_contact(path: Path, number: int, row: dict, pupil_ref: str, priority: int, ccols: dict[str, str],
                      contacts: dict[str, RosterPerson], data: RosterData) -> None:
    forename, surname = _cell(row, ccols, "forename"), _cell(row, ccols, "surname")
    if not forename and not surname:
        return
    phones = [v for v in (_cell(row, ccols, c) for c in ("mobile_phone", "home_phone", "work_phone")) if v]
    emails = [e for e in [_cell(row, ccols, "email")] if e]
    given_id = _cell(row, ccols, "contact_id")
    ref = given_id or f"{pupil_ref}-C{priority}"
    if ref not in contacts:
        contacts[ref] = RosterPerson(
            ref=ref, kind="contact", title=_cell(row, ccols, "title") or None, legal_forename=forename or None,
            legal_surname=surname or None, middle_names=_cell(row, ccols, "middle_names") or None,
            phones=phones, emails=emails, derived_ref=not given_id)
    else:
        person = contacts[ref]
        person.phones += [p for p in phones if p not in person.phones]
        person.emails += [e for e in emails if e not in person.emails]
    data.links.append(_link(path, number, row, ccols, pupil_ref, ref, priority, data))


def _link(path: Path, number: int, row: dict, cols: dict[str, str], pupil_ref: str, contact_ref: str,
          priority: int | None, data: RosterData) -> RosterLink:
    raw = _cell(row, cols, "relationship") or None
    relationship = normalise_relationship(raw)
    if raw and relationship is None:
        data.issues.append(RowIssue(path.name, number, f"unknown relationship {raw!r} (kept as 'other')"))
        relationship = "other"
    pr_raw = _cell(row, cols, "parental_responsibility")
    responsible = parse_bool(pr_raw)
    if pr_raw and responsible is None:
        data.issues.append(RowIssue(path.name, number, f"parental_responsibility {pr_raw!r} is not true or false"))
    return RosterLink(pupil_ref=pupil_ref, contact_ref=contact_ref, relationship_raw=raw, relationship=relationship,
                      parental_responsibility=responsible, priority=priority)


def read_contacts(path: Path, data: RosterData, options: dict) -> None:
    headings, rows = read_csv(path)
    cols = map_columns(path, headings, ["contact_id", "pupil_id", "forename", "surname"],
                       _mapping_for(options, "contacts"), "contacts", optional=CONTACT_COLUMNS + EXTRA_CONTACT)
    data.files.append((path.name, _sha(path)))
    people: dict[str, RosterPerson] = {}
    pairs: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=2):
        ref, pupil = _cell(row, cols, "contact_id"), _cell(row, cols, "pupil_id")
        if not ref or not pupil:
            if any(row.values()):
                data.issues.append(RowIssue(path.name, number, "contact row needs contact_id and pupil_id; skipped"))
            continue
        if (ref, pupil) in pairs:
            data.issues.append(RowIssue(path.name, number, f"contact {ref} is linked to pupil {pupil} twice; "
                                                           "later row skipped"))
            continue
        pairs.add((ref, pupil))
        phones = [v for v in (_cell(row, cols, c) for c in ("mobile_phone", "home_phone", "work_phone")) if v]
        emails = [e for e in [_cell(row, cols, "email")] if e]
        if ref not in people:
            people[ref] = RosterPerson(
                ref=ref, kind="contact", title=_cell(row, cols, "title") or None,
                legal_forename=_cell(row, cols, "forename") or None, legal_surname=_cell(row, cols, "surname") or None,
                middle_names=_cell(row, cols, "middle_names") or None, phones=phones, emails=emails)
        else:
            person = people[ref]
            person.phones += [p for p in phones if p not in person.phones]
            person.emails += [e for e in emails if e not in person.emails]
        priority = _cell(row, cols, "priority")
        if priority and not priority.isdigit():
            data.issues.append(RowIssue(path.name, number, f"priority {priority!r} is not a whole number"))
        data.links.append(_link(path, number, row, cols, pupil, ref, int(priority) if priority.isdigit() else None, data))
    data.people.extend(people.values())


def _headings(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        first = handle.readline(65536)
    try:  # a file saved with CR line endings holds several rows in this "line"
        return [_key(h) for h in next(csv.reader(io.StringIO(decode_text(first), newline="")), [])]
    except csv.Error:  # not CSV: not a file this reader recognises
        return []


def _file(folder: Path, options: dict, kind: str) -> Path:
    names = options.get("files") or {}
    return folder / str(names.get(kind, f"{kind}.csv"))


def _single_school(data: RosterData) -> str | None:
    refs = {s.ref for s in data.schools}
    return next(iter(refs)) if len(refs) == 1 else None


# -- connectors ----------------------------------------------------------------------------
@roster_connectors.register("csv")
class CanonicalFolder(RosterConnector):
    name = "csv"
    title = "canonical roster CSV folder (pupils.csv, contacts.csv, staff.csv, schools.csv)"

    def detect(self, path: Path, options: dict) -> bool:
        return path.is_dir() and _file(path, options, "pupils").is_file()

    def read(self, path: Path, options: dict) -> RosterData:
        data = RosterData(source="csv")
        if _file(path, options, "schools").is_file():
            read_schools(_file(path, options, "schools"), data, options)
        default_school = _single_school(data)
        read_pupils(_file(path, options, "pupils"), data, options, default_school)
        if _file(path, options, "leavers").is_file():
            read_pupils(_file(path, options, "leavers"), data, options, default_school)
        if _file(path, options, "contacts").is_file():
            read_contacts(_file(path, options, "contacts"), data, options)
        if _file(path, options, "staff").is_file():
            read_staff(_file(path, options, "staff"), data, options)
        return data


def _is_staff_list(headings: list[str], options: dict) -> bool:
    mapped = _mapping_for(options, "staff").get("staff_id")
    names = {"staff id", *COMMON_ALIASES["staff_id"]} | ({_key(mapped)} if mapped else set())
    return bool(names & set(headings))


@roster_connectors.register("staff-csv")
class StaffList(RosterConnector):
    name = "staff-csv"
    title = "staff list CSV (staff_id, forename, surname, email, school, role)"

    def detect(self, path: Path, options: dict) -> bool:
        if not path.is_file() or path.suffix.lower() != ".csv":
            return False
        return _is_staff_list(_headings(path), options)

    def read(self, path: Path, options: dict) -> RosterData:
        data = RosterData(source="staff-csv")
        schools = path.parent / "schools.csv"
        if schools.is_file() and schools != path:
            read_schools(schools, data, options)
        read_staff(path, data, options)
        return data


@roster_connectors.register("pupil-csv")
class PupilReport(RosterConnector):
    """A lone pupil report from any MIS, headings mapped as for pupils.csv, contacts in
    numbered columns."""

    name = "pupil-csv"
    title = "pupil report CSV from any MIS (mapped headings; contacts as numbered columns)"

    def detect(self, path: Path, options: dict) -> bool:
        if not path.is_file() or path.suffix.lower() not in (".csv", ".txt"):
            return False
        headings = _headings(path)
        if _is_staff_list(headings, options) or not headings:
            return False
        mapping = _mapping_for(options, "pupils")
        for key in ("pupil_id", "upn"):
            try:
                map_columns(path, headings, [key, "legal_forename", "legal_surname"], mapping, "pupils")
            except InputError:
                continue
            # a contacts list also has pupil ids and names: it is not a pupil report
            return not ({"contact id", "contact ref", "contact_id"} & set(headings))
        return False

    def read(self, path: Path, options: dict) -> RosterData:
        data = RosterData(source="pupil-csv")
        schools = path.parent / "schools.csv"
        if schools.is_file() and schools != path:
            read_schools(schools, data, options)
        read_pupils(path, data, options, _single_school(data))
        return data


# -- template ------------------------------------------------------------------------------
TEMPLATE_CONFIG = """\
# Copy into auditor.toml when your MIS report uses its own headings.
# Left: our column; right: the heading in your file. Only the ones that differ are needed.
[roster.columns]
pupil_id = "Adno"
legal_surname = "Legal Surname"
legal_forename = "Legal Forename"
preferred_forename = "Preferred Forename"
date_of_birth = "Date of Birth"
year_group = "Year"
# Numbered contact columns in a pupil report: {n} is the contact's priority (1, 2, ...).
contact_surname = "Contact {n} Surname"
contact_forename = "Contact {n} Forename"
contact_relationship = "Contact {n} Relationship"
contact_parental_responsibility = "Contact {n} Parental Responsibility"
contact_mobile_phone = "Contact {n} Mobile"
contact_email = "Contact {n} Email"

# Headings for one file only:
# [roster.columns.contacts]
# contact_id = "Parent ID"

# [roster]
# date_order = "dmy"   # or "mdy" when dates such as 04/02/2010 are month first
"""


def write_template(folder: Path) -> list[Path]:
    """An empty canonical folder (headings only) with a README describing every column and a
    config snippet for mapping a school's own headings. Never overwrites a file."""
    files = {
        "pupils.csv": PUPIL_COLUMNS, "contacts.csv": CONTACT_COLUMNS,
        "staff.csv": STAFF_COLUMNS, "schools.csv": SCHOOL_COLUMNS,
    }
    targets = [folder / name for name in [*files, "README.txt", "auditor.toml.example"]]
    clashes = [t.name for t in targets if t.exists()]
    if clashes:
        raise InputError(f"{folder}: already holds {', '.join(clashes)}; nothing was written",
                         hint="choose an empty folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, columns in files.items():
            (folder / name).write_text(",".join(columns) + "\n", encoding="utf-8")
        lines = ["Roster template for auditor (one row per person; UTF-8 CSV; dates YYYY-MM-DD).", "",
                 "Fill these from any MIS report, then run:  auditor roster import THIS-FOLDER", "",
                 "A pupil with a leaving_date is a past pupil; a pupil on roll last time and missing now",
                 "is given a leaving date (import with --partial when a file holds only some pupils).",
                 "People are matched across imports by their ids, never by names: keep ids stable.", ""]
        for name, notes in COLUMN_NOTES.items():
            lines.append(name)
            for column, note in notes.items():
                lines.append(f"  {column:24} {note}".rstrip())
            lines.append("")
        lines += ["leavers.csv (optional): pupils who left, with the columns of pupils.csv.",
                  "Other headings? Map them: see auditor.toml.example.", ""]
        (folder / "README.txt").write_text("\n".join(lines), encoding="utf-8")
        (folder / "auditor.toml.example").write_text(TEMPLATE_CONFIG, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{folder}: cannot write the template ({exc.strerror or exc})") from None
    return targets
