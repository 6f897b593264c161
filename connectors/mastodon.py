"""Mastodon account exports (Preferences › Import and export › Data export).

Layout history, from ../shared/research/formats.md §13 (mastodon/mastodon ``app/models/export.rb``):

| layout          | years    | member and shape                                                       |
|-----------------|----------|------------------------------------------------------------------------|
| mastodon-2017   | ≤2020    | following_accounts.csv, muted_accounts.csv: no header, one              |
|                 |          | ``user@domain`` per line                                                |
| mastodon-2021   | 2021–now | following_accounts.csv with header ``Account address,Show boosts,       |
|                 |          | Notify on new posts,Languages``; muted_accounts.csv with                |
|                 |          | ``Account address,Hide notifications``                                  |
| (both)          |          | blocked_accounts.csv: never a header, one address per line             |

Kinds: following_accounts → following, blocked_accounts → blocked, muted_accounts → muted.
There is no followers export. The address ``user@domain`` is kept whole as the username (the
same name on two servers is two people) and gives the profile URL ``https://domain/@user``.
A header-less file is recognised by its name only (a list of addresses looks like a list of
e-mails); one with the header is recognised by content too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.connector import Context, ExportConnector, Handler, Item, csv_records, decode_text, sniff_text
from auditor.errors import InputError
from auditor.records import ContactRecord
from auditor.registry import export_connectors

FILES = {"following_accounts": "following", "blocked_accounts": "blocked", "muted_accounts": "muted"}
_ADDRESS = re.compile(r"^@?([A-Za-z0-9_.]{1,64})@([A-Za-z0-9.-]+\.[A-Za-z]{2,63})$")
HEADERS = {"account address"}


def _kind(member: str, header: list[str] | None) -> str | None:
    name = re.sub(r"\.csv$", "", member.rsplit("/", 1)[-1].lower())
    for stem, kind in FILES.items():
        if stem in name:
            return kind
    if header and "hide notifications" in header:
        return "muted"
    if header and ("show boosts" in header or "notify on new posts" in header):
        return "following"
    return None


def _accounts(data: bytes, ctx: Context) -> Iterator[Item]:
    text = decode_text(data, ctx)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for line, fields, error in csv_records(text):
        if error is not None:
            ctx.warn(f"line {line} could not be read ({error})")
            continue
        if not fields or not any(f.strip() for f in fields):
            continue
        if header is None and not rows and fields[0].strip().lower() in HEADERS:
            header = [f.strip().lower() for f in fields]
            continue
        rows.append((line, fields))
    kind = _kind(ctx.member, header)
    if kind is None:
        raise InputError(f"{ctx.label}: {ctx.member}: cannot tell which Mastodon list this is")
    layout = "mastodon-2021" if header else "mastodon-2017"
    for position, (line, fields) in enumerate(rows):
        match = _ADDRESS.match(fields[0].strip())
        if match is None:
            yield ctx.problem(f"line {line}: not an account address (user@domain)", position)
            continue
        user, domain = match.group(1), match.group(2).lower()
        yield ContactRecord(platform="mastodon", kind=kind, username=f"{user.lower()}@{domain}",
                            profile_url=f"https://{domain}/@{user}", layout=layout)


def _sniff(data: bytes) -> bool:
    first = sniff_text(data, 512).splitlines()[:1]
    return bool(first) and first[0].lower().startswith("account address,") and (
        "show boosts" in first[0].lower() or "hide notifications" in first[0].lower())


HANDLERS = [Handler(r"(?:following|blocked|muted)_accounts\.csv", "mastodon-2021", _accounts, sniff=_sniff)]


@export_connectors.register("mastodon")
class Mastodon(ExportConnector):
    platform = "mastodon"
    title = "Mastodon (data export CSVs: following, blocked, muted accounts)"
    layouts = {
        "mastodon-2017": "≤2020: following_accounts.csv / muted_accounts.csv without a header",
        "mastodon-2021": "2021–now: 'Account address,…' header; blocked_accounts.csv never has one",
    }
    handlers = HANDLERS
    ignored = [r"(?:blocked_domains|bookmarks|lists)\.csv"]
