"""The graph analyses on small graphs: each is a pure function of G."""

from __future__ import annotations

import doctest

import auditor.graph as graph_module
from auditor.graph import (
    HOUSEHOLD_CAP,
    alias_signals,
    build_graph,
    ego_network,
    household_corroboration,
    household_of,
    shared_accounts,
)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(graph_module)
    assert result.attempted >= 6 and result.failed == 0


def test_household_corroboration_is_capped_and_needs_a_connection_of_the_same_staff() -> None:
    # pupil 5 with parents 6 and 7 and sibling 8; staff 1 follows accounts that may be all of them
    G = build_graph([1, 2], [(1, 10, "friend"), (1, 11, "friend"), (1, 12, "friend"), (1, 13, "friend"),
                             (2, 14, "friend")],
                    [(10, 5, 0.0, "needs_review"), (11, 6, 5.0, "probable"), (12, 7, 5.0, "probable"),
                     (13, 8, 4.0, "probable"), (14, 6, 5.0, "probable")],
                    [(5, 6, "parent"), (5, 7, "parent"), (8, 6, "parent")])
    bonus, reasons = household_corroboration(G, ("staff", 1), ("account", 10), ("person", 5))
    assert bonus == HOUSEHOLD_CAP and len(reasons) == 3
    # staff 2 is connected to the parent, but not through anyone who may be pupil 5
    assert household_corroboration(G, ("staff", 2), ("account", 14), ("person", 6)) == (0.0, [])
    # a household member matched too weakly does not corroborate
    weak = build_graph([1], [(1, 10, "friend"), (1, 11, "friend")],
                       [(10, 5, 0.0, "needs_review"), (11, 6, -5.0, "no_link")], [(5, 6, "parent")])
    assert household_corroboration(weak, ("staff", 1), ("account", 10), ("person", 5))[0] == 0.0


def test_households_include_siblings_through_a_shared_contact() -> None:
    G = build_graph([], [], [], [(1, 9, "parent"), (2, 9, "parent"), (3, 8, "carer")])
    assert household_of(G, ("person", 1)) == {("person", 9), ("person", 2)}
    assert household_of(G, ("person", 3)) == {("person", 8)}
    assert household_of(G, ("person", 99)) == set()


def test_shared_accounts_are_counted_once_per_member_of_staff() -> None:
    G = build_graph([1, 2, 3], [(1, 10, "follower"), (1, 10, "following"), (2, 10, "friend"), (3, 11, "friend")],
                    [], [])
    assert list(shared_accounts(G, min_staff=2)) == [graph_module.SharedAccount(10, 2)]
    assert list(shared_accounts(G, min_staff=3)) == []


def test_alias_signals() -> None:
    def matches(name: str, forenames: set[str], surnames: set[str]) -> bool:
        words = set(name.lower().split())
        return bool(words & forenames) or bool(words & surnames)

    owners = [(1, "instagram", "Ann Lee", "annlee"), (2, "instagram", "Bob Ray", "annlee"),
              (3, "facebook", "Somebody Else", None)]
    names = {1: ({"ann"}, {"lee"}), 2: ({"bob"}, {"ray"}), 3: ({"cat"}, {"fox"})}
    signals = list(alias_signals(owners, names, [(1, 50, "tiktok")], matches))
    kinds = sorted((s.staff_id, s.kind) for s in signals)
    assert kinds == [(1, "shared_owner"), (1, "undeclared_own_name"), (2, "shared_owner"), (3, "owner_mismatch")]


def test_ego_network_marks_only_flagged_accounts_and_their_people() -> None:
    G = build_graph([1], [(1, 10, "friend"), (1, 11, "follower"), (1, 11, "following")],
                    [(10, 5, 4.0, "probable"), (11, 6, 1.0, "needs_review")], [])
    E = ego_network(G, ("staff", 1), {10})
    assert E.nodes[("account", 10)]["flagged"] and not E.nodes[("account", 11)]["flagged"]
    assert ("person", 5) in E and ("person", 6) not in E
    assert E.edges[("staff", 1), ("account", 11)]["kinds"] == {"follower": 1, "following": 1}


def test_the_audit_summary_names_accounts_many_staff_know_once_with_the_people_flagged() -> None:
    from auditor.audit import shared_account_summary

    # (connection id, staff id, account id): account 10 is known to three members of staff (one
    # of them through two connections), account 11 to two, account 12 to one.
    rows = [(1, 100, 10), (2, 101, 10), (3, 101, 10), (4, 102, 10), (5, 100, 11), (6, 101, 11), (7, 100, 12)]
    findings = {"a": {"account_id": 10, "person_ref": "C2"}, "b": {"account_id": 10, "person_ref": "C1"},
                "c": {"account_id": 12, "person_ref": "P9"}, "d": {"account_id": None, "person_ref": "T1"}}
    assert shared_account_summary(rows, findings) == [{"account_id": 10, "staff": 3, "people": ["C1", "C2"]}]
    assert shared_account_summary(rows, findings, min_staff=2) == [
        {"account_id": 10, "staff": 3, "people": ["C1", "C2"]}, {"account_id": 11, "staff": 2, "people": []}]
