#!/usr/bin/env python
"""Face detection benchmark: recall, false positives and CPU time of dlib's HOG and CNN (MMOD) detectors.

Why: the face stage runs on the CPU over whole libraries, so the default detector is a trade between faces
found and seconds per photo. dlib's HOG detector (DeepFace's "dlib" backend) is said to miss small and turned
faces; the CNN detector (our "dlib_cnn" backend, workbench/faces/dlib_cnn.py) ships in the same weights package.

What it does
  1. Pictures. Each photo is opened with Pillow, turned upright (ImageOps.exif_transpose) and made into the
     1440 px preview exactly as the thumbnail stage does (workbench.imaging.renditions: never upscaled, WebP
     q80), then decoded back: that is what the face stage reads. With --original the photos whose long side
     is over 1440 px are also run at their original size.
  2. Sets and true face counts (matching is by count per image: found = min(detected, true), false
     positives = detected - true when positive):
       fr    faces/face_recognition, exact duplicates dropped: 1 face per "identities" file, 2 per
             "multi_face_images" file, except obama_and_biden.jpg = 3 (a girl looking down, lower right,
             is in the picture too; checked by eye).
       pp    faces/photoprism, counts checked by eye (TRUE_PP below); 7,9,10,11,13,14,15,19 are non-face
             negatives (drawing, cat, dog, helmet, landscape, cake, car, flowers): detections there are
             false positives. Hard: 1 (2 masked), 8 (face under hair), 18 (small woman in background).
       lfw   skimage_data/lfw_subset.npy: 100 face crops then 100 non-faces, 25x25. Each is scaled by
             --lfw-scales (1x = 25 px face) and centred in its own grey cell twice its size, 10x10 per
             mosaic; a detection counts for the cell holding its centre.
  3. Detectors, called on dlib directly (RGB): HOG with upsample 0/1/2, CNN with upsample 0/1, and
     hog1+cnn0@720 (HOG upsample 1 on the picture, united with CNN upsample 0 on a copy shrunk to 720 px:
     small frontal faces from HOG, big turned/masked ones from the CNN at a quarter of its cost). Timing is
     wall and CPU (process) time of the detector call alone, single process, as the mean over the previews
     whose long side is exactly 1440 px. Every detected face's box size and sharpness (Laplacian variance
     at 112 px, as the face stage measures it) is listed for the smallest / blurriest ones.
  4. DeepFace check (skip with --no-deepface-check): the registered "dlib_cnn" backend, through
     DeepFace.extract_faces(align=True), must return the same boxes as the direct CNN call (+-2 px).

Result on the 2-core dev VM (dlib 20.0.1 without BLAS), 1440 px previews, found/true (false positives):
  detector        fr       pp       LFW 25/50/100 px   s/img (CPU)
  hog0            30/30    16/23    0/0/94             0.1
  hog1            30/30    19/23    0/93/91            0.37
  hog2            30/30    19/23(1) 91/92/93           1.6
  cnn0            29/30    19/23    0/0/100            7.3
  cnn1            30/30    22/23    0/100/100          31
  hog1+cnn0@720   30/30    21/23    0/93/91            2.0
  No false positive on any non-face (pp negatives, 100 LFW non-faces) except hog2's 22 px cartoon in 5.jpg.
  HOG misses the masked, turned and hair-covered faces (1, 16, 8); the CNN finds them; nothing finds the
  ~25 px woman in 18.jpg.

Examples
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/faces_detect.py
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/faces_detect.py --detectors hog1,cnn0 --original
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/faces_detect.py --lfw-scales 2,4 --json out.json
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DETECTORS = ("hog0", "hog1", "hog2", "cnn0", "cnn1", "hog1+cnn0@720")
HYBRID_SIDE = 720  # hog1+cnn0@720: HOG for small frontal faces, CNN on a half-size copy for big turned ones
PP_NEGATIVES = ("7.jpg", "9.jpg", "10.jpg", "11.jpg", "13.jpg", "14.jpg", "15.jpg", "19.jpg")
# True face counts of faces/photoprism/images, by eye (5.jpg: the cartoon avatar on the screen is not counted).
TRUE_PP = {"1.jpg": 2, "2.jpg": 1, "3.jpg": 1, "4.jpg": 1, "5.jpg": 1, "6.jpg": 1, "8.jpg": 1, "12.jpg": 1,
           "16.jpg": 2, "17.jpg": 2, "18.jpg": 2, "overlap/1.jpg": 2, "overlap/2.jpg": 2, "overlap/3.jpg": 2,
           "overlap/4.jpg": 2, **{n: 0 for n in PP_NEGATIVES}}
FR_VISUAL_OVERRIDES = {"examples/knn_examples/test/obama_and_biden.jpg": 3}
DEEPFACE_CHECK = ("faces/photoprism/images/18.jpg",
                  "faces/face_recognition/examples/knn_examples/test/kit_with_rose.jpg")
LFW_GRID = 10
GREY = 128


@dataclass
class Picture:
    set: str            # fr, pp, lfw-face@2x, lfw-non@2x, ...
    name: str
    rgb: Any            # HxWx3 uint8
    true: int | None    # faces in the picture; None for mosaics (scored per cell)
    cell: int = 0       # mosaic cell size in px
    cells_true: int = 0  # faces per cell in a mosaic (1 or 0)


@dataclass
class Result:
    boxes: list[tuple[int, int, int, int]]   # x, y, w, h clipped to the picture
    wall_s: float
    cpu_s: float


@dataclass
class Score:
    true: int = 0
    found: int = 0
    fp: int = 0
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)


def preview_rgb(path: Path, original: bool = False) -> Any:
    """The 1440 px preview the face stage reads (or the upright original), as an RGB array."""
    import numpy as np
    from PIL import Image, ImageOps

    from workbench.imaging.renditions import make_renditions

    with Image.open(path) as im:
        img = ImageOps.exif_transpose(im)
        img.load()
    if not original:
        data = make_renditions(img)["preview"].data
        img = Image.open(io.BytesIO(data))
    return np.asarray(img.convert("RGB"))


def load_photos(corpus: Path, original: bool) -> list[Picture]:
    fr = corpus / "faces" / "face_recognition"
    gt = json.loads((fr / "ground_truth.json").read_text())
    counts: dict[str, int] = {f: 1 for files in gt["identities"].values() for f in files}
    counts.update({f: len(people) for f, people in gt["multi_face_images"].items()})
    counts.update(FR_VISUAL_OVERRIDES)
    pics, seen = [], set()
    for rel, n in sorted(counts.items()):
        digest = hashlib.sha1((fr / rel).read_bytes()).hexdigest()
        if digest in seen:  # exact duplicates would count the same picture up to three times
            continue
        seen.add(digest)
        pics.append(Picture("fr", rel, preview_rgb(fr / rel, original), n))
    pp = corpus / "faces" / "photoprism" / "images"
    for rel, n in TRUE_PP.items():
        pics.append(Picture("pp", rel, preview_rgb(pp / rel, original), n))
    if original:  # only the photos the preview shrank differ from the preview run
        pics = [p for p in pics if max(p.rgb.shape[:2]) > 1440]
    return pics


def lfw_mosaics(corpus: Path, scales: list[int]) -> list[Picture]:
    """100 faces and 100 non-faces per scale, each centred in a grey cell twice its size."""
    import numpy as np
    from PIL import Image

    crops = np.load(corpus / "skimage_data" / "lfw_subset.npy")
    out = []
    for s in scales:
        side = 25 * s
        cell = 2 * side
        for kind, start in (("face", 0), ("non", 100)):
            canvas = np.full((LFW_GRID * cell, LFW_GRID * cell, 3), GREY, np.uint8)
            for i in range(100):
                g = Image.fromarray((crops[start + i] * 255).round().astype(np.uint8), "L")
                g = np.asarray(g.resize((side, side), Image.Resampling.BICUBIC))
                r, c = divmod(i, LFW_GRID)
                y, x = r * cell + (cell - side) // 2, c * cell + (cell - side) // 2
                canvas[y:y + side, x:x + side] = g[:, :, None]
            out.append(Picture(f"lfw-{kind}@{s}x", f"lfw_{kind}_{s}x", canvas, None, cell, int(kind == "face")))
    return out


def make_detectors(names: list[str]) -> dict[str, Callable[[Any], list[tuple[int, int, int, int, float]]]]:
    """name -> f(rgb) returning (left, top, right, bottom, score) boxes from dlib itself."""
    import dlib

    from workbench.faces.dlib_cnn import CNN_WEIGHTS
    from workbench.faces.weights import ensure_face_weights

    weights = ensure_face_weights()
    hog = dlib.get_frontal_face_detector()
    cnn = None
    if any("cnn" in n for n in names):
        cnn = dlib.cnn_face_detection_model_v1(str(weights / CNN_WEIGHTS))

    def hog_at(up: int):
        def run(rgb):
            rects, scores, _ = hog.run(rgb, up, 0.0)
            return [(r.left(), r.top(), r.right(), r.bottom(), s) for r, s in zip(rects, scores)]
        return run

    def cnn_at(up: int):
        def run(rgb):
            return [(d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), d.confidence)
                    for d in cnn(rgb, up)]
        return run

    def hybrid(rgb):
        """HOG upsample 1 on the picture, plus CNN upsample 0 on a copy shrunk to HYBRID_SIDE px; a CNN box
        whose centre lies in a HOG box (or holds a HOG box's centre) is the same face."""
        import numpy as np
        from PIL import Image

        found = hog_at(1)(rgb)
        h, w = rgb.shape[:2]
        scale = min(1.0, HYBRID_SIDE / max(h, w))
        small = rgb if scale == 1.0 else np.asarray(Image.fromarray(rgb).resize(
            (round(w * scale), round(h * scale)), Image.Resampling.BILINEAR, reducing_gap=3.0))
        for box in cnn_at(0)(small):
            left, top, right, bottom = (round(v / scale) for v in box[:4])
            if not any(_centre_in((left, top, right, bottom), f) or _centre_in(f, (left, top, right, bottom))
                       for f in found):
                found.append((left, top, right, bottom, box[4]))
        return found

    return {n: hybrid if "+" in n else (hog_at if n.startswith("hog") else cnn_at)(int(n[3:])) for n in names}


def _centre_in(a, b) -> bool:
    cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]


def detect(fn, rgb) -> Result:
    h, w = rgb.shape[:2]
    t0, c0 = time.perf_counter(), time.process_time()
    raw = fn(rgb)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    boxes = []
    for left, top, right, bottom, _ in raw:
        x, y = max(0, left), max(0, top)
        bw, bh = min(right, w) - x, min(bottom, h) - y
        if bw > 0 and bh > 0:
            boxes.append((x, y, bw, bh))
    return Result(boxes, wall, cpu)


def score(pic: Picture, res: Result, sc: Score) -> None:
    if pic.true is not None:
        n = len(res.boxes)
        sc.true += pic.true
        sc.found += min(n, pic.true)
        sc.fp += max(0, n - pic.true)
        if n < pic.true:
            sc.misses.append(f"{pic.name} {n}/{pic.true}")
        elif n > pic.true:
            sc.extras.append(f"{pic.name} {n}/{pic.true}")
        return
    per_cell = [0] * (LFW_GRID * LFW_GRID)
    for x, y, w, h in res.boxes:
        r, c = min(LFW_GRID - 1, (y + h // 2) // pic.cell), min(LFW_GRID - 1, (x + w // 2) // pic.cell)
        per_cell[r * LFW_GRID + c] += 1
    for n in per_cell:
        sc.true += pic.cells_true
        sc.found += min(n, pic.cells_true)
        sc.fp += max(0, n - pic.cells_true)


def sharpness(rgb, box) -> float:
    """Laplacian variance of the (unaligned) box at 112 px, as workbench.faces.engine measures it; the face
    stage skips a face under settings.face_min_sharpness (20) or face_min_size_px (48)."""
    import cv2

    x, y, w, h = box
    face = cv2.cvtColor(rgb[y:y + h, x:x + w], cv2.COLOR_RGB2GRAY)
    face = cv2.resize(face, (112, 112), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(face, cv2.CV_64F).var())


def deepface_check(corpus: Path, cnn_fn_by_up: dict[int, Callable]) -> list[str]:
    """Boxes from DeepFace.extract_faces(detector_backend="dlib_cnn") against the direct dlib call."""
    from workbench.faces import dlib_cnn
    from workbench.faces.weights import ensure_face_weights

    ensure_face_weights()
    dlib_cnn.register()
    from deepface import DeepFace
    from deepface.modules import modeling

    client = modeling.build_model(task="face_detector", model_name="dlib_cnn")
    lines = []
    for rel in DEEPFACE_CHECK:
        rgb = preview_rgb(corpus / rel)
        for up, fn in cnn_fn_by_up.items():
            client.upsample = up
            t0 = time.perf_counter()
            faces = DeepFace.extract_faces(rgb[:, :, ::-1].copy(), detector_backend="dlib_cnn", align=True,
                                           enforce_detection=False)
            wall = time.perf_counter() - t0
            got = sorted((f["facial_area"]["x"], f["facial_area"]["y"], f["facial_area"]["w"], f["facial_area"]["h"])
                         for f in faces if f["confidence"] > 0)
            want = sorted(detect(fn, rgb).boxes)
            same = len(got) == len(want) and all(max(abs(a - b) for a, b in zip(g, w)) <= 2 for g, w in zip(got, want))
            lines.append(f"{'OK  ' if same else 'DIFF'} {rel} up{up}: deepface {got} vs dlib {want} ({wall:.1f} s)")
        client.upsample = 1
    return lines


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detectors", default=",".join(DETECTORS), help="comma list from " + ",".join(DETECTORS))
    ap.add_argument("--lfw-scales", default="1,2,4", help="LFW crop scales (1 = 25 px faces); empty to skip")
    ap.add_argument("--original", action="store_true", help="also run photos larger than 1440 px at full size")
    ap.add_argument("--no-deepface-check", action="store_true")
    ap.add_argument("--json", type=Path, help="write every box and timing here")
    args = ap.parse_args(argv)

    corpus = Path(os.environ.get("WORKBENCH_CORPUS", REPO.parent / "shared" / "corpus")).expanduser()
    if not (corpus / "faces").is_dir():
        print(f"no corpus at {corpus}: set WORKBENCH_CORPUS", file=sys.stderr)
        return 2
    names = [n for n in args.detectors.split(",") if n]
    if bad := set(names) - set(DETECTORS):
        ap.error(f"unknown detectors {sorted(bad)}")
    scales = [int(s) for s in args.lfw_scales.split(",") if s]

    runs = [("1440", load_photos(corpus, original=False) + lfw_mosaics(corpus, scales))]
    if args.original:
        runs.append(("orig", load_photos(corpus, original=True)))
    fns = make_detectors(names)
    print(f"# faces_detect  {platform.node()}  {os.cpu_count()} CPUs  python {platform.python_version()}  "
          f"load {os.getloadavg()[0]:.2f}", flush=True)

    dump: dict[str, Any] = {}
    report: list[dict[str, Any]] = []
    for run_name, pics in runs:
        sets = list(dict.fromkeys(p.set for p in pics))
        for det in names:
            scores = {s: Score() for s in sets}
            times, pp_neg_fp, sizes, sharp = [], 0, [], []
            for pic in pics:
                res = detect(fns[det], pic.rgb)
                score(pic, res, scores[pic.set])
                dump.setdefault(run_name, {}).setdefault(det, {})[pic.name] = {
                    "shape": list(pic.rgb.shape[:2]), "boxes": res.boxes, "wall_s": res.wall_s, "cpu_s": res.cpu_s}
                if pic.set in ("fr", "pp"):
                    if max(pic.rgb.shape[:2]) == 1440 or run_name == "orig":
                        times.append((res.wall_s, res.cpu_s))
                    if pic.set == "pp" and pic.name in PP_NEGATIVES:
                        pp_neg_fp += len(res.boxes)
                    for b in res.boxes:
                        sizes.append((b[2], pic.name))
                        sharp.append((round(sharpness(pic.rgb, b)), b[2], pic.name))
                print(f"  {run_name} {det:5s} {pic.name:55s} {len(res.boxes)} faces "
                      f"{[b[2] for b in res.boxes]} px  {res.wall_s:6.2f} s", flush=True)
            row = {"run": run_name, "detector": det, "load": round(os.getloadavg()[0], 2),
                   **{s: {"recall": round(sc.found / sc.true, 3) if sc.true else None, "found": sc.found,
                          "true": sc.true, "fp": sc.fp, "misses": sc.misses, "extras": sc.extras}
                      for s, sc in scores.items()},
                   "pp_negatives_fp": pp_neg_fp,
                   "s_per_1440": round(float(np.mean([t[0] for t in times])), 2) if times else None,
                   "cpu_s_per_1440": round(float(np.mean([t[1] for t in times])), 2) if times else None,
                   "n_timed": len(times),
                   "smallest_faces_px": sorted(sizes)[:4],
                   "least_sharp": sorted(sharp)[:4]}
            report.append(row)

    print("\n## found/true faces (false positives); LFW fp = extra or non-face detections over both mosaics;")
    print("## s/img = wall (cpu) seconds per 1440 px preview (per original with 'orig'), single process")
    for run_name, pics in runs:
        lfw = sorted({int(p.set.split("@")[1][:-1]) for p in pics if p.set.startswith("lfw")})
        head = (["detector", "fr", "pp", "pp negatives fp"] + [f"LFW {s}x ({25 * s} px)" for s in lfw]
                + ["s/img (cpu)"])
        print(f"\n{run_name}\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for row in (r for r in report if r["run"] == run_name):
            cells = [row["detector"]] + [f"{row[s]['found']}/{row[s]['true']} ({row[s]['fp']})" if s in row else "-"
                                         for s in ("fr", "pp")]
            cells.append(str(row["pp_negatives_fp"]))
            for s in lfw:
                face, non = row[f"lfw-face@{s}x"], row[f"lfw-non@{s}x"]
                cells.append(f"{face['found']}/{face['true']} ({face['fp'] + non['fp']})")
            cells.append(f"{row['s_per_1440']} ({row['cpu_s_per_1440']})")
            print("| " + " | ".join(cells) + " |")
    print("\n## Misses / extras; smallest (box px) and least sharp (Laplacian var at 112 px, box px) detections")
    for row in report:
        print(f"{row['run']} {row['detector']}: misses " +
              "; ".join(m for s in ("fr", "pp") if s in row for m in row[s]["misses"]) +
              " | extras " + "; ".join(m for s in ("fr", "pp") if s in row for m in row[s]["extras"]) +
              f" | smallest {row['smallest_faces_px']} | least sharp {row['least_sharp']}")

    if not args.no_deepface_check and any(n.startswith("cnn") for n in names):
        print("\n## DeepFace 'dlib_cnn' backend vs direct dlib CNN (preview size)")
        cnn_fns = {int(n[3:]): fns[n] for n in names if n.startswith("cnn")}
        for line in deepface_check(corpus, cnn_fns):
            print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps({"report": report, "boxes": dump}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
