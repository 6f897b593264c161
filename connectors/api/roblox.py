"""Roblox: friends, followers and followings from the public web APIs (no login).

Sources: create.roblox.com "Friends Api v1" and "Users Api v1" (legacy, "can incorporate
breaking changes without notice"); DevForum "Updating Friends API & Deprecating IsOnline"
(Sept 2024, updated Jan 2025); ../shared/research/formats.md §14 and §16.3.

Layout history:

| layout                | since    | shape                                                             |
|-----------------------|----------|-------------------------------------------------------------------|
| roblox-friends-legacy | –2024    | ``GET friends/v1/users/{id}/friends`` → ``{data: [{id, name,      |
|                       |          | displayName, isOnline, isDeleted, …}]}``, all friends at once     |
|                       |          | (at most 200 then). Since Oct 2024 its items were cut down, at    |
|                       |          | times to ``{id}`` alone.                                          |
| roblox-friends-find   | Oct 2024 | ``GET friends/v1/users/{id}/friends/find?limit=&cursor=`` →       |
|                       |          | ``{PageItems: [{id, …}], NextCursor, PreviousCursor, HasMore}``  |
|                       |          | (the friend limit rose to 1,000). Items may carry only the id.    |
| roblox-follows-v1     | 2019     | ``GET friends/v1/users/{id}/followers`` and ``/followings`` with  |
|                       |          | ``limit`` ≤ 100, ``cursor``, ``sortOrder`` → ``{previousPageCursor,|
|                       |          | nextPageCursor, data: [{id, name, displayName, …}]}``            |

Users API: ``POST users/v1/usernames/users {usernames, excludeBannedUsers}`` resolves the
username; ``POST users/v1/users {userIds, excludeBannedUsers}`` (100 ids a call) gives the
names of entries that came without them; ``GET users/v1/users/{id}`` reads one user.
Counts: ``…/friends/count``, ``/followers/count``, ``/followings/count`` → ``{count}``.

Tolerated drift: the find endpoint missing (404/405/410/501 on its first page → the older
list, with a warning); keys in either case (``PageItems``/``pageItems``/``data``,
``NextCursor``/``nextCursor``/``nextPageCursor``, ``id``/``userId``); missing names (resolved,
else kept by id); a count endpoint that fails (no count check). ``--api-url`` points both the
friends and the users API at one server (a stand-in, a proxy).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from auditor.connectors.api.base import (
    ApiConnector,
    FetchedList,
    FetchResult,
    count_field,
    cursor_pages,
    id_field,
    read_lists,
    require_object,
    text_field,
)
from auditor.errors import InputError, NetworkError
from auditor.http import ApiClient, ApiResponse, HttpStatusError, MalformedResponse
from auditor.progress import Progress
from auditor.records import ContactRecord, OwnerInfo, RowProblem
from auditor.registry import api_connectors
from auditor.text import clean_display_name, normalise_username

FRIENDS_API = "https://friends.roblox.com"
USERS_API = "https://users.roblox.com"
FIND_PAGE_SIZE = 50
FOLLOW_PAGE_SIZE = 100
NAMES_PER_CALL = 100
FIND_MISSING = (404, 405, 410, 501)
_USERNAME = re.compile(r"^[A-Za-z0-9_]{3,20}$")
_PROFILE = re.compile(r"/users/(\d{1,20})(?:/|$)")

ITEM_KEYS = ("PageItems", "pageItems", "data", "Data")
NEXT_KEYS = ("NextCursor", "nextCursor", "nextPageCursor", "NextPageCursor")


@api_connectors.register("roblox")
class Roblox(ApiConnector):
    platform = "roblox"
    title = "Roblox (web APIs: friends, followers and followings)"
    account_label = "USER"
    default_api_url = FRIENDS_API
    lists: ClassVar[dict[str, str]] = {"friends": "friend", "followers": "follower", "followings": "following"}

    def parse_account(self, account: str) -> str:
        """A username, or ``id:NNN`` for a profile URL (``roblox.com/users/NNN/profile``)."""
        text = account.strip().lstrip("@")
        if "roblox.com" in text.lower():
            match = _PROFILE.search(urlsplit(text if "://" in text else f"https://{text}").path)
            if match:
                return f"id:{match.group(1)}"
        if text.lower().startswith("id:") and text[3:].isdigit():
            return f"id:{int(text[3:])}"
        if _USERNAME.match(text):
            return text
        raise InputError("roblox: give a username (3–20 letters, digits or _) or a profile URL")

    def fetch(self, client: ApiClient, account: str, progress: Progress) -> FetchResult:
        users_api = USERS_API if (client.base_url or "").rstrip("/") == FRIENDS_API else (client.base_url or "").rstrip("/")
        user = self._resolve(client, users_api, account)
        user_id = id_field(user, "id", "userId")
        if not user_id:
            raise MalformedResponse("roblox: the users API answer has no id", hint="the API may have changed")
        owner = OwnerInfo(platform=self.platform, name=clean_display_name(text_field(user, "displayName")),
                          username=normalise_username(text_field(user, "name", "username")), platform_id=user_id)
        specs = [
            FetchedList("friend", "friends", client.url(f"/v1/users/{user_id}/friends/find"), "roblox-friends-find"),
            FetchedList("follower", "followers", client.url(f"/v1/users/{user_id}/followers"), "roblox-follows-v1"),
            FetchedList("following", "followings", client.url(f"/v1/users/{user_id}/followings"), "roblox-follows-v1"),
        ]
        counts = client.map(lambda lst: self._count(client, user_id, lst.name), specs)
        for lst, count in zip(specs, counts, strict=True):
            lst.expected = count
            if count is None:
                lst.warnings.append(f"{lst.name}: the count could not be read, so completeness is not checked")
        read_lists(client, specs, "fetching Roblox friends, followers and followings", progress,
                   lambda lst: self._read_list(client, user_id, lst, progress))
        warnings = self._resolve_names(client, users_api, [r for lst in specs for r in lst.records])
        for lst in specs:
            lst.check_count("Roblox lists none of the accounts it counts", "deleted or banned accounts are not listed")
        return FetchResult(platform=self.platform, api_url=client.base_url or "",
                           account_url=f"{users_api}/v1/users/{user_id}", owner=owner, lists=specs, warnings=warnings)

    # -- the account ------------------------------------------------------------------------

    def _resolve(self, client: ApiClient, users_api: str, account: str) -> dict:
        if account.startswith("id:"):
            try:
                response = client.get(f"{users_api}/v1/users/{account[3:]}")
            except HttpStatusError as exc:
                if exc.status in (400, 404):
                    raise InputError("roblox: no user with that id") from None
                raise
            return require_object(response.json(), "roblox", response, "a user")
        response = client.request("POST", f"{users_api}/v1/usernames/users",
                                  json_body={"usernames": [account], "excludeBannedUsers": False})
        body = require_object(response.json(), "roblox", response, "a list of users")
        found = [u for u in _items(body) if isinstance(u, dict) and id_field(u, "id", "userId")]
        if not found:
            raise InputError("roblox: no user with that username", hint="check the spelling (the username, not the display name)")
        return found[0]

    def _count(self, client: ApiClient, user_id: str, name: str) -> int | None:
        """The count Roblox reports, or None when the count endpoint fails or has drifted (the
        count only checks completeness, so its failure never stops the lists being read)."""
        try:
            return count_field(client.get_json(f"/v1/users/{user_id}/{name}/count"), "count", "Count")
        except NetworkError:
            return None

    # -- the lists --------------------------------------------------------------------------

    def _read_list(self, client: ApiClient, user_id: str, lst: FetchedList, progress: Progress) -> None:
        if lst.name != "friends":
            params = {"limit": FOLLOW_PAGE_SIZE, "sortOrder": "Asc"}
            self._read_pages(client, f"/v1/users/{user_id}/{lst.name}", params, lst, progress)
            return
        try:
            self._read_pages(client, f"/v1/users/{user_id}/friends/find", {"limit": FIND_PAGE_SIZE}, lst, progress)
        except HttpStatusError as exc:
            if exc.status not in FIND_MISSING or lst.page_hashes:
                raise
            lst.layout = "roblox-friends-legacy"
            lst.url = client.url(f"/v1/users/{user_id}/friends")
            lst.warnings.append(f"friends: the paged friends endpoint is not available (HTTP {exc.status}); "
                                "read the older single list")
            response = client.get(f"/v1/users/{user_id}/friends")
            self._add_page(lst, response, require_object(response.json(), "roblox", response, "a list of friends"), 1)
            progress.advance(len(lst.records))

    def _read_pages(self, client: ApiClient, path: str, params: dict, lst: FetchedList, progress: Progress) -> None:
        pages = cursor_pages(client, path, params, lambda b: text_field(b, *NEXT_KEYS), what=f"a page of {lst.name}")
        for page, (response, body) in enumerate(pages, start=1):
            before = len(lst.records) + len(lst.problems)
            self._add_page(lst, response, body, page)
            progress.advance(len(lst.records) + len(lst.problems) - before)

    def _add_page(self, lst: FetchedList, response: ApiResponse, body: dict, page: int) -> None:
        items = _items(body)
        if items is None:
            raise MalformedResponse(f"roblox: {response.where} page {page} has no list of users",
                                    hint="the API may have changed")
        lst.add_page(response)
        start = len(lst.records) + len(lst.problems)
        for position, item in enumerate(items, start=start + 1):
            record = self._record(item, lst)
            if isinstance(record, str):
                lst.problems.append(RowProblem(lst.name, record, position))
            else:
                lst.records.append(record)

    def _record(self, item: object, lst: FetchedList) -> ContactRecord | str:
        if isinstance(item, int) and not isinstance(item, bool):
            item = {"id": item}  # a bare id list is the furthest the schema has drifted so far
        if not isinstance(item, dict):
            return "not a user object"
        user_id = id_field(item, "id", "userId", "Id", "UserId")
        if not user_id or not user_id.isdigit():
            return "no user id"
        raw_name = text_field(item, "displayName", "DisplayName")
        return ContactRecord(
            platform=self.platform, kind=lst.kind, platform_id=user_id,
            username=normalise_username(text_field(item, "name", "username", "Username", "Name")),
            display_name=clean_display_name(raw_name), display_name_raw=raw_name,
            profile_url=f"https://www.roblox.com/users/{user_id}/profile", member=lst.name, layout=lst.layout,
        )

    # -- names for entries that came without them -----------------------------------------

    def _resolve_names(self, client: ApiClient, users_api: str, records: list[ContactRecord]) -> list[str]:
        missing = sorted({r.platform_id for r in records if r.platform_id and not r.username})
        if not missing:
            return []
        batches = [missing[i:i + NAMES_PER_CALL] for i in range(0, len(missing), NAMES_PER_CALL)]

        def lookup(ids: list[str]) -> list[Any]:
            response = client.request("POST", f"{users_api}/v1/users",
                                      json_body={"userIds": [int(x) for x in ids], "excludeBannedUsers": False})
            return _items(require_object(response.json(), "roblox", response, "a list of users")) or []

        try:
            found = [u for batch in client.map(lookup, batches) for u in batch]
        except NetworkError as exc:
            return [f"names of {len(missing)} account(s) could not be looked up ({exc.message}); kept by id"]
        names: dict[str, dict] = {}
        for user in found:
            if isinstance(user, dict) and id_field(user, "id", "userId"):
                names[id_field(user, "id", "userId")] = user  # type: ignore[index]
        for record in records:
            user = names.get(record.platform_id or "")
            if record.username or user is None:
                continue
            record.username = normalise_username(text_field(user, "name", "username"))
            if not record.display_name:
                record.display_name_raw = text_field(user, "displayName")
                record.display_name = clean_display_name(record.display_name_raw)
        unresolved = len({r.platform_id for r in records if not r.username})
        return [f"names of {unresolved} account(s) were not returned by the users API; kept by id"] if unresolved else []


def _items(body: dict) -> list | None:
    for key in ITEM_KEYS:
        value = body.get(key)
        if isinstance(value, list):
            return value
    return None
