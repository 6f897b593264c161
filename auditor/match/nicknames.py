"""The UK nickname and spelling-variant table (data/nicknames.txt), loaded once.

``related(a, b)`` says whether two folded forenames are the same name written another way:
'nickname' (Olly ~ Oliver), 'variant' (Sofia ~ Sophia), or None. The relation holds between
names on one line of the table, in both directions; a spelling variant also takes the other
spelling's familiar forms (Steven ~ Steve, as Stephen ~ Steve); otherwise it is not transitive
across lines (Teddy ~ Edward and Teddy ~ Theodore, but Edward is not Theodore).
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from importlib import resources

from auditor.match.names import fold


@lru_cache(maxsize=1)
def table() -> dict[str, dict[str, str]]:
    """name -> {related name: 'nickname' | 'variant'}"""
    relations: dict[str, dict[str, str]] = defaultdict(dict)
    text = (resources.files("auditor.data") / "nicknames.txt").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind_word, _, rest = line.partition(" ")
        head, _, tail = rest.partition(":")
        if kind_word not in ("dim", "var") or not tail.strip():
            raise ValueError(f"nicknames.txt line {number}: expected 'dim|var name: names'")
        kind = "nickname" if kind_word == "dim" else "variant"
        names = [fold(head)] + [fold(n) for n in tail.split()]
        names = [n for n in names if n]
        for a in names:
            for b in names:
                if a != b and relations[a].get(b) != "variant":
                    relations[a][b] = kind
    # A spelling variant takes the other spelling's familiar forms (Steven: Steve, as Stephen);
    # one step only, so nicknames shared by two different names still do not join them.
    borrowed = [(a, c) for a, rel in relations.items() for b, kind in rel.items() if kind == "variant"
                for c, kind_c in relations.get(b, {}).items() if kind_c == "nickname" and c != a]
    for a, c in borrowed:
        relations[a].setdefault(c, "nickname")
        relations[c].setdefault(a, "nickname")
    return dict(relations)


def related(a: str, b: str) -> str | None:
    if a == b:
        return None
    return table().get(a, {}).get(b)


def forms(name: str) -> dict[str, str]:
    """Every other way of writing ``name`` that the table knows."""
    return table().get(name, {})
