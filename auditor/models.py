"""The canonical data model: SQLAlchemy Core tables.

People come from the roster (pupils, past pupils, parents and carers, staff); accounts and
connections come from staff exports; match candidates link accounts to people; an audit run
turns them into findings under a policy; review decisions and exemptions are the DSL's own
records and outlive any single audit. Every path reads and writes the Core tables
(``Model.__table__``); the classes only name them and say what they hold. (Plain Core, not an
ORM: the CLI starts in a third of a second less, and the column types do not change with the
version of a model library.)
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, Column, Date, Float, ForeignKey, Integer, MetaData, String, Table, UniqueConstraint
from sqlalchemy.types import DateTime, TypeDecorator

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored in UTC and returned in UTC (a database without time zones, like
    SQLite, stores UTC without an offset). A naive datetime is refused: its zone is unknown."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("a datetime without a time zone cannot be stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


class Setting:
    """Small key/value facts about this database (schema version, chosen policy, salts)."""

    __table__ = Table(
        "setting", metadata,
        Column("key", String(100), primary_key=True),
        Column("value", String, nullable=False),
    )


class SchemaMigration:
    __table__ = Table(
        "schemamigration", metadata,
        Column("name", String(200), primary_key=True),
        Column("applied_at", UTCDateTime(), nullable=False),
    )


class School:
    __table__ = Table(
        "school", metadata,
        Column("id", Integer, primary_key=True),
        Column("ref", String(100), nullable=False, index=True, unique=True),
        Column("name", String),
        Column("urn", String),
        Column("la", String),
        Column("estab", String),
    )


class Person:
    """Anyone on the roster. ``ref`` is the source"s own id (pupil_id, contact_id, staff_id,
    UPN), the only thing people are merged on."""

    __table__ = Table(
        "person", metadata,
        Column("id", Integer, primary_key=True),
        Column("ref", String(200), nullable=False, index=True, unique=True),
        Column("kind", String, nullable=False, index=True),  # pupil | contact | staff
        Column("title", String),
        Column("legal_forename", String),
        Column("legal_surname", String),
        Column("preferred_forename", String),
        Column("preferred_surname", String),
        Column("middle_names", String),
        Column("former_surname", String),
        Column("date_of_birth", Date),
        Column("sex", String),
        Column("upn", String, index=True),
        Column("source", String),  # csv | ctf | oneroster | sds | wonde
        Column("vulnerable", Boolean, nullable=False, default=False),
    )


class Role:
    """A person"s role at a school, with dates: a pupil role with a leaving date in the past
    makes a past pupil."""

    __table__ = Table(
        "role", metadata,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("school_id", Integer, ForeignKey("school.id")),
        Column("role", String, nullable=False),  # pupil | contact | staff
        Column("start_date", Date),
        Column("end_date", Date),
        Column("year_group", String),
        Column("job_title", String),
        Column("leaving_reason", String),
    )


class PupilContact:
    """One contact–pupil link (a parent of three pupils has three links)."""

    __table__ = Table(
        "pupilcontact", metadata,
        Column("id", Integer, primary_key=True),
        Column("pupil_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("contact_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("relationship_raw", String),
        Column("relationship", String),  # normalised: parent, step_parent, carer, grandparent, ...
        Column("parental_responsibility", Boolean),
        Column("priority", Integer),
        UniqueConstraint("pupil_id", "contact_id"),
    )


class ContactPoint:
    """A phone (E.164) or e-mail address (lower case) held for a roster person."""

    __table__ = Table(
        "contactpoint", metadata,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("kind", String, nullable=False),  # phone | email
        Column("value", String, nullable=False, index=True),
    )


class StaffAccount:
    """An account a member of staff owns: declared by them, or named as the owner of an
    export they submitted."""

    __table__ = Table(
        "staffaccount", metadata,
        Column("id", Integer, primary_key=True),
        Column("staff_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("platform", String, nullable=False),
        Column("username", String),
        Column("display_name", String),
        Column("platform_id", String),
        Column("source", String, nullable=False, default="declared"),  # declared | export_owner
        Column("file_id", Integer, ForeignKey("importedfile.id", ondelete="CASCADE")),
    )


class ImportRun:
    __table__ = Table(
        "importrun", metadata,
        Column("id", Integer, primary_key=True),
        Column("kind", String, nullable=False),  # export | roster | fetch | exemptions
        Column("started_at", UTCDateTime(), nullable=False),
        Column("finished_at", UTCDateTime()),
        Column("status", String, nullable=False, default="running"),  # running | done | failed
        Column("tool_version", String, nullable=False),
        Column("actor", String),
        Column("summary", JSON),
    )


class ImportedFile:
    """A file given to the tool (zip, folder or loose file), identified by its sha256.
    The same file for the same member of staff is imported once."""

    __table__ = Table(
        "importedfile", metadata,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("importrun.id"), nullable=False),
        Column("staff_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True),
        Column("kind", String, nullable=False, default="export"),  # export | roster | fetch
        Column("path", String, nullable=False),  # as given on the command line or in the manifest
        Column("sha256", String(64), nullable=False, index=True),
        Column("platform", String),
        Column("layout", String),
        Column("rows", Integer, nullable=False, default=0),
        Column("skipped", Integer, nullable=False, default=0),
        Column("warnings", JSON),
        Column("members", JSON),  # [{member, sha256, layout, rows}]
        Column("owner", JSON),  # {name, username, platform_id} named by the export itself
        Column("exported_at", UTCDateTime()),
        Column("imported_at", UTCDateTime(), nullable=False),
        Column("purged_at", UTCDateTime()),
        UniqueConstraint("staff_id", "sha256", "kind"),
    )


class Account:
    """A contact account as an export shows it. ``key`` is a digest of everything the export
    says about it, so identical appearances share one row and one match."""

    __table__ = Table(
        "account", metadata,
        Column("id", Integer, primary_key=True),
        Column("platform", String(40), nullable=False),
        Column("key", String(64), nullable=False),
        Column("username", String),
        Column("display_name_raw", String),
        Column("display_name", String),
        Column("profile_url", String),
        Column("platform_id", String),
        Column("phones", JSON),
        Column("emails", JSON),
        Column("matched_state", String),
        Column("purged", Boolean, nullable=False, default=False),
        UniqueConstraint("platform", "key"),
    )


class Connection:
    """One row of an export: this member of staff is connected to this account in this way."""

    __table__ = Table(
        "connection", metadata,
        Column("id", Integer, primary_key=True),
        Column("file_id", Integer, ForeignKey("importedfile.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("staff_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
        Column("account_id", Integer, ForeignKey("account.id"), nullable=False, index=True),
        Column("kind", String, nullable=False),
        Column("direction", String, nullable=False),  # mutual | incoming | outgoing | none
        Column("connected_at", UTCDateTime()),
        Column("member", String),
        Column("layout", String),
        Column("extra", JSON),
    )


class MatchCandidate:
    """A roster person an account may be, with the weight of every comparison."""

    __table__ = Table(
        "matchcandidate", metadata,
        Column("id", Integer, primary_key=True),
        Column("account_id", Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("person_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("weight", Float, nullable=False),
        Column("probability", Float, nullable=False),
        Column("band", String, nullable=False),  # probable | needs_review | no_link
        Column("evidence", JSON),  # [{comparison, level, weight}]
        Column("reading", String),
        Column("ambiguous", Boolean, nullable=False, default=False),
        Column("pieces", Integer, nullable=False, default=0),  # independent agreeing pieces of evidence (probable needs two)
        Column("year_agrees", Boolean, nullable=False, default=False),  # a birth year agrees and the forename is written in full
        # nothing beyond the name (no year, middle name, phone or e-mail)
        Column("name_only", Boolean, nullable=False, default=True),
        Column("colleague", Boolean, nullable=False, default=False),  # a member of staff fits as well: never a finding
        Column("state", String),
    )


class AuditRun:
    __table__ = Table(
        "auditrun", metadata,
        Column("id", Integer, primary_key=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("as_of", Date, nullable=False),
        Column("policy_name", String, nullable=False),
        Column("policy_version", String, nullable=False),
        Column("tool_version", String, nullable=False),
        Column("roster_version", String),
        Column("inputs_digest", String),  # what the findings were computed from (JSON; see audit.inputs_record)
        Column("previous_id", Integer, ForeignKey("auditrun.id")),
        Column("status", String, nullable=False, default="running"),  # running | done
        Column("summary", JSON),
    )


class Finding:
    """One forbidden (or reportable) connection: per staff, person, account and kind."""

    __table__ = Table(
        "finding", metadata,
        Column("id", Integer, primary_key=True),
        Column("audit_id", Integer, ForeignKey("auditrun.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("key", String(64), nullable=False, index=True),
        Column("staff_id", Integer, ForeignKey("person.id"), nullable=False),
        Column("person_id", Integer, ForeignKey("person.id")),
        Column("person_role", String, nullable=False),
        Column("rule", String, nullable=False),
        Column("clause", String, nullable=False),
        Column("severity", String, nullable=False),  # breach | report | advisory
        Column("status", String, nullable=False),  # probable | needs_review | excepted | confirmed | dismissed
        Column("confidence", Float, nullable=False),
        Column("platform", String, nullable=False),
        Column("relationship", String, nullable=False),
        Column("account_id", Integer, ForeignKey("account.id")),
        Column("display_name", String),
        Column("username", String),
        Column("profile_url", String),
        Column("file_sha256", String),
        Column("member", String),
        Column("connected_at", UTCDateTime()),
        Column("explanation", JSON),
        Column("evidence_fingerprint", String),
        Column("detail", JSON),  # alternatives, exemption, decision, group, corroboration
        UniqueConstraint("audit_id", "key"),
    )


class ReviewDecision:
    """A DSL"s decision on a finding, kept across audits by the finding"s stable key."""

    __table__ = Table(
        "reviewdecision", metadata,
        Column("id", Integer, primary_key=True),
        Column("finding_key", String(64), nullable=False, index=True),
        Column("decision", String, nullable=False),  # confirmed | dismissed | excepted
        Column("reason", String, nullable=False),
        Column("actor", String, nullable=False),
        Column("decided_at", UTCDateTime(), nullable=False),
        Column("evidence_fingerprint", String),
    )


class Exemption:
    __table__ = Table(
        "exemption", metadata,
        Column("id", Integer, primary_key=True),
        Column("staff_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("person_id", Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("relationship", String, nullable=False),
        Column("approved_by", String, nullable=False),
        Column("reason", String),
        Column("review_date", Date, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("expired_at", UTCDateTime()),
    )


class AuditLog:
    """Append-only, hash-chained record of what was done, by whom and why."""

    __table__ = Table(
        "auditlog", metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime(), nullable=False),
        Column("actor", String, nullable=False),
        Column("action", String, nullable=False),
        Column("subject", String),
        Column("details", JSON),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )
