"""The policy engine: the shipped presets read as POLICIES.md describes them, the rule kinds,
severities per connection kind, a school's own copy of a preset, and validation that reports
every problem at once.

Subjects are built directly (``Subject``, ``StaffMember``, ``Child``), and the strictest rule
for a connection is found the way the audit does: each rule kind's ``applies`` and the rule's
``severity_for`` the connection kind. All people here are invented.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import Config, load_config
from auditor.errors import AuditorError, ConfigError, NotFound
from auditor.policy import SEVERITIES, SEVERITY_RANK, Policy, Rule, load_policy, parse_policy, preset_names, resolve_policy
from auditor.records import DIRECTION, HISTORY_KINDS, LIVE_KINDS
from auditor.registry import Registry, rule_kinds
from auditor.rules import Child, StaffMember, Subject

PRESETS = ["bedford", "default", "hardmoor", "hertfordshire", "luton", "milton-keynes"]
OWN, OTHER = 1, 2
TEACHER = StaffMember(900, "T900", frozenset({OWN}), "Teacher")
TRUST_WIDE = StaffMember(901, "T901", frozenset(), "Trust Safeguarding Lead")


def current_pupil(school: int = OWN, age: int | None = 10) -> Subject:
    return Subject(10, "P10", "pupil", "pupil", frozenset({school}), age=age)


def past_pupil(age: int | None, school: int = OWN) -> Subject:
    return Subject(11, "P11", "pupil", "past_pupil", frozenset({school}), age=age)


def future_pupil() -> Subject:
    return Subject(12, "P12", "pupil", "future_pupil", frozenset({OWN}), age=4)


def parent_of(child_role: str = "pupil", relationship: str | None = "mother", school: int = OWN,
              child_age: int | None = 10) -> Subject:
    child = Child(10, relationship, child_role, frozenset({school}), child_age)
    return Subject(20, "C20", "contact", "parent_carer", frozenset({school}), children=(child,))


def vulnerable_adult() -> Subject:
    return Subject(30, "C30", "contact", "parent_carer", frozenset(), age=34, vulnerable=True)


def colleague() -> Subject:
    return Subject(40, "T40", "staff", "staff", frozenset({OWN}), age=41)


def strictest(policy: Policy, subject: Subject, kind: str, staff: StaffMember = TEACHER) -> tuple[str, str | None]:
    """(severity, rule id) of the strictest rule that applies, as the audit chooses it."""
    best_severity, best_rule = "none", None
    for rule in policy.rules:
        if not rule_kinds.get(rule.kind).applies(rule.params, subject, staff):
            continue
        severity = rule.severity_for(kind)
        if SEVERITY_RANK[severity] > SEVERITY_RANK[best_severity]:
            best_severity, best_rule = severity, rule.id
    return best_severity, best_rule


def severity(preset: str, subject: Subject, kind: str, staff: StaffMember = TEACHER) -> str:
    return strictest(load_policy(preset), subject, kind, staff)[0]


def all_subjects() -> list[Subject]:
    return [current_pupil(), current_pupil(OTHER), past_pupil(15), past_pupil(30), past_pupil(None), future_pupil(),
            parent_of(), parent_of("past_pupil", child_age=25), vulnerable_adult(), colleague()]


def school_config(tmp_path: Path, policy: dict) -> Config:
    return Config(path=tmp_path / "school.toml", policy=policy)


def minimal_rule(**changes) -> dict:
    rule = {"id": "pupils", "kind": "current_pupil", "clause": "Do not befriend pupils.", "severity": {"live": "breach"}}
    rule.update(changes)
    return rule


# -- the presets -----------------------------------------------------------------------------
def test_the_six_presets_are_shipped() -> None:
    assert preset_names() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_with_quoted_clauses_and_known_kinds(name: str) -> None:
    policy = load_policy(name)
    assert policy.name == name
    assert policy.title and policy.version
    assert policy.summary and "\n" not in policy.summary
    assert policy.rules
    assert len({r.id for r in policy.rules}) == len(policy.rules)
    for rule in policy.rules:
        assert rule.kind in rule_kinds
        assert rule.clause.strip()
        assert rule.severity
        assert set(rule.severity.values()) <= set(SEVERITIES)
        assert set(rule.severity) <= set(DIRECTION) | {"live", "history"}


@pytest.mark.parametrize(("name", "fragment"), [
    ("milton-keynes", "Do not invite or accept as 'friends' on such sites any child or vulnerable adult"),
    ("luton", "any current pupils of the school, or from any other educational establishment"),
    ("luton", "past pupils whilst they are below the age of nineteen"),
    ("luton", "alias social media account to circumvent the policy"),
    ("bedford", "pupils, past or present, are never listed as approved contacts"),
    ("hardmoor", "Staff must not initiate friendships with pupils, or pupils' family members/friends"),
    ("hertfordshire", "consistent with the professional image the employee presents to colleagues, pupils and parents"),
])
def test_presets_quote_the_clause_of_their_policy(name: str, fragment: str) -> None:
    assert any(fragment in rule.clause for rule in load_policy(name).rules)


def test_only_hertfordshire_says_it_sets_no_connection_rule() -> None:
    assert [name for name in PRESETS if load_policy(name).no_connection_rule] == ["hertfordshire"]


def test_hertfordshire_never_raises_anything_above_advisory() -> None:
    policy = load_policy("hertfordshire")
    for rule in policy.rules:
        assert set(rule.severity.values()) <= {"advisory", "none"}
    for subject in all_subjects():
        for kind in DIRECTION:
            assert SEVERITY_RANK[strictest(policy, subject, kind)[0]] <= SEVERITY_RANK["advisory"]
    # ... but it does show connections with pupils
    assert strictest(policy, current_pupil(), "friend")[0] == "advisory"


@pytest.mark.parametrize(("name", "expected"), [
    ("luton", "breach"), ("milton-keynes", "breach"), ("bedford", "breach"), ("default", "breach"),
    ("hardmoor", "breach_review"),  # a friendship whose initiator the export cannot show
    ("hertfordshire", "advisory"),
])
def test_a_friendship_with_a_current_pupil(name: str, expected: str) -> None:
    assert severity(name, current_pupil(), "friend") == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("luton", "report"), ("milton-keynes", "report"), ("bedford", "report"), ("default", "report"),
    ("hardmoor", "advisory"), ("hertfordshire", "advisory"),
])
def test_a_request_received_from_a_pupil_is_never_a_breach(name: str, expected: str) -> None:
    assert severity(name, current_pupil(), "request_received") == expected
    assert severity(name, past_pupil(15), "request_received") == expected


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("kind", sorted(HISTORY_KINDS))
def test_removed_blocked_and_other_history_is_never_a_finding(name: str, kind: str) -> None:
    for subject in all_subjects():
        assert severity(name, subject, kind) == "none", subject


@pytest.mark.parametrize("name", PRESETS)
def test_a_colleague_is_in_no_rule(name: str) -> None:
    for kind in DIRECTION:
        assert severity(name, colleague(), kind) == "none"


@pytest.mark.parametrize("name", PRESETS)
def test_every_live_kind_with_a_pupil_is_at_least_advisory(name: str) -> None:
    for kind in LIVE_KINDS:
        assert SEVERITY_RANK[severity(name, current_pupil(), kind)] >= SEVERITY_RANK["advisory"], kind


def test_milton_keynes_counts_an_invitation_sent_as_well_as_one_accepted() -> None:
    for subject in (current_pupil(), past_pupil(16), parent_of()):
        assert severity("milton-keynes", subject, "request_sent") == "breach"
        assert severity("milton-keynes", subject, "friend") == "breach"


def test_hardmoor_forbids_initiating_and_reviews_friendships_of_unknown_origin() -> None:
    for subject in (current_pupil(), past_pupil(30), parent_of(), parent_of("past_pupil")):
        assert severity("hardmoor", subject, "request_sent") == "breach"
        assert severity("hardmoor", subject, "following") == "breach"
        assert severity("hardmoor", subject, "friend") == "breach_review"
        assert severity("hardmoor", subject, "follower") == "advisory"


def test_hardmoor_exempts_the_centres_own_page() -> None:
    assert "Hardmoor Early Years Centre" in load_policy("hardmoor").exempt_accounts
    assert all(not load_policy(name).exempt_accounts for name in PRESETS if name != "hardmoor")


def test_bedford_puts_phone_and_email_contacts_with_pupils_in_scope() -> None:
    assert severity("bedford", current_pupil(), "contact") == "breach"


@pytest.mark.parametrize(("name", "own", "other"), [
    ("luton", "breach", "breach"), ("default", "breach", "breach"), ("bedford", "breach", "breach"),
    ("milton-keynes", "breach", "none"), ("hardmoor", "breach_review", "none"),
    ("hertfordshire", "advisory", "advisory"),
])
def test_pupils_of_another_loaded_school(name: str, own: str, other: str) -> None:
    assert severity(name, current_pupil(OWN), "friend") == own
    assert severity(name, current_pupil(OTHER), "friend") == other


def test_trust_wide_staff_with_no_school_are_covered_at_every_loaded_school() -> None:
    assert severity("milton-keynes", current_pupil(OTHER), "friend", TRUST_WIDE) == "breach"
    assert severity("milton-keynes", parent_of(school=OTHER), "friend", TRUST_WIDE) == "breach"


def test_the_reason_says_when_a_pupil_is_at_another_school() -> None:
    rule = load_policy("luton").rule("current-pupil")
    kind = rule_kinds.get(rule.kind)
    assert kind.applies(rule.params, current_pupil(OWN), TEACHER) == "current pupil"
    assert "another school" in kind.applies(rule.params, current_pupil(OTHER), TEACHER)


@pytest.mark.parametrize(("name", "age", "expected"), [
    ("luton", 18, "breach"), ("luton", 19, "none"),  # a past pupil who turns 19 on the audit date is 19
    ("default", 18, "breach"), ("default", 19, "none"),
    ("milton-keynes", 17, "breach"), ("milton-keynes", 18, "none"),
    ("bedford", 18, "breach"), ("bedford", 45, "breach"),  # past or present, any age
    ("hardmoor", 45, "breach_review"),
    ("hertfordshire", 18, "advisory"), ("hertfordshire", 19, "none"),
])
def test_past_pupil_age_thresholds(name: str, age: int, expected: str) -> None:
    assert severity(name, past_pupil(age), "friend") == expected


@pytest.mark.parametrize("name", ["luton", "milton-keynes", "default", "bedford"])
def test_a_past_pupil_with_no_date_of_birth_stays_in_scope_for_the_dsl(name: str) -> None:
    policy = load_policy(name)
    found, rule_id = strictest(policy, past_pupil(None), "friend")
    assert found == "breach"
    reason = rule_kinds.get(policy.rule(rule_id).kind).applies(policy.rule(rule_id).params, past_pupil(None), TEACHER)
    assert name == "bedford" or "age unknown" in reason


def test_the_past_pupil_reason_gives_the_age_and_the_limit() -> None:
    rule = load_policy("luton").rule("past-pupil-under-19")
    reason = rule_kinds.get("past_pupil").applies(rule.params, past_pupil(17), TEACHER)
    assert "17" in reason and "19" in reason


@pytest.mark.parametrize(("name", "expected"), [
    ("luton", "advisory"), ("bedford", "advisory"), ("default", "advisory"), ("hertfordshire", "advisory"),
    ("milton-keynes", "breach"), ("hardmoor", "breach_review"),
])
def test_parents_and_carers_of_pupils(name: str, expected: str) -> None:
    assert severity(name, parent_of(), "friend") == expected
    assert severity(name, parent_of(relationship=None), "friend") == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("luton", "none"), ("bedford", "none"), ("default", "none"), ("hertfordshire", "none"),
    ("milton-keynes", "breach"), ("hardmoor", "breach_review"),
])
def test_family_of_a_past_pupil_only_where_the_policy_says_so(name: str, expected: str) -> None:
    assert severity(name, parent_of("past_pupil", child_age=16), "friend") == expected


@pytest.mark.parametrize("name", PRESETS)
def test_family_rules_cover_only_parents_of_pupils_at_the_staff_members_school(name: str) -> None:
    assert severity(name, parent_of(school=OTHER), "friend") == "none"


def test_a_future_pupil_is_in_no_preset_rule() -> None:
    for name in PRESETS:
        assert severity(name, future_pupil(), "friend") == "none"


def test_only_milton_keynes_has_a_vulnerable_adult_rule() -> None:
    assert severity("milton-keynes", vulnerable_adult(), "friend") == "breach"
    for name in PRESETS:
        if name != "milton-keynes":
            assert severity(name, vulnerable_adult(), "friend") == "none"


def test_alias_account_rules_apply_to_no_person() -> None:
    assert [name for name in PRESETS if any(r.kind == "alias_account" for r in load_policy(name).rules)] == [
        "default", "luton"]
    kind = rule_kinds.get("alias_account")
    for subject in all_subjects():
        assert kind.applies({}, subject, TEACHER) is None


# -- severities per connection kind ---------------------------------------------------------
def test_severity_for_prefers_the_kinds_own_entry_over_the_live_group() -> None:
    rule = Rule("r", "current_pupil", "c", {"live": "breach", "follower": "advisory"})
    assert rule.severity_for("follower") == "advisory"
    assert rule.severity_for("friend") == "breach"
    assert rule.severity_for("request_sent") == "breach"  # staff initiated: a live connection
    assert rule.severity_for("request_received") == "none"  # not a connection unless the rule says so
    assert rule.severity_for("removed") == "none"
    assert rule.severity_for("no-such-kind") == "none"


def test_live_kinds_and_history_kinds_do_not_overlap() -> None:
    assert not LIVE_KINDS & HISTORY_KINDS
    assert "request_sent" in LIVE_KINDS and "request_received" not in LIVE_KINDS
    assert {"removed", "blocked"} <= HISTORY_KINDS


def test_policy_rule_lookup_of_an_unknown_id_is_not_found() -> None:
    with pytest.raises(NotFound):
        load_policy("luton").rule("no-such-rule")


# -- exemptions, staff roles and platforms ---------------------------------------------------
@pytest.mark.parametrize("relationship", ["own child", "child", "son", "daughter", "niece", "nephew", "Niece",
                                          " Nephew "])
def test_luton_allows_exempting_a_staff_members_own_child_niece_or_nephew(relationship: str) -> None:
    assert load_policy("luton").allows_exemption(relationship)


@pytest.mark.parametrize("relationship", ["family friend", "friend", "neighbour", "parent's permission", "cousin",
                                          "godchild", ""])
def test_luton_refuses_any_other_exemption(relationship: str) -> None:
    assert not load_policy("luton").allows_exemption(relationship)


@pytest.mark.parametrize("name", ["milton-keynes", "bedford", "hardmoor", "hertfordshire", "default"])
def test_other_presets_allow_any_declared_relative(name: str) -> None:
    policy = load_policy(name)
    assert policy.exemptions_allowed == "any"
    assert policy.allows_exemption("cousin") and policy.allows_exemption("family friend")


@pytest.mark.parametrize("name", PRESETS)
def test_presets_cover_every_member_of_staff_and_every_platform(name: str) -> None:
    policy = load_policy(name)
    assert policy.covers_staff("Teacher") and policy.covers_staff("Governor") and policy.covers_staff(None)
    assert policy.covers_platform("facebook") and policy.covers_platform("roblox")


def test_a_school_can_limit_the_policy_to_some_staff_roles_and_platforms(tmp_path: Path) -> None:
    policy = load_policy(None, school_config(tmp_path, {
        "preset": "luton", "staff_roles": ["Teacher", "Governor"], "platforms": ["facebook", "instagram"]}))
    assert policy.covers_staff("Teacher") and policy.covers_staff("governor") and policy.covers_staff(" Teacher ")
    assert not policy.covers_staff("Site Manager")
    assert not policy.covers_staff(None)
    assert policy.covers_platform("facebook") and policy.covers_platform("instagram")
    assert not policy.covers_platform("tiktok")


# -- a school's own policy -------------------------------------------------------------------
def test_a_config_with_no_policy_table_gets_the_default_preset(tmp_path: Path) -> None:
    assert load_policy(None, school_config(tmp_path, {})).name == "default"
    assert load_policy(None, None).name == "default"


def test_a_school_copies_a_preset_and_changes_its_parameters(tmp_path: Path) -> None:
    policy = load_policy(None, school_config(tmp_path, {
        "preset": "luton",
        "exemptions": {"allowed": ["own child", "niece", "nephew", "grandchild"]},
        "overrides": {"past-pupil-under-19": {"age_below": 18},
                      "pupil-family": {"severity": {"live": "report"}},
                      "current-pupil": {"severity": {"request_received": "advisory"}}},
    }))
    assert policy.name == "luton"
    assert policy.rule("past-pupil-under-19").params["age_below"] == 18
    assert strictest(policy, past_pupil(18), "friend")[0] == "none"
    assert strictest(policy, past_pupil(17), "friend")[0] == "breach"
    assert strictest(policy, parent_of(), "friend")[0] == "report"
    # a severity override changes one connection kind and keeps the rest of the table
    assert policy.rule("current-pupil").severity == {"live": "breach", "request_received": "advisory"}
    assert policy.allows_exemption("grandchild")
    # the shipped preset is untouched
    preset = load_policy("luton")
    assert preset.rule("past-pupil-under-19").params["age_below"] == 19
    assert preset.rule("pupil-family").severity == {"live": "advisory"}
    assert not preset.allows_exemption("grandchild")


def test_a_school_config_file_with_a_preset_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "auditor.toml"
    path.write_text(
        '[policy]\npreset = "milton-keynes"\nplatforms = ["facebook"]\n\n'
        '[policy.overrides.past-pupil-child]\nage_below = 21\n\n'
        '[policy.overrides.family-of-child.severity]\nlive = "advisory"\n',
        encoding="utf-8")
    policy = load_policy(None, load_config(path))
    assert policy.name == "milton-keynes"
    assert strictest(policy, past_pupil(20), "friend")[0] == "breach"
    assert strictest(policy, parent_of(), "friend")[0] == "advisory"
    assert strictest(policy, parent_of(), "request_received")[0] == "report"
    assert not policy.covers_platform("instagram")


def test_a_school_can_write_its_whole_policy_in_the_config(tmp_path: Path) -> None:
    policy = load_policy(None, school_config(tmp_path, {
        "name": "our-school", "version": "2025-09", "exemptions": {"allowed": ["own child"]},
        "rules": [minimal_rule(scope="own_school"),
                  minimal_rule(id="leavers", kind="past_pupil", age_below=21,
                               severity={"live": "breach", "request_received": "report"})],
    }))
    assert policy.name == "our-school" and [r.id for r in policy.rules] == ["pupils", "leavers"]
    assert policy.title == "our-school"
    assert strictest(policy, current_pupil(OTHER), "friend")[0] == "none"
    assert strictest(policy, past_pupil(20), "request_received") == ("report", "leavers")
    assert not policy.allows_exemption("niece")


def test_resolve_policy_prefers_the_command_line_then_the_config_then_the_choice_at_init(tmp_path: Path) -> None:
    config = school_config(tmp_path, {"preset": "bedford"})
    assert resolve_policy("hardmoor", config, "luton").name == "hardmoor"
    assert resolve_policy(None, config, "luton").name == "bedford"
    assert resolve_policy(None, school_config(tmp_path, {}), "luton").name == "luton"
    assert resolve_policy(None, school_config(tmp_path, {}), None).name == "default"


def test_an_unknown_preset_name_is_a_domain_error_naming_the_presets() -> None:
    with pytest.raises(AuditorError) as caught:
        load_policy("lutonn")
    assert "luton" in str(caught.value) and "milton-keynes" in str(caught.value)


# -- validation: every problem at once, with where it is --------------------------------------
def test_a_bad_policy_reports_every_problem_at_once_with_where_it_is(tmp_path: Path) -> None:
    config = school_config(tmp_path, {
        "name": "our-school",
        "colour": "blue",
        "staff_roles": "teachers",
        "platforms": ["facebook", 3],
        "exemptions": {"allowed": "relatives"},
        "rules": [
            minimal_rule(id="pupils", kind="current_pupill"),
            {"id": "leavers", "kind": "past_pupil", "age_below": "nineteen", "severity": {"live": "breech"}},
            minimal_rule(id="pupils"),
            minimal_rule(id="family", kind="pupil_family", relationships="mothers", of=["siblings"], scope="any_trust",
                         severity={"live": "advisory", "pokes": "breach"}),
            minimal_rule(id="extra", colour="red"),
            minimal_rule(id="empty", severity={}),
            "not a table",
        ],
    })
    with pytest.raises(ConfigError) as caught:
        load_policy(None, config)
    error = caught.value
    assert not isinstance(error, KeyError)
    assert error.source is not None and "school.toml" in error.source and "[policy]" in error.source
    expected = [
        "missing 'version'",
        "unknown key 'colour'",
        "'staff_roles' must be",
        "'platforms' must be",
        "exemptions.allowed must be",
        "rules[1] (pupils): unknown kind 'current_pupill'",
        "rules[2] (leavers): missing 'clause'",
        "rules[2] (leavers).severity.live: 'breech' is not one of",
        "rules[2] (leavers): age_below must be a whole number",
        "rules[3] (pupils): duplicate rule id",
        "rules[4] (family): relationships must be",
        "rules[4] (family): of must be",
        "rules[4] (family): scope 'any_trust' is not one of",
        "rules[4] (family).severity: unknown connection kind 'pokes'",
        "rules[5] (extra): unknown parameter 'colour'",
        "rules[6] (empty): 'severity' must map",
        "rules[7] is not a table",
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in error.problems), fragment
    assert len(error.problems) == len(expected)
    assert f"{len(expected)} problems" in str(error)
    assert "school.toml" in str(error)


@pytest.mark.parametrize("age_below", [0, 121, 18.5, True, "18"])
def test_a_past_pupil_age_limit_must_be_a_whole_number_of_years(age_below) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy({"name": "x", "version": "1", "rules": [minimal_rule(kind="past_pupil", age_below=age_below)]},
                     "test")
    assert caught.value.problems == ["rules[1] (pupils): age_below must be a whole number of years"]


def test_a_bad_value_in_an_override_is_reported_at_the_rule_it_changes(tmp_path: Path) -> None:
    config = school_config(tmp_path, {"preset": "luton", "overrides": {
        "past-pupil-under-19": {"age_below": "eighteen"},
        "pupil-family": {"severity": {"live": "serious"}}}})
    with pytest.raises(ConfigError) as caught:
        load_policy(None, config)
    problems = caught.value.problems
    assert len(problems) == 2
    assert any(p.startswith("rules[2] (past-pupil-under-19): age_below") for p in problems)
    assert any(p.startswith("rules[3] (pupil-family).severity.live: 'serious'") for p in problems)


def test_overriding_a_rule_the_preset_does_not_have_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy(None, school_config(tmp_path, {"preset": "luton", "overrides": {
            "past-pupils": {"age_below": 18}, "alias": {}}}))
    problems = caught.value.problems
    assert len(problems) == 2
    assert all("the preset has no such rule" in p for p in problems)
    assert any("current-pupil" in p for p in problems)  # it lists the rules that exist


def test_a_config_file_with_a_bad_policy_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "auditor.toml"
    path.write_text('[policy]\nname = "ours"\nversion = "1"\n\n[[policy.rules]]\nid = "a"\nkind = "pupil"\n'
                    'clause = "x"\nseverity = { live = "breach" }\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policy(None, load_config(path))
    assert str(path) in str(caught.value)
    assert caught.value.problems == [
        "rules[1] (a): unknown kind 'pupil' (kinds: alias_account, current_pupil, past_pupil, pupil_family, "
        "vulnerable_adult)"]


def test_a_policy_without_rules_is_reported_not_crashed_on() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy({"name": "x", "version": "1", "rules": "none"}, "test")
    assert caught.value.problems == ["'rules' must be a list of [[rules]] tables"]
    with pytest.raises(ConfigError) as caught:
        parse_policy({}, "test")
    assert caught.value.problems == ["missing 'name'", "missing 'version'", "missing 'rules'"]


# -- the rule kinds and their registry --------------------------------------------------------
def test_the_rule_kind_registry_holds_the_five_kinds() -> None:
    assert rule_kinds.names() == ["alias_account", "current_pupil", "past_pupil", "pupil_family", "vulnerable_adult"]
    assert "current_pupil" in rule_kinds and "pupil" not in rule_kinds


def test_an_unknown_rule_kind_is_not_found_not_a_key_error() -> None:
    with pytest.raises(NotFound) as caught:
        rule_kinds.get("former_pupil")
    assert "current_pupil" in str(caught.value)


def test_a_registry_refuses_two_plug_ins_under_one_name() -> None:
    registry: Registry = Registry("test kind")

    @registry.register("one")
    class One:
        pass

    registry.register("one")(One)  # registering the same object again is harmless
    with pytest.raises(ValueError):
        registry.register("one")(type("Other", (), {}))
    assert registry.names() == ["one"]


@pytest.mark.parametrize(("kind", "params"), [
    ("current_pupil", {"scope": "own_school", "age_below": 19}),
    ("vulnerable_adult", {"scope": "any_school"}),
    ("alias_account", {"platforms": ["x"]}),
    ("pupil_family", {"relationship": "any"}),
])
def test_every_rule_kind_refuses_parameters_it_does_not_know(kind: str, params: dict) -> None:
    problems = rule_kinds.get(kind).validate(params)
    assert problems and all("unknown parameter" in p for p in problems)


def test_pupil_family_relationships_filter_and_child_role() -> None:
    kind = rule_kinds.get("pupil_family")
    mothers_only = {"relationships": ["mother"], "of": ["pupil"]}
    assert kind.applies(mothers_only, parent_of(relationship="mother"), TEACHER) == "mother of a current pupil"
    assert kind.applies(mothers_only, parent_of(relationship="father"), TEACHER) is None
    assert kind.applies(mothers_only, parent_of("past_pupil", relationship="mother"), TEACHER) is None
    assert kind.applies({"of": ["past_pupil"]}, parent_of("past_pupil", relationship="step_father"), TEACHER) == (
        "step father of a past pupil")
    assert kind.applies({}, current_pupil(), TEACHER) is None  # a pupil is not their own family


def test_current_pupil_rule_ignores_past_and_future_pupils() -> None:
    kind = rule_kinds.get("current_pupil")
    assert kind.applies({}, past_pupil(12), TEACHER) is None
    assert kind.applies({}, future_pupil(), TEACHER) is None
    assert kind.applies({"scope": "own_school"}, current_pupil(OTHER), TEACHER) is None
    assert kind.applies({"scope": "any_school"}, current_pupil(OTHER), TEACHER)


# -- found in review: every live kind, wrong types, all problems at once, no silent loosening --
def test_hardmoor_counts_a_subscription_to_a_pupils_channel_as_staff_initiating() -> None:
    for subject in (current_pupil(), past_pupil(30), parent_of(), parent_of("past_pupil")):
        assert severity("hardmoor", subject, "subscription") == "breach"


@pytest.mark.parametrize("name", PRESETS)
def test_a_preset_rule_that_gives_one_live_kind_a_severity_gives_every_live_kind_one(name: str) -> None:
    for rule in load_policy(name).rules:
        found = {kind: rule.severity_for(kind) for kind in LIVE_KINDS}
        if any(s != "none" for s in found.values()):
            assert all(s != "none" for s in found.values()), (rule.id, found)


def whole_policy(**changes) -> dict:
    table = {"name": "ours", "version": "1", "rules": [minimal_rule()]}
    table.update(changes)
    return table


def problems_of(tmp_path: Path, table: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_policy(None, school_config(tmp_path, table))
    assert "school.toml" in str(caught.value)
    return caught.value.problems


@pytest.mark.parametrize("changes", [
    {"removed": "breach"}, {"blocked": "report"}, {"rejected": "breach_review"}, {"history": "breach"},
    {"history": "advisory"}, {"muted": "advisory"},
])
def test_history_kinds_cannot_be_made_findings(tmp_path: Path, changes: dict) -> None:
    problems = problems_of(tmp_path, {"preset": "luton", "overrides": {"current-pupil": {"severity": changes}}})
    assert len(problems) == 1 and "history" in problems[0] and "never a finding" in problems[0], problems
    problems = problems_of(tmp_path, whole_policy(rules=[minimal_rule(severity={"live": "breach", **changes})]))
    assert len(problems) == 1 and "never a finding" in problems[0], problems


def test_history_may_be_said_to_be_none(tmp_path: Path) -> None:
    policy = load_policy(None, school_config(tmp_path, whole_policy(rules=[
        minimal_rule(severity={"live": "breach", "history": "none", "removed": "none"})])))
    assert all(policy.rules[0].severity_for(kind) == "none" for kind in HISTORY_KINDS)


def test_a_rule_built_by_hand_still_never_makes_history_a_finding() -> None:
    rule = Rule("r", "current_pupil", "c", {"live": "breach", "removed": "breach", "history": "report"})
    assert rule.severity_for("removed") == "none" and rule.severity_for("blocked") == "none"


@pytest.mark.parametrize(("table", "fragment"), [
    ({"preset": "luton", "overrides": "x"}, "'overrides' must be a table"),
    ({"preset": "luton", "overrides": ["current-pupil"]}, "'overrides' must be a table"),
    ({"preset": "luton", "overrides": {"current-pupil": "breach"}}, "overrides.current-pupil must be a table"),
    (whole_policy(rules=[minimal_rule(id=["a"])]), "'id' must be"),
    (whole_policy(rules=[minimal_rule(kind=["current_pupil"])]), "'kind' must be"),
    (whole_policy(rules=[minimal_rule(kind="pupil_family", of=[["pupil"]])]), "of must be"),
    (whole_policy(rules=[minimal_rule(kind="pupil_family", relationships=[["parent"]])]), "relationships must be"),
    (whole_policy(rules=[minimal_rule(clause=["Do not."])]), "'clause' must be"),
    (whole_policy(rules=[minimal_rule(severity={"live": ["breach"]})]), "is not one of"),
    (whole_policy(rules=[minimal_rule(scope=["own_school"])]), "scope"),
    (whole_policy(name=["ours"]), "'name' must be"),
    (whole_policy(title=3), "'title' must be"),
    (whole_policy(summary={"a": 1}), "'summary' must be"),
    ({"preset": ["luton"]}, "'preset' must be"),
])
def test_a_value_of_the_wrong_type_is_a_config_error_not_a_crash(tmp_path: Path, table: dict, fragment: str) -> None:
    problems = problems_of(tmp_path, table)
    assert any(fragment in p for p in problems), problems


def test_a_policy_table_that_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "luton") == ["[policy] must be a table"]  # type: ignore[arg-type]


def test_every_problem_with_a_preset_and_its_changes_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"preset": "luton", "staff_roles": 5, "colour": "x",
                                      "overrides": {"nosuch": {"age_below": 18}}})
    assert len(problems) == 3, problems
    assert any("unknown key 'colour'" in p for p in problems)
    assert any("'staff_roles' must be" in p and "got 5" in p for p in problems)
    assert any(p.startswith("overrides.nosuch: the preset has no such rule") for p in problems)


def test_an_unknown_preset_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"preset": "lutn", "platforms": "some", "overrides": 3})
    assert len(problems) == 3, problems
    assert any("'lutn'" in p and "milton-keynes" in p for p in problems)
    assert any("'platforms' must be" in p for p in problems)
    assert any("'overrides' must be a table" in p for p in problems)


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("exempt_accounts", "Hardmoor Early Years Centre", "'exempt_accounts' must be a list of account names"),
    ("exempt_accounts", ["Hardmoor Early Years Centre", 7], "'exempt_accounts' must be a list of account names"),
    ("no_connection_rule", "no", "'no_connection_rule' must be true or false"),
    ("no_connection_rule", 0, "'no_connection_rule' must be true or false"),
    ("staff_roles", [], "'staff_roles' must be"),
])
def test_a_setting_of_the_wrong_type_is_refused_not_converted(tmp_path: Path, key: str, value, fragment: str) -> None:
    problems = problems_of(tmp_path, {"preset": "hardmoor", key: value})
    assert len(problems) == 1 and fragment in problems[0], problems


def test_exempt_accounts_and_no_connection_rule_of_the_right_type_are_kept(tmp_path: Path) -> None:
    policy = load_policy(None, school_config(tmp_path, {"preset": "hardmoor", "no_connection_rule": False,
                                                         "exempt_accounts": ["Hardmoor EYC", "Hardmoor Nursery"]}))
    assert policy.exempt_accounts == ["Hardmoor EYC", "Hardmoor Nursery"] and policy.no_connection_rule is False


@pytest.mark.parametrize("extra", [{"preset": "luton"}, {"overrides": {"pupils": {"scope": "any_school"}}},
                                   {"preset": "luton", "overrides": {}}])
def test_a_policy_with_its_own_rules_cannot_also_name_a_preset_or_overrides(tmp_path: Path, extra: dict) -> None:
    problems = problems_of(tmp_path, whole_policy(**extra))
    assert len(problems) == 1 and "cannot be combined with" in problems[0], problems


def test_an_unknown_preset_in_a_config_is_a_config_error_naming_the_file_and_the_presets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy(None, school_config(tmp_path, {"preset": "lutonn"}))
    assert caught.value.exit_code == 2
    assert "school.toml" in str(caught.value) and "[policy]" in str(caught.value)
    assert all(name in str(caught.value) for name in PRESETS)


@pytest.mark.parametrize("exemptions", [
    ["own child"], "own child", "any", {"allow": ["own child"]}, {"allowed": ["own child", 3]}, {"allowed": "some"},
])
def test_a_malformed_exemptions_setting_is_an_error_never_a_loosening(tmp_path: Path, exemptions) -> None:
    problems = problems_of(tmp_path, {"preset": "luton", "exemptions": exemptions})
    assert len(problems) == 1 and "exemptions" in problems[0], problems


def test_an_empty_exemptions_table_keeps_the_presets_list(tmp_path: Path) -> None:
    policy = load_policy(None, school_config(tmp_path, {"preset": "luton", "exemptions": {}}))
    assert policy.allows_exemption("niece") and not policy.allows_exemption("cousin")


def test_platform_names_are_read_whatever_their_case(tmp_path: Path) -> None:
    policy = load_policy(None, school_config(tmp_path, {
        "preset": "luton", "platforms": ["Facebook", " INSTAGRAM ", "Bluesky", "roblox", "Mastodon", "x"]}))
    for platform in ("facebook", "instagram", "bluesky", "roblox", "mastodon", "x", "Facebook"):
        assert policy.covers_platform(platform), platform
    assert not policy.covers_platform("tiktok")
    assert load_policy(None, school_config(tmp_path, {"preset": "luton", "platforms": "ALL"})).covers_platform("tiktok")


def test_a_platform_the_auditor_does_not_know_is_reported(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"preset": "luton", "platforms": ["facebok", "Instagram", "myspace"]})
    assert len(problems) == 2, problems
    assert any("'facebok'" in p and "facebook" in p and "roblox" in p for p in problems)
    assert any("'myspace'" in p for p in problems)
    assert any("'platforms' must be" in p for p in problems_of(tmp_path, {"preset": "luton", "platforms": []}))


def test_a_family_rule_names_relationships_as_the_roster_records_them(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, whole_policy(rules=[minimal_rule(kind="pupil_family",
                                                                      relationships=["Mother", "parent", "lodger"])]))
    assert len(problems) == 2, problems
    assert any("'Mother'" in p and "did you mean 'parent'" in p for p in problems)
    assert any("'lodger'" in p and "step_parent" in p for p in problems)
    policy = load_policy(None, school_config(tmp_path, whole_policy(rules=[
        minimal_rule(kind="pupil_family", relationships=["parent", "step_parent", "other"])])))
    assert policy.rules[0].params["relationships"] == ["parent", "step_parent", "other"]
