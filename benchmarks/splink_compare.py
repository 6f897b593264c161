"""Splink on DuckDB, side by side with auditor's matcher, on the same contacts and roster.

    .venv/bin/python benchmarks/splink_compare.py DB [--as-of 2026-11-01]

Reads the contact accounts and roster people out of an auditor database (after an import),
splits each contact's display name (or handle) into first and last name the simple way, and
links them to the roster with a conventional Splink model and its usual training: link_only,
blocking on surname and on forename + birth year, name comparisons with term-frequency
adjustments, birth year exact; the prior from a deterministic rule, u by random sampling, m by
expectation maximisation blocked on forename + surname (EM blocked on surname alone takes
minutes and over 6 GB here); predictions above 0.5. It prints its wall time and the peak
resident memory of the process (DuckDB's memory included). Needs ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def load_frames(db_url: str):
    import pandas as pd
    import sqlalchemy as sa

    from auditor.db import Database
    from auditor.match.names import fold, parse_handle
    from auditor.models import Account, Person

    db = Database(db_url)
    contacts, roster = [], []
    with db.engine.connect() as conn:
        for row in conn.execute(sa.select(Account.__table__.c.id, Account.__table__.c.display_name,
                                          Account.__table__.c.username)):
            tokens = fold(row.display_name).split() if row.display_name else list(parse_handle(row.username).chunks)
            if not tokens:
                continue
            numbers = re.findall(r"(?:19|20)\d\d", row.username or "")
            contacts.append({"unique_id": f"a{row.id}", "forename": tokens[0],
                             "surname": tokens[-1] if len(tokens) > 1 else None,
                             "birth_year": int(numbers[0]) if numbers else None})
        for row in conn.execute(sa.select(Person.__table__)):
            roster.append({"unique_id": f"p{row.id}", "forename": fold(row.preferred_forename or row.legal_forename or ""),
                           "surname": fold(row.legal_surname or ""),
                           "birth_year": row.date_of_birth.year if row.date_of_birth else None})
    db.dispose()
    return pd.DataFrame(contacts), pd.DataFrame(roster)


def link(contacts, roster) -> int:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("forename").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.ExactMatch("birth_year"),
        ],
        blocking_rules_to_generate_predictions=[block_on("surname"), block_on("forename", "birth_year")],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    frames = [db_api.register(contacts, dataset_display_name="contacts"),
              db_api.register(roster, dataset_display_name="roster")]
    linker = Linker(frames, settings, log_level=40)
    # Splink's usual training: prior from a deterministic rule, u by random sampling, m by EM.
    linker.training.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "birth_year")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("forename", "surname"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    return predictions.as_duckdbpyrelation().count("*").fetchall()[0][0]


def compare(db_url: str, as_of: date | None = None) -> dict:
    contacts, roster = load_frames(db_url)
    started = time.perf_counter()
    links = link(contacts, roster)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"contacts": len(contacts), "roster": len(roster), "links": links, "seconds": round(seconds, 1),
              "peak_mb": round(peak_mb)}
    print(f"{'splink link (DuckDB)':28} {seconds:7.1f} s  {peak_mb:7.0f} MB peak  "
          f"({len(contacts)} contacts x {len(roster)} roster people, {links} links)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = compare(args.db)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
