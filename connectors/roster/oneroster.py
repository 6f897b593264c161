"""OneRoster 1.1 and 1.2 CSV bundles (1EdTech), as a folder or a zip.

Layout history:

- 1.0 / 1.1 (2015, 2017): ``manifest.csv`` (``propertyName,value``: ``oneroster.version``,
  ``file.<name>`` = bulk | delta | absent), ``orgs.csv``, ``users.csv`` with ``role``
  (administrator, aide, guardian, parent, proctor, relative, student, teacher) and
  ``orgSourcedIds`` on the user, ``agentSourcedIds`` linking pupils and parents both ways,
  ``demographics.csv`` (``sourcedId`` = the user's, ``birthDate``, ``sex``),
  ``enrollments.csv`` (``schoolSourcedId``, ``userSourcedId``, ``role``, ``beginDate``, ``endDate``).
  ``status`` is active | tobedeleted (``inactive`` in 1.0).
- 1.2 (2022): the user's role moves to ``roles.csv`` (``userSourcedId``, ``roleType``,
  ``role``, ``beginDate``, ``endDate``, ``orgSourcedId``; more roles: principal,
  siteAdministrator, districtAdministrator, counselor, systemAdministrator), ``users.csv``
  loses ``role``/``orgSourcedIds``, gains ``primaryOrgSourcedId`` and preferred names
  (``preferredGivenName``, ``preferredMiddleName``, ``preferredFamilyName``).
- Real bundles drift: ``birthdate``/``userSourcedId`` in demographics, ``prefferedGivenName``
  (a published 1.2 fixture); headings are matched case-insensitively with those aliases.

Mapping: students are pupils, parent/guardian/relative users are contacts (relationship
parent, guardian, other_family), every other role is staff. ``sourcedId`` is the reference;
``identifier`` (or a ``{UPN:...}`` userId) is the UPN when it looks like one; ``grades`` the
year. A school org's ``identifier`` is its URN (6 digits) or DfE number (LA+Estab, 7 digits).
A ``tobedeleted`` pupil (or pupil role) has left: the role's ``endDate``, else the row's
``dateLastModified``, else the import date. Tobedeleted contacts and staff are left out.
A user who is staff and a parent becomes two people: staff ``<id>`` and contact ``<id>:contact``.
A bulk users file is the whole roster of its schools; a delta one is not.
"""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

from auditor.connectors.roster.bundle import Bundle, Table, first_line, member_names, split_ids
from auditor.errors import InputError
from auditor.registry import roster_connectors
from auditor.roster import (
    RosterConnector,
    RosterData,
    RosterLink,
    RosterPerson,
    RosterSchool,
    RowIssue,
    looks_like_upn,
    normalise_sex,
    parse_date,
    upn_problem,
)

STUDENT_ROLES = {"student"}
CONTACT_ROLES = {"parent": "parent", "guardian": "guardian", "relative": "other_family"}
STAFF_ROLES = {"teacher", "administrator", "aide", "proctor", "principal", "siteadministrator",
               "districtadministrator", "counselor", "systemadministrator"}
ALIASES = {
    "preferredgivenname": ["prefferedGivenName", "preferredFirstName"],
    "preferredfamilyname": ["prefferedFamilyName", "preferredLastName"],
    "preferredmiddlename": ["prefferedMiddleName"],
    "birthdate": ["birthdate", "dateOfBirth", "dob"],
    "sourcedid": ["userSourcedId"],
}
DEMOGRAPHIC_ALIASES = {"birthdate": ALIASES["birthdate"], "sourcedid": ["userSourcedId"]}
USER_ALIASES = {k: v for k, v in ALIASES.items() if k != "sourcedid"}


def _is_users_heading(line: str) -> bool:
    keys = {k.strip().lower() for k in line.split(",")}
    return "sourcedid" in keys and bool(keys & {"role", "orgsourcedids", "agentsourcedids", "enableduser"})


def _date(value: str | None) -> date | None:
    try:
        return parse_date((value or "")[:10])
    except ValueError:
        return None


def school_ids_from(identifier: str) -> dict:
    digits = re.sub(r"\D", "", identifier or "")
    if len(digits) == 6:
        return {"urn": digits}
    if len(digits) == 7:
        return {"la": digits[:3], "estab": digits[3:]}
    return {}


class _Reader:
    def __init__(self, bundle: Bundle, data: RosterData, today: date) -> None:
        self.bundle, self.data, self.today = bundle, data, today
        self.schools: dict[str, RosterSchool] = {}
        self.roles: dict[str, list[dict]] = {}  # user → [{role, org, begin, end, status}]

    def issue(self, table: Table | str, row: int | None, message: str) -> None:
        self.data.issues.append(RowIssue(f"{self.bundle.label}/{getattr(table, 'name', table)}", row, message))

    def manifest(self) -> bool:
        """The version and whether the users file is a full (bulk) file."""
        table = self.bundle.table("manifest.csv")
        if table is None:
            return True
        props = {r.get("propertyname", ""): r.get("value", "") for r in table.rows if r}
        version = props.get("oneroster.version", "")
        if version and version not in ("1.0", "1.1", "1.2"):
            self.issue(table, None, f"OneRoster version {version} is not 1.0, 1.1 or 1.2; read anyway")
        self.data.source = f"oneroster-{version}" if version else "oneroster"
        return props.get("file.users", "bulk").lower() == "bulk"

    def orgs(self) -> None:
        table = self.bundle.table("orgs.csv")
        if table is None:
            return
        for row in table.rows:
            if row.get("sourcedid") and row.get("type", "school").lower() == "school":
                self.schools[row["sourcedid"]] = RosterSchool(
                    ref=row["sourcedid"], name=row.get("name") or None, **school_ids_from(row.get("identifier", "")))
        self.data.schools.extend(self.schools.values())

    def role_rows(self, users: Table) -> None:
        """Every user's roles: 1.1 on the user row, 1.2 in roles.csv, enrolments as a fallback."""
        if users.has("role"):
            for row in users.rows:
                if row.get("sourcedid") and row.get("role"):
                    orgs = split_ids(row.get("orgsourcedids")) or [None]
                    for org in orgs:
                        self.roles.setdefault(row["sourcedid"], []).append(
                            {"role": row["role"].lower(), "org": org, "begin": None, "end": None,
                             "status": row.get("status", "active").lower()})
        table = self.bundle.table("roles.csv")
        if table is not None:
            for row in table.rows:
                if row.get("usersourcedid") and row.get("role"):
                    self.roles.setdefault(row["usersourcedid"], []).append(
                        {"role": row["role"].lower(), "org": row.get("orgsourcedid") or None,
                         "begin": _date(row.get("begindate")), "end": _date(row.get("enddate")),
                         "status": row.get("status", "active").lower(), "modified": _date(row.get("datelastmodified"))})
        enrollments = self.bundle.table("enrollments.csv")
        if enrollments is None:
            return
        spans: dict[tuple[str, str], list] = {}
        for row in enrollments.rows:
            if row.get("usersourcedid") and row.get("schoolsourcedid") and row.get("role", "").lower() == "student":
                spans.setdefault((row["usersourcedid"], row["schoolsourcedid"]), []).append(
                    (_date(row.get("begindate")), _date(row.get("enddate"))))
        for (user, school), dates in spans.items():
            known = self.roles.setdefault(user, [])
            begins = [b for b, _ in dates if b]
            ends = [e for _, e in dates]
            entry = next((r for r in known if r["role"] == "student" and r["org"] in (school, None)), None)
            if entry is None:
                known.append(entry := {"role": "student", "org": school, "begin": None, "end": None, "status": "active"})
            entry["org"] = entry["org"] or school
            entry["begin"] = entry["begin"] or (min(begins) if begins else None)
            if entry["end"] is None and ends and all(ends):
                entry["end"] = max(ends)

    def users(self, full: bool) -> None:
        users = self.bundle.table("users.csv", USER_ALIASES)
        if users is None:
            raise InputError(f"{self.bundle.label}: users.csv is missing from the bundle")
        self.data.files.append((self.bundle.label, self.bundle.sha256))
        self.role_rows(users)
        demographics = {}
        demo_table = self.bundle.table("demographics.csv", DEMOGRAPHIC_ALIASES)
        if demo_table is not None:
            for row in demo_table.rows:
                if row.get("sourcedid"):
                    demographics[row["sourcedid"]] = row
        kinds: dict[str, str] = {}
        contact_refs: dict[str, str] = {}
        relations: dict[str, str] = {}
        agents: list[tuple[str, str, int, Table]] = []
        seen = set()
        for number, row in enumerate(users.rows, start=2):
            sid = row.get("sourcedid", "")
            if not sid:
                if row:
                    self.issue(users, number, "no sourcedId; row skipped")
                continue
            if sid in seen:
                self.issue(users, number, f"duplicate sourcedId {sid}; later row skipped")
                continue
            seen.add(sid)
            roles = self.roles.get(sid) or []
            if not roles:
                self.issue(users, number, f"user {sid} has no role; skipped")
                continue
            deleted = row.get("status", "active").lower() in ("tobedeleted", "inactive")
            role_names = {r["role"] for r in roles}
            unknown = role_names - STUDENT_ROLES - set(CONTACT_ROLES) - STAFF_ROLES
            if unknown:
                self.issue(users, number, f"user {sid}: unknown role(s) {', '.join(sorted(unknown))}")
            demo = demographics.get(sid, {})
            common = dict(
                legal_forename=row.get("givenname") or None, legal_surname=row.get("familyname") or None,
                middle_names=row.get("middlename") or None,
                preferred_forename=row.get("preferredgivenname") or None,
                preferred_surname=row.get("preferredfamilyname") or None,
                sex=normalise_sex(demo.get("sex")),
            )
            phones = [v for v in (row.get("phone"), row.get("sms")) if v]
            emails = [row["email"]] if row.get("email") else []
            if role_names & STUDENT_ROLES:
                kinds[sid] = "pupil"
                self.pupil(users, number, sid, row, roles, demo, common, deleted, full)
            elif role_names & STAFF_ROLES:
                kinds[sid] = "staff"
                if not deleted:
                    self.staff(sid, roles, common, phones, emails)
            if role_names & set(CONTACT_ROLES) and not role_names & STUDENT_ROLES and not deleted:
                ref = sid if sid not in kinds else f"{sid}:contact"
                kinds.setdefault(sid, "contact")
                contact_refs[sid] = ref
                relations[sid] = next(r["role"] for r in roles if r["role"] in CONTACT_ROLES)
                self.data.people.append(RosterPerson(ref=ref, kind="contact", phones=phones, emails=emails, **common))
            for agent in split_ids(row.get("agentsourcedids")):
                agents.append((sid, agent, number, users))
        self.links(agents, kinds, contact_refs, relations, seen)

    def pupil(self, users: Table, number: int, sid: str, row: dict, roles: list[dict], demo: dict, common: dict,
              deleted: bool, full: bool) -> None:
        upn = self.upn(row)
        if upn and (problem := upn_problem(upn)):
            self.issue(users, number, f"UPN {upn}: {problem} (kept)")
        birth = demo.get("birthdate")
        dob = _date(birth)
        if birth and dob is None:
            self.issue("demographics.csv", None, f"user {sid}: birthDate {birth!r} is not a date")
        if dob is None and not birth:
            self.issue(users, number, f"pupil {sid} has no birthDate in demographics.csv (ages cannot be checked)")
        grades = split_ids(row.get("grades"))
        student_roles = [r for r in roles if r["role"] == "student"]
        orgs = [r for r in student_roles if r["org"] in self.schools or r["org"] is None] or student_roles
        if not orgs:
            orgs = [{"org": row.get("primaryorgsourcedid") or None, "begin": None, "end": None, "status": "active"}]
        for role in orgs:
            end = role.get("end")
            reason = None
            if deleted or role.get("status") in ("tobedeleted", "inactive"):
                end = end or role.get("modified") or _date(row.get("datelastmodified")) or self.today
                reason = "marked tobedeleted in OneRoster"
            school = role.get("org")
            self.data.people.append(RosterPerson(
                ref=sid, kind="pupil", upn=upn, date_of_birth=dob, school_ref=school,
                year_group=grades[0] if grades else None, start_date=role.get("begin"), end_date=end,
                leaving_reason=reason, **common))
            if full and school:
                self.data.complete_schools.add(school)

    def staff(self, sid: str, roles: list[dict], common: dict, phones: list[str], emails: list[str]) -> None:
        staff_roles = [r for r in roles if r["role"] in STAFF_ROLES and r.get("status") not in ("tobedeleted", "inactive")]
        for role in staff_roles or [r for r in roles if r["role"] in STAFF_ROLES]:
            school = role["org"] if role["org"] in self.schools else None
            self.data.people.append(RosterPerson(
                ref=sid, kind="staff", school_ref=school, job_title=role["role"], start_date=role.get("begin"),
                end_date=role.get("end"), phones=phones, emails=emails, **common))

    @staticmethod
    def upn(row: dict) -> str | None:
        for item in re.findall(r"\{([^:}]+):([^}]*)\}", row.get("userids", "")):
            if item[0].strip().upper() == "UPN" and item[1].strip():
                return item[1].strip().upper()
        identifier = row.get("identifier", "").strip().upper()
        return identifier if looks_like_upn(identifier) else None

    def links(self, agents: list[tuple[str, str, int, Table]], kinds: dict[str, str], contact_refs: dict[str, str],
              relations: dict[str, str], users: set[str]) -> None:
        pairs: set[tuple[str, str]] = set()
        for sid, agent, number, table in agents:
            if agent not in users:
                self.issue(table, number, f"user {sid} names agent {agent}, who is not in users.csv")
                continue
            kinds_pair = (kinds.get(sid), kinds.get(agent))
            if kinds_pair[0] == "pupil" and agent in contact_refs:
                pairs.add((sid, agent))
            elif kinds_pair[1] == "pupil" and sid in contact_refs:
                pairs.add((agent, sid))
        for pupil, contact in sorted(pairs):
            relation = relations[contact]
            self.data.links.append(RosterLink(
                pupil_ref=pupil, contact_ref=contact_refs[contact], relationship_raw=relation,
                relationship=CONTACT_ROLES[relation]))


@roster_connectors.register("oneroster")
class OneRoster(RosterConnector):
    name = "oneroster"
    title = "OneRoster 1.1 / 1.2 CSV bundle (folder or zip)"

    def detect(self, path: Path, options: dict) -> bool:
        names = member_names(path)
        if "users.csv" not in names:
            return False
        if "manifest.csv" in names and "oneroster.version" in _manifest_text(path, names["manifest.csv"]):
            return True
        return _is_users_heading(first_line(path, names["users.csv"]))

    def read(self, path: Path, options: dict) -> RosterData:
        data = RosterData(source="oneroster")
        today = options.get("today") or datetime.now(UTC).date()
        reader = _Reader(Bundle(path), data, today)
        full = reader.manifest()
        reader.orgs()
        reader.users(full)
        return data


def _manifest_text(path: Path, member: str) -> str:
    if path.is_dir():
        return (path / member).read_text(encoding="utf-8", errors="replace")[:4096]
    with zipfile.ZipFile(path) as zf, zf.open(member) as handle:
        return handle.read(4096).decode("utf-8", errors="replace")
