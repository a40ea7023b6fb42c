"""A video's signature: pHashes of frames at fixed fractions of its duration. Re-encoding (another codec,
bitrate or size) keeps the frames at 10 %, 30 %, ... of the clip looking the same, so two signatures close frame
by frame, with durations that agree, are the same clip."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.settings import Settings


def video_signature(path: Path, fractions: tuple[float, ...], settings: Settings) -> list[int]:
    import imagehash

    from workbench.imaging.video_frames import frames_at_fractions
    out = []
    for im in frames_at_fractions(path, fractions, settings):
        out.append(int(str(imagehash.phash(im.convert("L").resize((64, 64)))), 16))
    return out


def same_clip_pairs(signatures: list[np.ndarray], durations: np.ndarray, *, max_mean_bits: float,
                    max_duration_diff_s: float) -> list[tuple[int, int]]:
    """Pairs of videos whose durations agree and whose frame hashes differ by at most ``max_mean_bits`` on average.

    Videos are sorted by duration, so each is compared only with the few whose duration is within the tolerance:
    no all-pairs loop over a library's videos."""
    from workbench.duplicates.candidates import popcount
    order = np.argsort(durations, kind="stable")
    d = durations[order]
    pairs = []
    for a in range(len(order)):
        b = a + 1
        while b < len(order) and d[b] - d[a] <= max(max_duration_diff_s, 0.02 * d[a]):
            i, j = int(order[a]), int(order[b])
            si, sj = signatures[i], signatures[j]
            if len(si) and len(si) == len(sj) and float(popcount(si ^ sj).mean()) <= max_mean_bits:
                pairs.append((min(i, j), max(i, j)))
            b += 1
    return pairs
