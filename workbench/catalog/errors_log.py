"""The ``errors`` table: one row per (path, stage) that failed, replaced on retry, removed on success."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone

from workbench.catalog.filters import In
from workbench.catalog.store import Catalog


def error_key(path: str, stage: str) -> str:
    return hashlib.sha256(f"{stage}\0{path}".encode()).hexdigest()[:24]


def record_errors(catalog: Catalog, failures: Iterable[tuple[str, str | None, str, str]]) -> None:
    """``failures`` are (path, media_id or None, stage, reason)."""
    now = datetime.now(timezone.utc)
    rows = [{"key": error_key(p, st), "path": p, "media_id": mid, "stage": st, "reason": reason, "at": now}
            for p, mid, st, reason in failures]
    if rows:
        catalog.upsert("errors", rows, "key")


def clear_errors(catalog: Catalog, paths: Iterable[str], stage: str) -> None:
    keys = [error_key(p, stage) for p in paths]
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        if chunk and catalog.count("errors") > 0:
            catalog.delete("errors", In("key", chunk))
