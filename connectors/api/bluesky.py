"""Bluesky: followers and follows from the public AppView (no login).

Sources: the ``bluesky-social/atproto`` lexicons ``app.bsky.graph.getFollowers``,
``app.bsky.graph.getFollows``, ``app.bsky.actor.getProfile`` and ``app.bsky.actor.defs``;
../shared/research/formats.md §16.1.

Layout history (one layout so far):

| layout          | since | shape                                                                 |
|-----------------|-------|-----------------------------------------------------------------------|
| bluesky-appview | 2023  | ``GET /xrpc/app.bsky.graph.getFollowers?actor=&limit=1–100&cursor=``  |
|                 |       | → ``{subject: profileView, followers: [profileView], cursor?}``;      |
|                 |       | ``getFollows`` the same with ``follows``. The cursor is opaque: pass  |
|                 |       | it back unchanged, stop when it is absent (the last page may be       |
|                 |       | short or empty). ``profileView``: ``did`` (stable), ``handle``        |
|                 |       | (changeable; ``handle.invalid`` when it no longer verifies),          |
|                 |       | ``displayName``, ``description``, ``avatar``, ``labels``, …           |

``getProfile`` gives ``followersCount`` and ``followsCount`` (the progress total, and the
check for a partial list). An unknown, deactivated or taken-down actor is an HTTP 400 with an
``error`` token. The DID is the stable id kept as ``platform_id``; the handle and the display
name are kept as they are shown.
"""

from __future__ import annotations

import re
from typing import ClassVar

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
from auditor.errors import InputError
from auditor.http import ApiClient, HttpStatusError, MalformedResponse
from auditor.progress import Progress
from auditor.records import ContactRecord, OwnerInfo, RowProblem
from auditor.registry import api_connectors
from auditor.text import clean_display_name, normalise_username

PAGE_SIZE = 100  # the lexicon's maximum
LAYOUT = "bluesky-appview"
_HANDLE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]{1,2000}$")
INVALID_HANDLE = "handle.invalid"


@api_connectors.register("bluesky")
class Bluesky(ApiConnector):
    platform = "bluesky"
    title = "Bluesky (public AppView: followers and follows)"
    account_label = "HANDLE"
    default_api_url = "https://public.api.bsky.app"
    lists: ClassVar[dict[str, str]] = {"followers": "follower", "follows": "following"}

    def parse_account(self, account: str) -> str:
        text = account.strip()
        for prefix in ("https://bsky.app/profile/", "http://bsky.app/profile/", "bsky.app/profile/"):
            if text.lower().startswith(prefix):
                text = text[len(prefix):].split("/")[0]
        text = text.lstrip("@")
        if _DID.match(text):
            return text
        if _HANDLE.match(text.lower()):
            return text.lower()
        raise InputError("bluesky: give a handle such as name.bsky.social, or a DID such as did:plc:…")

    def fetch(self, client: ApiClient, account: str, progress: Progress) -> FetchResult:
        profile = self._profile(client, account)
        did = id_field(profile, "did")
        if not did:
            raise MalformedResponse("bluesky: the profile answer has no DID", hint="the API may have changed")
        handle = text_field(profile, "handle")
        owner = OwnerInfo(platform=self.platform, name=clean_display_name(text_field(profile, "displayName")),
                          username=_username(handle), platform_id=did)
        specs = [
            FetchedList("follower", "followers", client.url("/xrpc/app.bsky.graph.getFollowers") + f"?actor={did}",
                        LAYOUT, expected=count_field(profile, "followersCount")),
            FetchedList("following", "follows", client.url("/xrpc/app.bsky.graph.getFollows") + f"?actor={did}",
                        LAYOUT, expected=count_field(profile, "followsCount")),
        ]
        read_lists(client, specs, "fetching Bluesky followers and follows", progress,
                   lambda lst: self._read_list(client, did, lst, progress))
        for lst in specs:
            lst.check_count("the AppView lists fewer accounts than it counts")
        return FetchResult(platform=self.platform, api_url=client.base_url or "",
                           account_url=client.url("/xrpc/app.bsky.actor.getProfile") + f"?actor={did}",
                           owner=owner, lists=specs)

    def _profile(self, client: ApiClient, actor: str) -> dict:
        try:
            response = client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": actor})
        except HttpStatusError as exc:
            if exc.status in (400, 404):
                reason = f" ({exc.detail})" if exc.detail else ""
                raise InputError(f"bluesky: the AppView has no public account for that handle or DID{reason}") from None
            raise
        return require_object(response.json(), "bluesky", response, "a profile")

    def _read_list(self, client: ApiClient, did: str, lst: FetchedList, progress: Progress) -> None:
        path = "/xrpc/app.bsky.graph.getFollowers" if lst.name == "followers" else "/xrpc/app.bsky.graph.getFollows"
        position = 0
        for page, (response, body) in enumerate(
            cursor_pages(client, path, {"actor": did, "limit": PAGE_SIZE},
                         lambda b: b.get("cursor") if isinstance(b.get("cursor"), str) else None,
                         what=f"a page of {lst.name}"), start=1):
            items = body.get(lst.name)
            if not isinstance(items, list):
                raise MalformedResponse(f"bluesky: {response.where} page {page} has no '{lst.name}' list",
                                        hint="the API may have changed")
            lst.add_page(response)
            for item in items:
                position += 1
                record = self._record(item, lst.kind)
                if isinstance(record, str):
                    lst.problems.append(RowProblem(lst.name, record, position))
                else:
                    lst.records.append(record)
            progress.advance(len(items))

    def _record(self, item: object, kind: str) -> ContactRecord | str:
        if not isinstance(item, dict):
            return "not an account object"
        did = id_field(item, "did")
        if not did:
            return "no DID"
        handle = text_field(item, "handle")
        raw_name = text_field(item, "displayName")
        return ContactRecord(
            platform=self.platform, kind=kind, platform_id=did, username=_username(handle),
            display_name=clean_display_name(raw_name), display_name_raw=raw_name,
            profile_url=f"https://bsky.app/profile/{did}", member=kind_member(kind), layout=LAYOUT,
        )


def _username(handle: str | None) -> str | None:
    if not handle or handle.strip().lower() == INVALID_HANDLE:
        return None
    return normalise_username(handle)


def kind_member(kind: str) -> str:
    return "app.bsky.graph.getFollowers" if kind == "follower" else "app.bsky.graph.getFollows"
