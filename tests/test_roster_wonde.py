"""``auditor roster wonde`` against a stand-in Wonde API on 127.0.0.1: paging through
meta.pagination.next, contacts shared by siblings, leavers, employees, retries on 429, a
server that stays broken, the token kept out of output and database. All data synthetic."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

try:  # tests/ as a package (tests/__init__.py) or as loose modules
    from .test_roster_support import ROSTER, links, people, schools, snapshot
except ImportError:
    from test_roster_support import ROSTER, links, people, schools, snapshot

from auditor.db import Database

TOKEN = "synthetic-wonde-token-7f3a9c"
SCHOOL = "A1930400100"


def wonde_date(day: str) -> dict:
    return {"date": f"{day} 00:00:00.000000", "timezone_type": 3, "timezone": "Europe/London"}


def contact(cid: str, forename: str, surname: str, relation: str, responsible: bool, priority: int,
            mobile: str | None = None, email: str | None = None) -> dict:
    return {
        "id": cid, "mis_id": cid[-4:], "title": "Mrs" if relation == "Mother" else "Mr", "forename": forename,
        "surname": surname, "legal_forename": forename, "legal_surname": surname, "date_of_birth": None,
        "relationship": {"relationship": relation, "parental_responsibility": responsible, "priority": priority,
                         "lives_with_pupil": True, "bill_payer": False},
        "contact_details": {"data": {"emails": {"email": email, "primary": email, "home": None, "work": None},
                                     "phones": {"phone": None, "mobile": mobile, "home": None, "work": None}}},
    }


MOTHER = contact("C9001", "Hester", "Trevanion", "Mother", True, 1, "07700 900101", "hester.t@example.org")
FATHER = contact("C9002", "Jory", "Trevanion", "Father", True, 2, "07700 900102")
STUDENTS = [
    {"id": "S1001", "mis_id": "1001", "upi": "u1", "forename": "Ash", "surname": "Trevanion",
     "legal_forename": "Aisling", "legal_surname": "Trevanion", "middle_names": None, "gender": "F",
     "date_of_birth": wonde_date("2012-03-14"),
     "education_details": {"data": {"upn": "F930400112001", "admission_date": wonde_date("2023-09-04")}},
     "contacts": {"data": [MOTHER, FATHER]}},
    {"id": "S1002", "mis_id": "1002", "forename": "Bram", "surname": "Trevanion", "legal_forename": "Bram",
     "legal_surname": "Trevanion", "middle_names": "Lowen", "gender": "M", "date_of_birth": wonde_date("2012-03-14"),
     "education_details": {"data": {"upn": "V930400112002"}}, "contacts": {"data": [MOTHER, FATHER]}},
    {"id": "S1005", "forename": "Eamon", "surname": "Quayle", "legal_forename": "Eamon", "legal_surname": "Quayle",
     "gender": "M", "date_of_birth": None, "extended_details": {"data": {"upn": "M930400112005"}},
     "contacts": {"data": [contact("C9005", "Mirela", "Quayle", "Mother", True, 1, "07700 900105")]}},
]
LEAVERS = [
    {"id": "S1004", "forename": "Dilys", "surname": "Okonjo", "legal_forename": "Dilys", "legal_surname": "Okonjo",
     "gender": "F", "date_of_birth": wonde_date("2007-06-30"),
     "education_details": {"data": {"upn": "Y930400112004", "leaving_date": wonde_date("2025-07-18")}},
     "contacts": {"data": [contact("C9004", "Kofi", "Okonjo", "Step-father", False, 1, None, "kofi.o@example.net")]}},
    {"id": "S1008", "forename": "Jessamy", "surname": "Carne", "legal_forename": "Jessamy", "legal_surname": "Carne",
     "gender": "F", "date_of_birth": wonde_date("2011-06-06"), "contacts": {"data": []}},
]
EMPLOYEES = [
    {"id": "E01", "title": "Ms", "forename": "Rowena", "surname": "Vass", "legal_forename": "Rowena",
     "legal_surname": "Vass", "employment_details": {"data": {"job_title": "Teacher"}},
     "contact_details": {"data": {"emails": {"email": "rvass@hcs.example.sch.uk"}, "phones": {}}}},
]


class WondeStandIn:
    """A minimal Wonde v1.0: one school, paged lists, queued faults, every request recorded."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.faults: list[tuple[int, dict, bytes]] = []  # served (once each) before normal answers
        self.next_override: str | None = None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                stand_in.requests.append({"path": parts.path, "query": query,
                                          "auth": self.headers.get("Authorization")})
                status, headers, body = stand_in.answer(parts.path, query, f"http://{self.headers['Host']}")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.0/"

    def answer(self, path: str, query: dict, origin: str) -> tuple[int, dict, bytes]:
        if self.faults:
            status, headers, body = self.faults.pop(0)
            return status, headers, body
        base = f"/v1.0/schools/{SCHOOL}"
        lists = {f"{base}/students": STUDENTS, f"{base}/students-leaver": LEAVERS, f"{base}/employees": EMPLOYEES}
        if path == base:
            school = {"id": SCHOOL, "name": "Harrowfield Community School", "urn": 199001, "la_code": "930",
                      "establishment_number": "4001"}
            return 200, {"Content-Type": "application/json"}, json.dumps({"data": school}).encode()
        if path not in lists:
            return 404, {"Content-Type": "application/json"}, b'{"error": "not_found"}'
        items = lists[path]
        per_page = 2  # small pages, whatever the client asked for, to exercise paging
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page: page * per_page]
        more = page * per_page < len(items)
        params = "&".join(f"{k}={v}" for k, v in query.items() if k != "page")
        next_url = f"{origin}{path}?{params}&page={page + 1}" if more else None
        if more and self.next_override:
            next_url = self.next_override
        body = {"data": chunk, "meta": {"pagination": {"next": next_url, "previous": None, "more": more,
                                                       "per_page": per_page, "current_page": page}}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def wonde(monkeypatch) -> Iterator[WondeStandIn]:
    stand_in = WondeStandIn()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0")
    monkeypatch.setenv("AUDITOR_WONDE_TOKEN", TOKEN)
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def run(cli, wonde: WondeStandIn, *extra: str, expect: int = 0):
    return cli("roster", "wonde", "--school", SCHOOL, "--api-url", wonde.url, *extra, expect=expect)


def test_pupils_contacts_leavers_and_staff_come_in(cli, db_url: str, wonde: WondeStandIn) -> None:
    cli("init")
    result = run(cli, wonde, "--json")
    summary = json.loads(result.output)
    assert summary["joined"] == 5 + 4 + 1  # pupils (3 current, 2 leavers), contacts, staff
    db = Database(db_url)
    found = people(db)
    ash = found["S1001"]
    assert (ash["legal_forename"], ash["preferred_forename"], ash["upn"]) == ("Aisling", "Ash", "F930400112001")
    assert ash["date_of_birth"] == date(2012, 3, 14) and ash["roles"][0]["start_date"] == date(2023, 9, 4)
    assert found["S1005"]["upn"] == "M930400112005"  # from extended_details
    assert found["S1004"]["roles"][0]["end_date"] == date(2025, 7, 18)
    assert found["S1008"]["roles"][0]["end_date"] is not None  # a leaver without a date is still a past pupil
    assert found["E01"]["kind"] == "staff" and found["E01"]["roles"][0]["job_title"] == "Teacher"
    assert found["C9001"]["points"] == {("email", "hester.t@example.org"), ("phone", "+447700900101")}
    stored = links(db)
    assert {pair for pair in stored if pair[1] == "C9001"} == {("S1001", "C9001"), ("S1002", "C9001")}
    father = stored[("S1001", "C9002")]
    assert (father["relationship"], father["parental_responsibility"], father["priority"]) == ("parent", True, 2)
    assert stored[("S1004", "C9004")]["relationship"] == "step_parent"
    assert schools(db)[SCHOOL]["urn"] == "199001"


def test_requests_page_through_and_carry_the_token_in_the_header_only(cli, wonde: WondeStandIn) -> None:
    cli("init")
    run(cli, wonde)
    student_pages = [r for r in wonde.requests if r["path"].endswith("/students")]
    assert len(student_pages) == 2  # 3 students, 2 a page
    assert "contacts" in student_pages[0]["query"]["include"]
    assert {r["auth"] for r in wonde.requests} == {f"Bearer {TOKEN}"}
    assert not any(TOKEN in json.dumps(r["query"]) for r in wonde.requests)


def test_the_token_is_never_printed_or_stored(cli, db_url: str, wonde: WondeStandIn) -> None:
    cli("init")
    result = run(cli, wonde, "--json")
    assert TOKEN not in result.output
    assert TOKEN not in json.dumps(snapshot(Database(db_url)))
    wonde.faults = [(401, {}, b'{"error": "invalid_token"}')]
    refused = run(cli, wonde, expect=5)
    assert TOKEN not in refused.output and refused.output.startswith("error:")


def test_retries_after_429_then_succeeds(cli, wonde: WondeStandIn) -> None:
    cli("init")
    wonde.faults = [(429, {"Retry-After": "0"}, b"{}"), (503, {}, b"{}")]
    result = run(cli, wonde)
    assert "joined 10" in result.output
    assert wonde.requests[0]["path"] == wonde.requests[2]["path"]  # the same call, retried twice


def test_a_server_that_stays_broken_fails_in_one_line_and_writes_nothing(cli, db_url: str, wonde: WondeStandIn) -> None:
    cli("init")
    cli("roster", "import", ROSTER / "canonical")
    before = snapshot(Database(db_url))
    wonde.faults = [(500, {}, b"oops")] * 20
    result = run(cli, wonde, expect=5)
    assert len(result.output.strip().splitlines()) == 1 and "after 5 attempts" in result.output
    assert snapshot(Database(db_url)) == before


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"data": {"not": "a list"}}'])
def test_a_malformed_answer_is_refused(cli, db_url: str, wonde: WondeStandIn, body: bytes) -> None:
    cli("init")
    wonde.faults = [(200, {"Content-Type": "application/json"},
                     json.dumps({"data": {"id": SCHOOL, "name": "x"}}).encode()), (200, {}, body)]
    result = run(cli, wonde, expect=5)
    assert result.output.startswith("error: wonde:")
    assert not people(Database(db_url))


def test_a_next_page_on_another_host_is_not_followed(cli, wonde: WondeStandIn) -> None:
    cli("init")
    wonde.next_override = "http://203.0.113.9/v1.0/steal"
    result = run(cli, wonde, expect=5)
    assert "another host" in result.output
    assert all(r["path"].startswith("/v1.0/") for r in wonde.requests)


def test_no_token_means_no_request(cli, wonde: WondeStandIn, monkeypatch) -> None:
    monkeypatch.delenv("AUDITOR_WONDE_TOKEN")
    cli("init")
    result = run(cli, wonde, expect=2)
    assert "AUDITOR_WONDE_TOKEN" in result.output
    assert wonde.requests == []


def test_the_token_can_come_from_the_config(cli, wonde: WondeStandIn, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AUDITOR_WONDE_TOKEN")
    config = tmp_path / "auditor.toml"
    config.write_text(f'[wonde]\ntoken = "{TOKEN}"\napi_url = "{wonde.url}"\n')
    cli("init")
    result = cli("--config", config, "roster", "wonde", "--school", SCHOOL)
    assert "joined 10" in result.output
    assert {r["auth"] for r in wonde.requests} == {f"Bearer {TOKEN}"}
