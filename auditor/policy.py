"""Policies as data: a preset (TOML shipped in the package) or a school's own copy in its
config, validated with every problem reported at once.

A policy is a list of rules; each rule has a kind (a registered rule kind, see
``auditor.rules``), parameters, the clause it quotes, and a severity per connection kind.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from importlib import resources

from auditor.errors import ConfigError, NotFound
from auditor.records import DIRECTION, HISTORY_KINDS, LIVE_KINDS

SEVERITIES = ("breach", "breach_review", "report", "advisory", "none")
SEVERITY_RANK = {"breach": 3, "breach_review": 3, "report": 2, "advisory": 1, "none": 0}
KIND_GROUPS = {"live": LIVE_KINDS, "history": HISTORY_KINDS}


@dataclass
class Rule:
    id: str
    kind: str
    clause: str
    severity: dict[str, str]
    params: dict = field(default_factory=dict)

    def severity_for(self, connection_kind: str) -> str:
        """Severity of this rule for one connection kind: the kind's own entry, else its group's
        (``live``), else none. History kinds (removed, blocked ...) are never findings, whatever
        a rule built by hand says: the report shows them as context."""
        if connection_kind in HISTORY_KINDS:
            return "none"
        if connection_kind in self.severity:
            return self.severity[connection_kind]
        if connection_kind == "request_received":
            return "none"
        if connection_kind in LIVE_KINDS and "live" in self.severity:
            return self.severity["live"]
        return "none"


@dataclass
class Policy:
    name: str
    version: str
    title: str
    summary: str
    rules: list[Rule]
    exemptions_allowed: list[str] | str = "any"
    staff_roles: list[str] | str = "all"
    platforms: list[str] | str = "all"
    no_connection_rule: bool = False
    exempt_accounts: list[str] = field(default_factory=list)

    def allows_exemption(self, relationship: str) -> bool:
        if self.exemptions_allowed == "any":
            return True
        return relationship.strip().lower() in {r.lower() for r in self.exemptions_allowed}

    def covers_staff(self, job_title: str | None) -> bool:
        if self.staff_roles == "all":
            return True
        return (job_title or "").strip().lower() in {r.lower() for r in self.staff_roles}

    def covers_platform(self, platform: str) -> bool:
        return self.platforms == "all" or platform in self.platforms

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise NotFound(f"policy {self.name} has no rule {rule_id!r}")


def preset_names() -> list[str]:
    folder = resources.files("auditor.data") / "policies"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    if name not in preset_names():
        raise NotFound(f"unknown policy preset {name!r} (presets: {', '.join(preset_names())})")
    return (resources.files("auditor.data") / "policies" / f"{name}.toml").read_text(encoding="utf-8")


def parse_policy(raw: dict, source: str) -> Policy:
    """Build a policy from its TOML table, collecting every problem with where it is."""
    from auditor.registry import rule_kinds

    problems: list[str] = []
    for key in ("name", "version", "rules"):
        if key not in raw:
            problems.append(f"missing '{key}'")
    known_top = {"name", "version", "title", "summary", "rules", "exemptions", "staff_roles", "platforms",
                 "no_connection_rule", "exempt_accounts", "preset", "overrides"}
    problems += [f"unknown key '{k}'" for k in raw if k not in known_top]
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    raw_rules = raw.get("rules", [])
    if not isinstance(raw_rules, list):
        problems.append("'rules' must be a list of [[rules]] tables")
        raw_rules = []
    for index, item in enumerate(raw_rules, start=1):
        where = f"rules[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where} is not a table")
            continue
        rule_id = item.get("id")
        where = f"rules[{index}] ({rule_id})" if rule_id else where
        if not rule_id:
            problems.append(f"{where}: missing 'id'")
        elif rule_id in seen_ids:
            problems.append(f"{where}: duplicate rule id")
        seen_ids.add(rule_id or "")
        kind = item.get("kind")
        if kind not in rule_kinds:
            problems.append(f"{where}: unknown kind {kind!r} (kinds: {', '.join(rule_kinds.names())})")
        if not item.get("clause"):
            problems.append(f"{where}: missing 'clause' (the text the finding quotes)")
        severity = item.get("severity", {})
        if not isinstance(severity, dict) or not severity:
            problems.append(f"{where}: 'severity' must map connection kinds (or 'live') to a severity")
            severity = {}
        for conn_kind, value in severity.items():
            if conn_kind not in DIRECTION and conn_kind not in KIND_GROUPS:
                problems.append(f"{where}.severity: unknown connection kind {conn_kind!r}")
            if value not in SEVERITIES:
                problems.append(f"{where}.severity.{conn_kind}: {value!r} is not one of {', '.join(SEVERITIES)}")
            elif (conn_kind in HISTORY_KINDS or conn_kind == "history") and value != "none":
                problems.append(f"{where}.severity.{conn_kind}: {conn_kind} is history (removed, blocked ...), shown "
                                f"for context in the report and never a finding; it can only be \"none\"")
        params = {k: v for k, v in item.items() if k not in ("id", "kind", "clause", "severity")}
        if kind in rule_kinds:
            problems += [f"{where}: {p}" for p in rule_kinds.get(kind).validate(params)]
        rules.append(Rule(id=rule_id or f"rule-{index}", kind=kind or "", clause=item.get("clause", ""),
                          severity=dict(severity), params=params))
    exemptions = raw.get("exemptions", {})
    allowed = exemptions.get("allowed", "any") if isinstance(exemptions, dict) else "any"
    if allowed != "any" and not (isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)):
        problems.append("exemptions.allowed must be \"any\" or a list of relationships")
    for key in ("staff_roles", "platforms"):
        value = raw.get(key, "all")
        if value != "all" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            problems.append(f"'{key}' must be \"all\" or a list of strings")
    if problems:
        raise ConfigError(problems, source=source)
    return Policy(
        name=str(raw["name"]), version=str(raw["version"]), title=raw.get("title", raw["name"]),
        summary=" ".join(str(raw.get("summary", "")).split()), rules=rules, exemptions_allowed=allowed,
        staff_roles=raw.get("staff_roles", "all"), platforms=raw.get("platforms", "all"),
        no_connection_rule=bool(raw.get("no_connection_rule", False)),
        exempt_accounts=list(raw.get("exempt_accounts", [])),
    )


def _apply_overrides(raw: dict, overrides: dict, source: str) -> dict:
    """``[policy.overrides.<rule-id>]`` tables change one rule's parameters."""
    merged = copy.deepcopy(raw)
    problems = []
    by_id = {r.get("id"): r for r in merged.get("rules", [])}
    for rule_id, changes in overrides.items():
        if rule_id not in by_id:
            problems.append(f"overrides.{rule_id}: the preset has no such rule (rules: {', '.join(by_id)})")
        elif not isinstance(changes, dict):
            problems.append(f"overrides.{rule_id} must be a table")
        else:
            for key, value in changes.items():
                if key == "severity" and isinstance(value, dict):
                    by_id[rule_id].setdefault("severity", {}).update(value)
                else:
                    by_id[rule_id][key] = value
    if problems:
        raise ConfigError(problems, source=source)
    return merged


def load_policy(name: str | None = None, config=None) -> Policy:
    """A preset by name (``--policy``: the preset as shipped), else the config's ``[policy]``
    table (a whole policy, or ``preset`` plus ``overrides``), else ``default``."""
    if name:
        return parse_policy(tomllib.loads(preset_text(name)), f"preset {name}")
    table = dict(getattr(config, "policy", {}) or {})
    source = str(getattr(config, "path", None) or "config") + " [policy]"
    if not table:
        return parse_policy(tomllib.loads(preset_text("default")), "preset default")
    if "rules" in table:
        return parse_policy(table, source)
    preset = table.pop("preset", None) or "default"
    base = tomllib.loads(preset_text(preset))
    overrides = table.pop("overrides", {})
    base.update(table)
    return parse_policy(_apply_overrides(base, overrides, source), source)


def resolve_policy(cli_name: str | None, config, chosen_at_init: str | None) -> Policy:
    """The policy in force: --policy, else the config's [policy], else the one chosen at init."""
    if cli_name:
        return load_policy(cli_name)
    if getattr(config, "policy", None):
        return load_policy(None, config)
    return load_policy(chosen_at_init or "default")
