"""``auditor fetch mastodon`` against a stand-in Mastodon server on 127.0.0.1: lookup, Link
paging (limit 80), hidden networks, partial lists, rate-limit headers, and the error cases.
Every account here is synthetic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from test_fetch_standins import Reply, Request, StandIn, one_error_line, prepare_database, running, table_counts

from auditor.db import Database
from auditor.models import Connection, ImportedFile

SERVER = "school-social.example"
OWNER_ID = "10900"
LOOKUP = "/api/v1/accounts/lookup"
FOLLOWERS = f"/api/v1/accounts/{OWNER_ID}/followers"
FOLLOWING = f"/api/v1/accounts/{OWNER_ID}/following"


def account(i: int, prefix: str, remote: bool) -> dict:
    username = f"{prefix}{i:03d}"
    domain = "elsewhere.example" if remote else SERVER
    return {"id": str(200000 + i if prefix == "fan" else 300000 + i), "username": username,
            "acct": f"{username}@{domain}" if remote else username, "display_name": f"{prefix.title()} {i:03d}",
            "url": f"https://{domain}/@{username}", "locked": False, "bot": False, "followers_count": 1}


class MastodonServer:
    """A stand-in Mastodon 4.x server: lookup, followers/following paged by Link with max_id,
    X-RateLimit-* headers on every answer, and faults on request."""

    def __init__(self, server: StandIn, followers: int, following: int) -> None:
        self.server = server
        self.lists = {
            "followers": [account(i, "fan", remote=i % 3 == 0) for i in range(followers)],
            "following": [account(i, "pal", remote=i % 4 == 0) for i in range(following)],
        }
        self.counts = {"followers": followers, "following": following}
        self.faults: dict[tuple[str, int], list[Reply]] = {}
        self.next_host: str | None = None
        self.remaining = 300
        server.route("GET", LOOKUP, self.lookup)
        server.route("GET", FOLLOWERS, lambda req: self.page(req, "followers"))
        server.route("GET", FOLLOWING, lambda req: self.page(req, "following"))

    def rate_headers(self) -> dict[str, str]:
        """Mastodon's headers; when the allowance runs out the window resets 2 s later."""
        self.remaining -= 1
        window = timedelta(seconds=2) if self.remaining <= 0 else timedelta(minutes=5)
        reset = (datetime.now(UTC) + window).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(max(self.remaining, 0)),
                   "X-RateLimit-Reset": reset}
        if self.remaining <= 0:
            self.remaining = 300
        return headers

    def lookup(self, req: Request) -> Reply:
        if req.query.get("acct") != "staffone":
            return Reply(404, {"error": "Record not found"}, self.rate_headers())
        body = {"id": OWNER_ID, "username": "staffone", "acct": "staffone", "display_name": "Staff One",
                "url": f"https://{SERVER}/@staffone", "followers_count": self.counts["followers"],
                "following_count": self.counts["following"], "statuses_count": 4}
        return Reply(200, body, self.rate_headers())

    def page(self, req: Request, name: str) -> Reply:
        limit = min(int(req.query.get("limit", "40")), 80)
        offset = int(req.query.get("max_id", "0"))
        number = offset // limit + 1
        queued = self.faults.get((name, number))
        if queued:
            return queued.pop(0)
        items = self.lists[name][offset:offset + limit]
        headers = self.rate_headers()
        if offset + limit < len(self.lists[name]):
            host = self.next_host or self.server.url
            headers["Link"] = (f'<{host}/api/v1/accounts/{OWNER_ID}/{name}?limit={limit}&max_id={offset + limit}>; '
                               f'rel="next", <{self.server.url}/api/v1/accounts/{OWNER_ID}/{name}?min_id=1>; rel="prev"')
        return Reply(200, items, headers)


@pytest.fixture
def standin():
    with running() as server:
        yield server


@pytest.fixture
def ready(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0")
    prepare_database(cli, tmp_path)


def fetch(cli, server, *extra, address=f"staffone@{SERVER}", expect=0):
    return cli("fetch", "mastodon", address, "--staff", "T0001", "--api-url", server.url, *extra, expect=expect)


def test_237_followers_and_237_following_store_474_rows(cli, standin, ready, db_url):
    MastodonServer(standin, 237, 237)
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["rows"] == 474 and item["status"] == "imported" and item["warnings"] == []
    assert item["lists"]["followers"] == {"kind": "follower", "rows": 237, "expected": 237, "hidden": False, "pages": 3}
    assert all(r.query.get("limit") == "80" for r in standin.calls(FOLLOWERS) + standin.calls(FOLLOWING))
    assert len(standin.calls(FOLLOWERS)) == 3
    db = Database(db_url)
    with db.begin() as conn:
        row = conn.execute(sa.select(ImportedFile.__table__)).one()
        assert row.kind == "fetch" and row.path == f"{standin.url}/api/v1/accounts/{OWNER_ID}"
        assert row.owner["username"] == f"staffone@{SERVER}" and row.owner["platform_id"] == OWNER_ID
        kinds = dict(conn.execute(sa.select(Connection.__table__.c.kind, sa.func.count()).group_by("kind")).all())
        assert kinds == {"follower": 237, "following": 237}
        local, remote = conn.execute(sa.text(
            "SELECT username, platform_id, profile_url FROM account WHERE platform_id IN ('200001', '200003') "
            "ORDER BY platform_id")).all()
    db.dispose()
    assert tuple(local) == (f"fan001@{SERVER}", "200001", f"https://{SERVER}/@fan001")
    assert tuple(remote) == ("fan003@elsewhere.example", "200003", "https://elsewhere.example/@fan003")


def test_a_hidden_network_is_a_warning_not_an_empty_list(cli, standin, ready):
    app = MastodonServer(standin, 0, 9)
    app.counts["followers"] = 12
    result = fetch(cli, standin)
    assert "9 rows (0 followers, 9 following)" in result.stdout
    assert "followers: hidden network: the service counts 12 but lists none" in result.stderr
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["lists"]["followers"]["hidden"] is True and item["lists"]["following"]["hidden"] is False


def test_fewer_listed_than_counted_is_a_partial_list(cli, standin, ready):
    app = MastodonServer(standin, 30, 3)
    app.counts["followers"] = 41
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert any(w.startswith("followers: partial list: 30 listed of 41 counted") for w in item["warnings"])
    assert item["lists"]["followers"]["hidden"] is False


def test_a_429_then_success_continues_paging(cli, standin, ready):
    app = MastodonServer(standin, 200, 1)
    app.faults[("followers", 2)] = [Reply(429, {"error": "Too many requests"},
                                          {"X-RateLimit-Remaining": "0", "Retry-After": "3"})]
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["lists"]["followers"]["rows"] == 200
    assert len([r for r in standin.calls(FOLLOWERS) if r.query.get("max_id") == "80"]) == 2


def test_a_500_that_stays_500_ends_with_one_line_and_nothing_stored(cli, standin, ready, db_url):
    app = MastodonServer(standin, 100, 100)
    app.faults[("following", 2)] = [Reply(503, {"error": "down"})] * 10
    before = table_counts(db_url)
    line = one_error_line(fetch(cli, standin, expect=5))
    assert f"{FOLLOWING} answered HTTP 503 after 5 attempts" in line
    assert table_counts(db_url) == before


def test_malformed_json_ends_with_one_line_and_nothing_stored(cli, standin, ready, db_url):
    app = MastodonServer(standin, 100, 5)
    app.faults[("followers", 2)] = [Reply(200, b"<html>Bad gateway</html>")]
    before = table_counts(db_url)
    assert "malformed JSON" in one_error_line(fetch(cli, standin, expect=5))
    assert table_counts(db_url) == before


def test_a_next_link_to_another_server_is_refused(cli, standin, ready, db_url):
    app = MastodonServer(standin, 100, 5)
    app.next_host = "http://127.0.0.2:9"
    before = table_counts(db_url)
    assert "pointed its next page at another server" in one_error_line(fetch(cli, standin, expect=5))
    assert table_counts(db_url) == before


def test_an_unknown_account_is_one_line_exit_2(cli, standin, ready, db_url):
    MastodonServer(standin, 1, 1)
    line = one_error_line(fetch(cli, standin, address=f"nobody@{SERVER}", expect=2))
    assert f"{SERVER} has no account with that address" in line and "nobody" not in line


def test_a_server_in_limited_mode_is_one_line(cli, standin, ready):
    standin.route("GET", LOOKUP, lambda req: Reply(401, {"error": "This API requires an authenticated user"}))
    assert "allows its API only to logged-in users" in one_error_line(fetch(cli, standin, expect=5))


@pytest.mark.parametrize("bad", ["staffone", "staffone@", "@server.example", "staff one@server.example"])
def test_a_malformed_address_is_refused_before_any_request(cli, standin, ready, bad):
    assert "USER@SERVER" in one_error_line(fetch(cli, standin, address=bad, expect=2))
    assert standin.log == []


@pytest.mark.parametrize("written", [f"@staffone@{SERVER}", f"https://{SERVER}/@staffone", f"StaffOne@{SERVER.upper()}"])
def test_the_address_may_be_written_as_people_copy_it(written):
    from auditor.connectors.api.mastodon import Mastodon

    assert Mastodon().parse_account(written).lower() == f"staffone@{SERVER}"
    assert Mastodon().api_url(Mastodon().parse_account(written), None) == f"https://{SERVER}"


def test_an_exhausted_rate_limit_pauses_until_the_reset(cli, standin, ready, monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0.05")  # the 2 s window becomes 0.1 s
    app = MastodonServer(standin, 160, 3)
    app.remaining = 1  # the lookup's answer says none are left, resetting in 2 s
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["rows"] == 163
    [lookup] = standin.calls(LOOKUP)
    lists = standin.calls(FOLLOWERS) + standin.calls(FOLLOWING)
    assert min(r.at for r in lists) - lookup.at >= 0.1
