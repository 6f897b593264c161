"""The Jinja2 environment the HTML writers share: templates from this package, autoescape on
for everything, and the filters that make untrusted text safe
(``show``) and dates and numbers English (``ukdate``, ``num``).

Words used in every report live here too, so the DSL's report, the letters and the governor
summary describe a role or a status the same way.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from jinja2 import Environment, PackageLoader

from auditor.reports.display import plain, show

SEVERITY_ORDER = ("breach", "report", "advisory")
STATUS_ORDER = ("needs_review", "probable", "confirmed", "dismissed", "excepted")
STATUS_WORDS = {
    "needs_review": "needs review", "probable": "probable match", "confirmed": "confirmed by the DSL",
    "dismissed": "dismissed (not this person)", "excepted": "excepted",
}
ROLE_WORDS = {
    "pupil": "current pupil", "past_pupil": "past pupil", "future_pupil": "pupil joining the school",
    "parent_carer": "parent or carer of a pupil", "staff": "member of staff",
}
RELATIONSHIP_WORDS = {
    "friend": "friends", "mutual": "follow each other", "follower": "follows the member of staff",
    "following": "followed by the member of staff", "request_sent": "request sent by the member of staff",
    "request_received": "request received", "contact": "in phone contacts", "connection": "connected",
    "close_friend": "on the close-friends list", "subscription": "subscribed to",
    "removed": "removed", "blocked": "blocked", "muted": "muted", "restricted": "restricted", "rejected": "turned down",
}
YOUR_RELATIONSHIP_WORDS = {
    "friend": "you are friends", "mutual": "you follow each other", "follower": "they follow you",
    "following": "you follow them", "request_sent": "you sent them a request",
    "request_received": "they sent you a request", "contact": "they are in your phone contacts",
    "connection": "you are connected", "close_friend": "they are on your close-friends list",
    "subscription": "you subscribe to them",
}


def ukdate(value: object) -> str:
    """1 November 2026 (the form English schools write)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return f"{value.day} {value:%B %Y}"
    if isinstance(value, date):
        return f"{value.day} {value:%B %Y}"
    return str(value)


def num(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "—" if value is None else str(value)


def pct(value: object) -> str:
    return f"{round(float(value) * 100)}%" if isinstance(value, int | float) else "—"


def words(value: object, table: str) -> str:
    tables = {"status": STATUS_WORDS, "role": ROLE_WORDS, "relationship": RELATIONSHIP_WORDS,
              "your_relationship": YOUR_RELATIONSHIP_WORDS}
    text = str(value or "")
    return tables[table].get(text, text.replace("_", " "))


def anchor(value: object) -> str:
    """A fragment id made only of safe characters."""
    return "x-" + re.sub(r"[^A-Za-z0-9_-]", "_", str(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Lenient undefined: a finding's detail holds optional keys (exemption, decision ...).
    env = Environment(loader=PackageLoader("auditor.reports", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(show=show, plain=plain, ukdate=ukdate, num=num, pct=pct, words=words, anchor=anchor)
    return env


def render(template: str, **values) -> str:
    return environment().get_template(template).render(**values)
