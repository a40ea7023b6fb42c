"""Which member of a duplicate group to keep, and why, in words a person can check.

Criteria in order: a camera RAW over anything developed from it, more pixels, a better quality score, richer
metadata (capture date from the camera, GPS, camera model, lens), earlier import. A lossless format is not
preferred by itself: a PNG made from a JPEG holds nothing the JPEG did not. The reason names the first
criterion that separates the keeper from the runner-up.
"""
from __future__ import annotations

import math
from typing import Any

from workbench.formats.sniff import RAW_MIMES

def format_rank(mime: str | None) -> int:
    return 1 if mime in RAW_MIMES else 0


def metadata_richness(row: dict[str, Any]) -> int:
    """How much the file says about itself: a camera date, GPS, camera model, lens."""
    def has(k: str) -> bool:
        v = row.get(k)
        return v is not None and not (isinstance(v, float) and math.isnan(v))
    return (int(row.get("taken_at_source") in ("exif", "exif_digitized", "xmp", "video"))
            + int(has("gps_lat")) + int(has("camera_model")) + int(has("lens")))


def _criteria(row: dict[str, Any]) -> list[tuple[str, Any]]:
    px = (row.get("width") or 0) * (row.get("height") or 0)
    q = row.get("quality_score")
    q = -1.0 if q is None or (isinstance(q, float) and math.isnan(q)) else float(q)
    imported = row.get("imported_at")
    return [("camera RAW", format_rank(row.get("mime"))),
            ("higher resolution", px),
            ("better quality score", round(q)),
            ("richer metadata", metadata_richness(row)),
            ("earlier import", -imported.timestamp() if hasattr(imported, "timestamp") else 0.0)]


def choose_keeper(members: list[dict[str, Any]]) -> tuple[str, str]:
    """(id to keep, reason). ``members`` are media rows, optionally with a ``quality_score``."""
    ranked = sorted(members, key=lambda r: ([v for _, v in _criteria(r)], r["id"]), reverse=True)
    best = ranked[0]
    if len(ranked) == 1:
        return best["id"], "only member"
    for (name, a), (_, b) in zip(_criteria(best), _criteria(ranked[1])):
        if a != b:
            return best["id"], _describe(name, best, ranked[1])
    return best["id"], "all equal: kept the first imported"


def _describe(name: str, best: dict[str, Any], other: dict[str, Any]) -> str:
    if name == "higher resolution":
        return f"higher resolution ({best.get('width')}x{best.get('height')} vs {other.get('width')}x{other.get('height')})"
    if name == "camera RAW":
        return f"camera RAW ({best.get('mime')} vs {other.get('mime')})"
    if name == "better quality score":
        return f"better quality score ({best.get('quality_score'):.0f} vs {other.get('quality_score'):.0f})"
    return name
