"""Rule kinds: who a rule is about. Each kind validates its parameters and decides, for one
roster person as they stand on the audit date, whether the rule applies and why.

Severity per connection kind lives on the rule (see ``auditor.policy``); these functions
only answer "is this person in the rule's category for this member of staff".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.registry import rule_kinds

SCOPES = ("own_school", "any_school")


@dataclass(frozen=True)
class Child:
    person_id: int
    relationship: str | None
    role: str  # pupil | past_pupil | future_pupil
    schools: frozenset[int]
    age: int | None


@dataclass(frozen=True)
class Subject:
    """A roster person on the audit date."""

    person_id: int
    ref: str
    kind: str  # pupil | contact | staff
    role: str  # pupil | past_pupil | future_pupil | parent_carer | staff
    schools: frozenset[int]
    age: int | None = None
    vulnerable: bool = False
    children: tuple[Child, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StaffMember:
    person_id: int
    ref: str
    schools: frozenset[int]
    job_title: str | None = None


def in_scope(scope: str, schools: frozenset[int], staff: StaffMember) -> bool:
    """own_school: a school the member of staff works at (all loaded schools for trust-wide
    staff with no school); any_school: any school whose roster is loaded."""
    if scope == "any_school" or not staff.schools:
        return True
    return bool(schools & staff.schools)


def _check_scope(params: dict) -> list[str]:
    scope = params.get("scope", "own_school")
    return [] if scope in SCOPES else [f"scope {scope!r} is not one of {', '.join(SCOPES)}"]


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_relationships(wanted: list[str]) -> list[str]:
    """Relationships the roster records (it normalises "Mother" to parent): any other word
    would make the rule cover nobody, so it is an error that suggests the roster's word."""
    from auditor.roster import RELATIONSHIP_CODES, normalise_relationship

    vocabulary = set(RELATIONSHIP_CODES.values()) | {"other"}
    problems = []
    for word in wanted:
        if word not in vocabulary:
            near = normalise_relationship(word)
            hint = f"did you mean {near!r}? " if near else ""
            problems.append(f"relationships: {word!r} is not a relationship the roster records "
                            f"({hint}relationships: {', '.join(sorted(vocabulary))})")
    return problems


def _check_known(params: dict, known: set[str]) -> list[str]:
    return [f"unknown parameter {k!r}" for k in params if k not in known]


@rule_kinds.register("current_pupil")
class CurrentPupil:
    """A pupil on roll on the audit date (of this school, or of any loaded school)."""

    @staticmethod
    def validate(params: dict) -> list[str]:
        return _check_scope(params) + _check_known(params, {"scope"})

    @staticmethod
    def applies(params: dict, subject: Subject, staff: StaffMember) -> str | None:
        if subject.role != "pupil":
            return None
        if not in_scope(params.get("scope", "own_school"), subject.schools, staff):
            return None
        return "current pupil" + ("" if subject.schools & staff.schools else " of another school")


@rule_kinds.register("past_pupil")
class PastPupil:
    """A pupil who has left, under ``age_below`` on the audit date (any age when omitted).
    A past pupil with no date of birth is in scope: the DSL checks the age."""

    @staticmethod
    def validate(params: dict) -> list[str]:
        problems = _check_scope(params) + _check_known(params, {"scope", "age_below"})
        age = params.get("age_below")
        if age is not None and (not isinstance(age, int) or isinstance(age, bool) or not 1 <= age <= 120):
            problems.append("age_below must be a whole number of years")
        return problems

    @staticmethod
    def applies(params: dict, subject: Subject, staff: StaffMember) -> str | None:
        if subject.role != "past_pupil":
            return None
        if not in_scope(params.get("scope", "own_school"), subject.schools, staff):
            return None
        limit = params.get("age_below")
        if limit is None:
            return "past pupil"
        if subject.age is None:
            return f"past pupil, age unknown (rule: under {limit})"
        if subject.age < limit:
            return f"past pupil aged {subject.age} (under {limit})"
        return None


@rule_kinds.register("pupil_family")
class PupilFamily:
    """A parent, carer or other contact of a pupil in scope (``of`` pupil and/or past_pupil;
    ``relationships`` "any" or a list of normalised relationships)."""

    @staticmethod
    def validate(params: dict) -> list[str]:
        problems = _check_scope(params) + _check_known(params, {"scope", "relationships", "of"})
        # An empty list would make the rule cover nobody: refused, like any wrong type.
        rel = params.get("relationships", "any")
        if rel != "any" and not (_is_strings(rel) and rel):
            problems.append("relationships must be \"any\" or a list")
        elif rel != "any":
            problems += _check_relationships(rel)
        of = params.get("of", ["pupil"])
        if not (_is_strings(of) and of and set(of) <= {"pupil", "past_pupil"}):
            problems.append("of must be a list of pupil and/or past_pupil")
        return problems

    @staticmethod
    def applies(params: dict, subject: Subject, staff: StaffMember) -> str | None:
        if subject.role != "parent_carer":
            return None
        wanted = params.get("relationships", "any")
        of = set(params.get("of", ["pupil"]))
        for child in subject.children:
            if child.role not in of:
                continue
            if wanted != "any" and (child.relationship or "other") not in wanted:
                continue
            if in_scope(params.get("scope", "own_school"), child.schools, staff):
                what = (child.relationship or "contact").replace("_", " ")
                return f"{what} of a {'current' if child.role == 'pupil' else 'past'} pupil"
        return None


@rule_kinds.register("vulnerable_adult")
class VulnerableAdult:
    """A person the roster marks as a vulnerable adult (``vulnerable`` column)."""

    @staticmethod
    def validate(params: dict) -> list[str]:
        return _check_known(params, set())

    @staticmethod
    def applies(params: dict, subject: Subject, staff: StaffMember) -> str | None:
        return "vulnerable adult" if subject.vulnerable else None


@rule_kinds.register("alias_account")
class AliasAccount:
    """Undeclared or alias accounts; evaluated by the graph analysis, not per person."""

    @staticmethod
    def validate(params: dict) -> list[str]:
        return _check_known(params, set())

    @staticmethod
    def applies(params: dict, subject: Subject, staff: StaffMember) -> str | None:
        return None
