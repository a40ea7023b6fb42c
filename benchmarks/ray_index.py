#!/usr/bin/env python
"""IVF-PQ index build: Lance on this process against lance-ray's distributed build with 1 and 2 Ray workers.

What it does
  1. Data (not timed): --rows 512-d CLIP-like unit vectors from benchmarks/search.py's mixture, written as a Lance
     dataset of --fragment-rows rows per fragment (lance-ray hands fragments to workers, so one fragment would
     leave a worker idle). Reused with --keep and the same --workdir.
  2. Variants, each in a fresh process, alternating order round by round:
       local   `LanceDataset.create_index("vector", "IVF_PQ", ...)`, what LanceDB runs for the library's index
       ray1    `lance_ray.create_index(..., num_workers=1)` on a Ray head started with 1 CPU (`ray start --head`)
       ray2    the same with 2 CPUs and num_workers=2
     Same parameters as the library (workbench.semantic.vector_index): cosine, num_partitions_for(rows),
     num_sub_vectors_for(512). The Ray head is started before the clock. The clock covers the whole build:
     IVF training (on the driver in lance-ray), the per-fragment partition+PQ pass (on the workers), the merge.
  3. Peak RSS of the phase process tree (the Ray head's processes included) is sampled every 0.2 s; the
     1-minute load average is read before and after each run.

Goal (issue 20): measure the build with 1 and 2 workers here; scaling 1 -> 2 workers is reported, no target.

Examples
  .venv/bin/python benchmarks/ray_index.py                          # 1,000,000 x 512 float32 (2 GB)
  .venv/bin/python benchmarks/ray_index.py --rows 200000 --rounds 1 --workdir /tmp/wb-ray-index --keep
  # an existing table (search_10m.py's 10M rows), on shallow clones, with that index's 256 partitions:
  .venv/bin/python benchmarks/ray_index.py --dataset /work/helpers/search10m/w/db/emb.lance --partitions 256 \
      --variants ray1,ray2 --workdir /tmp/wb-ray-index-10m
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

DIM = 512
VARIANTS = {"local": 0, "ray1": 1, "ray2": 2}


def make_data(path: Path, rows: int, fragment_rows: int) -> None:
    import lance
    import numpy as np
    import pyarrow as pa
    from search import Mixture

    stamp = path.with_suffix(".json")
    if stamp.exists() and json.loads(stamp.read_text()) == {"rows": rows, "fragment_rows": fragment_rows}:
        return
    shutil.rmtree(path, ignore_errors=True)
    mix = Mixture(DIM, 2000, seed=7)
    chunk = 50_000

    def batches():
        for i, start in enumerate(range(0, rows, chunk)):
            x, _, _ = mix.chunk(i, min(chunk, rows - start))
            yield pa.record_batch({
                "id": pa.array(np.arange(start, start + len(x))),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), pa.float32()), DIM)})

    schema = pa.schema([("id", pa.int64()), ("vector", pa.list_(pa.float32(), DIM))])
    t = time.perf_counter()
    lance.write_dataset(pa.RecordBatchReader.from_batches(schema, batches()), str(path),
                        max_rows_per_file=fragment_rows, max_rows_per_group=8192)
    print(f"wrote {rows} x {DIM} vectors in {len(lance.dataset(str(path)).get_fragments())} fragments "
          f"({time.perf_counter() - t:.0f} s, not timed)", flush=True)
    stamp.write_text(json.dumps({"rows": rows, "fragment_rows": fragment_rows}))


class TreeRSS(threading.Thread):
    """Peak summed RSS of a process and its descendants."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        import psutil
        root = psutil.Process(self.pid)
        while not self.stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            self.stop.wait(0.2)


def phase(variant: str, data: str, work: str, partitions: str = "0", column: str = "vector") -> dict:
    import lance

    from workbench.semantic.vector_index import DISTANCE_TYPE, num_partitions_for, num_sub_vectors_for
    workers = VARIANTS[variant]
    ds = lance.dataset(data)
    rows = ds.count_rows()
    dim = ds.schema.field(column).type.list_size
    params = {"num_partitions": int(partitions) or num_partitions_for(rows), "num_sub_vectors": num_sub_vectors_for(dim)}
    head = None
    if workers:
        from workbench.stages.engines import LocalHead
        head = LocalHead(workers, Path(work) / f"ray-{variant}")
        import ray
        ray.init(address=head.address, log_to_driver=False, logging_level="WARNING")
    sampler = TreeRSS(os.getpid())
    sampler.start()
    load_before = os.getloadavg()[0]
    try:
        t = time.perf_counter()
        if workers:
            import lance_ray
            out = lance_ray.create_index(data, column, "IVF_PQ", name="vector_idx", num_workers=workers,
                                         metric=DISTANCE_TYPE, **params)
        else:
            ds.create_index(column, "IVF_PQ", name="vector_idx", metric=DISTANCE_TYPE, replace=True, **params)
            out = lance.dataset(data)
        seconds = time.perf_counter() - t
        load_after = os.getloadavg()[0]
    finally:                      # a failed build must not leave its Ray head running
        sampler.stop.set()
        sampler.join()
        if head is not None:
            import ray
            ray.shutdown()
            head.stop()
    indexed = sum(len(i.get("fragment_ids", ())) for i in out.list_indices() if i["name"] == "vector_idx")
    return {"variant": variant, "rows": rows, "seconds": seconds, "peak_rss_mib": sampler.peak / 2**20,
            "fragments_indexed": indexed, "fragments": len(out.get_fragments()), "params": params,
            "load_before": load_before, "load_after": load_after}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--fragment-rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--variants", default="local,ray1,ray2")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dataset", type=Path, default=None,
                    help="build on this existing Lance dataset instead of generated vectors: each run builds on a "
                         "fresh shallow clone of its newest version (metadata only; the dataset is never written), "
                         "removed after the run")
    ap.add_argument("--column", default="vector", help="the vector column (with --dataset)")
    ap.add_argument("--partitions", type=int, default=0,
                    help="IVF partitions (default: the library's rule, num_partitions_for(rows))")
    ap.add_argument("--phase", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        print("RESULT " + json.dumps(phase(*args.phase)), flush=True)
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="wb-ray-index-"))
    work.mkdir(parents=True, exist_ok=True)
    variants = args.variants.split(",")
    data = work / f"vectors-{args.rows}.lance"
    try:
        if args.dataset is None:
            make_data(data, args.rows, args.fragment_rows)
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        for r in range(args.rounds):
            for v in variants[r % len(variants):] + variants[: r % len(variants)]:
                if args.dataset is not None:
                    import lance
                    data = work / f"clone-{v}-{r}.lance"
                    shutil.rmtree(data, ignore_errors=True)
                    src = lance.dataset(str(args.dataset))
                    src.shallow_clone(str(data), src.version)
                out = subprocess.run([sys.executable, __file__, "--phase", v, str(data), str(work),
                                      str(args.partitions), args.column],
                                     capture_output=True, text=True,
                                     env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
                if args.dataset is not None:
                    shutil.rmtree(data, ignore_errors=True)       # the clone and its index files
                line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
                if out.returncode != 0 or line is None:
                    print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
                    raise SystemExit(f"variant {v} failed (exit {out.returncode})")
                res = json.loads(line[len("RESULT "):])
                runs[v].append(res)
                print(f"round {r + 1} {v:5s} {res['seconds']:7.1f} s  peak RSS {res['peak_rss_mib']:.0f} MiB  "
                      f"({res['fragments_indexed']}/{res['fragments']} fragments indexed, {res['params']}; load "
                      f"{res['load_before']:.2f} -> {res['load_after']:.2f})", flush=True)
        med = {v: statistics.median(x["seconds"] for x in runs[v]) for v in variants}
        print(f"\nIVF-PQ build over {runs[variants[0]][0]['rows']} vectors, median seconds: "
              + ", ".join(f"{v} {s:.1f}" for v, s in med.items()))
        if "ray1" in med and "ray2" in med:
            print(f"  ray1 / ray2 = {med['ray1'] / med['ray2']:.2f}x (scaling 1 -> 2 workers)")
        if "local" in med and "ray2" in med:
            print(f"  local / ray2 = {med['local'] / med['ray2']:.2f}x")
        if args.json:
            print(json.dumps({"rows": args.rows, "median_s": med, "runs": runs}, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
