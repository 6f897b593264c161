"""Instagram (Meta "Download your information", JSON or HTML), with Threads, which lives inside it.

Layout history, from ../shared/research/formats.md §2–3 and the real-structures corpus:

| layout            | years     | members                                                                 |
|-------------------|-----------|-------------------------------------------------------------------------|
| instagram-2018    | 2018–2020 | connections.json at the root: username → ISO date maps for followers,    |
|                   |           | following, close_friends, follow_requests_sent, blocked_users ...       |
| instagram-2020    | 2020–2022 | followers_and_following/followers.json = {relationships_followers: [...]}|
| instagram-2023    | 2023–now  | [connections/]followers_and_following/followers_1.json … _N (bare list),|
|                   |           | following.json (relationships_following), close_friends.json,           |
|                   |           | follow_requests_you've_received.json, pending_follow_requests.json,     |
|                   |           | recent_follow_requests.json, recently_unfollowed_profiles.json,         |
|                   |           | blocked_profiles.json, restricted_profiles.json, removed_suggestions,   |
|                   |           | profiles_you've_favorited, hide_story_from                              |
| instagram-2025    | late 2025 | as 2023, but entries put the username in ``title``, no ``value``, and   |
|                   |           | ``href`` is https://www.instagram.com/_u/<username> (set per entry)      |
| instagram-html    | any       | the same files as .html: one link per account (href to the profile,     |
|                   |           | username as text or in a heading before it) and a date after it; read   |
|                   |           | by structure, never by class name, and only when no JSON list is present |
| threads           | 2023–now  | your_instagram_activity/threads/*.json (text_post_app_text_post_app_*);  |
|                   |           | ``title`` is the display name, ``value`` the username                   |

Entries: ``{title, media_list_data, string_list_data: [{href, value, timestamp}]}``; Meta
mojibake in ``title`` is repaired. Kinds: followers → follower, following → following,
close_friends → close_friend, follow_requests_received → request_received,
follow_requests_sent and permanent_follow_requests → request_sent, unfollowed_users → removed,
blocked_users → blocked, restricted_users → restricted. Lists of people that are not
connections keep their meaning in ``extra.list``: dismissed suggestions → rejected, feed
favourites → close_friend (chosen by the member of staff), hide-story-from → restricted.
Hashtags are not people and are not rows. The layout is told per member (bare list or
``connections/`` → 2023, a wrapped followers.json without it → 2020) and per entry (2025).
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
from auditor.text import (
    clean_display_name,
    from_unix,
    normalise_email,
    normalise_phone,
    normalise_username,
    parse_datetime,
    repair_deep,
    username_from_url,
)

# wrapper key (after removing "relationships_" or the Threads prefix) -> (kind, extra list name)
KEYS: dict[str, tuple[str, str | None] | None] = {
    "followers": ("follower", None), "following": ("following", None),
    "close_friends": ("close_friend", None),
    "follow_requests_received": ("request_received", None),
    "follow_requests_sent": ("request_sent", None),
    "permanent_follow_requests": ("request_sent", "recent_follow_requests"),
    "unfollowed_users": ("removed", None),
    "blocked_users": ("blocked", None), "restricted_users": ("restricted", None),
    "dismissed_suggested_users": ("rejected", "dismissed_suggestion"),
    "feed_favorites": ("close_friend", "favourites"),
    "hide_stories_from": ("restricted", "hide_story_from"),
    "following_hashtags": None,
}
# file name (without .json/.html and _N) -> wrapper key, for bare lists and HTML pages
FILES = {
    "followers": "followers", "following": "following", "close_friends": "close_friends",
    "follow_requests_you've_received": "follow_requests_received",
    "follow_requests_you_ve_received": "follow_requests_received",
    "pending_follow_requests": "follow_requests_sent",
    "recent_follow_requests": "permanent_follow_requests",
    "recently_unfollowed_profiles": "unfollowed_users", "recently_unfollowed_accounts": "unfollowed_users",
    "blocked_profiles": "blocked_users", "blocked_accounts": "blocked_users",
    "restricted_profiles": "restricted_users", "restricted_accounts": "restricted_users",
    "removed_suggestions": "dismissed_suggested_users",
    "profiles_you've_favorited": "feed_favorites", "profiles_you_ve_favorited": "feed_favorites",
    "hide_story_from": "hide_stories_from", "following_hashtags": "following_hashtags",
}
OLD_KEYS = {  # 2018 connections.json
    "followers": "follower", "following": "following", "close_friends": "close_friend",
    "follow_requests_sent": "request_sent", "blocked_users": "blocked",
    "restricted_users": "restricted",
}
THREADS_PREFIX = "text_post_app_text_post_app_"
_FILE_NAMES = "|".join(re.escape(n) for n in FILES)
HTML_DATES = ("%b %d, %Y %I:%M %p", "%b %d, %Y, %I:%M %p", "%d %b %Y, %H:%M", "%d %b %Y %H:%M", "%B %d, %Y %I:%M %p")
_RESERVED = {"accounts", "explore", "p", "reel", "reels", "stories", "direct", "about", "legal", "developer",
             "privacy", "help", "web", "tv", "challenge", "download"}


def _file_key(member: str) -> str | None:
    name = member.rsplit("/", 1)[-1].lower()
    name = re.sub(r"(?:_\d+)?\.(?:json|html?)$", "", name)
    return FILES.get(name)


def _entry(entry: dict, platform: str) -> ContactRecord | None:
    title = entry.get("title") if isinstance(entry.get("title"), str) else ""
    items = entry.get("string_list_data") or [{}]
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    href = first.get("href") if isinstance(first.get("href"), str) else None
    value = first.get("value") if isinstance(first.get("value"), str) else None
    if platform == "threads":
        username = normalise_username(value) or username_from_url(href)
        display = clean_display_name(title) if title else None
    else:  # Instagram's title holds the username (2025) or is empty
        username = normalise_username(value) or normalise_username(title) or username_from_url(href)
        display = None
    if not username and not display:
        return None
    return ContactRecord(platform=platform, kind="follower", username=username, display_name=display,
                         display_name_raw=title or None, profile_url=href,
                         connected_at=from_unix(first.get("timestamp")))


def _member_layout(member: str, bare: bool) -> str:
    """2023 for a bare list, a numbered part or a file under ``connections/``; 2020 for a
    wrapped list in a root ``followers_and_following/`` (an early-2023 following.json looks
    the same and is labelled 2020)."""
    if bare or re.search(r"(?:^|/)connections/", member, re.IGNORECASE) or re.search(r"_\d+\.json$", member):
        return "instagram-2023"
    return "instagram-2020"


def _lists(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    threads_path = re.search(r"(?:^|/)threads/", ctx.member, re.IGNORECASE) is not None
    if isinstance(doc, list):  # followers_1.json is a bare list; its name says which list
        key = _file_key(ctx.member) or "followers"
        blocks = [((THREADS_PREFIX if threads_path else "") + key, doc)]
        bare = True
    elif isinstance(doc, dict):
        blocks, bare = list(doc.items()), False
    else:
        raise InputError(f"{ctx.label}: {ctx.member} is not an Instagram list")
    found = False
    for key, entries in blocks:
        platform, name = "instagram", key
        if name.startswith(THREADS_PREFIX):
            platform, name = "threads", name[len(THREADS_PREFIX):]
        elif name.startswith("relationships_"):
            name = name[len("relationships_"):]
        if name not in KEYS:
            continue
        found = True
        meaning = KEYS[name]
        if meaning is None or entries is None:
            continue
        kind, list_name = meaning
        if not isinstance(entries, list):
            yield ctx.problem(f"{key} is not a list")
            continue
        layout = "threads" if platform == "threads" else _member_layout(ctx.member, bare)
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict):
                yield ctx.problem("entry is not an object", position)
                continue
            record = _entry(entry, platform)
            if record is None:
                yield ctx.problem("entry has no username", position)
                continue
            record.kind = kind
            if list_name:
                record.extra = {"list": list_name}
            if platform == "threads":
                record.layout = "threads"
            else:
                sld = entry.get("string_list_data")
                first = sld[0] if isinstance(sld, list) and sld and isinstance(sld[0], dict) else {}
                record.layout = "instagram-2025" if not first.get("value") and entry.get("title") else layout
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
                layout="instagram-2018",
            )


# -- HTML -------------------------------------------------------------------------------------------
def _profile_handle(href: str) -> tuple[str, str] | None:
    """(platform, username) for a link to an Instagram or Threads profile, else None."""
    match = re.match(r"^https?://(?:www\.)?(instagram\.com|threads\.net|threads\.com)/(.*)$", href.strip(), re.IGNORECASE)
    if match is None:
        return None
    parts = [p for p in match.group(2).split("?")[0].split("#")[0].split("/") if p]
    if parts and parts[0] == "_u":
        parts = parts[1:]
    if len(parts) != 1 or parts[0].lower() in _RESERVED:
        return None
    handle = normalise_username(parts[0])
    if not handle:
        return None
    return ("instagram" if "instagram" in match.group(1).lower() else "threads"), handle


def _html_kind(ctx: Context, title: str | None) -> tuple[str, str | None] | None:
    key = _file_key(ctx.member)
    if key is None and title:
        key = FILES.get(re.sub(r"[^a-z_']", "", title.lower().replace(" ", "_")))
    return KEYS.get(key) if key else None


def _html_lists(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = parse_html(decode_text(data, ctx))
    meaning = _html_kind(ctx, doc.title)
    if meaning is None:
        if _file_key(ctx.member) == "following_hashtags":
            return
        raise InputError(f"{ctx.label}: {ctx.member}: cannot tell which Instagram list this page is")
    kind, list_name = meaning
    threads_path = re.search(r"(?:^|/)threads/", ctx.member, re.IGNORECASE) is not None
    seen = 0
    for link in doc.links:
        target = _profile_handle(link["href"])
        if target is None:
            continue
        platform, handle = target
        if threads_path:
            platform = "threads"
        seen += 1
        when = None
        for text in doc.texts[link["text_index"] + 1: link["text_index"] + 4]:
            when = parse_datetime(text, HTML_DATES)
            if when:
                break
        display = None
        if platform == "threads" and link["heading"] and normalise_username(link["heading"]) != handle:
            display = clean_display_name(link["heading"])
        record = ContactRecord(platform=platform, kind=kind, username=handle, display_name=display,
                               display_name_raw=link["heading"] if display else None, profile_url=link["href"].strip(),
                               connected_at=when, layout="threads" if platform == "threads" else "instagram-html")
        if list_name:
            record.extra = {"list": list_name}
        yield record
    if not seen and doc.texts and not any("no " in t.lower() for t in doc.texts[:20]):
        ctx.warn("page lists no Instagram profiles")


def _sniff_lists(data: bytes) -> bool:
    doc = sniff_json(data)
    if isinstance(doc, list):
        return bool(doc) and isinstance(doc[0], dict) and "string_list_data" in doc[0]
    if isinstance(doc, dict):
        return any(isinstance(k, str) and k.startswith(("relationships_", THREADS_PREFIX)) for k in doc)
    return False


def _sniff_2018(data: bytes) -> bool:
    doc = sniff_json(data)
    return isinstance(doc, dict) and ("followers" in doc or "following" in doc) and all(
        isinstance(doc.get(k), dict) for k in ("followers", "following") if k in doc)


def _sniff_html(data: bytes) -> bool:
    if not looks_like_html(data) or b"instagram.com/" not in data:
        return False
    doc = parse_html(decode_text(data))
    return doc.title is not None and FILES.get(re.sub(r"[^a-z_']", "", doc.title.lower().replace(" ", "_"))) is not None


def _owner(data: bytes, ctx: Context) -> Iterator[Item]:
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    rows = doc.get("profile_user") if isinstance(doc, dict) else None
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        smd = rows[0].get("string_map_data") or {}
        username = (smd.get("Username") or {}).get("value")
        name = (smd.get("Name") or {}).get("value")
        yield OwnerInfo(platform="instagram", name=clean_display_name(name) if name else None,
                        username=normalise_username(username))


def _synced_contacts(data: bytes, ctx: Context) -> Iterator[Item]:
    """Phone contacts synced to Instagram (``contacts_contact_info``); labels are localised, so
    the name parts are found by the English labels and the rest by what they hold."""
    doc = repair_deep(load_json(data, ctx, f"{ctx.label}: {ctx.member}"))
    entries = doc.get("contacts_contact_info") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{ctx.label}: {ctx.member} has no contacts_contact_info list")
    for position, entry in enumerate(entries):
        smd = entry.get("string_map_data") if isinstance(entry, dict) else None
        if not isinstance(smd, dict):
            yield ctx.problem("entry is not a contact", position)
            continue
        values = {k.lower(): (v.get("value") or "") for k, v in smd.items() if isinstance(v, dict)}
        raw = " ".join(p.strip() for p in (values.get("first name", ""), values.get("surname") or values.get("last name", ""))
                       if p.strip())
        info = values.get("contact information", "")
        phones = [p for p in [normalise_phone(info)] if p] if "@" not in info else []
        emails = [e for e in [normalise_email(info)] if e]
        if not (raw or phones or emails):
            yield ctx.problem("contact has no name, phone or e-mail", position)
            continue
        yield ContactRecord(platform="instagram", kind="contact", display_name=clean_display_name(raw),
                            display_name_raw=raw or None, phones=phones, emails=emails, layout="instagram-contacts")


_LIST_FILE = r"(?:" + _FILE_NAMES + r")(?:_\d+)?"
HANDLERS = [
    Handler(r"your_instagram_activity/threads/[^/]+\.json", "threads", _lists, group="lists", priority=1),
    Handler(r"followers_and_following/" + _LIST_FILE + r"\.json", "instagram-2023", _lists, sniff=_sniff_lists,
            group="lists", priority=1),
    Handler(r"connections\.json", "instagram-2018", _connections_2018, sniff=_sniff_2018, group="lists", priority=1),
    Handler(r"your_instagram_activity/threads/[^/]+\.html?", "threads", _html_lists, group="lists", priority=0),
    Handler(r"followers_and_following/" + _LIST_FILE + r"\.html?", "instagram-html", _html_lists, sniff=_sniff_html,
            group="lists", priority=0),
    Handler(r"personal_information/personal_information\.json", "instagram-profile", _owner, people=False),
    Handler(r"contacts/synced_contacts\.json", "instagram-contacts", _synced_contacts),
]


@export_connectors.register("instagram")
class Instagram(ExportConnector):
    platform = "instagram"
    title = "Instagram and Threads (Download your information, JSON or HTML)"
    layouts = {
        "instagram-2018": "2018–2020: connections.json (username → date maps)",
        "instagram-2020": "2020–2022: followers_and_following/followers.json (relationships_followers)",
        "instagram-2023": "2023–now: [connections/]followers_and_following/followers_N.json (bare list), following.json ...",
        "instagram-2025": "late 2025: username in title, href https://www.instagram.com/_u/<username>",
        "instagram-html": "HTML download: the same lists as pages of profile links (read when no JSON is present)",
        "threads": "Threads inside the Instagram archive: your_instagram_activity/threads/*",
        "instagram-profile": "personal_information.json: the export's owner",
        "instagram-contacts": "connections/contacts/synced_contacts.json: phone contacts synced to Instagram",
    }
    handlers = HANDLERS
    ignored = [
        r"(?:media|ads_information|apps_and_websites|apps_and_websites_off_of_instagram|your_instagram_activity/(?!threads)|"
        r"logged_information|preferences|security_and_login_information|personal_information|"
        r"information_about_you|files)/.+",
        r"start_here\.html?|index\.html?",
        r"[^/]+\.(?:jpg|jpeg|png|gif|mp4|webp|heic|srt)",
    ]
