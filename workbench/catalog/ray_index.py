"""The library's IVF-PQ index built on a Ray cluster (``lance_ray.create_index``), for ``--engine ray``.

It sits with the catalog because it talks to Lance itself (the catalog boundary, ``tests/test_catalog_boundary.py``):
the Ray engine (``workbench/stages/engines.py``, ``RayEngine.build_vector_index``) decides nothing about tables and
only lends its cluster. The index is the one ``vector_index.ensure_indexes`` would build, under the same name,
metric, partitions and sub-vectors, so the local pass that follows finds it current (docs/scale.md).
"""
from __future__ import annotations

import logging
from typing import Any

from workbench.semantic import vector_index as vi

log = logging.getLogger(__name__)

#: lance-ray trains on ``sample_rate`` rows per IVF partition and per PQ centroid and refuses a table with fewer
#: rows than that asks for (Lance samples what there is), so the rate is lowered for small tables.
MAX_SAMPLE_RATE = 256
PQ_CENTROIDS = 256


def build_vector_index_on_ray(table: Any, vector_column: str = "vector", *, num_workers: int,
                              cpus_per_task: float = 1.0, min_rows_for_ann: int | None = None,
                              rebuild_growth: float | None = None) -> tuple[str, str] | None:
    """Build ``table``'s IVF-PQ index with lance-ray when ``ensure_indexes`` would build one now (none yet and at
    least ``min_rows_for_ann`` rows, or one trained on ``rebuild_growth`` times fewer rows or with another metric);
    returns ``("created" or "rebuilt", index name)``, or None when no build was due. IVF and PQ training run on the
    driver, the per-fragment pass (assigning and encoding every vector) in ``num_workers`` Ray tasks."""
    import lance_ray

    rows = table.count_rows()
    if rows < (vi.MIN_ROWS_FOR_ANN if min_rows_for_ann is None else min_rows_for_ann):
        return None
    old = vi.ann_index(table, vector_column)
    if old is not None:
        stats = table.index_stats(old.name)
        _, trained = vi.ann_shape(old, stats.num_indexed_rows if stats else rows)
        wrong_metric = stats is not None and stats.distance_type not in (None, vi.DISTANCE_TYPE)
        growth = vi.REBUILD_GROWTH if rebuild_growth is None else rebuild_growth
        if not wrong_metric and rows < growth * trained:
            return None
    partitions = vi.num_partitions_for(rows)
    name = vi.ann_index_name(vector_column, partitions, rows)
    log.info("building IVF-PQ %s on Ray (%d rows, %d partitions, %d workers)", name, rows, partitions, num_workers)
    lance_ray.create_index(table.to_lance(), vector_column, "IVF_PQ", name=name, replace=True,
                           num_workers=num_workers, metric=vi.DISTANCE_TYPE, num_partitions=partitions,
                           num_sub_vectors=vi.num_sub_vectors_for(vi.vector_dim(table, vector_column)),
                           sample_rate=max(2, min(MAX_SAMPLE_RATE, rows // max(partitions, PQ_CENTROIDS))),
                           ray_remote_args={"num_cpus": cpus_per_task})
    if old is not None and old.name != name:
        table.drop_index(old.name)
    return ("created" if old is None else "rebuilt"), name
