"""Which global tag threshold? Precision and recall of the effective tags on hand-labelled corpus photos.

    WORKBENCH_CORPUS=../shared/corpus .venv/bin/python benchmarks/tag_threshold.py \\
        [--clip-checkpoint PATH] [--clip-model NAME] [--clip-pretrained TAG] [--labels FILE]

The labelled photos (``benchmarks/data/tag_labels.json``: 30 corpus photos, each labelled for all 17 of its
vocabulary labels) are imported into a fresh library with the given CLIP weights (default: the product's,
ViT-B-32 laion2b_s34b_b79k) and scored by the real stages (thumbnails, embeddings, tag_scores). For each threshold
from 0.05 to 0.95 it prints micro precision, recall and F1 over every (photo, label) pair, then the threshold with
the best F1, what the default ``tag_threshold`` gives, and each label's average precision (which labels need a
per-tag override).

Without the weights (no network here, and no trained CLIP file on this machine) the embeddings stage is skipped
and the script prints its one-line reason and exits with status 2: the default threshold 0.5 has NOT been
chosen by this measurement yet (see workbench/semantic/tagging.py, score_matrix). With a tiny random model
(``--clip-model path/to/config.json --clip-checkpoint random.pt``) the mechanics run, but the numbers mean
nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)


def evaluate(scores: np.ndarray, truth: np.ndarray, counted: np.ndarray, thresholds: np.ndarray) -> list[dict]:
    """Micro precision/recall/F1 of ``scores >= t`` against ``truth`` over the ``counted`` (photo, label) pairs."""
    rows = []
    for t in thresholds:
        predicted = (scores >= t) & counted
        tp = int((predicted & truth).sum())
        fp = int((predicted & ~truth).sum())
        fn = int((~predicted & truth & counted).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"threshold": float(t), "tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall,
                     "f1": f1})
    return rows


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the precision-recall curve of one label (mean precision at each true photo's rank)."""
    order = np.argsort(-scores, kind="stable")
    hits = truth[order]
    if not hits.any():
        return float("nan")
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision_at[hits].mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", type=Path, default=ROOT / "benchmarks" / "data" / "tag_labels.json")
    ap.add_argument("--corpus", type=Path, default=os.environ.get("WORKBENCH_CORPUS", ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--clip-model", help="settings.clip_model (default: the product's)")
    ap.add_argument("--clip-pretrained", help="settings.clip_pretrained (default: the product's)")
    ap.add_argument("--clip-checkpoint", help="settings.clip_checkpoint, a local open_clip checkpoint file")
    args = ap.parse_args()

    from workbench import Library

    spec = json.loads(args.labels.read_text())
    labels: list[str] = spec["labels"]
    files = {(Path(args.corpus) / rel).resolve(): info for rel, info in spec["images"].items()}
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        print(f"{len(missing)} labelled files are missing under {args.corpus} (set WORKBENCH_CORPUS): {missing[:3]}")
        return 2

    work = Path(tempfile.mkdtemp(prefix="wb-tag-threshold-"))
    try:
        lib = Library.create(work / "lib")
        for key in ("clip_model", "clip_pretrained", "clip_checkpoint"):
            if getattr(args, key) is not None:
                setattr(lib.settings, key, getattr(args, key))
        lib.settings.save(lib.root)
        lib = Library.open(lib.root)
        lib.import_files(list(files), progress=False)
        reports = lib.process(["thumbnails", lib._search_tables().media_table, "tag_scores"], progress=False)
        skipped = [r.skipped for r in reports if r.skipped]
        if skipped:
            print(f"not measured: {skipped[0]}")
            return 2
        matrix = lib.tag_scores()
        unknown = [name for name in labels if name not in matrix.tags]
        if unknown:
            print(f"labels not in the vocabulary: {unknown}")
            return 2
        media = lib.media()
        path_of = dict(zip(media["id"], media["path"]))
        cols = [matrix.tags.index(name) for name in labels]
        scores, truth, counted = [], [], []
        for mid, row in zip(matrix.media_ids, matrix.values):
            info = files[Path(path_of[mid]).resolve()]
            scores.append(row[cols].astype(np.float32))
            truth.append([name in info["tags"] for name in labels])
            counted.append([name not in info.get("ignore", []) for name in labels])
        s, y, c = np.array(scores), np.array(truth, bool), np.array(counted, bool)
        print(f"{len(s)} photos x {len(labels)} labels ({int(c.sum())} counted pairs, {int((y & c).sum())} true), "
              f"model {lib._search_tables().model_id}")
        rows = evaluate(s, y, c, THRESHOLDS)
        print(f"{'threshold':>9} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>6} {'F1':>5}")
        for r in rows:
            print(f"{r['threshold']:9.2f} {r['tp']:4d} {r['fp']:4d} {r['fn']:4d} {r['precision']:9.3f} "
                  f"{r['recall']:6.3f} {r['f1']:5.3f}")
        best = max(rows, key=lambda r: r["f1"])
        default = evaluate(s, y, c, np.array([lib.settings.tag_threshold]))[0]
        print(f"best F1 {best['f1']:.3f} at {best['threshold']:.2f}; the default tag_threshold "
              f"{lib.settings.tag_threshold:.2f} gives precision {default['precision']:.3f}, recall "
              f"{default['recall']:.3f}, F1 {default['f1']:.3f}")
        print("average precision per label: " + ", ".join(
            f"{name} {average_precision(s[c[:, j], j], y[c[:, j], j]):.2f}" for j, name in enumerate(labels)))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
