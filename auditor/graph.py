"""The audit graph (networkx) and the analyses run on it.

Nodes are members of staff, contact accounts, roster people and schools; edges are staff's
connections to accounts (with their kinds), identity candidates from accounts to people (with
match weights), pupil–contact links between people (households), and people's schools. The
analyses are pure functions taking ``G`` first.

Node keys are tuples: ``("staff", person_id)``, ``("account", account_id)``,
``("person", person_id)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import networkx as nx

HOUSEHOLD_BONUS = 2.0  # bits per corroborating household member
HOUSEHOLD_CAP = 3.0  # corroboration never adds more than this
SCHOOL_CAP = 1.5


def staff_node(person_id: int) -> tuple[str, int]:
    return ("staff", person_id)


def account_node(account_id: int) -> tuple[str, int]:
    return ("account", account_id)


def person_node(person_id: int) -> tuple[str, int]:
    return ("person", person_id)


def build_graph(
    staff: Iterable[int],
    connections: Iterable[tuple[int, int, str]],
    candidates: Iterable[tuple[int, int, float, str]],
    links: Iterable[tuple[int, int, str | None]],
) -> nx.MultiGraph:
    """Staff ids; (staff_id, account_id, kind) connections; (account_id, person_id, weight,
    band) identity candidates; (pupil_id, contact_id, relationship) household links.

    >>> G = build_graph([1], [(1, 10, "friend")], [(10, 5, 4.0, "probable")], [(5, 6, "parent")])
    >>> sorted(G.neighbors(("account", 10)))
    [('person', 5), ('staff', 1)]
    """
    G = nx.MultiGraph()
    for sid in staff:
        G.add_node(staff_node(sid), type="staff")
    for sid, aid, kind in connections:
        G.add_node(account_node(aid), type="account")
        G.add_edge(staff_node(sid), account_node(aid), type="connection", kind=kind)
    for aid, pid, weight, band in candidates:
        G.add_node(person_node(pid), type="person")
        G.add_edge(account_node(aid), person_node(pid), type="identity", weight=weight, band=band)
    for pupil, contact, relationship in links:
        G.add_edge(person_node(pupil), person_node(contact), type="household", relationship=relationship)
    return G


def household_of(G: nx.MultiGraph, person: tuple[str, int]) -> set[tuple[str, int]]:
    """The person's household: pupils they are a contact of, their contacts, and siblings
    (pupils sharing a contact).

    >>> G = build_graph([], [], [], [(1, 9, "parent"), (2, 9, "parent")])
    >>> sorted(household_of(G, ("person", 1)))
    [('person', 2), ('person', 9)]
    """
    if person not in G:
        return set()

    def linked(node) -> set[tuple[str, int]]:
        if not G.is_multigraph() and not any(d for d in G.adj[node].values()):
            return set(G.adj[node])  # a household-only graph: every edge is a household link
        found = set()
        for other, edges in G.adj[node].items():
            values = edges.values() if G.is_multigraph() else [edges]
            if any(d.get("type") == "household" for d in values):
                found.add(other)
        return found

    first = linked(person)
    first.discard(person)
    second: set[tuple[str, int]] = set()
    for member in first:
        second |= linked(member)
    second.discard(person)
    return first | second


class Corroboration:
    """What household corroboration needs from ``G``, gathered once for a whole audit: each
    person's household, and for each member of staff the people their accounts may be."""

    def __init__(self, G: nx.MultiGraph) -> None:
        self.households = nx.Graph()
        self._households: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.reach: dict[tuple[str, int], dict[tuple[str, int], list[tuple[tuple[str, int], float]]]] = {}
        identity: dict[tuple[str, int], list[tuple[tuple[str, int], float]]] = {}
        for a, b, d in G.edges(data=True):
            kind = d.get("type")
            if kind == "household":
                self.households.add_edge(a, b)
            elif kind == "identity":
                account, person = (a, b) if a[0] == "account" else (b, a)
                identity.setdefault(account, []).append((person, d.get("weight", -99)))
        for node, data in G.nodes(data=True):
            if data.get("type") != "staff":
                continue
            people: dict[tuple[str, int], list[tuple[tuple[str, int], float]]] = {}
            for account in set(G.neighbors(node)):
                for person, weight in identity.get(account, ()):
                    people.setdefault(person, []).append((account, weight))
            self.reach[node] = people

    def bonus(self, staff: tuple[str, int], account: tuple[str, int], person: tuple[str, int],
              min_weight: float = -1.5) -> tuple[float, list[str]]:
        people = self.reach.get(staff)
        if not people:
            return 0.0, []
        household = self._households.get(person)
        if household is None:
            household = self._households[person] = sorted(household_of(self.households, person))
        bonus = 0.0
        reasons: list[str] = []
        for member in household:
            if any(other != account and weight >= min_weight for other, weight in people.get(member, ())):
                bonus += HOUSEHOLD_BONUS
                reasons.append(f"also connected to a household member (person {member[1]})")
        return min(bonus, HOUSEHOLD_CAP), reasons[:3]


def household_corroboration(G: nx.MultiGraph, staff: tuple[str, int], account: tuple[str, int],
                            person: tuple[str, int], min_weight: float = -1.5) -> tuple[float, list[str]]:
    """Extra weight (capped) when the same member of staff is also connected, through another
    account, to someone in the person's household whose own match is at least ``min_weight``.
    (An audit asks this for every connection: it builds one ``Corroboration`` and asks it.)

    >>> G = build_graph([1], [(1, 10, "friend"), (1, 11, "friend")],
    ...                 [(10, 5, 0.0, "needs_review"), (11, 6, 5.0, "probable")], [(5, 6, "parent")])
    >>> household_corroboration(G, ("staff", 1), ("account", 10), ("person", 5))
    (2.0, ['also connected to a household member (person 6)'])
    """
    return Corroboration(G).bonus(staff, account, person, min_weight)


@dataclass(frozen=True)
class SharedAccount:
    account_id: int
    staff_count: int


def shared_accounts(G: nx.MultiGraph, min_staff: int = 3) -> Iterator[SharedAccount]:
    """Accounts connected to many members of staff (a community page, a parent known to many),
    to be summarised once rather than repeated per member of staff.

    >>> G = build_graph([1, 2, 3], [(1, 10, "friend"), (2, 10, "follower"), (3, 10, "friend")], [], [])
    >>> list(shared_accounts(G))
    [SharedAccount(account_id=10, staff_count=3)]
    """
    for node, data in G.nodes(data=True):
        if data.get("type") != "account":
            continue
        staff = {n for n in G.neighbors(node) if n[0] == "staff"}
        if len(staff) >= min_staff:
            yield SharedAccount(node[1], len(staff))


@dataclass(frozen=True)
class AliasSignal:
    staff_id: int
    kind: str  # owner_mismatch | shared_owner | undeclared_own_name
    detail: str
    platform: str | None = None
    account_id: int | None = None


def alias_signals(
    owners: Iterable[tuple[int, str, str | None, str | None]],
    staff_names: dict[int, tuple[set[str], set[str]]],
    staff_own_name_accounts: Iterable[tuple[int, int, str]],
    name_matches: callable,
) -> Iterator[AliasSignal]:
    """Undeclared or alias accounts.

    ``owners``: (staff_id, platform, owner name, owner username) named by each export;
    ``staff_names``: staff_id -> (forenames, surnames) known for them;
    ``staff_own_name_accounts``: (staff_id, account_id, platform) — accounts in the exports
    that the matcher identified as a member of staff, seen in *that member's own* export
    (an account of theirs they did not declare);
    ``name_matches(name, forenames, surnames)`` decides whether an owner name is the staff's.

    >>> list(alias_signals([(1, "instagram", "Someone Else", "sx")], {1: ({"ann"}, {"lee"})}, [],
    ...                    lambda n, f, s: "ann" in n.lower()))[0].kind
    'owner_mismatch'
    """
    seen_owner: dict[tuple[str, str], set[int]] = {}
    for staff_id, platform, name, username in owners:
        forenames, surnames = staff_names.get(staff_id, (set(), set()))
        if name and not name_matches(name, forenames, surnames):
            yield AliasSignal(staff_id, "owner_mismatch",
                              f"the {platform} export's owner name does not match the member of staff", platform)
        if username:
            seen_owner.setdefault((platform, username.lower()), set()).add(staff_id)
    for (platform, _username), staff_ids in seen_owner.items():
        if len(staff_ids) > 1:
            for staff_id in sorted(staff_ids):
                yield AliasSignal(staff_id, "shared_owner",
                                  f"the same {platform} account was submitted by {len(staff_ids)} members of staff",
                                  platform)
    for staff_id, account_id, platform in staff_own_name_accounts:
        yield AliasSignal(staff_id, "undeclared_own_name",
                          f"an account named like this member of staff appears in their own {platform} export "
                          "but is not declared as theirs", platform, account_id)


def ego_network(G: nx.MultiGraph, staff: tuple[str, int], flagged: set[int]) -> nx.Graph:
    """The member of staff, their accounts (flagged ones marked), and who those accounts are.

    >>> G = build_graph([1], [(1, 10, "friend"), (1, 11, "friend")], [(10, 5, 4.0, "probable")], [])
    >>> E = ego_network(G, ("staff", 1), {10})
    >>> E.nodes[("account", 10)]["flagged"], E.nodes[("account", 11)]["flagged"]
    (True, False)
    """
    E = nx.Graph()
    E.add_node(staff, type="staff")
    for account in G.neighbors(staff):
        kinds = Counter(d.get("kind") for d in G.get_edge_data(staff, account).values())
        E.add_node(account, type="account", flagged=account[1] in flagged)
        E.add_edge(staff, account, kinds=dict(kinds))
        for _, person, d in G.edges(account, data=True):
            if d.get("type") == "identity" and account[1] in flagged:
                E.add_node(person, type="person")
                E.add_edge(account, person, weight=d.get("weight"))
    return E
