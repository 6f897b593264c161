"""Atomicity under SIGKILL: ``roster import``, ``import --manifest`` and ``audit``, killed at
random moments, leave a consistent database, and running the command again gives exactly the
state an uninterrupted run gives.

The commands run as real child processes of a "zygote": a Python process that has imported
auditor once and forks one child per command, so a kill lands on the command's own work rather
than on interpreter start-up (a few kills of the installed ``auditor`` executable cover start-up
too). Kills are seeded (AUDITOR_KILL_SEED) and their number scales with AUDITOR_KILLS.

After every kill: ``PRAGMA integrity_check`` and ``foreign_key_check``, the audit log's hash
chain, and the model's own invariants (each file holds exactly the rows it says; every audit
is complete; every import, roster import and audit is in the log, and nothing else is). After
every chain of kills no worker process of a killed command may still be alive, the command is
run to completion, and every table (ids and timestamps aside) and the findings JSON must equal
those of the uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor import auditlog
from auditor.db import Database
from auditor.generator import generate_world

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("AUDITOR_TEST_PG")),
                       reason="SQLite file integrity under SIGKILL; the SQLite pass runs it"),
]

SEED = int(os.environ.get("AUDITOR_KILL_SEED", "20261101"))
SCALE = float(os.environ.get("AUDITOR_KILLS", "1"))
AS_OF = "2026-11-01"
# Kills per phase in the forked children, and of the real executable (start-up included).
TARGET = {"roster": round(16 * SCALE), "import": round(20 * SCALE), "audit": round(20 * SCALE)}
EXEC_KILLS = round(6 * SCALE)

ZYGOTE = r"""
import json, os, sys, time
from auditor.cli import main
import auditor.audit, auditor.ingest, auditor.roster, auditor.reporting, auditor.exemptions, auditor.policy
from auditor.registry import export_connectors, report_writers
export_connectors.items(); report_writers.names()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1); os.dup2(fd, 2)
        code = 0
        try:
            main(job["args"], prog_name="auditor")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"status": status, "seconds": time.perf_counter() - started}), flush=True)
"""


class Zygote:
    def __init__(self, cwd: Path) -> None:
        env = {**os.environ, "AUDITOR_USER": "kill-test", "PYTHONHASHSEED": "0"}
        env.pop("AUDITOR_DB", None)
        # Its own process group: every child and every worker a child starts can be found.
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=cwd, env=env, start_new_session=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}
        self.log = cwd / "children.log"

    def run(self, args: list[str], kill_after: float | None = None) -> tuple[bool, int, float]:
        """Run one command in a forked child; SIGKILL it after ``kill_after`` seconds.
        Returns (killed, exit code, seconds)."""
        self.proc.stdin.write(json.dumps({"args": args, "log": str(self.log)}) + "\n")
        self.proc.stdin.flush()
        pid = json.loads(self.proc.stdout.readline())["pid"]
        if kill_after is not None:
            time.sleep(kill_after)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        done = json.loads(self.proc.stdout.readline())
        status = done["status"]
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return killed, (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1), done["seconds"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        for pid in strays(self.proc.pid):  # only if a check below already failed
            os.kill(pid, signal.SIGKILL)


def strays(group: int, wait: float = 0.0) -> list[int]:
    """Live processes of a process group: workers a killed command left behind. Workers notice
    their parent's death within a second or two, so allow ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                state, _, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, ValueError):
                continue
            if int(pgrp) == group and state != "Z" and int(entry.name) != group:
                found.append(int(entry.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


# -- what the database holds, without ids and clocks -----------------------------------------
SNAPSHOT = {
    "person": "SELECT ref, kind, title, legal_forename, legal_surname, preferred_forename, preferred_surname, "
              "middle_names, former_surname, date_of_birth, sex, upn, source, vulnerable FROM person",
    "role": "SELECT p.ref, s.ref, r.role, r.start_date, r.end_date, r.year_group, r.job_title, r.leaving_reason "
            "FROM role r JOIN person p ON p.id = r.person_id LEFT JOIN school s ON s.id = r.school_id",
    "pupilcontact": "SELECT a.ref, b.ref, l.relationship_raw, l.relationship, l.parental_responsibility, l.priority "
                    "FROM pupilcontact l JOIN person a ON a.id = l.pupil_id JOIN person b ON b.id = l.contact_id",
    "contactpoint": "SELECT p.ref, c.kind, c.value FROM contactpoint c JOIN person p ON p.id = c.person_id",
    "school": "SELECT ref, name, urn, la, estab FROM school",
    "exemption": "SELECT a.ref, b.ref, e.relationship, e.approved_by, e.reason, e.review_date "
                 "FROM exemption e JOIN person a ON a.id = e.staff_id JOIN person b ON b.id = e.person_id",
    "importedfile": "SELECT p.ref, f.kind, f.path, f.sha256, f.platform, f.layout, f.rows, f.skipped, f.warnings, "
                    "f.members, f.owner, f.exported_at FROM importedfile f LEFT JOIN person p ON p.id = f.staff_id",
    "connection": "SELECT f.sha256, p.ref, a.platform, a.key, c.kind, c.direction, c.connected_at, c.member, c.layout, "
                  "c.extra FROM connection c JOIN importedfile f ON f.id = c.file_id JOIN person p ON p.id = c.staff_id "
                  "JOIN account a ON a.id = c.account_id",
    "account": "SELECT platform, key, username, display_name_raw, display_name, profile_url, platform_id, phones, "
               "emails, matched_state, purged FROM account",
    "staffaccount": "SELECT p.ref, s.platform, s.username, s.display_name, s.platform_id, s.source, f.sha256 "
                    "FROM staffaccount s JOIN person p ON p.id = s.staff_id LEFT JOIN importedfile f ON f.id = s.file_id",
    "matchcandidate": "SELECT a.platform, a.key, p.ref, m.weight, m.probability, m.band, m.evidence, m.reading, "
                      "m.ambiguous, m.state FROM matchcandidate m JOIN account a ON a.id = m.account_id "
                      "JOIN person p ON p.id = m.person_id",
}


def snapshot(db_file: Path) -> dict[str, Counter]:
    db = Database(db_file)
    try:
        with db.engine.connect() as conn:
            return {name: Counter(tuple(map(str, row)) for row in conn.execute(sa.text(sql)))
                    for name, sql in SNAPSHOT.items()}
    finally:
        db.dispose()


def check_consistent(db_file: Path) -> dict:
    """Everything a kill must never break; returns a few counts for the figures."""
    db = Database(db_file)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
            assert list(conn.execute(sa.text("PRAGMA foreign_key_check"))) == []
            chain = auditlog.verify(conn)
            assert chain.ok, chain
            short = list(conn.execute(sa.text(
                "SELECT f.id, f.rows, COUNT(c.id) FROM importedfile f LEFT JOIN connection c ON c.file_id = f.id "
                "WHERE f.kind = 'export' AND f.purged_at IS NULL GROUP BY f.id, f.rows HAVING f.rows != COUNT(c.id)")))
            assert short == [], f"files whose rows are not all stored: {short}"
            audits = list(conn.execute(sa.text("SELECT id, status, summary FROM auditrun")))
            for audit_id, status, summary in audits:
                assert status == "done", f"audit {audit_id} left {status}"
                held = conn.execute(sa.text("SELECT COUNT(*) FROM finding WHERE audit_id = :a"), {"a": audit_id}).scalar()
                assert held == json.loads(summary)["findings"]
            log = [(action, json.loads(details) if details else None)
                   for action, details in conn.execute(sa.text("SELECT action, details FROM auditlog ORDER BY id"))]
            logged_files = sorted(d["sha256"] for a, d in log if a == "import")
            stored_files = sorted(r[0] for r in conn.execute(sa.text("SELECT sha256 FROM importedfile WHERE kind = 'export'")))
            assert logged_files == stored_files, "an import and its log entry were not committed together"
            assert sum(a == "audit" for a, _ in log) == len(audits)
            rosters = conn.execute(sa.text("SELECT COUNT(*) FROM importrun WHERE kind = 'roster'")).scalar()
            assert sum(a == "roster import" for a, _ in log) == rosters
            return {"files": len(stored_files), "audits": len(audits),
                    "people": conn.execute(sa.text("SELECT COUNT(*) FROM person")).scalar(),
                    "candidates": conn.execute(sa.text("SELECT COUNT(*) FROM matchcandidate")).scalar()}
    finally:
        db.dispose()


def findings_of(path: Path) -> list[dict]:
    """The findings of a JSON report without what differs between runs (ids)."""
    return [{k: v for k, v in f.items() if k != "id"} for f in json.loads(path.read_text(encoding="utf-8"))["findings"]]


def copy_db(source: Path, target: Path) -> None:
    """The database file and its write-ahead log (a child ends without checkpointing)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy2(f"{source}{suffix}", f"{target}{suffix}")


def kill_moment(rng: random.Random, seconds: float) -> float:
    """Anywhere in the run; one kill in four in its last quarter, where commits, the log entry
    and the report are written."""
    if rng.random() < 0.25:
        return rng.uniform(0.75 * seconds, 1.02 * seconds)
    return rng.uniform(0, seconds)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kill") / "world"
    generate_world(out, profile="small", seed=7)
    return out


def test_sigkill_at_random_moments_leaves_a_consistent_rerunnable_database(world: Path, tmp_path: Path):
    rng = random.Random(SEED)
    zygote = Zygote(tmp_path)
    watchdog = threading.Timer(1500, zygote.proc.kill)  # a stuck child fails the test instead of hanging CI
    watchdog.start()
    figures: Counter = Counter()
    try:
        base = tmp_path / "baseline.db"
        report = tmp_path / "baseline.json"

        def phase_args(db_file: Path, phase: str, out: Path) -> list[str]:
            common = ["--db", str(db_file), "--quiet"]
            return common + {
                "roster": ["roster", "import", str(world / "roster")],
                "import": ["import", "--manifest", str(world / "manifest.csv")],
                "audit": ["audit", "--as-of", AS_OF, "--format", "json", "--out", str(out)],
            }[phase]

        # The uninterrupted run: the state after each phase, and how long each phase takes.
        assert zygote.run(["--db", str(base), "init", "--policy", "luton"])[1] == 0
        snaps = {"roster": tmp_path / "before-roster.db"}
        copy_db(base, snaps["roster"])
        expected, seconds = {}, {}
        for phase, following in (("roster", "import"), ("import", "audit"), ("audit", None)):
            killed, code, took = zygote.run(phase_args(base, phase, report))
            assert not killed and code == 0, (tmp_path / "children.log").read_text()[-2000:]
            seconds[phase] = took
            expected[phase] = snapshot(base)
            if phase == "roster":
                assert zygote.run(["--db", str(base), "exemptions", "import", str(world / "exemptions.csv")])[1] == 0
            if following:
                snaps[following] = tmp_path / f"before-{following}.db"
                copy_db(base, snaps[following])
        baseline_findings = findings_of(report)
        total_files = sum(expected["import"]["importedfile"].values())
        assert baseline_findings, "the small world must give findings, or the audit comparison proves nothing"

        work = tmp_path / "work.db"
        out = tmp_path / "work.json"
        for phase in ("roster", "import", "audit"):
            while figures[f"{phase} kills"] < TARGET[phase]:
                assert figures[f"{phase} finished before the kill"] < 10 * TARGET[phase], "kills never land"
                copy_db(snaps[phase], work)
                out.unlink(missing_ok=True)
                for _ in range(rng.choice((1, 1, 2, 3))):  # a chain: killed again while recovering
                    killed, code, _ = zygote.run(phase_args(work, phase, out), kill_after=kill_moment(rng, seconds[phase]))
                    counts = check_consistent(work)
                    if not killed:
                        assert code == 0
                        figures[f"{phase} finished before the kill"] += 1
                        break
                    figures[f"{phase} kills"] += 1
                    if phase == "import":
                        figures[f"import kills with {'some' if 0 < counts['files'] < total_files else 'no or all'} files in"] += 1
                    if phase == "audit" and counts["audits"]:
                        figures["audit kills after the audit was committed"] += 1
                killed, code, _ = zygote.run(phase_args(work, phase, out))
                assert not killed and code == 0, (tmp_path / "children.log").read_text()[-2000:]
                left = strays(zygote.proc.pid, wait=10)
                assert left == [], f"worker processes outlived a killed {phase}: {left}"
                check_consistent(work)
                assert snapshot(work) == expected[phase], f"re-run after kills differs ({phase})"
                if phase == "audit":
                    assert findings_of(out) == baseline_findings
                figures[f"{phase} re-runs identical"] += 1

        # The installed executable, killed at any moment including interpreter start-up.
        executable = Path(sys.executable).with_name("auditor")
        exec_seconds = None
        while figures["executable kills"] < EXEC_KILLS:
            assert figures["executable finished before the kill"] < 10 * EXEC_KILLS, "kills never land"
            copy_db(snaps["import"], work)
            started = time.perf_counter()
            proc = subprocess.Popen([str(executable), *phase_args(work, "import", out)], cwd=tmp_path,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env={**os.environ, "AUDITOR_USER": "kill-test"}, start_new_session=True)
            if exec_seconds is None:
                proc.wait()
                exec_seconds = time.perf_counter() - started
                continue
            try:
                proc.wait(timeout=rng.uniform(0.2 * exec_seconds, exec_seconds))
                figures["executable finished before the kill"] += 1
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                figures["executable kills"] += 1
                left = strays(proc.pid, wait=10)
                assert left == [], f"worker processes outlived the killed import: {left}"
            check_consistent(work)
            assert zygote.run(phase_args(work, "import", out))[1] == 0
            assert snapshot(work) == expected["import"]
    finally:
        watchdog.cancel()
        zygote.close()
    kills = sum(v for k, v in figures.items() if k.endswith(" kills"))
    print(f"\nSIGKILL figures (seed {SEED}): {kills} kills survived; " + "; ".join(
        f"{k}: {v}" for k, v in sorted(figures.items())))
    print("phase seconds (uninterrupted, forked): " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()))
    assert kills >= 50 * SCALE
