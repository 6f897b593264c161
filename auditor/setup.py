"""Initialising a database: migrations, and the policy the school chose."""

from __future__ import annotations

from auditor import auditlog
from auditor.db import Database, describe_url


def initialise(db: Database, policy: str, config) -> dict:
    from auditor.policy import load_policy

    chosen = load_policy(policy)  # validates before anything is written
    if getattr(config, "policy", None):
        load_policy(None, config)  # the config's own policy must be valid too
    applied = db.migrate()
    with db.begin() as conn:
        db.set_setting(conn, "policy", policy)
        auditlog.append(conn, "init", subject=None, details={"policy": chosen.name, "version": chosen.version,
                                                             "migrations": applied})
    return {"database": describe_url(db.url), "policy": f"{chosen.name} {chosen.version}", "migrations": applied}
