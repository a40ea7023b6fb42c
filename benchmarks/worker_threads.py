"""Native threads in stage workers: the quality measurements in two workers (one per core) with each worker's
OpenBLAS left at one thread per core, against capped at its share of the cores (what ``workbench.parallel`` does).

    python benchmarks/worker_threads.py [--rounds 3] [--pictures 60] [--burners 0]

Each round measures ``--pictures`` photo-sized pictures (1024x768, scikit-image's astronaut with a different corner
each) with ``workbench.quality.measures.measure_image`` in a two-worker forkserver pool (the same preloaded
forkserver the stages use), the two variants in alternating order. Reported per variant: the median wall time of a
round and the median CPU seconds the workers burned (their own and their threads', from /proc). ``--burners N``
adds N busy-looping processes for the length of the run, as the rest of a test suite or other work would.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

import psutil
from pebble import ProcessPool

from workbench.parallel import PRELOAD, limit_native_threads, native_threads

WORKERS = 2


def picture(i: int):
    import numpy as np
    import skimage.data
    from PIL import Image
    arr = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((1024, 768)))
    arr = arr.copy()
    arr[:32, :32] = (i * 37 % 256, i * 91 % 256, i * 53 % 256)
    return arr


def measure(i: int) -> float:
    from workbench.quality.measures import measure_image
    m = measure_image(picture(i), width_px=4000, height_px=3000, face_boxes=[(400, 150, 180, 180)])
    return m["noise_sigma"]


def one_round(capped: bool, pictures: int) -> tuple[float, float]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    kwargs = {"initializer": limit_native_threads, "initargs": (native_threads(WORKERS),)} if capped else {}
    pool = ProcessPool(max_workers=WORKERS, context=ctx, **kwargs)
    try:
        pool.schedule(measure, args=(0,)).result()          # start both workers and import cv2 before timing
        pool.schedule(measure, args=(1,)).result()
        servers = [c for c in psutil.Process().children() if "forkserver" in " ".join(c.cmdline())]
        workers = [w for s in servers for w in s.children()]
        cpu0 = sum(sum(w.cpu_times()[:2]) for w in workers if w.is_running())
        t = time.perf_counter()
        futures = [pool.schedule(measure, args=(i,)) for i in range(pictures)]
        for f in futures:
            f.result()
        wall = time.perf_counter() - t
        cpu = sum(sum(w.cpu_times()[:2]) for w in workers if w.is_running()) - cpu0
    finally:
        pool.stop()
        pool.join()
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pictures", type=int, default=60)
    ap.add_argument("--burners", type=int, default=0)
    a = ap.parse_args()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.burners)]
    results: dict[str, list[tuple[float, float]]] = {"one thread per core": [], "capped (parallel.py)": []}
    try:
        for r in range(a.rounds):
            order = [False, True] if r % 2 == 0 else [True, False]
            for capped in order:
                name = "capped (parallel.py)" if capped else "one thread per core"
                results[name].append(one_round(capped, a.pictures))
                print(f"round {r + 1} {name}: wall {results[name][-1][0]:.1f} s, worker CPU "
                      f"{results[name][-1][1]:.1f} s", flush=True)
    finally:
        for b in burners:
            b.kill()
    load = os.getloadavg()[0]
    print(f"\n{os.cpu_count()} cores, {a.burners} burners, load average {load:.1f}; {a.pictures} pictures per round, "
          f"{WORKERS} workers, capped at {native_threads(WORKERS)} native thread(s) each")
    base = statistics.median(w for w, _ in results["one thread per core"])
    base_cpu = statistics.median(c for _, c in results["one thread per core"])
    for name, rs in results.items():
        wall, cpu = statistics.median(w for w, _ in rs), statistics.median(c for _, c in rs)
        print(f"{name:24s} wall {wall:6.1f} s ({wall / base:.2f}x)   worker CPU {cpu:6.1f} s ({cpu / base_cpu:.2f}x)   "
              f"{1000 * wall / a.pictures:.0f} ms per picture")


if __name__ == "__main__":
    main()
