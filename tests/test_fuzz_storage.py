"""Fuzzing the way from a read export into the database (hypothesis), on SQLite and on
PostgreSQL: any text an export can carry (NUL characters, lone surrogates from JSON's
``\\ud800`` escapes, right-to-left marks, emoji, huge or negative numbers where times belong)
is stored, or the file is refused in one line; never an internal error, and the database stays
readable. Runs on whichever database the suite runs on (it is the database that differs)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.config import Config
from auditor.ingest import import_files
from auditor.roster import import_roster
from auditor.setup import initialise

ROSTER = Path(__file__).parent / "fixtures" / "roster" / "canonical"
PROFILE = os.environ.get("AUDITOR_FUZZ", "ci")
STORE = settings(max_examples=int(os.environ.get("AUDITOR_FUZZ_EXAMPLES") or (100 if PROFILE == "ci" else 1000)),
                 deadline=None, derandomize=PROFILE == "ci", database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                        HealthCheck.data_too_large])
FIGURES: Counter = Counter()

# Every code point, lone surrogates included (JSON can carry them escaped).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)
ODD_TEXT = ANY_TEXT | st.sampled_from(["\0", "a\0b", "\ud800", "x\udfffy", "\u202eevil", "\ufeff", "🙂" * 40,
                                       "𝓯𝓪𝓷𝓬𝔂", " ", "", "\r\n", "'; DROP TABLE person; --", "%s%n", "\\x00"])
TIMES = st.integers(min_value=-(2 ** 64), max_value=2 ** 64) | st.floats() | ODD_TEXT | st.none()


@st.composite
def exports(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["facebook", "instagram", "google", "vcard"]))
    people = draw(st.lists(st.tuples(ODD_TEXT, ODD_TEXT, TIMES), min_size=1, max_size=6))
    if kind == "facebook":
        doc = {"friends_v2": [{"name": name, "timestamp": when} for name, _, when in people]}
        return "connections/friends/your_friends.json", json.dumps(doc, ensure_ascii=True).encode()
    if kind == "instagram":
        doc = [{"title": "", "media_list_data": [], "string_list_data": [
            {"href": f"https://www.instagram.com/{handle}", "value": handle, "timestamp": when}]}
            for _, handle, when in people]
        return "connections/followers_and_following/followers_1.json", json.dumps(doc, ensure_ascii=True).encode()
    if kind == "google":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["Name", "Given Name", "Family Name", "E-mail 1 - Value", "Phone 1 - Value"])
        for name, other, _ in people:
            writer.writerow([name, name, other, f"{other}@example.org", other])
        return "contacts.csv", out.getvalue().encode("utf-8", errors="surrogatepass")
    cards = "".join(f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{name}\r\nN:{other};{name};;;\r\nTEL:{other}\r\nEND:VCARD\r\n"
                    for name, other, _ in people)
    return "contacts.vcf", cards.encode("utf-8", errors="surrogatepass")


def test_any_text_an_export_carries_is_stored_or_refused(db):
    initialise(db, "default", Config())
    import_roster(db, [ROSTER])

    @STORE
    @given(export=exports())
    def check(export: tuple[str, bytes]):
        member, data = export
        folder = Path(tempfile.mkdtemp(prefix="fuzz-store-"))
        try:
            (folder / member).parent.mkdir(parents=True, exist_ok=True)
            (folder / member).write_bytes(data)
            result = import_files(db, "T01", [folder])[0]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        assert result.status in ("imported", "unchanged", "refused"), result
        if result.status == "refused":
            assert result.error and "\n" not in result.error
        FIGURES["cases"] += 1
        FIGURES[result.status] += 1

    check()
    with db.engine.connect() as conn:  # everything stored reads back
        accounts = list(conn.execute(sa.text("SELECT display_name, display_name_raw, username FROM account")))
        stored = conn.execute(sa.text("SELECT COUNT(*) FROM connection")).scalar()
    assert all("\0" not in (v or "") for row in accounts for v in row)
    assert FIGURES["imported"] > 0 and stored > 0
    print(f"\nstorage fuzzing ({PROFILE}, {db.engine.dialect.name}): {FIGURES['cases']} cases; "
          f"{FIGURES['imported']} imported, {FIGURES['unchanged']} unchanged, {FIGURES['refused']} refused in one line")


@st.composite
def rosters(draw) -> list[list[str]]:
    """pupils.csv rows (after the heading) with odd text in every name field."""
    rows = []
    for number in range(draw(st.integers(1, 5))):
        rows.append([f"P9{number:03d}", "", draw(ODD_TEXT), draw(ODD_TEXT), draw(ODD_TEXT), draw(ODD_TEXT),
                     draw(st.sampled_from(["2012-03-14", "", "31/02/2011", "1900-01-01"])), draw(ODD_TEXT),
                     draw(st.sampled_from(["8", "R", "", "13"])), "", ""])
    return rows


def test_any_text_a_roster_carries_is_stored_or_refused(db):
    """The roster's way in: files (CSV with NUL characters, undecodable bytes) and data read from
    an API (where JSON can carry lone surrogates) are stored, or refused in one line."""
    from auditor.errors import AuditorError
    from auditor.roster import RosterData, RosterPerson, import_data

    initialise(db, "default", Config())
    heading = ("pupil_id,upn,legal_forename,legal_surname,preferred_forename,middle_names,date_of_birth,school,"
               "year_group,admission_date,leaving_date")
    outcomes: Counter = Counter()

    @STORE
    @given(rows=rosters(), surrogate=ODD_TEXT)
    def check(rows: list[list[str]], surrogate: str):
        folder = Path(tempfile.mkdtemp(prefix="fuzz-roster-store-"))
        try:
            out = io.StringIO()
            csv.writer(out, lineterminator="\r\n").writerows(rows)
            (folder / "pupils.csv").write_bytes((heading + "\r\n" + out.getvalue()).encode("utf-8", "surrogatepass"))
            try:
                import_roster(db, [folder], options={"partial": True})
                outcomes["stored"] += 1
            except AuditorError as exc:
                assert "\n" not in str(exc)
                outcomes["refused"] += 1
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        data = RosterData(source="wonde", people=[RosterPerson(ref=f"W{surrogate!r}"[:40], kind="pupil",
                                                               legal_forename=surrogate, legal_surname=surrogate)])
        import_data(db, data)
        outcomes["stored"] += 1

    check()
    with db.engine.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT legal_forename FROM person"))]
    assert names and not any("\0" in (n or "") for n in names)
    print(f"\nroster storage fuzzing ({PROFILE}, {db.engine.dialect.name}): {sum(outcomes.values())} imports; "
          f"{outcomes['stored']} stored, {outcomes['refused']} refused in one line")
