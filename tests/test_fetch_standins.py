"""Stand-in API servers for the network tests: real HTTP servers on 127.0.0.1, started by the
tests in a thread (no mocked transport), with the paging of Bluesky, Mastodon and Roblox.

Everything here is synthetic: handles, names and ids are generated (``member017`` …).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = 0.0

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: object = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Handler = Callable[[Request], Reply]


class StandIn:
    """A threaded HTTP server; ``route(method, path, handler)``; every request is logged."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.log: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                              {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length) if length else b"", time.monotonic())
                with standin._lock:
                    standin.log.append(req)
                    standin.in_flight += 1
                    standin.max_in_flight = max(standin.max_in_flight, standin.in_flight)
                try:
                    handler = standin.routes.get((req.method, req.path))
                    reply = handler(req) if handler else Reply(404, {"error": "NotFound"})
                    if reply.delay:
                        threading.Event().wait(reply.delay)
                finally:
                    with standin._lock:
                        standin.in_flight -= 1
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = _serve
            do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def calls(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]

    def start(self) -> StandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running() -> Iterator[StandIn]:
    """A started stand-in, stopped afterwards (each test module wraps it in a fixture)."""
    server = StandIn().start()
    try:
        yield server
    finally:
        server.stop()


def sequence(*replies: Reply) -> Handler:
    """A handler answering each call with the next reply, then repeating the last one."""
    queue = list(replies)

    def handle(_req: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


def closed_port_url() -> str:
    """An address on 127.0.0.1 where nothing listens (the port was just released)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    host, port = server.server_address[:2]
    server.server_close()
    return f"http://{host}:{port}"


# -- helpers shared by the fetch tests --------------------------------------------------------

STAFF_CSV = "staff_id,forename,surname,email,school,role\nT0001,Test,Teacher-One,t1@school.example,S01,teacher\n"
TABLES = ("importrun", "importedfile", "connection", "account", "staffaccount", "auditlog")


def prepare_database(cli, tmp_path) -> None:
    """An initialised database whose staff list holds T0001 (synthetic)."""
    staff = tmp_path / "staff.csv"
    staff.write_text(STAFF_CSV, encoding="utf-8")
    cli("init")
    cli("roster", "import", staff)


def table_counts(db_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from auditor.db import Database

    database = Database(db_url)
    try:
        with database.begin() as conn:
            return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        database.dispose()


def one_error_line(result) -> str:
    """The single ``error: …`` line a failed command prints (and nothing else on stderr)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


class RecordingProgress:
    def __init__(self) -> None:
        self.totals: list[int | None] = []
        self.advanced = 0
        self.finished = 0
        self._lock = threading.Lock()

    def start(self, label: str, total: int | None = None) -> None:
        self.totals.append(total)

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            self.advanced += amount

    def finish(self) -> None:
        self.finished += 1
