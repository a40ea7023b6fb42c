#!/usr/bin/env python
"""Search at ten million: the library's vector index (workbench.semantic.vector_index) over 10M 512-d vectors.

What it does (each phase runs in its own process, so its peak RSS is its own)
  1. gen (not a latency measurement; run under `nice -n 10`). --rows CLIP-like unit vectors from
     benchmarks/search.py's generator (`Mixture(512, 3000, seed 7)`, the same chunks of 100k rows, so the
     first 1M rows are search.py's 1M table) are streamed straight into a Lance dataset `db/emb.lance`
     (media_id, model_id, vector, taken_at, kind), never all in RAM: two worker processes generate chunks,
     this process writes them. The exact top-10 is computed in the same stream (numpy, the best 10 per query
     kept), so there is no second copy of the vectors and no second pass over 20 GB:
       - queries (--queries, default 200): half *perturbed stored vectors* (a stored row plus within-cluster
         noise, as search.py; the rows are drawn from the first two chunks, which are generated first: the
         chunks are i.i.d., so these rows are as random as any), half *fresh samples* of the mixture;
       - truth for all rows and for three date windows (WINDOWS: ~1%, 10% and 50% of rows); the mid-size
         windows (EXTRA_WINDOWS: 12.5% and 20%) get theirs later from --phase truth --window NAME (one
         exact pass over the window's rows, `truth_<name>.npz`), and the query phase measures every window
         whose truth exists.
     Records generation time, disk, and the truth in `truth.npz`.
  2. index: `vector_index.ensure_indexes(table)` (the library's own build: scalar indexes, then IVF-PQ with
     num_partitions_for(rows) partitions and num_sub_vectors_for(512) sub-vectors). Records build time and
     the process's peak RSS, and the index's disk.
  3. store (--phase store; part of "all"): the re-rank store the library keeps from 2M rows
     (vector_index.write_rerank_store: int8 codes and dates of every row at its Lance row address, 5 GiB at
     10M, under $W/search). Records write time and disk.
  4. query: every query through the library's search path, routed as workbench/semantic/search.py routes
     it: a date window whose slice of the date-sorted snapshot has at most filtered_exact.MAX_EXACT_ROWS rows
     goes to filtered_exact.filtered_search(); everything else to vector_index.vector_search() with the
     library's policy (nprobes and refine from the table's size, the re-rank store when there is one, a wide
     date window postfiltered). First the library's defaults, then (--baseline) the same without the
     re-rank store (LanceDB's own refine), then each --nprobes x --refine of the sweep; --rounds repeats the
     list, alternating. p50/p95 latency and recall@10 against the truth, the 1-minute load average before
     and after each series, and the query process's peak RSS (and, at the end, its anonymous and
     file-backed parts). --query-only --reuse DIR repeats just this phase on a kept dataset. --routes
     library store snapshot prefilter runs each series once per path, alternating, forcing the date
     windows down that path (library = as the library routes them).

Goal (issue 20): p50 under 50 ms at recall@10 >= 0.95, plain and date-filtered, in under 8 GiB RSS.

  5. snapshot (--phase snapshot; the earlier stand-in, before phase 6): a snapshot of the 10% window's rows
     (2019) only, with its float32 copy: the 1% and 10% windows lie inside it, and their slices are the same
     rows a whole-table snapshot scans. The query phase uses it with --snapshot 2019; this phase also times
     the 1% window alone.

  6. wholesnapshot (--phase wholesnapshot): the library's own snapshot of the whole table, written the way
     its writer does (filtered_exact.refresh_snapshot(table, $W/search, "") = derived/search of a library):
     streamed (sort keys in memory, vectors read fragment by fragment), int8 codes and row addresses only
     (no float32 copy past filtered_exact.VECTOR_COPY_MAX_ROWS). Records write time, disk, and the writer's
     peak RSS split into anonymous (heap) and file-backed (mapped output pages), sampled every 0.2 s. The
     query phase then routes windows to it (--snapshot whole, the default when it exists; --snapshot 2019
     uses the 2019-only snapshot of phase 5 instead).
  7. scanab (--phase scanab): why the snapshot keeps its own codes: the int8 scan of the 10% window's slice
     from the whole-table snapshot's contiguous codes against the same rows' codes in the re-rank store read
     through a date-sorted permutation (alternating, same process).

Examples
  nice -n 10 .venv/bin/python benchmarks/search_10m.py --workdir /work/helpers/search10m/w --phase gen
  nice -n 10 .venv/bin/python benchmarks/search_10m.py --workdir /work/helpers/search10m/w --phase index
  nice -n 10 .venv/bin/python benchmarks/search_10m.py --workdir /work/helpers/search10m/w --phase store
  .venv/bin/python benchmarks/search_10m.py --query-only --reuse /work/helpers/search10m/w --baseline --rounds 2
  .venv/bin/python benchmarks/search_10m.py --query-only --reuse /work/helpers/search10m/w \\
      --nprobes 40 80 160 --refine 20 40
  .venv/bin/python benchmarks/search_10m.py --workdir /work/helpers/search10m/w --phase snapshot
  nice -n 10 .venv/bin/python benchmarks/search_10m.py --workdir /work/helpers/search10m/w --phase truth --window 20%
  .venv/bin/python benchmarks/search_10m.py --query-only --reuse /work/helpers/search10m/w --modes 10% \\
      --routes library store prefilter --rounds 2
  nice -n 10 .venv/bin/python benchmarks/search_10m.py --workdir /work/helpers/search10m/w --phase wholesnapshot
  .venv/bin/python benchmarks/search_10m.py --query-only --reuse /work/helpers/search10m/w --modes 1% 10% \
      --snapshot whole --rounds 2
  .venv/bin/python benchmarks/search_10m.py --rows 300000 --workdir /tmp/s10m     # gen, index, query, small
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from search import CHUNK, K, Mixture, arrow_rows  # noqa: E402

DIM, CLUSTERS, SEED = 512, 3000, 7
TARGET_P50_MS, TARGET_RECALL, TARGET_RSS_GIB = 50.0, 0.95, 8.0


def _us(s: str) -> int:
    return int(np.datetime64(s, "us").astype(np.int64))


# (name, lo inclusive, hi exclusive): ~1%, 10% and 50% of the 10-year span 2015-2024
WINDOWS = [("1%", "2019-06-01T00:00:00", "2019-07-07T12:00:00"),
           ("10%", "2019-01-01T00:00:00", "2020-01-01T00:00:00"),
           ("50%", "2020-01-01T00:00:00", "2025-01-01T00:00:00")]
# Windows whose truth is computed after generation (--phase truth: one exact pass over the window's rows,
# kept in truth_<name>.npz beside truth.npz): the mid-size windows, wider than the snapshot's limit and
# narrower than vector_index.POSTFILTER_MIN_SHARE.
EXTRA_WINDOWS = [("20%", "2017-01-01T00:00:00", "2019-01-01T00:00:00"),
                 ("12.5%", "2018-10-01T00:00:00", "2020-01-01T00:00:00")]   # just over MAX_EXACT_ROWS
ALL_WINDOWS = WINDOWS + EXTRA_WINDOWS


def window_where(lo: str, hi: str) -> str:
    return (f"taken_at >= TIMESTAMP '{lo.replace('T', ' ')}' AND "
            f"taken_at < TIMESTAMP '{hi.replace('T', ' ')}'")


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def peak_rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)


def rss_split_gib() -> dict:
    """The process's resident memory now, split: anonymous (its own heap) and file-backed (pages of mapped
    files, i.e. the page cache of the memory-mapped snapshot and re-rank store, shared and reclaimable)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmHWM"):
            out[key] = round(int(val.split()[0]) / 2 ** 20, 2)
    return out


def du_gib(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 2 ** 30, 2)


def save_state(workdir: Path, key: str, value) -> None:
    path = workdir / "results.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    state[key] = value
    path.write_text(json.dumps(state, indent=1))


# ----------------------------------------------------------------------------------------------------------
# Phase 1: data + truth in one stream
# ----------------------------------------------------------------------------------------------------------

_MIX: Mixture | None = None


def _init_worker() -> None:
    global _MIX
    _MIX = Mixture(DIM, CLUSTERS, SEED)


def _chunk(args: tuple[int, int]):
    i, n = args
    return i, *_MIX.chunk(i, n)


class TopK:
    """Running exact top-k (row numbers, similarities) per query."""

    def __init__(self, nq: int):
        self.s = np.full((nq, K), -np.inf, np.float32)
        self.i = np.full((nq, K), -1, np.int64)

    def add(self, S: np.ndarray, rows: np.ndarray) -> None:
        if S.shape[1] == 0:
            return
        cs = np.concatenate([self.s, S], axis=1)
        ci = np.concatenate([self.i, np.broadcast_to(rows, S.shape)], axis=1)
        top = np.argpartition(-cs, K, axis=1)[:, :K] if cs.shape[1] > K else np.argsort(-cs, axis=1)[:, :K]
        self.s, self.i = np.take_along_axis(cs, top, 1), np.take_along_axis(ci, top, 1)

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(-self.s, axis=1)
        return np.take_along_axis(self.i, order, 1), np.take_along_axis(self.s, order, 1)


def phase_gen(workdir: Path, rows: int, queries: int) -> dict:
    import lance

    mix = Mixture(DIM, CLUSTERS, SEED)
    n_chunks = (rows + CHUNK - 1) // CHUNK
    sizes = [min(CHUNK, rows - c * CHUNK) for c in range(n_chunks)]
    bounds = [(_us(lo), _us(hi)) for _, lo, hi in WINDOWS]
    tops = {"plain": TopK(queries), **{name: TopK(queries) for name, _, _ in WINDOWS}}
    counts = {name: 0 for name, _, _ in WINDOWS}
    state: dict = {"Q": None}
    pending: list = []
    head: list = []          # the first chunks, held until the queries exist
    rng = np.random.default_rng([SEED, 2])
    half = queries // 2
    head_rows = min(rows, 2 * CHUNK)

    def make_queries(x_head: np.ndarray) -> np.ndarray:
        pick = np.sort(rng.choice(len(x_head), half, replace=False))
        pert = x_head[pick] + 0.25 * mix.noise(rng, half)
        pert /= np.linalg.norm(pert, axis=1, keepdims=True)
        fresh = mix.sample(rng, queries - half)
        state["pick"] = pick
        return np.vstack([pert, fresh]).astype(np.float32)

    def account(i: int, x: np.ndarray, taken: np.ndarray) -> None:
        start = i * CHUNK
        S = state["Q"] @ x.T
        idx = np.arange(start, start + len(x))
        tops["plain"].add(S, idx)
        for (name, _, _), (lo, hi) in zip(WINDOWS, bounds):
            m = (taken >= lo) & (taken < hi)
            counts[name] += int(m.sum())
            tops[name].add(S[:, m], idx[m])

    def batches():
        ctx = mp.get_context("forkserver")   # lance is not fork-safe
        with ctx.Pool(2, initializer=_init_worker) as pool:
            it = iter(enumerate(sizes))
            for _ in range(3):                              # at most 3 chunks (600 MB) in flight
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.apply_async(_chunk, (nxt,)))
            t_last = time.perf_counter()
            while pending:
                i, x, taken, kind = pending.pop(0).get()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.apply_async(_chunk, (nxt,)))
                if state["Q"] is None:
                    head.append((i, x, taken))
                    if sum(len(h[1]) for h in head) >= head_rows:
                        state["Q"] = make_queries(np.vstack([h[1] for h in head]))
                        for hi_, hx, ht in head:
                            account(hi_, hx, ht)
                        head.clear()
                else:
                    account(i, x, taken)
                yield arrow_rows(x, taken, kind, i * CHUNK).to_batches()[0]
                if i % 10 == 9:
                    now = time.perf_counter()
                    print(f"  chunk {i + 1}/{n_chunks} ({now - t_last:.0f} s for the last 10, load {load1()})",
                          flush=True)
                    t_last = now

    schema = arrow_rows(*mix.chunk(0, 2)[:3], 0).schema
    path = workdir / "db" / "emb.lance"
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lance.write_dataset(pa.RecordBatchReader.from_batches(schema, batches()), str(path), mode="overwrite")
    gen_s = time.perf_counter() - t0
    truth = {}
    for name, top in tops.items():
        ids, sims = top.sorted()
        truth[f"ids_{name}"], truth[f"sims_{name}"] = ids, sims
    np.savez(workdir / "truth.npz", Q=state["Q"], is_pert=np.arange(queries) < half, **truth)
    out = {"rows": rows, "queries": queries, "gen_s": round(gen_s, 1), "dataset_gib": du_gib(path),
           "fragments": len(lance.dataset(str(path)).get_fragments()),
           "window_rows": counts, "peak_rss_gib": peak_rss_gib(),
           "top1_cos_median_perturbed": round(float(np.median(truth["sims_plain"][:half, 0])), 3),
           "top1_cos_median_fresh": round(float(np.median(truth["sims_plain"][half:, 0])), 3),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"gen: {out}", flush=True)
    return out


def phase_truth(workdir: Path, name: str) -> dict:
    """Exact top-10 of every query within an EXTRA_WINDOWS window: one pass over the window's rows (Lance
    scan filtered on ``taken_at``, 64k rows at a time, numpy), saved as ``truth_<name>.npz``."""
    import lance

    lo, hi = {n: (a, b) for n, a, b in EXTRA_WINDOWS}[name]
    tr = np.load(workdir / "truth.npz")
    Q = tr["Q"]
    top = TopK(len(Q))
    ds = lance.dataset(str(workdir / "db" / "emb.lance"))
    l0 = load1()
    t0 = time.perf_counter()
    n = 0
    for b in ds.to_batches(columns=["media_id", "vector"], filter=window_where(lo, hi), batch_size=65_536):
        rows = np.array([int(m[1:]) for m in b.column("media_id").to_pylist()], np.int64)
        x = b.column("vector").flatten().to_numpy().reshape(-1, DIM)
        top.add(Q @ x.T, rows)
        n += len(rows)
    ids, sims = top.sorted()
    np.savez(workdir / f"truth_{name}.npz", **{f"ids_{name}": ids, f"sims_{name}": sims})
    out = {"window": name, "rows": n, "truth_s": round(time.perf_counter() - t0, 1), "load1": [l0, load1()],
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"truth: {out}", flush=True)
    return out


# ----------------------------------------------------------------------------------------------------------
# Phase 2: the library's index build
# ----------------------------------------------------------------------------------------------------------

def open_table(workdir: Path):
    import lancedb
    return lancedb.connect(workdir / "db").open_table("emb")


def phase_index(workdir: Path) -> dict:
    from workbench.semantic import vector_index as vi

    table = open_table(workdir)
    rows = table.count_rows()
    before = du_gib(workdir / "db")
    l0 = load1()
    t0 = time.perf_counter()
    vi.ensure_indexes(table, min_rows_for_ann=10 ** 12)            # scalar indexes only
    scalar_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    action = vi.ensure_indexes(table)
    build_s = time.perf_counter() - t0
    ann = vi.ann_index(table, "vector")
    parts, trained = vi.ann_shape(ann, rows)
    out = {"action": action, "scalar_index_s": round(scalar_s, 1), "ann_build_s": round(build_s, 1),
           "index": ann.name, "num_partitions": parts, "num_sub_vectors": vi.num_sub_vectors_for(DIM),
           "index_gib": round(du_gib(workdir / "db") - before, 2), "peak_rss_gib": peak_rss_gib(),
           "load1": [l0, load1()], "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"index: {out}", flush=True)
    return out


# ----------------------------------------------------------------------------------------------------------
# Phase 3: queries through vector_search()
# ----------------------------------------------------------------------------------------------------------

SNAPSHOT_VIEW = WINDOWS[1]      # --phase snapshot writes a snapshot of the 10% window's rows (2019)
SNAPSHOT_KIND = "whole"         # --snapshot: "whole" (the library's whole-table snapshot) or "2019"


def snapshot_source(workdir: Path) -> tuple[Path, str, str, str]:
    """(root, view, first date, last date) of the snapshot the query phase routes windows to."""
    if SNAPSHOT_KIND == "whole":
        return workdir / "search", "", "0000", "9999"
    _, vlo, vhi = SNAPSHOT_VIEW
    return workdir / "snapshots", window_where(vlo, vhi), vlo, vhi


def route(table, workdir: Path, mode: str, use_snapshot: bool, force: bool = False) -> tuple[str, tuple | None]:
    """Which path the library takes for this window, as ``search.py``'s ``_ranked`` does: the date-sorted
    snapshot when one covers the window and its slice has at most ``filtered_exact.MAX_EXACT_ROWS`` rows,
    else ``vector_search`` (which itself picks prefilter or postfilter by the filter's share). The snapshot
    here holds the 2019 rows only (``--phase snapshot``); windows inside 2019 slice it exactly as a
    whole-table snapshot would. ``force``: the snapshot whenever it covers the window, whatever its size."""
    from workbench.semantic import filtered_exact as fx

    win = {name: (lo, hi) for name, lo, hi in ALL_WINDOWS}.get(mode)
    if win is None or not use_snapshot:
        return "ann", None
    root, view, vlo, vhi = snapshot_source(workdir)
    snap = fx.load_snapshot(root, table.name, view)
    if snap is None or not (vlo <= win[0] and win[1] <= vhi):
        return "ann", None
    lo_us, hi_us = _us(win[0]), _us(win[1]) - 1
    n = int(np.searchsorted(snap.taken_us, hi_us, "right") - np.searchsorted(snap.taken_us, lo_us, "left"))
    if n > fx.MAX_EXACT_ROWS and not force:
        return "ann", None
    return "snapshot", (root, view, lo_us, hi_us)


def window_filter(lo: str, hi: str):
    """The window as a catalog filter (what ``search.py`` passes): a ``taken_at`` range the re-rank store
    can check itself."""
    from workbench.catalog.filters import Range
    return Range("taken_at", datetime.fromisoformat(lo), datetime.fromisoformat(hi), hi_inclusive=False)


def run_series(table, Q, truth, is_pert, where, warmup: int, workdir: Path, nprobes: int | None = None,
               refine: int | None = None, snapshot: tuple | None = None, store: bool = True,
               postfilter: bool | None = None) -> dict:
    from workbench.semantic import filtered_exact as fx
    from workbench.semantic import vector_index as vi

    def search(q):
        if snapshot is not None:
            snap_root, view, lo_us, hi_us = snapshot
            return list(fx.filtered_search(table, snap_root, view, q, K, since_us=lo_us,
                                           until_us=hi_us)["media_id"])
        return vi.vector_search(table, q, K, where=where, columns=["media_id"], nprobes=nprobes,
                                refine_factor=refine, postfilter=postfilter,
                                rerank_root=root).column("media_id").to_pylist()

    root = workdir / "search" if store else None

    for q in Q[:warmup]:
        search(q)
    lat, rec = [], []
    l0 = load1()
    for q, t in zip(Q, truth):
        t0 = time.perf_counter()
        ids = search(q)
        lat.append((time.perf_counter() - t0) * 1000)
        rec.append(len({int(s[1:]) for s in ids} & set(t.tolist())) / K)
    lat, rec = np.array(lat), np.array(rec)
    return {"p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "recall10": round(float(rec.mean()), 3), "recall10_perturbed": round(float(rec[is_pert].mean()), 3),
            "recall10_fresh": round(float(rec[~is_pert].mean()), 3), "load1": [l0, load1()]}


def phase_query(workdir: Path, nprobes_list: list[int], refine_list: list[int], warmup: int,
                modes: list[str], max_queries: int | None, no_default: bool = False,
                rounds: int = 1, baseline: bool = False, routes: Sequence[str] = ("library",),
                snapshots: Sequence[str] = ("whole",)) -> dict:
    """The library-default series (routed as the library routes: snapshot, or vector_search with its own
    nprobes / refine / prefilter-or-postfilter policy), then the sweep (vector_search with nprobes and
    refine forced, filter as the policy chooses); ``rounds`` repeats the whole list, alternating.
    ``routes``: each series is run once per route, alternating: "library" routes as the library does,
    the others force every date window down one path ("snapshot": the date-sorted snapshot whenever it
    covers the window, whatever its size; "store": the re-rank store's postfilter whatever the window's
    share; "prefilter": LanceDB's prefilter)."""
    from workbench.semantic import vector_index as vi

    table = open_table(workdir)
    rows = table.count_rows()
    tr = dict(np.load(workdir / "truth.npz"))
    for name, _, _ in EXTRA_WINDOWS:
        extra = workdir / f"truth_{name}.npz"
        if extra.exists():
            tr.update(np.load(extra))
    modes = [m for m in modes if m == "plain" or f"ids_{m}" in tr]
    Q, is_pert = tr["Q"], tr["is_pert"]
    if max_queries:
        sel = np.r_[0:max_queries // 2, len(Q) // 2:len(Q) // 2 + max_queries - max_queries // 2]
    else:
        sel = np.arange(len(Q))
    ann = vi.ann_index(table, "vector")
    indexed = ann.num_indexed_rows or rows
    parts, _ = vi.ann_shape(ann, indexed)
    wheres = {"plain": None, **{name: window_filter(lo, hi) for name, lo, hi in ALL_WINDOWS}}
    has_store = vi.load_rerank_store(workdir / "search", table.name) is not None
    configs = [(label if route == "library" else f"{label} [{route}]", p, r, st, route)
               for label, p, r, st in (([] if no_default else [("library default", None, None, True)])
                                       + ([("no re-rank store", None, None, False)] if baseline else [])
                                       + [(f"nprobes {p or 'rule'} refine {r}", p or None, r, True)
                                          for p in nprobes_list for r in refine_list])
               for route in routes]
    out = {"rows": rows, "index": ann.name, "partitions": parts, "queries": int(len(sel)), "routes": list(routes), "snapshots": list(snapshots),
           "series": []}
    global SNAPSHOT_KIND
    runs = [(c, kind) for c in configs for kind in snapshots]
    for rnd in range(rounds):
        for (label, nprobes, refine, store, force_route), SNAPSHOT_KIND in runs:
            if len(snapshots) > 1:
                label = f"{label.split(' {')[0]} {{{SNAPSHOT_KIND} snapshot}}"
            for mode in modes:
                if len(snapshots) > 1 and mode == "plain" and SNAPSHOT_KIND != snapshots[0]:
                    continue                          # the snapshot does not serve plain queries
                where = wheres[mode]
                path, snap = route(table, workdir, mode, use_snapshot=nprobes is None and force_route
                                   in ("library", "snapshot"), force=force_route == "snapshot")
                forced = {"store": True, "prefilter": False}.get(force_route)
                r = run_series(table, Q[sel], tr[f"ids_{mode}"][sel], is_pert[sel], where, warmup, workdir,
                               nprobes, refine, snap, store, forced)
                if path == "snapshot":
                    probes = ref = None
                else:
                    share = vi.where_share(table, vi.render(where)) if where else None
                    min_share = vi.STORE_POSTFILTER_MIN_SHARE if store and has_store else vi.POSTFILTER_MIN_SHARE
                    post = share is not None and (share >= min_share if forced is None else forced)
                    via = "store" if store and has_store and (where is None or post) else "lance"
                    path = f"ann/{via}" + ("" if where is None else (" postfilter" if post else " prefilter"))
                    probes = nprobes if nprobes is not None else (
                        vi.store_nprobes_for(parts, indexed, share) if via == "store" and where is not None
                        else vi.nprobes_for(parts, indexed, filtered=where is not None and not post))
                    ref = refine if refine is not None else (
                        vi.store_refine_for(indexed, share) if via == "store" and where is not None
                        else vi.refine_factor_for(indexed))
                    if post and via == "store":
                        ref = f"{ref} ({int(np.ceil(K * ref / share))} cand.)"
                    elif post:
                        limit = int(np.ceil(K * vi.POSTFILTER_OVERSAMPLE / share))
                        ref = f"{max(1, int(round(ref * K / (limit * share))))} (limit {limit})"
                r.update(config=label, route=force_route, mode=mode, path=path, refine=ref, nprobes=probes,
                         round=rnd + 1,
                         target="PASS" if r["p50_ms"] < TARGET_P50_MS and r["recall10"] >= TARGET_RECALL
                         else "FAIL")
                out["series"].append(r)
                print(f"  {label:<28} {mode:<6} {path:<22} nprobes {str(probes):>5} refine {str(ref):>12}: "
                      f"p50 {r['p50_ms']:>6} p95 {r['p95_ms']:>6} recall {r['recall10']:.3f} "
                      f"({r['recall10_perturbed']:.3f}/{r['recall10_fresh']:.3f}) load {r['load1']} "
                      f"{r['target']}  rss {peak_rss_gib()} GiB", flush=True)
    out["peak_rss_gib"] = peak_rss_gib()
    out["rss_now_gib"] = rss_split_gib()
    out["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return out


def phase_store(workdir: Path) -> dict:
    """The re-rank store the library's writer keeps from 2M rows (``vector_index.write_rerank_store``):
    int8 codes and dates of every row at its Lance row address, under ``$W/search``."""
    from workbench.semantic import vector_index as vi

    table = open_table(workdir)
    l0 = load1()
    t0 = time.perf_counter()
    path = vi.write_rerank_store(table, workdir / "search")
    out = {"store_write_s": round(time.perf_counter() - t0, 1), "store_gib": du_gib(path),
           "peak_rss_gib": peak_rss_gib(), "load1": [l0, load1()],
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"store: {out}", flush=True)
    return out


def phase_snapshot(workdir: Path, warmup: int, max_queries: int | None) -> dict:
    """The library's path for the 1% window (filtered_exact): a date-sorted snapshot of the rows of the
    10% window (2019; a whole-table snapshot is a second 19 GiB copy, sorted in memory), then the 1% window
    queries through filtered_search(). The 1% slice (binary search on taken_at) is the same 99,830 rows a
    whole-table snapshot would scan, so the per-query work is the same."""
    from workbench.semantic import filtered_exact as fx

    table = open_table(workdir)
    tr = np.load(workdir / "truth.npz")
    Q, is_pert = tr["Q"], tr["is_pert"]
    sel = (np.r_[0:max_queries // 2, len(Q) // 2:len(Q) // 2 + max_queries - max_queries // 2]
           if max_queries else np.arange(len(Q)))
    view = window_where(WINDOWS[1][1], WINDOWS[1][2])
    root = workdir / "snapshots"
    t0 = time.perf_counter()
    fx.write_snapshot(table, root, view)
    write_s = time.perf_counter() - t0
    write_rss = peak_rss_gib()
    _, lo, hi = WINDOWS[0]
    lo_us, hi_us = _us(lo), _us(hi) - 1

    def search(q):
        return list(fx.filtered_search(table, root, view, q, K, since_us=lo_us, until_us=hi_us)["media_id"])

    for q in Q[sel][:warmup]:
        search(q)
    lat, rec = [], []
    l0 = load1()
    for q, t in zip(Q[sel], tr["ids_1%"][sel]):
        t0 = time.perf_counter()
        ids = search(q)
        lat.append((time.perf_counter() - t0) * 1000)
        rec.append(len({int(s[1:]) for s in ids} & set(t.tolist())) / K)
    lat, rec = np.array(lat), np.array(rec)
    p = is_pert[sel]
    out = {"view": view, "snapshot_write_s": round(write_s, 1), "snapshot_gib": du_gib(root),
           "write_peak_rss_gib": write_rss, "queries": int(len(sel)), "window": "1%",
           "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
           "recall10": round(float(rec.mean()), 3), "recall10_perturbed": round(float(rec[p].mean()), 3),
           "recall10_fresh": round(float(rec[~p].mean()), 3), "load1": [l0, load1()],
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"snapshot: {out}", flush=True)
    return out


class RssSampler:
    """Peak anonymous and file-backed RSS of this process, sampled every ``every_s`` in a thread (VmHWM alone
    mixes the heap with the mapped output files' pages)."""

    def __init__(self, every_s: float = 0.2):
        import threading
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._t.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            now = rss_split_gib()
            for k in self.peak:
                self.peak[k] = max(self.peak[k], now.get(k, 0.0))

    def stop(self) -> dict:
        self._stop.set()
        self._t.join()
        return {**self.peak, "VmHWM": rss_split_gib()["VmHWM"]}


def phase_wholesnapshot(workdir: Path, rewrite: bool = False) -> dict:
    """The library's date-sorted snapshot of the whole table, written by the library's writer entry
    (``filtered_exact.refresh_snapshot``) under ``$W/search`` (a library's ``derived/search``); ``rewrite``:
    write it again even if the current one is fresh (``write_snapshot``, the call refresh makes)."""
    from workbench.semantic import filtered_exact as fx

    table = open_table(workdir)
    root = workdir / "search"
    l0 = load1()
    sampler = RssSampler()
    t0 = time.perf_counter()
    if rewrite:
        action = "written" if fx.write_snapshot(table, root, "") else "none"
    else:
        action = fx.refresh_snapshot(table, root, "")
    write_s = time.perf_counter() - t0
    rss = sampler.stop()
    snap = fx.load_snapshot(root, table.name, "")
    out = {"action": action, "write_s": round(write_s, 1), "rows": snap.rows if snap else None,
           "float32_copy": bool(snap is not None and snap.vectors is not None),
           "snapshot_gib": du_gib(snap.path) if snap else None, "peak_rss_gib": rss, "load1": [l0, load1()],
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"wholesnapshot: {out}", flush=True)
    return out


def phase_scanab(workdir: Path, rounds: int = 21) -> dict:
    """The int8 scan of the 10% window's slice (999k rows): (a) the whole-table snapshot's own date-sorted
    codes, contiguous; (b) the re-rank store's codes of the same rows, through the date-sorted permutation
    (what a snapshot without its own codes would read). Alternating, one random query per round."""
    from numba import njit

    from workbench.semantic import filtered_exact as fx
    from workbench.semantic import vector_index as vi

    table = open_table(workdir)
    snap = fx.load_snapshot(workdir / "search", table.name, "")
    store = vi.load_rerank_store(workdir / "search", table.name)
    if snap is None or store is None:
        raise SystemExit("--phase scanab needs the whole-table snapshot and the re-rank store")
    _, lo_s, hi_s = WINDOWS[1]
    lo, hi = fx.date_bounds(snap.taken_us, _us(lo_s), _us(hi_s) - 1)
    perm, known = store.lookup(np.asarray(snap.row_ids[lo:hi]))
    assert known.all()
    kernel = fx.int8_kernel()

    @njit(fastmath=True, cache=True)
    def dots_perm(codes, idx, q, out):  # pragma: no cover - compiled
        d = codes.shape[1]
        for i in range(idx.shape[0]):
            r = idx[i]
            acc = np.int32(0)
            for j in range(d):
                acc += np.int16(codes[r, j]) * np.int16(q[j])
            out[i] = acc

    rng = np.random.default_rng(0)
    out = np.empty(hi - lo, np.int32)
    times: dict[str, list[float]] = {"snapshot codes (contiguous)": [], "store codes (permuted)": []}
    l0 = load1()
    for r in range(rounds):
        q = rng.integers(-127, 128, snap.codes.shape[1]).astype(np.int8)
        names = list(times) if r % 2 == 0 else list(times)[::-1]
        for name in names:
            t0 = time.perf_counter()
            if name.startswith("snapshot"):
                kernel(snap.codes, lo, hi, q, out)
            else:
                dots_perm(store.codes, perm, q, out)
            times[name].append((time.perf_counter() - t0) * 1000)
    res = {name: {"p50_ms": round(float(np.median(v[2:])), 1), "min_ms": round(float(min(v[2:])), 1)}
           for name, v in times.items()}
    out_d = {"rows": int(hi - lo), "rounds": rounds, **res, "load1": [l0, load1()],
             "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"scanab: {out_d}", flush=True)
    return out_d


# ----------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=200, help="queries (half perturbed, half fresh)")
    ap.add_argument("--workdir", type=Path, help="where the dataset, truth and results.json go")
    ap.add_argument("--phase", choices=["all", "gen", "index", "store", "query", "snapshot", "truth",
                                        "wholesnapshot", "scanab"],
                    default="all")
    ap.add_argument("--window", default=EXTRA_WINDOWS[0][0], help="--phase truth: which EXTRA_WINDOWS window")
    ap.add_argument("--query-only", action="store_true", help="only the query phase (with --reuse)")
    ap.add_argument("--reuse", type=Path, help="a --workdir whose gen and index phases are done")
    ap.add_argument("--nprobes", type=int, nargs="*", default=[],
                    help="sweep: partitions probed (0: the library's rule)")
    ap.add_argument("--refine", type=int, nargs="*", default=[40], help="sweep: refine factors")
    ap.add_argument("--modes", nargs="*", default=["plain"] + [w[0] for w in ALL_WINDOWS],
                    help="plain and date windows (a window without its truth file is skipped)")
    ap.add_argument("--max-queries", type=int, default=None, help="use only this many queries (half of each kind)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--no-default", action="store_true", help="sweep only: skip the library-default series")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the series list, alternating")
    ap.add_argument("--routes", nargs="*", choices=["library", "snapshot", "store", "prefilter"],
                    default=["library"], help="paths for the date windows, each series run once per route "
                    "in turn (library: as the library routes them; the others force that path)")
    ap.add_argument("--baseline", action="store_true",
                    help="also the library's path without the re-rank store (LanceDB's own refine)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a vector_index constant for the index build, e.g. MAX_PARTITIONS=1000")
    ap.add_argument("--snapshot", choices=["whole", "2019"], nargs="+", default=["whole"],
                    help="query phase: the date-sorted snapshot windows are routed to (whole: the library's "
                    "whole-table one from --phase wholesnapshot; 2019: the 2019 rows only, --phase snapshot); "
                    "two: each series once per snapshot, alternating")
    ap.add_argument("--rewrite", action="store_true", help="--phase wholesnapshot: write it even if fresh")
    args = ap.parse_args(argv)
    from workbench.semantic import vector_index as vi
    for item in args.set:
        name, _, value = item.partition("=")
        if not hasattr(vi, name):
            ap.error(f"vector_index has no constant {name}")
        setattr(vi, name, type(getattr(vi, name))(value))
    if args.query_only:
        if args.reuse is None:
            ap.error("--query-only needs --reuse DIR")
        args.phase, args.workdir = "query", args.reuse
    if args.workdir is None:
        ap.error("--workdir (or --query-only --reuse DIR) is required")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if args.phase == "all":
        base = [sys.executable, __file__, "--workdir", str(workdir), "--rows", str(args.rows),
                "--queries", str(args.queries)]
        sets = [a for item in args.set for a in ("--set", item)]
        for phase in ("gen", "index", "store"):
            subprocess.run(["nice", "-n", "10", *base, "--phase", phase, *sets], check=True)
        sweep = [a for flag, vals in (("--nprobes", args.nprobes), ("--refine", args.refine))
                 for a in ([flag, *map(str, vals)] if vals else [])]
        subprocess.run([*base, "--phase", "query", *sweep, "--modes", *args.modes], check=True)
        print(json.dumps(json.loads((workdir / "results.json").read_text()), indent=1))
        return 0
    if args.phase == "gen":
        save_state(workdir, "gen", phase_gen(workdir, args.rows, args.queries))
    elif args.phase == "store":
        save_state(workdir, "store", phase_store(workdir))
    elif args.phase == "snapshot":
        save_state(workdir, "snapshot", phase_snapshot(workdir, args.warmup, args.max_queries))
    elif args.phase == "wholesnapshot":
        save_state(workdir, "wholesnapshot", phase_wholesnapshot(workdir, args.rewrite))
    elif args.phase == "scanab":
        save_state(workdir, "scanab", phase_scanab(workdir))
    elif args.phase == "truth":
        save_state(workdir, f"truth_{args.window}", phase_truth(workdir, args.window))
    elif args.phase == "index":
        save_state(workdir, "index", {**phase_index(workdir), "overrides": args.set})
    else:
        r = phase_query(workdir, args.nprobes, args.refine, args.warmup, args.modes, args.max_queries,
                        args.no_default, args.rounds, args.baseline, args.routes, args.snapshot)
        path = workdir / "results.json"
        state = json.loads(path.read_text()) if path.exists() else {}
        state.setdefault("query_runs", []).append(r)
        path.write_text(json.dumps(state, indent=1))
        print(f"query process peak RSS {r['peak_rss_gib']} GiB (goal < {TARGET_RSS_GIB} GiB); at the end "
              f"{r['rss_now_gib']} (RssFile = mapped snapshot and re-rank store pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
