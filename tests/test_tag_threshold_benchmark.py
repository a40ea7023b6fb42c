"""benchmarks/tag_threshold.py: its hand labels point at real corpus photos and real vocabulary labels, and its
precision/recall arithmetic is right. (The measurement itself needs trained CLIP weights, which this machine lacks.)"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("tag_threshold", REPO / "benchmarks" / "tag_threshold.py")
tag_threshold = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(tag_threshold)
LABELS = json.loads((REPO / "benchmarks" / "data" / "tag_labels.json").read_text())


def test_every_label_is_in_the_default_vocabulary() -> None:
    from workbench.semantic.vocabulary import Vocabulary

    names = set(Vocabulary.load_default().names)
    assert [name for name in LABELS["labels"] if name not in names] == []


def test_every_tag_and_ignore_of_a_photo_is_one_of_the_labels() -> None:
    for rel, info in LABELS["images"].items():
        assert set(info["tags"]) | set(info.get("ignore", [])) <= set(LABELS["labels"]), rel


def test_every_labelled_photo_exists_in_the_corpus(corpus: Path) -> None:
    assert [rel for rel in LABELS["images"] if not (corpus / rel).is_file()] == []


def test_precision_and_recall_count_only_the_counted_pairs() -> None:
    scores = np.array([[0.9, 0.2], [0.6, 0.7], [0.1, 0.8]], np.float32)
    truth = np.array([[True, False], [False, True], [False, True]])
    counted = np.array([[True, True], [True, True], [True, False]])  # photo 3's second label is ignored
    row = tag_threshold.evaluate(scores, truth, counted, np.array([0.5]))[0]
    assert (row["tp"], row["fp"], row["fn"]) == (2, 1, 0)
    assert row["precision"] == pytest.approx(2 / 3) and row["recall"] == 1.0 and row["f1"] == pytest.approx(0.8)


def test_average_precision_is_one_when_every_true_photo_ranks_first() -> None:
    assert tag_threshold.average_precision(np.array([0.9, 0.8, 0.1]), np.array([True, True, False])) == 1.0
    assert tag_threshold.average_precision(np.array([0.9, 0.8, 0.1]), np.array([False, False, True])) == \
        pytest.approx(1 / 3)
