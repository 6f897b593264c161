"""Microsoft School Data Sync (SDS) v2.1 CSV files, as a folder or a zip.

Many UK schools already produce these for Microsoft 365, so the roster can come from the
same files. Layout (SDS v2.1, 2021–; Microsoft's published samples, case-sensitive headings):

- ``orgs.csv``: ``sourcedId, name, type, parentSourcedId`` (type ``school`` is a school);
- ``users.csv``: ``sourcedId, username, givenName, familyName, password,
  activeDirectoryMatchId, email, phone, sms`` (optional ``middleName``);
- ``roles.csv``: ``userSourcedId, orgSourcedId, role, sessionSourcedId, grade, isPrimary,
  roleStartDate, roleEndDate`` — a student role with an end date is a past pupil;
- ``relationships.csv``: ``userSourcedId`` (the student), ``relationshipUserSourcedId`` (the
  contact), ``relationshipRole`` (parent, guardian, relative, other, doctor, aide, ...);
- ``demographics.csv``: ``userSourcedId, sex, birthDate, ...``.

No ``manifest.csv`` (that, or ``roleType`` in roles.csv, is OneRoster 1.2). Microsoft's
samples write dates month first (``8/24/2021``); the order is read from the values when one
settles it, else from ``[roster] date_order``, else day first with a warning. An SDS upload
is always the full set, so its schools' pupils missing from it have left.
"""

from __future__ import annotations

from pathlib import Path

from auditor.connectors.roster.bundle import Bundle, first_line, member_names
from auditor.connectors.roster.oneroster import school_ids_from
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
    looks_like_upn,
    normalise_relationship,
    normalise_sex,
    parse_date,
)

ALIASES = {"birthdate": ["birthdate", "dateOfBirth"]}


@roster_connectors.register("sds")
class SchoolDataSync(RosterConnector):
    name = "sds"
    title = "Microsoft School Data Sync v2.1 CSV (folder or zip)"

    def detect(self, path: Path, options: dict) -> bool:
        names = member_names(path)
        if not {"users.csv", "roles.csv"} <= names.keys():
            return False
        keys = {k.strip().lower() for k in first_line(path, names["roles.csv"]).split(",")}
        return "usersourcedid" in keys and "roletype" not in keys and "sourcedid" not in keys

    def read(self, path: Path, options: dict) -> RosterData:
        data = RosterData(source="sds")
        bundle = Bundle(path)
        label = bundle.label

        def issue(file: str, row: int | None, message: str) -> None:
            data.issues.append(RowIssue(f"{label}/{file}", row, message))

        users = bundle.table("users.csv")
        roles = bundle.table("roles.csv")
        if users is None or roles is None:
            raise InputError(f"{label}: SDS needs users.csv and roles.csv")
        data.files.append((label, bundle.sha256))
        orgs = bundle.table("orgs.csv")
        schools = {}
        for row in orgs.rows if orgs else []:
            if row.get("sourcedid") and row.get("type", "school").lower() == "school":
                schools[row["sourcedid"]] = RosterSchool(ref=row["sourcedid"], name=row.get("name") or None,
                                                         **school_ids_from(row.get("identifier", "")))
        data.schools.extend(schools.values())
        demographics = bundle.table("demographics.csv", ALIASES)
        relationships = bundle.table("relationships.csv")

        values = [r.get(k, "") for r in roles.rows for k in ("rolestartdate", "roleenddate")]
        values += [r.get("birthdate", "") for r in (demographics.rows if demographics else [])]
        order = str(options.get("date_order", "")).lower() or infer_date_order(values)
        if order not in ("dmy", "mdy"):
            order = "dmy"
            if any("/" in v for v in values if v):
                issue("roles.csv", None, "numeric dates could be day or month first: read day first "
                                         "(set [roster] date_order = \"mdy\" if they are month first)")

        def when(value: str, file: str, row: int, column: str):
            try:
                return parse_date(value, order)
            except ValueError:
                issue(file, row, f"{column} {value!r} is not a date")
                return None

        user_rows = {}
        for number, row in enumerate(users.rows, start=2):
            sid = row.get("sourcedid", "")
            if not sid:
                if row:
                    issue("users.csv", number, "no sourcedId; row skipped")
                continue
            if sid in user_rows:
                issue("users.csv", number, f"duplicate sourcedId {sid}; later row skipped")
                continue
            user_rows[sid] = (number, row)
        births = {}
        for number, row in enumerate(demographics.rows if demographics else [], start=2):
            if row.get("usersourcedid"):
                births[row["usersourcedid"]] = (row, when(row.get("birthdate", ""), "demographics.csv", number,
                                                          "birthDate"))
        role_rows: dict[str, list[tuple[int, dict]]] = {}
        for number, row in enumerate(roles.rows, start=2):
            if row.get("usersourcedid"):
                role_rows.setdefault(row["usersourcedid"], []).append((number, row))
        contact_roles = {}
        for number, row in enumerate(relationships.rows if relationships else [], start=2):
            student, contact = row.get("usersourcedid", ""), row.get("relationshipusersourcedid", "")
            if not student or not contact:
                continue
            for ref, what in ((student, "student"), (contact, "contact")):
                if ref not in user_rows:
                    issue("relationships.csv", number, f"{what} {ref} is not in users.csv")
            raw = row.get("relationshiprole") or None
            relationship = normalise_relationship(raw)
            if raw and relationship is None:
                issue("relationships.csv", number, f"unknown relationshipRole {raw!r} (kept as 'other')")
                relationship = "other"
            contact_roles.setdefault(contact, raw)
            data.links.append(RosterLink(pupil_ref=student, contact_ref=contact, relationship_raw=raw,
                                         relationship=relationship))

        for sid, (number, row) in user_rows.items():
            names = dict(legal_forename=row.get("givenname") or None, legal_surname=row.get("familyname") or None,
                         middle_names=row.get("middlename") or None,
                         preferred_forename=row.get("preferredgivenname") or None,
                         preferred_surname=row.get("preferredfamilyname") or None)
            demo, dob = births.get(sid, ({}, None))
            phones = [v for v in (row.get("phone"), row.get("sms")) if v]
            emails = [row["email"]] if row.get("email") else []
            own_roles = role_rows.get(sid, [])
            students = [(n, r) for n, r in own_roles if r.get("role", "").lower() == "student"]
            if students:
                if dob is None and not demo.get("birthdate"):
                    issue("users.csv", number, f"pupil {sid} has no birthDate in demographics.csv "
                                               "(ages cannot be checked)")
                identifier = (row.get("identifier") or row.get("studentnumber") or "").upper()
                for role_number, role in students:
                    school = role.get("orgsourcedid") or None
                    data.people.append(RosterPerson(
                        ref=sid, kind="pupil", upn=identifier if looks_like_upn(identifier) else None,
                        date_of_birth=dob, sex=normalise_sex(demo.get("sex")), school_ref=school,
                        year_group=role.get("grade") or None,
                        start_date=when(role.get("rolestartdate", ""), "roles.csv", role_number, "roleStartDate"),
                        end_date=when(role.get("roleenddate", ""), "roles.csv", role_number, "roleEndDate"),
                        **names))
                    if school:
                        data.complete_schools.add(school)
            elif sid in contact_roles:
                data.people.append(RosterPerson(ref=sid, kind="contact", phones=phones, emails=emails, **names))
            elif own_roles:
                for _, role in own_roles:
                    school = role.get("orgsourcedid")
                    data.people.append(RosterPerson(
                        ref=sid, kind="staff", school_ref=school if school in schools else None,
                        job_title=role.get("role") or None, emails=emails, phones=phones, **names))
            else:
                issue("users.csv", number, f"user {sid} has no role and no pupil; skipped")
        return data
