"""Reference frequencies of common surnames in England and Wales (data/surname_frequencies.txt).

A floor under the roster's own term frequencies: a small school may hold one Smith, but a
contact called Smith is still far more likely to be somebody else.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from auditor.match.names import compact, fold


@lru_cache(maxsize=1)
def _table() -> dict[str, float]:
    text = (resources.files("auditor.data") / "surname_frequencies.txt").read_text(encoding="utf-8")
    table: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, percent = line.rpartition(" ")
        table[compact(fold(name))] = max(table.get(compact(fold(name)), 0.0), float(percent) / 100.0)
    return table


def reference_surname_frequency(name: str) -> float:
    """Share of the population with this (compact, folded) surname; 0 when not in the table."""
    return _table().get(name, 0.0)
