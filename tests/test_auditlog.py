"""The hash-chained audit log: every import, audit, report and decision is recorded with who
and why, and `auditor log verify` catches an edited, removed or reordered entry."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from auditor.auditlog import entry_hash
from auditor.db import Database
from auditor.models import AuditLog
from tests.test_reports_world import build_world

LOG = AuditLog.__table__


def worked_database(tmp_path, cli) -> list[dict]:
    """A database that has been through every kind of step; returns its log."""
    build_world(tmp_path, cli)
    first = json.loads(cli("review", "list", "--json").output)[0]
    cli("review", "dismiss", first["id"], "--reason", "a namesake at another school")
    cli("report", "--format", "csv", "--out", tmp_path / "f.csv")
    return json.loads(cli("log", "show", "--json", "--limit", "1000").output)


def entries(db_url: str) -> list:
    db = Database(db_url)
    with db.engine.connect() as conn:
        rows = list(conn.execute(sa.select(LOG).order_by(LOG.c.id)))
    db.dispose()
    return rows


def change(db_url: str, statement) -> None:
    db = Database(db_url)
    with db.begin() as conn:
        conn.execute(statement)
    db.dispose()


def test_every_step_is_logged_with_who_and_the_chain_verifies(tmp_path, cli):
    log = worked_database(tmp_path, cli)
    actions = [e["action"] for e in log]
    for action in ("init", "roster import", "import", "audit", "report", "review dismiss"):
        assert action in actions, action
    assert all(e["actor"] == "test-dsl" for e in log)
    dismissal = next(e for e in log if e["action"] == "review dismiss")
    assert dismissal["details"]["reason"] == "a namesake at another school"
    reports = [e for e in log if e["action"] == "report"]
    assert {e["details"]["format"] for e in reports} >= {"json", "csv"}
    result = cli("log", "verify")
    assert f"audit log intact: {len(log)} entries" in result.output


def test_an_edited_entry_is_caught(tmp_path, cli, db_url):
    log = worked_database(tmp_path, cli)
    target = next(e for e in log if e["action"] == "review dismiss")
    details = dict(target["details"], reason="it was never there")
    change(db_url, LOG.update().where(LOG.c.id == target["id"]).values(details=details))
    result = cli("log", "verify", expect=1)
    assert f"NOT intact at entry {target['id']}: its content was changed" in result.output


def test_a_changed_actor_or_time_is_caught(tmp_path, cli, db_url):
    log = worked_database(tmp_path, cli)
    change(db_url, LOG.update().where(LOG.c.id == log[2]["id"]).values(actor="someone-else"))
    assert f"at entry {log[2]['id']}" in cli("log", "verify", expect=1).output
    change(db_url, LOG.update().where(LOG.c.id == log[2]["id"]).values(actor="test-dsl"))
    cli("log", "verify")  # put back, the chain holds again
    row = entries(db_url)[4]
    change(db_url, LOG.update().where(LOG.c.id == row.id).values(at=row.at.replace(year=row.at.year - 1)))
    assert f"at entry {row.id}" in cli("log", "verify", expect=1).output


def test_a_removed_entry_is_caught(tmp_path, cli, db_url):
    log = worked_database(tmp_path, cli)
    middle = log[len(log) // 2]
    change(db_url, LOG.delete().where(LOG.c.id == middle["id"]))
    result = cli("log", "verify", expect=1)
    assert f"at entry {log[len(log) // 2 + 1]['id']}" in result.output and "changed or removed" in result.output


def test_an_entry_rehashed_by_hand_still_breaks_the_next_link(tmp_path, cli, db_url):
    worked_database(tmp_path, cli)
    rows = entries(db_url)
    victim, following = rows[3], rows[4]
    forged_details = {"forged": True}
    forged = entry_hash(victim.prev_hash, victim.at, victim.actor, victim.action, victim.subject, forged_details)
    change(db_url, LOG.update().where(LOG.c.id == victim.id).values(details=forged_details, hash=forged))
    assert f"at entry {following.id}" in cli("log", "verify", expect=1).output


def test_a_noted_head_catches_entries_cut_from_the_end(tmp_path, cli, db_url):
    worked_database(tmp_path, cli)
    out = tmp_path / "report.html"
    cli("report", "--format", "html", "--out", out)
    noted = re.search(r"auditor log verify --head ([0-9a-f]{16})", out.read_text(encoding="utf-8")).group(1)
    assert "the noted entry is present" in cli("log", "verify", "--head", noted).output
    last = entries(db_url)[-1]
    assert last.hash.startswith(noted) is False  # the report's own log entry came after it
    # Cutting the tail leaves a valid chain; only the noted head shows it.
    noted_id = next(r.id for r in entries(db_url) if r.hash.startswith(noted))
    change(db_url, LOG.delete().where(LOG.c.id >= noted_id))
    cli("log", "verify")
    result = cli("log", "verify", "--head", noted, expect=1)
    assert "removed or rewritten" in result.output
    assert "8 hexadecimal" in cli("log", "verify", "--head", "abc", expect=2).output


def test_log_show_filters_and_limits(tmp_path, cli):
    log = worked_database(tmp_path, cli)
    shown = json.loads(cli("log", "show", "--json", "--limit", "2").output)
    assert [e["id"] for e in shown] == [e["id"] for e in log[-2:]]
    imports = json.loads(cli("log", "show", "--json", "--action", "import").output)
    assert imports and all(e["action"] == "import" for e in imports)
    text = cli("log", "show", "--action", "review").output
    assert "review dismiss" in text and "test-dsl" in text
