"""LinkedIn "Get a copy of your data" (``Basic_``/``Complete_LinkedInDataExport_<date>.zip``).

Layout history, from ../shared/research/formats.md §7 and the real-structures corpus:

| layout            | years    | member and shape                                                          |
|-------------------|----------|---------------------------------------------------------------------------|
| linkedin-2018     | ≤2019    | Connections.csv, no preamble, header First Name,Last Name,Email Address,   |
|                   |          | Company,Position,Connected On; dates ``1/8/18, 6:14 PM`` (US order)       |
| linkedin-2020     | 2020–now | Connections.csv after a ``Notes:`` preamble (a quoted sentence, blank     |
|                   |          | lines); header adds URL; dates ``12 Jan 2023``                             |
| linkedin-invitations | any   | Invitations.csv: From,To,Sent At,Message,Direction (INCOMING/OUTGOING)    |
|                   |          | [,inviterProfileUrl,inviteeProfileUrl]                                    |
| linkedin-contacts | any      | Imported Contacts.csv: the address book uploaded to LinkedIn              |

The header row is found by its column names, never by position, so BOMs, CRLF, Excel re-saves
and extra or reordered columns are read alike. A connection row holding only a date (the member
hides their details) is still a row (``extra.hidden``): it is a connection the audit cannot
see. The URL's slug is kept as the username. Invitation messages are free text about third
parties and are not kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.connector import Context, CsvTable, ExportConnector, Handler, Item, decode_text, read_csv_table, sniff_text
from auditor.errors import InputError
from auditor.records import ContactRecord
from auditor.registry import export_connectors
from auditor.text import clean_display_name, normalise_email, normalise_phone, parse_datetime, username_from_url

DATE_FORMATS = ("%d %b %Y", "%m/%d/%y, %I:%M %p", "%m/%d/%Y, %I:%M %p", "%m/%d/%y %I:%M %p", "%d %B %Y",
                "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%m/%d/%y", "%m/%d/%Y", "%d/%m/%Y")


def _is_connections_header(cells: list[str]) -> bool:
    return "first name" in cells and "last name" in cells and "connected on" in cells


def _is_invitations_header(cells: list[str]) -> bool:
    return {"from", "to", "direction"} <= set(cells)


def _is_contacts_header(cells: list[str]) -> bool:
    return "first name" in cells and ("phone numbers" in cells or "full name" in cells) and "connected on" not in cells


def _table(data: bytes, ctx: Context, is_header, what: str) -> CsvTable:
    table = read_csv_table(decode_text(data, ctx), is_header)
    if table is None:
        raise InputError(f"{ctx.label}: {ctx.member} has no {what} header row")
    for line, error in table.problems:
        ctx.warn(f"line {line} could not be read ({error})")
    return table


def _name(first: str, last: str) -> tuple[str | None, str | None]:
    raw = " ".join(p for p in (first.strip(), last.strip()) if p)
    return (clean_display_name(raw), raw or None)


def _slug(url: str) -> str | None:
    url = url.strip()
    return username_from_url(url) if "linkedin.com" in url.lower() else None


def _connections(data: bytes, ctx: Context) -> Iterator[Item]:
    table = _table(data, ctx, _is_connections_header, "Connections.csv")
    layout = "linkedin-2020" if "url" in table.header or table.preamble_lines else "linkedin-2018"
    for _line, row in table.rows:
        name, raw = _name(row.get("first name", ""), row.get("last name", ""))
        url = row.get("url", "").strip()
        email = normalise_email(row.get("email address", ""))
        extra = {k: row[k].strip() for k in ("company", "position") if row.get(k, "").strip()}
        if not (name or url or email):
            extra["hidden"] = True  # the member hides their details: a connection nobody can see
        yield ContactRecord(
            platform="linkedin", kind="connection", display_name=name, display_name_raw=raw,
            username=_slug(url), profile_url=url or None, emails=[email] if email else [],
            connected_at=parse_datetime(row.get("connected on", ""), DATE_FORMATS), layout=layout,
            extra=extra or None,
        )


def _invitations(data: bytes, ctx: Context) -> Iterator[Item]:
    table = _table(data, ctx, _is_invitations_header, "Invitations.csv")
    for position, (line, row) in enumerate(table.rows):
        direction = row.get("direction", "").strip().upper()
        if direction == "INCOMING":
            kind, other, url = "request_received", row.get("from", ""), row.get("inviterprofileurl", "")
        elif direction == "OUTGOING":
            kind, other, url = "request_sent", row.get("to", ""), row.get("inviteeprofileurl", "")
        else:
            yield ctx.problem(f"line {line}: Direction is neither INCOMING nor OUTGOING", position)
            continue
        name = clean_display_name(other)
        url = url.strip()
        if not name and not url:
            yield ctx.problem(f"line {line}: invitation names nobody", position)
            continue
        yield ContactRecord(
            platform="linkedin", kind=kind, display_name=name, display_name_raw=other.strip() or None,
            username=_slug(url), profile_url=url or None,
            connected_at=parse_datetime(row.get("sent at", ""), DATE_FORMATS), layout="linkedin-invitations",
        )


def _imported_contacts(data: bytes, ctx: Context) -> Iterator[Item]:
    table = _table(data, ctx, _is_contacts_header, "Imported Contacts.csv")
    for position, (line, row) in enumerate(table.rows):
        name, raw = _name(row.get("first name", ""), row.get("last name", ""))
        if not name and row.get("full name", "").strip():
            raw = row["full name"].strip()
            name = clean_display_name(raw)
        emails = [e for e in (normalise_email(v) for v in _split(row.get("email address", ""))) if e]
        phones = [p for p in (normalise_phone(v) for v in _split(row.get("phone numbers", ""))) if p]
        if not (name or emails or phones):
            yield ctx.problem(f"line {line}: contact has no name, e-mail or phone", position)
            continue
        yield ContactRecord(platform="linkedin", kind="contact", display_name=name, display_name_raw=raw,
                            emails=emails, phones=phones, layout="linkedin-contacts")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]


def _sniffer(is_header):
    def sniff(data: bytes) -> bool:
        text = sniff_text(data)
        return "," in text and read_csv_table(text, is_header) is not None

    return sniff


HANDLERS = [
    Handler(r"connections\.csv", "linkedin-2020", _connections, sniff=_sniffer(_is_connections_header)),
    Handler(r"invitations\.csv", "linkedin-invitations", _invitations, sniff=_sniffer(_is_invitations_header)),
    Handler(r"imported contacts\.csv", "linkedin-contacts", _imported_contacts),
]

_OTHER_CSV = (
    "Ad_Targeting", "Articles", "Certifications", "Company Follows", "Causes You Care About", "Comments",
    "Courses", "Education", "Email Addresses", "Endorsement_Given_Info", "Endorsement_Received_Info", "Events",
    "Hashtag_Follows", "Honors", "Inferences_about_you", "Jobs/Job Applications", "Jobs/Saved Jobs",
    "Job Applicant Saved Answers", "Languages", "Learning", "Logins", "Member_Follows", "messages",
    "guide_messages", "learning_role_play_messages", "Organizations", "Patents", "PhoneNumbers", "Positions",
    "Private_identity_asset", "Profile", "Profile Summary", "Projects", "Publications", "Reactions", "Receipts",
    "Receipts_v2", "Recommendations_Given", "Recommendations_Received", "Registration", "Rich_Media",
    "SavedJobAlerts", "SearchQueries", "Security Challenges", "Services Marketplace/Providers", "Shares",
    "Skills", "Test Scores", "Votes", "Volunteering", "Whatsapp Phone Numbers", "Verifications/Verifications",
    "Job Seeker Preferences", "Saved_Items", "Instant Reposts",
)


@export_connectors.register("linkedin")
class LinkedIn(ExportConnector):
    platform = "linkedin"
    title = "LinkedIn (Get a copy of your data: Connections.csv, Invitations.csv)"
    layouts = {
        "linkedin-2018": "≤2019: Connections.csv without preamble or URL; dates 1/8/18, 6:14 PM",
        "linkedin-2020": "2020–now: Connections.csv after a 'Notes:' preamble, with URL; dates 12 Jan 2023",
        "linkedin-invitations": "Invitations.csv: From, To, Sent At, Direction (INCOMING/OUTGOING)",
        "linkedin-contacts": "Imported Contacts.csv: address book uploaded to LinkedIn",
    }
    handlers = HANDLERS
    ignored = [r"(?:" + "|".join(re.escape(n) for n in _OTHER_CSV) + r")\.csv", r"[^/]+\.(?:jpg|jpeg|png|gif|pdf)"]
