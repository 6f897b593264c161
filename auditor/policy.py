"""Policies as data: a preset (TOML shipped in the package) or a school's own copy in its
config, validated with every problem reported at once.

A policy is a list of rules; each rule has a kind (a registered rule kind, see
``auditor.rules``), parameters, the clause it quotes, and a severity per connection kind.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from datetime import date
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
        if self.platforms == "all":
            return True
        return platform.strip().lower() in {p.lower() for p in self.platforms}

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise NotFound(f"policy {self.name} has no rule {rule_id!r}")


def known_platforms() -> set[str]:
    """The platforms a connection can be on: every export and API connector's (as the
    self-check collects them), so a config cannot name one no export will ever carry."""
    from auditor.registry import api_connectors, export_connectors

    found: set[str] = set()
    for registry in (export_connectors, api_connectors):
        for name, cls in registry.items():
            found.add(getattr(cls, "platform", None) or name)
    return found


def preset_names() -> list[str]:
    folder = resources.files("auditor.data") / "policies"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    if name not in preset_names():
        raise NotFound(f"unknown policy preset {name!r} (presets: {', '.join(preset_names())})")
    return (resources.files("auditor.data") / "policies" / f"{name}.toml").read_text(encoding="utf-8")


# What a policy table may hold; a config's [policy] table may add CONFIG_KEYS (start from a
# preset and change some rules) unless it writes its own rules.
POLICY_KEYS = ("name", "version", "title", "summary", "rules", "exemptions", "staff_roles", "platforms",
               "no_connection_rule", "exempt_accounts")
CONFIG_KEYS = ("preset", "overrides")


def _shown(value: object) -> str:
    """A config value as a message shows it: short, so one long table cannot drown the rest."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _read_settings(raw: dict) -> tuple[dict, list[str]]:
    """Everything of a policy table but its rules, type-checked: a wrong type is an error,
    never converted (a string is not a list of one name, "no" is not true)."""
    problems = [f"unknown key '{k}'" for k in raw if k not in POLICY_KEYS]
    settings: dict = {}
    for key in ("name", "title", "summary"):
        value = raw.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problems.append(f"'{key}' must be text, got {_shown(value)}")
    version = raw.get("version")
    if version is not None and not (isinstance(version, str | int | date) and not isinstance(version, bool)
                                    and str(version).strip()):
        problems.append(f"'version' must be text such as \"2025-09\", got {_shown(version)}")
    # Exemptions loosen the policy, so anything but the expected shape is an error, never "any".
    exemptions = raw.get("exemptions", {})
    allowed: object = []
    if not isinstance(exemptions, dict):
        problems.append(f"'exemptions' must be a table ([exemptions] allowed = \"any\" or a list of relationships), "
                        f"got {_shown(exemptions)}")
    else:
        problems += [f"exemptions: unknown key '{k}' (the only key is 'allowed')" for k in exemptions if k != "allowed"]
        allowed = exemptions.get("allowed", "any")
        if allowed != "any" and not _is_strings(allowed):
            problems.append(f"exemptions.allowed must be \"any\" or a list of relationships, got {_shown(allowed)}")
    settings["exemptions_allowed"] = allowed
    for key, what in (("staff_roles", "job titles"), ("platforms", "platform names")):
        value = raw.get(key, "all")
        if isinstance(value, str) and value.strip().lower() == "all":
            settings[key] = "all"
        elif _is_strings(value) and value and all(v.strip() for v in value):
            settings[key] = [v.strip() for v in value]
        else:
            problems.append(f"'{key}' must be \"all\" or a non-empty list of {what}, got {_shown(value)}")
    if settings.get("platforms", "all") != "all":
        # Rows carry lower-case platform names: "Facebook" would cover nothing.
        settings["platforms"] = [p.lower() for p in settings["platforms"]]
        known = known_platforms()
        problems += [f"platforms: unknown platform {p!r} (platforms: {', '.join(sorted(known))})"
                     for p in settings["platforms"] if p not in known]
    no_rule = raw.get("no_connection_rule", False)
    if not isinstance(no_rule, bool):
        problems.append(f"'no_connection_rule' must be true or false, got {_shown(no_rule)}")
    settings["no_connection_rule"] = no_rule is True
    accounts = raw.get("exempt_accounts", [])
    if not _is_strings(accounts):
        problems.append(f"'exempt_accounts' must be a list of account names, got {_shown(accounts)}")
    settings["exempt_accounts"] = list(accounts) if _is_strings(accounts) else []
    return settings, problems


def _read_rules(raw_rules: object) -> tuple[list[Rule], list[str]]:
    """The [[rules]] tables, each problem named by the rule's place and id."""
    from auditor.registry import rule_kinds

    if not isinstance(raw_rules, list):
        return [], ["'rules' must be a list of [[rules]] tables"]
    kinds = ", ".join(rule_kinds.names())
    problems: list[str] = []
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    for index, item in enumerate(raw_rules, start=1):
        where = f"rules[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where} is not a table")
            continue
        rule_id = item.get("id")
        if isinstance(rule_id, str) and rule_id:
            where = f"rules[{index}] ({rule_id})"
        if rule_id is None or rule_id == "":
            problems.append(f"{where}: missing 'id'")
        elif not isinstance(rule_id, str):
            problems.append(f"{where}: 'id' must be text, got {_shown(rule_id)}")
        elif rule_id in seen_ids:
            problems.append(f"{where}: duplicate rule id")
        else:
            seen_ids.add(rule_id)
        kind = item.get("kind")
        if kind is None:
            problems.append(f"{where}: missing 'kind' (kinds: {kinds})")
        elif not isinstance(kind, str):
            problems.append(f"{where}: 'kind' must be the name of a rule kind (kinds: {kinds}), got {_shown(kind)}")
        elif kind not in rule_kinds:
            problems.append(f"{where}: unknown kind {kind!r} (kinds: {kinds})")
        clause = item.get("clause")
        if clause is None or (isinstance(clause, str) and not clause.strip()):
            problems.append(f"{where}: missing 'clause' (the text the finding quotes)")
        elif not isinstance(clause, str):
            problems.append(f"{where}: 'clause' must be text (the text the finding quotes), got {_shown(clause)}")
        severity = item.get("severity", {})
        if not isinstance(severity, dict) or not severity:
            problems.append(f"{where}: 'severity' must map connection kinds (or 'live') to a severity")
            severity = {}
        problems += [f"{where}{p}" for p in _severity_problems(severity)]
        params = {k: v for k, v in item.items() if k not in ("id", "kind", "clause", "severity")}
        if isinstance(kind, str) and kind in rule_kinds:
            problems += [f"{where}: {p}" for p in rule_kinds.get(kind).validate(params)]
        rules.append(Rule(id=rule_id if isinstance(rule_id, str) and rule_id else f"rule-{index}",
                          kind=kind if isinstance(kind, str) else "",
                          clause=clause if isinstance(clause, str) else "", severity=dict(severity), params=params))
    return rules, problems


def _severity_problems(severity: dict) -> list[str]:
    """A rule's severity table: known connection kinds (or groups) to known severities, and
    history (removed, blocked ...) never more than none: POLICIES.md shows it as context."""
    problems = []
    for conn_kind, value in severity.items():
        if conn_kind not in DIRECTION and conn_kind not in KIND_GROUPS:
            problems.append(f".severity: unknown connection kind {conn_kind!r}")
        if not isinstance(value, str) or value not in SEVERITIES:
            problems.append(f".severity.{conn_kind}: {_shown(value)} is not one of {', '.join(SEVERITIES)}")
        elif (conn_kind in HISTORY_KINDS or conn_kind == "history") and value != "none":
            problems.append(f".severity.{conn_kind}: {conn_kind} is history (removed, blocked ...), shown "
                            f"for context in the report and never a finding; it can only be \"none\"")
    return problems


def _read_policy(raw: dict) -> tuple[Policy | None, list[str]]:
    """A whole policy table (a preset, or a school's own with its rules) and its problems."""
    problems = [f"missing '{key}'" for key in ("name", "version", "rules") if key not in raw]
    settings, more = _read_settings(raw)
    problems += more
    rules, more = _read_rules(raw.get("rules", []))
    problems += more
    if isinstance(raw.get("rules"), list) and not raw["rules"]:
        problems.append("'rules' is empty: a policy with no rules would find nothing")
    if problems:
        return None, problems
    version = raw["version"]
    return Policy(
        name=raw["name"], version=version.isoformat() if isinstance(version, date) else str(version),
        title=raw.get("title", raw["name"]), summary=" ".join(raw.get("summary", "").split()), rules=rules,
        exemptions_allowed=settings["exemptions_allowed"], staff_roles=settings["staff_roles"],
        platforms=settings["platforms"], no_connection_rule=settings["no_connection_rule"],
        exempt_accounts=settings["exempt_accounts"],
    ), []


def parse_policy(raw: dict, source: str) -> Policy:
    """Build a policy from its TOML table, collecting every problem with where it is."""
    policy, problems = _read_policy(raw)
    if policy is None:
        raise ConfigError(problems, source=source)
    return policy


def _apply_overrides(merged: dict, overrides: dict) -> list[str]:
    """``[policy.overrides.<rule-id>]`` tables change one rule's parameters (in ``merged``, a
    copy of the preset); a severity table changes only the connection kinds it names."""
    problems = []
    by_id = {r["id"]: r for r in merged.get("rules", []) if isinstance(r, dict) and isinstance(r.get("id"), str)}
    for rule_id, changes in overrides.items():
        if rule_id not in by_id:
            problems.append(f"overrides.{rule_id}: the preset has no such rule (rules: {', '.join(by_id)})")
        elif not isinstance(changes, dict):
            problems.append(f"overrides.{rule_id} must be a table, got {_shown(changes)}")
        else:
            for key, value in changes.items():
                if key == "severity" and isinstance(value, dict):
                    by_id[rule_id].setdefault("severity", {}).update(value)
                else:
                    by_id[rule_id][key] = value
    return problems


def _from_preset(table: dict) -> tuple[Policy | None, list[str]]:
    """A config's ``preset`` (default: ``default``) changed by its ``overrides`` and settings.
    With no preset to start from, what the school wrote is still checked, all at once."""
    problems: list[str] = []
    preset = table.get("preset", "default")
    base = None
    if isinstance(preset, str) and preset in preset_names():
        base = tomllib.loads(preset_text(preset))
    else:
        problems.append(f"'preset' must be the name of a preset ({', '.join(preset_names())}), got {_shown(preset)}")
    overrides = table.get("overrides", {})
    if not isinstance(overrides, dict):
        problems.append(f"'overrides' must be a table of [policy.overrides.<rule id>] tables, got {_shown(overrides)}")
        overrides = {}
    settings = {k: v for k, v in table.items() if k not in CONFIG_KEYS}
    if base is None:
        problems += _read_settings(settings)[1]
        problems += [f"overrides.{rule_id} must be a table, got {_shown(changes)}"
                     for rule_id, changes in overrides.items() if not isinstance(changes, dict)]
        return None, problems
    merged = copy.deepcopy(base)
    exemptions = settings.pop("exemptions", None)
    merged.update(settings)
    if isinstance(exemptions, dict) and isinstance(merged.get("exemptions"), dict):
        merged["exemptions"].update(exemptions)  # a key left out keeps the preset's (luton's list)
    elif exemptions is not None:
        merged["exemptions"] = exemptions
    problems += _apply_overrides(merged, overrides)
    policy, more = _read_policy(merged)
    problems += more
    return (None if problems else policy), problems


def load_policy(name: str | None = None, config=None) -> Policy:
    """A preset by name (``--policy``: the preset as shipped), else the config's ``[policy]``
    table (a whole policy with its own ``rules``, or ``preset`` plus ``overrides``), else
    ``default``. A config's problems are one ConfigError naming the config, all at once."""
    if name:
        return parse_policy(tomllib.loads(preset_text(name)), f"preset {name}")
    table = getattr(config, "policy", None) or {}
    path = str(getattr(config, "path", None) or "config")
    if not isinstance(table, dict):
        raise ConfigError("[policy] must be a table", source=path)
    if not table:
        return parse_policy(tomllib.loads(preset_text("default")), "preset default")
    source = f"{path} [policy]"
    if "rules" in table:
        # A policy with its own rules is complete: a preset or overrides beside it would be
        # silently ignored, so they are an error.
        extra = " and ".join(f"'{key}'" for key in CONFIG_KEYS if key in table)
        problems = [f"{extra} cannot be combined with your own [[policy.rules]] (a policy with its own rules is "
                    f"complete; remove {extra}, or remove the rules to start from a preset)"] if extra else []
        policy, more = _read_policy({k: v for k, v in table.items() if k not in CONFIG_KEYS})
        problems += more
    else:
        policy, problems = _from_preset(table)
    if problems or policy is None:
        raise ConfigError(problems, source=source)
    return policy


def resolve_policy(cli_name: str | None, config, chosen_at_init: str | None) -> Policy:
    """The policy in force: --policy, else the config's [policy], else the one chosen at init."""
    if cli_name:
        return load_policy(cli_name)
    if getattr(config, "policy", None):
        return load_policy(None, config)
    return load_policy(chosen_at_init or "default")
