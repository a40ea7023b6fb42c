#!/usr/bin/env python
"""Face evaluation on any labelled folder: verification accuracy, clustering P/R/F1 and faces/s against DeepFace.

The folder is laid out as DIR/<person>/<image>: the subfolder name is the identity of the one person each
image shows. Build one from the shared corpus with --build-from-corpus (faces/face_recognition's
"identities" and faces/photoprism's unambiguous single-person images).

What it does (the face stage's path, settings from workbench.settings.Settings defaults)
  1. Each image is opened with Pillow, turned upright (ImageOps.exif_transpose) and made into the preview the
     face stage reads (workbench.imaging.renditions: long side <= preview_size_px, never upscaled, WebP),
     decoded back. The previews are made before timing starts.
  2. workbench.faces.engine analyses every preview in one process; the largest face is the labelled one.
     An image with no face is "missed"; a face that workbench.faces.quality.skip_reason rejects (too small,
     too blurry, no embedding) is "skipped". Both are listed and left out of the scores below.
  3. Scores over the remaining faces:
       verification  share of all face pairs where "distance <= face_match_distance" agrees with "same person"
       clustering    cluster_faces with face_cluster_method, face_match_distance and face_min_cluster_size;
                     pairwise precision / recall / F1 against the folder labels (unclustered faces alone)
  4. Speed: "ours" is the wall-clock (and process CPU) time of the analyze loop over the previews, after one
     untimed warm-up call; "ours incl. preview" adds the time spent making the previews. The baseline
     (--baseline, default) is DeepFace's own one-call loop over the same files in the same process:
     DeepFace.represent(img_path=<path>, model_name="Dlib", detector_backend="dlib", enforce_detection=False)
     (it reads the full-size file, pads it by half on every side, detects, aligns and embeds), also after one
     warm-up call. faces/s counts every face found (not only the largest); a DeepFace result counts as a face
     when its confidence is > 0 or its area is not the whole image (what enforce_detection=False returns when
     nothing is found). Ratio = our faces/s / DeepFace's faces/s.

JSON keys (--json; evaluate() returns the same dict)
  folder, settings (the face_* settings and preview_size_px used), images, people, faces_found (images with a
  face), faces_detected (all faces), missed [image], skipped [{image, reason}], faces_scored, people_scored,
  verification_accuracy (null when under 2 faces), clustering {method, max_distance, min_cluster_size,
  precision, recall, f1, clusters, unclustered}, ours {images, faces, analyze_s, analyze_cpu_s, preview_s,
  preview_cpu_s, images_per_s, faces_per_s, faces_per_cpu_s, faces_per_s_incl_preview}, baseline {call,
  images, faces, missed, seconds, cpu_s, images_per_s, faces_per_s, faces_per_cpu_s} or null, ratio
  {faces_per_s, faces_per_s_incl_preview, images_per_s} or null. Image names are relative to DIR.

Examples
  python benchmarks/faces_eval.py --build-from-corpus /tmp/facesdir       # uses $WORKBENCH_CORPUS
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/faces_eval.py /tmp/facesdir
  python benchmarks/faces_eval.py /tmp/facesdir --json --no-baseline
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from workbench.settings import Settings  # noqa: E402  (light: a dataclass)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
PHOTOPRISM_UNAMBIGUOUS = {"person_0": ["3.jpg", "6.jpg", "12.jpg"], "person_1": ["2.jpg", "4.jpg"],
                          "person_2": ["5.jpg"]}
# Keys of evaluate()'s result (and of --json output), documented in the module docstring.
RESULT_KEYS = ("folder", "settings", "images", "people", "faces_found", "faces_detected", "missed", "skipped",
               "faces_scored", "people_scored", "verification_accuracy", "clustering", "ours", "baseline",
               "ratio")


# --------------------------------------------------------------------------------------------- the folder

def build_from_corpus(corpus: Path, out: Path, dedupe: bool = True, photoprism: bool = True) -> dict[str, int]:
    """Write a DIR/<person>/<image> folder to ``out`` from the shared corpus's labelled single-person images:
    faces/face_recognition ground_truth.json "identities" (file names are their corpus paths with "/" as "__")
    and, with ``photoprism``, its unambiguous single-person images as photoprism_person_N. With ``dedupe``,
    a file whose bytes were already copied is left out (face_recognition repeats three photos three times).
    Returns {person: images}."""
    corpus, out = Path(corpus), Path(out)
    fr = corpus / "faces" / "face_recognition"
    truth = json.loads((fr / "ground_truth.json").read_text())
    items = [(person, fr / rel, rel.replace("/", "__")) for person, files in truth["identities"].items()
             for rel in files]
    if photoprism:
        pp = corpus / "faces" / "photoprism" / "images"
        items += [(f"photoprism_{person}", pp / name, name) for person, names in PHOTOPRISM_UNAMBIGUOUS.items()
                  for name in names]
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for person, src, name in items:
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        if dedupe and digest in seen:
            continue
        seen.add(digest)
        (out / person).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / person / name)
        counts[person] = counts.get(person, 0) + 1
    return counts


def list_images(folder: Path) -> list[tuple[str, Path]]:
    """(person, path) for every image in folder/<person>/, sorted; other files and hidden entries ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    return [(d.name, p) for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")
            for p in sorted(d.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES]


def preview_rgb(path: Path, settings: Settings) -> Any:
    """The preview the face stage reads, as an upright RGB uint8 array."""
    import numpy as np
    from PIL import Image, ImageOps

    from workbench.imaging.renditions import make_renditions

    with Image.open(path) as im:
        img = ImageOps.exif_transpose(im)
        img.load()
    data = make_renditions(img, settings)["preview"].data
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


# ------------------------------------------------------------------------------------------ the measurement

def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


def run_ours(items: list[tuple[str, Path]], settings: Settings) -> tuple[list[list[Any]], dict[str, Any]]:
    """The faces of each image (largest first) from the workbench engine, and the timing of the loop."""
    from workbench.faces.engine import load_engine

    wall0, cpu0 = _clock()
    previews = [preview_rgb(p, settings) for _, p in items]
    prep_wall = time.perf_counter() - wall0
    prep_cpu = time.process_time() - cpu0
    engine = load_engine(settings)
    if previews:
        engine.analyze(previews[0])  # warm-up: TensorFlow traces its graph on the first call
    wall0, cpu0 = _clock()
    faces = [engine.analyze(rgb) for rgb in previews]
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    n = sum(len(f) for f in faces)
    timing = {"images": len(items), "faces": n, "analyze_s": wall, "analyze_cpu_s": cpu, "preview_s": prep_wall,
              "preview_cpu_s": prep_cpu, "images_per_s": _rate(len(items), wall), "faces_per_s": _rate(n, wall),
              "faces_per_cpu_s": _rate(n, cpu), "faces_per_s_incl_preview": _rate(n, wall + prep_wall)}
    return faces, timing


def run_baseline(paths: list[Path], settings: Settings) -> dict[str, Any]:
    """DeepFace's own represent loop over the files (the engine's models, already built, are shared)."""
    from workbench.faces.engine import load_engine

    DeepFace = load_engine(settings).DeepFace  # offline weights in place, logging quieted

    sizes: dict[Path, tuple[int, int]] = {}

    def is_face(r: dict, path: Path) -> bool:
        if (r.get("face_confidence") or 0) > 0:
            return True
        if path not in sizes:  # DeepFace reads with OpenCV, which ignores EXIF orientation: stored size
            from PIL import Image
            with Image.open(path) as im:
                sizes[path] = im.size
        a = r["facial_area"]
        return not (a["x"] == 0 and a["y"] == 0 and (a["w"], a["h"]) == sizes[path])

    def represent(path: Path) -> list[dict]:
        return DeepFace.represent(img_path=str(path), model_name="Dlib", detector_backend="dlib",
                                  enforce_detection=False)

    if paths:
        represent(paths[0])  # warm-up, like ours
    wall0, cpu0 = _clock()
    results = []
    for p in paths:
        results.append(represent(p))
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    counts = [sum(1 for r in res if is_face(r, p))
              for res, p in zip(results, paths)]
    n = sum(counts)
    return {"call": 'DeepFace.represent(img_path=path, model_name="Dlib", detector_backend="dlib", '
                    'enforce_detection=False)',
            "images": len(paths), "faces": n, "missed": sum(1 for c in counts if c == 0), "seconds": wall,
            "cpu_s": cpu, "images_per_s": _rate(len(paths), wall), "faces_per_s": _rate(n, wall),
            "faces_per_cpu_s": _rate(n, cpu)}


def evaluate(folder: Path, settings: Settings | None = None, baseline: bool = True) -> dict[str, Any]:
    """Evaluate the face pipeline on a DIR/<person>/<image> folder; the keys are listed in the module docstring."""
    import numpy as np

    from workbench.faces.quality import skip_reason
    from workbench.people.clustering import cluster_faces, pairwise_scores, verification_accuracy

    settings = settings or Settings()
    folder = Path(folder)
    items = list_images(folder)
    faces, ours = run_ours(items, settings)
    missed, skipped, vectors, labels = [], [], [], []
    for (person, path), found in zip(items, faces):
        name = str(path.relative_to(folder))
        if not found:
            missed.append(name)
            continue
        f = found[0]
        reason = skip_reason(f.size_px, f.sharpness, f.embedding is not None, settings)
        if reason:
            skipped.append({"image": name, "reason": reason})
            continue
        vectors.append(f.embedding)
        labels.append(person)
    x = np.stack(vectors) if vectors else np.zeros((0, 128), dtype=np.float32)
    y = np.array(labels)
    pred = cluster_faces(x, method=settings.face_cluster_method, max_distance=settings.face_match_distance,
                         min_cluster_size=settings.face_min_cluster_size)
    verification = verification_accuracy(x, y, settings.face_match_distance) if len(x) >= 2 else float("nan")
    clustering = {"method": settings.face_cluster_method, "max_distance": settings.face_match_distance,
                  "min_cluster_size": settings.face_min_cluster_size, **pairwise_scores(y, pred),
                  "clusters": int(pred.max(initial=-1) + 1), "unclustered": int((pred < 0).sum())}
    base = run_baseline([p for _, p in items], settings) if baseline else None
    ratio = None
    if base:
        ratio = {"faces_per_s": ours["faces_per_s"] / base["faces_per_s"] if base["faces_per_s"] else None,
                 "faces_per_s_incl_preview": (ours["faces_per_s_incl_preview"] / base["faces_per_s"]
                                              if base["faces_per_s"] else None),
                 "images_per_s": ours["images_per_s"] / base["images_per_s"] if base["images_per_s"] else None}
    result = {
        "folder": str(folder),
        "settings": {k: getattr(settings, k) for k in (
            "face_model", "face_detector", "face_detect_upsample", "face_match_distance", "face_cluster_method",
            "face_min_cluster_size", "face_min_size_px", "face_min_sharpness", "preview_size_px")},
        "images": len(items),
        "people": len({p for p, _ in items}),
        "faces_found": len(items) - len(missed),
        "faces_detected": ours["faces"],
        "missed": missed,
        "skipped": skipped,
        "faces_scored": len(x),
        "people_scored": len(set(labels)),
        "verification_accuracy": verification,
        "clustering": clustering,
        "ours": ours,
        "baseline": base,
        "ratio": ratio,
    }
    assert tuple(result) == RESULT_KEYS
    return result


# ---------------------------------------------------------------------------------------------- reporting

def report(r: dict[str, Any]) -> str:
    """A readable table of evaluate()'s result."""
    s, c, o, b = r["settings"], r["clustering"], r["ours"], r["baseline"]
    lines = [
        f"folder            {r['folder']}",
        f"settings          {s['face_model']} / {s['face_detector']} up{s['face_detect_upsample']}, preview "
        f"{s['preview_size_px']} px, min face {s['face_min_size_px']} px, min sharpness {s['face_min_sharpness']:g}",
        f"images / people   {r['images']} / {r['people']}",
        f"faces found       {r['faces_found']} images with a face ({r['faces_detected']} faces in all; the largest "
        f"per image is scored)",
        f"missed            {len(r['missed'])}" + (f"  {', '.join(r['missed'])}" if r["missed"] else ""),
        f"skipped           {len(r['skipped'])}",
        *[f"                  {k['image']}: {k['reason']}" for k in r["skipped"]],
        f"scored            {r['faces_scored']} faces of {r['people_scored']} people",
        f"verification      {r['verification_accuracy']:.4f}  (all pairs, same person iff distance <= "
        f"{s['face_match_distance']:g})",
        f"clustering        {c['method']} max_distance={c['max_distance']:g} min_cluster_size="
        f"{c['min_cluster_size']}: P {c['precision']:.4f}  R {c['recall']:.4f}  F1 {c['f1']:.4f}  "
        f"({c['clusters']} clusters, {c['unclustered']} unclustered)",
        "",
        f"{'speed (1 process)':<28} {'images':>6} {'faces':>6} {'wall s':>8} {'CPU s':>8} {'img/s':>7} "
        f"{'faces/s':>8} {'faces/CPU s':>11}",
        f"{'ours: analyze(preview)':<28} {o['images']:6d} {o['faces']:6d} {o['analyze_s']:8.2f} "
        f"{o['analyze_cpu_s']:8.2f} {o['images_per_s']:7.2f} {o['faces_per_s']:8.2f} {o['faces_per_cpu_s']:11.2f}",
        f"{'ours: making previews':<28} {'':6} {'':6} {o['preview_s']:8.2f} {o['preview_cpu_s']:8.2f}   "
        f"(incl. previews: {o['faces_per_s_incl_preview']:.2f} faces/s)",
    ]
    if b:
        lines.append(f"{'DeepFace.represent(path)':<28} {b['images']:6d} {b['faces']:6d} {b['seconds']:8.2f} "
                     f"{b['cpu_s']:8.2f} {b['images_per_s']:7.2f} {b['faces_per_s']:8.2f} "
                     f"{b['faces_per_cpu_s']:11.2f}   ({b['missed']} images without a face)")
        ra = r["ratio"]
        lines.append(f"ratio ours/DeepFace: faces/s x{ra['faces_per_s']:.2f} (incl. previews "
                     f"x{ra['faces_per_s_incl_preview']:.2f}), images/s x{ra['images_per_s']:.2f}")
    else:
        lines.append("DeepFace baseline          not run (--no-baseline)")
    return "\n".join(lines)


def _finite(v: Any) -> Any:
    """NaN/inf as null, so --json output is strict JSON."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="faces_eval.py", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", type=Path, help="DIR laid out as DIR/<person>/<image>")
    ap.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    ap.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                    help="also time DeepFace's own represent loop over the same files (default: on)")
    ap.add_argument("--build-from-corpus", type=Path, metavar="OUT",
                    help="write a DIR/<person>/<image> folder to OUT from $WORKBENCH_CORPUS (or --corpus) and "
                         "exit, unless a folder to evaluate is given too")
    ap.add_argument("--corpus", type=Path, default=os.environ.get("WORKBENCH_CORPUS") or None,
                    help="the shared corpus, for --build-from-corpus (default: $WORKBENCH_CORPUS)")
    ap.add_argument("--keep-duplicates", action="store_true",
                    help="with --build-from-corpus: keep byte-identical copies (default: one of each)")
    args = ap.parse_args(argv)
    if args.build_from_corpus is None and args.folder is None:
        ap.error("give a folder to evaluate, or --build-from-corpus OUT")
    if args.build_from_corpus is not None:
        if not args.corpus or not Path(args.corpus).is_dir():
            ap.error("--build-from-corpus needs the shared corpus: set WORKBENCH_CORPUS or --corpus")
        counts = build_from_corpus(args.corpus, args.build_from_corpus, dedupe=not args.keep_duplicates)
        print(f"wrote {sum(counts.values())} images of {len(counts)} people to {args.build_from_corpus}",
              file=sys.stderr if args.json else sys.stdout)
        if args.folder is None:
            return 0
    result = evaluate(args.folder, baseline=args.baseline)
    print(json.dumps(_finite(result), indent=1) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
