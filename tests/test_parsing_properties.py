"""Property tests: Meta mojibake repair, CSV reading and vCard parsing, on generated input."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.connector import csv_records, fold_header, read_csv_table
from auditor.connectors.contacts import parse_vcards
from auditor.text import meta_encode, repair_deep, repair_mojibake

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# any text Python can encode as UTF-8 (no lone surrogates)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
# text as names and values are written: no control characters
CLEAN = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


# -- mojibake --------------------------------------------------------------------------------
@SETTINGS
@given(TEXT)
def test_repair_is_idempotent_on_any_string(value):
    once = repair_mojibake(value)
    assert repair_mojibake(once) == once


@SETTINGS
@given(TEXT)
def test_repair_inverts_metas_encoding(value):
    clean = repair_mojibake(value)  # a string repair leaves alone is one Meta could have started from
    assert repair_mojibake(meta_encode(clean)) == clean


@SETTINGS
@given(st.recursive(TEXT | st.integers() | st.none(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12))
def test_repair_deep_is_idempotent(doc):
    once = repair_deep(doc)
    assert repair_deep(once) == once


# -- CSV --------------------------------------------------------------------------------------
@SETTINGS
@given(TEXT)
def test_csv_reading_never_raises(text):
    for _line, fields, error in csv_records(text):
        assert (fields is None) != (error is None)
    read_csv_table(text, lambda cells: "first name" in cells)


HEADER = ["First Name", "Last Name", "Email Address", "Connected On"]
# a bare CR inside an unquoted field is ambiguous in any CSV; writers quote line breaks they know
CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\r"), max_size=30)


@SETTINGS
@given(st.lists(st.lists(CELL, min_size=4, max_size=4).filter(lambda r: any(c.strip() for c in r)), max_size=8),
       st.sampled_from(["\r\n", "\n"]), st.integers(min_value=0, max_value=3))
def test_csv_rows_round_trip_after_any_preamble(rows, newline, preamble):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    for i in range(preamble):
        writer.writerow([f"Notes line {i}, with a comma"])
    writer.writerow(HEADER)
    writer.writerows(rows)
    table = read_csv_table("\ufeff" + buffer.getvalue(), lambda cells: cells == [fold_header(h) for h in HEADER])
    assert table is not None and table.preamble_lines == preamble
    assert [[row[fold_header(h)] for h in HEADER] for _line, row in table.rows] == rows


# -- vCard ------------------------------------------------------------------------------------
@SETTINGS
@given(TEXT)
def test_vcard_parsing_never_raises(text):
    list(parse_vcards(text))
    list(parse_vcards("BEGIN:VCARD\r\n" + text))


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def fold(line: str, width: int = 75) -> str:
    chunks = [line[i:i + width] for i in range(0, len(line), width)] or [""]
    return "\r\n ".join(chunks)


def quoted_printable(value: str, width: int = 70) -> str:
    """vCard 2.1 quoted-printable with soft line breaks that never split an =XX triple."""
    encoded = "".join(chr(b) if 33 <= b <= 126 and b != 61 or b == 32 else f"={b:02X}" for b in value.encode("utf-8"))
    lines, current = [], ""
    i = 0
    while i < len(encoded):
        piece = encoded[i:i + 3] if encoded[i] == "=" else encoded[i]
        if len(current) + len(piece) > width:
            lines.append(current + "=")
            current = ""
        current += piece
        i += len(piece)
    return "\r\n".join([*lines, current])


NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=90).filter(str.strip)
PHONE = st.from_regex(r"\+?[0-9][0-9 ()-]{5,16}", fullmatch=True)
EMAIL = st.from_regex(r"[a-z0-9._]{1,12}@[a-z0-9-]{1,10}\.example", fullmatch=True)


@SETTINGS
@given(NAME, st.lists(NAME, min_size=5, max_size=5), st.lists(PHONE, max_size=3), st.lists(EMAIL, max_size=3))
def test_vcard_30_round_trips_names_numbers_and_emails(fn, n_parts, tels, emails):
    lines = ["BEGIN:VCARD", "VERSION:3.0", fold("FN:" + escape(fn)), fold("N:" + ";".join(escape(p) for p in n_parts))]
    lines += [fold(f"item{i}.TEL;TYPE=CELL:{t}") for i, t in enumerate(tels)]
    lines += [fold(f"EMAIL;TYPE=INTERNET:{e}") for e in emails]
    lines.append("END:VCARD")
    (card,) = parse_vcards("\r\n".join(lines) + "\r\n")
    assert card.fn == fn and card.n == n_parts
    assert card.tels == [t.strip() for t in tels] and card.emails == emails


@SETTINGS
@given(NAME, st.lists(PHONE, max_size=2), st.sampled_from(["\r\n", "\n"]))
def test_vcard_21_quoted_printable_round_trips(fn, tels, newline):
    body = [
        "BEGIN:VCARD", "VERSION:2.1",
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:" + quoted_printable(escape(fn)),  # writers escape \\ , ;
        *[f"TEL;CELL:{t}" for t in tels], "END:VCARD",
    ]
    (card,) = parse_vcards(newline.join(body).replace("\r\n", newline) + newline)
    assert card.fn == fn and card.tels == [t.strip() for t in tels]
