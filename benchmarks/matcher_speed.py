"""The matcher alone, on one core: contacts per second and peak memory on a real database.

    .venv/bin/python benchmarks/matcher_speed.py DB [--accounts 50000] [--as-of 2026-11-01]

Reads the roster and a random sample of the imported contact accounts from DB (run it after
`auditor import` and before the first audit, which forgets contacts who matched nobody), builds
the roster index and matches every sampled account in this one process, as an audit worker
does. ``benchmarks/trust.py --matcher`` runs it on the trust-sized world.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from auditor.audit import load_roster
from auditor.db import Database
from auditor.match.engine import AccountView, RosterIndex, match_account
from auditor.models import Account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--as-of", default="2026-11-01")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    db = Database(args.db)
    accounts = Account.__table__
    with db.engine.connect() as conn:
        roster = load_roster(conn, as_of)
        rows = list(conn.execute(sa.select(accounts.c.id, accounts.c.platform, accounts.c.display_name,
                                           accounts.c.username, accounts.c.phones, accounts.c.emails)
                                 .where(accounts.c.purged.is_(False))))
    random.Random(1).shuffle(rows)
    views = [AccountView(r[0], r[1], r[2], r[3], tuple(r[4] or ()), tuple(r[5] or ())) for r in rows[:args.accounts]]
    started = time.process_time()
    index = RosterIndex(roster.entries, as_of.year)
    built = time.process_time() - started
    gc.freeze()  # as run_matching does
    started = time.process_time()
    linked = sum(1 for view in views if any(c.band != "no_link" for c in match_account(index, view)))
    seconds = time.process_time() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"roster_people": len(roster.entries), "accounts": len(views), "linked": linked,
               "index_seconds": round(built, 2), "match_seconds": round(seconds, 2),
               "contacts_per_second": round(len(views) / seconds), "peak_mb": round(peak_mb)}
    print(f"matcher: {len(views):,} contacts against {len(roster.entries):,} roster people on one core: "
          f"{figures['contacts_per_second']:,} contacts/s (index {built:.1f} s), {linked:,} linked, "
          f"peak {peak_mb:.0f} MB")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
