"""Retention and subject access: ``purge --older-than`` removes the raw contact rows of exports
whose audit is older than the period and keeps what accounts for the school's decisions
(file hashes, findings, decisions, the log); ``subject-export`` gives everything held about
one person."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor import auditlog
from auditor.audit import run_audit
from auditor.config import Config
from auditor.exemptions import add_exemptions, read_exemptions
from auditor.generator import generate_world
from auditor.ingest import import_files, import_manifest
from auditor.policy import load_policy
from auditor.reporting import load_report
from auditor.retention import parse_period, purge, subject_export
from auditor.review import decide
from auditor.roster import import_roster
from auditor.setup import initialise

AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("retention") / "world"
    generate_world(out, profile="small", seed=5)
    return out


def count(db, sql: str, **params) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def audited(db, world: Path, keep_unmatched: bool = True) -> dict:
    initialise(db, "luton", Config())
    policy = load_policy("luton")
    import_roster(db, [world / "roster"])
    add_exemptions(db, read_exemptions(world / "exemptions.csv"), policy)
    results = import_manifest(db, world / "manifest.csv")
    result = run_audit(db, AS_OF, policy, keep_unmatched=keep_unmatched)
    with db.engine.connect() as conn:
        created = conn.execute(sa.text("SELECT created_at FROM auditrun WHERE id = :a"), {"a": result.audit_id}).scalar()
    created = created if isinstance(created, datetime) else datetime.fromisoformat(created)
    return {"audit": result, "files": results, "audited_at": created.replace(tzinfo=created.tzinfo or UTC)}


def table_counts(db) -> dict[str, int]:
    return {t: count(db, f"SELECT COUNT(*) FROM {t}") for t in
            ("importedfile", "connection", "account", "matchcandidate", "finding", "reviewdecision", "exemption",
             "auditlog")}


def test_purge_removes_contact_rows_and_keeps_hashes_findings_and_decisions(db, world):
    state = audited(db, world)
    findings_before = load_report(db).findings
    open_finding = next(f["id"] for f in findings_before if f["status"] != "excepted")
    decided = decide(db, open_finding, "dismiss", "a namesake, checked", actor="dsl")
    before = table_counts(db)
    cited = {f["account"]["username"] or f["account"]["display_name"] for f in findings_before}

    result = purge(db, timedelta(days=30), state["audited_at"] + timedelta(days=31), actor="dsl")

    assert result.files == before["importedfile"] == len(state["files"])
    assert result.connections == before["connection"] > 400
    after = table_counts(db)
    assert after["connection"] == 0
    assert after["importedfile"] == before["importedfile"]
    assert count(db, "SELECT COUNT(*) FROM importedfile WHERE purged_at IS NULL") == 0
    assert {r.sha256 for r in state["files"]} == set(result.file_hashes)
    assert after["finding"] == before["finding"] and after["reviewdecision"] == before["reviewdecision"] == 1
    assert after["exemption"] == before["exemption"]
    # The audit and its findings read back exactly as before, the decision with them.
    assert load_report(db, state["audit"].audit_id).findings == [
        {**f, "status": "dismissed" if f["id"] == decided.finding_id else f["status"],
         "detail": load_report(db).findings[i]["detail"]} for i, f in enumerate(findings_before)]
    # Contacts who matched nobody have lost every identifying field; those behind findings keep them.
    cleared = count(db, "SELECT COUNT(*) FROM account WHERE purged")
    assert cleared == result.accounts_cleared > 100
    assert count(db, "SELECT COUNT(*) FROM account WHERE purged AND (username IS NOT NULL OR display_name IS NOT NULL "
                     "OR display_name_raw IS NOT NULL OR profile_url IS NOT NULL OR platform_id IS NOT NULL)") == 0
    with db.engine.connect() as conn:
        kept = {r[0] or r[1] for r in conn.execute(sa.text("SELECT username, display_name FROM account WHERE NOT purged"))}
        last = conn.execute(sa.text("SELECT action, details FROM auditlog ORDER BY id DESC LIMIT 1")).first()
        assert auditlog.verify(conn).ok
    assert cited <= kept
    details = json.loads(last.details) if isinstance(last.details, str) else last.details
    assert last.action == "purge" and details["files"] == result.files and details["connections"] == result.connections


def test_nothing_is_purged_before_its_audit_is_old_enough_or_if_never_audited(db, world, tmp_path):
    state = audited(db, world)
    before = table_counts(db)
    early = purge(db, timedelta(days=30), state["audited_at"] + timedelta(days=29))
    assert (early.files, early.connections, early.not_yet_due) == (0, 0, len(state["files"]))
    assert table_counts(db) == before  # not even a log entry for doing nothing

    # A file imported after the audit waits for the next audit, however old the first one is.
    late = tmp_path / "late.vcf"
    late.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ottoline Quarrender\r\nTEL:07700 900462\r\nEND:VCARD\r\n")
    staff = state["files"][0].staff_ref
    assert import_files(db, staff, [late])[0].status == "imported"
    result = purge(db, timedelta(days=30), datetime.now(UTC) + timedelta(days=400))
    assert result.files == len(state["files"]) and result.not_yet_due == 1
    assert count(db, "SELECT COUNT(*) FROM connection") == 1


def test_dry_run_counts_the_same_and_changes_nothing_and_a_second_purge_finds_nothing(db, world):
    state = audited(db, world)
    moment = state["audited_at"] + timedelta(days=60)
    before = table_counts(db)
    dry = purge(db, timedelta(days=30), moment, dry_run=True)
    assert table_counts(db) == before
    real = purge(db, timedelta(days=30), moment)
    assert (dry.files, dry.connections, dry.accounts_cleared) == (real.files, real.connections, real.accounts_cleared)
    again = purge(db, timedelta(days=30), moment + timedelta(days=1))
    assert (again.files, again.connections, again.already_purged) == (0, 0, real.files)


def test_a_purged_export_given_again_is_recognised_and_not_stored_again(db, world):
    state = audited(db, world)
    purge(db, timedelta(days=30), state["audited_at"] + timedelta(days=31))
    first = state["files"][0]
    again = import_files(db, first.staff_ref, [world / "exports" / first.staff_ref / Path(first.path).name])
    assert again[0].status == "unchanged"
    assert count(db, "SELECT COUNT(*) FROM connection") == 0


def test_after_minimisation_the_purge_clears_what_is_left(db, world):
    state = audited(db, world, keep_unmatched=False)  # the audit already forgot unmatched contacts
    minimised = count(db, "SELECT COUNT(*) FROM account WHERE purged")
    assert minimised > 100
    result = purge(db, timedelta(days=30), state["audited_at"] + timedelta(days=31))
    assert result.connections > 400 and count(db, "SELECT COUNT(*) FROM connection") == 0
    assert count(db, "SELECT COUNT(*) FROM account WHERE purged") == minimised + result.accounts_cleared


def test_purge_through_the_cli(cli, db, world):
    state = audited(db, world)
    cli("purge", "--older-than", "30d")
    assert count(db, "SELECT COUNT(*) FROM connection") > 400  # the audit ran today: nothing is due
    old = state["audited_at"] - timedelta(days=45)
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE auditrun SET created_at = :t"), {"t": old})
        conn.execute(sa.text("UPDATE importedfile SET imported_at = :t"), {"t": old - timedelta(hours=1)})
    dry = json.loads(cli("purge", "--older-than", "6w", "--dry-run", "--json").stdout)
    assert dry["files"] == len(state["files"]) and dry["dry_run"] is True
    assert count(db, "SELECT COUNT(*) FROM connection") > 400
    result = cli("purge", "--older-than", "30d")
    assert f"{len(state['files'])} file(s); removed {dry['connections']} contact rows" in result.stdout
    assert count(db, "SELECT COUNT(*) FROM connection") == 0
    assert "audit log intact" in cli("log", "verify").stdout

    for bad in ("30 days", "-3d", "1y", ""):
        result = cli("purge", "--older-than", bad, expect=2)
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text, days", [("30d", 30), ("30", 30), ("6w", 42), (" 7D ", 7)])
def test_periods(text, days):
    assert parse_period(text) == timedelta(days=days)


def test_subject_export_for_a_member_of_staff_holds_everything_about_them(db, world):
    state = audited(db, world)
    report = load_report(db)
    staff_ref = max({f["staff_ref"] for f in report.findings},
                    key=lambda ref: sum(f["staff_ref"] == ref for f in report.findings))
    mine = [f for f in report.findings if f["staff_ref"] == staff_ref]
    decide(db, next(f["id"] for f in mine if f["status"] != "excepted"), "confirm", "seen the profile", actor="dsl")
    doc = subject_export(db, staff_ref, datetime(2026, 11, 20, tzinfo=UTC))

    assert doc["person"]["ref"] == staff_ref and doc["person"]["kind"] == "staff"
    assert doc["roles"] and doc["roles"][0]["role"] == "staff"
    given = [r for r in state["files"] if r.staff_ref == staff_ref]
    assert sorted(f["sha256"] for f in doc["files"]) == sorted(r.sha256 for r in given)
    held = count(db, "SELECT COUNT(*) FROM connection c JOIN person p ON p.id = c.staff_id WHERE p.ref = :r", r=staff_ref)
    assert len(doc["connections"]) == held == sum(r.rows for r in given)
    assert sorted(f["key"] for f in doc["findings"]) == sorted(f["key"] for f in mine)
    assert all(f["as"] == "member of staff" for f in doc["findings"])
    assert [d["decision"] for d in doc["decisions"]] == ["confirmed"]
    actions = [e["action"] for e in doc["audit_log"]]
    assert actions.count("import") == len(given) and "review confirm" in actions
    assert doc["counts"]["findings"] == len(mine)
    # Other people's roster records are not included: they appear by reference (and as the
    # member of staff's own export named their accounts).
    text = json.dumps(doc, ensure_ascii=False)
    assert text.count('"legal_surname"') == 1 and text.count('"date_of_birth"') == 1
    assert {f["person_ref"] for f in doc["findings"]} == {f["person_ref"] for f in mine}


def test_subject_export_for_a_pupil_lists_the_findings_and_accounts_about_them(db, world):
    audited(db, world)
    report = load_report(db)
    finding = next(f for f in report.findings if f["person_role"] in ("pupil", "past_pupil"))
    doc = subject_export(db, finding["person_ref"], datetime(2026, 11, 20, tzinfo=UTC))
    assert doc["person"]["kind"] == "pupil"
    assert finding["key"] in {f["key"] for f in doc["findings"] if f["as"] == "person found"}
    assert doc["possible_accounts"]
    assert doc["links"] and all(link["pupil_ref"] == finding["person_ref"] for link in doc["links"])
    assert doc["connections"] == [] and doc["files"] == []


def test_subject_export_through_the_cli_is_logged_and_unknown_people_are_one_line(cli, db, world, tmp_path):
    audited(db, world)
    staff_ref = load_report(db).findings[0]["staff_ref"]
    out = tmp_path / "sar.json"
    result = cli("subject-export", staff_ref, "--out", out)
    assert f"wrote {out}" in result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["person"]["ref"] == staff_ref
    printed = json.loads(cli("subject-export", staff_ref).stdout)
    assert printed["findings"] == doc["findings"]
    entries = json.loads(cli("log", "show", "--action", "subject export", "--json").stdout)
    assert [e["subject"] for e in entries] == [staff_ref, staff_ref]
    assert entries[0]["details"]["to"] == "sar.json" and len(entries[0]["details"]["sha256"]) == 64

    missing = cli("subject-export", "NOBODY-1", expect=3)
    assert missing.stderr.strip() == "error: nobody with reference 'NOBODY-1' is on the roster"
