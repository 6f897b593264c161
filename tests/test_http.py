"""The shared HTTP client against real servers on 127.0.0.1: retries, backoff, Retry-After,
rate-limit headers, timeouts, size cap, bounded concurrency, and one-line errors that never
carry the token or the query string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from test_fetch_standins import Reply, closed_port_url, running, sequence

from auditor.errors import NetworkError
from auditor.http import (
    ApiClient,
    HttpStatusError,
    MalformedResponse,
    RetryPolicy,
    Timeouts,
    parse_rate_reset,
    parse_retry_after,
    user_agent,
)
from auditor.version import __version__

NOW = 1_750_000_000.0


@pytest.fixture
def standin():
    with running() as server:
        yield server


class FakeTime:
    """A clock that only moves when the client sleeps; the sleeps are recorded."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(server, fake: FakeTime, **kwargs) -> ApiClient:
    retry = kwargs.pop("retry", RetryPolicy(scale=1.0))
    return ApiClient("testapi", server.url, retry=retry, sleep=fake.sleep, clock=fake.clock, **kwargs)


def test_429_with_retry_after_seconds_is_waited_out_then_succeeds(standin):
    standin.route("GET", "/items", sequence(Reply(429, {"error": "RateLimitExceeded"}, {"Retry-After": "7"}),
                                            Reply(200, {"items": [1, 2]})))
    fake = FakeTime()
    with make_client(standin, fake) as client:
        assert client.get_json("/items") == {"items": [1, 2]}
    assert fake.sleeps == [7.0]
    assert len(standin.calls("/items")) == 2
    agent = standin.log[0].headers["user-agent"]
    assert agent.startswith(f"auditor/{__version__} (")


def test_retry_after_as_http_date_is_honoured(standin):
    when = datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=12)
    standin.route("GET", "/x", sequence(Reply(503, {}, {"Retry-After": format_datetime(when, usegmt=True)}),
                                        Reply(200, {"ok": True})))
    fake = FakeTime()
    with make_client(standin, fake) as client:
        assert client.get_json("/x") == {"ok": True}
    assert fake.sleeps == [12.0]


def test_retry_after_longer_than_the_cap_ends_at_once_with_one_line(standin):
    standin.route("GET", "/x", sequence(Reply(429, {}, {"Retry-After": "3600"})))
    fake = FakeTime()
    with make_client(standin, fake) as client, pytest.raises(NetworkError) as caught:
        client.get("/x")
    assert len(standin.calls("/x")) == 1
    assert fake.sleeps == []
    message = str(caught.value)
    assert "rate limited for 3600 s" in message and "\n" not in message


def test_a_500_that_stays_500_backs_off_exponentially_then_fails(standin):
    standin.route("GET", "/broken", sequence(Reply(500, {"error": "InternalServerError"})))
    fake = FakeTime()
    retry = RetryPolicy(attempts=5, base_delay=0.5, multiplier=2.0, max_delay=3.0)
    with make_client(standin, fake, retry=retry) as client, pytest.raises(NetworkError) as caught:
        client.get("/broken", params={"actor": "someone.example"})
    assert fake.sleeps == [0.5, 1.0, 2.0, 3.0]  # capped at max_delay
    assert len(standin.calls("/broken")) == 5
    message = str(caught.value)
    assert message.startswith("testapi: 127.0.0.1:") and "/broken answered HTTP 500 after 5 attempts" in message
    assert "someone" not in message and "\n" not in message
    assert caught.value.exit_code == 5


def test_client_errors_are_not_retried_and_carry_the_status(standin):
    standin.route("GET", "/missing", sequence(Reply(404, {"error": "NotFound"})))
    with make_client(standin, FakeTime()) as client, pytest.raises(HttpStatusError) as caught:
        client.get("/missing")
    assert caught.value.status == 404
    assert len(standin.calls("/missing")) == 1


def test_the_bearer_token_and_query_never_reach_a_message(standin):
    token = "s3cr3t-token-value"
    standin.route("GET", "/me", sequence(Reply(401, {"error": "Unauthorized", "message": f"bad {token}"})))
    with make_client(standin, FakeTime(), bearer_token=token) as client, pytest.raises(HttpStatusError) as caught:
        client.get("/me", params={"acct": "jo.bloggs"})
    assert standin.log[0].headers["authorization"] == f"Bearer {token}"
    text = str(caught.value)
    assert token not in text and "jo.bloggs" not in text
    assert "HTTP 401 (Unauthorized)" in text
    assert token not in repr(client)


def test_an_unreachable_server_is_retried_then_named():
    fake = FakeTime()
    client = ApiClient("testapi", closed_port_url(), retry=RetryPolicy(attempts=3), sleep=fake.sleep, clock=fake.clock)
    with client, pytest.raises(NetworkError) as caught:
        client.get("/x")
    assert "could not be reached (ConnectError) after 3 attempts" in str(caught.value)
    assert fake.sleeps == [1.0, 2.0]


def test_a_slow_server_times_out(standin):
    standin.route("GET", "/slow", lambda req: Reply(200, {"ok": True}, delay=1.0))
    client = make_client(standin, FakeTime(), retry=RetryPolicy(attempts=2, scale=0),
                         timeouts=Timeouts(connect=1.0, read=0.2))
    with client, pytest.raises(NetworkError) as caught:
        client.get("/slow")
    assert "timed out after 2 attempts" in str(caught.value)


def test_rate_limit_headers_pause_the_next_request_until_the_reset(standin):
    reset = datetime.fromtimestamp(NOW + 40, UTC).isoformat().replace("+00:00", "Z")
    standin.route("GET", "/page", sequence(
        Reply(200, [1], {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}),
        Reply(200, [2], {"X-RateLimit-Remaining": "299"}),
    ))
    fake = FakeTime()
    with make_client(standin, fake) as client:
        assert client.get_json("/page") == [1]
        assert fake.sleeps == []
        assert client.get_json("/page") == [2]
    assert fake.sleeps == [pytest.approx(40.0)]


def test_429_without_retry_after_uses_the_rate_limit_reset(standin):
    standin.route("GET", "/p", sequence(Reply(429, {}, {"X-RateLimit-Remaining": "0",
                                                         "X-RateLimit-Reset": str(int(NOW) + 9)}),
                                        Reply(200, {"ok": 1})))
    fake = FakeTime()
    with make_client(standin, fake) as client:
        assert client.get_json("/p") == {"ok": 1}
    assert sum(fake.sleeps) == pytest.approx(9.0)


def test_the_backoff_scale_from_the_environment_shortens_every_wait(standin, monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_BACKOFF_SCALE", "0")
    standin.route("GET", "/x", sequence(Reply(429, {}, {"Retry-After": "30"}), Reply(502, {}), Reply(200, {"ok": 1})))
    fake = FakeTime()
    with ApiClient("testapi", standin.url, sleep=fake.sleep, clock=fake.clock) as client:
        assert client.get_json("/x") == {"ok": 1}
    assert fake.sleeps == []
    assert len(standin.calls("/x")) == 3


def test_malformed_json_is_one_clear_error(standin):
    standin.route("GET", "/bad", sequence(Reply(200, b'{"followers": [')))
    with make_client(standin, FakeTime()) as client, pytest.raises(MalformedResponse) as caught:
        client.get_json("/bad")
    assert "/bad answered with malformed JSON" in str(caught.value)


def test_an_answer_over_the_size_cap_is_refused(standin):
    standin.route("GET", "/big", sequence(Reply(200, b"[" + b"1," * 2000 + b"1]")))
    with make_client(standin, FakeTime(), max_bytes=1024) as client, pytest.raises(NetworkError) as caught:
        client.get("/big")
    assert "refused" in str(caught.value)


def test_map_keeps_at_most_concurrency_requests_in_flight(standin):
    standin.route("GET", "/item", lambda req: Reply(200, {"n": int(req.query["n"])}, delay=0.05))
    with ApiClient("testapi", standin.url, concurrency=3, retry=RetryPolicy(scale=0)) as client:
        results = client.map(lambda n: client.get_json("/item", params={"n": n})["n"], range(12))
    assert results == list(range(12))
    assert 1 < standin.max_in_flight <= 3


def test_map_raises_the_first_failure(standin):
    standin.route("GET", "/item", lambda req: Reply(404 if req.query["n"] == "5" else 200, {"ok": 1}))
    with ApiClient("testapi", standin.url, concurrency=2, retry=RetryPolicy(scale=0)) as client, \
            pytest.raises(HttpStatusError):
        client.map(lambda n: client.get_json("/item", params={"n": n}), range(8))


def test_the_progress_hook_sees_every_successful_answer(standin):
    standin.route("GET", "/a", sequence(Reply(500, {}), Reply(200, {"ok": 1})))
    seen = []
    with make_client(standin, FakeTime(), on_response=lambda r: seen.append((r.status, r.where))) as client:
        client.get("/a")
        client.get("/a")
    assert [s for s, _ in seen] == [200, 200]
    assert seen[0][1].endswith("/a")


def test_only_http_addresses_are_accepted():
    with pytest.raises(NetworkError, match="must start with https://"):
        ApiClient("testapi", "file:///etc/passwd")


def test_user_agent_names_the_tool_and_a_contact(monkeypatch):
    monkeypatch.setenv("AUDITOR_HTTP_CONTACT", "dsl@school.example")
    assert user_agent() == f"auditor/{__version__} (school safeguarding audit; reads public follower lists on request; " \
                           "+dsl@school.example)"


@pytest.mark.parametrize(("value", "expected"), [
    ("120", 120.0), (" 0 ", 0.0), ("-5", 0.0), ("soon", None), (None, None),
    ("Wed, 09 Jul 2025 15:06:50 GMT", 10.0),
])
def test_parse_retry_after(value, expected):
    now = datetime(2025, 7, 9, 15, 6, 40, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-07-09T15:07:40.000Z", 60.0),  # Mastodon: ISO 8601
    (str(int(datetime(2025, 7, 9, 15, 6, 50, tzinfo=UTC).timestamp())), 10.0),  # Unix seconds
    ("30", 30.0),  # seconds from now
    ("garbage", None),
])
def test_parse_rate_reset(value, expected):
    now = datetime(2025, 7, 9, 15, 6, 40, tzinfo=UTC).timestamp()
    assert parse_rate_reset(value, now) == pytest.approx(expected) if expected is not None \
        else parse_rate_reset(value, now) is None


def test_after_a_failure_in_map_the_other_lists_stop_paging(standin):
    standin.route("GET", "/bad", lambda req: Reply(404, {"error": "NotFound"}, delay=0.05))
    standin.route("GET", "/page", lambda req: Reply(200, {"n": 1}, delay=0.05))

    def pages(path: str) -> int:
        read = 0
        for _ in range(50):
            client.get(path)
            read += 1
        return read

    with ApiClient("testapi", standin.url, concurrency=2, retry=RetryPolicy(scale=0)) as client:
        with pytest.raises(HttpStatusError):
            client.map(pages, ["/bad", "/page"])
        assert len(standin.calls("/page")) < 5  # stopped early, not all 50 pages
        assert client.get_json("/page") == {"n": 1}  # the client is usable again afterwards


def test_an_undecodable_body_is_one_clear_error(standin):
    standin.route("GET", "/gz", sequence(Reply(200, b"this is not gzip", {"Content-Encoding": "gzip"})))
    with make_client(standin, FakeTime()) as client, pytest.raises(NetworkError) as caught:
        client.get("/gz")
    assert "/gz failed (DecodingError)" in str(caught.value)
