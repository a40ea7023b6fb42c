"""The embedding map's geometry: vectors (CLIP or face embeddings) to 2-D points and cluster labels.

UMAP (umap-learn) lays the vectors out so that neighbours stay neighbours; HDBSCAN then finds the dense groups
*in that 2-D layout*, so a cluster's colour agrees with what the eye sees on the map (clustering the raw 512-d
vectors instead gives groups that are scattered across the picture, and density estimates in 512 dimensions are
poor). Below :data:`MIN_POINTS_FOR_UMAP` points UMAP's neighbour graph is too small to mean much (and its spectral
start fails), so the points are laid out by PCA instead, and the result says so.

umap-learn is compiled by numba the first time it runs. :func:`load_umap` points numba's cache at a persistent
folder and turns caching on for umap's own functions (many are not cached by umap itself), so only the first
run on a machine pays for compiling. Measured on the 2-core reference machine (90 synthetic 32-d points):
``import umap`` 24 s cold, 2.4 s with the cache; the first fit in a process 9-13 s without caching umap's
functions, 0.12 s with them.
"""
from __future__ import annotations

import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Fewer points than this are laid out by PCA instead of UMAP (UMAP's default 15 neighbours need 15 points).
MIN_POINTS_FOR_UMAP = 15
#: umap-learn's own defaults: 15 neighbours balance local against global structure; 0.1 lets similar pictures
#: sit close together while still being told apart on screen.
DEFAULT_N_NEIGHBORS = 15
DEFAULT_MIN_DIST = 0.1
#: hdbscan's own default: a cluster is at least 5 pictures, so pairs of near-duplicates are not each a cluster.
DEFAULT_MIN_CLUSTER_SIZE = 5
#: The same input and parameters always give the same map (and UMAP runs single-threaded with a fixed seed).
RANDOM_STATE = 0
METRICS = ("cosine", "euclidean")

# umap's modules whose numba functions get a persistent cache (see load_umap).
_UMAP_MODULES = ("umap.umap_", "umap.utils", "umap.layouts", "umap.distances", "umap.sparse", "umap.spectral")


@dataclass(frozen=True)
class MapLayout:
    """Where each vector sits on the map (``xy``, shape (n, 2)) and its cluster (``labels``: 0..k-1, -1 for
    points in no cluster); ``method`` is "umap" or "pca" (too few points for UMAP)."""
    xy: np.ndarray
    labels: np.ndarray
    method: str

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0

    @property
    def n_unclustered(self) -> int:
        return int((self.labels < 0).sum())


def numba_cache_dir() -> Path:
    """Where compiled umap code is kept between runs: ``$NUMBA_CACHE_DIR`` if set, else a workbench cache folder."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "workbench" / "numba"


def load_umap():
    """Import umap-learn with numba caching to a persistent folder, so only the first run on a machine compiles.

    The one place that imports umap: the cache folder must be set before numba compiles anything of umap's."""
    if "umap" in sys.modules and getattr(load_umap, "_done", False):
        return sys.modules["umap"]
    folder = numba_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # numba read its settings when something imported it: make it read them again
        from numba.core import config
        config.reload_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns about optional tensorflow/parametric pieces on import
        import umap
    _cache_umap_functions()
    load_umap._done = True  # type: ignore[attr-defined]
    return umap


def _cache_umap_functions() -> None:
    """umap marks only some of its numba functions ``cache=True``; the others (its kNN, fuzzy graph and layout
    epochs) would compile again in every process. Numba's own ``enable_caching`` gives them the persistent cache."""
    from numba.core.registry import CPUDispatcher
    for name in _UMAP_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for fn in vars(module).values():
            if isinstance(fn, CPUDispatcher) and type(fn._cache).__name__ == "NullCache":
                fn.enable_caching()


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The two directions of largest spread (plain SVD PCA); fewer than two directions are padded with zeros."""
    n = len(x)
    if n == 0:
        return np.zeros((0, 2))
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    xy = u[:, :2] * s[:2]
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((n, 2 - xy.shape[1]))])
    return xy


def umap_2d(x: np.ndarray, *, n_neighbors: int = DEFAULT_N_NEIGHBORS, min_dist: float = DEFAULT_MIN_DIST,
            metric: str = "cosine", random_state: int = RANDOM_STATE) -> np.ndarray:
    """UMAP to two dimensions; ``n_neighbors`` is capped at n-1 (UMAP needs that many other points)."""
    umap = load_umap()
    k = max(2, min(int(n_neighbors), len(x) - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "spectral initialisation failed" on tiny graphs: it falls back itself
        model = umap.UMAP(n_components=2, n_neighbors=k, min_dist=float(min_dist), metric=metric,
                          random_state=random_state, n_jobs=1)
        return np.asarray(model.fit_transform(x), dtype=np.float64)


def layout_points(vectors: np.ndarray, *, n_neighbors: int = DEFAULT_N_NEIGHBORS,
                  min_dist: float = DEFAULT_MIN_DIST, min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE,
                  metric: str = "cosine", min_points_for_umap: int = MIN_POINTS_FOR_UMAP,
                  random_state: int = RANDOM_STATE) -> MapLayout:
    """Lay ``vectors`` (one row per picture or face) out in 2-D and cluster the layout with HDBSCAN.

    ``metric`` is the distance the vectors are meant for: "cosine" for CLIP, "euclidean" for face embeddings
    (their match distance is Euclidean). Clusters smaller than ``min_cluster_size`` are left unclustered (-1)."""
    from workbench.people.clustering import hdbscan_clusters

    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    if n_neighbors < 2:
        raise ValueError(f"n_neighbors must be at least 2, not {n_neighbors}")
    if not 0.0 <= min_dist <= 1.0:
        raise ValueError(f"min_dist is a distance on the map between 0 and 1, not {min_dist}")
    if min_cluster_size < 2:
        raise ValueError(f"min_cluster_size must be at least 2 (one picture is not a cluster), not {min_cluster_size}")
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (one row per item), got shape {x.shape}")
    if len(x) == 0:
        return MapLayout(np.zeros((0, 2)), np.zeros(0, dtype=np.int64), "pca")
    if metric == "cosine":  # cosine distance is the Euclidean distance of unit vectors: PCA then agrees with UMAP
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if len(x) < min_points_for_umap:
        xy, method = pca_2d(x.astype(np.float64)), "pca"
    else:
        xy, method = umap_2d(x, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric,
                             random_state=random_state), "umap"
    labels = hdbscan_clusters(xy, min_cluster_size)
    return MapLayout(xy, labels, method)
