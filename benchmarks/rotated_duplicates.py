#!/usr/bin/env python
""""Same picture" for copies rotated by arbitrary angles (workbench.duplicates.rotation): recall per angle and
corner treatment, precision on the corpus's distinct pictures and on burst-like near misses, cost.

1. Set. Every distinct (by bytes) JPEG/PNG/WebP of the corpus subsets that benchmarks/duplicates_eval.py uses
   (skimage_data, peer, faces, duplicates: ~147 pictures, with its SAME / DONT_CARE labels) is an original. Each is
   decoded upright, shrunk to 1600 px, and saved (JPEG q90) rotated counter-clockwise by ANGLES degrees, once with
   black corners (the canvas grows: Pillow ``rotate(expand=True)``) and once with the corners cropped (the
   largest centred rectangle of the original aspect ratio inside the rotated picture, as editors straighten).
   Near misses (labelled different pictures): per original a "burst frame" (the scene shifted by 4 % and 3 % of
   the width/height, zoomed 4 %, rotated 1.5 degrees, 5 % brighter). Every file goes the stage's way
   (render_image_file: 256 px thumbnail, 1440 px preview, WebP) and is described as the fingerprints stage does
   (hash fingerprint of the thumbnail, ``disc`` of the thumbnail, ORB keypoints of the preview).
2. Groups as the library makes them: hash pairs (candidates.same_picture_pairs, defaults) plus the rotation
   route (rotation.rotated_pairs with the settings' defaults or the --neighbours etc. given), connected
   components. recall(angle, corners) = share of (original, copy) in one group; "direct" = found as a pair by the
   rotation route. Precision: of all pairs found, and of all pairs inside groups, pairs of different pictures
   (DONT_CARE pairs left out). Burst-like: share of (original, its burst frame) pairs joined.
3. Sweeps on the verified candidates: min inliers and max centre offset (recall vs false pairs), the number of
   disc neighbours (candidate recall), and keypoints from the 256 px thumbnail instead of the preview (--source
   thumb).

Examples
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/rotated_duplicates.py --cache /tmp/rot.pkl
  python benchmarks/rotated_duplicates.py --corpus /work/shared/corpus --cache /tmp/rot.pkl --source thumb
"""
from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

ANGLES = (2, 5, 10, 15, 20, 30, 45, 107)  # 107 = 90 + 17: a quarter turn plus straightening
CORNERS = ("black", "crop")


def rotate(im: Any, degrees: float, corners: str) -> Any:
    """``im`` rotated counter-clockwise; black corners on a grown canvas, or cropped to the largest centred
    rectangle of the original aspect ratio (turned with the picture beyond 45 degrees)."""
    from PIL import Image

    r = im.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))
    if corners == "black":
        return r
    W, H = im.size
    t = math.radians(degrees)
    c, s = abs(math.cos(t)), abs(math.sin(t))
    if c >= s:   # still landscape-like: a W:H rectangle inside
        w, h = W, H
    else:        # a quarter turn and more: an H:W rectangle inside
        w, h = H, W
    # a w x h rectangle centred in the rotated W x H one fits when its corners project inside both axes
    k = min(W / (w * c + h * s), H / (w * s + h * c))
    cw, ch = int(w * k) - 2, int(h * k) - 2
    cx, cy = r.width / 2, r.height / 2
    return r.crop((round(cx - cw / 2), round(cy - ch / 2), round(cx - cw / 2) + cw, round(cy - ch / 2) + ch))


def burst_frame(im: Any) -> Any:
    """A near miss: the scene shifted 4 % / 3 %, zoomed 4 %, turned 1.5 degrees, 5 % brighter."""
    from PIL import Image, ImageEnhance

    W, H = im.size
    dx, dy = 0.04 * W, 0.03 * H
    cw, ch = W / 1.04, H / 1.04
    box = (W / 2 - cw / 2 + dx / 2, H / 2 - ch / 2 + dy / 2, W / 2 + cw / 2 + dx / 2, H / 2 + ch / 2 + dy / 2)
    out = im.rotate(1.5, resample=Image.Resampling.BICUBIC).crop(tuple(round(v) for v in box)).resize((W, H))
    return ImageEnhance.Brightness(out).enhance(1.05)


def describe(path: Path) -> dict[str, Any]:
    """What the fingerprints stage stores for a file, from the renditions it would read."""
    import numpy as np
    from PIL import Image

    from workbench.duplicates.fingerprint import fingerprint
    from workbench.duplicates.rotation import disc_descriptor, keypoints
    from workbench.formats.sniff import sniff
    from workbench.imaging.renditions import render_image_file

    r = render_image_file(path, sniff(path).mime)
    thumb = Image.open(io.BytesIO(r["thumb"].data)).convert("RGB")
    preview = np.asarray(Image.open(io.BytesIO(r["preview"].data)).convert("RGB"))
    t0 = time.perf_counter()
    kp = keypoints(preview)
    t_kp = time.perf_counter() - t0
    t0 = time.perf_counter()
    kp_thumb = keypoints(np.asarray(thumb))
    t_kpt = time.perf_counter() - t0
    t0 = time.perf_counter()
    disc = disc_descriptor(np.asarray(thumb))
    t_disc = time.perf_counter() - t0
    return {"fp": fingerprint(thumb), "disc": disc, "kp": kp, "kp_thumb": kp_thumb,
            "t": {"keypoints_preview": t_kp, "keypoints_thumb": t_kpt, "disc": t_disc}}


def build(corpus: Path, log) -> dict[str, Any]:  # noqa: ANN001
    import duplicates_eval as de

    from workbench.formats.sniff import sniff
    from workbench.imaging.decode import open_upright, register_plugins

    register_plugins()
    files = de.corpus_files(corpus)
    seen: set[str] = set()
    originals = []
    for p in files:
        d = hashlib.sha256(p.read_bytes()).hexdigest()
        if d not in seen:
            seen.add(d)
            originals.append(p)
    pic_of = {f: g[0] for g in de.SAME for f in g}
    dc_of = {f: k for k, g in enumerate(de.DONT_CARE) for f in g}
    items: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="rotdup_"))
    t0 = time.perf_counter()
    for k, p in enumerate(originals):
        name = str(p.relative_to(corpus))
        try:
            desc = describe(p)
            up = open_upright(p, sniff(p).mime).convert("RGB")
        except Exception as e:  # noqa: BLE001 (a file the stage cannot decode is not in the set)
            log(f"  skipped {name}: {e}")
            continue
        oi = len(items)
        picture = pic_of.get(name, name)
        dc = {dc_of[name]} if name in dc_of else set()
        dc |= {dc_of[f] for g in de.SAME if name in g for f in g if f in dc_of}
        items.append({"name": name, "orig": oi, "case": "orig", "angle": 0, "corners": "", "picture": picture,
                      "dc": frozenset(dc), **desc})
        up.thumbnail((1600, 1600))
        variants = [(f"rot{a} {c}", a, c, rotate(up, a, c)) for a in ANGLES for c in CORNERS]
        variants.append(("burst", 0, "", burst_frame(up)))
        for label, a, c, im in variants:
            f = tmp / f"{k:03d}_{label.replace(' ', '_')}.jpg"
            im.save(f, "JPEG", quality=90)
            items.append({"name": f"{name} [{label}]", "orig": oi, "case": "burst" if label == "burst" else "rot",
                          "angle": a, "corners": c,
                          "picture": picture + " (burst)" if label == "burst" else picture,
                          "dc": frozenset(dc), **describe(f)})
            f.unlink()
        if k % 25 == 0:
            log(f"  {k + 1}/{len(originals)} originals, {len(items)} images, {time.perf_counter() - t0:.0f} s")
    return {"items": items}


def evaluate(data: dict[str, Any], *, source: str, neighbours: int, max_disc_distance: float, min_inliers: int,
             max_centre_offset: float, log, subset: list[int] | None = None,  # noqa: ANN001
             sweeps: bool = True) -> dict[str, Any]:
    import numpy as np

    from workbench.duplicates.candidates import connected_groups, same_picture_pairs
    from workbench.duplicates.fingerprint import as_uint64_array
    from workbench.duplicates.rotation import disc_candidates, verify

    items = data["items"] if subset is None else [data["items"][k] for k in subset]
    if subset is not None:  # re-point each item's original into the subset
        where = {k: i for i, k in enumerate(subset)}
        items = [{**it, "orig": where[it["orig"]]} for it in items]
    n = len(items)
    pic = {p: k for k, p in enumerate(sorted({it["picture"] for it in items}))}
    P = np.array([pic[it["picture"]] for it in items])

    def different(i: int, j: int) -> bool:
        return P[i] != P[j] and not (items[i]["dc"] & items[j]["dc"])

    fps = [it["fp"] for it in items]
    hashes = {h: as_uint64_array([f[h] for f in fps]) for h in ("phash", "dhash", "ahash")}
    hp = same_picture_pairs(hashes, detail=np.array([f["detail"] for f in fps]),
                            colour=np.array([f["colour"] for f in fps]))[0]
    comp = np.arange(n)
    for g in connected_groups(n, hp):
        comp[g] = g[0]
    disc = np.stack([it["disc"] for it in items])
    t0 = time.perf_counter()
    cand_all = disc_candidates(disc, neighbours, max_disc_distance)
    t_cand = time.perf_counter() - t0
    cand = cand_all[comp[cand_all[:, 0]] != comp[cand_all[:, 1]]]
    key = "kp" if source == "preview" else "kp_thumb"
    t0 = time.perf_counter()
    verdicts = [verify(items[i][key], items[j][key], min_inliers=1, max_centre_offset=1.0) for i, j in cand.tolist()]
    t_ver = time.perf_counter() - t0
    inl = np.array([v.inliers for v in verdicts])
    off = np.array([v.centre_offset for v in verdicts])
    scale = np.array([v.scale for v in verdicts])
    from workbench.duplicates.rotation import SCALE_RANGE
    scale_ok = (scale >= SCALE_RANGE[0]) & (scale <= SCALE_RANGE[1])

    def run(min_inl: int, max_off: float) -> dict[str, Any]:
        ok = (inl >= min_inl) & (off <= max_off) & scale_ok
        rp = cand[ok]
        pairs = np.concatenate([np.asarray(hp).reshape(-1, 2), rp])
        groups = connected_groups(n, pairs)
        gid = np.full(n, -1)
        for k, g in enumerate(groups):
            gid[g] = k
        direct = {tuple(p) for p in rp.tolist()}
        per = {}
        for a in ANGLES:
            for c in CORNERS:
                idx = [(it["orig"], k) for k, it in enumerate(items) if it["case"] == "rot" and it["angle"] == a
                       and it["corners"] == c]
                g = sum(1 for x, y in idx if gid[x] >= 0 and gid[x] == gid[y])
                hashed = sum(1 for x, y in idx if comp[x] == comp[y])
                per[f"{a} {c}"] = {"n": len(idx), "recall": g / max(1, len(idx)), "hashes": hashed / max(1, len(idx)),
                                   "direct": sum(1 for x, y in idx if (min(x, y), max(x, y)) in direct) / max(1, len(idx))}
        burst_item = np.array([it["case"] == "burst" for it in items])
        # precision among distinct pictures and their rotated copies; the burst frames are counted apart below
        false_rot = [(items[i]["name"], items[j]["name"]) for i, j in rp.tolist()
                     if different(i, j) and not burst_item[i] and not burst_item[j]]
        n_rot = sum(1 for i, j in rp.tolist() if not burst_item[i] and not burst_item[j])
        gi = [(a, b) for g in groups for ai, a in enumerate(g) for b in g[ai + 1:]
              if not burst_item[a] and not burst_item[b]]
        g_false = sum(1 for a, b in gi if different(a, b))
        bursts = [(it["orig"], k) for k, it in enumerate(items) if it["case"] == "burst"]
        burst_joined = sum(1 for x, y in bursts if gid[x] >= 0 and gid[x] == gid[y])
        photos = [v for k, v in per.items()]
        return {"per": per, "recall": sum(v["recall"] * v["n"] for v in photos) / max(1, sum(v["n"] for v in photos)),
                "rotation_pairs": n_rot, "false_rotation_pairs": len(false_rot), "false_examples": false_rot[:6],
                "precision_pairs": 1 - len(false_rot) / max(1, n_rot),
                "group_pairs": len(gi), "false_group_pairs": g_false,
                "precision_groups": 1 - g_false / max(1, len(gi)),
                "burst_joined": burst_joined, "bursts": len(bursts),
                "burst_joined_by_hashes": sum(1 for x, y in bursts if comp[x] == comp[y])}

    main = run(min_inliers, max_centre_offset)
    if not sweeps:
        return {"n": n, "main": main, "candidates": len(cand_all), "verified": len(cand),
                "verify_ms_per_pair": 1000 * t_ver / max(1, len(cand))}
    sweep = {f"inliers>={m} offset<={o}": {k: v for k, v in run(m, o).items() if k != "per"}
             for m in (8, 12, 20) for o in (0.01, 0.015, 0.02, 0.03, 0.05, 1.0)}
    # candidate recall against the number of neighbours (true pairs not joined by hashes)
    rot = [(it["orig"], k) for k, it in enumerate(items) if it["case"] == "rot" and comp[it["orig"]] != comp[k]]
    cand_recall = {}
    for k in (2, 5, 10, 20):
        cp = disc_candidates(disc, k, max_disc_distance)
        s = {tuple(p) for p in cp.tolist()}
        cand_recall[k] = {"pairs_per_image": len(cp) / n,
                          "recall": sum(1 for x, y in rot if (min(x, y), max(x, y)) in s) / max(1, len(rot))}
    # the same against the distinct originals only (a library where each picture has one copy): share of other
    # pictures' originals nearer than the copy, from both ends
    origs = np.array([k for k, it in enumerate(items) if it["orig"] == k and it["case"] == "orig"])
    d_o = np.sqrt(np.maximum(((disc[:, None, :].astype(np.float64) - disc[None, origs, :]) ** 2).sum(-1), 0))
    nearer = []
    for k, it in enumerate(items):
        if it["case"] == "rot":
            o, dco = it["orig"], float(np.linalg.norm(disc[k] - disc[it["orig"]]))
            other = P[origs] != P[o]
            nearer.append((min(int((d_o[o, other] < dco).sum()), int((d_o[k, other] < dco).sum())), dco))
    nearest_share = float(np.mean([r == 0 and dd <= max_disc_distance for r, dd in nearer]))
    t = {k: 1000 * float(np.mean([it["t"][k] for it in items])) for k in items[0]["t"]}
    return {"n": n, "source": source, "main": main, "sweep": sweep, "candidates": len(cand_all),
            "verified": len(cand), "candidate_s": t_cand, "verify_ms_per_pair": 1000 * t_ver / max(1, len(cand)),
            "candidate_recall": cand_recall, "describe_ms": t, "hash_pairs": len(hp),
            "nearest_share": nearest_share, "originals": len(origs),
            "settings": {"neighbours": neighbours, "max_disc_distance": max_disc_distance,
                         "min_inliers": min_inliers, "max_centre_offset": max_centre_offset}}


def report(r: dict[str, Any]) -> str:
    m = r["main"]
    out = [f"{r['n']} images; keypoints from the {r['source']}; settings {r['settings']}",
           f"disc candidates: {r['candidates']} pairs ({r['candidate_s']:.2f} s), {r['verified']} not already joined "
           f"by hashes, verified at {r['verify_ms_per_pair']:.2f} ms/pair",
           "describe per image: " + ", ".join(f"{k} {v:.1f} ms" for k, v in r["describe_ms"].items()), "",
           "| angle | corners | copies | recall (groups) | by hashes alone | rotation route (direct) |",
           "|---:|---|---:|---:|---:|---:|"]
    for k, v in m["per"].items():
        a, c = k.split()
        out.append(f"| {a} | {c} | {v['n']} | {v['recall']:.3f} | {v['hashes']:.3f} | {v['direct']:.3f} |")
    out += ["", f"overall recall {m['recall']:.3f}; rotation pairs {m['rotation_pairs']}, false "
                f"{m['false_rotation_pairs']} (precision {m['precision_pairs']:.4f}); pairs inside groups "
                f"{m['group_pairs']}, false {m['false_group_pairs']} (precision {m['precision_groups']:.4f})",
            f"burst-like near misses joined: {m['burst_joined']}/{m['bursts']} "
            f"(by hashes alone {m['burst_joined_by_hashes']})"]
    if m["false_examples"]:
        out.append("false rotation pairs: " + "; ".join(f"{a} ~ {b}" for a, b in m["false_examples"]))
    out += ["", "| min inliers, max centre offset | recall | rotation pairs | false | precision (groups) | bursts joined |",
            "|---|---:|---:|---:|---:|---:|"]
    for k, v in r["sweep"].items():
        out.append(f"| {k} | {v['recall']:.3f} | {v['rotation_pairs']} | {v['false_rotation_pairs']} | "
                   f"{v['precision_groups']:.4f} | {v['burst_joined']}/{v['bursts']} |")
    out += ["", f"rotated copies nearer (disc) to their original than any of the other {r['originals'] - 1} "
            f"originals, and within max_disc_distance: {r['nearest_share']:.3f}"]
    if r.get("one_copy"):
        out += ["", "One copy per picture (originals + that variant only, as a library holds them):", "",
                "| variant | recall (groups) | by hashes alone | rotation pairs | false pairs |",
                "|---|---:|---:|---:|---:|"]
        for k, v in r["one_copy"].items():
            pv = v["main"]["per"]
            rec = pv[k]["recall"] if k in pv else float(v["main"]["burst_joined"]) / max(1, v["main"]["bursts"])
            hashed = pv[k]["hashes"] if k in pv else float(v["main"]["burst_joined_by_hashes"]) / max(1, v["main"]["bursts"])
            out.append(f"| {k} | {rec:.3f} | {hashed:.3f} | {v['main']['rotation_pairs']} | "
                       f"{v['main']['false_rotation_pairs']} |")
    out += ["", "disc neighbours -> candidate pairs per image, recall of rotated copies not joined by hashes: "
            + "; ".join(f"{k}: {v['pairs_per_image']:.1f}/image, {v['recall']:.3f}"
                        for k, v in r["candidate_recall"].items())]
    return "\n".join(out)


def main() -> None:
    from workbench.settings import Settings

    s = Settings()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.environ.get("WORKBENCH_CORPUS", ""), help="default $WORKBENCH_CORPUS")
    ap.add_argument("--cache", help="keep the described set in this pickle (built once, re-scored quickly)")
    ap.add_argument("--source", choices=("preview", "thumb"), default="preview", help="keypoints from")
    ap.add_argument("--neighbours", type=int, default=s.rotated_duplicate_neighbours)
    ap.add_argument("--max-disc-distance", type=float, default=s.rotated_duplicate_max_disc_distance)
    ap.add_argument("--min-inliers", type=int, default=s.rotated_duplicate_min_inliers)
    ap.add_argument("--max-centre-offset", type=float, default=s.rotated_duplicate_max_centre_offset)
    args = ap.parse_args()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.cache and Path(args.cache).exists():
        data = pickle.loads(Path(args.cache).read_bytes())
    else:
        if not args.corpus or not Path(args.corpus).is_dir():
            sys.exit("set WORKBENCH_CORPUS (or --corpus) to the shared corpus folder")
        data = build(Path(args.corpus).resolve(), log)
        if args.cache:
            Path(args.cache).write_bytes(pickle.dumps(data, protocol=4))
    kw = dict(source=args.source, neighbours=args.neighbours, max_disc_distance=args.max_disc_distance,
              min_inliers=args.min_inliers, max_centre_offset=args.max_centre_offset, log=log)
    r = evaluate(data, **kw)
    items = data["items"]
    origs = [k for k, it in enumerate(items) if it["case"] == "orig"]
    r["one_copy"] = {}
    for a in ANGLES:
        for c in CORNERS:
            sub = origs + [k for k, it in enumerate(items) if it["case"] == "rot" and it["angle"] == a
                           and it["corners"] == c]
            r["one_copy"][f"{a} {c}"] = evaluate(data, subset=sub, sweeps=False, **kw)
    sub = origs + [k for k, it in enumerate(items) if it["case"] == "burst"]
    r["one_copy"]["burst-like near miss"] = evaluate(data, subset=sub, sweeps=False, **kw)
    print(report(r))


if __name__ == "__main__":
    main()
