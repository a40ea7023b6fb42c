"""Duplicate groups from stored fingerprints, computed when asked (seconds even for 100k images), three kinds:

* ``exact``: the same bytes found at several paths. The library stores them once; the group lists the paths.
* ``same``: the same picture in different files (re-encoded, resized, rotated, mirrored, lightly cropped, other
  metadata or colour profile): perceptual hashes within ``duplicate_max_bits``; copies rotated by other angles
  (straightened, black or cropped corners) by keypoints (``rotation``); videos by frame signatures.
* ``similar``: shots to pick from, not duplicates: bursts (same camera, seconds apart, alike) and shots that
  belong together (RAW+JPEG pairs, live photos).

A group a user answered "not duplicates" for is never suggested again: no pair inside it links media.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from workbench.settings import Settings

KINDS = ("exact", "same", "similar")
CAMERA_TIME_SOURCES = ("exif", "exif_digitized", "xmp")


@dataclass
class Group:
    kind: str
    members: list[dict[str, Any]]          # [{"id", "path"}], keeper first
    keep: str
    reason: str
    key: str = field(default="")           # sorted member ids (what a "not duplicates" decision refers to)


def group_key(ids: list[str]) -> str:
    return ",".join(sorted(set(ids)))


def exact_groups(sources: pd.DataFrame) -> list[Group]:
    out = []
    for mid, paths in sources.groupby("media_id")["path"]:
        paths = sorted(paths)
        if len(paths) > 1:
            out.append(Group("exact", [{"id": mid, "path": p} for p in paths], mid,
                             f"same bytes at {len(paths)} paths; the library stores one copy", key=mid))
    return out


def _split_by_decisions(ids: list[str], pairs: np.ndarray,
                        dismissed: list[set[str]]) -> np.ndarray:
    """Drop the edges between two media that share a dismissed ("not duplicates") group."""
    if not dismissed or len(pairs) == 0:
        return pairs
    member_of: dict[str, set[int]] = {}
    for k, s in enumerate(dismissed):
        for m in s:
            member_of.setdefault(m, set()).add(k)
    keep = [not (member_of.get(ids[i], set()) & member_of.get(ids[j], set())) for i, j in pairs]
    return pairs[np.asarray(keep, bool)]


def same_picture_groups(fp: pd.DataFrame, settings: Settings, dismissed: list[set[str]],
                        camera_time: dict[str, Any] | None = None,
                        keypoints: Callable[[list[str]], dict[str, Any]] | None = None) -> list[list[str]]:
    """Groups of image ids that are the same picture, from the ``fingerprints`` rows of images. Two files whose
    cameras recorded different capture times are two shots, however alike: a burst, not a duplicate. With a
    ``keypoints`` loader (media ids -> ``rotation.Keypoints``) and a ``disc`` column, copies rotated by any angle
    are joined too (``rotated_picture_pairs``)."""
    from workbench.duplicates.candidates import connected_groups, same_picture_pairs
    from workbench.duplicates.fingerprint import as_uint64_array
    if len(fp) < 2:
        return []
    ids = fp["media_id"].tolist()
    hashes = {h: as_uint64_array(fp[h].tolist()) for h in ("phash", "dhash", "ahash")}
    pairs = same_picture_pairs(hashes, max_total_bits=settings.duplicate_max_bits,
                               off_centre_max_bits=settings.duplicate_off_centre_max_bits,
                               detail=np.asarray(fp["detail"].tolist(), np.int64),
                               colour=np.asarray(fp["colour"].tolist(), np.int64))[0]
    if keypoints is not None and "disc" in fp.columns and settings.rotated_duplicate_neighbours > 0:
        pairs = np.concatenate([np.asarray(pairs, np.int64).reshape(-1, 2),
                                rotated_picture_pairs(fp, pairs, settings, keypoints)])
    if camera_time:
        t = [camera_time.get(m) for m in ids]
        pairs = pairs[np.asarray([t[i] is None or t[j] is None or t[i] == t[j] for i, j in pairs], bool)
                      .reshape(-1)] if len(pairs) else pairs
    pairs = _split_by_decisions(ids, pairs, dismissed)
    return [[ids[i] for i in g] for g in connected_groups(len(ids), pairs)]


def rotated_picture_pairs(fp: pd.DataFrame, hash_pairs: np.ndarray, settings: Settings,
                          keypoints: Callable[[list[str]], dict[str, Any]]) -> np.ndarray:
    """Index pairs (into ``fp``) of copies rotated by an arbitrary angle that the hashes did not join: candidates
    by centre-disc descriptor, verified on ORB keypoints (``rotation.rotated_pairs``)."""
    from workbench.duplicates.candidates import connected_groups
    from workbench.duplicates.rotation import rotated_pairs
    ids = fp["media_id"].tolist()
    has = np.flatnonzero(np.asarray([d is not None for d in fp["disc"]], bool))
    if len(has) < 2:
        return np.zeros((0, 2), np.int64)
    comp = np.arange(len(ids))
    for g in connected_groups(len(ids), np.asarray(hash_pairs, np.int64).reshape(-1, 2)):
        comp[g] = g[0]
    disc = np.asarray([fp["disc"].iloc[i] for i in has], np.float32)

    def load(local: Any) -> dict[int, Any]:
        local = list(local)
        found = keypoints([ids[has[k]] for k in local])
        return {k: found[ids[has[k]]] for k in local if ids[has[k]] in found}

    local_pairs, _ = rotated_pairs(disc, load, neighbours=settings.rotated_duplicate_neighbours,
                                   max_disc_distance=settings.rotated_duplicate_max_disc_distance,
                                   min_inliers=settings.rotated_duplicate_min_inliers,
                                   max_centre_offset=settings.rotated_duplicate_max_centre_offset,
                                   linked=comp[has])
    return has[local_pairs].reshape(-1, 2)


def same_clip_groups(fp: pd.DataFrame, durations: dict[str, float], settings: Settings,
                     dismissed: list[set[str]]) -> list[list[str]]:
    """Groups of video ids that are re-encodes of the same clip."""
    from workbench.duplicates.candidates import connected_groups
    from workbench.duplicates.fingerprint import as_uint64_array
    from workbench.duplicates.video_signature import same_clip_pairs
    fp = fp[fp["media_id"].map(lambda m: durations.get(m) is not None)]
    if len(fp) < 2:
        return []
    ids = fp["media_id"].tolist()
    sigs = [as_uint64_array(list(s)) for s in fp["frame_phash"]]
    pairs = np.asarray(same_clip_pairs(sigs, np.asarray([durations[m] for m in ids], float),
                                       max_mean_bits=settings.video_duplicate_max_mean_bits,
                                       max_duration_diff_s=settings.video_duplicate_max_duration_diff_s),
                       dtype=np.int64).reshape(-1, 2)
    pairs = _split_by_decisions(ids, pairs, dismissed)
    return [[ids[i] for i in g] for g in connected_groups(len(ids), pairs)]


def burst_groups(fp: pd.DataFrame, media: pd.DataFrame, settings: Settings,
                 dismissed: list[set[str]], vectors: dict[str, np.ndarray] | None = None) -> list[list[str]]:
    """Images from one camera (EXIF model and capture time required) taken within ``burst_max_gap_s`` of each
    other that look alike: summed hash distance within ``burst_max_bits``, or, where CLIP embeddings exist,
    cosine similarity at least ``burst_min_clip_cosine``. Candidates come from a time-sorted sweep, not all pairs."""
    from workbench.duplicates.candidates import connected_groups, star_distance
    from workbench.duplicates.fingerprint import as_uint64_array
    # Only capture times a camera wrote count: file times of copied folders are all alike and say nothing.
    media = media[media["taken_at_source"].isin(CAMERA_TIME_SOURCES) & media["camera_model"].notna()]
    m = media.set_index("id")
    fp = fp[fp["media_id"].isin(m.index)]
    taken = pd.to_datetime(m.loc[fp["media_id"], "taken_at"]).to_numpy()
    ok = ~pd.isna(taken)
    fp = fp[ok]
    if len(fp) < 2:
        return []
    ids = fp["media_id"].tolist()
    t = pd.to_datetime(m.loc[ids, "taken_at"]).astype("int64").to_numpy() / 1e9
    cam = (m.loc[ids, "camera_make"].fillna("") + "|" + m.loc[ids, "camera_model"].fillna("")).to_numpy()
    order = np.lexsort((t, cam))
    cand = []
    for a in range(len(order)):
        b = a + 1
        while b < len(order) and cam[order[b]] == cam[order[a]] and t[order[b]] - t[order[a]] <= settings.burst_max_gap_s:
            cand.append((min(order[a], order[b]), max(order[a], order[b])))
            b += 1
    if not cand:
        return []
    pairs = np.asarray(cand, dtype=np.int64)
    hashes = [as_uint64_array(fp[h].tolist()) for h in ("phash", "dhash", "ahash")]
    alike = star_distance(hashes, pairs) <= settings.burst_max_bits
    if vectors:  # CLIP sees the same scene where hashes see a moved camera
        cos = np.asarray([float(vectors[ids[i]] @ vectors[ids[j]]) if ids[i] in vectors and ids[j] in vectors
                          else -1.0 for i, j in pairs])
        alike |= cos >= settings.burst_min_clip_cosine
    pairs = _split_by_decisions(ids, pairs[alike], dismissed)
    return [[ids[i] for i in g] for g in connected_groups(len(ids), pairs)]
