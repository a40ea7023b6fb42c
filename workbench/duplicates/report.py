"""Read side of duplicates: every group of a kind, with the suggested keeper and the reason."""
from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.catalog.filters import In, where
from workbench.catalog.store import Catalog
from workbench.duplicates.groups import (
    CAMERA_TIME_SOURCES, KINDS, Group, burst_groups, exact_groups, group_key, same_clip_groups, same_picture_groups)
from workbench.duplicates.keeper import choose_keeper
from workbench.duplicates.stacks import shot_stacks
from workbench.settings import Settings

COLUMNS = ["kind", "members", "keep", "reason", "key"]
MEDIA_COLUMNS = ["id", "path", "kind", "mime", "width", "height", "duration_s", "taken_at", "taken_at_source",
                 "camera_make", "camera_model", "lens", "gps_lat", "imported_at"]


def duplicate_groups(catalog: Catalog, settings: Settings, kind: str | None,
                     exclude: set[str] | None = None) -> pd.DataFrame:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    exclude = exclude or set()
    media = catalog.read("media", MEDIA_COLUMNS).to_pandas()
    media = media[~media["id"].isin(exclude)]
    dismissed = [set(m) for m in catalog.read("duplicate_decisions", ["members"]).column("members").to_pylist()]
    groups: list[Group] = []
    if kind in (None, "exact"):
        sources = catalog.read("sources", ["media_id", "path"]).to_pandas()
        groups += exact_groups(sources[sources["media_id"].isin(set(media["id"]))])
    fp = _fingerprints(catalog, set(media["id"]))
    rows = {r["id"]: r for r in media.to_dict("records")}
    scores = _quality_scores(catalog, settings, exclude)
    for r in rows.values():
        r["quality_score"] = scores.get(r["id"])
        r["camera_time"] = r["taken_at"] if r["taken_at_source"] in CAMERA_TIME_SOURCES else None
    if kind in (None, "same"):
        images = fp[fp["phash"].notna()]
        videos = fp[fp["frame_phash"].notna()]
        durations = {m: rows[m]["duration_s"] for m in videos["media_id"] if rows[m]["duration_s"] == rows[m]["duration_s"]}
        camera_time = {i: r["camera_time"] for i, r in rows.items() if r["camera_time"] is not None}
        for ids in same_picture_groups(images, settings, dismissed, camera_time, _keypoints_loader(catalog)):
            groups.append(_ranked("same", ids, rows))
        for ids in same_clip_groups(videos, durations, settings, dismissed):
            groups.append(_ranked("same", ids, rows, what="same clip re-encoded"))
    if kind in (None, "similar"):
        images = fp[fp["phash"].notna()]
        for ids in burst_groups(images, media, settings, dismissed, _clip_vectors(catalog, settings)):
            groups.append(_ranked("similar", ids, rows, what="burst: same camera, seconds apart"))
        for ids, why in shot_stacks(list(rows.values())):
            if group_key(ids) not in {group_key(list(d)) for d in dismissed}:
                groups.append(_ranked("similar", ids, rows, what=why))
    df = pd.DataFrame([g.__dict__ for g in groups], columns=COLUMNS)
    return df


def _ranked(kind: str, ids: list[str], rows: dict[str, dict[str, Any]], what: str | None = None) -> Group:
    keep, why = choose_keeper([rows[i] for i in ids])
    order = [keep] + sorted(i for i in ids if i != keep)
    members = [{"id": i, "path": rows[i]["path"]} for i in order]
    reason = f"{what}; keep: {why}" if what else why
    return Group(kind, members, keep, reason, key=group_key(ids))


def _fingerprints(catalog: Catalog, ids: set[str]) -> pd.DataFrame:
    """Current fingerprints as a DataFrame whose hash cells are lists of Python ints (pandas would turn
    nullable int64 lists into floats and lose bits)."""
    from workbench.stages.fingerprints import VERSION as version
    cols = ["media_id", "phash", "dhash", "ahash", "detail", "colour", "frame_phash", "disc"]
    if not catalog.has("fingerprints"):
        return pd.DataFrame(columns=cols)
    t = catalog.read("fingerprints", cols, where(version=version, status="ok")).to_pylist()
    return pd.DataFrame([r for r in t if r["media_id"] in ids], columns=cols)


def _keypoints_loader(catalog: Catalog):  # noqa: ANN202 (Callable[[list[str]], dict[str, Keypoints]])
    """Reads the stored ORB keypoints of the given media only (the rotated-copy check needs them for its
    candidates, a small share of the library)."""
    from workbench.duplicates.rotation import unpack
    from workbench.stages.fingerprints import VERSION as version

    def load(ids: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for lo in range(0, len(ids), 500):
            t = catalog.read("fingerprints", ["media_id", "kp_xy", "kp_desc", "kp_size"],
                             where(version=version, status="ok") & In("media_id", ids[lo:lo + 500]))
            for r in t.to_pylist():
                if r["kp_size"] is not None and r["kp_desc"] is not None:
                    out[r["media_id"]] = unpack(r["kp_xy"], r["kp_desc"], r["kp_size"])
        return out
    return load


def _clip_vectors(catalog: Catalog, settings: Settings) -> dict[str, Any]:
    """Current CLIP image vectors by media id (empty without weights or embeddings)."""
    import numpy as np

    from workbench.semantic.clip import WeightsUnavailable, weights_identity
    try:
        model_id, dim = weights_identity(settings)
    except WeightsUnavailable:
        return {}
    name = f"embeddings_{dim}"
    if not catalog.has(name):
        return {}
    t = catalog.read(name, ["media_id", "vector"], where(version=model_id, status="ok", kind="image"))
    return {m: np.asarray(v, np.float32) for m, v in zip(t.column("media_id").to_pylist(),
                                                         t.column("vector").to_pylist())}


def _quality_scores(catalog: Catalog, settings: Settings, exclude: set[str]) -> dict[str, float]:
    from workbench.quality.measures import QualityThresholds
    from workbench.quality.report import quality_frame
    q = quality_frame(catalog, QualityThresholds.from_overrides(settings.quality_thresholds), exclude=exclude)
    return dict(zip(q["id"], q["score"]))
