"""Snapchat "My Data" (``mydata~<digits>.zip``): json/friends.json, or its HTML twin.

Layout history, from ../shared/research/formats.md §5 and the real-structures corpus:

| layout         | years     | member / shape                                                           |
|----------------|-----------|--------------------------------------------------------------------------|
| snapchat-2020  | ~2020     | json/friends.json: Friends, Friend Requests Sent, Blocked Users, Deleted |
|                |           | Friends; entries ``{Username, Display Name}`` only (``\\uXXXX`` escapes)  |
| snapchat-2023  | 2023–now  | json/friends.json: eight sections (adds Pending Requests, Ignored        |
|                |           | Snapchatters, Hidden Friend Suggestions, Shortcuts); entries add         |
|                |           | ``Creation Timestamp``/``Last Modified Timestamp`` ("… UTC") and Source  |
| snapchat-html  | any       | html/friends.html: one ``<h3>`` + ``<table>`` per section, same columns; |
|                |           | empty sections are left out. Read only when the JSON is absent.          |

Sections and kinds: Friends → friend, Friend Requests Sent → request_sent, Pending Requests →
request_received, Ignored Snapchatters and Hidden Friend Suggestions → rejected (a request or
suggestion turned down), Deleted Friends → removed, Blocked Users → blocked. Shortcuts are chat
shortcuts (emoji names), not people, and are not rows. Every person entry is a row, including
ones whose username or display name is empty; ``Source`` ("added by phone" …) is kept in
``extra``. Snapchat writes real UTF-8, so no Meta mojibake repair is applied.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.connector import (
    Context,
    ExportConnector,
    Handler,
    Item,
    decode_text,
    get_ci,
    load_json,
    looks_like_html,
    parse_html,
    sniff_json,
)
from auditor.errors import InputError
from auditor.records import ContactRecord
from auditor.registry import export_connectors
from auditor.text import clean_display_name, normalise_username, parse_datetime

SECTIONS = {
    "friends": "friend",
    "friend requests sent": "request_sent",
    "pending requests": "request_received",
    "ignored snapchatters": "rejected",
    "hidden friend suggestions": "rejected",
    "deleted friends": "removed",
    "blocked users": "blocked",
}
NOT_PEOPLE = {"shortcuts"}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%z")


def _fold(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def _record(entry: dict, section: str, kind: str, layout: str, ctx: Context, position: int) -> Item:
    raw_user = get_ci(entry, "Username", "User Name")
    raw_name = get_ci(entry, "Display Name", "DisplayName")
    raw_user = raw_user if isinstance(raw_user, str) else None
    raw_name = raw_name if isinstance(raw_name, str) else None
    handle = normalise_username(raw_user)
    name = clean_display_name(raw_name)
    if raw_user is None and raw_name is None:
        return ctx.problem(f"{section}: entry has neither Username nor Display Name", position)
    extra = {"section": section}
    source = get_ci(entry, "Source")
    if isinstance(source, str) and source.strip():
        extra["source"] = source.strip()
    modified = get_ci(entry, "Last Modified Timestamp")
    if isinstance(modified, str) and modified.strip():
        extra["last_modified"] = modified.strip()
    if not handle and not name:
        extra["hidden"] = True  # the platform gave an empty entry: counted, nothing to match on
    created = get_ci(entry, "Creation Timestamp")
    return ContactRecord(
        platform="snapchat", kind=kind, username=handle, display_name=name, display_name_raw=raw_name or None,
        profile_url=f"https://www.snapchat.com/add/{handle}" if handle else None,
        connected_at=parse_datetime(created, TIME_FORMATS) if isinstance(created, str) else None,
        layout=layout, extra=extra,
    )


def _friends_json(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = load_json(data, ctx, f"{ctx.label}: {ctx.member}")
    if not isinstance(doc, dict):
        raise InputError(f"{ctx.label}: {ctx.member} is not Snapchat's friends.json (expected an object)")
    known = [k for k in doc if isinstance(k, str) and (_fold(k) in SECTIONS or _fold(k) in NOT_PEOPLE)]
    if not known:
        raise InputError(f"{ctx.label}: {ctx.member} has none of Snapchat's friend sections")
    timed = any(
        isinstance(e, dict) and "Creation Timestamp" in e
        for k in known if isinstance(doc[k], list) for e in doc[k]
    )
    layout = "snapchat-2023" if timed or len(known) > 4 else "snapchat-2020"
    for key, entries in doc.items():
        folded = _fold(key) if isinstance(key, str) else ""
        if folded in NOT_PEOPLE:
            continue
        if folded not in SECTIONS:
            if isinstance(entries, list) and entries:
                ctx.warn(f"section {key!r} is not one auditor knows; not read")
            continue
        if entries is None:
            continue
        if not isinstance(entries, list):
            yield ctx.problem(f"{key} is not a list")
            continue
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict):
                yield ctx.problem(f"{key}: entry is not an object", position)
                continue
            yield _record(entry, key, SECTIONS[folded], layout, ctx, position)


def _friends_html(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = parse_html(decode_text(data, ctx))
    found = False
    for heading, rows in doc.tables:
        if not rows:
            continue
        section = _fold(heading or "")
        header = [_fold(c) for c in rows[0]]
        if section in NOT_PEOPLE or "username" not in header:
            continue
        if section not in SECTIONS:
            ctx.warn(f"table {heading!r} is not a section auditor knows; not read")
            continue
        found = True
        for position, cells in enumerate(rows[1:]):
            entry = {rows[0][i]: cells[i] for i in range(min(len(cells), len(rows[0])))}
            yield _record(entry, heading or "", SECTIONS[section], "snapchat-html", ctx, position)
    if not found:
        raise InputError(f"{ctx.label}: {ctx.member} has no Snapchat friends tables")


def _sniff_json(data: bytes) -> bool:
    doc = sniff_json(data)
    if not isinstance(doc, dict):
        return False
    sections = [v for k, v in doc.items() if isinstance(k, str) and _fold(k) in SECTIONS]
    if not sections or not all(isinstance(v, list) for v in sections):
        return False
    entries = [e for v in sections for e in v]
    return not entries or any(isinstance(e, dict) and ("Username" in e or "Display Name" in e) for e in entries)


def _sniff_html(data: bytes) -> bool:
    if not looks_like_html(data) or b"Username" not in data:
        return False
    doc = parse_html(decode_text(data))
    return any(
        rows and _fold(heading or "") in SECTIONS and "username" in [_fold(c) for c in rows[0]]
        for heading, rows in doc.tables
    )


HANDLERS = [
    Handler(r"json/friends\.json", "snapchat-2023", _friends_json, sniff=_sniff_json, group="friends", priority=1),
    Handler(r"html/friends\.html?", "snapchat-html", _friends_html, sniff=_sniff_html, group="friends", priority=0),
]

_OTHER_FILES = (
    "account", "account_history", "bitmoji", "cameos", "chat_history", "communities", "connected_apps",
    "email_campaign_history", "in_app_surveys", "location_history", "memories_history", "my_lenses",
    "payments", "purchase_history", "ranking", "search_history", "shared_story", "snap_history",
    "snap_map_places_history", "snapchat_ai", "spotlight", "story_history", "subscriptions",
    "support_note", "talk_history", "terms_history", "user_profile", "faq", "index", "statistics",
    "snap_games_and_minis", "snapchat_plus", "ads_manager", "friends_ranking", "saved_chat_history",
)


@export_connectors.register("snapchat")
class Snapchat(ExportConnector):
    platform = "snapchat"
    title = "Snapchat (My Data, JSON or HTML)"
    layouts = {
        "snapchat-2020": "~2020: json/friends.json, {Username, Display Name} only",
        "snapchat-2023": "2023–now: json/friends.json, eight sections with timestamps and Source",
        "snapchat-html": "html/friends.html: a table per section (read when the JSON is absent)",
    }
    handlers = HANDLERS
    ignored = [
        r"(?:json|html)/(?:" + "|".join(_OTHER_FILES) + r")\.(?:json|html?)",
        r"(?:memories|chat_media|public_profile|shared_story)/.+",
        r"[^/]+\.(?:jpg|jpeg|png|gif|mp4|webp|heic|mov)",
    ]
