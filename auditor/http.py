"""The one HTTP client every network command uses (public social APIs, the Wonde roster API).

Why one client: the tool is offline by default, so the few commands that do reach the network
(each asked for by name) must all behave the same way towards the servers they call and
towards the user:

- a descriptive ``User-Agent`` (``auditor/<version>`` plus a contact, from ``contact=`` or
  ``AUDITOR_HTTP_CONTACT``), so a server operator can see who is calling and why;
- timeouts on every phase of a request;
- retries with exponential backoff on 429, 5xx and transport failures, honouring
  ``Retry-After`` (seconds or an HTTP date) up to a cap, and pausing before the next request
  when ``X-RateLimit-Remaining`` reaches 0 until ``X-RateLimit-Reset``;
- bounded concurrency (at most ``concurrency`` requests in flight, ``map`` for fan-out);
- a cap on the size of any one answer;
- one clear line on failure: a :class:`NetworkError` naming the service, host and path, never
  the query string (it can hold a handle), the bearer token or a person's name.

Tests shorten every wait with ``sleep=`` (record the waits instead of sleeping) or, for the
CLI, the environment variable ``AUDITOR_HTTP_BACKOFF_SCALE`` (``0`` skips the waits; the
retries still happen).

Example::

    with ApiClient("bluesky", base_url="https://public.api.bsky.app") as client:
        page = client.get_json("/xrpc/app.bsky.graph.getFollowers", params={"actor": did})
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from auditor.errors import NetworkError
from auditor.version import __version__

T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
BACKOFF_SCALE_ENV = "AUDITOR_HTTP_BACKOFF_SCALE"
CONTACT_ENV = "AUDITOR_HTTP_CONTACT"


def user_agent(contact: str | None = None) -> str:
    """``auditor/<version> (+contact)``; the contact is a URL or e-mail a server operator can use."""
    contact = contact or os.environ.get(CONTACT_ENV)
    purpose = "school safeguarding audit; reads public follower lists on request"
    return f"auditor/{__version__} ({purpose}; +{contact})" if contact else f"auditor/{__version__} ({purpose})"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Delays are seconds; ``scale`` multiplies every wait (tests use 0)."""

    attempts: int = 5
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    max_retry_after: float = 120.0  # a server asking for a longer pause ends the command instead
    max_rate_wait: float = 300.0  # Mastodon's window is 5 minutes
    statuses: frozenset[int] = RETRY_STATUSES
    scale: float = 1.0

    @classmethod
    def from_env(cls, **overrides: Any) -> RetryPolicy:
        """The default policy, with ``AUDITOR_HTTP_BACKOFF_SCALE`` applied when it is set."""
        raw = os.environ.get(BACKOFF_SCALE_ENV)
        if raw is not None and "scale" not in overrides:
            try:
                overrides["scale"] = max(0.0, float(raw))
            except ValueError:
                raise NetworkError(f"{BACKOFF_SCALE_ENV} must be a number, not {raw!r}") from None
        return cls(**overrides)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1-based): base, base×m, base×m², … capped."""
        return min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 60.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass
class ApiResponse:
    """One answer, read in full (within the size cap), detached from the connection."""

    status: int
    url: str
    headers: httpx.Headers
    content: bytes
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    service: str = "api"

    @property
    def where(self) -> str:
        return describe(self.url)

    def next_link(self) -> str | None:
        """The absolute URL of ``Link: <…>; rel="next"`` (RFC 8288), if present."""
        target = self.links.get("next", {}).get("url")
        return urljoin(self.url, target) if target else None

    def json(self) -> Any:
        """The body as JSON, or a :class:`MalformedResponse` naming the host and path."""
        try:
            return json.loads(self.content)
        except (ValueError, UnicodeDecodeError):
            raise MalformedResponse(
                f"{self.service}: {self.where} answered with malformed JSON ({len(self.content)} bytes)",
                hint="the service may be down or changed; try again later",
            ) from None


class HttpStatusError(NetworkError):
    """An answer with a status that retrying cannot fix (400, 401, 403, 404, 410, …)."""

    def __init__(self, message: str, *, status: int, where: str, detail: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.where = where
        self.detail = detail


class MalformedResponse(NetworkError):
    """An answer that is not the JSON (or the shape) the API documents."""


def describe(url: str) -> str:
    """``host[:port]/path`` of a URL: enough to say which call failed, without the query
    string (which can carry a handle) or any credentials in the authority."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "an invalid URL"
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{host}{parts.path or '/'}"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_rate_reset(value: str | None, now: float) -> float | None:
    """Seconds until ``X-RateLimit-Reset``: Mastodon sends an ISO 8601 time, others Unix
    seconds or seconds from now, a few an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, number - now) if number > 1e9 else max(0.0, number)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return parse_retry_after(text, now)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(str(headers.get(name, "")).strip())
    except ValueError:
        return None


def _error_detail(content: bytes) -> str | None:
    """A short machine reason from an error body (``error`` / ``message`` / ``errors[0]``),
    only when it is a plain token, so that nothing a server echoes (a name) reaches a message."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    for key in ("error", "code", "errorCode"):
        value = body.get(key)
        if isinstance(value, str) and value.replace("_", "").replace("-", "").isalnum() and len(value) <= 60:
            return value
    return None


class ApiClient:
    """A shared, polite HTTP client for one service. Thread-safe; use as a context manager."""

    def __init__(
        self,
        service: str,
        base_url: str | None = None,
        *,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy | None = None,
        concurrency: int = 4,
        contact: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_response: Callable[[ApiResponse], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.service = service
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        if self.base_url:
            _check_url(service, self.base_url)
        self.retry = retry or RetryPolicy.from_env()
        self.concurrency = concurrency
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._clock = clock
        self._on_response = on_response
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._not_before = 0.0
        self.requests_made = 0
        all_headers = {"User-Agent": user_agent(contact), "Accept": "application/json"}
        all_headers.update(headers or {})
        if bearer_token:
            all_headers["Authorization"] = f"Bearer {bearer_token}"
        self._client = httpx.Client(
            headers=all_headers, timeout=timeouts.httpx(), follow_redirects=True, max_redirects=5,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )

    def __repr__(self) -> str:  # never shows headers (the token)
        return f"ApiClient({self.service!r}, base_url={self.base_url!r})"

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def url(self, path_or_url: str) -> str:
        """An absolute URL: ``path_or_url`` itself, or joined to ``base_url``."""
        if "://" in path_or_url:
            _check_url(self.service, path_or_url)
            return path_or_url
        if not self.base_url:
            raise ValueError(f"{path_or_url!r} is relative and the client has no base_url")
        return urljoin(self.base_url, path_or_url.lstrip("/"))

    # -- requests ---------------------------------------------------------------------------

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            ok: Iterable[int] = (200,)) -> ApiResponse:
        return self.request("GET", url, params=params, ok=ok)

    def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.get(url, params=params).json()

    def post_json(self, url: str, body: Any, *, ok: Iterable[int] = (200,)) -> Any:
        return self.request("POST", url, json_body=body, ok=ok).json()

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, ok: Iterable[int] = (200,)) -> ApiResponse:
        """Send one request, retrying what is worth retrying; any other outcome is raised.
        Every method is retried, so send only idempotent requests (reads and look-ups)."""
        target = self.url(url)
        where = describe(target)
        accepted = frozenset(ok)
        policy = self.retry
        problem = "failed"
        for attempt in range(1, policy.attempts + 1):
            if self._stopping.is_set():
                raise NetworkError(f"{self.service}: {where} not requested: another request had failed")
            self._wait_for_rate_window(where)
            try:
                with self._slots:
                    response = self._send(method, target, params, json_body)
            except httpx.TimeoutException:
                problem, pause = "timed out", policy.backoff(attempt)
            except httpx.TooManyRedirects:
                raise NetworkError(f"{self.service}: {where} redirected too many times") from None
            except httpx.UnsupportedProtocol:
                raise NetworkError(f"{self.service}: {where} redirected to an unsupported address") from None
            except httpx.TransportError as exc:
                problem, pause = f"could not be reached ({type(exc).__name__})", policy.backoff(attempt)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # undecodable body, bad redirect target …
                raise NetworkError(f"{self.service}: {where} failed ({type(exc).__name__})") from None
            else:
                self._note_rate_limit(response)
                if response.status in accepted:
                    if self._on_response is not None:
                        self._on_response(response)
                    return response
                if response.status not in policy.statuses:
                    raise self._status_error(response)
                problem = f"answered HTTP {response.status}"
                pause = self._server_pause(response, where)
                if pause is None:
                    pause = policy.backoff(attempt)
            if attempt < policy.attempts:
                self._pause(pause)
        raise NetworkError(
            f"{self.service}: {where} {problem} after {policy.attempts} attempts",
            hint="the service may be busy or down; try again later",
        )

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]`` with at most ``concurrency`` running at once; results in
        input order. On the first failure the calls still running stop at their next request,
        and that first failure is raised."""
        work = list(items)
        if self.concurrency == 1 or len(work) <= 1:
            return [fn(x) for x in work]
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"{self.service}-http")
        futures = [pool.submit(fn, x) for x in work]
        try:
            done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: let the worker threads wind down on their own
            self._stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            self._stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)
        self._stopping.clear()
        if failed is not None:
            raise failed.exception()  # type: ignore[misc]
        return [f.result() for f in futures]

    # -- internals --------------------------------------------------------------------------

    def _send(self, method: str, target: str, params: Mapping[str, Any] | None, json_body: Any) -> ApiResponse:
        request = self._client.build_request(method, target, params=params, json=json_body)
        with self._lock:
            self.requests_made += 1
        response = self._client.send(request, stream=True)
        try:
            declared = _int_header(response.headers, "Content-Length")
            if declared is not None and declared > self.max_bytes:
                raise self._too_big(str(response.url))
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_big(str(response.url))
                chunks.append(chunk)
        finally:
            response.close()
        return ApiResponse(status=response.status_code, url=str(response.url), headers=response.headers,
                           content=b"".join(chunks), links=dict(response.links), service=self.service)

    def _too_big(self, url: str) -> NetworkError:
        return NetworkError(f"{self.service}: {describe(url)} sent more than {self.max_bytes // (1024 * 1024)} MB; refused")

    def _status_error(self, response: ApiResponse) -> HttpStatusError:
        detail = _error_detail(response.content)
        hint = {
            401: "the service wants a login for this call",
            403: "the service refused access",
            404: "not found",
            410: "the account is gone or suspended",
        }.get(response.status)
        return HttpStatusError(
            f"{self.service}: {response.where} answered HTTP {response.status}" + (f" ({detail})" if detail else ""),
            status=response.status, where=response.where, detail=detail, hint=hint,
        )

    def _server_pause(self, response: ApiResponse, where: str) -> float | None:
        """The pause a 429/503 asks for (``Retry-After``, else the rate-limit reset); a longer
        pause than the cap ends the command with a clear line instead of hanging."""
        now = self._clock()
        pause = parse_retry_after(response.headers.get("Retry-After"), now)
        if pause is None and response.status == 429:
            pause = parse_rate_reset(response.headers.get("X-RateLimit-Reset"), now)
        if pause is not None and pause > self.retry.max_retry_after:
            raise NetworkError(
                f"{self.service}: {where} is rate limited for {round(pause)} s "
                f"(more than the {round(self.retry.max_retry_after)} s auditor waits)",
                hint="try again later",
            )
        return pause

    def _note_rate_limit(self, response: ApiResponse) -> None:
        remaining = _int_header(response.headers, "X-RateLimit-Remaining")
        if remaining is None or remaining > 0:
            return
        now = self._clock()
        reset = parse_rate_reset(response.headers.get("X-RateLimit-Reset"), now)
        if reset is None:
            return
        with self._lock:
            self._not_before = max(self._not_before, now + reset)

    def _wait_for_rate_window(self, where: str) -> None:
        with self._lock:
            not_before = self._not_before
        if not not_before:
            return
        pause = not_before - self._clock()
        if pause <= 0:
            return
        if pause > self.retry.max_rate_wait:
            raise NetworkError(
                f"{self.service}: the rate limit of {where.split('/')[0]} resets in {round(pause)} s "
                f"(more than the {round(self.retry.max_rate_wait)} s auditor waits)",
                hint="try again later",
            )
        self._pause(pause)

    def _pause(self, seconds: float) -> None:
        scaled = seconds * self.retry.scale
        if scaled > 0:
            self._sleep(scaled)


def _check_url(service: str, url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise NetworkError(f"{service}: the API address is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise NetworkError(f"{service}: the API address must start with https:// or http:// and name a host",
                           hint=f"got {parts.scheme or 'no scheme'}://{host or ''}")
