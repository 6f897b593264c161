"""Phone and e-mail address books: vCard files and Google / Outlook contact CSVs.

Layout history, from ../shared/research/formats.md §10–11:

| layout            | source                    | shape                                                   |
|-------------------|---------------------------|---------------------------------------------------------|
| vcard-2.1         | Android Contacts export   | ``TEL;CELL:``; ``;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:`` |
|                   |                           | values, ``=XX`` bytes, soft line breaks (a line ending =) |
| vcard-3.0         | iPhone/iCloud, Takeout    | ``TEL;TYPE=CELL:``; folded lines; ``\\,`` ``\\;`` ``\\n`` escapes |
| vcard-4.0         | rare (RFC 6350)           | as 3.0; ``TEL;VALUE=uri:tel:+44…``                      |
| google-csv-legacy | Google CSV ≤2020          | Name,Given Name,…,E-mail 1 - Value,Phone 1 - Value …    |
| google-csv        | Google CSV 2021–now       | First Name,…,Labels,E-mail 1 - Label,E-mail 1 - Value … |
| outlook-csv       | Outlook CSV (Google, MS)  | First Name,…,E-mail Address,Mobile Phone,Home Phone …   |

vCard: cards may carry group prefixes (``item1.TEL``), several numbers and e-mails, and no
``FN`` (the name is then built from ``N`` = Family;Given;Additional;Prefix;Suffix). Google
CSV: the count of ``E-mail n``/``Phone n`` columns grows with the data, so columns are found
by name; a cell may hold several values joined by `` ::: ``, system labels start ``* ``.
Phones are stored in E.164 (UK by default; Excel's lost leading 0 or + is put back); every
card or row is one ``contact`` row, and one with no name, phone or e-mail is skipped.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from auditor.connector import Context, CsvTable, ExportConnector, Handler, Item, decode_text, read_csv_table, sniff_text
from auditor.errors import InputError
from auditor.records import ContactRecord
from auditor.registry import export_connectors
from auditor.text import clean_display_name, normalise_email, normalise_phone

PLATFORM = "contacts"


# -- vCard ---------------------------------------------------------------------------------------
@dataclass
class Card:
    """What auditor keeps of one vCard."""

    version: str | None = None
    fn: str | None = None
    n: list[str] = field(default_factory=list)
    nickname: str | None = None
    tels: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    line: int = 0  # where the card begins

    def display_name(self) -> str | None:
        if self.fn and self.fn.strip():
            return self.fn.strip()
        parts = (self.n + ["", "", "", "", ""])[:5]
        family, given, additional = parts[0], parts[1], parts[2]
        name = " ".join(p.strip() for p in (given, additional, family) if p.strip())
        return name or (self.nickname.strip() if self.nickname else None) or None


_PROP = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$", re.DOTALL)


def _params(raw: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in raw.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().upper()] = value.strip().strip('"')
        else:  # vCard 2.1 bare parameter: TEL;CELL;QUOTED-PRINTABLE
            bare = key.strip().upper()
            if bare in ("QUOTED-PRINTABLE", "BASE64", "B"):
                params["ENCODING"] = bare
            else:
                params.setdefault("TYPE", bare)
    return params


_HEX2 = re.compile(rb"[0-9A-Fa-f]{2}")


def _decode_qp(value: str, charset: str) -> str:
    """Quoted-printable ``=XX`` bytes decoded with the card's CHARSET (UTF-8 if unknown or
    wrong, then Windows-1252). A stray ``=`` is kept as it is."""
    raw = value.encode("utf-8", errors="replace")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x3D and _HEX2.fullmatch(raw[i + 1:i + 3]):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
            continue
        out.append(raw[i])
        i += 1
    for encoding in (charset or "utf-8", "utf-8"):
        try:
            return out.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return out.decode("cp1252", errors="replace")


def unescape_value(value: str) -> str:
    r"""vCard 3.0/4.0 text escapes: ``\,`` ``\;`` ``\\`` ``\n`` (and ``\N``)."""
    return re.sub(r"\\([\\,;nN:])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def split_structured(value: str) -> list[str]:
    """Split ``N`` on unescaped semicolons, then unescape each part."""
    parts, buf, i = [], [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            buf.append(value[i:i + 2])
            i += 2
            continue
        if ch == ";":
            parts.append(unescape_value("".join(buf)))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append(unescape_value("".join(buf)))
    return parts


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded content lines with the number of their first physical line. Folding (a line
    starting with space or tab) and 2.1 quoted-printable soft breaks (a QP line ending ``=``)
    are both joined."""
    physical = re.split(r"\r\n|\n|\r", text)
    current: str | None = None
    start = 0
    for number, line in enumerate(physical, start=1):
        if current is not None and current.endswith("=") and "QUOTED-PRINTABLE" in current.split(":", 1)[0].upper():
            current = current[:-1] + line  # a soft break: the next line may begin with a real space
            continue
        if current is not None and line[:1] in (" ", "\t"):
            current += line[1:]
            continue
        if current is not None:
            yield start, current
        current, start = line, number
    if current is not None:
        yield start, current


def parse_vcards(text: str) -> Iterator[Card | tuple[int, str]]:
    """Every card of a .vcf text, or ``(line, reason)`` for one that cannot be read. Never
    raises on any input."""
    card: Card | None = None
    depth = 0
    for number, line in _logical_lines(text.lstrip("\ufeff")):
        if not line.strip():
            continue
        match = _PROP.match(line.strip("\r"))
        if match is None:
            continue
        name, raw_params, value = match.group(1).upper(), match.group(2), match.group(3)
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            depth += 1
            if depth == 1:
                card = Card(line=number)
            continue
        if name == "END" and value.strip().upper() == "VCARD":
            depth = max(0, depth - 1)
            if depth == 0 and card is not None:
                yield card
                card = None
            continue
        if card is None or depth != 1:
            continue
        params = _params(raw_params)
        encoding = params.get("ENCODING", "").upper()
        if encoding in ("QUOTED-PRINTABLE", "QP"):
            value = _decode_qp(value, params.get("CHARSET", "utf-8"))
        elif encoding in ("B", "BASE64") and name in ("FN", "N", "NICKNAME", "TEL", "EMAIL"):
            try:
                value = base64.b64decode(value, validate=False).decode(params.get("CHARSET", "utf-8"), errors="replace")
            except (binascii.Error, LookupError, ValueError):
                continue
        if name == "VERSION":
            card.version = value.strip()
        elif name == "FN":
            card.fn = unescape_value(value)
        elif name == "N":
            card.n = split_structured(value)
        elif name == "NICKNAME":
            card.nickname = unescape_value(value).split(",")[0]
        elif name == "TEL":
            tel = unescape_value(value).strip()
            if tel.lower().startswith("tel:"):
                tel = tel[4:].split(";")[0]
            if tel:
                card.tels.append(tel)
        elif name == "EMAIL":
            email = unescape_value(value).strip()
            if email:
                card.emails.append(email)
    if card is not None:
        yield (card.line, "card has no END:VCARD (file truncated?)")


def _phones(values) -> list[str]:
    out: list[str] = []
    for value in values:
        phone = normalise_phone(value)
        if phone and phone not in out:
            out.append(phone)
    return out


def _emails(values) -> list[str]:
    out: list[str] = []
    for value in values:
        email = normalise_email(value)
        if email and email not in out:
            out.append(email)
    return out


def _vcf(data: bytes, ctx: Context) -> Iterator[Item]:
    text = decode_text(data, ctx)
    if "BEGIN:VCARD" not in text.upper():
        raise InputError(f"{ctx.label}: {ctx.member} holds no vCard (no BEGIN:VCARD)")
    for position, item in enumerate(parse_vcards(text)):
        if isinstance(item, tuple):
            yield ctx.problem(f"line {item[0]}: {item[1]}", position)
            continue
        raw = item.display_name()
        name = clean_display_name(raw)
        phones, emails = _phones(item.tels), _emails(item.emails)
        if not (name or phones or emails):
            yield ctx.problem(f"line {item.line}: card has no name, phone or e-mail", position)
            continue
        if item.tels and not phones:
            ctx.warn(f"line {item.line}: phone number not recognised")
        version = (item.version or "3.0").strip()
        layout = {"2.1": "vcard-2.1", "3.0": "vcard-3.0", "4.0": "vcard-4.0"}.get(version, "vcard-3.0")
        yield ContactRecord(platform=PLATFORM, kind="contact", display_name=name, display_name_raw=raw,
                            phones=phones, emails=emails, layout=layout)


def _sniff_vcf(data: bytes) -> bool:
    return sniff_text(data, 2048).lstrip().upper().startswith("BEGIN:VCARD")


# -- Google / Outlook CSV --------------------------------------------------------------------------
_GOOGLE_EMAIL = re.compile(r"^e-mail \d+ - value$")
_GOOGLE_PHONE = re.compile(r"^phone \d+ - value$")


def _is_google_header(cells: list[str]) -> bool:
    has_lists = any(_GOOGLE_EMAIL.match(c) or _GOOGLE_PHONE.match(c) for c in cells)
    named = ("given name" in cells and "family name" in cells) or ("first name" in cells and "last name" in cells)
    return has_lists and named


def _is_outlook_header(cells: list[str]) -> bool:
    return "first name" in cells and "last name" in cells and (
        "e-mail address" in cells or "mobile phone" in cells or "home phone" in cells) and "connected on" not in cells


def _multi(value: str) -> list[str]:
    return [v.strip().lstrip("*").strip() for v in value.split(":::") if v.strip().lstrip("*").strip()]


def _joined(row: dict[str, str], *columns: str) -> str:
    return " ".join(row.get(c, "").strip() for c in columns if row.get(c, "").strip())


def _csv_rows(table: CsvTable, ctx: Context, layout: str, name_of, phones_of, emails_of) -> Iterator[Item]:
    for line, error in table.problems:
        ctx.warn(f"line {line} could not be read ({error})")
    for position, (line, row) in enumerate(table.rows):
        raw = name_of(row)
        name = clean_display_name(raw)
        phones, emails = _phones(phones_of(row)), _emails(emails_of(row))
        if not (name or phones or emails):
            yield ctx.problem(f"line {line}: contact has no name, phone or e-mail", position)
            continue
        yield ContactRecord(platform=PLATFORM, kind="contact", display_name=name, display_name_raw=raw or None,
                            phones=phones, emails=emails, layout=layout)


def _google_csv(data: bytes, ctx: Context) -> Iterator[Item]:
    table = read_csv_table(decode_text(data, ctx), _is_google_header, max_preamble=2)
    if table is None:
        raise InputError(f"{ctx.label}: {ctx.member} has no Google Contacts header row")
    legacy = "given name" in table.header
    email_cols = [c for c in table.header if _GOOGLE_EMAIL.match(c)]
    phone_cols = [c for c in table.header if _GOOGLE_PHONE.match(c)]

    def name_of(row: dict[str, str]) -> str:
        if legacy:
            return row.get("name", "").strip() or _joined(row, "given name", "additional name", "family name") \
                or row.get("nickname", "").strip() or row.get("organization 1 - name", "").strip()
        return _joined(row, "first name", "middle name", "last name") or row.get("file as", "").strip() \
            or row.get("nickname", "").strip() or row.get("organization name", "").strip() \
            or row.get("organization 1 - name", "").strip()

    yield from _csv_rows(
        table, ctx, "google-csv-legacy" if legacy else "google-csv", name_of,
        lambda row: [v for c in phone_cols for v in _multi(row.get(c, ""))],
        lambda row: [v for c in email_cols for v in _multi(row.get(c, ""))],
    )


def _outlook_csv(data: bytes, ctx: Context) -> Iterator[Item]:
    table = read_csv_table(decode_text(data, ctx), _is_outlook_header, max_preamble=2)
    if table is None:
        raise InputError(f"{ctx.label}: {ctx.member} has no Outlook contacts header row")
    phone_cols = [c for c in table.header if "phone" in c and "fax" not in c]
    email_cols = [c for c in table.header if c.startswith("e-mail") and "address" in c and "type" not in c]
    yield from _csv_rows(
        table, ctx, "outlook-csv",
        lambda row: _joined(row, "first name", "middle name", "last name") or row.get("nickname", "").strip(),
        lambda row: [row.get(c, "") for c in phone_cols],
        lambda row: [v for c in email_cols for v in _multi(row.get(c, ""))],
    )


def _contacts_csv(data: bytes, ctx: Context) -> Iterator[Item]:
    head = sniff_text(data)
    if read_csv_table(head, _is_google_header, max_preamble=2) is not None:
        yield from _google_csv(data, ctx)
    elif read_csv_table(head, _is_outlook_header, max_preamble=2) is not None:
        yield from _outlook_csv(data, ctx)
    else:
        raise InputError(f"{ctx.label}: {ctx.member} is neither a Google nor an Outlook contacts CSV")


def _sniff_contacts_csv(data: bytes) -> bool:
    head = sniff_text(data)
    if "," not in head:
        return False
    return read_csv_table(head, _is_google_header, max_preamble=2) is not None or \
        read_csv_table(head, _is_outlook_header, max_preamble=2) is not None


HANDLERS = [
    Handler(r"[^/]+\.vcf", "vcard-3.0", _vcf, sniff=_sniff_vcf),
    Handler(r"(?:contacts|google[^/]*|outlook[^/]*)\.csv", "google-csv", _contacts_csv, sniff=_sniff_contacts_csv),
]


@export_connectors.register("contacts")
class Contacts(ExportConnector):
    platform = PLATFORM
    title = "Phone and e-mail contacts (vCard .vcf; Google or Outlook contacts CSV)"
    layouts = {
        "vcard-2.1": "Android export: quoted-printable values with soft line breaks, CHARSET",
        "vcard-3.0": "iPhone/iCloud/Google: folded lines, escapes, TYPE= parameters",
        "vcard-4.0": "RFC 6350 cards",
        "google-csv-legacy": "Google CSV ≤2020: Name, Given Name, …, E-mail 1 - Value, Phone 1 - Value",
        "google-csv": "Google CSV 2021–now: First Name, …, Labels, E-mail n - Value, Phone n - Value",
        "outlook-csv": "Outlook CSV: First Name, …, E-mail Address, Mobile Phone, Home Phone …",
    }
    handlers = HANDLERS
    ignored = [r"Takeout/Contacts/.+\.(?:jpg|jpeg|png)"]
