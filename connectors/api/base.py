"""What every API connector shares: the shape of a fetched list, the two paging loops public
APIs use (an opaque cursor in the body; a ``Link: rel="next"`` header), with guards against
a server that loops, and the hash over the pages that identifies a fetch.

A fetched list becomes an ``auditor.ingest.ParsedExport`` (``FetchResult.to_parsed``), so it
is stored exactly like an imported export.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from auditor.errors import InputError, NetworkError
from auditor.http import ApiClient, ApiResponse, MalformedResponse
from auditor.ingest import MAX_WARNINGS, ParsedExport
from auditor.progress import Progress
from auditor.records import ContactRecord, OwnerInfo, RowProblem

MAX_PAGES = 5000  # half a million entries at 100 a page: far beyond any real list


@dataclass
class FetchedList:
    """One list of one account (followers, follows, friends …), with its provenance."""

    kind: str  # connection kind: follower | following | friend
    name: str  # the API's own name for the list: followers, follows, friends, followings
    url: str  # the first page's URL, without paging parameters
    layout: str  # which endpoint (and shape) produced it
    records: list[ContactRecord] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    page_hashes: list[str] = field(default_factory=list)
    expected: int | None = None  # the count the service reports for the account
    hidden: bool = False
    warnings: list[str] = field(default_factory=list)

    def add_page(self, response: ApiResponse) -> None:
        self.page_hashes.append(hashlib.sha256(response.content).hexdigest())

    def sha256(self) -> str:
        return hashlib.sha256("\n".join([self.name, *self.page_hashes]).encode()).hexdigest()

    def check_count(self, hidden_hint: str, partial_hint: str | None = None) -> None:
        """Compare what was listed with the count the service reports: none listed of a
        non-zero count is a hidden network; fewer is a partial list. Both become warnings."""
        listed = len(self.records) + len(self.problems)
        if self.expected is None or listed >= self.expected:
            return
        if listed == 0:
            self.hidden = True
            self.warnings.append(f"{self.name}: hidden network: the service counts {self.expected} but lists none "
                                 f"({hidden_hint})")
        else:
            self.warnings.append(f"{self.name}: partial list: {listed} listed of {self.expected} counted"
                                 + (f" ({partial_hint})" if partial_hint else ""))


@dataclass
class FetchResult:
    """Everything one ``auditor fetch`` read, before it is stored."""

    platform: str
    api_url: str
    account_url: str  # the API URL naming the account: stored as the file's path
    owner: OwnerInfo
    lists: list[FetchedList]
    warnings: list[str] = field(default_factory=list)

    def sha256(self) -> str:
        """A hash over every page fetched, list by list in a fixed order: the same pages give
        the same hash, so fetching an unchanged account twice stores nothing new."""
        body = "\n".join(f"{lst.kind}:{lst.sha256()}" for lst in self.lists)
        return hashlib.sha256(f"{self.platform}\n{body}".encode()).hexdigest()

    @property
    def records(self) -> list[ContactRecord]:
        return [rec for lst in self.lists for rec in lst.records]

    def all_warnings(self) -> list[str]:
        warnings = list(self.warnings)
        for lst in self.lists:
            warnings.extend(lst.warnings)
            warnings.extend(str(p) for p in lst.problems)
        if len(warnings) > MAX_WARNINGS:
            extra = len(warnings) - MAX_WARNINGS
            warnings = warnings[:MAX_WARNINGS] + [f"... and {extra} more warnings"]
        return warnings

    def to_parsed(self) -> ParsedExport:
        layouts: list[str] = []
        for lst in self.lists:
            if lst.layout not in layouts:
                layouts.append(lst.layout)
        return ParsedExport(
            label=self.account_url, kind="fetch", sha256=self.sha256(), records=self.records,
            owners=[self.owner], platforms=[self.platform], layouts=layouts,
            skipped=sum(len(lst.problems) for lst in self.lists), warnings=self.all_warnings(),
            members=[{"member": lst.url, "sha256": lst.sha256(), "layout": lst.layout, "rows": len(lst.records),
                      "list": lst.name, "kind": lst.kind, "pages": len(lst.page_hashes),
                      "expected": lst.expected, "hidden": lst.hidden} for lst in self.lists],
        )


class ApiConnector:
    """Base class of a platform's API connector; subclasses register in ``api_connectors``."""

    platform: ClassVar[str]
    title: ClassVar[str]
    account_label: ClassVar[str]  # what the user types: a handle, an address, a username
    default_api_url: ClassVar[str | None] = None
    lists: ClassVar[dict[str, str]] = {}  # list name -> connection kind

    def parse_account(self, account: str) -> str:
        """The account as the API wants it, or an ``InputError`` before any network call."""
        raise NotImplementedError

    def api_url(self, account: str, override: str | None) -> str:
        url = override or self.default_api_url
        if not url:
            raise InputError(f"{self.platform}: give --api-url")
        return checked_api_url(self.platform, url)

    def fetch(self, client: ApiClient, account: str, progress: Progress) -> FetchResult:
        raise NotImplementedError


def read_lists(client: ApiClient, specs: list[FetchedList], label: str, progress: Progress,
               read: Callable[[FetchedList], None]) -> None:
    """Read every list concurrently under one progress bar, sized by the counts when all are known."""
    known = [lst.expected for lst in specs]
    progress.start(label, sum(known) if None not in known else None)
    try:
        client.map(read, specs)
    finally:
        progress.finish()


def checked_api_url(platform: str, url: str) -> str:
    """``--api-url`` as a base URL, or an ``InputError`` (exit 2) before any network call."""
    problem = InputError(f"{platform}: --api-url must be a plain http(s) address such as https://host.example")
    try:
        parts = urlsplit(url.strip())
        host, _port = parts.hostname, parts.port  # a malformed port raises ValueError
    except ValueError:
        raise problem from None
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment or parts.username:
        raise problem
    return url.strip().rstrip("/")


# -- small tolerant readers for API objects -----------------------------------------------------

def text_field(obj: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` holding a non-empty string (schema drift renames fields)."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def id_field(obj: Mapping[str, Any], *keys: str) -> str | None:
    """An id as a string (ids are kept as strings: some exceed a float's precision)."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and value > 0:
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def count_field(obj: Any, *keys: str) -> int | None:
    if not isinstance(obj, Mapping):
        return None
    for key in keys:
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def require_object(body: Any, service: str, response: ApiResponse, what: str) -> dict:
    if not isinstance(body, dict):
        raise MalformedResponse(f"{service}: {response.where} did not answer with {what}",
                                hint="the API may have changed")
    return body


# -- paging -----------------------------------------------------------------------------------

def cursor_pages(client: ApiClient, path: str, params: Mapping[str, Any],
                 next_cursor: Callable[[dict], str | None], *, what: str,
                 cursor_param: str = "cursor") -> Iterator[tuple[ApiResponse, dict]]:
    """Pages of a cursor-paged endpoint: pass the returned cursor back unchanged until it is
    absent. A cursor seen twice (a loop) or an endless list ends with a clear error."""
    cursor: str | None = None
    seen: set[str] = set()
    for _page in range(MAX_PAGES):
        query = dict(params)
        if cursor:
            query[cursor_param] = cursor
        response = client.get(path, params=query)
        body = require_object(response.json(), client.service, response, what)
        yield response, body
        cursor = next_cursor(body)
        if not cursor:
            return
        if cursor in seen:
            raise MalformedResponse(f"{client.service}: {response.where} gave the same page cursor twice; stopped")
        seen.add(cursor)
    raise NetworkError(f"{client.service}: {describe_path(path)} had more than {MAX_PAGES} pages; stopped")


def link_pages(client: ApiClient, path: str, params: Mapping[str, Any]) -> Iterator[tuple[ApiResponse, Any]]:
    """Pages of an endpoint paged by ``Link: <…>; rel="next"``, followed until absent. A next
    link to another server is refused (it would send the user's requests elsewhere)."""
    response = client.get(path, params=params)
    origin = _origin(response.url)
    seen = {response.url}
    for _page in range(MAX_PAGES):
        yield response, response.json()
        target = response.next_link()
        if not target:
            return
        if _origin(target) != origin:
            raise MalformedResponse(f"{client.service}: {response.where} pointed its next page at another server; "
                                    "refused")
        if target in seen:
            raise MalformedResponse(f"{client.service}: {response.where} linked back to a page already read; stopped")
        seen.add(target)
        response = client.get(target)
    raise NetworkError(f"{client.service}: {describe_path(path)} had more than {MAX_PAGES} pages; stopped")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def describe_path(path: str) -> str:
    return path.split("?")[0]
