"""The canonical data model (SQLModel tables).

People come from the roster (pupils, past pupils, parents and carers, staff); accounts and
connections come from staff exports; match candidates link accounts to people; an audit run
turns them into findings under a policy; review decisions and exemptions are the DSL's own
records and outlive any single audit. Bulk paths use the Core tables (``Model.__table__``)
for speed; the ORM classes document the shape and serve the small paths.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json(default: Any = None) -> Any:
    return Field(default=default, sa_column=Column(JSON, nullable=True))


class Setting(SQLModel, table=True):
    """Small key/value facts about this database (schema version, chosen policy, salts)."""

    key: str = Field(primary_key=True, max_length=100)
    value: str


class SchemaMigration(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=200)
    applied_at: datetime


class School(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=100)
    name: str | None = None
    urn: str | None = None
    la: str | None = None
    estab: str | None = None


class Person(SQLModel, table=True):
    """Anyone on the roster. ``ref`` is the source's own id (pupil_id, contact_id, staff_id,
    UPN), the only thing people are merged on."""

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=200)
    kind: str = Field(index=True)  # pupil | contact | staff
    title: str | None = None
    legal_forename: str | None = None
    legal_surname: str | None = None
    preferred_forename: str | None = None
    preferred_surname: str | None = None
    middle_names: str | None = None
    former_surname: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    upn: str | None = Field(default=None, index=True)
    source: str | None = None  # csv | ctf | oneroster | sds | wonde
    vulnerable: bool = False


class Role(SQLModel, table=True):
    """A person's role at a school, with dates: a pupil role with a leaving date in the past
    makes a past pupil."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    school_id: int | None = Field(default=None, foreign_key="school.id")
    role: str  # pupil | contact | staff
    start_date: date | None = None
    end_date: date | None = None
    year_group: str | None = None
    job_title: str | None = None
    leaving_reason: str | None = None


class PupilContact(SQLModel, table=True):
    """One contact–pupil link (a parent of three pupils has three links)."""

    __table_args__ = (UniqueConstraint("pupil_id", "contact_id"),)
    id: int | None = Field(default=None, primary_key=True)
    pupil_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    contact_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    relationship_raw: str | None = None
    relationship: str | None = None  # normalised: parent, step_parent, carer, grandparent, ...
    parental_responsibility: bool | None = None
    priority: int | None = None


class ContactPoint(SQLModel, table=True):
    """A phone (E.164) or e-mail address (lower case) held for a roster person."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    kind: str  # phone | email
    value: str = Field(index=True)


class StaffAccount(SQLModel, table=True):
    """An account a member of staff owns: declared by them, or named as the owner of an
    export they submitted."""

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    platform: str
    username: str | None = None
    display_name: str | None = None
    platform_id: str | None = None
    source: str = "declared"  # declared | export_owner
    file_id: int | None = Field(default=None, foreign_key="importedfile.id", ondelete="CASCADE")


class ImportRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str  # export | roster | fetch | exemptions
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # running | done | failed
    tool_version: str
    actor: str | None = None
    summary: Any = _json()


class ImportedFile(SQLModel, table=True):
    """A file given to the tool (zip, folder or loose file), identified by its sha256.
    The same file for the same member of staff is imported once."""

    __table_args__ = (UniqueConstraint("staff_id", "sha256", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="importrun.id")
    staff_id: int | None = Field(default=None, foreign_key="person.id", index=True, ondelete="CASCADE")
    kind: str = "export"  # export | roster | fetch
    path: str  # as given on the command line or in the manifest
    sha256: str = Field(index=True, max_length=64)
    platform: str | None = None
    layout: str | None = None
    rows: int = 0
    skipped: int = 0
    warnings: Any = _json([])
    members: Any = _json([])  # [{member, sha256, layout, rows}]
    owner: Any = _json()  # {name, username, platform_id} named by the export itself
    exported_at: datetime | None = None
    imported_at: datetime
    purged_at: datetime | None = None


class Account(SQLModel, table=True):
    """A contact account as an export shows it. ``key`` is a digest of everything the export
    says about it, so identical appearances share one row and one match."""

    __table_args__ = (UniqueConstraint("platform", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=40)
    key: str = Field(max_length=64)
    username: str | None = None
    display_name_raw: str | None = None
    display_name: str | None = None
    profile_url: str | None = None
    platform_id: str | None = None
    phones: Any = _json([])
    emails: Any = _json([])
    matched_state: str | None = None
    purged: bool = False


class Connection(SQLModel, table=True):
    """One row of an export: this member of staff is connected to this account in this way."""

    id: int | None = Field(default=None, primary_key=True)
    file_id: int = Field(foreign_key="importedfile.id", index=True, ondelete="CASCADE")
    staff_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", index=True)
    kind: str
    direction: str  # mutual | incoming | outgoing | none
    connected_at: datetime | None = None
    member: str | None = None
    layout: str | None = None
    extra: Any = _json()


class MatchCandidate(SQLModel, table=True):
    """A roster person an account may be, with the weight of every comparison."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    weight: float
    probability: float
    band: str  # probable | needs_review | no_link
    evidence: Any = _json([])  # [{comparison, level, weight}]
    reading: str | None = None
    ambiguous: bool = False
    pieces: int = 0  # independent agreeing pieces of evidence (probable needs two)
    year_agrees: bool = False  # a birth year agrees and the forename is written in full
    name_only: bool = True  # nothing beyond the name (no year, middle name, phone or e-mail)
    colleague: bool = False  # a member of staff fits as well: never a finding
    state: str | None = None


class AuditRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime
    as_of: date
    policy_name: str
    policy_version: str
    tool_version: str
    roster_version: str | None = None
    inputs_digest: str | None = None  # what the findings were computed from (JSON; see audit.inputs_record)
    previous_id: int | None = Field(default=None, foreign_key="auditrun.id")
    status: str = "running"  # running | done
    summary: Any = _json()


class Finding(SQLModel, table=True):
    """One forbidden (or reportable) connection: per staff, person, account and kind."""

    __table_args__ = (UniqueConstraint("audit_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(foreign_key="auditrun.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=64, index=True)
    staff_id: int = Field(foreign_key="person.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    person_role: str
    rule: str
    clause: str
    severity: str  # breach | report | advisory
    status: str  # probable | needs_review | excepted | confirmed | dismissed
    confidence: float
    platform: str
    relationship: str
    account_id: int | None = Field(default=None, foreign_key="account.id")
    display_name: str | None = None
    username: str | None = None
    profile_url: str | None = None
    file_sha256: str | None = None
    member: str | None = None
    connected_at: datetime | None = None
    explanation: Any = _json([])
    evidence_fingerprint: str | None = None
    detail: Any = _json()  # alternatives, exemption, decision, group, corroboration


class ReviewDecision(SQLModel, table=True):
    """A DSL's decision on a finding, kept across audits by the finding's stable key."""

    id: int | None = Field(default=None, primary_key=True)
    finding_key: str = Field(max_length=64, index=True)
    decision: str  # confirmed | dismissed | excepted
    reason: str
    actor: str
    decided_at: datetime
    evidence_fingerprint: str | None = None


class Exemption(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    relationship: str
    approved_by: str
    reason: str | None = None
    review_date: date
    created_at: datetime
    expired_at: datetime | None = None


class AuditLog(SQLModel, table=True):
    """Append-only, hash-chained record of what was done, by whom and why."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str
    action: str
    subject: str | None = None
    details: Any = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
