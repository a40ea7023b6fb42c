#!/usr/bin/env python
"""Ingest on object storage against local disk, same run: import + thumbnails + previews of 12 MP JPEGs.

What it does
  1. Generates --n distinct 12-megapixel JPEGs (benchmarks/ingest.py's generator: photo-like content with EXIF,
     ~2-5 MB each) into <workdir>/input; not timed. The 10 s video that generator also makes is left out of the
     import here (images only, so images/s compares like with like).
  2. Starts moto's S3 server (ThreadedMotoServer) on 127.0.0.1 in this process; the ingest itself runs in a fresh
     process per round and side, so the server and the ingest do not share a GIL (as with a real server).
  3. Each round ingests the same files into a fresh library on each side, alternating which side goes first
     (load from other processes on a shared machine then hits both alike):
       local  - a library folder on local disk;
       s3     - s3://bench/<round> on the moto server, catalog in the bucket;
       s3-localcat (with --local-catalog) - the same with catalog_location "local".
     Timed per side: Library.open + import_files + process(["thumbnails"]) (Library.create is not timed).
     Also recorded: the CPU seconds this process (i.e. the moto server) used during each S3 ingest, because on a
     small machine the Python server competes with the ingest for the same cores, which a real one elsewhere
     would not.
  4. Prints the median seconds and images/s per side and the ratio s3 / local in images/s (goal: >= 0.8).

Usage
  .venv/bin/python benchmarks/s3_ingest.py                       # --n 24 --rounds 3
  .venv/bin/python benchmarks/s3_ingest.py --n 48 --rounds 5 --local-catalog --json
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))

GOAL = 0.8


def phase(location: str, input_dir: str, catalog: str) -> dict:
    """One ingest in this (fresh) process: create untimed, then open + import + thumbnails timed."""
    from workbench import Library
    Library.create(location, catalog_location=catalog) if location.startswith("s3://") else Library.create(location)
    files = sorted(str(p) for p in Path(input_dir).glob("IMG_*.jpg"))
    t0 = time.perf_counter()
    lib = Library.open(location)
    rep = lib.import_files(files, progress=False)
    reports = lib.process(["thumbnails"], progress=False)
    elapsed = time.perf_counter() - t0
    done = sum(r.done for r in reports)
    assert rep.added == len(files) and done == len(files) and rep.failed == 0, (rep.as_dict(), reports)
    return {"seconds": elapsed, "images": len(files)}


def run_side(location: str, input_dir: Path, env: dict, catalog: str = "bucket") -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", location, "--input", str(input_dir),
                          "--catalog", catalog], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{location}: the ingest failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=24, help="12 MP JPEGs per ingest (default 24)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--workdir", type=Path, default=None, help="inputs and libraries (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the workdir (inputs are reused next time)")
    ap.add_argument("--local-catalog", action="store_true", help="also run s3 with catalog_location=local")
    ap.add_argument("--json", action="store_true", help="also print one JSON result line")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--catalog", default="bucket", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        print(json.dumps(phase(args.phase, args.input, args.catalog)))
        return 0

    from ingest import generate
    from s3server import env_for, s3_client, start_server

    work = args.workdir or Path(tempfile.mkdtemp(prefix="wb-s3-bench-"))
    input_dir = work / "input"
    info = generate(input_dir, args.n, quiet=False)
    shutil.rmtree(work / "state", ignore_errors=True)   # local homes of an earlier run's (now gone) buckets
    server, endpoint = start_server()
    try:
        s3_client(endpoint).create_bucket(Bucket="bench")
        env = {**os.environ, **env_for(endpoint, work / "state")}
        sides = ["local", "s3"] + (["s3-localcat"] if args.local_catalog else [])
        times: dict[str, list[float]] = {s: [] for s in sides}
        server_cpu: dict[str, list[float]] = {s: [] for s in sides}
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            for side in order:
                cpu0 = sum(os.times()[:2])
                if side == "local":
                    lib = work / f"local-{r}"
                    shutil.rmtree(lib, ignore_errors=True)
                    res = run_side(str(lib), input_dir, env)
                else:
                    res = run_side(f"s3://bench/{side}-{r}", input_dir, env,
                                   "local" if side == "s3-localcat" else "bucket")
                times[side].append(res["seconds"])
                server_cpu[side].append(sum(os.times()[:2]) - cpu0)
                print(f"round {r + 1}/{args.rounds} {side:12s} {res['seconds']:7.2f} s  "
                      f"{res['images'] / res['seconds']:6.2f} images/s  server CPU {server_cpu[side][-1]:5.2f} s",
                      flush=True)
    finally:
        server.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    med = {s: statistics.median(t) for s, t in times.items()}
    rate = {s: args.n / m for s, m in med.items()}
    print(f"\n{args.n} x 12 MP JPEGs ({info['mean_image_mb']:.1f} MB mean), {args.rounds} alternating rounds, "
          f"{os.cpu_count()} CPUs")
    for s in sides:
        ratio = rate[s] / rate["local"]
        mark = "" if s == "local" else f"  ratio {ratio:.2f} (goal >= {GOAL})"
        print(f"  {s:12s} median {med[s]:7.2f} s  {rate[s]:6.2f} images/s  server CPU median "
              f"{statistics.median(server_cpu[s]):5.2f} s (whole run, incl. untimed create){mark}")
    if args.json:
        print(json.dumps({"n": args.n, "rounds": args.rounds, "seconds": times, "median_s": med,
                          "images_per_s": rate, "server_cpu_s": server_cpu, "ratio": {s: rate[s] / rate["local"] for s in sides}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
