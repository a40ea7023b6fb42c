"""A value worked out from catalog tables, kept while none of those tables has a new version.

A table's version is a manifest read (~0.1 ms) and grows with every commit by any process, so a reader that asks
for the versions first and recomputes only when one moved sees every write as soon as it is committed, without
reading rows on every call. The gallery checks a session and an account on every request this way
(docs/benchmarks.md, gallery load: a session check went from ~10 ms to ~1 ms).
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Sequence, TypeVar

from workbench.catalog.store import Catalog

T = TypeVar("T")


class AtVersions(Generic[T]):
    """``compute(catalog)``, remembered per catalog folder together with the versions of ``tables`` it was
    worked out at. Callers must treat the value as read-only: it is shared by every thread."""

    def __init__(self, tables: Sequence[str], compute: Callable[[Catalog], T]):
        self.tables = tuple(tables)
        self.compute = compute
        self._hits: dict[str, tuple[tuple[int, ...], T]] = {}
        self._lock = threading.Lock()

    def __call__(self, catalog: Catalog) -> T:
        key = str(catalog.folder)
        # The versions are read before the rows: a write in between only makes the rows newer than the key, and
        # the next call, seeing the newer version, works it out again.
        versions = tuple(catalog.version(t) for t in self.tables)
        hit = self._hits.get(key)
        if hit is not None and hit[0] == versions:
            return hit[1]
        with self._lock:                  # a burst of requests reads the tables once
            hit = self._hits.get(key)
            if hit is not None and hit[0] == versions:
                return hit[1]
            value = self.compute(catalog)
            self._hits[key] = (versions, value)
            return value
