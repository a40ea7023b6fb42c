"""Thumbnails for a grid, dozens at a time, only of media the acting view can see.

``UserView.thumbnail`` checks permissions and reads one media's stage rows per call: fine for a viewer, far too
slow for a grid chunk, so grids use the views' bulk ``thumbnails(ids, which)``: one permission check and one
catalog read per chunk.
"""
from __future__ import annotations

from typing import Any


def many(view: Any, ids: list[str], which: str = "thumb") -> dict[str, bytes | None]:
    """media id -> WebP bytes (None when missing or not visible to ``view``)."""
    return view.thumbnails(ids, which) if ids else {}
