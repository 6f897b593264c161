"""Offline by default: with every Internet socket refused, the whole pipeline a school runs
(init, roster in each format, exemptions, imports, audit, every report, review, the log,
retention, subject access, the demo) completes; only an API command named by the user tries
the network, and then fails in one clear line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from auditor.generator import generate_world

FIXTURES = Path(__file__).parent / "fixtures"
AS_OF = "2026-11-01"
INTERNET = (socket.AF_INET, socket.AF_INET6)


@pytest.fixture
def no_network(monkeypatch) -> list[str]:
    """Refuse Internet sockets, connections and name look-ups; returns what was attempted.
    (Local AF_UNIX sockets stay: event loops use them to wake themselves.)"""
    attempts: list[str] = []

    class Refused(OSError):
        pass

    original_init = socket.socket.__init__

    def guarded_init(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and family in (*INTERNET, -1):
            attempts.append(f"socket({family})")
            raise Refused("network blocked by test")
        original_init(self, family, type, proto, fileno)

    def refuse(name):
        def blocked(*args, **kwargs):
            attempts.append(f"{name}{args[1:2] if name.startswith('socket.') else args[:1]}")
            raise Refused("network blocked by test")
        return blocked

    monkeypatch.setattr(socket.socket, "__init__", guarded_init)
    for method in ("connect", "connect_ex", "sendto", "bind"):
        monkeypatch.setattr(socket.socket, method, refuse(f"socket.{method}"))
    for function in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, function, refuse(function))
    return attempts


def test_the_guard_refuses_the_network(no_network):
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(OSError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(OSError):
        socket.getaddrinfo("example.org", 443)
    import httpx

    with pytest.raises(httpx.HTTPError):
        httpx.get("http://127.0.0.1:9/", timeout=1)
    assert len(no_network) >= 4


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("offline") / "world"
    generate_world(out, profile="small", seed=13)
    return out


def test_the_whole_offline_pipeline_runs_with_the_network_blocked(no_network, cli, world, tmp_path):
    cli("init", "--policy", "luton")
    cli("roster", "template", tmp_path / "template")
    cli("roster", "import", world / "roster")
    cli("roster", "import", *sorted((FIXTURES / "roster" / "ctf").glob("*.xml")), "--partial")
    cli("roster", "import", FIXTURES / "roster" / "oneroster-1.2", "--partial")
    cli("exemptions", "import", world / "exemptions.csv")
    imported = json.loads(cli("import", "--manifest", world / "manifest.csv", "--json").stdout)
    assert imported["files"] and all(f["status"] == "imported" for f in imported["files"])
    staff = imported["files"][0]["staff_ref"]
    cli("import", "--staff", staff, FIXTURES / "exports" / "contacts" / "vcard-3.0")
    cli("connectors")
    cli("audit", "--as-of", AS_OF, "--format", "html", "--out", tmp_path / "report.html")
    for fmt, target in (("json", "findings.json"), ("csv", "findings.csv"), ("letters", "letters"),
                        ("governor", "governor.html")):
        cli("report", "--format", fmt, "--out", tmp_path / target)
    findings = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))["findings"]
    assert findings
    listed = json.loads(cli("review", "list", "--json").stdout)
    open_finding = next(f for f in listed if f["status"] in ("needs_review", "probable"))
    cli("review", "show", str(open_finding["id"]))
    cli("review", "dismiss", str(open_finding["id"]), "--reason", "adult namesake")
    cli("audit", "--as-of", AS_OF, "--format", "csv", "--out", tmp_path / "again.csv")
    cli("log", "verify")
    cli("log", "show", "--limit", "5")
    cli("subject-export", staff, "--out", tmp_path / "sar.json")
    cli("purge", "--older-than", "30d", "--dry-run")
    cli("demo", "--out", tmp_path / "demo", "--as-of", AS_OF)
    assert (tmp_path / "demo" / "report.html").exists()
    assert no_network == [], f"offline commands tried the network: {no_network[:5]}"


@pytest.mark.parametrize("args", [
    ["fetch", "bluesky", "someone.bsky.social", "--staff", "T01"],
    ["roster", "wonde", "--school", "A1234567890"],
])
def test_an_api_command_named_by_the_user_is_the_only_one_that_tries(no_network, cli, monkeypatch, tmp_path, args):
    cli("init")
    cli("roster", "import", FIXTURES / "roster" / "canonical")
    monkeypatch.setenv("AUDITOR_WONDE_TOKEN", "test-token-not-real")
    result = cli(*args, expect=None)
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert no_network, "the API command should have tried the network (and been refused)"
