"""Next term's roster updates the database in place: leavers get their leaving date and become
past pupils, nobody is lost, the change summary counts joined / left / changed / unchanged,
and a school that changes its roster source keeps its pupils (matched by UPN)."""

from __future__ import annotations

import json
from datetime import date

try:  # tests/ as a package (tests/__init__.py) or as loose modules
    from .test_roster_support import ROSTER, links, people
except ImportError:
    from test_roster_support import ROSTER, links, people

from auditor.ages import pupil_status
from auditor.roster import households, import_roster

TERM1, TERM2 = date(2026, 1, 10), date(2026, 9, 10)


def test_next_term_summary_and_leavers(db) -> None:
    import_roster(db, [ROSTER / "canonical"], on=TERM1)
    summary = import_roster(db, [ROSTER / "canonical-next"], on=TERM2)
    # P1007 and their mother joined; P1003 left (leaving date given) and P1006 left (missing);
    # P1001 changed preferred name; the rest (3 pupils and past pupils, 6 contacts, 3 staff) unchanged.
    assert (summary.joined, summary.left, summary.changed, summary.unchanged) == (2, 2, 1, 12)
    assert summary.absent == 2  # P1006 and the contact only they had, both kept
    found = people(db)
    assert found["P1003"]["roles"][0]["end_date"] == date(2026, 7, 17)
    fenna = found["P1006"]["roles"][0]
    assert fenna["end_date"] == TERM2 and "not in the roster imported on 2026-09-10" in fenna["leaving_reason"]
    assert found["P1001"]["preferred_forename"] == "Aisha"


def test_nobody_is_lost_and_leavers_are_past_pupils(db) -> None:
    import_roster(db, [ROSTER / "canonical"], on=TERM1)
    before = set(people(db))
    import_roster(db, [ROSTER / "canonical-next"], on=TERM2)
    after = people(db)
    assert before <= set(after)
    statuses = {ref: pupil_status(p["roles"][0]["start_date"], p["roles"][0]["end_date"], TERM2)
                for ref, p in after.items() if p["kind"] == "pupil"}
    assert statuses == {"P1001": "pupil", "P1002": "pupil", "P1003": "past_pupil", "P1004": "past_pupil",
                        "P1005": "pupil", "P1006": "past_pupil", "P1007": "pupil"}
    # the mother of a pupil who left still has her link: she is the parent of a past pupil
    assert ("P1006", "C2006") in links(db)
    assert ("P1007", "C2008") in links(db)


def test_the_same_roster_again_changes_nothing(db) -> None:
    import_roster(db, [ROSTER / "canonical"], on=TERM1)
    summary = import_roster(db, [ROSTER / "canonical"], on=TERM1)
    assert (summary.joined, summary.left, summary.changed, summary.unchanged) == (0, 0, 0, 16)


def test_partial_import_leaves_missing_pupils_on_roll(cli, db_url: str) -> None:
    from auditor.db import Database

    cli("init")
    cli("roster", "import", ROSTER / "canonical")
    result = cli("roster", "import", ROSTER / "canonical-next", "--partial", "--json")
    assert json.loads(result.output)["left"] == 1  # only P1003, whose leaving date the file gives
    assert people(Database(db_url))["P1006"]["roles"][0]["end_date"] is None


def test_cli_prints_the_change_summary(cli) -> None:
    cli("init")
    cli("roster", "import", ROSTER / "canonical")
    result = cli("roster", "import", ROSTER / "canonical-next")
    assert "joined 2, left 2, changed 1, unchanged 12" in result.output
    assert "not in this import 2 (kept)" in result.output


def test_switching_source_keeps_pupils_by_upn(db) -> None:
    import_roster(db, [ROSTER / "canonical"], on=TERM1)
    summary = import_roster(db, [ROSTER / "ctf" / "9304001_CTF_9304001_001.xml", ROSTER / "canonical" / "staff.csv"],
                            on=TERM2)
    found = people(db)
    pupils = [p for p in found.values() if p["kind"] == "pupil"]
    # the CTF's pupils landed on the canonical people (same UPN), not on new ones
    assert found["P1001"]["upn"] == "F930400112001" and "F930400112001" not in found
    assert len({p["upn"] for p in pupils}) == len(pupils)
    # two pupils new to the school (temporary UPN, bad check letter) and the six CTF contacts,
    # which have no id to match the canonical ones by (names alone never merge)
    assert summary.joined == 2 + 6
    # the canonical contacts of the pupils the CTF supplied are kept but their links were replaced
    # (P1003's mother keeps hers: P1003 is not in the CTF)
    assert summary.unlinked_contacts == 6
    # P1003 is not in the CTF, which covers the whole school: given a leaving date
    assert found["P1003"]["roles"][0]["end_date"] == TERM2
    assert {r["school"] for p in pupils for r in p["roles"]} == {"HCS"}  # CTF school joined to HCS by URN


def test_households_join_pupils_through_shared_contacts_and_sibling_links() -> None:
    found = households([("a", "mum"), ("b", "mum"), ("c", "dad-c"), ("d", "gran"), ("e", "gran")],
                       siblings=[("c", "f")])
    assert [sorted(h.pupils) for h in found] == [["a", "b"], ["c", "f"], ["d", "e"]]
    assert [sorted(h.contacts) for h in found] == [["mum"], ["dad-c"], ["gran"]]
