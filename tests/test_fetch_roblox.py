"""``auditor fetch roblox`` against stand-in friends and users APIs on 127.0.0.1: username
resolution, the cursor-paged find endpoint (ids only, names resolved), the fallback to the
older friends list, followers and followings, missing fields and schema drift, and the error
cases. Every account here is synthetic."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from test_fetch_standins import Reply, Request, StandIn, one_error_line, prepare_database, running, table_counts

from auditor.db import Database
from auditor.models import Connection, ImportedFile

OWNER_ID = 4400100
BASE = f"/v1/users/{OWNER_ID}"


def user(i: int, prefix: str) -> dict:
    return {"id": 5_000_000 + i if prefix == "Pal" else 6_000_000 + i if prefix == "Fan" else 7_000_000 + i,
            "name": f"{prefix}Builder{i:03d}", "displayName": f"{prefix} {i:03d}", "hasVerifiedBadge": False}


class RobloxApis:
    """Stand-ins for users.roblox.com and friends.roblox.com on one server."""

    def __init__(self, server: StandIn, friends: int, followers: int, followings: int, find: bool = True) -> None:
        self.server = server
        self.friends = [user(i, "Pal") for i in range(friends)]
        self.lists = {"followers": [user(i, "Fan") for i in range(followers)],
                      "followings": [user(i, "Star") for i in range(followings)]}
        self.everyone = {u["id"]: u for u in self.friends + self.lists["followers"] + self.lists["followings"]}
        self.counts = {"friends": friends, "followers": followers, "followings": followings}
        self.faults: dict[tuple[str, int], list[Reply]] = {}
        server.route("POST", "/v1/usernames/users", self.usernames)
        server.route("POST", "/v1/users", self.users)
        server.route("GET", f"/v1/users/{OWNER_ID}", lambda req: Reply(200, self.owner()))
        if find:
            server.route("GET", f"{BASE}/friends/find", self.find)
        server.route("GET", f"{BASE}/friends", self.legacy)
        for name in ("followers", "followings"):
            server.route("GET", f"{BASE}/{name}", lambda req, name=name: self.follows(req, name))
        for name in ("friends", "followers", "followings"):
            server.route("GET", f"{BASE}/{name}/count", lambda req, name=name: Reply(200, {"count": self.counts[name]}))

    def owner(self) -> dict:
        return {"id": OWNER_ID, "name": "StaffOneBuilds", "displayName": "Staff One", "hasVerifiedBadge": False}

    def usernames(self, req: Request) -> Reply:
        body = req.json()
        wanted = [u.lower() for u in body.get("usernames", [])]
        data = [{"requestedUsername": body["usernames"][0], **self.owner()}] if "staffonebuilds" in wanted else []
        return Reply(200, {"data": data})

    def users(self, req: Request) -> Reply:
        ids = req.json()["userIds"]
        if len(ids) > 100:
            return Reply(400, {"errors": [{"code": 0, "message": "too many ids"}]})
        return Reply(200, {"data": [{k: self.everyone[i][k] for k in ("id", "name", "displayName")}
                                    for i in ids if i in self.everyone]})

    def find(self, req: Request) -> Reply:
        limit = int(req.query.get("limit", "50"))
        offset = int(req.query.get("cursor", "0") or 0)
        queued = self.faults.get(("find", offset // limit + 1))
        if queued:
            return queued.pop(0)
        items = [{"id": u["id"], "hasVerifiedBadge": False} for u in self.friends[offset:offset + limit]]
        more = offset + limit < len(self.friends)
        return Reply(200, {"PreviousCursor": None, "PageItems": items,
                           "NextCursor": str(offset + limit) if more else None, "HasMore": more})

    def legacy(self, req: Request) -> Reply:
        return Reply(200, {"data": [{**u, "isOnline": False, "isDeleted": False} for u in self.friends]})

    def follows(self, req: Request, name: str) -> Reply:
        limit = int(req.query.get("limit", "10"))
        if limit > 100:
            return Reply(400, {"errors": [{"code": 0, "message": "bad limit"}]})
        offset = int(req.query.get("cursor", "0") or 0)
        queued = self.faults.get((name, offset // limit + 1))
        if queued:
            return queued.pop(0)
        items = self.lists[name][offset:offset + limit]
        more = offset + limit < len(self.lists[name])
        return Reply(200, {"previousPageCursor": None, "nextPageCursor": str(offset + limit) if more else None,
                           "data": items})


@pytest.fixture
def standin():
    with running() as server:
        yield server


@pytest.fixture
def ready(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0")
    prepare_database(cli, tmp_path)


def fetch(cli, server, *extra, username="StaffOneBuilds", expect=0):
    return cli("fetch", "roblox", username, "--staff", "T0001", "--api-url", server.url, *extra, expect=expect)


def test_friends_followers_and_followings_are_stored_with_names_resolved(cli, standin, ready, db_url):
    RobloxApis(standin, friends=120, followers=130, followings=7)
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["rows"] == 257 and item["warnings"] == []
    assert item["layout"] == "roblox-friends-find,roblox-follows-v1"
    assert {k: v["rows"] for k, v in item["lists"].items()} == {"friends": 120, "followers": 130, "followings": 7}
    assert item["lists"]["friends"]["pages"] == 3  # find pages of 50
    assert len(standin.calls("/v1/users")) == 2  # 120 nameless friends: two look-ups of at most 100
    db = Database(db_url)
    with db.begin() as conn:
        row = conn.execute(sa.select(ImportedFile.__table__)).one()
        assert row.kind == "fetch" and row.path == f"{standin.url}/v1/users/{OWNER_ID}"
        assert row.owner == {"platform": "roblox", "name": "Staff One", "username": "staffonebuilds",
                             "platform_id": str(OWNER_ID)}
        kinds = dict(conn.execute(sa.select(Connection.__table__.c.kind, sa.func.count()).group_by("kind")).all())
        assert kinds == {"friend": 120, "follower": 130, "following": 7}
        friend = conn.execute(sa.text("SELECT username, display_name, profile_url FROM account "
                                      "WHERE platform_id = '5000042'")).one()
    db.dispose()
    assert tuple(friend) == ("palbuilder042", "Pal 042", "https://www.roblox.com/users/5000042/profile")


def test_without_the_find_endpoint_the_older_list_is_read(cli, standin, ready):
    RobloxApis(standin, friends=12, followers=2, followings=0, find=False)
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["lists"]["friends"]["rows"] == 12
    assert "roblox-friends-legacy" in item["layout"]
    assert any("paged friends endpoint is not available (HTTP 404)" in w for w in item["warnings"])
    assert standin.calls("/v1/users") == []  # the older list carries the names


def test_missing_fields_and_drifted_keys_are_tolerated(cli, standin, ready):
    app = RobloxApis(standin, friends=0, followers=0, followings=0)
    standin.route("GET", f"{BASE}/followers", lambda req: Reply(200, {"nextPageCursor": None, "data": [
        {"id": 6000001},                                   # names missing: looked up
        {"userId": "6000002", "name": "FanBuilder002"},    # renamed id key, no display name
        {"name": "NoIdAtAll"},                             # nothing stable: skipped
        6000003,                                           # a bare id
        "garbage",                                         # not a user: skipped
        {"id": 6999999},                                   # unknown to the users API: kept by id
    ]}))
    app.everyone.update({6000001: user(1, "Fan"), 6000003: user(3, "Fan")})
    standin.route("GET", f"{BASE}/friends/count", lambda req: Reply(500, b"oops"))  # a count that fails
    standin.route("GET", f"{BASE}/followings/count", lambda req: Reply(200, {"total": 0}))  # drifted count
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["lists"]["followers"]["rows"] == 4 and item["skipped"] == 2
    assert item["lists"]["friends"]["expected"] is None and item["lists"]["followings"]["expected"] is None
    assert "friends: the count could not be read, so completeness is not checked" in item["warnings"]
    assert "followers entry 3: no user id" in item["warnings"]
    assert "names of 1 account(s) were not returned by the users API; kept by id" in item["warnings"]


def test_a_429_then_success(cli, standin, ready):
    app = RobloxApis(standin, friends=60, followers=0, followings=0)
    app.faults[("find", 2)] = [Reply(429, {"errors": [{"code": 0, "message": "Too many requests"}]},
                                     {"Retry-After": "1"})]
    item = json.loads(fetch(cli, standin, "--json").stdout)["files"][0]
    assert item["lists"]["friends"]["rows"] == 60
    assert len([r for r in standin.calls(f"{BASE}/friends/find") if r.query.get("cursor") == "50"]) == 2


def test_a_500_that_stays_500_ends_with_one_line_and_nothing_stored(cli, standin, ready, db_url):
    app = RobloxApis(standin, friends=5, followers=150, followings=0)
    app.faults[("followers", 2)] = [Reply(500, {"errors": []})] * 10
    before = table_counts(db_url)
    assert "answered HTTP 500 after 5 attempts" in one_error_line(fetch(cli, standin, expect=5))
    assert table_counts(db_url) == before


def test_malformed_json_ends_with_one_line(cli, standin, ready, db_url):
    app = RobloxApis(standin, friends=70, followers=0, followings=0)
    app.faults[("find", 2)] = [Reply(200, b"{'PageItems': nope")]
    before = table_counts(db_url)
    assert "malformed JSON" in one_error_line(fetch(cli, standin, expect=5))
    assert table_counts(db_url) == before


def test_an_unknown_username_is_one_line_exit_2(cli, standin, ready):
    RobloxApis(standin, 1, 1, 1)
    line = one_error_line(fetch(cli, standin, username="NobodyBuilds", expect=2))
    assert "no user with that username" in line and "NobodyBuilds" not in line


def test_a_profile_url_is_read_by_id(cli, standin, ready):
    RobloxApis(standin, friends=3, followers=0, followings=0)
    fetch(cli, standin, username=f"https://www.roblox.com/users/{OWNER_ID}/profile")
    assert standin.calls("/v1/usernames/users") == [] and len(standin.calls(f"/v1/users/{OWNER_ID}")) == 1


@pytest.mark.parametrize("bad", ["ab", "has space", "way_too_long_for_roblox_names", "dash-name"])
def test_a_malformed_username_is_refused_before_any_request(cli, standin, ready, bad):
    one_error_line(fetch(cli, standin, username=bad, expect=2))
    assert standin.log == []
