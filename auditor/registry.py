"""One registry type for every pluggable kind: export connectors, roster connectors, policy
rule kinds and report writers.

Plug-ins register themselves at import time with a decorator; the core looks them up by name,
so adding a platform or a report never touches the pipeline.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → plug-in table that is filled lazily from the packages that hold plug-ins."""

    def __init__(self, kind: str, packages: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._packages = packages
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = item
            return item

        return decorate

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for package_name in self._packages:
            package = importlib.import_module(package_name)
            for info in pkgutil.iter_modules(getattr(package, "__path__", []), package_name + "."):
                importlib.import_module(info.name)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            from auditor.errors import NotFound

            known = ", ".join(sorted(self._items)) or "none"
            raise NotFound(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        yield from sorted(self._items.items())

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items


export_connectors: Registry = Registry("export connector", ("auditor.connectors",))
roster_connectors: Registry = Registry("roster format", ("auditor.connectors.roster",))
api_connectors: Registry = Registry("API connector", ("auditor.connectors.api",))
rule_kinds: Registry = Registry("rule kind", ("auditor.rules",))
report_writers: Registry = Registry("report format", ("auditor.reports",))
