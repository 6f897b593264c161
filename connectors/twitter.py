"""X (Twitter) archive: follower, following, block and mute lists, which name accounts by id only.

Layout history, from ../shared/research/formats.md §6 and the real-structures corpus:

| layout  | years     | members                                                                      |
|---------|-----------|------------------------------------------------------------------------------|
| x-2018  | 2018–2019 | follower.js, following.js, block.js, mute.js at the archive root; entries    |
|         |           | ``{accountId}`` only                                                         |
| x-2020  | 2020–now  | data/follower.js, following.js, block.js, mute.js (parts: ``-part1.js`` …);  |
|         |           | entries ``{accountId, userLink}``; data/manifest.js names the owner           |

Each file is JavaScript: ``window.YTD.<name>.partN = [ {"<wrapper>": {...}} ]``. The prefix is
stripped and the rest parsed as JSON; nothing is ever evaluated. Wrapper keys: follower,
following, blocking (block.js), muting (mute.js); contact.js (an uploaded address book) holds
``{id, emails, phoneNumbers}``. ``data/manifest.js`` (``window.__THAR_CONFIG = {...}``) gives
``userInfo`` {accountId, userName, displayName} and ``archiveInfo.generationDate``.

``accountId`` is kept as text (19 digits exceed a float). Rows carry no handle, name or date:
they are accounts needing resolution, and the audit treats an unresolved id as an account it
cannot see. Resolution is a separate step, because the map usually arrives after the import:

    auditor resolve x MAP.csv

where MAP.csv has an id column (``accountId``, ``account_id``, ``id`` or ``user_id``) and a
handle column (``username``, ``handle``, ``screen_name`` or ``userName``), or two unnamed
columns id,handle. It fills the username and profile URL of every stored X account with that
id (``auditor.ingest.resolve_platform_ids``); re-importing the archive later keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from auditor.connector import (
    Context,
    ExportConnector,
    Handler,
    Item,
    decode_text,
    js_payload,
    parse_json_text,
    read_csv_table,
)
from auditor.errors import InputError
from auditor.records import ContactRecord, OwnerInfo
from auditor.registry import export_connectors
from auditor.text import clean_display_name, normalise_email, normalise_phone, normalise_username, parse_datetime

PLATFORM = "x"
WRAPPERS = {"follower": "follower", "following": "following", "blocking": "blocked", "block": "blocked",
            "muting": "muted", "mute": "muted"}
FILE_KINDS = {"follower": "follower", "following": "following", "block": "blocked", "mute": "muted"}
_ID = re.compile(r"^\d{1,25}$")


def _payload(data: bytes, ctx: Context):
    text = decode_text(data, ctx)
    body = js_payload(text)
    if body is None:
        raise InputError(f"{ctx.label}: {ctx.member} is not an X archive file (no 'window.YTD… =' prefix)")
    return parse_json_text(body, f"{ctx.label}: {ctx.member}")


def _layout(member: str, doc=None) -> str:
    """x-2020 when entries carry ``userLink`` or the file sits in ``data/``; else x-2018."""
    if isinstance(doc, list):
        for item in doc[:20]:
            entry = next(iter(item.values()), None) if isinstance(item, dict) and item else None
            if isinstance(entry, dict) and "userLink" in entry:
                return "x-2020"
    return "x-2020" if re.search(r"(?:^|/)data/", member, re.IGNORECASE) else "x-2018"


def _lists(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = _payload(data, ctx)
    if not isinstance(doc, list):
        raise InputError(f"{ctx.label}: {ctx.member} is not an X list (expected [...] after the prefix)")
    name = re.sub(r"(?:-part\d+)?\.js$", "", ctx.member.rsplit("/", 1)[-1].lower())
    layout = _layout(ctx.member, doc)
    for position, item in enumerate(doc):
        if not isinstance(item, dict) or len(item) != 1:
            yield ctx.problem("entry is not a single wrapped account", position)
            continue
        wrapper, entry = next(iter(item.items()))
        kind = WRAPPERS.get(str(wrapper).lower()) or FILE_KINDS.get(name)
        if kind is None or not isinstance(entry, dict):
            yield ctx.problem(f"entry wrapper {wrapper!r} is not a list auditor knows", position)
            continue
        account = entry.get("accountId")
        account = str(account).strip() if isinstance(account, (str, int)) and not isinstance(account, bool) else ""
        if not _ID.match(account):
            yield ctx.problem("entry has no numeric accountId", position)
            continue
        link = entry.get("userLink") if isinstance(entry.get("userLink"), str) else None
        yield ContactRecord(platform=PLATFORM, kind=kind, platform_id=account,
                            profile_url=link or f"https://twitter.com/intent/user?user_id={account}",
                            layout=layout, extra={"needs_resolution": True})


def _contacts(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = _payload(data, ctx)
    if not isinstance(doc, list):
        raise InputError(f"{ctx.label}: {ctx.member} is not an X list")
    for position, item in enumerate(doc):
        entry = item.get("contact") if isinstance(item, dict) else None
        if not isinstance(entry, dict):
            yield ctx.problem("entry is not a contact", position)
            continue
        emails = [e for e in (normalise_email(v) for v in entry.get("emails") or [] if isinstance(v, str)) if e]
        phones = [p for p in (normalise_phone(v) for v in entry.get("phoneNumbers") or [] if isinstance(v, str)) if p]
        if not emails and not phones:
            yield ctx.problem("contact has no e-mail or phone", position)
            continue
        yield ContactRecord(platform=PLATFORM, kind="contact", emails=emails, phones=phones, layout=_layout(ctx.member))


def _manifest(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = _payload(data, ctx)
    info = doc.get("userInfo") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        return
    archive = doc.get("archiveInfo") if isinstance(doc.get("archiveInfo"), dict) else {}
    account = info.get("accountId")
    name = info.get("displayName")
    handle = info.get("userName")
    yield OwnerInfo(
        platform=PLATFORM, name=clean_display_name(name) if isinstance(name, str) else None,
        username=normalise_username(handle) if isinstance(handle, str) else None,
        platform_id=str(account) if isinstance(account, (str, int)) else None,
        exported_at=parse_datetime(archive.get("generationDate"), (
            "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")),
    )


def _sniff_lists(data: bytes) -> bool:
    head = decode_text(data[:256]).lstrip("\ufeff \r\n\t")
    return re.match(r"window\.YTD\.(?:follower|following|block|mute)\.part\d+\s*=", head) is not None


def _sniff_manifest(data: bytes) -> bool:
    return decode_text(data[:256]).lstrip("\ufeff \r\n\t").startswith("window.__THAR_CONFIG")


HANDLERS = [
    Handler(r"(?:follower|following|block|mute)(?:-part\d+)?\.js", "x-2020", _lists, sniff=_sniff_lists),
    Handler(r"contact(?:-part\d+)?\.js", "x-2020", _contacts),
    Handler(r"data/manifest\.js", "x-manifest", _manifest, sniff=_sniff_manifest, people=False),
]


@export_connectors.register("x")
class X(ExportConnector):
    platform = PLATFORM
    title = "X / Twitter archive (follower, following, block, mute; ids need resolution)"
    layouts = {
        "x-2018": "2018–2019: follower.js, following.js, block.js, mute.js at the root ({accountId})",
        "x-2020": "2020–now: data/follower.js … ({accountId, userLink}), data/manifest.js",
        "x-manifest": "data/manifest.js: the archive's owner (window.__THAR_CONFIG)",
    }
    handlers = HANDLERS
    ignored = [
        r"data/[^/]+\.js", r"data/[^/]+_media/.+", r"data/README\.txt", r"assets/.+", r"Your archive\.html",
        r"(?:tweet|tweets|like|direct-message[^/]*|account[^/]*|ageinfo|profile|ip-audit|lists-[^/]*|"
        r"personalization|README)\.(?:js|txt)",
    ]


# -- id → handle map -------------------------------------------------------------------------------
_ID_COLUMNS = ("accountid", "account_id", "id", "user_id", "userid", "account id")
_HANDLE_COLUMNS = ("username", "handle", "screen_name", "screenname", "user_name", "user name")


def read_handle_map(path: Path) -> dict[str, str]:
    """An id → handle map from a CSV (header optional); ids stay text. Rows that are not an
    id and a handle are an error naming the line, so a wrong file is never half-applied."""
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    table = read_csv_table(text, lambda cells: any(c in _ID_COLUMNS for c in cells)
                           and any(c in _HANDLE_COLUMNS for c in cells), max_preamble=0)
    pairs: list[tuple[int, str, str]] = []
    if table is not None:
        id_col = next(c for c in table.header if c in _ID_COLUMNS)
        handle_col = next(c for c in table.header if c in _HANDLE_COLUMNS)
        pairs = [(line, row.get(id_col, ""), row.get(handle_col, "")) for line, row in table.rows]
    else:
        table = read_csv_table("id,handle\n" + text, lambda cells: cells[:2] == ["id", "handle"], max_preamble=0)
        pairs = [(line - 1, row.get("id", ""), row.get("handle", "")) for line, row in (table.rows if table else [])]
    mapping: dict[str, str] = {}
    for line, account, handle in pairs:
        account, handle_n = account.strip(), normalise_username(handle)
        if not _ID.match(account) or not handle_n:
            raise InputError(f"{path}: line {line} is not an X account id and a handle")
        mapping[account] = handle_n
    if not mapping:
        raise InputError(f"{path}: no id,handle rows")
    return mapping
