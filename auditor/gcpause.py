"""Pausing Python's cyclic garbage collector around bulk work.

Imports, audits and reports build hundreds of thousands of long-lived objects that hold no
reference cycles (roster people, parsed rows, candidates, findings). The cyclic collector
walks all of them each time enough new objects pile up, over and over: a tenth of a roster
import and a third of a re-audit. Reference counting still frees everything as usual while
the collector is paused; it resumes, as it was, when the work is done. Worker processes
forked meanwhile turn it back on for themselves (``auditor.ingest._die_with_parent``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
