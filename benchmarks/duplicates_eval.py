#!/usr/bin/env python
""""Same picture" evaluation of workbench.duplicates: generated copies, corpus known answers, 100k scale.

1. Transforms. Every distinct (by bytes) JPEG/PNG/WebP under the corpus's skimage_data/, peer/, faces/ and
   duplicates/ (147 files, 131 distinct pictures: photos, portraits, landscapes, a few graphics and four flat
   colour squares) is an original. Each is decoded upright at full size (workbench.imaging.decode.open_upright)
   and saved as a copy per transform: resize50 (LANCZOS to half), jpeg_q60, webp (q80), crop5 / crop10 (5 % / 10 %
   off every side), rot90 / rot180 / rot270, mirror, bright10 (+10 % brightness), all JPEG q92 unless named, and
   strip (the stored pixels re-saved as JPEG q95 without EXIF and ICC profile: not rotated by its orientation tag
   any more, colours no longer converted from e.g. Display P3). Extra, reported but not in the target: off-centre
   crops crop10_lt (10 % off the left and top), crop10_t (10 % off the top), crop5_rb (5 % off right and bottom).
   Every original and copy then goes the stage's way: workbench.imaging.renditions.render_image_file (upright,
   ICC -> sRGB, 1440 px preview, 256 px thumbnail, both WebP q80) and the thumbnail (or with --source preview
   the preview) is decoded and fingerprinted (workbench.duplicates.fingerprint).
   Truth: a pair is "same picture" when both come from the same picture. Pictures are files, except the groups in
   SAME below (in-corpus copies: the 240p-1080p ladder, obama2 == 32bit.png, the ICC pair, re-tagged copies,
   a rotated PNG, a cropped selfie), checked by eye. Pairs in DONT_CARE are left out of every score (obama.jpg vs
   its letterboxed ladder and its two half-image crops; a portrait vs the same portrait with text painted on).
   Everything else is a negative, including hard ones: the skimage stereo pair motorcycle_left/right (same scene a
   few cm apart), obama / obama2 / obama3 (same person, different photos), four selfies of the same couple, four
   flat squares of different colours (Immich's date test files, which a pHash alone calls identical).
   Scores: "found" pairs come from workbench.duplicates.candidates.same_picture_pairs with the defaults of
   workbench.duplicates.fingerprint, groups from connected_groups. recall(transform) = share of (original, its
   copy) pairs in one group; "direct" = found as a pair. Precision = share of found pairs that are the same
   picture ("pairs"), and of all pairs inside the groups ("groups", what a user would see). The sweeps print the
   same for other thresholds, without the off-centre views, and for phash alone.
2. Corpus known answers: face_recognition's exact-duplicate triplets and 240p-1080p ladder, duplicates/imagehash's
   ICC pair, Immich's three el_torcal_rocks copies, PhotoPrism's three IMG_4120 copies must each end up in one
   group; obama/obama2, motorcycle left/right, peppers/imagehash.png, obama/biden must not. Grouped twice: among
   the corpus files alone, and together with all of set 1's copies.
3. Scale (--scale-n, default 100000, synthetic): (a) one random uint64 per image, planted pairs with 0-8 flipped
   bits, a block of 5000 identical hashes (blank images), near_pairs(max_bits=8) + connected_groups;
   (b) the production search: random [n, 40] views per hash type, planted copies whose view 0 is a random view of
   the original (half centre views with phash 0-3 / dhash 0-8 / ahash 0-8 flipped bits, half off-centre views
   with 0-2 each), the same blank block; same_picture_pairs + connected_groups. Both report seconds and whether
   every planted pair was found. Random hashes are not skewed like real ones (see candidates' band planner).

Measured 2026-11-21 (2 cores; thumb, defaults: 40 views, candidates at 3 bits per type, summed distance <= 20
over centre views or <= 6 through an off-centre view, flat pictures by colour):
   every target transform recall 1.000 (147 pairs each), overall 1.000; precision pairs 0.9999 (1 false of 17856),
   groups 0.9896 -- the one false pair is motorcycle_left cropped off-centre ~ motorcycle_right cropped
   off-centre (both extra transforms), which joins the two stereo families; without the extra copies they stay
   apart (their closest summed distance, over all target copies, is 24 on centre views, 16 through off-centre
   views). Extra off-centre crops: 1.000 / 0.993 / 0.993 (0.048 / 0.245 / 0.415 without off-centre views).
   Margins: true (original, copy) distances median 1, p99 16, all <= 18. phash alone at any radius 2-10: recall
   0.993-0.994, precision 0.991-0.977 (pairs) and 0.979-0.839 (groups). --source preview: the same recall and
   precision at 19 ms instead of 10-14 ms per fingerprint (plus decoding a 1440 px WebP).
   Corpus known answers: all 7 sets grouped, all 4 negatives apart among the corpus files (motorcycle L/R joined
   only through the off-centre copies, as above). Scale: (a) 4.0 s, (b) 6.6 s, every planted pair found, the
   blank block one group of 5000 returned as 4999 star pairs.

Examples
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/duplicates_eval.py
  python benchmarks/duplicates_eval.py --corpus /work/shared/corpus --source preview --skip-scale
  python benchmarks/duplicates_eval.py --only-scale --scale-n 100000 --json
  python benchmarks/duplicates_eval.py --cache /tmp/dup.pkl   # fingerprint once, re-score quickly
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SUBSETS = ("skimage_data", "peer", "faces", "duplicates")
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
TARGET_TRANSFORMS = ("resize50", "jpeg_q60", "webp", "crop5", "crop10", "rot90", "rot180", "rot270", "mirror",
                     "strip", "bright10")
EXTRA_TRANSFORMS = ("crop10_lt", "crop10_t", "crop5_rb")  # off-centre crops: reported, not in the target

_FR = "faces/face_recognition/"
_PP = "peer/photoprism/"
SAME = [  # in-corpus copies of one picture (checked by eye), beyond byte-identical files
    [_FR + "examples/obama-240p.jpg", _FR + "examples/obama-480p.jpg", _FR + "examples/obama-720p.jpg",
     _FR + "examples/obama-1080p.jpg"],
    [_FR + "examples/knn_examples/train/obama/obama2.jpg", _FR + "tests/test_images/32bit.png"],
    [_PP + "meta_testdata/Iceland-P3.jpg", _PP + "meta_testdata/Iceland-sRGB.jpg"],
    [_PP + f"meta_testdata/iptc-{y}.jpg" for y in (2014, 2016, 2017, 2019, 2021)],
    ["skimage_data/chessboard_GRAY.png", "skimage_data/chessboard_RGB.png"],
    [_PP + "photoprism_testdata/orientation.png", _PP + "photoprism_testdata/photoprism.png"],
    [_PP + "meta_testdata/digikam.jpg", _PP + "photoprism_testdata/orientation.jpg"],
    [_PP + "meta_testdata/no-exif-data.jpg", _PP + "meta_testdata/screenshot.png"],
    [_PP + "meta_testdata/tweethog.png", _PP + "photoprism_testdata/rotate/6.png"],
    ["duplicates/imagehash/bigbuckbunny.png", "duplicates/imagehash/bigbuckbunny-with-diff-icc.png"],
    ["faces/photoprism/images/17.jpg", "faces/photoprism/images/overlap/2.jpg"],
]
DONT_CARE = [  # neither same nor different: left out of the scores
    [_FR + "examples/knn_examples/train/obama/obama.jpg", _FR + "examples/obama-240p.jpg",
     _FR + "tests/test_images/obama_partial_face.jpg", _FR + "tests/test_images/obama_partial_face2.jpg"],
    ["peer/immich-test-assets/metadata/faces/portrait.jpg",
     "peer/immich-test-assets/metadata/faces/portrait-orientation-6.jpg"],
]
KNOWN_NEGATIVES = [
    (_FR + "examples/knn_examples/train/obama/obama.jpg", _FR + "examples/knn_examples/train/obama/obama2.jpg"),
    ("skimage_data/motorcycle_left.png", "skimage_data/motorcycle_right.png"),
    ("duplicates/imagehash/peppers.png", "duplicates/imagehash/imagehash.png"),
    (_FR + "tests/test_images/obama.jpg", _FR + "tests/test_images/biden.jpg"),
]


# ------------------------------------------------------------------------------------------------ images


def corpus_files(corpus: Path) -> list[Path]:
    files: list[Path] = []
    for sub in SUBSETS:
        files += sorted(p for p in (corpus / sub).rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    return files


def stage_image(path: Path, source: str) -> Any:
    """The rendition the duplicates stage reads (thumb or preview WebP), decoded."""
    from PIL import Image

    from workbench.formats.sniff import sniff
    from workbench.imaging.renditions import render_image_file

    r = render_image_file(path, sniff(path).mime)[source]
    im = Image.open(io.BytesIO(r.data))
    im.load()
    return im


def _crop(im: Any, frac: float, sides: str = "ltrb") -> Any:
    w, h = im.size
    dx, dy = round(w * frac), round(h * frac)
    return im.crop((dx if "l" in sides else 0, dy if "t" in sides else 0,
                    w - dx if "r" in sides else w, h - dy if "b" in sides else h))


def transforms() -> dict[str, Callable[[Any], tuple[Any, str, int]]]:
    from PIL import Image, ImageEnhance

    T = Image.Transpose
    return {
        "resize50": lambda im: (im.resize((max(1, im.width // 2), max(1, im.height // 2)),
                                          Image.Resampling.LANCZOS), "JPEG", 92),
        "jpeg_q60": lambda im: (im, "JPEG", 60),
        "webp": lambda im: (im, "WEBP", 80),
        "crop5": lambda im: (_crop(im, 0.05), "JPEG", 92),
        "crop10": lambda im: (_crop(im, 0.10), "JPEG", 92),
        "crop10_lt": lambda im: (_crop(im, 0.10, "lt"), "JPEG", 92),
        "crop10_t": lambda im: (_crop(im, 0.10, "t"), "JPEG", 92),
        "crop5_rb": lambda im: (_crop(im, 0.05, "rb"), "JPEG", 92),
        "rot90": lambda im: (im.transpose(T.ROTATE_90), "JPEG", 92),
        "rot180": lambda im: (im.transpose(T.ROTATE_180), "JPEG", 92),
        "rot270": lambda im: (im.transpose(T.ROTATE_270), "JPEG", 92),
        "mirror": lambda im: (im.transpose(T.FLIP_LEFT_RIGHT), "JPEG", 92),
        "bright10": lambda im: (ImageEnhance.Brightness(im).enhance(1.1), "JPEG", 92),
    }


def make_copies(src: Path, stem: str, out: Path) -> list[tuple[str, Path]]:
    """[(transform, file)] for one original."""
    from PIL import Image

    from workbench.formats.sniff import sniff
    from workbench.imaging.decode import open_upright

    up = open_upright(src, sniff(src).mime)
    if up.mode != "RGB":  # JPEG has no alpha: drop it the way most converters do (Pillow keeps the colour)
        up = up.convert("RGB")
    made = []
    for name, fn in transforms().items():
        im, fmt, q = fn(up)
        f = out / f"{stem}_{name}.{'webp' if fmt == 'WEBP' else 'jpg'}"
        im.save(f, fmt, quality=q)
        made.append((name, f))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(src) as raw:  # stored pixels, no orientation applied, no profile, no metadata
            raw.load()
            plain = raw.convert("RGB")
    f = out / f"{stem}_strip.jpg"
    plain.save(f, "JPEG", quality=95)
    made.append(("strip", f))
    return made


# ------------------------------------------------------------------------------------------------ scoring


def pair_labels(pic: list[str], dc: list[frozenset[int]]) -> Callable[[Any, Any], tuple[Any, Any]]:
    """(same, dont_care) boolean arrays for index arrays i, j."""
    import numpy as np

    pic_id = {p: k for k, p in enumerate(sorted(set(pic)))}
    P = np.array([pic_id[p] for p in pic])
    DC = np.zeros((len(pic), len(DONT_CARE)), dtype=bool)
    for k, s in enumerate(dc):
        for g in s:
            DC[k, g] = True

    def labels(i: Any, j: Any) -> tuple[Any, Any]:
        same = P[i] == P[j]
        dont = (DC[i] & DC[j]).any(axis=1) & ~same
        return same, dont

    return labels


def score(n: int, pairs: Any, items: list[dict[str, Any]], labels: Callable) -> dict[str, Any]:
    import numpy as np

    from workbench.duplicates.candidates import connected_groups

    groups = connected_groups(n, pairs)
    gid = np.full(n, -1)
    for k, g in enumerate(groups):
        gid[g] = k
    found = set(map(tuple, np.asarray(pairs).tolist()))
    per: dict[str, dict[str, float]] = {}
    tot_g = tot_d = tot = 0
    for tr in TARGET_TRANSFORMS + EXTRA_TRANSFORMS:
        idx = [(it["orig"], k) for k, it in enumerate(items) if it["transform"] == tr]
        g = sum(1 for a, b in idx if gid[a] >= 0 and gid[a] == gid[b])
        d = sum(1 for a, b in idx if (min(a, b), max(a, b)) in found)
        per[tr] = {"pairs": len(idx), "recall": g / max(1, len(idx)), "recall_direct": d / max(1, len(idx))}
        if tr in TARGET_TRANSFORMS:
            tot_g, tot_d, tot = tot_g + g, tot_d + d, tot + len(idx)
    p = np.asarray(pairs).reshape(-1, 2)
    same, dont = labels(p[:, 0], p[:, 1])
    tp, fp = int((same & ~dont).sum()), int((~same & ~dont).sum())
    gi, gj = [], []
    for g in groups:
        a, b = np.triu_indices(len(g), 1)
        gi.append(np.asarray(g)[a])
        gj.append(np.asarray(g)[b])
    if gi:
        gsame, gdont = labels(np.concatenate(gi), np.concatenate(gj))
        gtp, gfp = int((gsame & ~gdont).sum()), int((~gsame & ~gdont).sum())
    else:
        gtp = gfp = 0
    return {"per_transform": per, "recall": tot_g / max(1, tot), "recall_direct": tot_d / max(1, tot),
            "precision_pairs": tp / max(1, tp + fp), "false_pairs": fp, "true_pairs": tp,
            "precision_groups": gtp / max(1, gtp + gfp), "false_group_pairs": gfp, "groups": len(groups),
            "largest_group": max((len(g) for g in groups), default=0), "group_of": gid}


def false_examples(pairs: Any, names: list[str], labels: Callable, limit: int = 8) -> list[str]:
    import numpy as np

    p = np.asarray(pairs).reshape(-1, 2)
    same, dont = labels(p[:, 0], p[:, 1])
    bad = p[~same & ~dont]
    return [f"{names[a]} ~ {names[b]}" for a, b in bad[:limit].tolist()]


# ------------------------------------------------------------------------------------------------ sections


def build_eval_set(corpus: Path, source: str, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Fingerprints of every original, copy and byte-duplicate corpus file; labels."""
    from workbench.duplicates.fingerprint import fingerprint

    files = corpus_files(corpus)
    by_digest: dict[str, Path] = {}
    originals: list[Path] = []
    byte_dups: list[tuple[Path, Path]] = []
    for p in files:
        d = hashlib.sha256(p.read_bytes()).hexdigest()
        if d in by_digest:
            byte_dups.append((p, by_digest[d]))
            continue
        by_digest[d] = p
        originals.append(p)
    rel = lambda p: str(p.relative_to(corpus))  # noqa: E731
    pic_of = {f: g[0] for g in SAME for f in g}
    items: list[dict[str, Any]] = []
    fps: list[dict[str, Any]] = []
    t_fp = 0.0
    t0 = time.perf_counter()

    def add(path: Path, name: str, transform: str, picture: str, orig: int | None) -> bool:
        nonlocal t_fp
        try:
            img = stage_image(path, source)
        except Exception as e:  # noqa: BLE001 (a corpus file the stage cannot decode is not in the set)
            log(f"  skipped {name}: {e}")
            return False
        t = time.perf_counter()
        fps.append(fingerprint(img))
        t_fp += time.perf_counter() - t
        items.append({"name": name, "transform": transform, "picture": picture,
                      "orig": len(items) if orig is None else orig})
        return True

    orig_index: dict[str, int] = {}
    for p in originals:
        name = rel(p)
        if add(p, name, "orig", pic_of.get(name, name), None):
            orig_index[name] = len(items) - 1
    for p, first in byte_dups:  # same bytes under another name: part of the known answers
        if rel(first) in orig_index:
            add(p, rel(p), "bytes", items[orig_index[rel(first)]]["picture"], orig_index[rel(first)])
    for k, name in enumerate(list(orig_index)):
        made = make_copies(corpus / name, f"{k:03d}", work)
        for tr, f in made:
            add(f, f"{name} [{tr}]", tr, items[orig_index[name]]["picture"], orig_index[name])
    dc_sets = []
    dc_of = {f: k for k, g in enumerate(DONT_CARE) for f in g}
    for it in items:
        base = items[it["orig"]]["name"]  # copies and byte duplicates are marked like their original
        ks = {dc_of[base]} if base in dc_of else set()
        # a copy of a SAME-group member carries the don't-care marks of the whole group
        ks |= {dc_of[f] for g in SAME if base in g for f in g if f in dc_of}
        dc_sets.append(frozenset(ks))
    log(f"  {len(orig_index)} originals, {len(byte_dups)} byte duplicates, {len(items)} images in "
        f"{time.perf_counter() - t0:.0f} s; fingerprint {1000 * t_fp / len(items):.1f} ms/image ({source})")
    return {"items": items, "fps": fps, "dc": dc_sets, "fingerprint_ms": 1000 * t_fp / len(items),
            "originals": len(orig_index), "pictures": len({items[i]["picture"] for i in orig_index.values()})}


def evaluate_transforms(data: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    import numpy as np

    from workbench.duplicates.candidates import same_picture_pairs
    from workbench.duplicates.fingerprint import (CANDIDATE_BITS, HASH_TYPES, MIN_DETAIL, OFF_CENTRE_MAX_BITS,
                                                  SAME_PICTURE_MAX_BITS, as_uint64_array)

    items, fps = data["items"], data["fps"]
    n = len(items)
    names = [it["name"] for it in items]
    labels = pair_labels([it["picture"] for it in items], data["dc"])
    hashes = {t: as_uint64_array([fp[t] for fp in fps]) for t in HASH_TYPES}
    detail = np.array([fp["detail"] for fp in fps])
    colour = np.array([fp["colour"] for fp in fps])
    notes: list[str] = []
    t = time.perf_counter()
    found = same_picture_pairs(hashes, detail=detail, colour=colour, notes=notes)
    pairs, off = found.pairs, found.off_centre
    search_s = time.perf_counter() - t
    chosen = score(n, pairs, items, labels)
    log(f"\n== 1. generated transforms: {data['originals']} originals ({data['pictures']} pictures), {n} images; "
        f"same_picture_pairs(candidate_bits={CANDIDATE_BITS}, sum<={SAME_PICTURE_MAX_BITS}, off-centre sum<="
        f"{OFF_CENTRE_MAX_BITS}) in {search_s:.2f} s; {int(off.sum())} of {len(pairs)} pairs via off-centre views")
    log(f"{'transform':12s} {'pairs':>5s} {'recall':>7s} {'direct':>7s}")
    for tr, r in chosen["per_transform"].items():
        mark = "" if tr in TARGET_TRANSFORMS else "   (extra: off-centre crop, not in the target)"
        log(f"{tr:12s} {r['pairs']:5d} {r['recall']:7.3f} {r['recall_direct']:7.3f}{mark}")
    found_n = chosen["true_pairs"] + chosen["false_pairs"]
    log(f"overall recall {chosen['recall']:.3f} (direct {chosen['recall_direct']:.3f}); precision: pairs "
        f"{chosen['precision_pairs']:.4f} ({chosen['false_pairs']} false of {found_n}),"
        f" groups {chosen['precision_groups']:.4f} ({chosen['false_group_pairs']} false); {chosen['groups']} groups,"
        f" largest {chosen['largest_group']}")
    for ex in false_examples(pairs, names, labels):
        log(f"  false pair: {ex}")
    for note in notes:
        log(f"  note: {note}")

    # Sweep: the combined threshold, and phash alone (near_pairs at max_bits on the 24 views).
    sweep = []

    def sweep_row(rule: str, m: int, s: dict[str, Any], extra: bool = False) -> None:
        worst = min(s["per_transform"][t]["recall"] for t in TARGET_TRANSFORMS)
        row = {"rule": rule, "max": m, "recall": s["recall"], "min_transform_recall": worst,
               "precision_pairs": s["precision_pairs"], "precision_groups": s["precision_groups"],
               "false_pairs": s["false_pairs"]}
        row.update({t: s["per_transform"][t]["recall"] for t in EXTRA_TRANSFORMS})
        sweep.append(row)
        line = (f"{m:4d} {s['recall']:7.3f} {worst:7.3f} {s['precision_pairs']:10.4f} {s['precision_groups']:11.4f} "
                f"{s['false_pairs']:6d}")
        if extra:
            line += "".join(f" {s['per_transform'][t]['recall']:9.3f}" for t in EXTRA_TRANSFORMS)
        log(line)

    log("\nsweep: summed phash+dhash+ahash distance (of 192) at the best centre-view pairing (off-centre: default)")
    log(f"{'max':>4s} {'recall':>7s} {'min tr':>7s} {'prec pairs':>10s} {'prec groups':>11s} {'false':>6s}")
    for m in (8, 12, 16, 18, 20, 22, 24, 26, 30, 34, 38):
        s = score(n, same_picture_pairs(hashes, max_total_bits=m, detail=detail, colour=colour)[0], items, labels)
        sweep_row("sum", m, s)
    log("sweep: off-centre views threshold (-1 = off-centre views not used), centre views at the default")
    log(f"{'max':>4s} {'recall':>7s} {'min tr':>7s} {'prec pairs':>10s} {'prec groups':>11s} {'false':>6s}"
        f" {'crop10_lt':>9s} {'crop10_t':>9s} {'crop5_rb':>9s}")
    for m in (-1, 4, 6, 8, 10, 14, 22):
        s = score(n, same_picture_pairs(hashes, off_centre_max_bits=m, detail=detail, colour=colour)[0], items,
                  labels)
        sweep_row("off_centre", m, s, extra=True)
    log("sweep: phash alone (same views and flat-picture rule), star distance <= max (centre and off-centre)")
    for m in (2, 4, 6, 8, 10):
        s = score(n, same_picture_pairs({"phash": hashes["phash"]}, candidate_bits=m, max_total_bits=m,
                                        off_centre_max_bits=m, detail=detail, colour=colour)[0], items, labels)
        sweep_row("phash", m, s)
    # Margins: summed distance of true (original, copy) pairs vs the closest different pictures.
    wide, wd = same_picture_pairs(hashes, candidate_bits=6, max_total_bits=64, off_centre_max_bits=64,
                                     detail=detail, colour=colour)
    flat = detail < MIN_DETAIL
    hashed = ~(flat[wide[:, 0]] | flat[wide[:, 1]])
    wide, wd = wide[hashed], wd[hashed]
    same, dont = labels(wide[:, 0], wide[:, 1])
    dist_of = {tuple(p): d for p, d in zip(wide.tolist(), wd.tolist())}
    true_d = [dist_of.get((min(it["orig"], k), max(it["orig"], k)), 999) for k, it in enumerate(items)
              if it["transform"] in TARGET_TRANSFORMS and not flat[k]]
    q = np.percentile(true_d, [50, 90, 95, 99]).tolist()
    log(f"\nmargins: summed distance (original, copy), target transforms: median {q[0]:.0f}, p90 {q[1]:.0f}, "
        f"p95 {q[2]:.0f}, p99 {q[3]:.0f} (999 = not within 64)")
    neg = ~same & ~dont
    closest: dict[tuple[str, str], int] = {}
    for (a, b), d in zip(wide[neg].tolist(), wd[neg].tolist()):
        key = tuple(sorted((items[a]["picture"], items[b]["picture"])))
        closest[key] = min(d, closest.get(key, 999))
    log("closest different pictures (any copies):")
    for (a, b), d in sorted(closest.items(), key=lambda kv: kv[1])[:6]:
        log(f"  {d:3d}  {a} ~ {b}")
    chosen.pop("group_of")
    return {"chosen": chosen, "sweep": sweep, "search_s": search_s, "notes": notes,
            "true_pair_distance_percentiles": dict(zip(("p50", "p90", "p95", "p99"), q)),
            "closest_negatives": [[a, b, d] for (a, b), d in sorted(closest.items(), key=lambda kv: kv[1])[:6]]}


def evaluate_known(corpus: Path, data: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    import numpy as np

    from workbench.duplicates.candidates import connected_groups, same_picture_pairs, star_distance
    from workbench.duplicates.fingerprint import HASH_TYPES, MIN_DETAIL, N_CENTRE_VIEWS, as_uint64_array

    items, fps = data["items"], data["fps"]
    idx = {it["name"]: k for k, it in enumerate(items) if it["transform"] in ("orig", "bytes")}
    hashes = {t: as_uint64_array([fp[t] for fp in fps]) for t in HASH_TYPES}
    detail = np.array([fp["detail"] for fp in fps])
    colour = np.array([fp["colour"] for fp in fps])

    def group_ids(keep: np.ndarray) -> np.ndarray:
        sub = np.flatnonzero(keep)
        pairs = same_picture_pairs({t: h[sub] for t, h in hashes.items()}, detail=detail[sub],
                                   colour=colour[sub]).pairs
        gid = np.full(len(items), -1)
        for k, g in enumerate(connected_groups(len(sub), pairs)):
            gid[sub[g]] = k
        return gid

    corpus_only = group_ids(np.array([it["transform"] in ("orig", "bytes") for it in items]))
    with_copies = group_ids(np.ones(len(items), dtype=bool))
    centre = {t: h[:, :N_CENTRE_VIEWS] for t, h in hashes.items()}

    def dist(a: int, b: int) -> str:
        pair = np.array([[a, b]])
        dc = int(star_distance(list(centre.values()), pair)[0])
        da = int(star_distance(list(hashes.values()), pair)[0])
        return f"{dc}/{da}" if detail[a] >= MIN_DETAIL and detail[b] >= MIN_DETAIL else "flat"

    def together(gid: np.ndarray, ks: list[int]) -> bool:
        g = gid[ks]
        return bool(g[0] >= 0 and (g == g[0]).all())

    fr = json.loads((corpus / "faces/face_recognition/ground_truth.json").read_text())
    im = json.loads((corpus / "peer/immich-test-assets/ground_truth.json").read_text())
    icc = json.loads((corpus / "duplicates/imagehash/ground_truth.json").read_text())
    sets = {f"face_recognition exact triplet {k + 1}": [_FR + f for f in s]
            for k, s in enumerate(fr["exact_duplicates"])}
    sets["face_recognition resolution ladder"] = [_FR + f for f in fr["near_duplicates_resolution_ladder"]]
    sets["imagehash ICC pair"] = ["duplicates/imagehash/" + f for f in icc["pairs"]["same_pixels_different_icc"]]
    sets["immich el_torcal_rocks x3"] = ["peer/immich-test-assets/" + f for f in im["exact_duplicates"][0]]
    sets["photoprism IMG_4120 x3"] = [_PP + f"examples/{f}" for f in
                                      ("IMG_4120.JPG", "IMG_4120 (1).JPG", "IMG_4120 copy.JPG")]
    out: dict[str, Any] = {}
    log("\n== 2. corpus known answers: grouped among the corpus files alone / together with all of set 1's copies;"
        " summed distance centre views/all views")
    for label, files in sets.items():
        ks = [idx[f] for f in files]
        a, b = together(corpus_only, ks), together(with_copies, ks)
        d = [dist(ks[0], k) for k in ks[1:]]
        out[label] = {"grouped_corpus": a, "grouped_with_copies": b, "distance_to_first": d}
        log(f"  {'OK ' if a and b else 'NO '} {label}: grouped {a}/{b}, distance to first {d}")
    for x, y in KNOWN_NEGATIVES:
        ks = [idx[x], idx[y]]
        a, b = not together(corpus_only, ks), not together(with_copies, ks)
        out[f"{x} vs {y}"] = {"apart_corpus": a, "apart_with_copies": b, "distance": dist(*ks)}
        log(f"  {'OK ' if a and b else 'NO '} apart {a}/{b}: {x} vs {y} (distance {dist(*ks)})")
    return out


def evaluate_scale(n: int, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    import numpy as np

    from workbench.duplicates.candidates import near_pairs, same_picture_pairs
    from workbench.duplicates.fingerprint import HASH_TYPES, N_CENTRE_VIEWS, N_VIEWS

    rng = np.random.default_rng(seed)
    n_planted, n_blank = n // 50, 5000

    def flips(count: np.ndarray) -> np.ndarray:
        out = np.zeros(len(count), dtype=np.uint64)
        for k, c in enumerate(count.tolist()):
            for b in rng.choice(64, c, replace=False).tolist():
                out[k] |= np.uint64(1 << b)
        return out

    res: dict[str, Any] = {"n": n}
    log(f"\n== 3. scale: {n} images, {n_planted} planted pairs, {n_blank} identical (blank) hashes")
    # (a) one hash per image, max_bits=8 (0-8 flipped bits planted)
    h = rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)
    perm = rng.permutation(np.arange(n_blank, n))
    a, b = perm[:n_planted], perm[n_planted:2 * n_planted]
    h[b] = h[a] ^ flips(rng.integers(0, 9, n_planted))
    h[:n_blank] = 0
    res["single"] = _timed_grouping(lambda notes: near_pairs(h, 8, notes=notes), n, a, b, n_blank, log,
                                    "(a) near_pairs([n] uint64, max_bits=8)")
    # (b) production: 3 hash types x 40 views, same_picture_pairs. Half the planted copies match a centre view
    # (flips phash 0-3, dhash 0-8, ahash 0-8: sum <= 19), half an off-centre view (0-2 each: sum <= 6).
    hashes = {t: rng.integers(0, np.iinfo(np.uint64).max, size=(n, N_VIEWS), dtype=np.uint64, endpoint=True)
              for t in HASH_TYPES}
    half = n_planted // 2
    view = np.concatenate([rng.integers(0, N_CENTRE_VIEWS, half),
                           rng.integers(N_CENTRE_VIEWS, N_VIEWS, n_planted - half)])
    for t, hi in zip(HASH_TYPES, (4, 9, 9)):
        arr = hashes[t]
        arr[b, 0] = arr[a, view] ^ flips(np.concatenate([rng.integers(0, hi, half),
                                                         rng.integers(0, 3, n_planted - half)]))
        arr[:n_blank] = 0
    res["production"] = _timed_grouping(lambda notes: same_picture_pairs(hashes, notes=notes).pairs, n, a, b,
                                        n_blank, log, f"(b) same_picture_pairs(3 x [n, {N_VIEWS}])")
    return res


def _timed_grouping(find, n: int, a, b, n_blank: int, log, label: str) -> dict:  # noqa: ANN001
    """Time ``find(notes)`` + ``connected_groups`` and check every planted pair (a[i], b[i]) and the blank block."""
    from workbench.duplicates.candidates import connected_groups
    notes: list[str] = []
    t = time.perf_counter()
    pairs = find(notes)
    groups = connected_groups(n, pairs)
    secs = time.perf_counter() - t
    got = set(map(tuple, pairs.tolist()))
    missed = sum((min(x, y), max(x, y)) not in got for x, y in zip(a.tolist(), b.tolist()))
    blank_ok = any(len(g) == n_blank and g[0] == 0 for g in groups)
    log(f"  {label} + connected_groups: {secs:.1f} s, {len(pairs)} pairs, planted missed {missed}/{len(a)}, "
        f"blank block one group: {blank_ok}")
    for note in notes:
        log(f"      note: {note}")
    return {"seconds": secs, "pairs": len(pairs), "planted_missed": missed, "blank_group": blank_ok, "notes": notes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                 epilog=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=os.environ.get("WORKBENCH_CORPUS"),
                    help="shared corpus folder (default $WORKBENCH_CORPUS)")
    ap.add_argument("--source", choices=("thumb", "preview"), default="thumb",
                    help="rendition to fingerprint (default thumb, 256 px)")
    ap.add_argument("--workdir", type=Path, default=None, help="where copies are written (default: temporary)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="pickle of the fingerprinted set: written if missing, read if present (re-runs scoring "
                         "only; delete it after changing the fingerprint)")
    ap.add_argument("--scale-n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--only-scale", action="store_true")
    ap.add_argument("--json", action="store_true", help="also print one JSON line with every number")
    args = ap.parse_args(argv)
    log = lambda s: print(s, flush=True)  # noqa: E731
    import logging
    logging.getLogger("workbench.duplicates.candidates").setLevel(logging.ERROR)  # notes are printed instead

    result: dict[str, Any] = {}
    if not args.only_scale:
        if not args.corpus or not Path(args.corpus).is_dir():
            ap.error("the corpus is needed (--corpus or $WORKBENCH_CORPUS), or use --only-scale")
        corpus = Path(args.corpus).resolve()
        if args.cache and args.cache.exists():
            import pickle
            data = pickle.loads(args.cache.read_bytes())
            log(f"evaluation set read from {args.cache}")
        else:
            with tempfile.TemporaryDirectory(prefix="wb-dup-") as tmp:
                work = args.workdir or Path(tmp)
                work.mkdir(parents=True, exist_ok=True)
                log(f"building the evaluation set from {corpus} ({args.source}) ...")
                data = build_eval_set(corpus, args.source, work, log)
            if args.cache:
                import pickle
                args.cache.write_bytes(pickle.dumps(data))
        result["source"] = args.source
        result["fingerprint_ms"] = data["fingerprint_ms"]
        result["transforms"] = evaluate_transforms(data, log)
        result["known"] = evaluate_known(corpus, data, log)
    if not args.skip_scale:
        result["scale"] = evaluate_scale(args.scale_n, args.seed, log)
    if args.json:
        print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
