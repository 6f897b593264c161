"""`auditor demo`: a synthetic trust, the whole audit, and its reports — offline, in seconds.

The world comes from the project's own generator (``auditor.generator``); then the demo does
exactly what a DSL does: init, roster import, exemptions import, import of every export by the
manifest, audit under the default policy, and the reports.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from auditor.audit import run_audit
from auditor.config import Config
from auditor.db import Database
from auditor.exemptions import add_exemptions, read_exemptions
from auditor.ingest import import_manifest
from auditor.policy import load_policy
from auditor.progress import NULL_PROGRESS, Progress
from auditor.registry import report_writers
from auditor.reporting import generate_report
from auditor.roster import import_roster
from auditor.setup import initialise


@dataclass
class DemoResult:
    out: Path
    database: Path
    audit_id: int
    as_of: date
    policy: str
    staff: int
    files: int
    refused: int
    rows: int
    summary: dict
    reports: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def run_demo(out: Path, as_of: date, seed: int = 1, profile: str = "demo", policy_name: str = "default",
             progress: Progress = NULL_PROGRESS) -> DemoResult:
    from auditor.generator import generate_world

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    world = out / "world"
    if world.exists():
        shutil.rmtree(world)
    generate_world(world, profile=profile, seed=seed, as_of=as_of)
    db_path = out / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db = Database(db_path)
    initialise(db, policy_name, Config())
    policy = load_policy(policy_name)
    import_roster(db, [world / "roster"])
    if (world / "exemptions.csv").exists():
        add_exemptions(db, read_exemptions(world / "exemptions.csv"), policy)
    results = import_manifest(db, world / "manifest.csv", progress=progress)
    result = run_audit(db, as_of, policy, progress=progress, keep_unmatched=False)
    reports: dict[str, Path] = {}
    for fmt, name in (("html", "report.html"), ("json", "findings.json"), ("csv", "findings.csv"),
                      ("governor", "governor-summary.html"), ("letters", "letters")):
        if fmt in report_writers:
            target = out / name
            if fmt == "letters":
                target.mkdir(exist_ok=True)
            generate_report(db, fmt, target, result.audit_id)
            reports[fmt] = target
    db.dispose()
    return DemoResult(
        out=out, database=db_path, audit_id=result.audit_id, as_of=as_of, policy=f"{policy.name} {policy.version}",
        staff=len({r.staff_ref for r in results}), files=len(results),
        refused=sum(r.status == "refused" for r in results), rows=sum(r.rows for r in results),
        summary=result.summary, reports=reports, seconds=time.perf_counter() - started,
    )
