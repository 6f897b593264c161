"""Re-auditing after a small change evaluates only the members of staff it touched and carries
the others' findings over from the last audit; the result must be exactly what evaluating
everyone again gives (same findings, same order, same summary)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor.audit import run_audit
from auditor.config import Config
from auditor.exemptions import ExemptionRow, add_exemptions, expire_exemption, read_exemptions
from auditor.generator import generate_world
from auditor.ingest import import_files, read_manifest
from auditor.policy import load_policy
from auditor.reporting import generate_report, load_report
from auditor.review import decide
from auditor.roster import import_roster
from auditor.setup import initialise

AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("incremental") / "world"
    generate_world(out, profile="small", seed=11)
    return out


def _stored(db, audit_id: int) -> list[tuple]:
    """An audit's finding rows as stored, in order, without their ids."""
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM finding WHERE audit_id = :a ORDER BY id"), {"a": audit_id})
        keys = list(rows.keys())
        return [tuple(v for k, v in zip(keys, r, strict=True) if k not in ("id", "audit_id")) for r in rows]


def _same_as_full(db, policy, result) -> None:
    """Evaluating everyone again (nothing carried over) gives the same audit."""
    full = run_audit(db, AS_OF, policy, reuse=False)
    assert full.carried_staff == 0
    assert result.findings == full.findings
    assert _stored(db, result.audit_id) == _stored(db, full.audit_id)
    skip = ("trend", "minimised_accounts")
    assert {k: v for k, v in result.summary.items() if k not in skip} == \
        {k: v for k, v in full.summary.items() if k not in skip}
    mine, theirs = load_report(db, result.audit_id), load_report(db, full.audit_id)
    assert [{k: v for k, v in f.items() if k != "id"} for f in mine.findings] == \
        [{k: v for k, v in f.items() if k != "id"} for f in theirs.findings]


def _report_in_hand_is_the_stored_one(db, result, folder: Path) -> None:
    """The JSON report written from the audit's result in hand is, byte for byte, the one
    written from the database."""
    stored, in_hand = folder / f"stored-{result.audit_id}.json", folder / f"in-hand-{result.audit_id}.json"
    generate_report(db, "json", stored, audit_id=result.audit_id)
    generate_report(db, "json", in_hand, audit_id=result.audit_id, result=result)
    assert in_hand.read_bytes() == stored.read_bytes()


def test_a_reaudit_evaluates_only_what_changed_and_equals_a_full_one(db, world: Path, tmp_path: Path) -> None:
    initialise(db, "luton", Config())
    policy = load_policy("luton")
    import_roster(db, [world / "roster"])
    add_exemptions(db, read_exemptions(world / "exemptions.csv"), policy)
    manifest = read_manifest(world / "manifest.csv")
    held_back = manifest[-1]
    by_staff: dict[str, list[Path]] = {}
    for staff_ref, path, _label in manifest[:-1]:
        by_staff.setdefault(staff_ref, []).append(path)
    for staff_ref, paths in by_staff.items():
        import_files(db, staff_ref, paths)
    with db.engine.connect() as conn:
        staff_count = conn.execute(sa.text("SELECT COUNT(*) FROM person WHERE kind = 'staff'")).scalar()

    first = run_audit(db, AS_OF, policy)
    assert first.carried_staff == 0 and first.findings
    _report_in_hand_is_the_stored_one(db, first, tmp_path)

    # Nothing changed: every member of staff is carried over.
    again = run_audit(db, AS_OF, policy)
    assert again.carried_staff == staff_count
    _same_as_full(db, policy, again)

    # One more export for one member of staff: only they (and anyone sharing an export owner
    # with them) are evaluated again.
    import_files(db, held_back[0], [held_back[1]])
    after_import = run_audit(db, AS_OF, policy)
    assert staff_count - 2 <= after_import.carried_staff < staff_count
    _same_as_full(db, policy, after_import)
    _report_in_hand_is_the_stored_one(db, after_import, tmp_path)

    # An exemption for a pair in a finding, then expiring it: that member of staff only.
    finding = next(f for f in after_import.findings if f["status"] != "excepted" and f["person_ref"] != f["staff_ref"])
    add_exemptions(db, [ExemptionRow(finding["staff_ref"], finding["person_ref"], "niece", "Head",
                                     date(2027, 7, 31))], policy)
    exempted = run_audit(db, AS_OF, policy)
    assert exempted.carried_staff == staff_count - 1
    assert any(f["key"] == finding["key"] and f["status"] == "excepted" for f in exempted.findings)
    _same_as_full(db, policy, exempted)
    with db.engine.connect() as conn:
        newest = conn.execute(sa.text("SELECT MAX(id) FROM exemption")).scalar()
    expire_exemption(db, newest, "no longer relevant")
    expired = run_audit(db, AS_OF, policy)
    assert expired.carried_staff == staff_count - 1
    _same_as_full(db, policy, expired)

    # A review decision, another audit date, another policy: everyone is evaluated again.
    decide(db, next(f["key"] for f in expired.findings if f["status"] == "needs_review"), "dismiss",
           "a namesake, checked", actor="dsl")
    decided = run_audit(db, AS_OF, policy)
    assert decided.carried_staff == 0
    _same_as_full(db, policy, decided)
    later = run_audit(db, date(2027, 3, 1), policy)
    assert later.carried_staff == 0
    other = run_audit(db, AS_OF, load_policy("hertfordshire"))
    assert other.carried_staff == 0
