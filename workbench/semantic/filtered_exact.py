"""Exact date-filtered vector search over a date-sorted snapshot of an embedding table.

Why: LanceDB's IVF-PQ answers a *plain* query at 1M vectors in ~18 ms, but a date filter makes it check a
prefilter on every row of every probed partition and probe twice as many partitions (40 ms at the needed
recall; IVF_HNSW_SQ is no better, see docs/benchmarks.md "Search"). A date range, however, selects a
*contiguous* slice of rows once the vectors are sorted by capture date, so a selective date filter is
cheapest answered exactly: find the slice with a binary search on ``taken_at``, score it with int8 codes
(a quarter of the float32 bytes; the scan is memory-bound), re-score the best ``k * RERANK_FACTOR`` with
the float32 vectors, and return the exact cosine top-k.

The snapshot is a folder of ``.npy`` files under ``derived/search/<table>/`` written by the table's single
writer after ingest (:func:`refresh_snapshot`, called next to ``vector_index.ensure_indexes``). The writer
streams: it sorts only the small columns (date, kind, row address: ~50 bytes a row) in memory and reads the
vectors fragment by fragment in batches, scattering each batch's int8 codes to its date-sorted place in a
memory-mapped file, so its heap stays near one batch plus the sort keys at any table size. Views of at most
:data:`VECTOR_COPY_MAX_ROWS` rows also keep a float32 copy for the re-rank; larger ones keep only the codes and
each row's Lance row address, and re-rank by reading the candidates' vectors from the table. Readers
``np.load(..., mmap_mode="r")`` it, so every process (CLI, gallery, dashboards, notebooks) shares one copy
in the page cache. Rows added after the snapshot are found too: they are read from LanceDB once per table
version (``created_at`` newer than the snapshot's newest row) and searched exactly in memory. If rows the
snapshot holds were removed or replaced (their count no longer matches), or too many rows are new, the
snapshot is *stale* and :func:`filtered_search` returns None so the caller uses the LanceDB path.

The int8 scan is a numba kernel (numba ships with umap-learn, the ``apps`` extra); without numba the
slice is scored with exact float32 numpy instead: the same answers, ~25x slower per row.

Every tunable is a module constant with the measurement that chose it (``benchmarks/search.py``,
docs/benchmarks.md "Search").
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from workbench.catalog.filters import Eq, Filter, render, where as where_equal
from workbench.semantic import vector_index

if TYPE_CHECKING:
    from workbench.catalog.store import Catalog

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------------------
# Tunables (measured with benchmarks/search.py on the 2-core / 24 GiB reference machine; docs/benchmarks.md)
# ----------------------------------------------------------------------------------------------------------

MAX_EXACT_ROWS = 1_200_000
"""Use the snapshot only when the date range covers at most this many rows; wider ranges go to IVF-PQ.
Measured at 1M rows (same run, load ~3.4, p50 snapshot / prefiltered IVF-PQ, recall@10 1.000 / IVF-PQ's):
100k-row range 6.8 / 47.8 ms (0.959), 200k 12.0 / 44.0 (0.976), 300k 18.1 / 61.3 (0.982), 500k 22.0 /
64.4 (0.996), 800k 32.3 / 62.3 (0.994). At 10M rows (benchmarks/search_10m.py, load ~7) a 999k-row range
took 42 ms p50 at recall@10 1.000 against 87-150 ms for prefiltered IVF-PQ at recall 0.94-0.98. The int8
scan costs ~4 ms per 100k rows, so 1.2M rows is where it reaches the 50 ms goal of the 10M benchmark;
wider ranges go to ``vector_search``, which postfilters ranges of 30% of the table or more."""

RERANK_FACTOR = 20
"""Re-score the best ``k * RERANK_FACTOR`` int8 candidates with the float32 vectors (200 rows for k=10).
int8 codes with a per-dimension scale order neighbours almost exactly; the re-rank makes the returned
distances exact and repairs the rest (measured recall@10 1.000 at 100k and 1M, see docs/benchmarks.md)."""

MIN_ROWS_FOR_SNAPSHOT = vector_index.MIN_ROWS_FOR_ANN
"""No snapshot below this many rows: LanceDB's exact flat search already fits the latency budget there."""

SNAPSHOT_REFRESH_ROWS = vector_index.UNINDEXED_ROWS_TO_FOLD
"""The writer rewrites the snapshot once this many rows are newer than it; until then each reader keeps them
in memory and scans them exactly (1,000 x 512 float32 = 2 MB per query). Not tuned by measurement: the same
threshold as folding new rows into the ANN index; a rewrite costs ~27 s at 1M rows."""

MAX_DELTA_ROWS = 50_000
"""A reader serves at most this many rows newer than the snapshot (read from LanceDB once per table
version, ~100 MB of float32 at 512-d); beyond that the snapshot counts as stale until the writer refreshes it."""

WRITE_CHUNK_ROWS = 65_536
"""Rows read, normalised, quantised and written at a time by :func:`write_snapshot` (128 MiB of 512-d float32)."""

SCALE_SAMPLE_ROWS = 65_536
"""The int8 step per dimension is taken from this many rows spread over a larger view (one random read each:
~2 s at 10M) rather than from all of them, which would take a third pass over the vectors."""

WRITE_READAHEAD_BATCHES = 2
"""Batches Lance reads ahead while the writer quantises one (its default, 16, holds 2 GiB of 512-d vectors)."""

VECTOR_COPY_MAX_ROWS = 2_000_000
"""Views of more rows keep no float32 copy in the snapshot: only int8 codes (a quarter of the bytes) and each
row's Lance row address; the best ``k * TABLE_RERANK_FACTOR`` of a slice are re-scored with their vectors
read from the table by address. Why: at 10M x 512-d the copy is 19 GiB more than the table itself (more than
the reference machine's free disk) while the re-rank needs 40 rows of it per query. Below this the copy
(at most 4 GiB) keeps the re-rank in the page cache and the snapshot usable when the table is compacted.

Measured at 10M rows (benchmarks/search_10m.py ``--phase wholesnapshot`` and ``--phase scanab``,
docs/benchmarks.md "The library's whole-table snapshot at ten million"): the alternative without a second
copy of the codes, scanning the re-rank store's codes through a date-sorted permutation, scanned the 10%
window's 999k rows in 511 ms p50 against 33 ms for the snapshot's own contiguous codes (15x: each row is a
random 512-byte read; alternating rounds, load 6-7; 334 / 24 ms for 1.2M rows ad hoc at load 3), so the
snapshot keeps its own date-sorted codes (4.9 GiB at 10M, written in 127-368 s by load, writer peak RSS 3.3 GiB)."""

TABLE_RERANK_FACTOR = 4
"""Without the float32 copy, re-score the best ``k * TABLE_RERANK_FACTOR`` int8 candidates (40 for k=10)
with vectors read from the table. Measured at 10M (ad hoc, 200 queries, two alternating rounds, load 6-7):
factor 1 gives recall@10 0.977 (1% window) / 0.962 (10%), factor 2 and 4 both 1.000; 4 costs ~1.2 ms more
than 2 (1% window 7.8-8.0 against 6.6-6.8 ms p50) and is kept as margin for real embeddings, whose int8
order may be less faithful than the benchmark's mixture (the re-rank store uses the same factor)."""

SNAPSHOT_FORMAT = 3
"""Bumped when the files change; a snapshot of another format is ignored (and replaced by the writer)."""

READABLE_FORMATS = (2, 3)
"""Format 2 (always a float32 copy, no row addresses) is a subset of 3 and still read."""

_KIND_NONE = -1

SnapshotAction = Literal["none", "written"]


# ----------------------------------------------------------------------------------------------------------
# The snapshot
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """A date-sorted, read-only copy of one filtered view (``where``) of an embedding table."""
    path: Path
    table_version: int
    where: str
    rows: int
    counted_rows: int              # rows matching where with a date when written, with or without a vector
    created_max_us: int | None     # newest created_at in the snapshot (None: the table has no created_at)
    taken_us: np.ndarray           # (rows,) int64 microseconds, ascending
    vectors: np.ndarray | None     # (rows, dim) float32, unit length, same order; None past VECTOR_COPY_MAX_ROWS
    codes: np.ndarray              # (rows, dim) int8: round(unit vector / scale)
    scale: np.ndarray              # (dim,) float32 per-dimension quantisation step
    kinds: np.ndarray              # (rows,) int8 index into kind_names, -1 for no kind
    kind_names: list[str]
    media_ids: np.ndarray | None   # (rows,) bytes; None without the float32 copy (read with the vectors)
    t_s: np.ndarray | None         # (rows,) float64 frame times (frame tables, float32 copy only)
    row_ids: np.ndarray | None     # (rows,) int64 Lance row address of each row (None: format 2)
    fragments: dict[int, int]      # fragment id -> physical rows when written (row addresses valid while equal)


@dataclass
class _Delta:
    """Rows of the table newer than the snapshot, held in memory for one table version."""
    taken_us: np.ndarray
    vectors: np.ndarray
    kinds: np.ndarray              # object array of kind strings (or None)
    media_ids: np.ndarray
    t_s: np.ndarray | None


def _sql(where: Filter | str) -> str:
    """A view's filter as the Lance SQL it runs (and the snapshot's key is made of); "" for every row."""
    return render(where) or ""


def _key(where: str) -> str:
    return hashlib.sha1(where.encode()).hexdigest()[:12]


def snapshot_dir(root: Path, table_name: str, where: Filter | str) -> Path:
    """Folder holding the snapshots of ``table_name`` filtered by ``where`` (one ``v<version>`` per write)."""
    return Path(root) / table_name / _key(_sql(where))


def _sql_ts(us: int) -> str:
    ts = np.datetime64(int(us), "us").astype(str).replace("T", " ")
    return f"TIMESTAMP '{ts}'"


def _eligible(where: str) -> str:
    """The rows a snapshot of ``where`` covers, as counted: a capture date is needed. (Rows without a vector
    are dropped after reading: ``vector IS NOT NULL`` costs ~2.5 s per count at 1M rows, ``taken_at IS NOT
    NULL`` ~1 ms.)"""
    return f"({where}) AND taken_at IS NOT NULL" if where else "taken_at IS NOT NULL"


def _read_rows(table, cond: str, columns: list[str], vector_column: str):
    """(rows matching ``cond`` that have a vector, how many matched in all, newest ``created_at`` of all of
    them if selected) or (None, 0, None)."""
    n = table.count_rows(cond)
    if n == 0:
        return None, 0, None
    data = table.search().where(cond).select(columns).limit(n).to_arrow()
    counted = data.num_rows
    created_max = (int(data.column("created_at").cast("int64").to_numpy().max())
                   if "created_at" in columns else None)
    data = data.filter(data.column(vector_column).is_valid())
    return (data if data.num_rows else None), counted, created_max


def _unit_vectors(col, dim: int) -> np.ndarray:
    x = col.combine_chunks().flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    x = x.reshape(-1, dim)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def _kind_codes(col) -> tuple[np.ndarray, list[str]]:
    """(int8 index into the sorted kind names, -1 for none; the names) without a Python object per row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    names = sorted(v for v in pc.unique(col).to_pylist() if v is not None)
    if len(names) > 127:
        raise ValueError(f"{len(names)} distinct kinds: the snapshot's int8 kind index holds at most 127")
    idx = pc.index_in(col, value_set=pa.array(names, col.type))
    return idx.fill_null(_KIND_NONE).to_numpy(zero_copy_only=False).astype(np.int8), names


def _release_pages(*arrays) -> None:
    """Unmap the written pages of memory-mapped outputs from this process (MADV_DONTNEED on a shared file
    mapping: the data stays in the page cache and reaches the file; only this process's resident set
    shrinks, else the writer's RSS grows by the whole 5 GiB of codes at 10M)."""
    import mmap

    for arr in arrays:
        mm = getattr(arr, "_mmap", None)
        if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED)


def _code_scale(ds, sorted_rids: np.ndarray, vector_column: str, dim: int) -> np.ndarray:
    """Per-dimension int8 step: exact over all rows when they fit in :data:`SCALE_SAMPLE_ROWS`, else from that
    many rows evenly spread over the view (by row address, so over every fragment) with a 1.25 margin."""
    import pyarrow as pa

    n = len(sorted_rids)
    sample = sorted_rids if n <= SCALE_SAMPLE_ROWS else sorted_rids[
        np.linspace(0, n - 1, SCALE_SAMPLE_ROWS).astype(np.int64)]
    absmax = np.zeros(dim, np.float32)
    for start in range(0, len(sample), WRITE_CHUNK_ROWS):
        col = ds._take_rows(sample[start:start + WRITE_CHUNK_ROWS].tolist(), columns=[vector_column]).column(0)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if col.null_count:
            col = col.filter(col.is_valid())
        if len(col):
            np.maximum(absmax, np.abs(_unit_vectors(pa.chunked_array([col]), dim)).max(axis=0), out=absmax)
    margin = 1.0 if n <= SCALE_SAMPLE_ROWS else 1.25
    return (np.maximum(absmax, 1e-6) * margin / 127.0).astype(np.float32)


def write_snapshot(table, root: Path, where: Filter | str, *, vector_column: str = "vector",
                   store_vectors: bool | None = None, batch_rows: int = WRITE_CHUNK_ROWS) -> Path | None:
    """Write a fresh snapshot of ``table``'s rows matching ``where`` (with a vector and a capture date) and
    remove the older ones of the same view; returns its folder, or None if no row qualifies.

    Streamed, so it fits any table this machine holds: pass 1 reads the small columns (date, kind, row
    address, frame time) and sorts them in memory (~50 bytes a row: 0.5 GiB at 10M); pass 2 reads the vectors
    fragment by fragment, ``batch_rows`` at a time, and writes each batch's codes (and float32 rows when
    ``store_vectors``; default: views of at most :data:`VECTOR_COPY_MAX_ROWS` rows) to their date-sorted
    places in memory-mapped files. The int8 step per dimension is the largest value of all rows for views of
    at most :data:`SCALE_SAMPLE_ROWS` rows, else of that many rows spread over the view with a 1.25 margin
    (values beyond it are clipped; the exact re-rank repairs the order), as in the re-rank store.

    Readers that still map an older snapshot keep reading it (an unlinked file stays valid on POSIX). Call
    it from the table's single writer: the snapshot is labelled with the version whose rows it read."""
    import pyarrow as pa

    where = _sql(where)
    ds = table.to_lance()
    version = int(ds.version)
    dim = vector_index.vector_dim(table, vector_column)
    names = set(table.schema.names)
    cond = _eligible(where)
    if store_vectors is None:
        store_vectors = table.count_rows(cond) <= VECTOR_COPY_MAX_ROWS
    key_cols = (["taken_at"] + [c for c in ("kind", "t_s", "created_at") if c in names]
                + (["media_id"] if store_vectors else []))
    keys = ds.to_table(columns=key_cols, filter=cond, with_row_id=True)
    counted = keys.num_rows
    if counted == 0:
        return None
    created_max = (int(keys.column("created_at").cast(pa.int64()).to_numpy().max())
                   if "created_at" in names else None)
    taken = keys.column("taken_at").cast(pa.int64()).to_numpy()
    row_ids = keys.column("_rowid").to_numpy().astype(np.int64)
    order = np.argsort(taken, kind="stable")
    if "kind" in names:
        kinds, kind_names = _kind_codes(keys.column("kind"))
    else:
        kinds, kind_names = np.full(counted, _KIND_NONE, np.int8), []
    t_s = keys.column("t_s").to_numpy(zero_copy_only=False) if "t_s" in names else None
    ids = (np.array([v.encode() for v in keys.column("media_id").to_pylist()], dtype="S")
           if store_vectors else None)
    del keys
    # slot_of[i]: the sorted place of the i-th row by ascending row address
    by_rid = np.argsort(row_ids, kind="stable")
    sorted_rids = row_ids[by_rid]
    place = np.empty(counted, np.int64)
    place[order] = np.arange(counted)
    slot_of = place[by_rid]
    del place, by_rid

    base = snapshot_dir(root, table.name, where)
    final = base / f"v{version}"
    vector_index.remove_dead_writer_folders(base)
    tmp = vector_index.writer_tmp_folder(base, version, per_thread=True)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    codes = np.lib.format.open_memmap(tmp / "codes.npy", "w+", np.int8, (counted, dim))
    vectors = (np.lib.format.open_memmap(tmp / "vectors.npy", "w+", np.float32, (counted, dim))
               if store_vectors else None)
    filled = np.zeros(counted, bool)            # sorted places that got a vector
    scale = _code_scale(ds, sorted_rids, vector_column, dim)
    fragments: dict[int, int] = {}
    for frag in ds.get_fragments():
        fragments[int(frag.fragment_id)] = int(frag.metadata.physical_rows)
        for batch in frag.to_batches(columns=[vector_column], filter=cond, with_row_id=True,
                                     batch_size=batch_rows, batch_readahead=WRITE_READAHEAD_BATCHES):
            col = batch.column(vector_column)
            rid = batch.column("_rowid").to_numpy().astype(np.int64)
            if col.null_count:
                valid = col.is_valid()
                col, rid = col.filter(valid), rid[valid.to_numpy(zero_copy_only=False)]
            if len(rid) == 0:
                continue
            x = _unit_vectors(pa.chunked_array([col]), dim)       # the batch's one float32 copy
            j = np.searchsorted(sorted_rids, rid)
            ok = (j < counted) & (sorted_rids[np.minimum(j, counted - 1)] == rid)   # rows pass 1 counted
            if not ok.all():
                x = x[ok]
            slots = slot_of[j[ok]]
            if vectors is not None:
                vectors[slots] = x
            np.multiply(x, 1.0 / scale, out=x)                     # quantised in place
            np.clip(np.rint(x, out=x), -127, 127, out=x)
            codes[slots] = x.astype(np.int8)
            filled[slots] = True
            _release_pages(codes, vectors)      # a batch's rows land all over the file: unmap them each time
    rows = int(filled.sum())
    if rows == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    if rows < counted:                          # rows without a vector: close the gaps, in place, forward
        dst = 0
        for start in range(0, counted, batch_rows):
            m = filled[start:start + batch_rows]
            n = int(m.sum())
            codes[dst:dst + n] = codes[start:start + batch_rows][m]
            if vectors is not None:
                vectors[dst:dst + n] = vectors[start:start + batch_rows][m]
            dst += n
            _release_pages(codes, vectors)
    for arr in (codes, vectors):
        if arr is not None:
            arr.flush()
    del codes, vectors
    sel = order[filled]                         # scan-order indices of the kept rows, in date order
    np.save(tmp / "taken_at.npy", taken[sel])
    np.save(tmp / "kinds.npy", kinds[sel])
    np.save(tmp / "row_ids.npy", row_ids[sel])
    np.save(tmp / "scale.npy", scale)
    if store_vectors:
        np.save(tmp / "media_ids.npy", ids[sel])
        if t_s is not None:
            np.save(tmp / "t_s.npy", t_s[sel])
    meta = {"format": SNAPSHOT_FORMAT, "table": table.name, "table_version": version, "where": where,
            "rows": rows, "counted_rows": counted, "dim": dim, "created_max_us": created_max,
            "kind_names": kind_names, "vectors": bool(store_vectors),
            "fragments": {str(k): v for k, v in fragments.items()}}
    (tmp / "meta.json").write_text(json.dumps(meta))
    vector_index.publish_version_folder(tmp, final)
    log.info("wrote search snapshot %s (%d rows, %s)", final, rows,
             "float32 + int8" if store_vectors else "int8 + row addresses")
    return final


_cache_lock = threading.Lock()
_snapshots: dict[Path, Snapshot] = {}
_deltas: dict[tuple[Path, int], _Delta | None] = {}


def load_snapshot(root: Path, table_name: str, where: Filter | str) -> Snapshot | None:
    """The newest snapshot of this view, memory-mapped (cached per process), or None if there is none."""
    where = _sql(where)
    base = snapshot_dir(root, table_name, where)
    path = vector_index.newest_version_folder(base)
    if path is None:
        return None
    with _cache_lock:
        snap = _snapshots.get(path)
    if snap is not None:
        return snap
    try:
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") not in READABLE_FORMATS or meta.get("where") != where:
            return None

        rows = int(meta["rows"])

        def load(name: str) -> np.ndarray | None:     # the big files have room for rows without a vector
            return np.load(path / name, mmap_mode="r")[:rows] if (path / name).exists() else None

        snap = Snapshot(path=path, table_version=int(meta["table_version"]), where=where, rows=rows,
                        counted_rows=int(meta["counted_rows"]),
                        created_max_us=meta["created_max_us"], taken_us=np.asarray(load("taken_at.npy")),
                        vectors=load("vectors.npy") if meta.get("vectors", True) else None, codes=load("codes.npy"),
                        scale=np.load(path / "scale.npy"), kinds=np.asarray(load("kinds.npy")),
                        kind_names=list(meta["kind_names"]), media_ids=load("media_ids.npy"), t_s=load("t_s.npy"),
                        row_ids=load("row_ids.npy"),
                        fragments={int(k): int(v) for k, v in meta.get("fragments", {}).items()})
    except (OSError, ValueError, KeyError) as e:     # removed by a concurrent refresh, or damaged
        log.info("search snapshot %s unusable: %s", path, e)
        return None
    with _cache_lock:
        for old in [p for p in _snapshots if p.parent == path.parent and p != path]:
            del _snapshots[old]
        _snapshots[path] = snap
    return snap


def _delta(table, snap: Snapshot, version: int, vector_column: str) -> _Delta | None | Literal[False]:
    """Rows newer than the snapshot at this table version (None: none), or False if the snapshot is stale
    (rows it holds were removed or replaced, too many new rows, or no ``created_at`` to tell them apart)."""
    key = (snap.path, version)
    with _cache_lock:
        if key in _deltas:
            cached = _deltas[key]
            return False if cached is _STALE else cached
    result: _Delta | None | object
    if version == snap.table_version:
        result = None
    elif snap.created_max_us is None:
        result = _STALE
    elif snap.vectors is None and not _addresses_hold(table, snap):
        result = _STALE
    else:
        eligible = _eligible(snap.where)
        old = f"{eligible} AND created_at <= {_sql_ts(snap.created_max_us)}"
        new = f"{eligible} AND created_at > {_sql_ts(snap.created_max_us)}"
        if table.count_rows(old) != snap.counted_rows or table.count_rows(new) > MAX_DELTA_ROWS:
            result = _STALE
        else:
            result = _read_delta(table, new, vector_column)
    with _cache_lock:
        _deltas[key] = result  # type: ignore[assignment]
        for old in [k for k in _deltas if k[0] == snap.path and k[1] < version - 8]:
            del _deltas[old]
    return False if result is _STALE else result  # type: ignore[return-value]


_STALE = object()


def _addresses_hold(table, snap: Snapshot) -> bool:
    """Whether the snapshot's row addresses still point at its rows: every fragment it read is still in the
    table with the same physical rows (a compaction or an update rewrites rows into new fragments; deletions
    are caught by the row count)."""
    now = {int(f.fragment_id): int(f.metadata.physical_rows) for f in table.to_lance().get_fragments()}
    return all(now.get(f) == n for f, n in snap.fragments.items())


def _read_delta(table, cond: str, vector_column: str) -> _Delta | None:
    """The rows matching ``cond`` that have a vector, normalised in memory, or None if there are none."""
    names = set(table.schema.names)
    cols = [vector_column, "taken_at", "media_id"] + [c for c in ("kind", "t_s") if c in names]
    data, _, _ = _read_rows(table, cond, cols, vector_column)
    if data is None:
        return None
    kinds = data.column("kind").to_pylist() if "kind" in names else [None] * data.num_rows
    return _Delta(taken_us=data.column("taken_at").cast("int64").to_numpy(),
                  vectors=_unit_vectors(data.column(vector_column), vector_index.vector_dim(table, vector_column)),
                  kinds=np.array(kinds, dtype=object),
                  media_ids=np.array([s.encode() for s in data.column("media_id").to_pylist()], dtype="S"),
                  t_s=data.column("t_s").to_numpy(zero_copy_only=False) if "t_s" in names else None)


def snapshot_state(table, root: Path, where: Filter | str, *,
                   vector_column: str = "vector") -> tuple[Snapshot | None, int]:
    """(usable snapshot or None, rows newer than it) for the table's current version."""
    where = _sql(where)
    snap = load_snapshot(root, table.name, where)
    if snap is None:
        return None, 0
    d = _delta(table, snap, int(table.version), vector_column)
    if d is False:
        return None, 0
    return snap, 0 if d is None else len(d.taken_us)


def refresh_snapshot(table, root: Path, where: Filter | str, *, vector_column: str = "vector",
                     min_rows: int | None = None, refresh_rows: int | None = None) -> SnapshotAction:
    """Writer side, after ingest: (re)write the snapshot if the view has ``min_rows`` rows or more and the
    current one is missing, stale, or ``refresh_rows`` or more rows behind. Idempotent."""
    where = _sql(where)
    min_rows = MIN_ROWS_FOR_SNAPSHOT if min_rows is None else min_rows
    refresh_rows = SNAPSHOT_REFRESH_ROWS if refresh_rows is None else refresh_rows
    if table.count_rows() < min_rows or table.count_rows(_eligible(where)) < min_rows:
        return "none"
    snap, behind = snapshot_state(table, root, where, vector_column=vector_column)
    if snap is not None and behind < refresh_rows:
        return "none"
    return "written" if write_snapshot(table, root, where, vector_column=vector_column) else "none"


# ----------------------------------------------------------------------------------------------------------
# A library's snapshots: which tables, which rows, where (the embedding stage refreshes them after a run)
# ----------------------------------------------------------------------------------------------------------

@dataclass
class SearchTables:
    """The vector tables of one CLIP model that search ranks."""
    media_table: str      # embeddings_<dim>
    frames_table: str     # frame_embeddings_<dim>
    model_id: str


def model_filters(tables: SearchTables) -> tuple[Filter, Filter]:
    """The rows of the current model in the media and the frame vector tables (what search ranks)."""
    return where_equal(version=tables.model_id, status="ok"), Eq("model_id", tables.model_id)


def snapshot_root(catalog: Catalog) -> Path:
    """Where the date-sorted search snapshots live: ``derived/search`` of the library (derived data, rebuilt
    by ``workbench process``)."""
    return catalog.folder.parent / "derived" / "search"


def refresh_snapshots(catalog: Catalog, tables: SearchTables) -> None:
    """Writer side, after embedding: keep the date-sorted snapshots of both vector tables fresh, and their
    re-rank stores (``vector_index.refresh_rerank_store``: tables of 2M rows or more only)."""
    for name, where in zip((tables.media_table, tables.frames_table), model_filters(tables)):
        if catalog.has(name):
            refresh_snapshot(catalog.table(name), snapshot_root(catalog), where)
            vector_index.refresh_rerank_store(catalog.table(name), snapshot_root(catalog))


# ----------------------------------------------------------------------------------------------------------
# Search
# ----------------------------------------------------------------------------------------------------------

def int8_kernel():
    """The numba int8 dot-product kernel (int32 accumulation), or None without numba.

    Single-threaded on purpose: on the shared 2-core machine a ``parallel=True`` kernel waits for its second
    thread to be scheduled (100k rows: 2.8 ms serial against 5.5 ms parallel at load 4.5; 10k rows: 0.15 ms
    against 5 ms), and a search server runs several queries at once anyway."""
    global _KERNEL
    if _KERNEL is None:
        try:
            from numba import njit
        except ImportError:
            _KERNEL = False
            return None

        @njit(fastmath=True, cache=True)
        def dots(codes, lo, hi, q, out):  # pragma: no cover - compiled
            d = codes.shape[1]
            for i in range(hi - lo):
                acc = np.int32(0)
                for j in range(d):
                    acc += np.int16(codes[lo + i, j]) * np.int16(q[j])
                out[i] = acc

        _KERNEL = dots
    return _KERNEL or None


_KERNEL = None


def _slice_candidates(snap: Snapshot, q: np.ndarray, lo: int, hi: int, keep: np.ndarray | None,
                      n: int) -> np.ndarray:
    """Row numbers (absolute) of the best ``n`` rows of ``[lo, hi)`` by the int8 approximation (all rows
    with ``keep`` True when fewer)."""
    kernel = int8_kernel()
    if kernel is not None:
        qs = q * snap.scale
        qstep = max(float(np.abs(qs).max()), 1e-12) / 127.0
        qi = np.clip(np.rint(qs / qstep), -127, 127).astype(np.int8)
        scores = np.empty(hi - lo, np.int32)
        kernel(snap.codes, lo, hi, qi, scores)
        floor = -np.iinfo(np.int32).max          # negatable without overflow
    elif snap.vectors is not None:          # numpy only: exact float32 scores (slower, same answer)
        scores = np.asarray(snap.vectors[lo:hi]) @ q
        floor = -np.inf
    else:                                   # numpy only, no float32 copy: the int8 codes in float32 chunks
        scores = np.empty(hi - lo, np.float32)
        qs = (q * snap.scale).astype(np.float32)
        for start in range(lo, hi, WRITE_CHUNK_ROWS):
            stop = min(hi, start + WRITE_CHUNK_ROWS)
            scores[start - lo:stop - lo] = np.asarray(snap.codes[start:stop], np.float32) @ qs
        floor = -np.inf
    if keep is not None:
        scores[~keep] = floor
        valid = int(keep.sum())
    else:
        valid = hi - lo
    n = min(n, valid)
    if n <= 0:
        return np.empty(0, np.int64)
    np.negative(scores, out=scores)               # argpartition finds the smallest
    part = np.argpartition(scores, n - 1)[:n]
    if keep is not None:
        part = part[keep[part]]
    return lo + np.sort(part)


def _rescore_from_table(table, row_ids: np.ndarray, q: np.ndarray,
                        vector_column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(exact cosine scores, media ids as bytes, frame times or None) of the rows at these Lance row
    addresses, read from the table (a snapshot without its float32 copy)."""
    frames = "t_s" in table.schema.names
    if len(row_ids) == 0:
        return np.empty(0, np.float32), np.empty(0, "S1"), (np.empty(0) if frames else None)
    cols = [vector_column, "media_id"] + (["t_s"] if frames else [])
    got = table.to_lance()._take_rows(np.sort(np.asarray(row_ids, np.int64)).tolist(), columns=cols)
    scores = _unit_vectors(got.column(vector_column), len(q)) @ q
    ids = np.array([v.encode() for v in got.column("media_id").to_pylist()], dtype="S")
    t_s = got.column("t_s").to_numpy(zero_copy_only=False) if frames else None
    return scores.astype(np.float32), ids, t_s


def date_bounds(taken: np.ndarray, since_us: int | None, until_us: int | None) -> tuple[int, int]:
    """[lo, hi) of the rows of a date-sorted snapshot's ``taken_us`` inside the inclusive range (None: open)."""
    lo = 0 if since_us is None else int(np.searchsorted(taken, since_us, "left"))
    hi = len(taken) if until_us is None else int(np.searchsorted(taken, until_us, "right"))
    return lo, max(lo, hi)


def filtered_search(table, root: Path, where: Filter | str, query: np.ndarray, k: int, *, since_us: int | None,
                    until_us: int | None, kind: str | None = None, vector_column: str = "vector",
                    max_rows: int | None = None) -> pd.DataFrame | None:
    """Exact top-``k`` rows of ``table`` matching ``where`` and ``since_us <= taken_at <= until_us``
    (microseconds, inclusive, either may be None) and ``kind``, by cosine similarity to ``query``.

    Returns a DataFrame (``media_id``, ``score`` = cosine similarity, ``_distance`` = 1 - score, ``t_s`` when
    the table has frame times), nearest first, or None when this path cannot answer (no snapshot of this view,
    stale snapshot, or a range wider than ``max_rows`` rows, default :data:`MAX_EXACT_ROWS`): the caller then
    uses ``vector_index.vector_search``."""
    where = _sql(where)
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    q = np.asarray(query, dtype=np.float32)
    if q.ndim != 1 or not np.all(np.isfinite(q)) or not np.any(q):
        raise ValueError("query must be a finite, non-zero 1-d vector")
    snap = load_snapshot(root, table.name, where)
    if snap is None or snap.codes.shape[1] != len(q):
        return None
    lo, hi = date_bounds(snap.taken_us, since_us, until_us)
    if hi - lo > (MAX_EXACT_ROWS if max_rows is None else max_rows):
        return None
    delta = _delta(table, snap, int(table.version), vector_column)
    if delta is False:
        return None
    q = q / np.linalg.norm(q)

    keep = None
    if kind is not None:
        code = snap.kind_names.index(kind) if kind in snap.kind_names else -2
        keep = np.asarray(snap.kinds[lo:hi]) == code
    if snap.vectors is not None:
        rows = _slice_candidates(snap, q, lo, hi, keep, k * RERANK_FACTOR)
        scores = np.asarray(snap.vectors[rows]) @ q if len(rows) else np.empty(0, np.float32)
        ids = np.asarray(snap.media_ids[rows])
        t_s = np.asarray(snap.t_s[rows]) if snap.t_s is not None else None
    else:
        rows = _slice_candidates(snap, q, lo, hi, keep, k * TABLE_RERANK_FACTOR)
        scores, ids, t_s = _rescore_from_table(table, snap.row_ids[rows], q, vector_column)

    if delta is not None:
        m = np.ones(len(delta.taken_us), bool)
        if since_us is not None:
            m &= delta.taken_us >= since_us
        if until_us is not None:
            m &= delta.taken_us <= until_us
        if kind is not None:
            m &= delta.kinds == kind
        if m.any():
            scores = np.concatenate([scores, delta.vectors[m] @ q])
            ids = np.concatenate([ids, delta.media_ids[m]])      # bytes; the wider width wins
            if t_s is not None and delta.t_s is not None:
                t_s = np.concatenate([t_s, delta.t_s[m]])

    top = np.argsort(-scores, kind="stable")[:k]
    out = pd.DataFrame({"media_id": [b.decode() for b in ids[top]],
                        "score": scores[top].astype(np.float32)})
    out["_distance"] = (1.0 - out["score"]).astype(np.float32)
    if t_s is not None:
        out["t_s"] = t_s[top]
    return out
