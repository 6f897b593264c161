"""Text repair and identifier normalisation shared by connectors, matcher and self-check.

Pure functions: each takes a string and returns a string (or None), idempotently.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import phonenumbers

# Bidirectional controls and zero-width characters: invisible, and dangerous in reports.
_INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u061c\u180e]"
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def meta_encode(value: str) -> str:
    """What Meta's JSON writer does to a string: every UTF-8 byte becomes its own code point
    (U+0000–U+00FF). Kept here as the exact inverse of ``repair_mojibake`` (tests, fixtures)."""
    return value.encode("utf-8").decode("latin-1")


def _repair_once(value: str) -> str:
    if not value or value.isascii() or any(ord(ch) > 0xFF for ch in value):
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return value


def repair_mojibake(value: str) -> str:
    """Undo Meta's export encoding, where each UTF-8 byte was written as its own ``\\u00XX``.

    A string with any character above U+00FF is already right; one made only of Latin-1
    characters with at least one above U+007F is re-read as UTF-8, and kept as it was if that
    fails (it was genuine Latin-1). The step is repeated while it still changes something (a
    file re-saved through a second Latin-1 round trip), so repairing twice changes nothing.
    """
    while True:  # each step shortens the string, so this ends
        repaired = _repair_once(value)
        if repaired == value:
            return value
        value = repaired


def repair_deep(obj):
    """``repair_mojibake`` applied to every string and key of parsed JSON."""
    if isinstance(obj, str):
        return repair_mojibake(obj)
    if isinstance(obj, list):
        return [repair_deep(x) for x in obj]
    if isinstance(obj, dict):
        return {repair_mojibake(k): repair_deep(v) for k, v in obj.items()}
    return obj


def clean_display_name(value: str | None) -> str | None:
    """A display name safe to show and compare: no controls, bidi overrides or zero-width
    characters, whitespace collapsed. Letters, accents and emoji are kept."""
    if value is None:
        return None
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", value))
    text = _SPACES.sub(" ", text).strip()
    return text or None


def normalise_username(value: str | None) -> str | None:
    """A handle as platforms compare it: no ``@``, URL, ``_u/`` prefix or query; lower case."""
    if value is None:
        return None
    text = clean_display_name(value)
    if not text:
        return None
    if "://" in text or text.startswith("www."):
        text = username_from_url(text) or ""
    text = text.strip().lstrip("@").split("?")[0].strip("/")
    if text.startswith("_u/"):
        text = text[3:]
    return text.lower() or None


def username_from_url(url: str | None) -> str | None:
    """The last meaningful path segment of a profile URL (``/_u/name``, ``/in/slug``, ``/@name``)."""
    if not url:
        return None
    try:
        parts = [unquote(p) for p in urlsplit(url.strip()).path.split("/") if p]
    except ValueError:
        return None
    parts = [p for p in parts if p not in ("_u", "in", "u", "users", "user", "add", "channel")]
    if not parts:
        return None
    return parts[-1].lstrip("@").lower() or None


@lru_cache(maxsize=65536)
def normalise_phone(value: str | None, region: str = "GB") -> str | None:
    """E.164 for a parseable number (UK by default, so ``07700 900123`` → ``+447700900123``)."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = re.sub(r"[\s().-]", "", text)
    if region == "GB" and digits.isdigit():  # an Excel re-save drops the leading + or 0
        if len(digits) == 12 and digits.startswith("44"):
            text = "+" + digits
        elif len(digits) == 10 and digits.startswith("7"):
            text = "0" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str | None) -> str | None:
    if not value:
        return None
    text = value.strip().strip("<>").lower()
    if text.startswith("mailto:"):
        text = text[7:]
    if "@" not in text or " " in text or text.startswith("@") or text.endswith("@"):
        return None
    return text


def from_unix(value) -> datetime | None:
    """Unix seconds (int, float or digit string; milliseconds tolerated) as aware UTC."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds
        number /= 1000.0
    if number <= 0:
        return None
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def parse_datetime(value: str | None, formats: tuple[str, ...]) -> datetime | None:
    """The first of ``formats`` that parses ``value``, as aware UTC (a time without a zone is
    taken as UTC; a `` UTC`` suffix is accepted)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4].strip()
    if _ISO_START.match(text):  # the common exported shapes, read at C speed
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: str) -> bool:
    """Whether ``storable`` would leave this text as it is."""
    return not _UNSTORABLE.search(value)


def storable(value):
    """Text every database can store, in a str, list or dict: a NUL (PostgreSQL refuses it) or a
    lone surrogate (from JSON's "\\ud800"; not UTF-8 at all) becomes U+FFFD. Found by fuzzing."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value
