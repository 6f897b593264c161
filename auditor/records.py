"""What connectors produce: plain records, independent of any database.

A connector yields ``ContactRecord`` for each person entry, ``OwnerInfo`` for what an export
says about its own owner, and ``RowProblem`` for an entry it could not read (one bad record
never aborts a file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Connection kinds (POLICIES.md vocabulary plus the history kinds exports carry).
KINDS = (
    "friend", "follower", "following", "mutual", "request_received", "request_sent",
    "rejected", "removed", "blocked", "muted", "restricted", "close_friend", "contact",
    "connection", "subscription",
)
DIRECTION = {
    "friend": "mutual", "mutual": "mutual", "connection": "mutual",
    "follower": "incoming", "request_received": "incoming", "rejected": "incoming",
    "following": "outgoing", "request_sent": "outgoing", "close_friend": "outgoing",
    "contact": "outgoing", "subscription": "outgoing",
    "removed": "none", "blocked": "none", "muted": "none", "restricted": "none",
}
# Kinds that are a live connection (POLICIES.md); the others are requests or history.
LIVE_KINDS = frozenset(
    {"friend", "follower", "following", "mutual", "close_friend", "contact", "connection",
     "request_sent", "subscription"}
)
HISTORY_KINDS = frozenset({"removed", "blocked", "muted", "restricted", "rejected"})


@dataclass(slots=True)
class ContactRecord:
    """One person entry of an export, as the export gives it (names already un-mojibaked)."""

    platform: str
    kind: str
    display_name: str | None = None
    display_name_raw: str | None = None
    username: str | None = None
    profile_url: str | None = None
    platform_id: str | None = None
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    connected_at: datetime | None = None
    member: str | None = None
    layout: str | None = None
    extra: dict | None = None

    def __post_init__(self) -> None:
        if self.kind not in DIRECTION:
            raise ValueError(f"unknown connection kind {self.kind!r}")

    @property
    def direction(self) -> str:
        return DIRECTION[self.kind]

    def has_identity(self) -> bool:
        """False for an entry with nothing to match on (no name, handle, id, phone, e-mail)."""
        return bool(
            self.display_name or self.username or self.platform_id or self.phones or self.emails
        )


@dataclass(slots=True)
class OwnerInfo:
    """What an export says about the account that downloaded it."""

    platform: str
    name: str | None = None
    username: str | None = None
    platform_id: str | None = None
    exported_at: datetime | None = None


@dataclass(slots=True)
class RowProblem:
    """An entry that could not be read; counted as skipped and listed as a warning."""

    member: str
    reason: str
    position: int | None = None

    def __str__(self) -> str:
        where = f"{self.member}" + (f" entry {self.position}" if self.position is not None else "")
        return f"{where}: {self.reason}"
