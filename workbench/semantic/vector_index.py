"""Vector-index policy for the embedding table: when to build the ANN index, how, and how to query it.

The embedding table (one row per media and model: ``media_id``, ``model_id``, ``vector``, ``taken_at``,
``kind``, ...) is searched by cosine distance. Two regimes, chosen by row count:

* **Small tables: no ANN index, exact search.** LanceDB's flat scan is exact and needs no training, and
  below :data:`MIN_ROWS_FOR_ANN` rows it answers within the latency budget on the 2-core reference machine.
* **Large tables: IVF-PQ with refine.** The IVF step (k-means partitions, ``sqrt(n)`` of them, at most 256)
  limits the scan to the ``nprobes`` partitions nearest the query; PQ codes make that scan cheap; ``refine_factor``
  re-ranks the best ``k * refine_factor`` candidates with the full-precision vectors so the returned
  distances and order are exact for the candidates found.
* **Past 1M rows** the rows scanned and the candidates re-ranked grow with the table, but slower than it
  (:data:`SCAN_GROWTH_EXPONENT`, :data:`REFINE_GROWTH_EXPONENT`; measured at 1M and 10M), and from 2M rows
  the writer keeps a **re-rank store** (:func:`write_rerank_store`): int8 codes and dates of every vector
  at its row address, so the ``k * refine`` candidates are re-ranked from one page-cached file instead of
  one random read of the full vector each (the 19 GiB table at 10M does not stay cached). Only the best
  ``k * RERANK_EXACT_FACTOR`` are read in full, so the results stay exact.
* **Wide filters are applied after the ANN search** (:data:`POSTFILTER_MIN_SHARE`): LanceDB's prefilter
  builds a row-id mask of every matching row per query, which at 10M costs more than the search itself.
  With a re-rank store, date ranges down to :data:`STORE_POSTFILTER_MIN_SHARE` are postfiltered from it
  (their dates are in the store), probing a few more partitions the narrower they are.
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
from dataclasses import dataclass
from pathlib import Path
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
"""IVF partitions = ``PARTITIONS_PER_SQRT_ROW * sqrt(rows)``, at most :data:`MAX_PARTITIONS` (256 from 65,536
rows). Measured at 1M before the cap, dim/16,
refine 40, probing about a quarter of the data: 500 partitions (nprobes 160) -> 0.955 at 18.7 ms, 1000 (240)
-> 0.977 at 15.6 ms, 2000 (480) -> 0.931 at 19.8 ms. sqrt(rows) was best of the three."""

MIN_PARTITIONS = 8
MAX_PARTITIONS = 256
"""Clamp for the partition count: a handful of partitions still train at the smallest indexed tables (tests);
at most 256, where ``sqrt(rows)`` stops at 65,536 rows. Above 256 partitions Lance trains the IVF centroids
with hierarchical k-means (binary splits of the largest cluster) instead of Lloyd's, and at 10M rows those
indexes ranked worse at the same rows scanned and the same refine (benchmarks/search_10m.py, 200 queries,
the library's probe rule, refine 200): 256 partitions (17 probes) recall@10 0.960, 1,024 (65 probes) 0.906,
3,162 = sqrt(10M) (199 probes) 0.881; 3,162 partitions needed 800 probes and refine 400 for 0.948, at
113 ms p50. At 1M rows (benchmarks/search.py, same run) 256 partitions gave 0.993 at 16.6 ms p50 against
1,000 partitions' 0.973 at 14.7 ms, and built in 75.5 s against 95.2 s; at 100k, 256 gave 0.989 at 15.2 ms
against 316's 0.983 at 13.2 ms (docs/benchmarks.md "The library's own index at ten million"). An index built
under the old cap keeps its partitions until the table grows :data:`REBUILD_GROWTH`-fold."""

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

SCAN_BASE_ROWS = 1_000_000
SCAN_GROWTH_EXPONENT = 0.5
"""Past ``SCAN_BASE_ROWS`` indexed rows the rows scanned grow as ``(rows / SCAN_BASE_ROWS) ** 0.5``, not in
proportion to the table: the scan cost follows the rows scanned, while the share of the data a query's
neighbours spread over shrinks as the table (and each mixture cluster) fills in. The measured points: 1M
rows need a quarter of them scanned (250k, :data:`NPROBES_FRACTION`); at 10M rows (benchmarks/search_10m.py,
256 partitions, refine 200, 200 queries) two builds of the same index gave recall@10 0.960 and 0.947 at 17
probes (628k rows, the exponent 0.4 this replaced), and the second 0.958 at 20 and 0.968 at 24 probes
(38.9 and 44.8 ms p50 at load 1.5-2.5), while probing 2-8x more bought no recall (0.975 at 32, 64 and 128 in
the first) at 1.5-3x the latency. 10 ** 0.5 = 3.2x the 1M scan: 791k rows, 21 of 256 partitions. Up to 1M
rows the rule is unchanged."""

MIN_NPROBES = 4
"""Never probe fewer partitions than this (tiny indexes with few partitions)."""

REFINE_FACTOR = 40
"""Re-rank ``k * REFINE_FACTOR`` PQ candidates with the stored full vectors (400 rows for k=10). Measured at
1M, dim/16, nprobes 240: refine 10 -> 0.904, 20 -> 0.952, 40 -> 0.977 for +2 ms (with dim/8 codes and
nprobes 80, no refine gave 0.55 against 0.86 with refine 10). Tuned for k=10; the re-read grows with k
(k=100 re-reads 4,000 vectors)."""

REFINE_GROWTH_EXPONENT = 0.7
"""Past ``SCAN_BASE_ROWS`` rows the refine factor grows as ``(rows / SCAN_BASE_ROWS) ** 0.7`` (200 at 10M).
PQ codes rank neighbours with a fixed error, so the more rows sit near a query the more PQ candidates must be
re-ranked to keep the true top-10: at 10M (256 partitions, 16 probes) refine 40 -> recall@10 0.886 at any
probe count, 100 -> 0.935, 150 -> 0.951, 200 -> 0.957-0.958 (benchmarks/search_10m.py). The exponent joins the
two measured points (40 at 1M, 200 at 10M); sizes between and beyond were not measured."""

POSTFILTER_MIN_SHARE = 0.3
"""A filter matching at least this share of the indexed rows is applied *after* the ANN search (postfilter)
instead of before it. LanceDB's prefilter turns the filter's scalar-index hits into a row-id mask on every
query, which costs in proportion to the rows matched: at 10M rows ``count_rows`` of a 10% date range takes
~50 ms and of a 50% range ~200 ms, and a prefiltered query of the 50% range took 200-260 ms at recall
0.95-0.97. A postfilter only checks the few thousand candidates, so it costs about a plain query; below ~30%
the candidates it must over-fetch (``k / share``) grow too many."""

STORE_POSTFILTER_MIN_SHARE = 0.1
"""With a re-rank store, a date range matching at least this share of the rows is postfiltered from the
store (``k * refine / share`` PQ candidates, their dates checked in the store, the in-window ones re-ranked
with its int8 codes; :func:`store_nprobes_for`, :func:`store_refine_for`) instead of LanceDB's prefilter:
the date is independent of the vector, so the scan is a plain query's with a few more probes. Measured at
10M rows (benchmarks/search_10m.py, 200 queries, load 9-16, so absolute times are 3-4x an idle
machine's): recall@10 0.967 at 10%, 0.965 at 12.5%, 0.974 at 20%, 0.972 at 50%, at 0.6-1.1x the plain
query's p50 in the same rounds (50% once 1.7x as the load climbed); LanceDB's prefilter took 2.2-4.3x
even the first, dearer store version (12.5%: 364-408 ms, 20%: 496-512 ms, 10%: 471-545 ms). 10% is the
narrowest window measured; the date-sorted snapshot is faster still there (53-59 ms, exact), so it keeps
windows up to ``filtered_exact.MAX_EXACT_ROWS``; below 10% probes and candidates keep growing and were not
measured."""

STORE_POSTFILTER_PROBE_EXPONENT = 0.1
"""A date range postfiltered from the re-rank store probes ``share ** -0.1`` times the unfiltered query's
partitions (10M rows, 256 partitions: 21 unfiltered, 23 at 50%, 25 at 20%, 26 at 12.5%). The window's own
nearest rows are farther from the query than the table's, so fewer of them sit in the nearest partitions;
more candidates do not buy it back. Measured at 10M (benchmarks/search_10m.py --route store, 200 queries,
refine 200, an earlier build): 10% window 17 probes -> recall@10 0.936, 20 -> 0.956, 24 -> 0.972 (refine
400: no change); 20% window 17 -> 0.959, 20 -> 0.973, 24 -> 0.988; 50% window 17 -> 0.969. On the
library's current 10M build each probe costs ~1 ms (12.5% window, refine 40, load ~1: 23 probes 41.9 ms
0.949, 26 46.0 ms 0.957, 29 49.0 ms 0.967; 20% window: 23 0.949, 26 0.955); 0.15 gave 29 probes there and
50.6-51.6 ms p50, over the 50 ms goal, so the exponent is 0.1."""

POSTFILTER_OVERSAMPLE = 2.0
"""A postfiltered query asks LanceDB for ``k * POSTFILTER_OVERSAMPLE / share`` rows (40 for k=10 at 50%)
with the refine factor divided by the same oversample, so as many matching candidates are re-ranked as an
unfiltered query re-ranks (the recall of the plain query) and at least ``k`` matching rows survive with high
probability (binomial: fewer than 10 of 40 at 50% is ~1e-3); when fewer survive, the query is re-run
prefiltered, so ``k`` rows still come back whenever ``k`` exist."""

MIN_ROWS_FOR_RERANK_STORE = 2_000_000
"""From this many rows the writer keeps a *re-rank store* (:func:`write_rerank_store`): int8 codes of every
vector (512 bytes per 512-d row, 5 GiB at 10M) and its ``taken_at``, addressed by Lance row address, that
searches read instead of the full vectors. LanceDB's refine re-reads ``k * refine`` float32 vectors from
the table, one random read each (2,000 at 10M rows): 38 us per row cold here, so 75-100 ms per query once
the table outgrows the page cache (19 GiB at 10M: plain p50 126 ms cold against 37-57 ms with the same
queries' rows cached). The store is one sequential file the page cache holds (read ahead when opened), and
its ``taken_at`` lets a wide date range be postfiltered without a take per candidate. Below 2M rows the
table's vectors (4 GiB) stay cached and LanceDB's own refine is fast (+2 ms at 1M); not measured between."""

RERANK_EXACT_FACTOR = 4
"""The re-rank store's int8 scores pick ``k * RERANK_EXACT_FACTOR`` candidates (40 for k=10), which are then
read with their full vectors and scored exactly, so the returned order and distances are exact. int8 codes
with a per-dimension scale rank neighbours almost exactly (the date-sorted snapshot re-ranks 20 x k and
measures recall@10 1.000)."""

RERANK_REFRESH_SHARE = 0.01
"""The writer rewrites the re-rank store once this share of the rows sits in fragments it does not cover
(new, updated or compacted rows). A query reads such candidates' full vectors itself, up to
``k * RERANK_EXACT_FACTOR`` of them (beyond, it falls back to LanceDB's refine): 1% of the rows is ~20 of
the 2,000 candidates at 10M. A rewrite is one pass over the table (not measured yet at 10M: see
docs/benchmarks.md)."""

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
    """Partitions to probe for one query: up to ``SCAN_BASE_ROWS`` rows a measured share of the index's
    partitions (more when prefiltered) and at least enough to scan ``SCAN_ROWS_BUDGET`` rows, which smaller
    indexes afford easily; past it the rows scanned grow as ``rows ** SCAN_GROWTH_EXPONENT``, not with the
    table (see the constants for the measurements)."""
    rows = max(indexed_rows, 1)
    frac = FILTERED_NPROBES_FRACTION if filtered else NPROBES_FRACTION
    base = min(rows, SCAN_BASE_ROWS)
    scan_rows = max(frac * base, SCAN_ROWS_BUDGET) * max(1.0, rows / SCAN_BASE_ROWS) ** SCAN_GROWTH_EXPONENT
    share = min(1.0, scan_rows / rows)
    return max(MIN_NPROBES, min(partitions, int(math.ceil(share * partitions - 1e-9))))


def store_nprobes_for(partitions: int, indexed_rows: int, share: float) -> int:
    """Partitions to probe for a date range postfiltered from the re-rank store: the unfiltered count times
    ``share ** -STORE_POSTFILTER_PROBE_EXPONENT`` (a narrower window's nearest rows lie farther from the
    query, so in more partitions)."""
    plain = nprobes_for(partitions, indexed_rows, filtered=False)
    if share >= 1.0:
        return plain
    grown = int(round(plain * max(share, 1e-9) ** -STORE_POSTFILTER_PROBE_EXPONENT))
    return max(plain, min(partitions, grown))


def store_refine_for(indexed_rows: int, share: float) -> int:
    """Refine factor of a query through the re-rank store whose date range holds ``share`` of the rows: the
    :func:`refine_factor_for` of a table of the window's size (40 at 10% of 10M, 47 at 12.5%, 65 at 20%, 123
    at 50%; ``k x that / share`` PQ candidates: 4,000, 3,760, 3,250, 2,460). Refine covers the PQ ranking
    error, which grows with the rows near the query, and only the window's rows compete. Measured at 10M
    (benchmarks/search_10m.py --routes store, 200 queries, the probe rule): refine 50 -> recall@10 0.969 at
    10%, 0.967 at 12.5%, 0.970 at 20%, 0.933 at 50%; refine 200 -> 0.972, 0.971, 0.985, 0.969; the 12.5%
    window's p50 112 ms at refine 50 against 153 ms at 100 and 151-165 ms at 200 (load 9-12): the
    candidate list is most of a filtered query's extra cost over a plain one."""
    return refine_factor_for(int(indexed_rows * min(max(share, 0.0), 1.0)))


def refine_factor_for(indexed_rows: int) -> int:
    """PQ candidates re-ranked per result: ``REFINE_FACTOR`` up to ``SCAN_BASE_ROWS`` rows, then growing as
    ``rows ** REFINE_GROWTH_EXPONENT`` (the PQ ranking error is fixed, the crowd near each query grows)."""
    growth = max(1.0, max(indexed_rows, 1) / SCAN_BASE_ROWS) ** REFINE_GROWTH_EXPONENT
    return int(round(REFINE_FACTOR * growth))


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

# ----------------------------------------------------------------------------------------------------------
# Re-rank store
# ----------------------------------------------------------------------------------------------------------

RERANK_FORMAT = 1
_NO_DATE = np.iinfo(np.int64).min


@dataclass
class RerankStore:
    """int8 codes and capture dates of a table's vectors at the row addresses of one table version."""
    path: Path
    table_version: int
    starts: dict[int, tuple[int, int]]   # fragment id -> (first position, physical rows)
    codes: np.ndarray                    # (positions, dim) int8 = round(unit vector / scale)
    scale: np.ndarray                    # (dim,) float32
    taken_us: np.ndarray                 # (positions,) int64, _NO_DATE where unknown or deleted

    _date_sample: np.ndarray | None = None

    def date_share(self, dates: tuple[int, int]) -> float:
        """Share of the stored rows inside the inclusive date range, from a sorted sample of ~40k dates (no
        count query: ``count_rows`` of a 50% range takes ~200 ms at 10M rows)."""
        if self._date_sample is None:
            step = max(1, len(self.taken_us) // 40_000)
            sample = np.asarray(self.taken_us[::step])
            self._date_sample = np.sort(sample[sample != _NO_DATE])
        s = self._date_sample
        if len(s) == 0:
            return 0.0
        return float(np.searchsorted(s, dates[1], "right") - np.searchsorted(s, dates[0], "left")) / len(s)

    def lookup(self, row_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, known): where each Lance row address sits in the store; ``known`` False for rows of
        fragments written after it (appended, updated or compacted rows)."""
        frag = (row_ids >> 32).astype(np.int64)
        off = (row_ids & 0xFFFFFFFF).astype(np.int64)
        pos = np.zeros(len(row_ids), np.int64)
        known = np.zeros(len(row_ids), bool)
        for f in np.unique(frag):
            hit = self.starts.get(int(f))
            if hit is None:
                continue
            m = (frag == f) & (off < hit[1])
            pos[m] = hit[0] + off[m]
            known |= m
        return pos, known


_TMP_RE = re.compile(r"^\.tmp-v\d+(?:_(?P<host>[^_]+)_(?P<pid>\d+)(?:_\d+)?|-(?P<old_pid>\d+)(?:-\d+)?)$")


def writer_tmp_folder(base: Path, version: int, *, per_thread: bool = False) -> Path:
    """The private folder a writer fills before :func:`publish_version_folder` renames it into place. Its name
    records this host and process (and thread), so a later writer can tell a dead writer's leftovers from a
    live writer's work (:func:`remove_dead_writer_folders`)."""
    import os
    import threading

    name = f".tmp-v{version}_{socket_host()}_{os.getpid()}"
    return base / (name + f"_{threading.get_ident()}" if per_thread else name)


def socket_host() -> str:
    """This host's name as writer folders record it (no ``_``, the separator of their names)."""
    import socket

    return socket.gethostname().replace("_", "-") or "host"


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # another user's live process
        return True
    return True


def remove_dead_writer_folders(base: Path) -> list[Path]:
    """Remove the unfinished ``.tmp-*`` folders under ``base`` whose writer process is gone (killed, out of
    memory, power loss): nothing else ever removes them, and at 10M rows one is up to 5 GB. A folder of a
    live process, of another host (a library folder shared over the network), or of a name we do not know is
    left alone. Returns the removed folders."""
    import shutil

    host = socket_host()
    removed = []
    try:
        entries = list(base.iterdir())
    except FileNotFoundError:
        return removed
    for p in entries:
        m = _TMP_RE.match(p.name)
        if m is None or not p.is_dir():
            continue
        if m["pid"] is not None and m["host"] != host:
            continue
        if not _pid_alive(int(m["pid"] or m["old_pid"])):
            shutil.rmtree(p, ignore_errors=True)
            log.info("removed %s, left by a writer that died", p)
            removed.append(p)
    return removed


def publish_version_folder(tmp: Path, final: Path) -> Path:
    """Make the finished folder ``tmp`` the version folder ``final`` (``v<table version>/`` with a ``meta.json``;
    a rename, so a reader never sees half of it) and remove the other versions beside it. The re-rank stores and
    the date-sorted snapshots (``filtered_exact``) are kept this way."""
    import os
    import shutil

    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in final.parent.iterdir():
        if old != final and old.name.startswith("v"):
            shutil.rmtree(old, ignore_errors=True)
    return final


def newest_version_folder(base: Path) -> Path | None:
    """The newest complete version folder under ``base`` (one with its ``meta.json``), or None."""
    try:
        versions = [p for p in base.iterdir() if p.name.startswith("v") and (p / "meta.json").exists()]
    except FileNotFoundError:
        return None
    return max(versions, key=lambda p: int(p.name[1:])) if versions else None


def _rerank_dir(root: Path, table_name: str) -> Path:
    return Path(root) / table_name / "rerank"


def write_rerank_store(table, root: Path, vector_column: str = "vector", *,
                       batch_rows: int = 65_536) -> Path:
    """Write the re-rank store of ``table`` under ``root/<table>/rerank/v<version>`` (one pass over the
    table, fragment by fragment; memory stays near one batch) and remove older ones; returns its folder.
    Call it from the table's single writer (after :func:`ensure_indexes`)."""
    import json
    import shutil

    ds = table.to_lance()
    version = int(ds.version)
    dim = vector_dim(table, vector_column)
    frags = ds.get_fragments()
    starts: dict[int, tuple[int, int]] = {}
    total = 0
    for f in frags:
        n = int(f.metadata.physical_rows)
        starts[f.fragment_id] = (total, n)
        total += n
    base = _rerank_dir(root, table.name)
    remove_dead_writer_folders(base)
    tmp = writer_tmp_folder(base, version)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    codes = np.lib.format.open_memmap(tmp / "codes.npy", "w+", np.int8, (total, dim))
    taken = np.lib.format.open_memmap(tmp / "taken_us.npy", "w+", np.int64, (total,))
    taken[:] = _NO_DATE
    has_date = "taken_at" in table.schema.names
    cols = [vector_column] + (["taken_at"] if has_date else [])
    scale = None
    for f in frags:
        first = starts[f.fragment_id][0]
        for batch in f.to_batches(columns=cols, with_row_id=True, batch_size=batch_rows):
            rid = batch.column("_rowid").to_numpy().astype(np.int64)
            x = _unit_rows(batch.column(vector_column), dim)
            if scale is None:   # per-dimension step from the first batch; outliers are clipped
                scale = (np.maximum(np.abs(x).max(axis=0), 1e-6) * 1.25 / 127.0).astype(np.float32)
            pos = first + (rid & 0xFFFFFFFF)
            codes[pos] = np.clip(np.rint(x / scale), -127, 127).astype(np.int8)
            if has_date:
                t = batch.column("taken_at").cast(pa.int64())
                taken[pos] = t.fill_null(_NO_DATE).to_numpy()
    codes.flush()
    taken.flush()
    del codes, taken
    np.save(tmp / "scale.npy", np.ones(dim, np.float32) if scale is None else scale)
    meta = {"format": RERANK_FORMAT, "table_version": version, "dim": dim,
            "starts": {str(k): list(v) for k, v in starts.items()}}
    (tmp / "meta.json").write_text(json.dumps(meta))
    final = base / f"v{version}"
    publish_version_folder(tmp, final)
    log.info("wrote re-rank store %s (%d rows)", final, total)
    return final


def _unit_rows(col, dim: int) -> np.ndarray:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    x = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


_stores: dict[Path, RerankStore] = {}


def load_rerank_store(root: Path, table_name: str) -> RerankStore | None:
    """The newest re-rank store of the table, memory-mapped and read ahead into the page cache (cached per
    process), or None."""
    import json
    import mmap

    base = _rerank_dir(root, table_name)
    path = newest_version_folder(base)
    if path is None:
        return None
    store = _stores.get(path)
    if store is not None:
        return store
    try:
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") != RERANK_FORMAT:
            return None
        codes = np.load(path / "codes.npy", mmap_mode="r")
        store = RerankStore(path=path, table_version=int(meta["table_version"]),
                            starts={int(k): (int(v[0]), int(v[1])) for k, v in meta["starts"].items()},
                            codes=codes, scale=np.load(path / "scale.npy"),
                            taken_us=np.load(path / "taken_us.npy", mmap_mode="r"))
    except (OSError, ValueError, KeyError) as e:
        log.info("re-rank store %s unusable: %s", path, e)
        return None
    mm = getattr(codes, "_mmap", None)
    if mm is not None and hasattr(mm, "madvise"):
        mm.madvise(mmap.MADV_WILLNEED)     # asynchronous read-ahead: the first queries need not wait for it
    for old in [p for p in _stores if p.parent == path.parent]:
        del _stores[old]
    _stores[path] = store
    return store


def refresh_rerank_store(table, root: Path, vector_column: str = "vector", *,
                         min_rows: int | None = None) -> bool:
    """Writer side: (re)write the re-rank store when the table has ``min_rows`` rows or more (default
    :data:`MIN_ROWS_FOR_RERANK_STORE`) and there is none, or :data:`RERANK_REFRESH_SHARE` of its rows are in
    fragments the current store does not cover. Returns whether it wrote."""
    rows = table.count_rows()
    if rows < (MIN_ROWS_FOR_RERANK_STORE if min_rows is None else min_rows):
        return False
    store = load_rerank_store(root, table.name)
    if store is not None:
        new = sum(f.count_rows() for f in table.to_lance().get_fragments() if f.fragment_id not in store.starts)
        if new < RERANK_REFRESH_SHARE * rows:
            return False
    write_rerank_store(table, root, vector_column)
    return True


def _date_range(where: Filter | str | None) -> tuple[int, int] | None:
    """(lo, hi) inclusive microseconds when ``where`` is only a ``taken_at`` range (what the re-rank store
    can check itself), else None."""
    from datetime import datetime

    from workbench.catalog.filters import And, Ge, Gt, Le, Lt, Or, Range

    if not isinstance(where, Filter):
        return None
    parts = list(where.filters) if type(where) is And else [where]
    if not parts or isinstance(where, Or):
        return None
    lo, hi = _NO_DATE + 1, np.iinfo(np.int64).max

    def us(v) -> int | None:
        return int(np.datetime64(v, "us").astype(np.int64)) if isinstance(v, datetime) else None

    for f in parts:
        if isinstance(f, Range) and f.column == "taken_at":
            a = us(f.lo) if f.lo is not None else lo
            b = us(f.hi) if f.hi is not None else hi
            if a is None or b is None:
                return None
            lo, hi = max(lo, a), min(hi, b if f.hi_inclusive or f.hi is None else b - 1)
        elif isinstance(f, (Ge, Gt, Le, Lt)) and f.column == "taken_at" and us(f.value) is not None:
            v = us(f.value)
            if isinstance(f, Ge):
                lo = max(lo, v)
            elif isinstance(f, Gt):
                lo = max(lo, v + 1)
            elif isinstance(f, Le):
                hi = min(hi, v)
            else:
                hi = min(hi, v - 1)
        else:
            return None
    return lo, hi


def _search_with_store(table, store: RerankStore, q: np.ndarray, k: int, where_sql: str | None,
                       dates: tuple[int, int] | None, share: float, probes: int, refine: int,
                       vector_column: str, columns: Sequence[str]) -> pa.Table | None:
    """PQ candidates from LanceDB (row addresses only, no refine), scored with the store's int8 codes,
    postfiltered by date from the store, the best ``k * RERANK_EXACT_FACTOR`` read with their vectors and
    scored exactly. None when the store cannot answer (too many candidates it does not hold)."""
    n_cand = int(math.ceil(k * refine / max(share, 1e-9)))
    cand = (table.search(q, vector_column_name=vector_column).distance_type(DISTANCE_TYPE).nprobes(probes)
            .limit(n_cand).with_row_id(True).select(["_distance"]).to_arrow())
    rid = cand.column("_rowid").to_numpy().astype(np.int64)
    pos, known = store.lookup(rid)
    keep = known.copy()
    if dates is not None:
        t = np.asarray(store.taken_us[pos[known]])
        keep[known] = (t >= dates[0]) & (t <= dates[1])
    unknown = rid[~known]
    n_exact = k * RERANK_EXACT_FACTOR
    if len(unknown) > n_exact:
        return None
    kp = pos[keep]
    if len(kp):
        order = np.argsort(kp)                 # ascending positions: sequential-ish reads
        approx = np.empty(len(kp), np.float32)
        approx[order] = np.asarray(store.codes[kp[order]], dtype=np.float32) @ (q * store.scale)
        best = np.argsort(-approx, kind="stable")[:n_exact]
        chosen = np.concatenate([rid[keep][best], unknown])
    else:
        chosen = unknown
    if len(chosen) == 0:
        return None
    cols = list(dict.fromkeys([*columns, vector_column] + (["taken_at"] if dates is not None else [])))
    rows = table.to_lance()._take_rows(np.sort(chosen).tolist(), columns=cols)
    if dates is not None:
        t = rows.column("taken_at").cast(pa.int64()).fill_null(_NO_DATE).to_numpy()
        rows = rows.filter(pa.array((t >= dates[0]) & (t <= dates[1])))
    x = _unit_rows(rows.column(vector_column), len(q))
    sims = x @ (q / np.linalg.norm(q))
    top = np.argsort(-sims, kind="stable")[:k]
    out = rows.take(pa.array(top)).select(list(columns))
    dist = pa.array((1.0 - sims[top]).astype(np.float32))
    return out.append_column("_distance", dist)


_share_cache: dict[tuple, float] = {}
_SHARE_CACHE_MAX = 256


def where_share(table, where: str) -> float:
    """Share of the table's rows matching ``where`` (0..1), counted with its scalar indexes and cached per
    table version and filter: a count costs ~5 ms for a 1% date range at 10M rows but ~50-200 ms for 10-50%,
    so a repeated filter (paging, a dashboard's window) pays it once per table version."""
    key = (getattr(table, "uri", None) or table.name, int(table.version), where)
    share = _share_cache.get(key)
    if share is None:
        total = table.count_rows()
        share = table.count_rows(where) / total if total else 0.0
        if len(_share_cache) >= _SHARE_CACHE_MAX:
            _share_cache.clear()
        _share_cache[key] = share
    return share


def vector_search(
    table,
    query: np.ndarray,
    k: int,
    where: Filter | str | None = None,
    vector_column: str = "vector",
    *,
    columns: Sequence[str] | None = None,
    nprobes: int | None = None,
    refine_factor: int | None = None,
    postfilter: bool | None = None,
    rerank_root: Path | None = None,
) -> pa.Table:
    """Top-``k`` rows by cosine distance to ``query``, nearest first.

    With an ANN index: IVF-PQ probing :func:`nprobes_for` partitions, candidates re-ranked with the full
    vectors (:func:`refine_factor_for`), rows not yet in the index flat-scanned and merged (no
    ``fast_search``: new media must be findable before the next :func:`ensure_indexes`). Without: exact flat
    search.

    ``where`` is a catalog filter (``Ge("taken_at", datetime(2020, 1, 1))``, ``workbench.catalog.filters``;
    a Lance SQL string still passes). ``k`` matching rows come back whenever that many exist: a filter
    matching under :data:`POSTFILTER_MIN_SHARE` of the rows is applied before the vector search (prefilter);
    a wider one after it, on over-fetched candidates (postfilter, about the cost of an unfiltered query), with
    a prefiltered re-run in the rare case too few candidates match.

    ``rerank_root``: where the table's re-rank store lives (:func:`write_rerank_store`; the library's
    ``derived/search``). When it has one, unfiltered queries and date ranges of at least
    :data:`STORE_POSTFILTER_MIN_SHARE` of the rows (probes and refine following the window's size:
    :func:`store_nprobes_for`, :func:`store_refine_for`) re-rank the PQ candidates with its int8 codes
    (and check their dates there) instead of re-reading every candidate's full vector; the final
    ``k * RERANK_EXACT_FACTOR`` are still scored with the full vectors, so results stay exact for the candidates found.

    ``nprobes``, ``refine_factor`` and ``postfilter`` override the policy (benchmarks and tuning only;
    ``postfilter`` True also sends any date range to the re-rank store, False keeps it off the store).

    Returns the table's columns (``columns`` to choose; the vector itself is left out by default) plus
    ``_distance`` (cosine distance, 0..2) and ``score`` = 1 - ``_distance`` (cosine similarity).
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    q = np.asarray(query, dtype=np.float32)
    if q.ndim != 1 or not np.all(np.isfinite(q)) or not np.any(q):
        raise ValueError("query must be a finite, non-zero 1-d vector")
    dates = _date_range(where)
    where = render(where)   # None for no filter (ALL): an unfiltered search probes fewer partitions
    if columns is None:
        columns = [n for n in table.schema.names if n != vector_column]

    ann = ann_index(table, vector_column)
    if ann is not None and rerank_root is not None and (where is None or dates is not None):
        store = load_rerank_store(rerank_root, table.name)
        if store is not None and store.codes.shape[1] == len(q):
            share = 1.0 if where is None else store.date_share(dates)
            use = (share >= STORE_POSTFILTER_MIN_SHARE) if postfilter is None else postfilter
            if where is None or (use and share > 0):
                indexed = ann.num_indexed_rows or 0
                partitions, _ = ann_shape(ann, indexed)
                res = _search_with_store(
                    table, store, q, k, where, dates if where is not None else None, share,
                    nprobes if nprobes is not None else store_nprobes_for(partitions, indexed, share),
                    refine_factor if refine_factor is not None else store_refine_for(indexed, share),
                    vector_column, columns)
                if res is not None and res.num_rows >= k:
                    distance = res.column("_distance")
                    return res.append_column("score", pc.subtract(pa.scalar(1.0, distance.type), distance))
    limit, refine, probes, post = k, None, None, False
    if ann is not None:
        indexed = ann.num_indexed_rows or 0
        partitions, _ = ann_shape(ann, indexed)
        refine = refine_factor_for(indexed) if refine_factor is None else refine_factor
        if where is not None:
            share = where_share(table, where) if postfilter is None else (1.0 if postfilter else 0.0)
            post = share >= POSTFILTER_MIN_SHARE if postfilter is None else postfilter
            if post and share > 0:
                limit = int(math.ceil(k * POSTFILTER_OVERSAMPLE / share))
                refine = max(1, int(round(refine * k / (limit * share))))
        probes = nprobes if nprobes is not None else nprobes_for(
            partitions, indexed, filtered=where is not None and not post)

    def run(prefilter: bool, limit: int) -> pa.Table:
        builder = table.search(q, vector_column_name=vector_column).distance_type(DISTANCE_TYPE).limit(limit)
        if probes is not None:
            builder = builder.nprobes(probes).refine_factor(refine)
        if where is not None:
            builder = builder.where(where, prefilter=prefilter)
        # ``_distance`` named: LanceDB adds it today when it is left out, with a deprecation warning on every
        # query, and will stop adding it.
        return builder.select([*dict.fromkeys([*columns, "_distance"])]).to_arrow()

    result = run(not post, limit)
    if post:
        if result.num_rows < k and table.count_rows(where) > result.num_rows:
            log.info("postfilter kept %d of %d rows; re-running prefiltered", result.num_rows, limit)
            probes = nprobes if nprobes is not None else nprobes_for(partitions, indexed, filtered=True)
            refine = refine_factor_for(indexed) if refine_factor is None else refine_factor
            result = run(True, k)
        result = result.sort_by("_distance").slice(0, k)
    distance = result.column("_distance")
    score = pc.subtract(pa.scalar(1.0, distance.type), distance)
    return result.append_column("score", score)
