"""Household corroboration inside the audit's evaluation: a weak candidate gains (capped,
explained) when the same member of staff is also connected to someone in that person's
household, even through a household member nobody is connected to (a sibling through a parent).

The people are hand-made; the evaluation runs on inputs built here, without a database."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from auditor.audit import CORROBORATION_MIN_WEIGHT, AuditInputs, RosterSnapshot, evaluate
from auditor.graph import HOUSEHOLD_BONUS
from auditor.policy import load_policy
from auditor.rules import Child, StaffMember, Subject

AS_OF = date(2026, 11, 1)
SCHOOL = 1
STAFF, ZEB, LOTTIE, PARENT = 100, 201, 202, 300  # two siblings and the parent they share
WEAK = CORROBORATION_MIN_WEIGHT - 1.0  # too weak to corroborate anyone, strong enough to review


def _roster() -> RosterSnapshot:
    pupils = {pid: Subject(pid, ref, "pupil", "pupil", frozenset({SCHOOL}), age)
              for pid, ref, age in ((ZEB, "P-ZEB", 13), (LOTTIE, "P-LOTTIE", 11))}
    children = tuple(Child(pid, "Mother", "pupil", frozenset({SCHOOL}), pupils[pid].age) for pid in (ZEB, LOTTIE))
    subjects = {**pupils, PARENT: Subject(PARENT, "C-PARENT", "contact", "parent_carer", frozenset({SCHOOL}),
                                          children=children),
                STAFF: Subject(STAFF, "T-STAFF", "staff", "staff", frozenset({SCHOOL}))}
    return RosterSnapshot(
        subjects=subjects, entries=[], staff={STAFF: StaffMember(STAFF, "T-STAFF", frozenset({SCHOOL}), "Teacher")},
        refs={pid: s.ref for pid, s in subjects.items()},
        links=[(ZEB, PARENT, "Mother"), (LOTTIE, PARENT, "Mother")], schools={SCHOOL: "S1"}, version="test")


def _connection(row_id: int, account_id: int, name: str) -> SimpleNamespace:
    return SimpleNamespace(id=row_id, staff_id=STAFF, account_id=account_id, kind="friend", connected_at=None,
                           member="friends.json", sha256="0" * 64, platform="facebook", key=f"acct-{account_id}",
                           display_name=name, username=None, profile_url=None)


def _candidate(cand_id: int, account_id: int, person_id: int, weight: float, band: str) -> SimpleNamespace:
    return SimpleNamespace(id=cand_id, account_id=account_id, person_id=person_id, weight=weight, band=band,
                           pieces=1, year_agrees=False, name_only=True, colleague=False, ambiguous=False,
                           probability=1 / (1 + 2 ** -weight), reading="name: first last", state="s")


def _findings(with_sibling: bool) -> dict[str, dict]:
    rows = [_connection(1, 11, "Zeb Q")]
    candidates = {11: [_candidate(1, 11, ZEB, WEAK, "needs_review")]}
    if with_sibling:
        rows.append(_connection(2, 12, "Lottie Quarrington"))
        candidates[12] = [_candidate(2, 12, LOTTIE, 6.0, "probable")]
    inputs = AuditInputs(roster=_roster(), candidates=candidates, rows=rows, exemptions=[], decisions={},
                         previous=None, totals=(len(rows), 1, 1), owners=[], evidence_of=None)
    return {f["person_ref"]: f for f in evaluate(inputs, load_policy("luton"), AS_OF).values()}


def test_a_weak_candidate_is_corroborated_by_a_sibling_through_their_shared_parent() -> None:
    alone, corroborated = _findings(with_sibling=False)["P-ZEB"], _findings(with_sibling=True)["P-ZEB"]
    assert not any(e["comparison"] == "household" for e in alone["explanation"])
    household = [e for e in corroborated["explanation"] if e["comparison"] == "household"]
    assert len(household) == 1 and household[0]["weight"] == HOUSEHOLD_BONUS
    assert f"person {LOTTIE}" in household[0]["level"]
    assert corroborated["confidence"] > alone["confidence"]
