"""Facebook "Download Your Information" (JSON; the HTML form is refused with a request for JSON).

Layout history (friends, requests, followers), from ../shared/research/formats.md §1:

| layout            | years     | members (wrapper key)                                                  |
|-------------------|-----------|------------------------------------------------------------------------|
| facebook-2018     | 2018–2019 | friends/friends.json (friends), friends/received_friend_requests.json   |
|                   |           | (received_requests), sent_friend_requests.json (sent_requests),        |
|                   |           | rejected_friend_requests.json (rejected_requests), removed_friends.json |
|                   |           | (deleted_friends), following_and_followers/following.json (following) |
| facebook-2020     | 2020–2021 | friends_and_followers/friends.json (friends_v2), friend_requests_received.json |
|                   |           | (received_requests_v2), friend_requests_sent.json (sent_requests_v2),  |
|                   |           | rejected_friend_requests.json, removed_friends.json (deleted_friends_v2), |
|                   |           | who_you_follow.json (following_v2), followers.json (followers_v2)      |
| facebook-2022     | 2022–now  | connections/friends/your_friends.json (friends_v2), received_friend_requests.json, |
|                   |           | sent_friend_requests.json, rejected_friend_requests.json, removed_friends.json, |
|                   |           | connections/followers/people_who_followed_you.json (followers_v3, names only), |
|                   |           | connections/followers/who_you've_followed.json (following_v3)          |

Records are ``{name, timestamp}`` (Unix seconds; followers_v3 has no timestamp); names carry
Meta's mojibake. Every wrapper-key generation is accepted in every file, since users rename
and move files and tools rewrite the apostrophe in ``who_you've_followed``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.connector import (
    Context,
    ExportConnector,
    Handler,
    Item,
    decode_text,
    load_json,
    looks_like_html,
    parse_html,
    sniff_json,
)
from auditor.errors import InputError
from auditor.records import ContactRecord, OwnerInfo
from auditor.registry import export_connectors
from auditor.text import clean_display_name, from_unix, repair_deep

# wrapper key -> connection kind, every generation
WRAPPERS = {
    "friends": "friend", "friends_v2": "friend",
    "received_requests": "request_received", "received_requests_v2": "request_received",
    "sent_requests": "request_sent", "sent_requests_v2": "request_sent",
    "rejected_requests": "rejected", "rejected_requests_v2": "rejected",
    "deleted_friends": "removed", "deleted_friends_v2": "removed",
    "followers": "follower", "followers_v2": "follower", "followers_v3": "follower",
    "following": "following", "following_v2": "following", "following_v3": "following",
}


_2022_FILES = re.compile(r"(?:your_friends|received_friend_requests|sent_friend_requests|people_who_followed_you|"
                        r"who_you.?ve_followed)\.json$", re.IGNORECASE)


def _layout(member: str, key: str) -> str:
    """The layout a list belongs to, from its wrapper key's generation and, for the ``_v2``
    keys that 2020 and 2022 share, from where the file sits or what it is called."""
    if key.endswith("_v3") or re.search(r"(?:^|/)connections/", member, re.IGNORECASE):
        return "facebook-2022"
    if not key.endswith("_v2"):
        return "facebook-2018"
    if re.search(r"(?:^|/)friends_and_followers/", member, re.IGNORECASE):
        return "facebook-2020"
    return "facebook-2022" if _2022_FILES.search(member) else "facebook-2020"


def _people(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    if not isinstance(doc, dict):
        raise InputError(f"{ctx.label}: {ctx.member} is not a Facebook list (expected an object)")
    keys = [k for k in doc if k in WRAPPERS]
    if not keys:  # a file Meta added beside the lists: report it, do not refuse the archive
        ctx.warn(f"none of Facebook's list keys ({', '.join(list(map(str, doc))[:3]) or 'empty'}); not read")
        return
    for key in keys:
        layout = _layout(ctx.member, key)
        entries = doc[key] or []
        if not isinstance(entries, list):
            yield ctx.problem(f"{key} is not a list")
            continue
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict):
                yield ctx.problem("entry is not an object", position)
                continue
            raw = entry.get("name")
            name = clean_display_name(raw) if isinstance(raw, str) else None
            if not name:
                yield ctx.problem("entry has no name", position)
                continue
            yield ContactRecord(
                platform="facebook", kind=WRAPPERS[key], display_name=name, display_name_raw=raw,
                connected_at=from_unix(entry.get("timestamp")), layout=layout,
                extra={"contact_info": entry["contact_info"]} if entry.get("contact_info") else None,
            )


def _is_facebook_list(data: bytes) -> bool:
    doc = sniff_json(data)
    return isinstance(doc, dict) and any(k in WRAPPERS for k in doc) and all(
        isinstance(v, list) or v is None for k, v in doc.items() if k in WRAPPERS
    ) and not any(k.startswith("relationships_") for k in doc)


def _profile(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    profile = doc.get("profile_v2") or doc.get("profile") if isinstance(doc, dict) else None
    if isinstance(profile, dict):
        name = profile.get("name")
        if isinstance(name, dict):
            name = name.get("full_name")
        yield OwnerInfo(platform="facebook", name=clean_display_name(name) if isinstance(name, str) else None,
                        username=profile.get("username") if isinstance(profile.get("username"), str) else None)


_HTML_TITLES = re.compile(r"friends|followers|following|who you follow|friend requests|people who follow", re.IGNORECASE)


def _sniff_html(data: bytes) -> bool:
    """A Facebook HTML list saved on its own: an HTML page whose title names a friends or
    followers list and that links to or names Facebook."""
    if not looks_like_html(data) or b"acebook" not in data[:200_000]:
        return False
    title = parse_html(decode_text(data[:200_000])).title or ""
    return _HTML_TITLES.search(title) is not None


def _refuse_html(data: bytes, ctx: Context) -> Iterator[Item]:
    raise InputError(
        f"{ctx.label}: this is Facebook's HTML export; auditor reads the JSON form",
        hint="download your information again and choose Format: JSON",
    )
    yield  # pragma: no cover


_LIST = r"[^/]+\.json"
HANDLERS = [
    Handler(r"connections/friends/" + _LIST, "facebook-2022", _people, group="lists", priority=1),
    Handler(r"connections/followers/" + _LIST, "facebook-2022", _people, group="lists", priority=1),
    Handler(r"friends_and_followers/" + _LIST, "facebook-2020", _people, group="lists", priority=1),
    Handler(r"friends/(?:friends|received_friend_requests|sent_friend_requests|rejected_friend_requests|removed_friends)\.json",
            "facebook-2018", _people, group="lists", priority=1),
    Handler(r"following_and_followers/(?:following|followers)\.json", "facebook-2018", _people,
            group="lists", priority=1),
    Handler(r"profile_information/profile_information\.json", "facebook-profile", _profile, people=False),
    Handler(r"(?:connections/friends|connections/followers|friends_and_followers|friends|following_and_followers)/"
            r"[^/]+\.html?", "facebook-html", _refuse_html, sniff=_sniff_html, group="lists", priority=0),
]


@export_connectors.register("facebook")
class Facebook(ExportConnector):
    platform = "facebook"
    title = "Facebook (Download Your Information, JSON)"
    layouts = {
        "facebook-2018": "2018–2019: friends/, following_and_followers/ (friends, received_requests, deleted_friends ...)",
        "facebook-2020": "2020–2021: friends_and_followers/ (friends_v2, received_requests_v2, following_v2 ...)",
        "facebook-2022": "2022–now: connections/friends/, connections/followers/ (friends_v2, followers_v3, following_v3)",
        "facebook-profile": "profile_information.json: the export's owner",
        "facebook-html": "HTML export: refused with a request for the JSON form",
    }
    handlers = [h for h in HANDLERS]
    ignored = [
        r"connections/friends/(?:people_you_may_know|suggested_friends|your_post_audiences)\.json",
        r"connections/friends/waving_emojis[^/]*\.json",
        r"(?:your_facebook_activity|logged_information|security_and_login_information|ads_information|"
        r"apps_and_websites_off_of_facebook|preferences|activity_messages|personal_information)/.+",
        r"[^/]+\.(?:jpg|jpeg|png|gif|mp4|webp|heic)",
    ]

    def handler_for(self, path: str) -> Handler | None:
        handler = super().handler_for(path)
        # people_you_may_know and friends of that kind live beside the lists but are suggestions
        if handler is not None and self.is_ignored(path) and handler.people:
            return None
        return handler

    def sniff(self, data: bytes) -> Handler | None:
        if _is_facebook_list(data):
            return HANDLERS[0]
        return HANDLERS[-1] if _sniff_html(data) else None
