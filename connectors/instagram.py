"""Instagram (Meta "Download your information", JSON), with Threads, which lives inside it.

Layout history, from ../shared/research/formats.md §2–3:

| layout            | years     | members                                                                 |
|-------------------|-----------|-------------------------------------------------------------------------|
| instagram-2018    | 2018–2020 | connections.json at the root: username → ISO date maps for followers,    |
|                   |           | following, close_friends, follow_requests_sent, blocked_users ...       |
| instagram-2020    | 2020–2022 | followers_and_following/followers.json (relationships_followers) ...     |
| instagram-2023    | 2023–now  | [connections/]followers_and_following/followers_1.json … _N (bare list),|
|                   |           | following.json (relationships_following), close_friends.json, ...       |
| instagram-2025    | late 2025 | as 2023, but entries put the username in ``title``, no ``value``, and   |
|                   |           | ``href`` is https://www.instagram.com/_u/<username>                     |
| threads           | 2023–now  | your_instagram_activity/threads/*.json (text_post_app_text_post_app_*);  |
|                   |           | ``title`` is the display name, ``value`` the username                   |

Entries: ``{title, media_list_data, string_list_data: [{href, value, timestamp}]}``; Meta
mojibake in ``title``.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.connector import Context, ExportConnector, Handler, Item, load_json, sniff_json
from auditor.errors import InputError
from auditor.records import ContactRecord, OwnerInfo
from auditor.registry import export_connectors
from auditor.text import (
    clean_display_name,
    from_unix,
    normalise_username,
    parse_datetime,
    repair_deep,
    username_from_url,
)

# wrapper key (after removing the "relationships_" or Threads prefix) -> kind; None = not people
KEYS = {
    "followers": "follower", "following": "following", "close_friends": "close_friend",
    "follow_requests_received": "request_received", "follow_requests_sent": "request_sent",
    "permanent_follow_requests": "request_sent", "unfollowed_users": "removed",
    "blocked_users": "blocked", "restricted_users": "restricted",
    "dismissed_suggested_users": None, "feed_favorites": None, "hide_stories_from": None,
    "following_hashtags": None,
}
OLD_KEYS = {  # 2018 connections.json
    "followers": "follower", "following": "following", "close_friends": "close_friend",
    "follow_requests_sent": "request_sent", "blocked_users": "blocked",
    "restricted_users": "restricted",
}
THREADS_PREFIX = "text_post_app_text_post_app_"


def _entry(entry: dict, platform: str, kind: str, ctx: Context, position: int) -> ContactRecord | None:
    title = entry.get("title") if isinstance(entry.get("title"), str) else ""
    items = entry.get("string_list_data") or [{}]
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    href = first.get("href") if isinstance(first.get("href"), str) else None
    value = first.get("value") if isinstance(first.get("value"), str) else None
    username = normalise_username(value) or (normalise_username(title) if platform == "instagram" else None) \
        or username_from_url(href)
    if platform == "threads":
        display = clean_display_name(title) if title else None
    else:
        display = None  # Instagram's title holds the username (2025) or is empty
    if not username and not display:
        return None
    return ContactRecord(platform=platform, kind=kind, username=username, display_name=display,
                         display_name_raw=title or None, profile_url=href,
                         connected_at=from_unix(first.get("timestamp")))


def _lists(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    if isinstance(doc, list):  # followers_1.json is a bare list
        blocks = [("followers", doc)]
    elif isinstance(doc, dict):
        blocks = list(doc.items())
    else:
        raise InputError(f"{ctx.label}: {ctx.member} is not an Instagram list")
    found = False
    for key, entries in blocks:
        platform = "instagram"
        name = key
        if name.startswith(THREADS_PREFIX):
            platform, name = "threads", name[len(THREADS_PREFIX):]
        elif name.startswith("relationships_"):
            name = name[len("relationships_"):]
        if name not in KEYS:
            continue
        found = True
        kind = KEYS[name]
        if kind is None or entries is None:
            continue
        if not isinstance(entries, list):
            yield ctx.problem(f"{key} is not a list")
            continue
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict):
                yield ctx.problem("entry is not an object", position)
                continue
            record = _entry(entry, platform, kind, ctx, position)
            if record is None:
                yield ctx.problem("entry has no username", position)
            else:
                if platform == "threads":
                    record.layout = "threads"
                elif not (entry.get("string_list_data") or [{}])[0].get("value"):
                    record.layout = "instagram-2025"
                yield record
    if not found:
        raise InputError(f"{ctx.label}: {ctx.member} has none of Instagram's list keys")


def _connections_2018(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    if not isinstance(doc, dict):
        raise InputError(f"{ctx.label}: {ctx.member} is not Instagram's connections.json")
    for key, kind in OLD_KEYS.items():
        block = doc.get(key)
        if not isinstance(block, dict):
            continue
        for position, (username, when) in enumerate(block.items()):
            handle = normalise_username(username)
            if not handle:
                yield ctx.problem("entry has no username", position)
                continue
            yield ContactRecord(
                platform="instagram", kind=kind, username=handle,
                profile_url=f"https://www.instagram.com/{handle}",
                connected_at=parse_datetime(when, ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")),
            )


def _sniff_lists(data: bytes) -> bool:
    doc = sniff_json(data)
    if isinstance(doc, list):
        return bool(doc) and isinstance(doc[0], dict) and "string_list_data" in doc[0]
    if isinstance(doc, dict):
        return any(k.startswith(("relationships_", THREADS_PREFIX)) for k in doc)
    return False


def _sniff_2018(data: bytes) -> bool:
    doc = sniff_json(data)
    return isinstance(doc, dict) and ("followers" in doc or "following" in doc) and all(
        isinstance(doc.get(k), dict) for k in ("followers", "following") if k in doc)


def _owner(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    rows = doc.get("profile_user") if isinstance(doc, dict) else None
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        smd = rows[0].get("string_map_data") or {}
        username = (smd.get("Username") or {}).get("value")
        name = (smd.get("Name") or {}).get("value")
        yield OwnerInfo(platform="instagram", name=clean_display_name(name) if name else None,
                        username=normalise_username(username))


HANDLERS = [
    Handler(r"your_instagram_activity/threads/[^/]+\.json", "threads", _lists),
    Handler(r"followers_and_following/(?:followers(?:_\d+)?|following|close_friends|follow_requests_you've_received|"
            r"follow_requests_you_ve_received|pending_follow_requests|recent_follow_requests|recently_unfollowed_profiles|"
            r"recently_unfollowed_accounts|blocked_profiles|blocked_accounts|restricted_profiles|restricted_accounts)\.json",
            "instagram-2023", _lists, sniff=_sniff_lists),
    Handler(r"connections\.json", "instagram-2018", _connections_2018, sniff=_sniff_2018),
    Handler(r"personal_information/personal_information\.json", "instagram-profile", _owner, people=False),
]


@export_connectors.register("instagram")
class Instagram(ExportConnector):
    platform = "instagram"
    title = "Instagram and Threads (Download your information, JSON)"
    layouts = {
        "instagram-2018": "2018–2020: connections.json (username → date maps)",
        "instagram-2020": "2020–2022: followers_and_following/followers.json (relationships_followers)",
        "instagram-2023": "2023–now: [connections/]followers_and_following/followers_N.json (bare list), following.json ...",
        "instagram-2025": "late 2025: username in title, href https://www.instagram.com/_u/<username>",
        "threads": "Threads inside the Instagram archive: your_instagram_activity/threads/*.json",
        "instagram-profile": "personal_information.json: the export's owner",
    }
    handlers = HANDLERS
    ignored = [
        r"followers_and_following/(?:removed_suggestions|profiles_you've_favorited|hide_story_from|following_hashtags)\.json",
        r"(?:media|ads_information|apps_and_websites|your_instagram_activity/(?!threads)|logged_information|"
        r"preferences|security_and_login_information)/.+",
        r"[^/]+\.(?:jpg|jpeg|png|gif|mp4|webp|heic)",
    ]
