"""Discord data package (``package.zip``): the account's relationships.

Layout history, from ../shared/research/formats.md §8 (not verified on a real package):

| layout        | years     | member                                                              |
|---------------|-----------|---------------------------------------------------------------------|
| discord-2019  | ≤2023     | account/user.json (lower-case folders)                              |
| discord-2024  | 2024–now  | Account/user.json (capitalised folders)                             |

``user.json`` holds the owner (``id``, ``username``, ``global_name``) and ``relationships``:
``{id, type, nickname, user: {id, username, global_name, discriminator}}`` with type 1 friend,
2 blocked, 3 incoming request, 4 outgoing request (0 none and 5 implicit are not connections and
are skipped, counted). Snowflake ids are kept as text. Legacy ``name#1234`` accounts keep their
discriminator in the username; migrated accounts have discriminator ``"0"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.connector import Context, ExportConnector, Handler, Item, load_json, sniff_json
from auditor.errors import InputError
from auditor.records import ContactRecord, OwnerInfo
from auditor.registry import export_connectors
from auditor.text import clean_display_name

TYPES = {1: "friend", 2: "blocked", 3: "request_received", 4: "request_sent"}
_SNOWFLAKE = re.compile(r"^\d{1,25}$")


def _text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        text = str(value).strip()
        return text or None
    return None


def _handle(user: dict) -> str | None:
    name = _text(user.get("username"))
    if not name:
        return None
    discriminator = _text(user.get("discriminator"))
    if discriminator and discriminator not in ("0", "0000"):
        return f"{name}#{discriminator}".lower()
    return name.lower()


def _user_json(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = load_json(data, ctx, f"{ctx.label}: {ctx.member}")
    if not isinstance(doc, dict):
        raise InputError(f"{ctx.label}: {ctx.member} is not Discord's user.json (expected an object)")
    layout = "discord-2024" if re.search(r"(?:^|/)Account/", ctx.member) else "discord-2019"
    owner_id = _text(doc.get("id"))
    yield OwnerInfo(platform="discord", name=clean_display_name(_text(doc.get("global_name"))),
                    username=_handle(doc), platform_id=owner_id if owner_id and _SNOWFLAKE.match(owner_id) else None)
    relationships = doc.get("relationships")
    if relationships is None:
        return
    if not isinstance(relationships, list):
        yield ctx.problem("relationships is not a list")
        return
    for position, rel in enumerate(relationships):
        if not isinstance(rel, dict):
            yield ctx.problem("relationship is not an object", position)
            continue
        kind = TYPES.get(rel.get("type")) if isinstance(rel.get("type"), int) else None
        if kind is None:
            yield ctx.problem(f"relationship type {rel.get('type')!r} is not a connection", position)
            continue
        user = rel.get("user") if isinstance(rel.get("user"), dict) else {}
        snowflake = _text(user.get("id")) or _text(rel.get("id"))
        if snowflake and not _SNOWFLAKE.match(snowflake):
            snowflake = None
        handle = _handle(user)
        raw_name = _text(user.get("global_name"))
        if not (snowflake or handle):
            yield ctx.problem("relationship names no account", position)
            continue
        nickname = _text(rel.get("nickname"))
        yield ContactRecord(
            platform="discord", kind=kind, platform_id=snowflake, username=handle,
            display_name=clean_display_name(raw_name), display_name_raw=raw_name, layout=layout,
            profile_url=f"https://discord.com/users/{snowflake}" if snowflake else None,
            extra={"nickname": nickname} if nickname else None,
        )


def _sniff(data: bytes) -> bool:
    doc = sniff_json(data)
    return isinstance(doc, dict) and isinstance(doc.get("relationships"), list) and "username" in doc and "id" in doc


HANDLERS = [Handler(r"account/user\.json", "discord-2024", _user_json, sniff=_sniff)]


@export_connectors.register("discord")
class Discord(ExportConnector):
    platform = "discord"
    title = "Discord (data package: account/user.json relationships)"
    layouts = {
        "discord-2019": "account/user.json (lower-case folders)",
        "discord-2024": "Account/user.json (capitalised folders)",
    }
    handlers = HANDLERS
    ignored = [r"(?:account|messages|servers|activity|activities|programs|ads|activities_e|support_tickets)/.+",
               r"README\.txt"]
