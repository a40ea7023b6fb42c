"""Group face embeddings into people, and score a grouping against known identities.

Two methods, both from libraries: dlib's Chinese whispers (a graph of faces closer than a distance, labels spread
along edges; no cluster count to choose, and the distance means the same thing as in face verification) and
HDBSCAN (density based, leaves stragglers as noise). Labels are 0..k-1 in order of first appearance, -1 means
"not in any person"; the same input always gives the same labels.

Defaults, measured on the shared corpus's labelled faces (``benchmarks/faces_clustering.py``; Dlib embeddings of
29 face_recognition faces / 6 people, and 35 / 9 with PhotoPrism's portraits): Chinese whispers at 0.5 has
pairwise precision 1.0 and F1 0.985 / 0.974. The first false merge appears at 0.575 (closest different-person
pair 0.558); 0.525-0.55 gains a little recall (F1 0.992 / 0.985) but sits right under that pair, and a wrong
merge costs a user more than a split. min_cluster_size 3 only loses real pairs (F1 0.973 / 0.958 at 0.5).
HDBSCAN alone splits people (best F1 0.757 / 0.743). With min_samples=1 and max_distance (selection epsilon plus
dropping faces with no cluster-mate that close) it gives exactly the Chinese-whispers result, so that is how
``cluster_faces`` runs it; epsilon alone merged two people (precision 0.985) and, with min_samples=2 or
min_cluster_size >= 3, merged several (precision 0.55-0.80). Chinese whispers stays the default: same scores,
one parameter.
"""
from __future__ import annotations

import numpy as np

METHODS = ("chinese_whispers", "hdbscan")
# Measured defaults: see the module docstring.
DEFAULT_METHOD = "chinese_whispers"
DEFAULT_MAX_DISTANCE = 0.5
DEFAULT_MIN_CLUSTER_SIZE = 2


def chinese_whispers(embeddings: np.ndarray, max_distance: float) -> np.ndarray:
    """Label each row with dlib's Chinese whispers over the graph of pairs closer than ``max_distance``.

    dlib links faces at Euclidean distance strictly below the threshold, the rule its own face clustering
    example uses with Dlib embeddings; every face ends up in some cluster (possibly alone)."""
    x = _as_matrix(embeddings)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    import dlib

    vectors = [dlib.vector(row.tolist()) for row in x]
    return _renumber(np.asarray(dlib.chinese_whispers_clustering(vectors, float(max_distance)), dtype=np.int64))


def hdbscan_clusters(embeddings: np.ndarray, min_cluster_size: int, min_samples: int | None = None,
                     max_distance: float | None = None) -> np.ndarray:
    """Label each row with HDBSCAN (Euclidean); noise is -1.

    ``max_distance``, when given, does two things. It is HDBSCAN's ``cluster_selection_epsilon`` (clusters closer
    than it are not split further; without it HDBSCAN splits one person into several). And a face with no other
    face of its cluster within ``max_distance`` becomes noise: HDBSCAN keeps points that drop out of a selected
    cluster in it, so a stranger's single face far from everyone can otherwise join a person. Fewer rows than
    ``min_cluster_size`` cannot make a cluster and are all noise (HDBSCAN itself raises on a single row)."""
    x = _as_matrix(embeddings)
    size = max(2, int(min_cluster_size))
    if len(x) < size:
        return np.full(len(x), -1, dtype=np.int64)
    import hdbscan

    model = hdbscan.HDBSCAN(min_cluster_size=size, min_samples=min_samples, metric="euclidean",
                            cluster_selection_epsilon=float(max_distance or 0.0), core_dist_n_jobs=1)
    labels = model.fit_predict(x).astype(np.int64)
    if max_distance is not None:
        labels = _drop_isolated(x, labels, max_distance)
    return drop_small_clusters(labels, size)


def cluster_faces(embeddings: np.ndarray, method: str = DEFAULT_METHOD, max_distance: float = DEFAULT_MAX_DISTANCE,
                  min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE) -> np.ndarray:
    """People from face embeddings: one label per row, -1 for faces in no group of at least ``min_cluster_size``.

    A face seen once is not yet a person worth naming, so small groups are left unclustered by either method.
    ``max_distance`` is the linking distance for Chinese whispers, and for HDBSCAN its selection epsilon and
    isolation cut (HDBSCAN runs with min_samples=1: measured, larger values merged people)."""
    if method not in METHODS:
        raise ValueError(f"unknown face clustering method {method!r}: use one of {', '.join(METHODS)}")
    x = _as_matrix(embeddings)
    if method == "chinese_whispers":
        labels = chinese_whispers(x, max_distance)
    else:
        labels = hdbscan_clusters(x, min_cluster_size, min_samples=1, max_distance=max_distance)
    return drop_small_clusters(labels, min_cluster_size)


def pairwise_scores(true_labels: np.ndarray, pred_labels: np.ndarray) -> dict[str, float]:
    """Pairwise precision, recall and F1: a pair counts as predicted together when both faces share a predicted
    cluster (-1 faces are each alone), and as truly together when they share a true label.

    Counted from the contingency table, so it stays fast for large libraries. With no predicted pairs precision
    is 1.0 (nothing wrongly merged); with no true pairs recall is 1.0 (nothing to find)."""
    from sklearn.metrics.cluster import pair_confusion_matrix

    true = np.asarray(true_labels)
    pred = _singletons(np.asarray(pred_labels))
    if true.shape != pred.shape:
        raise ValueError(f"true_labels and pred_labels differ in length: {true.shape} vs {pred.shape}")
    if len(true) < 2:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    # sklearn counts ordered pairs: [[tn, fp], [fn, tp]] with "positive" = same true label.
    (_, fp), (fn, tp) = pair_confusion_matrix(true, pred)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def verification_accuracy(embeddings: np.ndarray, labels: np.ndarray, max_distance: float) -> float:
    """Fraction of all face pairs where "distance <= max_distance" agrees with "same label": how well one
    threshold separates same-person from different-person pairs. NaN when there is no pair."""
    from scipy.spatial.distance import pdist

    x = _as_matrix(embeddings)
    codes = np.unique(np.asarray(labels), return_inverse=True)[1].reshape(-1)
    if len(codes) != len(x):
        raise ValueError(f"{len(x)} embeddings but {len(codes)} labels")
    if len(x) < 2:
        return float("nan")
    i, j = np.triu_indices(len(x), k=1)  # the same pair order as pdist's condensed matrix
    return float(np.mean((pdist(x) <= max_distance) == (codes[i] == codes[j])))


def _as_matrix(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    if x.size == 0:
        return x.reshape(0, x.shape[-1] if x.ndim == 2 else 0)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (one row per face), got shape {x.shape}")
    return x


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters as 0..k-1 in order of first appearance; -1 stays -1."""
    out = np.full(len(labels), -1, dtype=np.int64)
    mapping: dict[int, int] = {}
    for idx, label in enumerate(labels.tolist()):
        if label >= 0:
            out[idx] = mapping.setdefault(label, len(mapping))
    return out


def _drop_isolated(x: np.ndarray, labels: np.ndarray, max_distance: float) -> np.ndarray:
    """-1 for each face whose nearest other face in its cluster is farther than max_distance."""
    from sklearn.neighbors import NearestNeighbors

    out = labels.copy()
    for cluster in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == cluster)
        nearest, _ = NearestNeighbors(n_neighbors=1).fit(x[members]).kneighbors()  # excludes the face itself
        out[members[nearest[:, 0] > max_distance]] = -1
    return out


def drop_small_clusters(labels: np.ndarray, min_cluster_size: int) -> np.ndarray:
    """Clusters under ``min_cluster_size`` faces become noise (-1); labels renumbered from 0 (the benchmark applies
    it to the raw output of every method it compares)."""
    kept = labels.copy()
    if len(kept):
        counts = np.bincount(kept[kept >= 0], minlength=1)
        small = (kept >= 0) & (counts[np.maximum(kept, 0)] < min_cluster_size)
        kept[small] = -1
    return _renumber(kept)


def _singletons(pred: np.ndarray) -> np.ndarray:
    """Give each -1 its own label so unclustered faces pair with nothing."""
    out = pred.astype(np.int64).copy()
    noise = out < 0
    out[noise] = out.max(initial=-1) + 1 + np.arange(int(noise.sum()))
    return out
