"""Consolidate faces found in a video's sampled frames into tracks: one person in a clip is one or a few faces.

A detection joins the track whose face it most resembles (embedding distance within ``max_distance``), or,
for faces without a usable embedding, the track whose last box it overlaps in the previous sampled frame.
Each track is stored as its best face (largest and sharpest), with how many frames it spans.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.faces.engine import Face
from workbench.faces.quality import quality_score

MIN_IOU = 0.3  # boxes overlapping this much in consecutive samples are the same face


@dataclass
class Track:
    faces: list[tuple[int, float, Face]] = field(default_factory=list)   # (sample index, seconds, face)

    @property
    def best(self) -> tuple[int, float, Face]:
        return max(self.faces, key=lambda s: (quality_score(s[2].size_px, s[2].sharpness), s[2].score))

    @property
    def mean_embedding(self) -> np.ndarray | None:
        vecs = [f.embedding for _, _, f in self.faces if f.embedding is not None]
        return np.mean(vecs, axis=0) if vecs else None


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def build_tracks(samples: list[tuple[float, list[Face]]], max_distance: float) -> list[Track]:
    """``samples`` are (seconds, faces) per sampled frame in time order; returns tracks in order of first sight."""
    tracks: list[Track] = []
    for idx, (t, faces) in enumerate(samples):
        taken: set[int] = set()
        for face in faces:
            best, best_d = None, max_distance
            for k, tr in enumerate(tracks):
                if k in taken:
                    continue  # two faces in one frame are two people
                m = tr.mean_embedding
                if face.embedding is not None and m is not None:
                    d = float(np.linalg.norm(face.embedding - m))
                    if d <= best_d:
                        best, best_d = k, d
                elif tr.faces[-1][0] == idx - 1 and iou(tr.faces[-1][2].bbox, face.bbox) >= MIN_IOU and best is None:
                    best = k
            if best is None:
                tracks.append(Track())
                best = len(tracks) - 1
            taken.add(best)
            tracks[best].faces.append((idx, t, face))
    return tracks
