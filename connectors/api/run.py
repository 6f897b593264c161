"""Fetch one account's lists through an API connector and store them like an imported export.

The order is what keeps the database unchanged on any failure: the account and the staff
reference are checked first (no network call for a typing mistake), every page is fetched
into memory, and only then is everything written in one transaction: the run, the file
(kind ``fetch``, path = the API URL naming the account, sha256 over the pages), the rows, the
owner account and the audit-log entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from auditor import auditlog
from auditor.connectors.api.base import ApiConnector, FetchResult
from auditor.db import Database, utcnow
from auditor.http import ApiClient, describe
from auditor.ingest import staff_person_id, store_export
from auditor.models import ImportedFile, ImportRun
from auditor.progress import NULL_PROGRESS, Progress
from auditor.registry import api_connectors
from auditor.version import __version__


@dataclass
class FetchSummary:
    """One line of ``auditor fetch --json`` (the shape of an ``auditor import --json`` file)."""

    path: str
    staff_ref: str
    platform: str
    sha256: str
    layout: str
    rows: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    status: str = "imported"  # imported | unchanged
    lists: dict[str, dict] = field(default_factory=dict)  # name -> {kind, rows, expected, hidden, pages}
    requests: int = 0

    def as_json(self) -> dict:
        return {
            "path": self.path, "sha256": self.sha256, "platform": self.platform, "layout": self.layout,
            "rows": self.rows, "skipped": self.skipped, "warnings": self.warnings, "status": self.status,
            "staff_ref": self.staff_ref, "kind": "fetch", "lists": self.lists, "requests": self.requests,
        }


ClientFactory = Callable[..., ApiClient]


def fetch_and_store(db: Database, platform: str, account: str, staff_ref: str, *, api_url: str | None = None,
                    progress: Progress = NULL_PROGRESS, client_factory: ClientFactory = ApiClient) -> FetchSummary:
    """``auditor fetch PLATFORM ACCOUNT --staff REF``: fetch, then store in one transaction."""
    connector: ApiConnector = api_connectors.get(platform)()
    wanted = connector.parse_account(account)
    base_url = connector.api_url(wanted, api_url)
    with db.begin() as conn:
        staff_person_id(conn, staff_ref)
    started = utcnow()
    with client_factory(connector.platform, base_url) as client:
        result = connector.fetch(client, wanted, progress)
        requests = client.requests_made
    return store_fetch(db, staff_ref, result, started=started, requests=requests)


def store_fetch(db: Database, staff_ref: str, result: FetchResult, *, started=None, requests: int = 0) -> FetchSummary:
    """Write a fetch like an imported export; the same pages fetched again change nothing."""
    parsed = result.to_parsed()
    summary = FetchSummary(
        path=result.account_url, staff_ref=staff_ref, platform=result.platform, sha256=parsed.sha256,
        layout=",".join(parsed.layouts), rows=len(parsed.records), skipped=parsed.skipped,
        warnings=parsed.warnings, requests=requests,
        lists={lst.name: {"kind": lst.kind, "rows": len(lst.records), "expected": lst.expected,
                          "hidden": lst.hidden, "pages": len(lst.page_hashes)} for lst in result.lists},
    )
    files = ImportedFile.__table__
    runs = ImportRun.__table__
    with db.begin() as conn:
        staff_id = staff_person_id(conn, staff_ref)
        existing = conn.execute(sa.select(files.c.id).where(
            files.c.staff_id == staff_id, files.c.sha256 == parsed.sha256, files.c.kind == "fetch")).first()
        if existing is not None:
            summary.status = "unchanged"
            summary.warnings = ["already fetched (same pages, same sha256); nothing changed", *summary.warnings]
            return summary
        now = utcnow()
        run_id = conn.execute(runs.insert().values(
            kind="fetch", started_at=started or now, finished_at=now, status="done", tool_version=__version__,
            actor=auditlog.current_actor(),
            summary={"files": 1, "rows": summary.rows, "platform": result.platform, "api": describe(result.api_url)},
        )).inserted_primary_key[0]
        result.owner.exported_at = result.owner.exported_at or now
        file_id = store_export(conn, run_id, staff_id, parsed, result.account_url)
        # store_export writes an uploaded export; a fetched list is the same rows with kind "fetch".
        conn.execute(files.update().where(files.c.id == file_id).values(kind="fetch"))
        auditlog.append(conn, "fetch", subject=staff_ref, details={
            "sha256": parsed.sha256, "platform": result.platform, "rows": summary.rows,
            "api": describe(result.api_url), "lists": {k: v["rows"] for k, v in summary.lists.items()},
        })
    return summary
