"""TikTok "Download your data" (JSON, and the TXT form where practical).

Layout history, from ../shared/research/formats.md §4:

| layout      | years    | file                  | followers / following / blocked                            |
|-------------|----------|-----------------------|------------------------------------------------------------|
| tiktok-2019 | ≤2023    | user_data.json        | Activity › Follower List › FansList; › Following List ›   |
|             |          |                       | Following; App Settings › Block List › BlockList           |
| tiktok-2024 | 2024–now | user_data_tiktok.json | Your Activity › Follower › FansList; › Following ›         |
|             |          |                       | Following; App Settings › Block List › BlockList           |
| tiktok-txt  | any      | Follower List.txt …   | ``Date: …`` / ``Username: …`` records, blank-line separated |

Both JSON layouts keep the block list at App Settings › Block List › BlockList and the owner at
Profile › Profile Info › ProfileMap › userName. Records are ``{Date: "YYYY-MM-DD HH:MM:SS",
UserName}`` (no zone: taken as UTC). Empty lists are written ``null``; keys drift in case and
spacing between exports, so lists are found by key anywhere in the tree, compared without case,
spaces or underscores, rather than by one fixed path.

The single JSON file can be large (watch history); above the size auditor parses whole, the
lists are found by scanning the raw bytes for their keys and parsing only those values.
A follow-back recorded at one second in both lists becomes one ``mutual`` row (see
``auditor.ingest.merge_mutual``); different times stay two rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from auditor.connector import (
    MAX_JSON_PARSE_BYTES,
    Context,
    ExportConnector,
    Handler,
    Item,
    decode_text,
    get_ci,
    load_json,
    sniff_json,
)
from auditor.errors import InputError
from auditor.records import ContactRecord, OwnerInfo
from auditor.registry import export_connectors
from auditor.text import normalise_username, parse_datetime

# folded list key -> connection kind ("following" only when its value is a list or null)
LIST_KEYS = {
    "fanslist": "follower", "followerlist": "follower", "followers": "follower",
    "following": "following", "followinglist": "following",
    "blocklist": "blocked", "blockedlist": "blocked", "blockedusers": "blocked",
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%d")
_SCAN = re.compile(rb'"(FansList|Fans List|Following|FollowingList|Following List|BlockList|Block List|Followers)"\s*:\s*',
                   re.IGNORECASE)


def _fold(key: str) -> str:
    return re.sub(r"[\s_\-]", "", key).lower()


def _record(entry, kind: str, ctx: Context, position: int, layout: str) -> Item:
    if not isinstance(entry, dict):
        return ctx.problem("entry is not an object", position)
    raw = get_ci(entry, "UserName", "User Name", "uniqueId")
    handle = normalise_username(raw) if isinstance(raw, str) else None
    if not handle:
        return ctx.problem("entry has no username", position)
    when = get_ci(entry, "Date", "Time")
    return ContactRecord(platform="tiktok", kind=kind, username=handle,
                         profile_url=f"https://www.tiktok.com/@{handle}",
                         connected_at=parse_datetime(when, DATE_FORMATS) if isinstance(when, str) else None,
                         layout=layout)


def _walk(node, found: list[tuple[str, object]], depth: int = 0) -> None:
    if depth > 12 or not isinstance(node, dict):
        return
    for key, value in node.items():
        folded = _fold(key) if isinstance(key, str) else ""
        if folded in LIST_KEYS and (isinstance(value, list) or value is None):
            found.append((LIST_KEYS[folded], value))
        elif isinstance(value, dict):
            _walk(value, found, depth + 1)


def _layout_of(doc: dict) -> str:
    return "tiktok-2024" if get_ci(doc, "Your Activity") is not None else "tiktok-2019"


def _owner(doc: dict) -> OwnerInfo | None:
    profile = get_ci(get_ci(get_ci(doc, "Profile"), "Profile Info", "Profile Information"), "ProfileMap")
    name = get_ci(profile, "userName", "username")
    if isinstance(name, str) and normalise_username(name):
        return OwnerInfo(platform="tiktok", username=normalise_username(name))
    return None


def _user_data(data: bytes, ctx: Context) -> Iterator[Item]:
    if len(data) > MAX_JSON_PARSE_BYTES:
        yield from _scan_large(data, ctx)
        return
    doc = load_json(data, ctx, f"{ctx.label}: {ctx.member}")
    if not isinstance(doc, dict):
        raise InputError(f"{ctx.label}: {ctx.member} is not TikTok's user data (expected an object)")
    layout = _layout_of(doc)
    found: list[tuple[str, object]] = []
    _walk(doc, found)
    if not found and not any(_fold(k) in ("youractivity", "activity", "profile") for k in doc if isinstance(k, str)):
        raise InputError(f"{ctx.label}: {ctx.member} has none of TikTok's sections")
    owner = _owner(doc)
    if owner is not None:
        yield owner
    for kind, entries in found:
        for position, entry in enumerate(entries or []):
            yield _record(entry, kind, ctx, position, layout)


def _scan_large(data: bytes, ctx: Context) -> Iterator[Item]:
    """Lists of a JSON too large to parse whole: find each list key in the bytes and parse
    only its value. Nothing is evaluated; a value that is not a list or null is skipped."""
    layout = "tiktok-2024" if b'"Your Activity"' in data else "tiktok-2019"
    ctx.warn(f"large file ({len(data) // (1024 * 1024)} MiB): lists read by key")
    decoder = json.JSONDecoder()
    for match in _SCAN.finditer(data):
        kind = LIST_KEYS[_fold(match.group(1).decode())]
        start = match.end()
        if data[start:start + 1] not in (b"[", b"n"):
            continue
        window = 1024 * 1024
        while True:
            chunk = data[start:start + window].decode("utf-8", errors="ignore")
            try:
                value, _ = decoder.raw_decode(chunk)
                break
            except json.JSONDecodeError as exc:
                if start + window >= len(data) or window >= MAX_JSON_PARSE_BYTES:
                    raise InputError(f"{ctx.label}: {ctx.member}: a list could not be read ({exc.msg})") from None
                window *= 4
            except RecursionError:
                raise InputError(f"{ctx.label}: {ctx.member} is nested too deeply to be an export") from None
        if value is None or not isinstance(value, list):
            continue
        for position, entry in enumerate(value):
            yield _record(entry, kind, ctx, position, layout)


def _sniff_user_data(data: bytes) -> bool:
    if len(data) > MAX_JSON_PARSE_BYTES:
        head = data[:1024 * 1024]
        return b'"Your Activity"' in head or (b'"Activity"' in head and b'"Follower List"' in data)
    doc = sniff_json(data)
    if not isinstance(doc, dict):
        return False
    activity = get_ci(doc, "Your Activity", "Activity")
    if not isinstance(activity, dict):
        return False
    found: list = []
    _walk(activity, found)
    return bool(found) or get_ci(activity, "Follower", "Follower List", "Following", "Following List") is not None


# -- TXT ----------------------------------------------------------------------------------------
_TXT_KINDS = (
    (re.compile(r"(?:follower|fans)", re.IGNORECASE), "follower"),
    (re.compile(r"following", re.IGNORECASE), "following"),
    (re.compile(r"block", re.IGNORECASE), "blocked"),
)


def _txt(data: bytes, ctx: Context) -> Iterator[Item]:
    name = ctx.member.rsplit("/", 1)[-1]
    kind = next((k for pattern, k in _TXT_KINDS if pattern.search(name)), None)
    if kind is None:  # pragma: no cover - the handler pattern only admits these names
        raise InputError(f"{ctx.label}: {ctx.member}: cannot tell which TikTok list this is")
    text = decode_text(data, ctx)
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    seen = False
    for position, block in enumerate(b for b in blocks if b.strip()):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            key, sep, value = line.partition(":")
            if sep:
                fields[_fold(key)] = value.strip()
        if "username" not in fields and "date" not in fields:
            continue
        seen = True
        yield _record({"UserName": fields.get("username"), "Date": fields.get("date")}, kind, ctx, position, "tiktok-txt")
    if not seen and text.strip():
        raise InputError(f"{ctx.label}: {ctx.member} holds no 'Username:' records")


HANDLERS = [
    Handler(r"user_data(?:_tiktok)?\.json", "tiktok-2024", _user_data, sniff=_sniff_user_data),
    Handler(r"(?:follower(?:s)?(?: ?list)?|fans(?: ?list)?|following(?: ?list)?|block(?:ed)?(?: ?list)?)\.txt",
            "tiktok-txt", _txt),
]


@export_connectors.register("tiktok")
class TikTok(ExportConnector):
    platform = "tiktok"
    title = "TikTok (Download your data, JSON or TXT)"
    layouts = {
        "tiktok-2019": "≤2023: user_data.json (Activity › Follower List › FansList, Following List › Following)",
        "tiktok-2024": "2024–now: user_data_tiktok.json (Your Activity › Follower › FansList, Following › Following)",
        "tiktok-txt": "TXT download: Follower/Following/Block List .txt with 'Date:' and 'Username:' lines",
    }
    handlers = HANDLERS
    ignored = [r"[^/]+\.(?:jpg|jpeg|png|gif|mp4|webp|heic|mov)"]
