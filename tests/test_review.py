"""The review workflow: decisions with reasons, kept across audits until new evidence appears,
a bulk path that never confirms a name-only match, and bad input that changes nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from auditor.db import Database
from auditor.errors import InputError
from auditor.models import AuditLog, Exemption, Finding, ReviewDecision
from auditor.review import bulk_decide, is_name_only
from tests.test_reports_world import build_world


def listed(cli, *args) -> list[dict]:
    return json.loads(cli("review", "list", "--json", *args).output)


def by_person(items: list[dict], staff_ref: str, person_ref: str) -> dict:
    return next(f for f in items if f["staff_ref"] == staff_ref and f["person_ref"] == person_ref)


def counts(db_url: str) -> tuple[int, int, int, list]:
    db = Database(db_url)
    with db.engine.connect() as conn:
        result = (conn.execute(sa.select(sa.func.count()).select_from(ReviewDecision.__table__)).scalar(),
                  conn.execute(sa.select(sa.func.count()).select_from(AuditLog.__table__)).scalar(),
                  conn.execute(sa.select(sa.func.count()).select_from(Exemption.__table__)).scalar(),
                  [tuple(r) for r in conn.execute(sa.select(Finding.__table__.c.id, Finding.__table__.c.status)
                                                  .order_by(Finding.__table__.c.id))])
    db.dispose()
    return result


def test_name_only_means_no_independent_evidence():
    name = [{"comparison": "prior", "weight": -9}, {"comparison": "forename", "weight": 4},
            {"comparison": "surname", "weight": 4}, {"comparison": "school", "weight": 1.5}]
    assert is_name_only(name)
    assert not is_name_only(name + [{"comparison": "birth year", "weight": 3.8}])
    assert not is_name_only(name + [{"comparison": "household", "weight": 2.0}])
    assert is_name_only(name + [{"comparison": "birth year", "weight": -4.9}])  # a conflict is no support


def test_list_and_show(tmp_path, cli):
    build_world(tmp_path, cli)
    everything = listed(cli)
    review = listed(cli, "--status", "needs_review")
    assert review and all(f["status"] == "needs_review" for f in review)
    assert {f["id"] for f in review} < {f["id"] for f in everything}
    assert {f["staff_ref"] for f in listed(cli, "--staff", "T02")} == {"T02"}
    target = by_person(everything, "T01", "P03")
    text = cli("review", "show", target["key"][:8]).output
    assert f"finding {target['id']}" in text and "current-pupil" in text and "forename: exact" in text
    assert "name only" in text and target["source"]["file_sha256"] in text
    shown = json.loads(cli("review", "show", str(target["id"]), "--json").output)
    assert shown["key"] == target["key"] and shown["decisions"] == [] and shown["name_only"] is True


def test_bad_input_changes_nothing(tmp_path, cli, db_url):
    build_world(tmp_path, cli)
    target = by_person(listed(cli), "T01", "P03")
    before = counts(db_url)
    assert "needs a reason" in cli("review", "confirm", target["id"], "--reason", "   ", expect=2).output
    assert "no finding" in cli("review", "dismiss", "999", "--reason", "x", expect=3).output
    assert "not a finding id" in cli("review", "dismiss", "not-a-key!", "--reason", "x", expect=2).output
    result = cli("review", "exempt", target["id"], "--reason", "declared", "--relationship", "friend",
                 "--review-date", "2027-08-31", expect=2)
    assert "does not allow" in result.output  # Luton allows own children, nieces and nephews only
    assert "--review-date" in cli("review", "exempt", target["id"], "--reason", "x", "--relationship", "nephew",
                                  expect=2).output
    assert counts(db_url) == before


def test_decisions_survive_a_reaudit_until_new_evidence_appears(tmp_path, cli, db_url):
    world = build_world(tmp_path, cli)
    first = listed(cli)
    confirm, dismiss, reopen = (by_person(first, "T01", ref) for ref in ("P01", "P05", "P03"))
    assert "needs_review -> confirmed" in cli("review", "confirm", confirm["key"], "--reason", "seen the profile").output
    cli("review", "dismiss", dismiss["id"], "--reason", "an adult of the same name")
    cli("review", "dismiss", reopen["id"], "--reason", "no sign it is the pupil")
    world.audit()
    second = listed(cli)
    assert second[0]["audit_id"] == world.audits[-1] != first[0]["audit_id"]
    assert by_person(second, "T01", "P01")["status"] == "confirmed"
    assert by_person(second, "T01", "P05")["status"] == "dismissed"
    assert by_person(second, "T01", "P05")["detail"]["decision"]["reason"] == "an adult of the same name"
    assert by_person(second, "T01", "P03")["status"] == "dismissed"
    # New evidence about P03: T01 also has her father's number in their phone contacts.
    vcf = tmp_path / "t01-contacts.vcf"
    vcf.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Desmond Ekwueme\r\nN:Ekwueme;Desmond;;;\r\n"
                   "TEL;TYPE=CELL:07700 900202\r\nEND:VCARD\r\n", encoding="utf-8")
    cli("import", "--staff", "T01", vcf)
    world.audit()
    third = listed(cli)
    reopened = by_person(third, "T01", "P03")
    assert reopened["status"] in ("needs_review", "probable")
    assert "decision_lapsed" in reopened["detail"]
    assert any(e["comparison"] == "household" for e in reopened["explanation"])
    assert by_person(third, "T01", "P05")["status"] == "dismissed"  # nothing new about this contact
    assert by_person(third, "T01", "P01")["status"] == "confirmed"
    shown = json.loads(cli("review", "show", reopened["id"], "--json").output)
    assert [d["applies"] for d in shown["decisions"]] == [False]
    assert [a["status"] for a in shown["audits"]] == ["dismissed", "dismissed", reopened["status"]]
    # Who, when and why are in the audit log.
    log = json.loads(cli("log", "show", "--action", "review", "--json").output)
    assert [e["action"] for e in log] == ["review confirm", "review dismiss", "review dismiss"]
    assert all(e["actor"] == "test-dsl" and e["details"]["reason"] for e in log)
    assert log[0]["subject"] == f"finding {confirm['key']}" and log[0]["details"]["from"] == "needs_review"


def test_an_id_from_an_earlier_audit_follows_the_finding(tmp_path, cli):
    world = build_world(tmp_path, cli)
    old = by_person(listed(cli), "T01", "P04")
    world.audit()
    cli("review", "dismiss", old["id"], "--reason", "checked")
    latest = by_person(listed(cli), "T01", "P04")
    assert latest["id"] != old["id"] and latest["status"] == "dismissed"
    assert by_person(listed(cli, "--audit", str(world.audits[0])), "T01", "P04")["status"] == "needs_review"


def test_bulk_never_confirms_a_name_only_match(tmp_path, cli, db_url):
    build_world(tmp_path, cli)
    before = counts(db_url)
    result = cli("review", "bulk", "confirm", "--staff", "T01", "--reason", "all checked", expect=2)
    assert "name alone" in result.output and counts(db_url) == before
    dry = cli("review", "bulk", "confirm", "--reason", "checked", "--dry-run")
    assert "would be confirmed" in dry.output and counts(db_url) == before
    open_items = listed(cli, "--status", "needs_review")
    named = [f for f in open_items if f["name_only"]]
    supported = [f for f in open_items if not f["name_only"]]
    assert named and supported  # T02's phone contact is supported by a number the school holds
    result = cli("review", "bulk", "confirm", "--reason", "numbers match the roster")
    assert f"{len(supported)} of {len(open_items)}" in result.output
    after = {f["id"]: f["status"] for f in listed(cli)}
    assert all(after[f["id"]] == "confirmed" for f in supported)
    assert all(after[f["id"]] == "needs_review" for f in named)
    # Dismissing in bulk is allowed for name-only matches, and only touches open findings.
    cli("review", "bulk", "dismiss", "--staff", "T02", "--reason", "namesakes")
    t02 = listed(cli, "--staff", "T02")
    assert {f["status"] for f in t02} <= {"confirmed", "dismissed"}
    assert "'confirmed' is not one of" in cli("review", "bulk", "dismiss", "--status", "confirmed", "--reason", "x",
                                              expect=2).output
    with pytest.raises(InputError, match="only open findings"):
        bulk_decide(Database(db_url), "dismiss", "x", statuses=("confirmed",))
    log = json.loads(cli("log", "show", "--action", "review", "--json").output)
    assert log and all(e["details"].get("bulk") for e in log)


def test_exempt_with_the_register(tmp_path, cli, db_url):
    world = build_world(tmp_path, cli)
    target = by_person(listed(cli), "T01", "P02")
    cli("review", "exempt", target["id"], "--reason", "her nephew, declared in 2024", "--relationship", "nephew",
        "--review-date", "2027-08-31")
    assert by_person(listed(cli), "T01", "P02")["status"] == "excepted"
    world.audit()
    again = by_person(listed(cli), "T01", "P02")
    assert again["status"] == "excepted" and again["detail"]["exemption"]["relationship"] == "nephew"
    result = cli("review", "confirm", again["id"], "--reason", "x", expect=2)
    assert "exemptions register" in result.output
    assert counts(db_url)[2] == 1
