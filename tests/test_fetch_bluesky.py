"""``auditor fetch bluesky`` against a stand-in AppView on 127.0.0.1: cursor paging, 429 then
success, a 500 that stays 500, malformed JSON, loops, unknown accounts, and storage exactly
like an imported export. Every account here is synthetic."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from test_fetch_standins import (
    RecordingProgress,
    Reply,
    Request,
    StandIn,
    one_error_line,
    prepare_database,
    running,
    table_counts,
)

from auditor.db import Database
from auditor.models import Connection, ImportedFile, StaffAccount

OWNER_DID = "did:plc:ownerabcdefghijklmnopqrs"
OWNER_HANDLE = "staff-one.bsky.example"
GET_FOLLOWERS = "/xrpc/app.bsky.graph.getFollowers"
GET_FOLLOWS = "/xrpc/app.bsky.graph.getFollows"
GET_PROFILE = "/xrpc/app.bsky.actor.getProfile"


def profile(did: str, handle: str, name: str | None) -> dict:
    view = {"did": did, "handle": handle, "labels": [], "viewer": {}, "indexedAt": "2025-01-02T03:04:05.000Z"}
    if name is not None:
        view["displayName"] = name
    return view


class AppView:
    """A stand-in for public.api.bsky.app: getProfile, getFollowers and getFollows with
    opaque cursors, limit checked (1–100) like the lexicon, and faults on request."""

    def __init__(self, server: StandIn, followers: int, follows: int) -> None:
        self.server = server
        self.lists = {
            "followers": [profile(f"did:plc:fol{i:021d}", f"follower{i:03d}.bsky.example", f"Follower {i:03d}")
                          for i in range(followers)],
            "follows": [profile(f"did:plc:flw{i:021d}", f"followed{i:03d}.bsky.example", f"Followed {i:03d}")
                        for i in range(follows)],
        }
        self.counts = {"followers": followers, "follows": follows}
        self.faults: dict[tuple[str, int], list[Reply]] = {}  # (list, page number) -> replies served first
        self.page_calls: dict[str, int] = {"followers": 0, "follows": 0}
        server.route("GET", GET_PROFILE, self.get_profile)
        server.route("GET", GET_FOLLOWERS, lambda req: self.page(req, "followers"))
        server.route("GET", GET_FOLLOWS, lambda req: self.page(req, "follows"))

    def get_profile(self, req: Request) -> Reply:
        if req.query.get("actor") not in (OWNER_DID, OWNER_HANDLE):
            return Reply(400, {"error": "InvalidRequest", "message": "Profile not found"})
        body = profile(OWNER_DID, OWNER_HANDLE, "Staff One")
        body.update(followersCount=self.counts["followers"], followsCount=self.counts["follows"], postsCount=3)
        return Reply(200, body)

    def page(self, req: Request, name: str) -> Reply:
        limit = int(req.query.get("limit", "50"))
        if not 1 <= limit <= 100 or req.query.get("actor") != OWNER_DID:
            return Reply(400, {"error": "InvalidRequest", "message": "bad params"})
        offset = int(req.query["cursor"].removeprefix("opaque-")) if "cursor" in req.query else 0
        number = offset // limit + 1
        queued = self.faults.get((name, number))
        if queued:
            return queued.pop(0)
        self.page_calls[name] += 1
        items = self.lists[name][offset:offset + limit]
        body = {"subject": profile(OWNER_DID, OWNER_HANDLE, "Staff One"), name: items}
        if offset + limit < len(self.lists[name]):
            body["cursor"] = f"opaque-{offset + limit}"
        return Reply(200, body)


@pytest.fixture
def standin():
    with running() as server:
        yield server


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0")


@pytest.fixture
def ready(cli, tmp_path, fast):
    prepare_database(cli, tmp_path)


def fetch(cli, server, *extra, account=OWNER_HANDLE, expect=0):
    return cli("fetch", "bluesky", account, "--staff", "T0001", "--api-url", server.url, *extra, expect=expect)


def test_237_followers_and_237_follows_store_474_rows(cli, standin, ready, db_url):
    AppView(standin, 237, 237)
    result = fetch(cli, standin, "--json")
    doc = json.loads(result.stdout)
    [item] = doc["files"]
    assert item["status"] == "imported" and item["rows"] == 474 and item["kind"] == "fetch"
    assert item["lists"]["followers"] == {"kind": "follower", "rows": 237, "expected": 237, "hidden": False, "pages": 3}
    assert item["lists"]["follows"]["rows"] == 237
    assert item["warnings"] == []
    for page in standin.calls(GET_FOLLOWERS) + standin.calls(GET_FOLLOWS):
        assert page.query["limit"] == "100"
    db = Database(db_url)
    with db.begin() as conn:
        files = ImportedFile.__table__
        row = conn.execute(sa.select(files)).one()
        assert row.kind == "fetch" and row.rows == 474 and row.platform == "bluesky"
        assert row.path == f"{standin.url}{GET_PROFILE}?actor={OWNER_DID}"
        assert row.sha256 == item["sha256"] and len(row.sha256) == 64
        assert {m["list"]: m["pages"] for m in row.members} == {"followers": 3, "follows": 3}
        assert row.owner["platform_id"] == OWNER_DID and row.owner["username"] == OWNER_HANDLE
        kinds = conn.execute(sa.select(Connection.__table__.c.kind, sa.func.count()).group_by("kind")).all()
        assert dict(kinds) == {"follower": 237, "following": 237}
        owner = conn.execute(sa.select(StaffAccount.__table__)).one()
        assert owner.platform_id == OWNER_DID and owner.source == "export_owner"
        account = conn.execute(sa.text(
            "SELECT username, display_name, platform_id, profile_url FROM account WHERE platform_id = :d"),
            {"d": "did:plc:fol000000000000000000017"}).one()
        assert tuple(account) == ("follower017.bsky.example", "Follower 017", "did:plc:fol000000000000000000017",
                                  "https://bsky.app/profile/did:plc:fol000000000000000000017")
    db.dispose()


def test_the_same_pages_fetched_again_change_nothing(cli, standin, ready, db_url):
    AppView(standin, 30, 5)
    fetch(cli, standin)
    before = table_counts(db_url)
    second = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert second["status"] == "unchanged"
    assert table_counts(db_url) == before


def test_a_429_with_retry_after_is_waited_out_then_paging_goes_on(cli, standin, ready, monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0.05")  # Retry-After 2 s becomes 0.1 s
    app = AppView(standin, 250, 10)
    app.faults[("followers", 2)] = [Reply(429, {"error": "RateLimitExceeded"}, {"Retry-After": "2"})]
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["lists"]["followers"]["rows"] == 250
    second_page = [r for r in standin.calls(GET_FOLLOWERS) if r.query.get("cursor") == "opaque-100"]
    assert len(second_page) == 2
    assert second_page[1].at - second_page[0].at >= 0.1


def test_a_500_that_stays_500_fails_with_one_line_and_stores_nothing(cli, standin, ready, db_url):
    app = AppView(standin, 150, 150)
    app.faults[("follows", 2)] = [Reply(500, {"error": "InternalServerError"})] * 10
    before = table_counts(db_url)
    result = fetch(cli, standin, expect=5)
    line = one_error_line(result)
    assert f"{GET_FOLLOWS} answered HTTP 500 after 5 attempts" in line
    assert OWNER_HANDLE not in line
    assert table_counts(db_url) == before


def test_malformed_json_fails_with_one_line_and_stores_nothing(cli, standin, ready, db_url):
    app = AppView(standin, 150, 10)
    app.faults[("followers", 2)] = [Reply(200, b'{"followers": [{"did": "did:plc:x"')]
    before = table_counts(db_url)
    line = one_error_line(fetch(cli, standin, expect=5))
    assert "malformed JSON" in line
    assert table_counts(db_url) == before


def test_a_page_without_its_list_is_a_clear_error(cli, standin, ready):
    app = AppView(standin, 10, 10)
    app.faults[("follows", 1)] = [Reply(200, {"subject": {}, "items": []})]
    assert "has no 'follows' list" in one_error_line(fetch(cli, standin, expect=5))


def test_a_server_repeating_its_cursor_is_stopped(cli, standin, ready, db_url):
    app = AppView(standin, 10, 10)
    app.faults[("followers", 1)] = [Reply(200, {"followers": [], "cursor": "opaque-0"}) for _ in range(3)]
    line = one_error_line(fetch(cli, standin, expect=5))
    assert "same page cursor twice" in line


def test_an_unknown_account_is_one_line_exit_2(cli, standin, ready, db_url):
    AppView(standin, 1, 1)
    before = table_counts(db_url)
    line = one_error_line(fetch(cli, standin, account="nobody-here.bsky.example", expect=2))
    assert "no public account for that handle or DID (InvalidRequest)" in line
    assert "nobody-here" not in line
    assert table_counts(db_url) == before


@pytest.mark.parametrize("bad", ["not a handle", "x", "@@", "did:"])
def test_a_malformed_handle_is_refused_before_any_request(cli, standin, ready, bad):
    one_error_line(fetch(cli, standin, account=bad, expect=2))
    assert standin.log == []


def test_an_unknown_staff_ref_is_refused_before_any_request(cli, standin, ready):
    AppView(standin, 1, 1)
    result = cli("fetch", "bluesky", OWNER_HANDLE, "--staff", "T9999", "--api-url", standin.url, expect=3)
    assert "T9999" in one_error_line(result)
    assert standin.log == []


def test_missing_fields_are_tolerated_and_a_missing_did_is_skipped(cli, standin, ready, db_url):
    app = AppView(standin, 3, 2)
    app.lists["followers"][0].pop("displayName")
    app.lists["followers"][1]["handle"] = "handle.invalid"
    app.lists["followers"][2].pop("did")
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["rows"] == 4 and item["skipped"] == 1
    assert any("followers entry 3: no DID" in w for w in item["warnings"])
    with Database(db_url).begin() as conn:
        rows = conn.execute(sa.text("SELECT username, display_name FROM account WHERE platform_id IN "
                                    "('did:plc:fol000000000000000000000', 'did:plc:fol000000000000000000001')"
                                    " ORDER BY platform_id")).all()
    assert [tuple(r) for r in rows] == [("follower000.bsky.example", None), (None, "Follower 001")]


def test_fewer_listed_than_counted_is_a_partial_list_warning(cli, standin, ready):
    app = AppView(standin, 20, 4)
    app.counts["followers"] = 25
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["rows"] == 24
    assert "followers: partial list: 20 listed of 25 counted" in item["warnings"]


def test_progress_is_started_with_the_profile_counts_and_advanced_per_entry(standin, db, fast, tmp_path):
    from auditor.connectors.api.run import fetch_and_store
    from auditor.roster import import_roster

    AppView(standin, 237, 237)
    import_path = tmp_path / "staff.csv"
    import_path.write_text("staff_id,forename,surname,email,school,role\nT0001,Test,Teacher-One,,S01,teacher\n")
    import_roster(db, [import_path])
    progress = RecordingProgress()
    summary = fetch_and_store(db, "bluesky", OWNER_HANDLE, "T0001", api_url=standin.url, progress=progress)
    assert summary.rows == 474
    assert progress.totals == [474] and progress.advanced == 474 and progress.finished == 1


@pytest.mark.parametrize("api_url", ["public.api.bsky.app", "ftp://host.example", "https://host.example:99999",
                                     "https://user:pw@host.example"])
def test_a_malformed_api_url_is_refused_as_an_argument(cli, ready, api_url):
    result = cli("fetch", "bluesky", OWNER_HANDLE, "--staff", "T0001", "--api-url", api_url, expect=2)
    line = one_error_line(result)
    assert "--api-url must be a plain http(s) address" in line and "pw" not in line


def test_an_unreachable_api_is_one_line_and_nothing_stored(cli, ready, db_url):
    from test_fetch_standins import closed_port_url

    before = table_counts(db_url)
    result = cli("fetch", "bluesky", OWNER_HANDLE, "--staff", "T0001", "--api-url", closed_port_url(), expect=5)
    assert "could not be reached (ConnectError) after 5 attempts" in one_error_line(result)
    assert table_counts(db_url) == before


def test_a_fetched_list_is_audited_like_an_imported_export(cli, standin, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0")
    roster = tmp_path / "roster"
    roster.mkdir()
    (roster / "pupils.csv").write_text(
        "pupil_id,upn,legal_forename,legal_surname,preferred_forename,middle_names,date_of_birth,school,year_group,"
        "admission_date,leaving_date\nP01,,Ottoline,Quenby-Marsh,,,2012-03-04,S01,8,2023-09-01,\n", encoding="utf-8")
    (roster / "contacts.csv").write_text(
        "contact_id,pupil_id,title,forename,surname,relationship,parental_responsibility,priority,email,mobile_phone\n",
        encoding="utf-8")
    (roster / "staff.csv").write_text("staff_id,forename,surname,email,school,role\n"
                                      "T0001,Test,Teacher-One,t1@school.example,S01,teacher\n", encoding="utf-8")
    cli("init", "--policy", "luton")
    cli("roster", "import", roster)
    app = AppView(standin, 12, 3)
    app.lists["followers"][4].update(displayName="Ottoline Quenby-Marsh", handle="oquenbymarsh2012.bsky.example")
    fetched = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    out = tmp_path / "findings.json"
    cli("audit", "--as-of", "2026-01-15", "--format", "json", "--out", out)
    findings = json.loads(out.read_text(encoding="utf-8"))["findings"]
    [finding] = [f for f in findings if f["person_ref"] == "P01"]
    assert finding["staff_ref"] == "T0001" and finding["platform"] == "bluesky"
    assert finding["relationship"] == "follower"
    assert finding["source"]["file_sha256"] == fetched["sha256"]
    assert finding["account"]["username"] == "oquenbymarsh2012.bsky.example"
