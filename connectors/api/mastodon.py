"""Mastodon: followers and following from the account's home server (public since 4.0).

Sources: ``mastodon/documentation`` ``content/en/methods/accounts.md`` and
``content/en/api/rate-limits.md``; ../shared/research/formats.md §13 and §16.2.

Layout history:

| layout      | since | shape                                                                     |
|-------------|-------|---------------------------------------------------------------------------|
| mastodon-v1 | 4.0   | ``GET /api/v1/accounts/lookup?acct=USER`` → Account (``id``, ``acct``,    |
|             |       | ``display_name``, ``url``, ``followers_count``, ``following_count``, …);  |
|             |       | ``GET /api/v1/accounts/:id/followers`` and ``…/following`` with           |
|             |       | ``limit`` ≤ 80 → ``[Account]``, paged only by the ``Link`` header's       |
|             |       | ``rel="next"`` (a ``max_id`` URL), followed until absent.                 |
|             |       | Before 4.0 these lists needed an app token (not supported here).          |

Quirks handled:

- ``lookup`` does no WebFinger, so the address's server is asked (``USER@SERVER`` →
  ``https://SERVER``), unless ``--api-url`` says otherwise.
- An account that hides its network gets ``[]`` with status 200 for a non-zero count: stored
  as a warning ("hidden network"), never as "no connections".
- A server lists only the remote accounts it federates with: fewer than the count is a
  partial list (a warning).
- ``acct`` is ``user`` for the server's own accounts and ``user@domain`` for others; local
  ones are stored as ``user@SERVER`` so one account reads the same from every source
  (the CSV export writes them that way too).
- ``id`` is the account's id on the server asked, kept as ``platform_id``; ``url`` (the
  profile on the account's own server) is the profile URL.
- 401 "This API requires an authenticated user" (limited federation mode), 404 (unknown),
  410 (suspended) end the command with one line. ``X-RateLimit-*`` (300 calls per 5 minutes
  by default) are honoured by the shared client.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

from auditor.connectors.api.base import (
    ApiConnector,
    FetchedList,
    FetchResult,
    checked_api_url,
    count_field,
    id_field,
    link_pages,
    read_lists,
    require_object,
    text_field,
)
from auditor.errors import InputError, NetworkError
from auditor.http import ApiClient, HttpStatusError, MalformedResponse
from auditor.progress import Progress
from auditor.records import ContactRecord, OwnerInfo, RowProblem
from auditor.registry import api_connectors
from auditor.text import clean_display_name

PAGE_SIZE = 80  # the documented maximum
LAYOUT = "mastodon-v1"
_USER = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}(:\d{1,5})?$")


@api_connectors.register("mastodon")
class Mastodon(ApiConnector):
    platform = "mastodon"
    title = "Mastodon (home server API: followers and following)"
    account_label = "USER@SERVER"
    lists: ClassVar[dict[str, str]] = {"followers": "follower", "following": "following"}

    def parse_account(self, account: str) -> str:
        """``user@server`` (also ``@user@server`` or ``https://server/@user``), lower-cased server."""
        text = account.strip()
        if "://" in text:
            parts = urlsplit(text)
            path = parts.path.strip("/")
            if parts.hostname and path.startswith("@") and "/" not in path:
                text = f"{path}@{parts.hostname}"
        text = text.lstrip("@")
        user, _, server = text.rpartition("@")
        server = server.lower()
        if not user or not _USER.match(user) or not _DOMAIN.match(server):
            raise InputError("mastodon: give the account's address as USER@SERVER, e.g. name@mastodon.social")
        return f"{user}@{server}"

    def api_url(self, account: str, override: str | None) -> str:
        return checked_api_url(self.platform, override or f"https://{account.rpartition('@')[2]}")

    def fetch(self, client: ApiClient, account: str, progress: Progress) -> FetchResult:
        user, _, server = account.rpartition("@")
        profile = self._lookup(client, user, server)
        account_id = id_field(profile, "id")
        if not account_id:
            raise MalformedResponse("mastodon: the account lookup answer has no id", hint="the API may have changed")
        owner = OwnerInfo(platform=self.platform, name=clean_display_name(text_field(profile, "display_name")),
                          username=_address(text_field(profile, "acct") or user, server), platform_id=account_id)
        specs = [
            FetchedList("follower", "followers", client.url(f"/api/v1/accounts/{account_id}/followers"), LAYOUT,
                        expected=count_field(profile, "followers_count")),
            FetchedList("following", "following", client.url(f"/api/v1/accounts/{account_id}/following"), LAYOUT,
                        expected=count_field(profile, "following_count")),
        ]
        read_lists(client, specs, "fetching Mastodon followers and following", progress,
                   lambda lst: self._read_list(client, lst, server, progress))
        for lst in specs:
            lst.check_count("the account hides its network; ask the member of staff for the list",
                            "the server lists only the remote accounts it knows")
        return FetchResult(platform=self.platform, api_url=client.base_url or "",
                           account_url=client.url(f"/api/v1/accounts/{account_id}"), owner=owner, lists=specs)

    def _lookup(self, client: ApiClient, user: str, server: str) -> dict:
        try:
            response = client.get("/api/v1/accounts/lookup", params={"acct": user})
        except HttpStatusError as exc:
            if exc.status == 404:
                raise InputError(f"mastodon: {server} has no account with that address",
                                 hint="check the spelling, and that SERVER is the account's home server") from None
            if exc.status == 410:
                raise InputError(f"mastodon: the account on {server} is suspended or gone") from None
            if exc.status == 401:
                raise NetworkError(f"mastodon: {server} allows its API only to logged-in users",
                                   hint="ask the member of staff for an export instead") from None
            raise
        return require_object(response.json(), "mastodon", response, "an account")

    def _read_list(self, client: ApiClient, lst: FetchedList, server: str, progress: Progress) -> None:
        position = 0
        for page, (response, body) in enumerate(link_pages(client, lst.url, {"limit": PAGE_SIZE}), start=1):
            if not isinstance(body, list):
                raise MalformedResponse(f"mastodon: {response.where} page {page} is not a list of accounts",
                                        hint="the API may have changed")
            lst.add_page(response)
            if not body:
                break  # an empty page ends the list even if a next link is offered
            for item in body:
                position += 1
                record = self._record(item, lst, server)
                if isinstance(record, str):
                    lst.problems.append(RowProblem(lst.name, record, position))
                else:
                    lst.records.append(record)
            progress.advance(len(body))

    def _record(self, item: object, lst: FetchedList, server: str) -> ContactRecord | str:
        if not isinstance(item, dict):
            return "not an account object"
        account_id = id_field(item, "id")
        acct = text_field(item, "acct", "username")
        if not account_id and not acct:
            return "no id and no address"
        raw_name = text_field(item, "display_name")
        return ContactRecord(
            platform=self.platform, kind=lst.kind, platform_id=account_id,
            username=_address(acct, server) if acct else None,
            display_name=clean_display_name(raw_name), display_name_raw=raw_name,
            profile_url=text_field(item, "url"), member=f"api/v1/accounts/:id/{lst.name}", layout=LAYOUT,
        )


def _address(acct: str, server: str) -> str:
    """``user@domain`` in lower case: a local ``acct`` gets the home server's domain."""
    text = acct.strip().lstrip("@").lower()
    return text if "@" in text else f"{text}@{server}"
