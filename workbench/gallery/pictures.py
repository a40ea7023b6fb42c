"""Thumbnails for a grid, dozens at a time, only of media the acting view can see.

``UserView.thumbnail`` checks permissions and reads one media's stage rows per call (~0.2 s): fine for a viewer,
far too slow for a grid chunk. When the view offers a bulk ``thumbnails(ids, which)`` it is used; otherwise the
view lists what it can see once per chunk (its own permission check) and ``Library.thumbnails`` reads the allowed
ones in one catalog query.
"""
from __future__ import annotations

from typing import Any


def many(library: Any, view: Any, ids: list[str], which: str = "thumb") -> dict[str, bytes | None]:
    """media id -> WebP bytes (None when missing or not visible to ``view``)."""
    if not ids:
        return {}
    bulk = getattr(view, "thumbnails", None)
    if callable(bulk):
        return bulk(ids, which)
    visible = set(view.media()["id"])
    out: dict[str, bytes | None] = dict.fromkeys(ids)
    out.update(library.thumbnails([i for i in ids if i in visible], which))
    return out
