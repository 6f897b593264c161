"""The Wonde API (UK MIS aggregator): a school's current pupils with their contacts, its
leavers and its staff, read over HTTPS with the shared client (``auditor.http``).

Only ``auditor roster wonde`` calls this; nothing else in auditor reaches Wonde. The bearer
token comes from ``AUDITOR_WONDE_TOKEN`` or the config's ``[wonde] token``; it is sent in the
Authorization header only, never logged, printed or stored (the roster's source is recorded
as ``wonde:<school id>`` with a hash of the pages read). Paging follows
``meta.pagination.next`` and refuses a next page on another host (the token would go with it).

Layout (Wonde API v1.0, as its public clients and integrations show it; a field a token has
no scope for comes back null, so a null date of birth means "not shared", not "unknown"):

- ``GET /schools/{id}``: ``data`` {``id``, ``name``, ``urn``, ``la_code``, ``establishment_number``};
- ``GET /schools/{id}/students?include=contacts,contacts.contact_details,contact_details,
  extended_details,education_details``: ``data`` [student], ``meta.pagination.next``;
  a student has ``id``, ``mis_id``, ``upi``, ``forename``/``surname`` (preferred),
  ``legal_forename``/``legal_surname``, ``middle_names``, ``gender``, ``date_of_birth``
  ({``date``: ``YYYY-MM-DD HH:MM:SS.000000``, ``timezone``…} or a plain string), includes
  wrapped as ``{"data": …}``; the UPN and admission/leaving dates are read from the student,
  ``education_details`` or ``extended_details``, whichever carries them;
- a contact (through a student) adds ``relationship`` {``relationship``,
  ``parental_responsibility``, ``priority``, ``lives_with_pupil``, …} and
  ``contact_details.data`` {``emails``: {email, primary, home, work}, ``phones``: {phone,
  primary, home, work, mobile}};
- ``GET /schools/{id}/students-leaver``: same shape; a leaver with no leaving date is given
  the date of the import;
- ``GET /schools/{id}/employees?include=employment_details,contact_details``: staff.

A Wonde sync is the school's whole roster: pupils on roll before and missing now have left.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from auditor.errors import ConfigError, NetworkError
from auditor.http import ApiClient, ApiResponse, MalformedResponse
from auditor.roster import (
    RosterData,
    RosterLink,
    RosterPerson,
    RosterSchool,
    RowIssue,
    normalise_relationship,
    normalise_sex,
    parse_bool,
    parse_date,
    upn_problem,
)

DEFAULT_API_URL = "https://api.wonde.com/v1.0/"
TOKEN_ENV = "AUDITOR_WONDE_TOKEN"
STUDENT_INCLUDES = "contacts,contacts.contact_details,contact_details,extended_details,education_details"
EMPLOYEE_INCLUDES = "employment_details,contact_details"
PER_PAGE = 200
MAX_PAGES = 5000


def token_from(config_wonde: dict | None, environ: dict) -> str:
    """The token from the environment, else the config; a clear error when neither has one."""
    token = (environ.get(TOKEN_ENV) or (config_wonde or {}).get("token") or "").strip()
    if not token:
        raise ConfigError(f"no Wonde token: set {TOKEN_ENV} or [wonde] token in the config")
    return token


def _unwrap(value: Any) -> Any:
    """Wonde wraps includes as {"data": ...}."""
    if isinstance(value, dict) and set(value) <= {"data", "meta"} and "data" in value:
        return value["data"]
    return value


def _date(value: Any) -> date | None:
    if isinstance(value, dict):
        value = value.get("date")
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_date(value.strip()[:10])
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _first(sources: list[dict], *keys: str) -> Any:
    for source in sources:
        for key in keys:
            if isinstance(source, dict) and source.get(key) not in (None, "", {}):
                return source[key]
    return None


def _details(obj: dict) -> tuple[list[str], list[str]]:
    """Phones and e-mail addresses from ``contact_details``."""
    details = _unwrap(obj.get("contact_details")) or {}
    if not isinstance(details, dict):
        return [], []
    phones_obj = details.get("phones") or {}
    emails_obj = details.get("emails") or {}
    phones = [v.strip() for v in phones_obj.values() if isinstance(v, str) and v.strip()] \
        if isinstance(phones_obj, dict) else []
    emails = [v.strip() for v in emails_obj.values() if isinstance(v, str) and "@" in v] \
        if isinstance(emails_obj, dict) else []
    return list(dict.fromkeys(phones)), list(dict.fromkeys(emails))


class WondeReader:
    """Fetch one school and turn it into roster data."""

    def __init__(self, client: ApiClient, school_id: str, today: date, digest: Any) -> None:
        self.client, self.school_id, self.today, self.digest = client, school_id, today, digest
        self.base = urlsplit(client.url("schools"))
        self.data = RosterData(source="wonde")
        self.label = f"wonde:{school_id}"
        self.contacts: dict[str, RosterPerson] = {}

    def issue(self, where: str, message: str) -> None:
        self.data.issues.append(RowIssue(f"{self.label}/{where}", None, message))

    def pages(self, path: str, params: dict) -> Iterator[dict]:
        url: str | None = path
        query: dict | None = {**params, "per_page": PER_PAGE}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self.client.get_json(url, params=query)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise MalformedResponse(f"wonde: {path} did not answer with a data list",
                                        hint="check --api-url and the school id")
            yield from (item for item in body["data"] if isinstance(item, dict))
            pagination = (body.get("meta") or {}).get("pagination") or {}
            next_url = pagination.get("next") if isinstance(pagination, dict) else None
            if not next_url:
                return
            target = urlsplit(self.client.url(next_url))
            if (target.scheme, target.netloc) != (self.base.scheme, self.base.netloc):
                raise NetworkError(f"wonde: {path} pointed its next page at another host; stopped "
                                   "(the token is only sent to the API address)")
            if next_url in seen:
                raise NetworkError(f"wonde: {path} returned the same next page twice; stopped")
            seen.add(next_url)
            url, query = next_url, None
        raise NetworkError(f"wonde: {path} has more than {MAX_PAGES} pages; stopped")

    def read(self) -> RosterData:
        school = _unwrap(self.client.get_json(f"schools/{self.school_id}"))
        if not isinstance(school, dict):
            raise MalformedResponse(f"wonde: schools/{self.school_id} did not answer with a school")
        urn, la, estab = (str(school.get(k) or "").strip() or None for k in ("urn", "la_code", "establishment_number"))
        self.data.schools.append(RosterSchool(ref=self.school_id, name=_text(school.get("name")), urn=urn, la=la,
                                              estab=estab))
        for student in self.pages(f"schools/{self.school_id}/students", {"include": STUDENT_INCLUDES}):
            self.pupil(student, leaver=False)
        for student in self.pages(f"schools/{self.school_id}/students-leaver", {"include": STUDENT_INCLUDES}):
            self.pupil(student, leaver=True)
        for employee in self.pages(f"schools/{self.school_id}/employees", {"include": EMPLOYEE_INCLUDES}):
            self.employee(employee)
        self.data.people.extend(self.contacts.values())
        self.data.complete_schools.add(self.school_id)
        self.data.files.append((self.label, self.digest.hexdigest()))
        return self.data

    def _names(self, obj: dict) -> dict:
        legal_forename = _text(obj.get("legal_forename")) or _text(obj.get("forename"))
        legal_surname = _text(obj.get("legal_surname")) or _text(obj.get("surname"))
        return dict(legal_forename=legal_forename, legal_surname=legal_surname,
                    preferred_forename=_text(obj.get("forename")), preferred_surname=_text(obj.get("surname")),
                    middle_names=_text(obj.get("middle_names")))

    def pupil(self, student: dict, leaver: bool) -> None:
        ref = _text(student.get("id"))
        where = "students-leaver" if leaver else "students"
        if not ref:
            self.issue(where, "a student without an id; skipped")
            return
        extra = [student, _unwrap(student.get("education_details")) or {}, _unwrap(student.get("extended_details")) or {}]
        upn = _text(_first(extra, "upn"))
        upn = upn.upper() if upn else None
        if upn and (problem := upn_problem(upn)):
            self.issue(where, f"student {ref}: UPN {upn}: {problem} (kept)")
        dob = _date(student.get("date_of_birth"))
        if dob is None:
            self.issue(where, f"student {ref} has no date of birth (none shared: check the token's scopes)")
        end = _date(_first(extra, "leaving_date", "date_of_leaving", "end_date"))
        reason = None
        if leaver and end is None:
            end, reason = self.today, "in Wonde's leavers, no leaving date given"
        year = _first(extra, "year_group", "current_nc_year", "nc_year")
        self.data.people.append(RosterPerson(
            ref=ref, kind="pupil", upn=upn, date_of_birth=dob, sex=normalise_sex(_text(student.get("gender"))),
            school_ref=self.school_id, year_group=str(year) if isinstance(year, (str, int)) else None,
            start_date=_date(_first(extra, "admission_date", "date_of_admission", "start_date")), end_date=end,
            leaving_reason=reason, **self._names(student)))
        contacts = _unwrap(student.get("contacts")) or []
        for position, contact in enumerate(contacts if isinstance(contacts, list) else [], start=1):
            if isinstance(contact, dict):
                self.contact(ref, position, contact, where)

    def contact(self, pupil_ref: str, position: int, contact: dict, where: str) -> None:
        ref = _text(contact.get("id"))
        if not ref:
            self.issue(where, f"student {pupil_ref}: contact {position} has no id; skipped")
            return
        phones, emails = _details(contact)
        if ref not in self.contacts:
            names = self._names(contact)
            self.contacts[ref] = RosterPerson(ref=ref, kind="contact", title=_text(contact.get("title")),
                                              phones=phones, emails=emails, **names)
        else:
            person = self.contacts[ref]
            person.phones += [p for p in phones if p not in person.phones]
            person.emails += [e for e in emails if e not in person.emails]
        relation = _unwrap(contact.get("relationship")) or {}
        if not isinstance(relation, dict):
            relation = {"relationship": relation}
        raw = _text(relation.get("relationship")) or _text(relation.get("type"))
        relationship = normalise_relationship(raw)
        if raw and relationship is None:
            self.issue(where, f"student {pupil_ref}: contact {ref}: unknown relationship {raw!r} (kept as 'other')")
            relationship = "other"
        priority = relation.get("priority")
        responsible = relation.get("parental_responsibility")
        self.data.links.append(RosterLink(
            pupil_ref=pupil_ref, contact_ref=ref, relationship_raw=raw, relationship=relationship,
            parental_responsibility=responsible if isinstance(responsible, bool) else parse_bool(_text(responsible)),
            priority=int(priority) if isinstance(priority, int) or (isinstance(priority, str) and priority.isdigit())
            else None))

    def employee(self, employee: dict) -> None:
        ref = _text(employee.get("id"))
        if not ref:
            self.issue("employees", "an employee without an id; skipped")
            return
        phones, emails = _details(employee)
        employment = _unwrap(employee.get("employment_details")) or {}
        if isinstance(employment, list):
            employment = next((e for e in employment if isinstance(e, dict)), {})
        job = _first([employment, employee], "job_title", "role", "staff_role", "post")
        names = self._names(employee)
        self.data.people.append(RosterPerson(
            ref=ref, kind="staff", title=_text(employee.get("title")), school_ref=self.school_id,
            job_title=_text(job), emails=emails, phones=phones,
            **{k: v for k, v in names.items() if k != "preferred_surname"}))


def fetch_roster(school_id: str, token: str, api_url: str | None = None, *, today: date | None = None,
                 client_factory: Callable[..., ApiClient] = ApiClient) -> RosterData:
    """Read one school's roster from Wonde (students, leavers, employees)."""
    if not school_id.strip() or "/" in school_id or "?" in school_id:
        raise ConfigError("--school must be the Wonde school id (for example A1234567890)")
    digest = hashlib.sha256()  # of every page read: the roster's provenance

    def note(response: ApiResponse) -> None:
        digest.update(response.content)

    with client_factory("wonde", base_url=api_url or DEFAULT_API_URL, bearer_token=token, concurrency=1,
                        on_response=note) as client:
        return WondeReader(client, school_id.strip(), today or datetime.now(UTC).date(), digest).read()
