"""Fuzzing every export connector's handlers (hypothesis): near-valid inputs grown from each
handler's own fixture (JSON trees with keys dropped, renamed or added and values of every type,
JS prefixes changed, CSV with random quoting, BOMs and line endings, vCard lines, HTML tables
broken and reordered, bytes flipped, files cut short) must come back from ``parse_export`` as
records or as one ``AuditorError``, never as any other exception.

CI runs the "ci" profile (a few thousand cases, derandomised so CI is repeatable); the longer
run explores freely:

    AUDITOR_FUZZ=long .venv/bin/python -m pytest tests/test_fuzz_exports.py tests/test_fuzz_roster.py -q -s

(AUDITOR_FUZZ_EXAMPLES=N sets the examples per handler for either profile.) Database-free, so
the PostgreSQL pass of ``make test`` skips it."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import AuditorError
from auditor.ingest import connectors, parse_export

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
PROFILE = os.environ.get("AUDITOR_FUZZ", "ci")
settings.register_profile("auditor-fuzz-ci", max_examples=60, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("auditor-fuzz-long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings(settings.get_profile(f"auditor-fuzz-{PROFILE}"),
                **({"max_examples": int(os.environ["AUDITOR_FUZZ_EXAMPLES"])}
                   if os.environ.get("AUDITOR_FUZZ_EXAMPLES") else {}))
pytestmark = pytest.mark.skipif(bool(os.environ.get("AUDITOR_TEST_PG")),
                                reason="no database involved; the SQLite pass runs it")
FIGURES: Counter = Counter()

# Handlers no fixture folder holds a member for: a small synthetic seed each, in the layout
# the handler documents (hand-made values).
EXTRA_SEEDS = {
    ("instagram", "your_instagram_activity/threads/followers.html"): (
        EXPORTS / "instagram/html/connections/followers_and_following/followers_1.html").read_bytes(),
    ("instagram", "connections/contacts/synced_contacts.json"): json.dumps({"contacts_contact_info": [
        {"title": "", "media_map_data": {}, "string_map_data": {
            "First name": {"href": "", "value": "Wenna", "timestamp": 0},
            "Surname": {"href": "", "value": "Trelawny", "timestamp": 0},
            "Contact information": {"href": "", "value": "07700 900417", "timestamp": 0}}},
        {"title": "", "media_map_data": {}, "string_map_data": {
            "First name": {"href": "", "value": "Kenver", "timestamp": 0},
            "Contact information": {"href": "", "value": "kenver@example.org", "timestamp": 0}}}]}).encode(),
    ("linkedin", "Imported Contacts.csv"): (
        b"First Name,Last Name,Companies,Title,Email Address,Phone Numbers,Created At,Addresses,Sites,"
        b"Instant Message Handles,Full Name,Birthday,Location,Bookmarked At,Profiles\r\n"
        b"Morwenna,Penhale,,,m.penhale@example.org,+44 7700 900533,\"Mon Oct 03 10:00:00 UTC 2022\",,,,"
        b"Morwenna Penhale,,,,\r\n"
        b",,,,,07700 900534,,,,,,,,,\r\n"),
    ("x", "data/contact.js"): (
        b'window.YTD.contact.part0 = [ {"contact": {"id": "1", "emails": ["jory@example.org"], '
        b'"phoneNumbers": ["+447700900612"]}}, {"contact": {"id": "2", "emails": [], "phoneNumbers": []}} ]'),
}


@dataclass(frozen=True)
class Seed:
    name: str  # platform/layout/member, for the test id
    member: str  # the member path inside an export
    data: bytes
    handler: str  # connector platform and handler layout


def _handler_of(member: str):
    for connector in connectors():
        handler = connector.handler_for(member)
        if handler is not None:
            return connector, handler
    return None, None


def discover_seeds() -> list[Seed]:
    """One seed per handler and fixture layout (the largest member that handler reads there)."""
    best: dict[tuple, Seed] = {}
    for path in sorted(EXPORTS.rglob("*")):
        if not path.is_file():
            continue
        platform, layout = path.relative_to(EXPORTS).parts[:2]
        member = path.relative_to(EXPORTS / platform / layout).as_posix()
        connector, handler = _handler_of(member)
        if handler is None:
            continue
        key = (platform, layout, connector.platform, handler.layout, handler.pattern)
        data = path.read_bytes()
        if key not in best or len(data) > len(best[key].data):
            best[key] = Seed(f"{platform}/{layout}/{member}", member, data, f"{connector.platform}:{handler.layout}")
    for (platform, member), data in EXTRA_SEEDS.items():
        connector, handler = _handler_of(member)
        assert handler is not None, member
        best[("extra", member)] = Seed(f"{platform}/synthetic/{member}", member, data,
                                       f"{connector.platform}:{handler.layout}")
    return sorted(best.values(), key=lambda s: s.name)


SEEDS = discover_seeds()


def test_every_handler_of_every_connector_has_a_seed():
    wanted = {(c.platform, h.pattern) for c in connectors() for h in c.handlers}
    seeded = set()
    for seed in SEEDS:
        connector, handler = _handler_of(seed.member)
        seeded.add((connector.platform, handler.pattern))
    assert wanted - seeded == set()


# -- strategies ---------------------------------------------------------------------------------
FRAGMENTS = ['"', '""', ",", ";", ":", "=", "\t", "\\", "\0", "\x1b", "\u202e", "\ufeff", "\u00e2\u0080\u0099", "🙂",
             "𝓯𝓪𝓷𝓬𝔂", "'", "<", ">", "&", "&amp;", "&#0;", "&#x110000;", "<td>", "</td>", "<tr>", "</table>",
             "<div>", "<a href=\"https://www.instagram.com/x\">", "</a>", "<!--", "]]>", "BEGIN:VCARD", "END:VCARD",
             "VERSION:2.1", "N:;;;;", "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=", "TEL;TYPE=CELL:", "item1.",
             "=\r\n", "{", "}", "[", "]", "null", "NaN", "-1", "99999999999999999999", "1e400", "1970-01-01",
             "0000-00-00", "Mon Oct 03 10:00:00 UTC 2022", "9999-12-31T23:59:59Z", "window.YTD.follower.part0 = ",
             "https://", "@", "+44", "\r", "\n", "\u2028", "\ud7ff", " " * 3]
TEXTS = st.text(max_size=24) | st.sampled_from(FRAGMENTS) | st.lists(st.sampled_from(FRAGMENTS), max_size=5).map("".join)
NUMBERS = (st.integers(min_value=-(2 ** 70), max_value=2 ** 70) | st.sampled_from([0, -1, 2 ** 31, 2 ** 63, 10 ** 15])
           | st.floats(allow_nan=True, allow_infinity=True))
KEYS = TEXTS | st.sampled_from(["name", "value", "href", "timestamp", "title", "string_list_data", "string_map_data",
                                "relationships_followers", "relationships_following", "friends_v2", "data", "data_v2",
                                "Friends", "Following", "FollowingList", "Follower", "FansList", "UserName", "Date",
                                "contact_info", "followers", "accountId", "userLink", "username", "display_name",
                                "displayName", "userName", "contact", "emails", "phoneNumbers", "media_map_data"])
SCALARS = st.none() | st.booleans() | NUMBERS | TEXTS
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                           max_leaves=6)
ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"]
JS_PREFIX = re.compile(rb"^\s*(window\.[\w.]+\s*=\s*)", re.S)


def _mutate_tree(draw, node, depth: int = 0):
    roll = draw(st.integers(0, 99))
    if roll < 4 or depth > 12:
        return draw(JSON_VALUES)
    if isinstance(node, dict):
        out = {}
        for key, value in list(node.items())[:12]:
            op = draw(st.integers(0, 99))
            if op < 4:
                continue  # key dropped
            if op < 7:
                key = draw(KEYS)  # key renamed
            out[key] = _mutate_tree(draw, value, depth + 1)
        if draw(st.integers(0, 99)) < 6:
            out[draw(KEYS)] = draw(JSON_VALUES)
        return out
    if isinstance(node, list):
        items = [_mutate_tree(draw, v, depth + 1) for v in node[:8]]
        op = draw(st.integers(0, 99))
        if op < 8 and items:
            items.append(items[draw(st.integers(0, len(items) - 1))])
        elif op < 14:
            items.insert(draw(st.integers(0, len(items))), draw(JSON_VALUES))
        elif op < 18 and items:
            items.pop(draw(st.integers(0, len(items) - 1)))
        return items
    if roll < 12:
        return draw(SCALARS)
    if isinstance(node, str) and roll < 20:
        return node + draw(TEXTS)
    if isinstance(node, bool | int | float) and roll < 20:
        return draw(NUMBERS)
    return node


def _encode(draw, text: str) -> bytes:
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace" if encoding in ("cp1252", "latin-1") else "surrogatepass")


@st.composite
def json_variants(draw, seed: Seed) -> bytes:
    found = JS_PREFIX.match(seed.data)
    prefix = found.group(1).decode() if found else ""
    body = seed.data[found.end():] if found else seed.data
    tree = json.loads(body.decode("utf-8-sig"))
    tree = _mutate_tree(draw, tree)
    text = json.dumps(tree, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1, 2])))
    prefix = draw(st.sampled_from([prefix, prefix, "", "window.YTD.other.part9 =", "window.x ", "var a = "]))
    return _encode(draw, prefix + text)


@st.composite
def text_variants(draw, seed: Seed) -> bytes:
    lines = seed.data.decode("utf-8-sig", errors="replace").splitlines()
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 8))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == 0 and lines:
            lines.pop(at)
        elif op == 1 and lines:
            lines.insert(at, lines[at])
        elif op == 2 and len(lines) > 1:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == 3:
            lines.insert(at, draw(TEXTS))
        elif lines:
            line = lines[at]
            cut = draw(st.integers(0, len(line)))
            if op in (4, 5):
                lines[at] = line[:cut] + draw(TEXTS) + line[cut:]
            elif op == 6:
                lines[at] = line[:cut] + line[cut + draw(st.integers(1, 8)):]
            elif op == 7:
                lines[at] = line.replace(",", draw(st.sampled_from([";", "\t", '","', '"', ",,"])))
            else:
                lines[at] = line[:cut]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "\n"]))
    return _encode(draw, newline.join(lines) + draw(st.sampled_from(["", newline])))


@st.composite
def byte_variants(draw, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        if not buffer:
            break
        at = draw(st.integers(0, len(buffer) - 1))
        op = draw(st.integers(0, 3))
        if op == 0:
            buffer[at] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            buffer[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == 2:
            del buffer[at:at + draw(st.integers(1, 16))]
        else:
            del buffer[at:]
    return bytes(buffer)


def variants(seed: Seed):
    try:
        body = JS_PREFIX.sub(b"", seed.data, count=1).decode("utf-8-sig")
        json.loads(body)
        structured = json_variants(seed)
    except (UnicodeDecodeError, ValueError):
        structured = text_variants(seed)
    mixed = structured | text_variants(seed) | byte_variants(seed.data)
    return st.one_of(structured, structured, mixed, structured.flatmap(byte_variants))


# -- the property ------------------------------------------------------------------------------
def read_safely(member: str, data: bytes, loose: bool) -> str:
    """parse_export on the member, in its folder or as a loose file: 'read' or 'refused'."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        target = folder / (Path(member).name if loose else member)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        try:
            parsed = parse_export(target if loose else folder)
        except AuditorError as exc:
            assert str(exc).strip() and "\n" not in str(exc), "a refusal is one line"
            return "refused"
        for record in parsed.records:  # what is stored must be storable
            assert isinstance(record.platform, str) and isinstance(record.kind, str)
            assert record.connected_at is None or record.connected_at.tzinfo is not None
            assert all(isinstance(x, str) for x in (*record.phones, *record.emails))
            json.dumps(record.extra)
        return "read"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("seed", SEEDS, ids=[s.name for s in SEEDS])
def test_near_valid_exports_are_read_or_refused_in_one_line(seed: Seed):
    @FUZZ
    @given(data=variants(seed), loose=st.booleans())
    def check(data: bytes, loose: bool):
        outcome = read_safely(seed.member, data, loose)
        FIGURES["cases"] += 1
        FIGURES[outcome] += 1
        FIGURES[f"handler {seed.handler}"] += 1

    check()


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    if FIGURES["cases"]:
        handlers = sum(1 for k in FIGURES if k.startswith("handler "))
        print(f"\nexport fuzzing ({PROFILE}): {FIGURES['cases']} cases over {len(SEEDS)} seeds and {handlers} handlers; "
              f"{FIGURES['read']} read, {FIGURES['refused']} refused with one line")
