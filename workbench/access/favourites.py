"""Favourites: each user's own marks on media, one row per (user, media). Plain catalog operations; who may mark
what is decided in ``views`` (a user marks only media they can see), so these functions trust their caller.
Marking twice is one row, unmarking what is not marked changes nothing."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from workbench.catalog.filters import Eq, In
from workbench.catalog.store import Catalog

FAVOURITES = "favourites"


def _key(user: str, media_id: str) -> str:
    return f"{user}\0{media_id}"


def ids(catalog: Catalog, user: str) -> set[str]:
    """Media ids ``user`` marked (the trash and visibility are the caller's to apply)."""
    if not catalog.has(FAVOURITES):
        return set()
    return set(catalog.read(FAVOURITES, ["media_id"], Eq("user", user)).column("media_id").to_pylist())


def mark(catalog: Catalog, user: str, media_ids: Iterable[str]) -> int:
    """Mark media as ``user``'s favourites; returns how many were not marked yet."""
    now = datetime.now(timezone.utc)
    rows = [{"key": _key(user, m), "user": user, "media_id": m, "at": now} for m in dict.fromkeys(media_ids)]
    return catalog.insert_new(FAVOURITES, rows, "key") if rows else 0


def unmark(catalog: Catalog, user: str, media_ids: Iterable[str]) -> int:
    """Unmark media; returns how many were marked."""
    keys = [_key(user, m) for m in dict.fromkeys(media_ids)]
    return catalog.delete_matching(FAVOURITES, In("key", keys)) if keys else 0


def forget_user(catalog: Catalog, user: str) -> None:
    """A removed account's marks go with it."""
    catalog.delete(FAVOURITES, Eq("user", user))
