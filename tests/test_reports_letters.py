"""Letters to staff: their own findings only, nothing about anyone else, what to do, how to
raise a mistake, and their right to respond."""

from __future__ import annotations

import html
import json
import re

from auditor.reports.letters import letter_name
from tests.test_reports_html import Page
from tests.test_reports_world import PUPILS, STAFF, build_world


def finding_for(world, staff_ref: str, person_ref: str) -> dict:
    return next(f for f in world.findings() if f["staff_ref"] == staff_ref and f["person_ref"] == person_ref)


def test_letters_hold_only_the_staff_members_own_connections(tmp_path, cli):
    world = build_world(tmp_path, cli)
    confirmed = finding_for(world, "T01", "P03")
    cli("review", "confirm", confirmed["key"][:10], "--reason", "profile checked with the member of staff")
    dismissed = finding_for(world, "T01", "P05")
    cli("review", "dismiss", dismissed["id"], "--reason", "an adult namesake")
    folder = tmp_path / "letters"
    cli("report", "--format", "letters", "--out", folder)
    written = sorted(p.name for p in folder.iterdir())
    probable_or_confirmed = {f["staff_ref"] for f in json.loads(cli("review", "list", "--json").output)
                             if f["status"] in ("probable", "confirmed")}
    assert written == sorted(letter_name(ref) for ref in probable_or_confirmed) == ["letter-T01.html"]
    letter = (folder / "letter-T01.html").read_text(encoding="utf-8")
    page = Page(letter)
    assert not [t for t, _ in page.tags if t in ("script", "img", "a", "iframe")]
    # Their own connections: the confirmed and the probable one, not the dismissed or unreviewed ones.
    assert confirmed["source"]["file_sha256"] in letter and confirmed["key"][:12] in letter
    assert ">marisol.ekwueme<" in letter and ">orlando.vantwest12<" in letter
    assert "benedikt.aldersley" not in letter and "zephyrine.quillfeather" not in letter
    assert letter.count('<article class="finding') == 2
    # Nobody else's data: no roster references, no roster names, no colleague.
    assert not re.search(r"\b[PCT]\d\d\b", letter.replace("T01", ""))
    for _, forename, surname, *_ in PUPILS:
        assert f"{forename} {surname}" not in letter
    for ref, forename, surname, _ in STAFF:
        if ref != "T01":
            assert forename not in letter and surname not in letter
    assert "Perpetua Grindlewood" in letter
    # What to do, how to raise a mistake, the right to respond and to be accompanied.
    for phrase in ("Remove", "Report", "If this is a mistake", "right to respond", "accompanied",
                   "not a finding of misconduct", "The school's records suggest a current pupil."):
        assert phrase in html.unescape(letter), phrase
    log = json.loads(cli("log", "show", "--action", "report", "--json").output)[-1]
    assert log["details"]["format"] == "letters" and list(log["details"]["files"]) == ["letter-T01.html"]


def test_include_review_adds_findings_awaiting_review(tmp_path, cli):
    build_world(tmp_path, cli)
    folder = tmp_path / "letters"
    cli("report", "--format", "letters", "--out", folder, "--include-review", "--staff", "T02")
    assert [p.name for p in folder.iterdir()] == ["letter-T02.html"]
    letter = (folder / "letter-T02.html").read_text(encoding="utf-8")
    assert "A possible match the DSL has still to check." in letter
    assert "a phone number the school holds" in letter  # the parent's number in T02's contacts
    assert "07700" not in letter  # ... but never the number itself
    assert "Perpetua" not in letter and "T01" not in letter


def test_letters_need_a_folder(tmp_path, cli):
    build_world(tmp_path, cli)
    result = cli("report", "--format", "letters", expect=2)
    assert "--out" in result.output
    target = tmp_path / "a-file.html"
    target.write_text("x", encoding="utf-8")
    result = cli("report", "--format", "letters", "--out", target, expect=2)
    assert "is a file" in result.output and target.read_text(encoding="utf-8") == "x"
    result = cli("report", "--format", "letters", "--out", tmp_path / "l", "--staff", "T99", expect=2)
    assert "T99" in result.output and not (tmp_path / "l").exists()
