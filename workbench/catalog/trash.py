"""The trash: the only way anything leaves a library, in two explicit steps.

``trash`` only records a decision: the media disappears from listings and search but nothing is touched.
``restore`` undoes it. ``empty`` is the one place that deletes: catalog rows first (so a crash can leave an
orphan file, never a row pointing at a missing original), then the stored original and its renditions.
A referenced file (``--mode reference``) lives outside the library and is never deleted: the library forgets it.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from workbench.catalog.filters import In
from workbench.catalog.store import Catalog
from workbench.storage import Storage, derived_key, original_key

TRASH = "trash"


def trashed_ids(catalog: Catalog) -> set[str]:
    return set(catalog.read(TRASH, ["media_id"]).column("media_id").to_pylist())


def put(catalog: Catalog, media_ids: Iterable[str], user: str | None, reason: str | None) -> int:
    now = datetime.now(timezone.utc)
    rows = [{"media_id": m, "user": user, "reason": reason, "at": now} for m in media_ids]
    return catalog.insert_new(TRASH, rows, "media_id") if rows else 0


def take_back(catalog: Catalog, media_ids: Iterable[str]) -> int:
    ids = list(media_ids)
    n = len(set(ids) & trashed_ids(catalog))
    if ids:
        catalog.delete(TRASH, In("media_id", ids))
    return n


def empty(catalog: Catalog, storage: Storage, tables_by_media: list[str], face_table: str | None) -> dict[str, Any]:
    """Delete every trashed media for good; returns what was removed."""
    ids = sorted(trashed_ids(catalog))
    if not ids:
        return {"media": 0, "files_deleted": 0, "referenced_files_kept": 0}
    media = catalog.read("media", ["id", "storage", "blob"], In("id", ids)).to_pylist()
    blobs = [original_key(m["blob"]) for m in media if m["storage"] == "copy" and m["blob"]]
    kept = sum(1 for m in media if m["storage"] != "copy")
    renditions = _renditions(storage, set(ids))
    where = In("media_id", ids)
    if face_table and catalog.has(face_table):
        faces = catalog.read(face_table, ["face_id"], where).column("face_id").to_pylist()
        if faces:
            catalog.delete("face_assignments", In("face_id", faces))
    for name in tables_by_media:
        if catalog.has(name) and "media_id" in catalog.table(name).schema.names:
            catalog.delete(name, where)
    catalog.delete("media", In("id", ids))
    catalog.delete(TRASH, where)
    deleted = sum(storage.delete(key) for key in [*blobs, *renditions])
    return {"media": len(ids), "files_deleted": deleted, "referenced_files_kept": kept}


def _renditions(storage: Storage, ids: set[str]) -> list[str]:
    """Keys of the thumbnails and previews of these media, of every thumbnail version
    (``derived/thumbnails/<version>/<aa>/<id>.<which>.webp``)."""
    prefixes = {m[:2] for m in ids}
    out = []
    for key in storage.list(derived_key("thumbnails")):
        parts = key.split("/")
        if len(parts) == 5 and parts[3] in prefixes and parts[4].split(".", 1)[0] in ids:
            out.append(key)
    return out
