"""Face clustering (workbench.people.clustering): synthetic behaviour, hand-computed scores, and the labelled
faces of the shared corpus (measured in benchmarks/faces_clustering.py)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from workbench.people.clustering import (
    METHODS,
    cluster_faces,
    hdbscan_clusters,
    pairwise_scores,
    verification_accuracy,
)


def first_appearance(labels: list) -> np.ndarray:
    """The labels cluster_faces should return for this partition: 0..k-1 in order of first appearance."""
    seen: dict = {}
    return np.array([seen.setdefault(label, len(seen)) for label in labels])


def people(sizes: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dlib-like 128-d faces of well-separated people, rows shuffled: same-person pairs ~0.25 apart,
    different people ~1.1 apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), 128))
    centres *= 0.8 / np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    x = centres[truth] + rng.normal(scale=0.015, size=(len(truth), 128))
    order = rng.permutation(len(truth))
    return x[order], truth[order]


@pytest.mark.parametrize("method", METHODS)
def test_well_separated_people_are_recovered_exactly(method: str) -> None:
    x, truth = people([6, 4, 5, 3])
    assert np.array_equal(cluster_faces(x, method=method), first_appearance(truth.tolist()))


@pytest.mark.parametrize("method", METHODS)
def test_a_face_seen_once_is_unclustered(method: str) -> None:
    x, truth = people([5, 4, 1], seed=1)
    labels = cluster_faces(x, method=method, min_cluster_size=2)
    assert (labels[truth == 2] == -1).all()
    assert sorted(set(labels[truth != 2].tolist())) == [0, 1]


def test_groups_smaller_than_min_cluster_size_are_unclustered() -> None:
    x, truth = people([5, 2], seed=2)
    labels = cluster_faces(x, method="chinese_whispers", min_cluster_size=3)
    assert (labels[truth == 1] == -1).all() and (labels[truth == 0] == 0).all()


def test_unknown_method_names_the_valid_ones() -> None:
    x, _ = people([3, 3])
    with pytest.raises(ValueError, match="chinese_whispers") as e:
        cluster_faces(x, method="kmeans")
    assert "hdbscan" in str(e.value) and "kmeans" in str(e.value)


@pytest.mark.parametrize("method", METHODS)
def test_no_faces_and_one_face_are_handled(method: str) -> None:
    assert cluster_faces(np.empty((0, 128)), method=method).tolist() == []
    assert cluster_faces(np.zeros((1, 128)), method=method).tolist() == [-1]


def test_hdbscan_on_fewer_faces_than_a_cluster_is_all_noise() -> None:
    x, _ = people([2])
    assert hdbscan_clusters(x, min_cluster_size=3).tolist() == [-1, -1]


def test_pairwise_scores_of_a_perfect_clustering_are_one() -> None:
    assert pairwise_scores(["a", "a", "b", "b", "c"], [7, 7, 3, 3, -1]) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_pairwise_scores_when_everything_is_merged() -> None:
    # 6 predicted pairs, 2 of them true; both true pairs found.
    s = pairwise_scores(["a", "a", "b", "b"], [0, 0, 0, 0])
    assert s == pytest.approx({"precision": 1 / 3, "recall": 1.0, "f1": 0.5})


def test_pairwise_scores_when_everything_is_split() -> None:
    # -1 faces are singletons: no predicted pair, so nothing wrongly merged and no true pair found.
    s = pairwise_scores(["a", "a", "b", "b"], [-1, -1, -1, -1])
    assert s == {"precision": 1.0, "recall": 0.0, "f1": 0.0}


def test_pairwise_scores_of_a_partial_clustering() -> None:
    # true pairs {01, 02, 12, 34}; predicted pairs {01, 23, 24, 34}: 2 of 4 either way.
    s = pairwise_scores(["a", "a", "a", "b", "b"], [0, 0, 1, 1, 1])
    assert s == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})


def test_verification_accuracy_counts_pairs_whose_distance_agrees_with_identity() -> None:
    x = np.array([[0.0, 0.0], [0.5, 0.0], [2.0, 0.0]])
    labels = ["a", "a", "b"]
    assert verification_accuracy(x, labels, 0.5) == 1.0  # 0.5 is inclusive: the same-person pair matches
    assert verification_accuracy(x, labels, 0.49) == pytest.approx(2 / 3)  # now it does not
    assert verification_accuracy(x, labels, 1.5) == pytest.approx(2 / 3)  # a/b at 1.5 now matches, wrongly


# --- the shared corpus -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def labelled_faces(corpus: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(embeddings, people, files without a detected face) for face_recognition's labelled single-person images:
    the largest face of each, Dlib model + dlib detector on the 1440 px preview the face stage reads."""
    from PIL import Image, ImageOps

    from workbench.faces.weights import ensure_face_weights
    from workbench.settings import Settings

    ensure_face_weights()
    from deepface import DeepFace

    root = corpus / "faces" / "face_recognition"
    identities = json.loads((root / "ground_truth.json").read_text())["identities"]
    by_bytes: dict[str, list[float] | None] = {}  # the corpus repeats files; embed each content once
    vectors, names, missing = [], [], []
    for person, files in identities.items():
        for f in files:
            key = hashlib.sha256((root / f).read_bytes()).hexdigest()
            if key not in by_bytes:
                with Image.open(root / f) as im:
                    img = ImageOps.exif_transpose(im).convert("RGB")
                img.thumbnail((Settings().preview_size_px,) * 2)
                found = DeepFace.represent(np.ascontiguousarray(np.asarray(img)[:, :, ::-1]), model_name="Dlib",
                                           detector_backend="dlib", enforce_detection=False, align=True)
                found = [r for r in found if r["face_confidence"] > 0]  # 0 = no face, the whole image returned
                best = max(found, key=lambda r: r["facial_area"]["w"] * r["facial_area"]["h"], default=None)
                by_bytes[key] = None if best is None else best["embedding"]
            if by_bytes[key] is None:
                missing.append(f)
            else:
                vectors.append(by_bytes[key])
                names.append(person)
    return np.array(vectors), np.array(names), missing


def test_every_labelled_corpus_face_is_detected(labelled_faces) -> None:  # noqa: ANN001
    assert labelled_faces[2] == []


def test_default_clustering_groups_corpus_people_with_pairwise_f1_at_least_095(labelled_faces) -> None:  # noqa: ANN001
    x, truth, _ = labelled_faces
    scores = pairwise_scores(truth, cluster_faces(x))
    assert scores["f1"] >= 0.95, scores


def test_default_clustering_never_merges_two_corpus_people(labelled_faces) -> None:  # noqa: ANN001
    x, truth, _ = labelled_faces
    labels = cluster_faces(x)
    for cluster in set(labels.tolist()) - {-1}:
        assert len(set(truth[labels == cluster])) == 1, truth[labels == cluster]
