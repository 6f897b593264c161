"""YouTube subscriptions from Google Takeout.

Layout history, from ../shared/research/formats.md §12:

| layout        | years     | member                                                                    |
|---------------|-----------|---------------------------------------------------------------------------|
| youtube-json  | ≤2019     | Takeout/YouTube/subscriptions/subscriptions.json: a list of Data API      |
|               |           | subscription resources (snippet.title, snippet.resourceId.channelId)       |
| youtube-csv   | 2020–now  | Takeout/YouTube and YouTube Music/subscriptions/subscriptions.csv:         |
|               |           | Channel Id,Channel Url,Channel Title (titles with commas quoted)           |

One ``subscription`` row per channel the member of staff subscribes to (subscribers are not
exported). Takeout folder names are localised, so the file is found by its name or content.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.connector import (
    Context,
    ExportConnector,
    Handler,
    Item,
    decode_text,
    load_json,
    read_csv_table,
    sniff_json,
    sniff_text,
)
from auditor.errors import InputError
from auditor.records import ContactRecord
from auditor.registry import export_connectors
from auditor.text import clean_display_name, parse_datetime


def _is_header(cells: list[str]) -> bool:
    return "channel id" in cells and ("channel title" in cells or "channel url" in cells)


def _record(channel: str | None, title: str | None, url: str | None, layout: str, when=None) -> ContactRecord:
    channel = (channel or "").strip() or None
    return ContactRecord(platform="youtube", kind="subscription", platform_id=channel,
                         display_name=clean_display_name(title), display_name_raw=(title or "").strip() or None,
                         profile_url=(url or "").strip() or (f"https://www.youtube.com/channel/{channel}" if channel else None),
                         connected_at=when, layout=layout)


def _csv(data: bytes, ctx: Context) -> Iterator[Item]:
    table = read_csv_table(decode_text(data, ctx), _is_header, max_preamble=3)
    if table is None:
        raise InputError(f"{ctx.label}: {ctx.member} has no Channel Id header row")
    for line, error in table.problems:
        ctx.warn(f"line {line} could not be read ({error})")
    for position, (line, row) in enumerate(table.rows):
        if not (row.get("channel id", "").strip() or row.get("channel title", "").strip()):
            yield ctx.problem(f"line {line}: no channel id or title", position)
            continue
        yield _record(row.get("channel id"), row.get("channel title"), row.get("channel url"), "youtube-csv")


def _json(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = load_json(data, ctx, f"{ctx.label}: {ctx.member}")
    if not isinstance(doc, list):
        raise InputError(f"{ctx.label}: {ctx.member} is not a list of subscriptions")
    for position, item in enumerate(doc):
        snippet = item.get("snippet") if isinstance(item, dict) else None
        if not isinstance(snippet, dict):
            yield ctx.problem("entry has no snippet", position)
            continue
        resource = snippet.get("resourceId") if isinstance(snippet.get("resourceId"), dict) else {}
        channel = resource.get("channelId") if isinstance(resource.get("channelId"), str) else None
        title = snippet.get("title") if isinstance(snippet.get("title"), str) else None
        if not channel and not title:
            yield ctx.problem("entry has no channel", position)
            continue
        when = parse_datetime(snippet.get("publishedAt"), ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"))
        yield _record(channel, title, None, "youtube-json", when)


def _sniff_csv(data: bytes) -> bool:
    text = sniff_text(data)
    return "," in text and read_csv_table(text, _is_header, max_preamble=3) is not None


def _sniff_json(data: bytes) -> bool:
    doc = sniff_json(data)
    return isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict) and \
        doc[0].get("kind") == "youtube#subscription"


HANDLERS = [
    Handler(r"subscriptions\.csv", "youtube-csv", _csv, sniff=_sniff_csv),
    Handler(r"subscriptions/subscriptions\.json", "youtube-json", _json, sniff=_sniff_json),
]


@export_connectors.register("youtube")
class YouTube(ExportConnector):
    platform = "youtube"
    title = "YouTube subscriptions (Google Takeout)"
    layouts = {
        "youtube-json": "≤2019: subscriptions/subscriptions.json (Data API resources)",
        "youtube-csv": "2020–now: subscriptions/subscriptions.csv (Channel Id, Channel Url, Channel Title)",
    }
    handlers = HANDLERS
    ignored = [r"Takeout/(?:YouTube[^/]*)/(?!subscriptions/).+", r"Takeout/archive_browser\.html"]
