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
       s3     - s3://bench-<round>-s3/lib on the moto server (a fresh bucket each time), catalog in the bucket;
       s3-localcat (with --local-catalog) - the same with catalog_location "local".
     Timed per side: Library.open + import_files + process(["thumbnails"]) (Library.create is not timed).
     Also recorded: the CPU seconds this process (i.e. the moto server) used during each S3 ingest, because on a
     small machine the Python server competes with the ingest for the same cores, which a real one elsewhere
     would not; and the CPU seconds of the ingest's whole process tree (its workers included: this process
     adopts orphaned workers on Linux so that their CPU is counted).
  4. Prints the median seconds and images/s per side and the ratio s3 / local in images/s (goal: >= 0.8), with the
     median and range of the rounds' own ratios, and the CPU each S3 side costs more than local disk per image,
     split into the ingest's and the server's.
     With two runs of different --n, the seconds per extra image compare the sides without their fixed costs.

Usage
  .venv/bin/python benchmarks/s3_ingest.py                       # --n 24 --rounds 3
  .venv/bin/python benchmarks/s3_ingest.py --n 48 --rounds 5 --local-catalog --json
"""
from __future__ import annotations

import argparse
import ctypes
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


def adopt_orphans() -> None:
    """Become the reaper of this process's orphaned descendants (Linux): the forkserver and its workers outlive
    the ingest's process, and a process's CPU is only counted in ``os.times()`` children once it is reaped."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_orphans(timeout_s: float = 10.0) -> None:
    """Wait for the orphans left by one ingest (its forkserver exits once the ingest's process has)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def run_side(location: str, input_dir: Path, env: dict, catalog: str = "bucket") -> dict:
    cpu0 = children_cpu()
    out = subprocess.run([sys.executable, __file__, "--phase", location, "--input", str(input_dir),
                          "--catalog", catalog], env=env, capture_output=True, text=True, check=False)
    reap_orphans()
    if out.returncode != 0:
        raise SystemExit(f"{location}: the ingest failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["tree_cpu"] = children_cpu() - cpu0
    return res


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

    adopt_orphans()
    from ingest import generate
    from s3server import env_for, s3_client, start_server

    work = args.workdir or Path(tempfile.mkdtemp(prefix="wb-s3-bench-"))
    input_dir = work / "input"
    info = generate(input_dir, args.n, quiet=False)
    shutil.rmtree(work / "state", ignore_errors=True)   # local homes of an earlier run's (now gone) buckets
    server, endpoint = start_server()
    try:
        env = {**os.environ, **env_for(endpoint, work / "state")}
        sides = ["local", "s3"] + (["s3-localcat"] if args.local_catalog else [])
        times: dict[str, list[float]] = {s: [] for s in sides}
        server_cpu: dict[str, list[float]] = {s: [] for s in sides}
        tree_cpu: dict[str, list[float]] = {s: [] for s in sides}
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            for side in order:
                cpu0 = sum(os.times()[:2])   # this process's own CPU: the moto server's threads
                if side == "local":
                    lib = work / f"local-{r}"
                    shutil.rmtree(lib, ignore_errors=True)
                    res = run_side(str(lib), input_dir, env)
                else:
                    # A bucket per library: moto lists a prefix by walking every key of the bucket (~1.25 ms more
                    # per LIST per 1,000 keys, measured), where a real server's listing does not depend on other
                    # libraries' objects, so one shared bucket would make each round slower than the last.
                    bucket = f"bench-{r}-{side}"
                    s3_client(endpoint).create_bucket(Bucket=bucket)
                    res = run_side(f"s3://{bucket}/lib", input_dir, env,
                                   "local" if side == "s3-localcat" else "bucket")
                times[side].append(res["seconds"])
                server_cpu[side].append(sum(os.times()[:2]) - cpu0)
                tree_cpu[side].append(res["tree_cpu"])
                print(f"round {r + 1}/{args.rounds} {side:12s} {res['seconds']:7.2f} s  "
                      f"{res['images'] / res['seconds']:6.2f} images/s  ingest CPU {tree_cpu[side][-1]:6.2f} s  "
                      f"server CPU {server_cpu[side][-1]:5.2f} s", flush=True)
    finally:
        server.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    med = {s: statistics.median(t) for s, t in times.items()}
    rate = {s: args.n / m for s, m in med.items()}
    print(f"\n{args.n} x 12 MP JPEGs ({info['mean_image_mb']:.1f} MB mean), {args.rounds} alternating rounds, "
          f"{os.cpu_count()} CPUs")
    cpu = {s: statistics.median(c) for s, c in tree_cpu.items()}
    srv = {s: statistics.median(c) for s, c in server_cpu.items()}
    # Each round's ratio too (that round's local time over its S3 time): the rounds alternate, so a slow spell of
    # a shared machine hits both sides of a round, where the medians of the times can come from different rounds.
    per_round = {s: sorted(a / b for a, b in zip(times["local"], times[s])) for s in sides}
    for s in sides:
        ratio = rate[s] / rate["local"]
        rr = per_round[s]
        mark = "" if s == "local" else (f"  ratio {ratio:.2f} (goal >= {GOAL}; per round: median "
                                        f"{statistics.median(rr):.2f}, {rr[0]:.2f}-{rr[-1]:.2f})")
        print(f"  {s:12s} median {med[s]:7.2f} s  {rate[s]:6.2f} images/s  ingest CPU median {cpu[s]:6.2f} s  "
              f"server CPU median {srv[s]:5.2f} s{mark}")
    print("  (CPU medians cover the whole ingest process, including the untimed Library.create)")
    for s in sides[1:]:
        extra, server = cpu[s] - cpu["local"], srv[s] - srv["local"]
        print(f"  {s}: beyond local disk, ingest CPU {extra:+.2f} s and server CPU {server:+.2f} s on the same "
              f"{os.cpu_count()} cores ({(extra + server) / args.n * 1000:.1f} ms per image, fixed costs included)")
    if args.json:
        print(json.dumps({"n": args.n, "rounds": args.rounds, "seconds": times, "median_s": med,
                          "images_per_s": rate, "server_cpu_s": server_cpu, "ingest_cpu_s": tree_cpu,
                          "ratio": {s: rate[s] / rate["local"] for s in sides}, "ratio_per_round": per_round}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
