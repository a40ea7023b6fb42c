"""Throttling repeated failures (logins, share passwords): after ``max_failures`` within ``window_s`` a subject is
locked for ``lockout_s`` after its last failure. Subjects are stored as hashes, so whatever a person typed into a
name field (perhaps their password) never lands in the catalog."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from workbench.catalog.store import Catalog, sql_in

TABLE = "login_failures"


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window_s: float
    lockout_s: float

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        return cls(settings.login_max_failures, settings.login_failure_window_s, settings.login_lockout_s)


def subject(kind: str, value: str) -> str:
    """The stored form of "what was tried": a sha256, never the text itself."""
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()


def _failures(catalog: Catalog, subjects: list[str]) -> dict[str, list[datetime]]:
    t = catalog.read(TABLE, ["subject", "at"], sql_in("subject", subjects)).to_pylist()
    out: dict[str, list[datetime]] = {s: [] for s in subjects}
    for r in t:
        out[r["subject"]].append(r["at"])
    return out


def seconds_locked(catalog: Catalog, subjects: Iterable[str], limits: Limits, now: datetime | None = None) -> float:
    """How many more seconds the most-locked of ``subjects`` stays locked (0: free to try)."""
    now = now or datetime.now(timezone.utc)
    left = 0.0
    for times in _failures(catalog, list(subjects)).values():
        recent = [t for t in times if (now - t).total_seconds() <= limits.window_s]
        if len(recent) >= limits.max_failures:
            left = max(left, limits.lockout_s - (now - max(recent)).total_seconds())
    return max(0.0, left)


def record_failure(catalog: Catalog, subjects: Iterable[str], limits: Limits, now: datetime | None = None) -> None:
    """Count one failure against each subject, and forget failures too old to matter."""
    now = now or datetime.now(timezone.utc)
    subjects = list(subjects)
    catalog.insert_new(TABLE, [{"key": secrets.token_hex(12), "subject": s, "at": now} for s in subjects], "key")
    horizon = now - timedelta(seconds=max(limits.window_s, limits.lockout_s))
    old = [r["key"] for r in catalog.read(TABLE, ["key", "at"], sql_in("subject", subjects)).to_pylist()
           if r["at"] < horizon]
    if old:
        catalog.delete(TABLE, sql_in("key", old))


def clear(catalog: Catalog, subjects: Iterable[str]) -> None:
    """A success wipes the slate for these subjects."""
    subjects = list(subjects)
    if subjects:
        catalog.delete_matching(TABLE, sql_in("subject", subjects))
