"""Shots that belong together without looking alike to a hash: RAW+JPEG pairs and live/motion photos.

A camera writing RAW+JPEG saves ``IMG_0001.CR2`` and ``IMG_0001.JPG`` side by side; a phone's live photo is
``IMG_0001.HEIC`` plus a short ``IMG_0001.MOV``. Same folder, same file stem, and (when both carry one from the camera) the
same capture time within a few seconds: one shot, one stack.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.formats.sniff import RAW_MIMES

LIVE_VIDEO_MAX_S = 4.0     # Apple live photos are about 3 s; motion photos up to ~3 s
SAME_SHOT_MAX_GAP_S = 5.0


def _close_in_time(a: Any, b: Any) -> bool:
    if a is None or b is None or pd.isna(a) or pd.isna(b):
        return True
    return abs((pd.Timestamp(a) - pd.Timestamp(b)).total_seconds()) <= SAME_SHOT_MAX_GAP_S


def shot_stacks(media: list[dict[str, Any]]) -> list[tuple[list[str], str]]:
    """(member ids, reason) for each RAW+JPEG pair and live photo found among ``media`` rows."""
    by_stem: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in media:
        p = Path(r["path"])
        by_stem[(str(p.parent), p.stem.lower())].append(r)
    out = []
    for rows in by_stem.values():
        if len(rows) < 2:
            continue
        raws = [r for r in rows if r["mime"] in RAW_MIMES]
        images = [r for r in rows if r["kind"] == "image" and r["mime"] not in RAW_MIMES]
        videos = [r for r in rows if r["kind"] == "video" and (r.get("duration_s") or 0) <= LIVE_VIDEO_MAX_S]
        members: list[str] = []
        reasons = []
        if raws and images and all(_close_in_time(raws[0].get("camera_time"), i.get("camera_time")) for i in images):
            members += [r["id"] for r in raws + images]
            reasons.append("RAW+JPEG pair")
        if videos and (images or raws):
            stills = images or raws
            if _close_in_time(stills[0].get("camera_time"), videos[0].get("camera_time")):
                members += [r["id"] for r in stills + videos if r["id"] not in members]
                reasons.append("live photo (still + short video)")
        if len(members) >= 2:
            out.append((members, " and ".join(reasons)))
    return out
