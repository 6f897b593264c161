"""The shape every export connector has, and how an archive is routed to connectors.

A connector is a table from archive member (a path pattern) to handler, plus the members it
knows and deliberately ignores. Members no connector knows are reported, never silently
dropped. A loose file is recognised by its content (keys or header), not only by its name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
MAX_JSON_DEPTH = 200


def decode_text(data: bytes, ctx: Context | None = None) -> str:
    """Bytes as text: UTF-8 (with or without BOM), else UTF-16 with BOM, else cp1252
    (an Excel re-save), with a warning when a fallback was needed."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
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


def load_json(data: bytes, ctx: Context | None = None, label: str = "file"):
    """Parse JSON, refusing absurd nesting before the parser recurses into it."""
    text = decode_text(data, ctx)
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(f"{label}: JSON nested too deeply to be an export") from None
    except json.JSONDecodeError as exc:
        if not _depth_ok(text):
            raise InputError(f"{label}: JSON nested too deeply to be an export") from None
        raise InputError(f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None


def sniff_json(data: bytes) -> object | None:
    """Parsed JSON if ``data`` looks like JSON, else None (used by sniffers)."""
    head = data.lstrip()[:1]
    if head not in (b"{", b"["):
        stripped = data.lstrip(b"\xef\xbb\xbf \r\n\t")[:1]
        if stripped not in (b"{", b"["):
            return None
    try:
        return json.loads(decode_text(data))
    except (ValueError, RecursionError):
        return None
