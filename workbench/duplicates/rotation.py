""""Same picture" for a copy rotated by an arbitrary angle (straightened 2-45 degrees, or any angle, with black
corners or with the corners cropped), which the hashes of ``fingerprint`` cannot see: rotation-invariant
candidates, then a geometric check on keypoints.

Per image the fingerprints stage stores (``describe``):

* ``disc``: a rotation-invariant global descriptor of the thumbnail: colour histograms (4 levels per RGB channel,
  64 bins, square-rooted so Euclidean distance is Hellinger) of the central disc of radius ``DISC_RADIUS`` x the
  short side, split into the inner half-radius disc and the ring around it (128 floats). Editors and scanners
  rotate about the centre, and the disc stays inside the picture at any angle (black corners enter only beyond
  ~0.35 x the short side at 45 degrees), so a rotated copy keeps nearly the same two histograms; only the scale
  differs (0.8x with black corners, up to 1.35x with cropped corners).
* ORB keypoints (OpenCV: FAST corners with an orientation, 256-bit rotated BRIEF descriptors, 8 pyramid levels) of
  the preview shrunk to ``ORB_PX`` on its long side: at most ``ORB_FEATURES`` points, their x/y, the 32-byte
  descriptors and the working image size.

At read time (``rotated_pairs``): candidates are each image's ``neighbours`` nearest ``disc`` descriptors within
``max_disc_distance`` (exact, chunked matrix products: O(n^2) floats, seconds for ten thousand images). A candidate
pair that the hash search did not already join is verified: descriptors matched both ways (cross-check, Hamming
distance), a similarity transform (rotation, uniform scale, translation) fitted by RANSAC
(``cv2.estimateAffinePartial2D``), and accepted when at least ``min_inliers`` matches agree with it, its scale is
within ``SCALE_RANGE``, and it maps one picture's centre onto the other's within ``max_centre_offset`` x the long
side. The last test is what an editor's rotation does (true copies: p99 0.008); the stereo pair (0.05), a
burst-like frame with the scene moved 2-3 % (0.02-0.03) and a picture that contains another one (a collage, 0.27)
map the centre elsewhere and are refused.

Figures (benchmarks/rotated_duplicates.py, docs/benchmarks.md): recall per angle, black and cropped corners,
candidate and verification cost, false pairs among the corpus's distinct pictures and on burst-like near misses.
Pictures without texture (flat colour squares, a colour wheel, a chessboard's repeated corners) have too few
distinctive keypoints to be verified and are not found by this route.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

DISC_RADIUS = 0.3          # of the short side: inside the content of a copy rotated by any angle
DISC_LEVELS = 4            # per RGB channel -> 64 bins per histogram, two histograms (inner disc, ring)
DISC_DIM = 2 * DISC_LEVELS ** 3
ORB_PX = 640               # long side of the working image the keypoints are found on (from the preview)
ORB_FEATURES = 500
ORB_EDGE_PX = 15           # border without keypoints and BRIEF patch size, in working pixels
RANSAC_REPROJECTION = 0.012  # inlier distance, as a fraction of the working image's long side (7.7 px at 640)
SCALE_RANGE = (0.4, 2.5)   # a copy shrunk by black corners (0.7x) to one magnified by a crop (1.5x at 45 deg)
MIN_MATCHES = 5


@dataclass(frozen=True)
class Keypoints:
    """ORB keypoints of one picture's working image (``ORB_PX`` long side)."""

    xy: np.ndarray          # [n, 2] float32, working-image pixels
    descriptors: np.ndarray  # [n, 32] uint8
    width: int
    height: int


@dataclass(frozen=True)
class Verdict:
    same: bool
    inliers: int
    angle_deg: float
    scale: float
    centre_offset: float     # fraction of the long side


def disc_descriptor(rgb: np.ndarray) -> np.ndarray:
    """``disc`` of an HxWx3 uint8 picture (the thumbnail): see the module docstring."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(xx - w / 2 + 0.5, yy - h / 2 + 0.5)
    r = DISC_RADIUS * min(h, w)
    step = 256 // DISC_LEVELS
    q = (rgb[..., :3] // step).astype(np.int32)
    code = (q[..., 0] * DISC_LEVELS + q[..., 1]) * DISC_LEVELS + q[..., 2]
    out = []
    for mask in (d <= r / 2, (d > r / 2) & (d <= r)):
        hist = np.bincount(code[mask], minlength=DISC_LEVELS ** 3).astype(np.float64)
        out.append(np.sqrt(hist / max(1.0, hist.sum())) / math.sqrt(2))
    return np.concatenate(out).astype(np.float32)


def keypoints(rgb: np.ndarray) -> Keypoints:
    """ORB keypoints of an HxWx3 uint8 picture (the preview), found at ``ORB_PX`` on the long side."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    s = ORB_PX / max(h, w)
    if s < 1:
        grey = cv2.resize(grey, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, scaleFactor=1.2, nlevels=8, edgeThreshold=ORB_EDGE_PX,
                         patchSize=ORB_EDGE_PX, fastThreshold=10)
    kp, desc = orb.detectAndCompute(grey, None)
    xy = np.array([k.pt for k in kp], np.float32).reshape(-1, 2)
    if desc is None:
        desc = np.zeros((0, 32), np.uint8)
    return Keypoints(xy, desc, grey.shape[1], grey.shape[0])


def verify(a: Keypoints, b: Keypoints, *, min_inliers: int, max_centre_offset: float) -> Verdict:
    """Is ``b`` ``a`` rotated (and scaled, cropped or padded) about its centre? See the module docstring."""
    import cv2

    none = Verdict(False, 0, 0.0, 0.0, 1.0)
    if len(a.descriptors) < MIN_MATCHES or len(b.descriptors) < MIN_MATCHES:
        return none
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(a.descriptors, b.descriptors)
    if len(matches) < MIN_MATCHES:
        return none
    src = a.xy[[m.queryIdx for m in matches]]
    dst = b.xy[[m.trainIdx for m in matches]]
    long_b = max(b.width, b.height)
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                         ransacReprojThreshold=RANSAC_REPROJECTION * long_b,
                                         maxIters=2000, confidence=0.99)
    if m is None:
        return none
    n = int(inl.sum())
    scale = math.hypot(m[0, 0], m[1, 0])
    angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    centre = m @ np.array([a.width / 2, a.height / 2, 1.0])
    offset = math.hypot(centre[0] - b.width / 2, centre[1] - b.height / 2) / long_b
    same = (n >= min_inliers and SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] and offset <= max_centre_offset)
    return Verdict(same, n, angle, scale, offset)


def disc_candidates(disc: np.ndarray, neighbours: int, max_distance: float, chunk: int = 2048) -> np.ndarray:
    """Pairs (i < j) where j is among i's ``neighbours`` nearest ``disc`` descriptors (or i among j's) and their
    Euclidean distance is at most ``max_distance``. Exact, in chunks of rows: memory stays ``chunk x n``."""
    x = np.asarray(disc, np.float32)
    n = len(x)
    if n < 2 or neighbours <= 0:
        return np.zeros((0, 2), np.int64)
    sq = (x * x).sum(1)
    k = min(neighbours, n - 1)
    out = []
    for lo in range(0, n, chunk):
        d2 = sq[lo:lo + chunk, None] + sq[None, :] - 2.0 * (x[lo:lo + chunk] @ x.T)
        rows = np.arange(lo, min(n, lo + chunk))
        d2[rows - lo, rows] = np.inf
        nn = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dist = np.take_along_axis(d2, nn, axis=1)
        ok = dist <= max_distance ** 2
        i = np.repeat(rows, k)[ok.ravel()]
        j = nn.ravel()[ok.ravel()]
        out.append(np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1))
    pairs = np.concatenate(out).astype(np.int64)
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], axis=1)


def rotated_pairs(disc: np.ndarray, load: Callable[[Iterable[int]], dict[int, Keypoints]], *, neighbours: int,
                  max_disc_distance: float, min_inliers: int, max_centre_offset: float,
                  linked: np.ndarray | None = None) -> tuple[np.ndarray, list[Verdict]]:
    """Verified rotated-copy pairs among n pictures: candidates from ``disc_candidates``, minus pairs already in one
    component of ``linked`` (a component label per picture, e.g. from the hash pairs), each checked by ``verify``
    on keypoints fetched with ``load(indices)`` (only the candidates' keypoints are read)."""
    cand = disc_candidates(disc, neighbours, max_disc_distance)
    if linked is not None and len(cand):
        cand = cand[linked[cand[:, 0]] != linked[cand[:, 1]]]
    if len(cand) == 0:
        return np.zeros((0, 2), np.int64), []
    kps = load(sorted(set(cand.ravel().tolist())))
    keep, verdicts = [], []
    for i, j in cand.tolist():
        a, b = kps.get(i), kps.get(j)
        if a is None or b is None:
            continue
        v = verify(a, b, min_inliers=min_inliers, max_centre_offset=max_centre_offset)
        if v.same:
            keep.append((i, j))
            verdicts.append(v)
    return np.asarray(keep, np.int64).reshape(-1, 2), verdicts


def pack(k: Keypoints) -> dict[str, object]:
    """Keypoints as stored by the fingerprints stage: ``kp_xy`` (flat float32 list), ``kp_desc`` (bytes),
    ``kp_size`` ([width, height])."""
    return {"kp_xy": k.xy.reshape(-1).astype(np.float32).tolist(), "kp_desc": k.descriptors.tobytes(),
            "kp_size": [int(k.width), int(k.height)]}


def unpack(xy: list[float] | np.ndarray, desc: bytes, size: list[int]) -> Keypoints:
    """The inverse of ``pack``."""
    d = np.frombuffer(desc or b"", np.uint8).reshape(-1, 32)
    return Keypoints(np.asarray(xy, np.float32).reshape(-1, 2), d, int(size[0]), int(size[1]))
