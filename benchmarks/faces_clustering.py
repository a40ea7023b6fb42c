#!/usr/bin/env python
"""Face clustering benchmark: workbench.people.clustering on the shared corpus's labelled faces.

What it does
  1. Faces. Every labelled single-person image is decoded upright (EXIF orientation applied), scaled to the
     preview size the face stage reads (Settings.preview_size_px, long edge), and embedded with DeepFace
     (Dlib model, dlib HOG detector, aligned). The largest detected face is the labelled one; images with no
     detected face are counted and left out. Sets:
       face_recognition  faces/face_recognition/ground_truth.json "identities" (multi-face images skipped;
                         its exact duplicates are kept: a real library has them too)
       +photoprism       the above plus faces/photoprism's unambiguous single-person images
                         (person_0 = 3, 6, 12; person_1 = 2, 4; person_2 = 5)
  2. Clustering. Chinese whispers over max_distance 0.40..0.65 (step 0.025) and HDBSCAN over min_cluster_size
     2..4 x min_samples 1..2: plain, with cluster_selection_epsilon=0.5 only, and with hdbscan_clusters'
     max_distance=0.5 (that epsilon plus dropping faces with no cluster-mate within 0.5); then cluster_faces' rule
     that groups smaller than min_cluster_size are unclustered. Scores: pairwise precision / recall / F1 against the
     identities (unclustered faces are singletons), and for each Chinese-whispers distance the verification
     accuracy (share of all pairs where "distance <= d" equals "same person").

Target: pairwise F1 >= 0.95 with the defaults of cluster_faces (its rows come last: the default method, then
hdbscan the way cluster_faces runs it).

Run:  WORKBENCH_CORPUS=../shared/corpus .venv/bin/python benchmarks/faces_clustering.py
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

PHOTOPRISM_UNAMBIGUOUS = {"person_0": ["3.jpg", "6.jpg", "12.jpg"], "person_1": ["2.jpg", "4.jpg"],
                          "person_2": ["5.jpg"]}


def labelled_faces(corpus: Path, photoprism: bool = True) -> list[tuple[str, str, Path]]:
    """(set, person, path) for every labelled single-person image."""
    fr = corpus / "faces" / "face_recognition"
    truth = json.loads((fr / "ground_truth.json").read_text())
    items = [("face_recognition", person, fr / f) for person, files in truth["identities"].items() for f in files]
    if photoprism:
        pp = corpus / "faces" / "photoprism" / "images"
        items += [("photoprism", f"photoprism_{person}", pp / f)
                  for person, files in PHOTOPRISM_UNAMBIGUOUS.items() for f in files]
    return items


def embed_largest_face(paths: list[Path], long_edge: int) -> list[list[float] | None]:
    """The Dlib embedding of the largest face in each image (None when nothing is detected). Byte-identical
    files are embedded once."""
    import numpy as np
    from PIL import Image, ImageOps

    from workbench.faces.weights import ensure_face_weights

    ensure_face_weights()
    from deepface import DeepFace

    done: dict[str, list[float] | None] = {}
    out = []
    for path in paths:
        key = hashlib.sha256(path.read_bytes()).hexdigest()
        if key not in done:
            with Image.open(path) as im:
                img = ImageOps.exif_transpose(im).convert("RGB")
            img.thumbnail((long_edge, long_edge))
            bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
            faces = DeepFace.represent(bgr, model_name="Dlib", detector_backend="dlib", enforce_detection=False,
                                       align=True)
            # enforce_detection=False returns the whole image as one "face" with confidence 0 when none is found.
            faces = [f for f in faces if f.get("face_confidence", 0) > 0]
            largest = max(faces, key=lambda f: f["facial_area"]["w"] * f["facial_area"]["h"], default=None)
            done[key] = None if largest is None else list(largest["embedding"])
        out.append(done[key])
    return out


def evaluate(embeddings, labels) -> list[dict]:  # noqa: ANN001 (np.ndarray)
    """One row per configuration: method, parameters, P/R/F1, clusters, unclustered faces, verification."""
    import numpy as np

    from workbench.people.clustering import (chinese_whispers, drop_small_clusters, hdbscan_clusters,
                                             verification_accuracy)

    rows = []
    for d in np.round(np.arange(0.40, 0.65 + 1e-9, 0.025), 3):
        raw = chinese_whispers(embeddings, float(d))
        va = verification_accuracy(embeddings, labels, float(d))
        for mcs in (2, 3):
            pred = drop_small_clusters(raw, mcs)
            rows.append(_row("chinese_whispers", f"max_distance={d:.3f} min_cluster_size={mcs}", labels, pred, va))
    import hdbscan

    for mcs in (2, 3, 4):
        for ms in (1, 2):
            base = f"min_cluster_size={mcs} min_samples={ms}"
            rows.append(_row("hdbscan", base, labels, drop_small_clusters(hdbscan_clusters(embeddings, mcs, ms), mcs), None))
            # cluster_selection_epsilon alone, straight from the library (hdbscan_clusters also drops isolated faces)
            eps_only = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms, cluster_selection_epsilon=0.5)
            pred = drop_small_clusters(eps_only.fit_predict(embeddings).astype(np.int64), mcs)
            rows.append(_row("hdbscan", f"{base} epsilon=0.5 only", labels, pred, None))
            pred = drop_small_clusters(hdbscan_clusters(embeddings, mcs, ms, max_distance=0.5), mcs)
            rows.append(_row("hdbscan", f"{base} max_distance=0.5", labels, pred, None))
    return rows


def _row(method: str, params: str, labels, pred, va: float | None) -> dict:  # noqa: ANN001
    from workbench.people.clustering import pairwise_scores

    s = pairwise_scores(labels, pred)
    return {"method": method, "params": params, **s, "clusters": int(pred.max(initial=-1) + 1),
            "unclustered": int((pred < 0).sum()), "verification": va}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("WORKBENCH_CORPUS"), help="default: $WORKBENCH_CORPUS")
    ap.add_argument("--json", action="store_true", help="print rows as JSON instead of a table")
    args = ap.parse_args(argv)
    if not args.corpus or not Path(args.corpus).is_dir():
        print("set WORKBENCH_CORPUS (or --corpus) to the shared corpus folder", file=sys.stderr)
        return 2
    import numpy as np

    from workbench.people.clustering import (
        DEFAULT_MAX_DISTANCE,
        DEFAULT_METHOD,
        DEFAULT_MIN_CLUSTER_SIZE,
        cluster_faces,
        verification_accuracy,
    )
    from workbench.settings import Settings

    items = labelled_faces(Path(args.corpus))
    t0 = time.perf_counter()
    vectors = embed_largest_face([p for _, _, p in items], Settings().preview_size_px)
    embed_s = time.perf_counter() - t0
    missing = [str(p.relative_to(args.corpus)) for (_, _, p), v in zip(items, vectors) if v is None]
    print(f"{len(items)} labelled images, {len(missing)} without a detected face {missing}; "
          f"embedding took {embed_s:.1f} s\n")

    results = {}
    for name, sets in (("face_recognition", {"face_recognition"}),
                       ("+photoprism", {"face_recognition", "photoprism"})):
        keep = [i for i, (s, _, _) in enumerate(items) if s in sets and vectors[i] is not None]
        x = np.array([vectors[i] for i in keep])
        y = np.array([items[i][1] for i in keep])
        rows = evaluate(x, y)
        for method in (DEFAULT_METHOD, "hdbscan"):
            rows.append(_row(f"cluster_faces {method}",
                             f"max_distance={DEFAULT_MAX_DISTANCE} min_cluster_size={DEFAULT_MIN_CLUSTER_SIZE}", y,
                             cluster_faces(x, method=method), verification_accuracy(x, y, DEFAULT_MAX_DISTANCE)))
        results[name] = {"faces": len(x), "people": len(set(y)), "rows": rows}
        if args.json:
            continue
        print(f"== {name}: {len(x)} faces, {len(set(y))} people ==")
        print(f"{'method':<30} {'parameters':<50} {'P':>6} {'R':>6} {'F1':>6} {'clus':>4} {'uncl':>4} {'verif':>6}")
        for r in rows:
            va = "" if r["verification"] is None else f"{r['verification']:.3f}"
            print(f"{r['method']:<30} {r['params']:<50} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
                  f"{r['clusters']:4d} {r['unclustered']:4d} {va:>6}")
        print()
    if args.json:
        print(json.dumps({"missing": missing, "embed_s": embed_s, "sets": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
