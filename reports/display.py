"""Making untrusted text safe to show: display names and handles come from strangers' profiles.

Three dangers, each handled here once for every writer:

- markup: HTML writers escape through Jinja2's autoescape; ``show`` escapes again before it
  wraps text in ``<bdi>`` (a Markup value is never built from unescaped text);
- invisible and direction-changing characters (U+202E RIGHT-TO-LEFT OVERRIDE makes
  ``gnp.exe`` read as ``exe.png``): made visible as ``[U+202E]`` rather than silently dropped, so
  a DSL can see that a name was doctored, and the HTML keeps every name in its own ``<bdi>``;
- spreadsheet formulas: a CSV cell beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage
  return (or their full-width forms) is prefixed with an apostrophe, which Excel and LibreOffice
  show as text (OWASP "CSV injection").

Very long names are shortened for display (the JSON keeps them whole).
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape

DISPLAY_LIMIT = 60
CSV_LIMIT = 1000

# Direction controls, invisible separators and other format characters worth showing.
_MARKED = re.compile("[\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
FORMULA_START = tuple("=+-@\t\r\n") + ("\uff1d", "\uff0b", "\uff0d", "\uff20")


def visible(value: object) -> str:
    """Text with control characters turned into spaces and hidden or direction-changing
    characters written as ``[U+XXXX]``.

    >>> visible("Ann\\u202egnp.exe")
    'Ann[U+202E]gnp.exe'
    >>> visible("line\\nbreak")
    'line break'
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = _MARKED.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
    return _CONTROL.sub(" ", text)


def shorten(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """At most ``limit`` characters, with an ellipsis and the full length when cut.

    >>> shorten("x" * 100, 10)
    'xxxxxxxxx… (100 characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit - 1]}… ({len(text):,} characters)"


def plain(value: object, limit: int = DISPLAY_LIMIT) -> str:
    """Untrusted text made visible and shortened, still to be escaped by the caller."""
    return shorten(visible(value), limit)


def show(value: object, limit: int = DISPLAY_LIMIT) -> Markup:
    """Untrusted text for HTML: escaped, made visible, shortened, isolated in ``<bdi>``.

    >>> str(show("<b>x</b>"))
    '<bdi class="u">&lt;b&gt;x&lt;/b&gt;</bdi>'
    """
    if value is None or value == "":
        return Markup('<span class="none">—</span>')
    return Markup('<bdi class="u">{}</bdi>').format(escape(plain(value, limit)))


def csv_cell(value: object, limit: int = CSV_LIMIT) -> object:
    """One CSV cell that a spreadsheet shows as text and never evaluates.

    Numbers pass through; text that would start a formula gets a leading apostrophe.

    >>> csv_cell('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> csv_cell(0.5)
    0.5
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    raw = str(value)
    text = shorten(visible(raw), limit)
    if raw.lstrip(" ").startswith(FORMULA_START) or text.lstrip(" ").startswith(FORMULA_START):
        text = "'" + text
    return text
