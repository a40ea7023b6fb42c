"""Vector-index policy for the embedding table: when to build the ANN index, how, and how to query it.

The embedding table (one row per media and model: ``media_id``, ``model_id``, ``vector``, ``taken_at``,
``kind``, ...) is searched by cosine distance. Two regimes, chosen by row count:

* **Small tables: no ANN index, exact search.** LanceDB's flat scan is exact and needs no training, and
  below :data:`MIN_ROWS_FOR_ANN` rows it answers within the latency budget on the 2-core reference machine.
* **Large tables: IVF-PQ with refine.** The IVF step (k-means partitions, ``sqrt(n)`` of them) limits the
  scan to the ``nprobes`` partitions nearest the query; PQ codes make that scan cheap; ``refine_factor``
  re-ranks the best ``k * refine_factor`` candidates with the full-precision vectors so the returned
  distances and order are exact for the candidates found.
* **Selective date filters: exact search over a date-sorted snapshot**, not this module. A prefiltered
  IVF-PQ query costs ~40 ms at 1M rows for recall 0.95 (:data:`FILTERED_NPROBES_FRACTION`), over the 25 ms
  target, and IVF_HNSW_SQ is no better. ``workbench.semantic.filtered_exact`` keeps the vectors sorted by
  ``taken_at`` in memory-mapped ``.npy`` files, so a date range is a contiguous slice scanned exactly (int8
  scan plus float32 re-rank: 1M rows, 10% date filter, recall@10 1.000 at ~6-12 ms p50). ``search.py``
  uses it whenever the slice has at most ``filtered_exact.MAX_EXACT_ROWS`` rows and the snapshot is
  usable; wider ranges, id-list filters and tables without a snapshot still come here.

Every tunable is a module constant below with the measurement that chose it; the numbers come from
``benchmarks/search.py`` (see ``docs/benchmarks.md``, "Search"). :func:`ensure_indexes` is idempotent and
is meant to be called after each ingest batch by the single writer of the table; :func:`vector_search` is
safe to call from any reader.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.catalog.filters import Filter, render

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------------------
# Tunables. "Measured" means: benchmarks/search.py on this project's 2-core / 24 GiB machine, synthetic
# CLIP-like 512-d vectors (see the benchmark's docstring), LanceDB 0.40.0, default (2.x) storage format.
# ----------------------------------------------------------------------------------------------------------

DISTANCE_TYPE: Literal["cosine"] = "cosine"
"""CLIP similarity is cosine similarity. The index is trained with, and every query uses, this metric (a
mismatch silently gives wrong neighbours, so :func:`ensure_indexes` rebuilds an index trained otherwise)."""

MIN_ROWS_FOR_ANN = 15_000
"""Below this many rows, no ANN index: exact flat search. Measured flat (no index) p50 / p95 for one 512-d
query: 10k rows 9 / 14 ms, 15k 18 / 38 ms, 20k 51 / 63 ms, 25k 64 / 84 ms, 100k ~217 ms (LanceDB's scan
costs ~2 us/row here, dominated by reading and decoding the vector column, not the distance maths). The
25 ms p50 budget is crossed between 15k and 20k rows, so tables get an ANN index from 15k rows on."""

SUB_VECTOR_DIMS = 16
"""PQ sub-vector width: ``num_sub_vectors = dim / SUB_VECTOR_DIMS`` (32 for 512-d CLIP, 32-byte codes).
Measured at 1M rows / 1000 partitions / nprobes 240: dim/16 with refine 40 -> recall@10 0.977 at 15.6 ms p50,
dim/8 with refine 20 -> 0.977 at 18.7 ms. Refine repairs most of the coarser codes' error and the scan of
half-size codes is cheaper (nprobes 320, refine 10: 15.5 vs 22.7 ms); it also builds faster (156 vs 200 s)."""

PARTITIONS_PER_SQRT_ROW = 1.0
"""IVF partitions = ``PARTITIONS_PER_SQRT_ROW * sqrt(rows)`` (1,000 at 1M rows). Measured at 1M, dim/16,
refine 40, probing about a quarter of the data: 500 partitions (nprobes 160) -> 0.955 at 18.7 ms, 1000 (240)
-> 0.977 at 15.6 ms, 2000 (480) -> 0.931 at 19.8 ms. sqrt(rows) was best of the three."""

MIN_PARTITIONS = 8
MAX_PARTITIONS = 4096
"""Clamp for the partition count: a handful of partitions still train at the smallest indexed tables (tests);
4096 = sqrt(16.7M) bounds k-means training cost (build at 1M / 1000 partitions: ~2.5 min on 2 cores); sizes
beyond 1M were not measured."""

NPROBES_FRACTION = 0.25
"""Share of IVF partitions probed by an unfiltered query. Measured at 1M rows / 1000 partitions, dim/16,
refine 40: nprobes 160 -> recall@10 0.948 (15.0 ms), 240 -> 0.977 (15.6 ms), 320 -> 0.986 (18.8 ms). The
clusters of CLIP-like data are wider than one partition, so recall follows the scanned share rather than a
fixed probe count; 0.25 keeps a margin over the 0.95 target at about 16 ms."""

FILTERED_NPROBES_FRACTION = 0.48
"""Share of partitions probed when a filter is given (prefiltered). The filtered top-k sit further from the
query and in more partitions, and LanceDB's per-row prefilter check makes each probe dearer. Measured at 1M,
10% date filter, refine 40: nprobes 160 -> 0.811 (21.3 ms), 240 -> 0.886 (26.3 ms), 320 -> 0.914 (29.5 ms),
480 -> 0.964 (37.8 ms). Recall is chosen over the 25 ms latency target here (see docs/benchmarks.md):
selective date ranges, the common filtered query, are answered by ``filtered_exact`` instead, so this path
serves wide ranges, filters without a date, and tables without a snapshot."""

SCAN_ROWS_BUDGET = 250_000
"""Probe at least enough partitions to cover this many indexed rows (capped at all of them). The PQ scan cost
follows the rows scanned, and 250k rows (a quarter of 1M) fit in ~16 ms at 1M; smaller tables are harder
for IVF (fewer rows per cluster, so neighbours spread over more partitions: at 100k, 25% of 316 partitions
gave only recall@10 0.83 plain / 0.75 filtered at 9 / 12 ms) and can afford to scan far more of their rows:
all 316 partitions at 100k -> 0.985 plain / 0.865 filtered at 13 / 15 ms."""

MIN_NPROBES = 4
"""Never probe fewer partitions than this (tiny indexes with few partitions)."""

REFINE_FACTOR = 40
"""Re-rank ``k * REFINE_FACTOR`` PQ candidates with the stored full vectors (400 rows for k=10). Measured at
1M, dim/16, nprobes 240: refine 10 -> 0.904, 20 -> 0.952, 40 -> 0.977 for +2 ms (with dim/8 codes and
nprobes 80, no refine gave 0.55 against 0.86 with refine 10). Tuned for k=10; the re-read grows with k
(k=100 re-reads 4,000 vectors)."""

UNINDEXED_ROWS_TO_FOLD = 1_000
"""Run ``table.optimize()`` once at least this many rows are not covered by an index. Unindexed rows are
still found (LanceDB flat-scans them and merges), at ~2 us/row: 1,000 rows add ~2 ms per query, under which
another table version and compaction pass are not worth it."""

REBUILD_GROWTH = 4.0
"""Retrain the IVF-PQ index once the table holds this many times the rows it was trained on: optimize()
assigns new rows to the old centroids and codebooks, so partitions grow to ~4x their planned size (scan cost
per probe and the nprobes share grow with them, and sqrt(rows) no longer holds). Not tuned by measurement:
a rebuild costs about one index build (78 s at 100k, ~2.5 min at 1M) and 4x bounds that to a small share of
ingest time."""

BITMAP_MAX_DISTINCT = 1_000
"""Scalar filter columns with at most this many distinct values (in a sample) get a BITMAP index (LanceDB
recommends it below "a few thousand" values: e.g. ``kind``, ``model_id``); others get a BTREE."""

BITMAP_SAMPLE_ROWS = 10_000
"""Rows sampled to estimate a column's cardinality when choosing BITMAP vs BTREE."""

DEFAULT_FILTER_COLUMNS: tuple[str, ...] = ("taken_at", "kind", "model_id", "media_id")
"""Columns that searches filter or join on; missing ones are skipped."""

IndexAction = Literal["none", "scalar", "created", "updated", "rebuilt"]

_ANN_TYPES = {"IvfPq", "IVF_PQ", "IvfHnswSq", "IVF_HNSW_SQ", "IvfHnswPq", "IVF_HNSW_PQ", "IvfFlat", "IVF_FLAT",
              "IvfSq", "IVF_SQ", "IvfRq", "IVF_RQ"}
_NAME_RE = re.compile(r"_ivfpq_p(?P<parts>\d+)_n(?P<rows>\d+)$")


# ----------------------------------------------------------------------------------------------------------
# Parameter derivation
# ----------------------------------------------------------------------------------------------------------

def num_partitions_for(rows: int) -> int:
    """IVF partitions for ``rows`` rows: ``sqrt(rows)`` scaled and clamped (see the constants for why)."""
    p = int(round(PARTITIONS_PER_SQRT_ROW * math.sqrt(max(rows, 1))))
    return max(MIN_PARTITIONS, min(MAX_PARTITIONS, p))


def num_sub_vectors_for(dim: int) -> int:
    """PQ sub-vectors for a ``dim``-dimensional column: ``dim / SUB_VECTOR_DIMS`` when that divides evenly
    (LanceDB's SIMD kernels want 8 or 16 values per sub-vector), else the largest divisor of ``dim`` that
    keeps sub-vectors at least ``SUB_VECTOR_DIMS`` wide, else 1."""
    if dim % SUB_VECTOR_DIMS == 0:
        return dim // SUB_VECTOR_DIMS
    for width in range(SUB_VECTOR_DIMS, dim + 1):
        if dim % width == 0:
            return dim // width
    return 1


def nprobes_for(partitions: int, indexed_rows: int, *, filtered: bool) -> int:
    """Partitions to probe for one query: a measured share of the index's partitions (more when filtered),
    and at least enough to scan ``SCAN_ROWS_BUDGET`` rows, which smaller indexes afford easily."""
    frac = FILTERED_NPROBES_FRACTION if filtered else NPROBES_FRACTION
    frac = max(frac, min(1.0, SCAN_ROWS_BUDGET / max(indexed_rows, 1)))
    return max(MIN_NPROBES, min(partitions, int(math.ceil(frac * partitions))))


def ann_index_name(vector_column: str, partitions: int, trained_rows: int) -> str:
    """Name under which the ANN index is stored. It records the partition count and training size, which
    LanceDB does not report, so queries can derive nprobes and :func:`ensure_indexes` can detect growth."""
    return f"{vector_column}_ivfpq_p{partitions}_n{trained_rows}"


# ----------------------------------------------------------------------------------------------------------
# Introspection
# ----------------------------------------------------------------------------------------------------------

def ann_index(table, vector_column: str, indexes: list | None = None):
    """The ANN index on ``vector_column`` (LanceDB IndexConfig, from ``indexes`` if given) or None."""
    for idx in table.list_indices() if indexes is None else indexes:
        if list(idx.columns) == [vector_column] and idx.index_type in _ANN_TYPES:
            return idx
    return None


def ann_shape(idx, indexed_rows: int) -> tuple[int, int]:
    """(partitions, trained_rows) of an ANN index: parsed from our name, or estimated for a foreign index
    (partitions ~ sqrt(indexed rows), trained size = what it covers now, so growth never triggers a rebuild
    of an index we did not build)."""
    m = _NAME_RE.search(idx.name or "")
    if m:
        return int(m["parts"]), int(m["rows"])
    return num_partitions_for(indexed_rows), max(indexed_rows, 1)


def vector_dim(table, vector_column: str) -> int:
    """The length of a table's fixed-size vector column (the index and the date-sorted snapshots need it)."""
    field = table.schema.field(vector_column)
    if not pa.types.is_fixed_size_list(field.type):
        raise TypeError(f"{vector_column!r} must be a fixed_size_list<float32>, is {field.type}")
    return field.type.list_size


def _scalar_index_type(table, column: str) -> Literal["BTREE", "BITMAP"]:
    """BTREE for temporal/numeric columns and high-cardinality strings (range and point lookups), BITMAP for
    low-cardinality columns (equality / IN filters on ``kind``, ``model_id``), judged on a sample."""
    t = table.schema.field(column).type
    if pa.types.is_temporal(t) or pa.types.is_floating(t):
        return "BTREE"
    sample = table.search().select([column]).limit(BITMAP_SAMPLE_ROWS).to_arrow().column(column)
    distinct = len(pc.unique(sample))
    return "BITMAP" if distinct <= min(BITMAP_MAX_DISTINCT, max(len(sample) // 4, 1)) else "BTREE"


# ----------------------------------------------------------------------------------------------------------
# Policy
# ----------------------------------------------------------------------------------------------------------

def ensure_indexes(
    table,
    vector_column: str = "vector",
    filter_columns: Sequence[str] = DEFAULT_FILTER_COLUMNS,
    min_rows_for_ann: int = MIN_ROWS_FOR_ANN,
    *,
    unindexed_rows_to_fold: int = UNINDEXED_ROWS_TO_FOLD,
    rebuild_growth: float = REBUILD_GROWTH,
) -> IndexAction:
    """Bring the table's indexes up to date with its size; return what was done.

    * Scalar indexes on each existing ``filter_columns`` column (BITMAP for low cardinality, else BTREE)
      are created if missing, so prefiltered searches do not scan the column.
    * ``rows < min_rows_for_ann``: no ANN index; :func:`vector_search` is then exact.
    * No ANN index and ``rows >= min_rows_for_ann``: build IVF-PQ (cosine, partitions and sub-vectors from
      rows and dim). Returns ``"created"``.
    * ANN index trained on far fewer rows (``rows >= rebuild_growth * trained``) or with another metric:
      train a new one, then drop the old (searches keep using the old one meanwhile). ``"rebuilt"``.
    * Otherwise, if any index leaves ``>= unindexed_rows_to_fold`` rows uncovered: ``table.optimize()``
      (compaction + folding new rows into the existing vector and scalar indexes). ``"updated"``.
    * ``"scalar"`` when only scalar indexes were created, ``"none"`` when nothing was needed: the no-op path
      is four metadata calls (count_rows, list_indices, schema, index_stats; ~2 ms), no table version.

    Call it from the single writer after ingest batches; it is not safe against a concurrent call on the same
    table (two builds would race).
    """
    from lancedb.index import Bitmap, BTree

    rows = table.count_rows()
    indexes = list(table.list_indices())
    if rows == 0:
        return "none"
    action: IndexAction = "none"

    indexed_cols = {tuple(i.columns) for i in indexes}
    schema_names = set(table.schema.names)
    for col in filter_columns:
        if col == vector_column or col not in schema_names or (col,) in indexed_cols:
            continue
        kind = _scalar_index_type(table, col)
        table.create_index(col, config=BTree() if kind == "BTREE" else Bitmap(), replace=False)
        log.info("created %s index on %s", kind, col)
        action = "scalar"
    if action == "scalar":
        indexes = list(table.list_indices())

    ann = ann_index(table, vector_column, indexes)
    if ann is None:
        if rows >= min_rows_for_ann:
            _create_ann(table, vector_column, rows)
            return "created"
        return action

    stats = table.index_stats(ann.name)
    partitions, trained = ann_shape(ann, stats.num_indexed_rows if stats else rows)
    wrong_metric = stats is not None and stats.distance_type not in (None, DISTANCE_TYPE)
    if wrong_metric or rows >= rebuild_growth * trained:
        log.info("rebuilding %s (trained on %d rows, now %d, metric %s)", ann.name, trained, rows,
                 stats.distance_type if stats else "?")
        new_name = _create_ann(table, vector_column, rows)
        if new_name != ann.name:
            table.drop_index(ann.name)
        return "rebuilt"

    stale = max((i.num_unindexed_rows or 0) for i in indexes)
    if stale >= unindexed_rows_to_fold:
        log.info("optimize: %d rows not yet indexed", stale)
        table.optimize()
        return "updated"
    return action


def _create_ann(table, vector_column: str, rows: int) -> str:
    """Train and write the IVF-PQ index for the table's current rows; returns its name."""
    from lancedb.index import IvfPq

    dim = vector_dim(table, vector_column)
    partitions = num_partitions_for(rows)
    name = ann_index_name(vector_column, partitions, rows)
    config = IvfPq(distance_type=DISTANCE_TYPE, num_partitions=partitions,
                   num_sub_vectors=num_sub_vectors_for(dim))
    log.info("creating IVF-PQ %s (%d partitions, %d sub-vectors) on %d rows", name, partitions,
             config.num_sub_vectors, rows)
    table.create_index(vector_column, config=config, name=name, replace=True)
    return name


# ----------------------------------------------------------------------------------------------------------
# Search
# ----------------------------------------------------------------------------------------------------------

def vector_search(
    table,
    query: np.ndarray,
    k: int,
    where: Filter | str | None = None,
    vector_column: str = "vector",
    *,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Top-``k`` rows by cosine distance to ``query``, nearest first.

    With an ANN index: IVF-PQ probing :func:`nprobes_for` partitions, candidates re-ranked with the full
    vectors (``REFINE_FACTOR``), rows not yet in the index flat-scanned and merged (no ``fast_search``: new
    media must be findable before the next :func:`ensure_indexes`). Without: exact flat search.

    ``where`` is a catalog filter (``Ge("taken_at", datetime(2020, 1, 1))``, ``workbench.catalog.filters``;
    a Lance SQL string still passes); it is applied *before* the vector search (prefilter), so ``k`` matching
    rows come back whenever that many exist, instead of the top-k being filtered down to fewer.

    Returns the table's columns (``columns`` to choose; the vector itself is left out by default) plus
    ``_distance`` (cosine distance, 0..2) and ``score`` = 1 - ``_distance`` (cosine similarity).
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    q = np.asarray(query, dtype=np.float32)
    if q.ndim != 1 or not np.all(np.isfinite(q)) or not np.any(q):
        raise ValueError("query must be a finite, non-zero 1-d vector")
    where = render(where)   # None for no filter (ALL): an unfiltered search probes fewer partitions

    builder = table.search(q, vector_column_name=vector_column).distance_type(DISTANCE_TYPE).limit(k)
    ann = ann_index(table, vector_column)
    if ann is not None:
        indexed = ann.num_indexed_rows or 0
        partitions, _ = ann_shape(ann, indexed)
        nprobes = nprobes_for(partitions, indexed, filtered=where is not None)
        builder = builder.nprobes(nprobes).refine_factor(REFINE_FACTOR)
    if where is not None:
        builder = builder.where(where, prefilter=True)
    if columns is None:
        columns = [n for n in table.schema.names if n != vector_column]
    builder = builder.select(list(columns))

    result = builder.to_arrow()
    distance = result.column("_distance")
    score = pc.subtract(pa.scalar(1.0, distance.type), distance)
    return result.append_column("score", score)
