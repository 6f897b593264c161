"""The shape every export connector has, and how an archive is routed to connectors.

A connector is a table from archive member (a path pattern) to handler, plus the members it
knows and deliberately ignores. Members no connector knows are reported, never silently
dropped. A loose file is recognised by its content (keys or header), not only by its name.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from typing import ClassVar

from auditor.errors import InputError
from auditor.records import ContactRecord, OwnerInfo, RowProblem

Item = ContactRecord | OwnerInfo | RowProblem


@dataclass
class Context:
    """Where a handler is reading, and a place to leave warnings."""

    platform: str
    layout: str
    member: str
    label: str
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.member}: {message}")

    def problem(self, reason: str, position: int | None = None) -> RowProblem:
        return RowProblem(self.member, reason, position)


@dataclass(frozen=True)
class Handler:
    """Reads one kind of member. ``pattern`` is matched (case-insensitively) against the end of
    the member path, so any wrapper folder is accepted. ``sniff`` recognises the same content
    as a loose file with another name. Handlers sharing a ``group`` are twins (the JSON and
    HTML of one list): only the highest ``priority`` present in an archive is read."""

    pattern: str
    layout: str
    read: Callable[[bytes, Context], Iterable[Item]]
    sniff: Callable[[bytes], bool] | None = None
    group: str | None = None
    priority: int = 0
    people: bool = True  # False for members that only describe the owner

    def matches(self, path: str) -> bool:
        return re.search(r"(?:^|/)" + self.pattern + r"$", path, re.IGNORECASE) is not None


class ExportConnector:
    """Base class for a platform's export reader; subclasses fill in the tables."""

    platform: ClassVar[str]
    title: ClassVar[str]
    layouts: ClassVar[dict[str, str]]  # layout id -> years and description
    handlers: ClassVar[list[Handler]]
    ignored: ClassVar[list[str]] = []  # member path patterns known and deliberately not read

    def handler_for(self, path: str) -> Handler | None:
        for handler in self.handlers:
            if handler.matches(path):
                return handler
        return None

    def is_ignored(self, path: str) -> bool:
        return any(re.search(r"(?:^|/)" + p + r"$", path, re.IGNORECASE) for p in self.ignored)

    def sniff(self, data: bytes) -> Handler | None:
        for handler in self.handlers:
            if handler.sniff is not None:
                try:
                    if handler.sniff(data):
                        return handler
                except Exception:  # noqa: BLE001 - a sniffer that cannot tell says no
                    continue
        return None


# -- helpers shared by connectors ----------------------------------------------------------
MiB = 1024 * 1024
MAX_JSON_DEPTH = 200
# Parsing JSON into Python objects costs several times the file's size in memory; a bigger
# member is refused rather than read (TikTok's single file has its own key scanner, for the
# watch history that makes real files large).
MAX_JSON_PARSE_BYTES = 32 * MiB


def decode_text(data: bytes, ctx: Context | None = None) -> str:
    """Bytes as text: UTF-8 (with or without BOM), else UTF-16 (with a BOM, or recognisable by
    its zero bytes), else cp1252 (an Excel re-save), with a warning when a fallback was needed."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif len(data) >= 4 and data[1:2] == b"\0" and data[3:4] == b"\0" and data[0:1] != b"\0":
        try:
            text = data.decode("utf-16-le")
            if ctx is not None:
                ctx.warn("read as UTF-16 without a byte-order mark")
            return text
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if ctx is not None:
            ctx.warn("not UTF-8; read as Windows-1252")
        return data.decode("cp1252", errors="replace")


def _depth_ok(text: str) -> bool:
    depth = peak = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > peak:
                peak = depth
                if peak > MAX_JSON_DEPTH:
                    return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json_text(text: str, label: str):
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(f"{label}: JSON nested too deeply to be an export") from None
    except json.JSONDecodeError as exc:
        if len(text) < 4 * MiB and not _depth_ok(text):
            raise InputError(f"{label}: JSON nested too deeply to be an export") from None
        if exc.pos >= len(text.rstrip()) - 1:
            raise InputError(f"{label}: the JSON ends early (the file is truncated)") from None
        raise InputError(f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None


def load_json(data: bytes, ctx: Context | None = None, label: str = "file"):
    """Parse JSON, refusing absurd nesting before the parser recurses into it and members too
    large to hold in memory as objects."""
    if len(data) > MAX_JSON_PARSE_BYTES:
        raise InputError(f"{label}: {len(data) // MiB} MiB of JSON is more than auditor reads in one piece"
                         f" ({MAX_JSON_PARSE_BYTES // MiB} MiB)")
    return parse_json_text(decode_text(data, ctx), label)


_sniff_cache: list = [None, None]  # [bytes, parsed]: sniffers of one member share one parse


def sniff_json(data: bytes) -> object | None:
    """Parsed JSON if ``data`` looks like JSON, else None (used by sniffers; one parse per member)."""
    if _sniff_cache[0] is data:
        return _sniff_cache[1]
    result = None
    stripped = data[:64].lstrip(b"\xef\xbb\xbf \r\n\t")[:1]
    if stripped in (b"{", b"[") and len(data) <= MAX_JSON_PARSE_BYTES:
        try:
            result = json.loads(decode_text(data))
        except (ValueError, RecursionError):
            result = None
    _sniff_cache[0], _sniff_cache[1] = data, result
    return result


def get_ci(mapping: dict, *names: str):
    """``mapping[name]`` for the first of ``names`` present, compared without case, spaces or
    underscores (export keys drift: ``FansList``, ``Fans List``, ``fans_list``)."""
    if not isinstance(mapping, dict):
        return None
    for name in names:  # the usual case: the key as written
        if name in mapping:
            return mapping[name]
    wanted = {_fold_key(n) for n in names}
    for key, value in mapping.items():
        if isinstance(key, str) and _fold_key(key) in wanted:
            return value
    return None


@lru_cache(maxsize=4096)
def _fold_key(key: str) -> str:
    return re.sub(r"[\s_\-]", "", key).lower()


_JS_PREFIX = re.compile(r"^\s*window\.[A-Za-z_$][\w$.]*(?:\[[^\]]*\])*\s*=\s*")


def js_payload(text: str) -> str | None:
    """The JSON inside ``window.YTD.follower.part0 = [...]`` (X archives); never evaluated.
    None when the text is not such an assignment."""
    text = text.lstrip("\ufeff")
    match = _JS_PREFIX.match(text)
    if match is None:
        return None
    body = text[match.end():].rstrip()
    if body.endswith(";"):
        body = body[:-1]
    return body


# -- CSV -------------------------------------------------------------------------------------
MAX_CSV_FIELD = 1 * MiB


def csv_records(text: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """``(line number, fields, error)`` for each CSV record; a record the csv module cannot
    read (an enormous field, a stray NUL) comes back as an error and reading goes on."""
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_CSV_FIELD)
    try:
        reader = csv.reader(io.StringIO(text.replace("\0", ""), newline=""))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, None, str(exc)
                continue
            yield reader.line_num, row, None
    finally:
        csv.field_size_limit(limit)


def fold_header(name: str) -> str:
    """A header cell compared loosely: no BOM, quotes or outer spaces; lower case."""
    return name.replace("\ufeff", "").strip().strip('"').strip().lower()


@dataclass
class CsvTable:
    """A CSV file read as header + rows, found after any preamble (LinkedIn's ``Notes:``)."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line number, folded header -> value)
    problems: list[tuple[int, str]]
    preamble_lines: int = 0

    def column(self, *names: str) -> str | None:
        """The first of ``names`` (folded) that the header has."""
        for name in names:
            if fold_header(name) in self.header:
                return fold_header(name)
        return None


def read_csv_table(text: str, is_header: Callable[[list[str]], bool], max_preamble: int = 20) -> CsvTable | None:
    """Read a CSV whose header row satisfies ``is_header`` within the first ``max_preamble``
    records. Rows are dicts keyed by folded header; short rows are padded, blank rows dropped."""
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[tuple[int, str]] = []
    preamble = 0
    for line, fields, error in csv_records(text):
        if header is None:
            if fields is not None and is_header([fold_header(f) for f in fields]):
                header = [fold_header(f) for f in fields]
                continue
            preamble += 1
            if preamble > max_preamble:
                return None
            continue
        if error is not None:
            problems.append((line, error))
            continue
        if fields is None or not any(f.strip() for f in fields):
            continue
        if len(fields) > len(header) and not any(f.strip() for f in fields[len(header):]):
            fields = fields[: len(header)]
        record = {name: (fields[i] if i < len(fields) else "") for i, name in enumerate(header)}
        if len(fields) > len(header):
            record["__extra__"] = ",".join(fields[len(header):])
        rows.append((line, record))
    if header is None:
        return None
    return CsvTable(header=header, rows=rows, problems=problems, preamble_lines=preamble)


def sniff_text(data: bytes, size: int = 8192) -> str:
    """The start of a member as text, for sniffers that look at a header line."""
    return decode_text(data[:size]).lstrip("\ufeff")


# -- HTML ------------------------------------------------------------------------------------
class _Structure(HTMLParser):
    """Collects what export pages hold, by structure only (class names are obfuscated and
    change between exports): headings, tables of cells, and links with the text after them."""

    HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.heading: str | None = None
        self.tables: list[tuple[str | None, list[list[str]]]] = []
        self.links: list[dict] = []
        self.texts: list[str] = []  # every text node, in order
        self._in_heading = False
        self._heading_buf: list[str] = []
        self._table_depth = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._link: dict | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.HEADINGS:
            self._in_heading, self._heading_buf = True, []
        elif tag == "table":
            self._table_depth += 1
            if self._table_depth == 1:
                self.tables.append((self.heading, []))
        elif tag == "tr" and self._table_depth == 1:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._link = {"href": href, "text": [], "after": [], "heading": self.heading,
                          "text_index": len(self.texts)}
            self.links.append(self._link)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.HEADINGS and self._in_heading:
            self._in_heading = False
            self.heading = " ".join("".join(self._heading_buf).split()) or None
        elif tag == "table":
            self._table_depth = max(0, self._table_depth - 1)
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table_depth >= 1:
            if self._row:
                self.tables[-1][1].append(self._row)
            self._row = None
        elif tag == "a" and self._link is not None:
            self._link["text"] = "".join(self._link["text"]).strip()
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_heading:
            self._heading_buf.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._link is not None:
            self._link["text"].append(data)
        if data.strip():
            self.texts.append(data.strip())


@dataclass
class HtmlDoc:
    title: str | None
    tables: list[tuple[str | None, list[list[str]]]]
    links: list[dict]
    texts: list[str]


def parse_html(text: str) -> HtmlDoc:
    """Headings, tables and links of an export page (never its class names)."""
    parser = _Structure()
    try:
        parser.feed(text)
        parser.close()
    except AssertionError:  # html.parser gives up on some broken markup; keep what it read
        pass
    title = None
    match = re.search(r"<title[^>]*>(.*?)</title>", text[:20000], re.IGNORECASE | re.DOTALL)
    if match:
        title = html.unescape(" ".join(match.group(1).split())) or None
    for link in parser.links:
        if isinstance(link["text"], list):
            link["text"] = "".join(link["text"]).strip()
    return HtmlDoc(title=title, tables=parser.tables, links=parser.links, texts=parser.texts)


def looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \r\n\t").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<body", b"<div", b"<table"))
