"""Name normalisation and readings: what a display name or a handle may say about a name.

Order matters: NFKC first (it turns 𝓙𝓪𝓴𝓮 and fullwidth letters into plain ones), then enclosed
letters (🅹 Ⓙ) are transliterated while every other symbol and emoji is dropped, then the rest
is transliterated with anyascii (é → e, Ł → L, Cyrillic → Latin), case-folded, and apostrophes
removed (O'Brien → obrien). Hyphens join double-barrelled surnames.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "dame", "lady", "lord",
                    "master", "mstr", "madam", "fr", "sr", "sra"})
SUFFIXES = frozenset({"jr", "jnr", "snr", "sr", "ii", "iii", "iv", "phd", "mba", "bsc", "ba", "ma", "msc",
                      "pgce", "qts", "frsa", "mbe", "obe", "cbe", "esq", "rn", "dip"})
# How people label family in a phone book ("Mum", "Jake's Dad", "Auntie Sue"): not names. At the
# front it is a title; after a name, the name is the child's, not this contact's. (Nana and Nan
# are left out: they are also given names.)
KIN_WORDS = frozenset({"mum", "mom", "mam", "mummy", "mommy", "mammy", "dad", "daddy", "grandma", "grandad",
                       "granddad", "grandpa", "granny", "auntie", "aunty", "uncle", "stepmum", "stepdad"})
_APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc"
_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+")


def _letterlike_symbol(ch: str) -> str | None:
    """Enclosed and squared letters (🅹, Ⓙ, 🄹) are letters in disguise; keep them."""
    code = ord(ch)
    if 0x24B6 <= code <= 0x24E9 or 0x1F130 <= code <= 0x1F189:
        text = anyascii(ch).strip("()")
        return text if text.isalpha() and len(text) == 1 else None
    return None


_ASCII_FOLD = {code: (chr(code) if chr(code).isalnum() or chr(code) == "-" else None if chr(code) in _APOSTROPHES else " ")
               for code in range(128)}
_NOT_FOLDED = re.compile(r"[^a-z0-9\- ]+")
_SPACED_HYPHEN = re.compile(r"\s*-\s*")
_HYPHENS = re.compile(r"-{2,}")
# Signs NFKC would turn into letters (™ → TM, ℠ → SM, ℡ → TEL): decoration, dropped first.
_MARKS = {0x2122: " ", 0x2120: " ", 0x2121: " "}


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Plain lower-case ASCII letters, digits, spaces and hyphens; symbols and emoji removed."""
    if text.isascii():  # most names: the same result as below, by one table lookup per character
        ascii_text = text.translate(_ASCII_FOLD).lower()
    else:
        text = unicodedata.normalize("NFKC", text.translate(_MARKS))
        kept = []
        for ch in text:
            cat = unicodedata.category(ch)
            if cat[0] in "LMN":
                kept.append(ch)
            elif ch in _APOSTROPHES:
                continue
            elif ch == "-" or cat == "Pd":
                kept.append("-")
            elif cat[0] == "S" and (letter := _letterlike_symbol(ch)):
                kept.append(letter)
            else:
                kept.append(" ")
        ascii_text = anyascii("".join(kept)).lower()
        ascii_text = _NOT_FOLDED.sub(" ", ascii_text.replace("'", ""))
    ascii_text = _SPACED_HYPHEN.sub("-", ascii_text)
    ascii_text = _HYPHENS.sub("-", ascii_text)
    return " ".join(ascii_text.replace(" -", " ").replace("- ", " ").split()).strip("-")


def compact(name: str) -> str:
    """A surname without spaces and hyphens: 'Mac Breen-McCaughey' → 'macbreenmccaughey'."""
    return name.replace(" ", "").replace("-", "").replace("\t", "")


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A display name split into name tokens (hyphenated kept whole) and digit runs."""

    tokens: tuple[str, ...]
    numbers: tuple[str, ...]
    title: str | None = None


@lru_cache(maxsize=200_000)
def parse_display_name(raw: str | None) -> ParsedName:
    if not raw:
        return ParsedName((), ())
    text = raw
    if "," in text:  # "Jane Example, PhD": drop post-nominals after a comma
        head, _, tail = text.partition(",")
        tail_tokens = fold(tail).split()
        if tail_tokens and all(t in SUFFIXES for t in tail_tokens):
            text = head
    folded = fold(text)
    tokens: list[str] = []
    numbers: list[str] = []
    for match in _TOKEN.finditer(folded):
        part = match.group()
        (numbers if part.isdigit() else tokens).append(part)
    title = None
    while tokens and tokens[0] in TITLES:
        title = title or tokens[0]
        tokens.pop(0)
    while len(tokens) > 1 and tokens[-1] in SUFFIXES:
        tokens.pop()
    if any(t in KIN_WORDS for t in tokens):
        tokens = [t for t in tokens[1:] if t not in KIN_WORDS] if tokens[0] in KIN_WORDS else []
    return ParsedName(tuple(tokens), tuple(numbers), title)


@dataclass(frozen=True, slots=True)
class Reading:
    """One way of reading a name: a forename (or its initial), a surname (or its initial),
    middle names, and how the reading was made (for the explanation)."""

    forename: str | None
    surname: str | None
    middles: tuple[str, ...] = ()
    how: str = "first last"
    swapped: bool = False

    @property
    def forename_is_initial(self) -> bool:
        return self.forename is not None and len(self.forename) == 1

    @property
    def surname_is_initial(self) -> bool:
        return self.surname is not None and len(self.surname) == 1


def readings_from_tokens(tokens: tuple[str, ...], source: str = "name") -> list[Reading]:
    """First last, last first, first + initial, first only, with middle names and
    double-barrelled surnames written with a space."""
    out: list[Reading] = []
    if not tokens:
        return out
    if len(tokens) == 1:
        out.append(Reading(tokens[0], None, (), f"{source}: first name only"))
        return out
    first, last, middle = tokens[0], tokens[-1], tokens[1:-1]
    out.append(Reading(first, last, middle, f"{source}: first last"))
    if len(tokens) >= 3:
        out.append(Reading(first, " ".join(tokens[1:]), (), f"{source}: first + two-part surname"))
    out.append(Reading(last, first, (), f"{source}: last first", swapped=True))
    if len(tokens) >= 3:
        out.append(Reading(tokens[-1], " ".join(tokens[:-1]), (), f"{source}: two-part surname first", swapped=True))
    return out


# -- handles ---------------------------------------------------------------------------------
_HANDLE_SPLIT = re.compile(r"[._\-\s]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_ALPHA_DIGIT = re.compile(r"[a-z]+|\d+")


@dataclass(frozen=True, slots=True)
class HandleParse:
    """The alphabetic chunks and digit runs of a username, in order."""

    chunks: tuple[str, ...]
    numbers: tuple[str, ...]


@lru_cache(maxsize=200_000)
def parse_handle(raw: str | None) -> HandleParse:
    if not raw:
        return HandleParse((), ())
    text = raw.strip().lstrip("@")
    if "@" in text:  # user@server (Mastodon), e-mail: the local part only
        text = text.split("@")[0]
    text = _CAMEL.sub(" ", text)
    chunks: list[str] = []
    numbers: list[str] = []
    for piece in _HANDLE_SPLIT.split(fold(text.replace(".", " ").replace("_", " "))):
        for part in _ALPHA_DIGIT.findall(piece):
            (numbers if part.isdigit() else chunks).append(part)
    # x's around a handle are decoration, not initials: xX_jake_smith_Xx, x_jake_x
    while chunks and set(chunks[0]) == {"x"}:
        chunks.pop(0)
    while chunks and set(chunks[-1]) == {"x"}:
        chunks.pop()
    return HandleParse(tuple(chunks), tuple(numbers))


def split_concatenation(chunk: str, lexicon: frozenset[str], max_parts: int = 3,
                        surnames: frozenset[str] | None = None) -> list[tuple[str, ...]]:
    """Ways to read ``chunk`` as lexicon names written together ('jakesmith' → jake smith),
    an initial before or after a surname ('jsmith', 'smithj'), or a name wrapped in x's
    ('xjakex'). The whole chunk, if it is a name, comes first. An initial is only split off
    a surname ('martina' is not Martin A.)."""
    initial_bases = surnames if surnames is not None else lexicon
    results: list[tuple[str, ...]] = []
    if chunk in lexicon:
        results.append((chunk,))
    n = len(chunk)
    for i in range(2, n - 1):
        a, b = chunk[:i], chunk[i:]
        if a in lexicon and b in lexicon:
            results.append((a, b))
        elif max_parts >= 3 and a in lexicon:
            for j in range(i + 2, n - 1):
                if chunk[i:j] in lexicon and chunk[j:] in lexicon:
                    results.append((a, chunk[i:j], chunk[j:]))
    if n >= 4 and chunk[1:] in initial_bases:
        results.append((chunk[0], chunk[1:]))
    if n >= 5 and chunk[:-1] in initial_bases:
        results.append((chunk[:-1], chunk[-1]))
    if n >= 5 and chunk[0] == "x" and chunk[-1] == "x" and chunk[1:-1] in lexicon:
        results.append((chunk[1:-1],))
    if n >= 4 and chunk[0] == "x" and chunk[1:] in lexicon and (chunk[1:],) not in results:
        results.append((chunk[1:],))
    if n >= 4 and chunk[-1] == "x" and chunk[:-1] in lexicon and (chunk[:-1],) not in results:
        results.append((chunk[:-1],))
    if chunk[0] == "x" and max_parts >= 2:  # names inside x's: xxjakexx, xjakesmithx
        core = chunk.lstrip("x").rstrip("x") if chunk[-1] == "x" else chunk.lstrip("x")
        if len(core) >= 3:
            results += [seq for seq in split_concatenation(core, lexicon, max_parts=max_parts - 1, surnames=surnames)
                        if seq not in results]
    return results


def handle_token_sequences(handle: HandleParse, lexicon: frozenset[str], limit: int = 12,
                           surnames: frozenset[str] | None = None) -> list[tuple[str, ...]]:
    """Every way to read the handle's chunks as a sequence of names or initials."""
    sequences: list[tuple[str, ...]] = [()]
    for chunk in handle.chunks:
        options = split_concatenation(chunk, lexicon, surnames=surnames)
        if not options:
            if len(chunk) == 1:
                options = [(chunk,)]
            elif len(chunk) == 2 and chunk[0] == chunk[1] == "x":
                continue
            else:
                options = [(chunk,)]  # unknown word: kept so it can still be compared fuzzily
        sequences = [s + o for s in sequences for o in options][:limit]
    return [s for s in sequences if s]


MIN_ACCOUNT_AGE = 5


def birth_years(numbers: tuple[str, ...], as_of_year: int) -> list[tuple[int, str]]:
    """Digit runs read as birth years: four digits in a plausible range ('2011'), or two digits
    ('11' → 2011, '79' → 1979). Returns (year, strength) with strength 'yyyy' or 'yy'.
    Nobody under five holds an account, so a year that recent ('22' in 2026) is some other
    number, not evidence of a young child."""
    years: list[tuple[int, str]] = []
    latest = as_of_year - MIN_ACCOUNT_AGE
    for number in numbers:
        if len(number) == 4:
            year = int(number)
            if 1930 <= year <= latest:
                years.append((year, "yyyy"))
        elif len(number) == 2:
            value = int(number)
            year = 2000 + value if 2000 + value <= latest else 1900 + value
            if year >= 1930:
                years.append((year, "yy"))
    return years
