"""Configuration: a TOML file (``--config``, ``AUDITOR_CONFIG`` or ./auditor.toml), read once.

Only what a school changes lives here: the database, the policy (a preset name or a copied
and edited preset), roster column mappings, retention. Every problem is reported at once.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from auditor.errors import ConfigError

KNOWN_SECTIONS = {"database", "policy", "roster", "retention", "matching", "selfcheck", "wonde", "reports"}


@dataclass
class Config:
    path: Path | None = None
    database: str | None = None
    policy: dict = field(default_factory=dict)
    roster: dict = field(default_factory=dict)
    retention: dict = field(default_factory=dict)
    matching: dict = field(default_factory=dict)
    selfcheck: dict = field(default_factory=dict)
    wonde: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)

    @property
    def keep_unmatched(self) -> bool:
        return bool(self.retention.get("keep_unmatched_contacts", False))


def load_config(path: str | os.PathLike | None = None) -> Config:
    explicit = path or os.environ.get("AUDITOR_CONFIG")
    candidate = Path(explicit) if explicit else Path("auditor.toml")
    if not candidate.exists():
        if explicit:
            raise ConfigError(f"config file {candidate} does not exist")
        return Config()
    try:
        raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(candidate)) from None
    problems = [f"unknown section [{key}]" for key in raw if key not in KNOWN_SECTIONS]
    for key in KNOWN_SECTIONS - {"database"}:
        if key in raw and not isinstance(raw[key], dict):
            problems.append(f"[{key}] must be a table")
    database = raw.get("database", {})
    if not isinstance(database, dict):
        problems.append("[database] must be a table")
        database = {}
    if problems:
        raise ConfigError(problems, source=str(candidate))
    config = Config(path=candidate, database=database.get("url"))
    for key in KNOWN_SECTIONS - {"database"}:
        setattr(config, key, raw.get(key, {}))
    return config
