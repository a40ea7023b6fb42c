"""Near-duplicate candidate search over 64-bit hashes without all-pairs loops: multi-index hashing in numpy.

``near_pairs(hashes, max_bits)`` returns every pair (i, j), i < j, whose Hamming distance is at most ``max_bits``
(see "Clones" below for the one deliberate exception). ``hashes`` is ``uint64`` of shape ``[n]`` (one hash per
image) or ``[n, k]``: column 0 is the image's own hash and columns 1..k-1 are alternative *views* of it (for
``fingerprint`` the 40 crop / rotation / mirror views; column 0 is the picture as it is). Distance is then the
*star* distance ``min_v min(d(h[i, 0], h[j, v]), d(h[j, 0], h[i, v]))``: the picture as it is against every view
of the other one, both ways (two views of the same image are never compared with each other).

How (multi-index hashing, Norouzi et al. 2012):

* The 64 bits are split into ``m`` contiguous bands. If two hashes differ in at most ``r`` bits, some band
  differs in at most ``s = r // m`` bits (pigeonhole). With ``m = r + 1`` bands that band is *identical*
  (``s = 0``); fewer, wider bands with ``s >= 1`` probe the ``sum C(width, <= s)`` neighbouring keys instead.
  ``m`` is chosen per call by counting, on a sample of the actual hashes, the probes and bucket hits each
  choice would cost: narrow bands (m = r + 1 = 9 bands of 7 bits for r = 8) make buckets of n / 128 entries,
  i.e. quadratic work, wide bands need many probes, and real hashes are skewed (ahash bands of a dark or bright
  half are common). For 100k random hashes and r = 8 it picks 5 bands of 12-13 bits with 1-bit probes; for
  r = 3 on the 40 views of 2,220 real fingerprints, 4 exact 16-bit bands for phash and dhash, 2 bands of 32 bits
  with 1-bit probes for the skewed ahash (and for every type at 100k images).
* Per band: the index keys (every view of every image) are sorted once (argsort) and cut into buckets; each
  query key (view 0) and its probes are located with ``searchsorted`` (needles sorted first: ~4x faster); matching ranges are expanded with ``np.repeat``/``cumsum``;
  candidates are verified with a vectorised popcount (``np.bitwise_count``, lookup table on numpy < 2) and
  deduplicated with ``np.unique``. Queries go in chunks, so memory stays bounded.

Guards against quadratic blow-up (blank or flat images all hashing to the same value):

* Clones: rows that are identical in all k columns are collapsed before the search. A group of up to
  ``clone_expand`` identical rows is returned as all its pairs; a larger group (e.g. 5000 blank images) is
  returned as a *star* around its lowest index (``g - 1`` pairs instead of ``g (g - 1) / 2``), and its pairs with
  other rows go through that representative. ``connected_groups`` is exactly the same either way.
* Buckets: a band bucket holding more than ``max_bucket`` index entries (many *different* hashes sharing one
  band value) is skipped for that band; the pair can still be found through another band. Each skip is reported.

Reports go to ``notes`` (a list the caller passes; one readable line per event) and to this module's logger.
"""
from __future__ import annotations

import logging
import math
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MAX_BUCKET = 50_000
DEFAULT_CLONE_EXPAND = 32
MAX_SUPPORTED_BITS = 24
_CHUNK_PROBES = 4_000_000  # query keys x probes located per step
_CHUNK_CANDIDATES = 8_000_000  # candidate pairs verified per step
_PROBE_COST = 3.0  # a searchsorted probe, relative to verifying one candidate (cost model only)
_PLAN_QUERIES = 2_000  # sample sizes for the cost model
_PLAN_INDEX = 100_000


# ----------------------------------------------------------------------------------------------- popcount

if hasattr(np, "bitwise_count"):
    def popcount(x: np.ndarray) -> np.ndarray:
        """Set bits of each uint64, as uint8."""
        return np.bitwise_count(x)
else:  # pragma: no cover - numpy < 2
    _LUT = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)

    def popcount(x: np.ndarray) -> np.ndarray:
        """Set bits of each uint64, as uint8."""
        x = np.ascontiguousarray(x, dtype=np.uint64)
        parts = x.view(np.uint16).reshape(*x.shape, 4)
        return _LUT[parts].sum(axis=-1, dtype=np.uint8)


# ------------------------------------------------------------------------------------------------- public


def near_pairs(hashes: np.ndarray, max_bits: int, *, max_bucket: int = DEFAULT_MAX_BUCKET,
               clone_expand: int = DEFAULT_CLONE_EXPAND, notes: list[str] | None = None) -> np.ndarray:
    """Index pairs ``[m, 2]`` (int64, i < j, sorted, unique) within ``max_bits`` (star distance for ``[n, k]``).

    See the module docstring for the algorithm, the clone star and the bucket cap."""
    h = _as_uint64(hashes)
    if h.ndim == 1:
        h = h[:, None]
    if h.ndim != 2 or h.shape[1] < 1:
        raise ValueError(f"hashes must have shape [n] or [n, k], got {np.shape(hashes)}")
    max_bits = int(max_bits)
    if not 0 <= max_bits <= MAX_SUPPORTED_BITS:
        raise ValueError(f"max_bits must be within 0..{MAX_SUPPORTED_BITS}, got {max_bits}")
    n = h.shape[0]
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)

    # Collapse identical rows ("clones"); search the distinct rows only.
    rows, first, inverse, counts = _unique_rows(h)
    found = _search(rows, max_bits, max_bucket, notes)
    return _expand(found, first, inverse, counts, clone_expand, notes)


def connected_groups(n: int, pairs: np.ndarray) -> list[list[int]]:
    """Connected components of the graph on ``n`` nodes with edges ``pairs``; only groups of >= 2, each sorted,
    ordered by their smallest member."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if n <= 0 or len(pairs) == 0:
        return []
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    groups = [g.tolist() for g in np.split(order, bounds) if len(g) >= 2]
    groups.sort(key=lambda g: g[0])
    return groups


def star_distance(hashes: Sequence[np.ndarray] | np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """For each pair (i, j): ``min_v min(D(i, 0; j, v), D(j, 0; i, v))`` where ``D`` sums the Hamming distances
    of all hash types given (each ``[n, k]`` with the same views) at that one view pairing. int32 ``[m]``."""
    arrays = [_as_uint64(hashes)] if isinstance(hashes, np.ndarray) else [_as_uint64(a) for a in hashes]
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    out = np.empty(len(pairs), dtype=np.int32)
    step = max(1, _CHUNK_CANDIDATES // max(1, arrays[0].shape[1] * len(arrays)))
    for lo in range(0, len(pairs), step):
        i, j = pairs[lo:lo + step, 0], pairs[lo:lo + step, 1]
        fwd = sum(popcount(a[i, :1] ^ a[j]).astype(np.int32) for a in arrays)  # i as is vs views of j
        bwd = sum(popcount(a[j, :1] ^ a[i]).astype(np.int32) for a in arrays)  # j as is vs views of i
        out[lo:lo + step] = np.minimum(fwd.min(axis=1), bwd.min(axis=1))
    return out


class Matches(tuple):
    """``same_picture_pairs`` result. Unpacks as ``pairs, distance``; also ``.pairs``, ``.distance`` and
    ``.off_centre``:

    * ``pairs``: ``[m, 2]`` int64, i < j, sorted;
    * ``distance``: ``[m]`` int32, the summed hash distance (two flat pictures: largest colour channel difference);
    * ``off_centre``: ``[m]`` bool, matched only through an off-centre crop view (see ``fingerprint``)."""

    off_centre: np.ndarray

    def __new__(cls, pairs: np.ndarray, distance: np.ndarray, off_centre: np.ndarray) -> "Matches":
        self = super().__new__(cls, (pairs, distance))
        self.off_centre = off_centre
        return self

    @property
    def pairs(self) -> np.ndarray:
        return self[0]

    @property
    def distance(self) -> np.ndarray:
        return self[1]


def same_picture_pairs(hashes: Mapping[str, np.ndarray], *, candidate_bits: int | None = None,
                       max_total_bits: int | None = None, off_centre_max_bits: int | None = None,
                       detail: np.ndarray | None = None, colour: np.ndarray | None = None,
                       min_detail: int | None = None, notes: list[str] | None = None) -> Matches:
    """"Same picture" pairs from ``fingerprint`` output, all images at once.

    ``hashes``: ``{"phash": [n, V], "dhash": ..., "ahash": ...}`` (uint64, or int64 as stored; V = N_VIEWS, or
    any V for other layouts). Candidates: ``near_pairs`` per hash type at ``candidate_bits`` (union). Kept: the
    ``star_distance`` summed over all given types, over the centre views (the first ``N_CENTRE_VIEWS``: as is,
    rotated, mirrored, centre-cropped) <= ``max_total_bits``, or over all views (adds the off-centre crops)
    <= ``off_centre_max_bits``. The second is stricter on purpose: an off-centre crop is geometrically a small
    camera shift, so it is also what a burst frame or a stereo pair looks like (``off_centre`` marks such
    matches; treat them with the capture times at hand). ``detail`` and ``colour`` (the fingerprints' values)
    handle flat pictures (detail < ``min_detail``), whose hashes are encoder noise: they never go through the hash
    search; two flat pictures are the same picture when their mean colours pass ``fingerprint.flat_colours_match``
    (candidates from ``near_pairs`` on ``colour_code`` thermometer codes). Without ``colour`` flat pictures are
    left unpaired; without ``detail`` every picture goes through its hashes.
    Defaults come from ``workbench.duplicates.fingerprint``."""
    from workbench.duplicates import fingerprint as fpmod

    candidate_bits = fpmod.CANDIDATE_BITS if candidate_bits is None else candidate_bits
    max_total_bits = fpmod.SAME_PICTURE_MAX_BITS if max_total_bits is None else max_total_bits
    off_max = fpmod.OFF_CENTRE_MAX_BITS if off_centre_max_bits is None else off_centre_max_bits
    min_detail = fpmod.MIN_DETAIL if min_detail is None else min_detail
    arrays = [_as_uint64(a) for a in hashes.values()]
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    if not arrays:
        raise ValueError("no hashes given")
    n, views = arrays[0].shape
    flat = np.zeros(n, dtype=bool) if detail is None else np.asarray(detail).reshape(-1) < min_detail
    idx = np.flatnonzero(~flat)
    found = [idx[near_pairs(a[idx], candidate_bits, notes=notes)] for a in arrays]
    pairs = _unique_pairs(np.concatenate(found), n)
    d_all = star_distance(arrays, pairs)
    if views > fpmod.N_CENTRE_VIEWS:
        d_centre = star_distance([a[:, :fpmod.N_CENTRE_VIEWS] for a in arrays], pairs)
    else:
        d_centre = d_all
    centre_ok = d_centre <= max_total_bits
    keep = centre_ok | (d_all <= off_max)
    pairs = pairs[keep]
    dist = np.where(centre_ok, d_centre, d_all)[keep].astype(np.int32)
    off = ~centre_ok[keep]
    if colour is not None and flat.sum() >= 2:
        fidx = np.flatnonzero(flat)
        col = np.asarray(colour, dtype=np.int64).reshape(-1)
        fp = fidx[near_pairs(fpmod.colour_code(col[fidx]), fpmod.FLAT_CANDIDATE_LEVELS, notes=notes)]
        fp = fp[fpmod.flat_colours_match(col[fp[:, 0]], col[fp[:, 1]])]
        pairs = np.concatenate([pairs, fp])
        dist = np.concatenate([dist, fpmod.colour_difference(col[fp[:, 0]], col[fp[:, 1]])])
        off = np.concatenate([off, np.zeros(len(fp), dtype=bool)])
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        pairs, dist, off = pairs[order], dist[order], off[order]
    return Matches(pairs, dist, off)


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], axis=1)


# --------------------------------------------------------------------------------------------- internals


def _as_uint64(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint64:
        return a
    if a.dtype == np.int64:
        return a.view(np.uint64)
    if a.dtype == object:
        from workbench.duplicates.fingerprint import as_uint64_array
        return as_uint64_array(a.tolist())
    if np.issubdtype(a.dtype, np.integer):
        if a.size and a.min() < 0:
            return a.astype(np.int64).view(np.uint64)
        return a.astype(np.uint64)
    raise TypeError(f"hashes must be integers (uint64 or int64), got {a.dtype}")


def _unique_rows(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows, index of each one's first occurrence, row -> distinct id, and multiplicities."""
    h = np.ascontiguousarray(h)
    if h.shape[1] == 1:
        keys = h[:, 0]
    else:
        keys = h.view(np.dtype((np.void, h.dtype.itemsize * h.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")  # distinct ids in order of first appearance (cosmetic, stable)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return h[first[order]], first[order], rank[inverse.reshape(-1)], counts[order]


def _band_plan(query: np.ndarray, index: np.ndarray, max_bits: int) -> tuple[list[tuple[int, int]], int]:
    """[(shift, width)] of the bands and the per-band probe radius with the least expected work: for every band
    count m (1..max_bits+1, radius max_bits // m), probes x PROBE_COST + candidates, the candidates counted on a
    sample of the actual hashes (real hashes are skewed: e.g. ahash bands of dark or bright halves)."""
    rng = np.random.default_rng(0)
    qs = query if len(query) <= _PLAN_QUERIES else query[rng.choice(len(query), _PLAN_QUERIES, replace=False)]
    xs = index if len(index) <= _PLAN_INDEX else index[rng.choice(len(index), _PLAN_INDEX, replace=False)]
    scale = len(index) / max(1, len(xs))
    best: tuple[float, list[tuple[int, int]], int] | None = None
    for m in range(1, min(64, max_bits + 1) + 1):
        s = max_bits // m
        widths = [64 // m + (1 if b < 64 % m else 0) for b in range(m)]
        n_probes = [sum(math.comb(w, t) for t in range(s + 1)) for w in widths]
        if max(n_probes) * len(qs) > 4 * _CHUNK_PROBES:  # far too many probes to be the cheapest: skip counting
            continue
        shifts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int).tolist()
        cost = 0.0
        for sh, w, npr in zip(shifts, widths, n_probes):
            mask, shv = np.uint64((1 << w) - 1), np.uint64(sh)
            keys = np.sort((xs >> shv) & mask)
            probe = (((qs >> shv) & mask)[:, None] ^ _probe_masks(w, s)[None, :]).reshape(-1)
            hits = np.searchsorted(keys, probe, side="right") - np.searchsorted(keys, probe, side="left")
            cost += npr * _PROBE_COST + float(hits.sum()) * scale / len(qs)
        if best is None or cost < best[0]:
            best = (cost, [(int(a), int(b)) for a, b in zip(shifts, widths)], s)
    if best is None:  # cannot happen for max_bits <= MAX_SUPPORTED_BITS (m = max_bits + 1 has one probe)
        raise ValueError(f"no band plan for max_bits={max_bits}")
    return best[1], best[2]


def _probe_masks(width: int, radius: int) -> np.ndarray:
    masks = [0]
    for t in range(1, radius + 1):
        masks.extend(sum(1 << b for b in bits) for bits in combinations(range(width), t))
    return np.array(masks, dtype=np.uint64)


def _search(rows: np.ndarray, max_bits: int, max_bucket: int, notes: list[str] | None) -> np.ndarray:
    """Pairs (a < b) of distinct rows within ``max_bits`` (star distance), as int64 ``[m, 2]``."""
    u, k = rows.shape
    query = rows[:, 0]
    index = rows.reshape(-1)
    owner = np.repeat(np.arange(u, dtype=np.int64), k)
    bands, radius = _band_plan(query, index, max_bits)
    found: list[np.ndarray] = []
    skipped_probes = 0
    largest_skipped = 0
    for shift, width in bands:
        mask = np.uint64((1 << width) - 1)
        sh = np.uint64(shift)
        ikeys = (index >> sh) & mask
        order = np.argsort(ikeys, kind="stable")
        sorted_keys = ikeys[order]
        # buckets: distinct keys, where each starts in sorted_keys, how many entries it holds
        starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
        bucket_keys = sorted_keys[starts]
        bucket_size = np.diff(np.append(starts, len(sorted_keys)))
        qkeys = (query >> sh) & mask
        probes = _probe_masks(width, radius)
        step = max(1, _CHUNK_PROBES // len(probes))
        for q0 in range(0, u, step):
            qk = qkeys[q0:q0 + step]
            keys = (qk[:, None] ^ probes[None, :]).reshape(-1)
            qid = np.repeat(np.arange(q0, q0 + len(qk), dtype=np.int64), len(probes))
            by_key = np.argsort(keys)  # sorted needles: searchsorted walks memory forward (~4x faster)
            keys, qid = keys[by_key], qid[by_key]
            pos = np.minimum(np.searchsorted(bucket_keys, keys), len(bucket_keys) - 1)
            hit = bucket_keys[pos] == keys
            pos, qid = pos[hit], qid[hit]
            lo, cnt = starts[pos], bucket_size[pos]
            heavy = cnt > max_bucket
            if heavy.any():
                skipped_probes += int(heavy.sum())
                largest_skipped = max(largest_skipped, int(cnt[heavy].max()))
                cnt = np.where(heavy, 0, cnt)
            found.extend(_verify_ranges(qid, lo, cnt, order, owner, query, index, max_bits))
    if skipped_probes:
        msg = (f"near_pairs: {skipped_probes} probe(s) into band buckets larger than max_bucket={max_bucket} "
               f"(largest {largest_skipped} entries) were skipped; pairs sharing only such a band may be missed")
        _note(notes, msg)
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // u, codes % u], axis=1)


def _verify_ranges(qid: np.ndarray, lo: np.ndarray, cnt: np.ndarray, order: np.ndarray, owner: np.ndarray,
                   query: np.ndarray, index: np.ndarray, max_bits: int) -> list[np.ndarray]:
    """Expand (query, sorted-index range) hits into candidates, keep those within max_bits, as pair codes."""
    nz = cnt > 0
    qid, lo, cnt = qid[nz], lo[nz], cnt[nz]
    out: list[np.ndarray] = []
    if len(cnt) == 0:
        return out
    csum = np.cumsum(cnt)
    start = 0
    u = len(query)
    while start < len(cnt):  # split so that one step verifies about _CHUNK_CANDIDATES candidates
        base = csum[start - 1] if start else 0
        stop = int(np.searchsorted(csum, base + _CHUNK_CANDIDATES, side="right"))
        stop = max(stop, start + 1)
        c = cnt[start:stop]
        total = int(c.sum())
        rep_q = np.repeat(qid[start:stop], c)
        offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
        pos = np.repeat(lo[start:stop], c) + offs
        entry = order[pos]
        other = owner[entry]
        ok = other != rep_q
        rep_q, entry, other = rep_q[ok], entry[ok], other[ok]
        close = popcount(query[rep_q] ^ index[entry]) <= max_bits
        a, b = rep_q[close], other[close]
        out.append(np.minimum(a, b) * u + np.maximum(a, b))
        start = stop
    return out


def _expand(found: np.ndarray, first: np.ndarray, inverse: np.ndarray, counts: np.ndarray, clone_expand: int,
            notes: list[str] | None) -> np.ndarray:
    """Pairs of distinct rows -> pairs of images, plus the pairs inside groups of identical rows."""
    parts: list[np.ndarray] = []
    starred = 0
    largest = 0
    multi = np.flatnonzero(counts > 1)
    members: dict[int, np.ndarray] = {}
    if len(multi):
        order = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(counts)))])
        for g in multi.tolist():
            mem = order[bounds[g]:bounds[g + 1]]  # ascending image indices (stable sort)
            members[g] = mem
            if len(mem) <= clone_expand:
                ii, jj = np.triu_indices(len(mem), 1)
                parts.append(np.stack([mem[ii], mem[jj]], axis=1))
            else:
                starred += 1
                largest = max(largest, len(mem))
                parts.append(np.stack([np.full(len(mem) - 1, mem[0]), mem[1:]], axis=1))
    if len(found):
        a, b = found[:, 0], found[:, 1]
        simple = (counts[a] == 1) & (counts[b] == 1)
        parts.append(np.stack([first[a[simple]], first[b[simple]]], axis=1))
        for x, y in found[~simple].tolist():
            mx = members.get(x, first[x:x + 1])
            my = members.get(y, first[y:y + 1])
            if len(mx) > clone_expand or len(my) > clone_expand:
                parts.append(np.array([[first[x], first[y]]]))
            else:
                parts.append(np.stack(np.meshgrid(mx, my, indexing="ij"), axis=-1).reshape(-1, 2))
    if starred:
        _note(notes, f"near_pairs: {starred} group(s) of identical hashes larger than clone_expand={clone_expand} "
                     f"(largest {largest}) returned as a star around their lowest index, not all pairs")
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(parts).astype(np.int64)
    lo, hi = pairs.min(axis=1), pairs.max(axis=1)
    n = len(inverse)
    codes = np.unique((lo * n + hi)[lo != hi])
    return np.stack([codes // n, codes % n], axis=1)


def _note(notes: list[str] | None, msg: str) -> None:
    log.warning(msg)
    if notes is not None:
        notes.append(msg)
