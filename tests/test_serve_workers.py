"""Stage worker processes under `workbench serve`: they die with the process that owns their pool, and in a stage
with one worker per core their native libraries keep to their share of the cores.

Both replay what was seen in the full suite: after `kill -9` tests, a processor's workers went on at 100% CPU for
minutes, and quality workers whose OpenBLAS threads spin-waited for each other burned several times the CPU of the
work itself (benchmarks/worker_threads.py).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from workbench.parallel import KeptPools, native_threads, run_isolated

from browser import wait_for

REPO = Path(__file__).resolve().parents[1]

# A process that owns a kept pool (as the processor does) with two workers each busy with a two-minute task.
OWNER = """
import threading, time
from workbench.parallel import KeptPools, run_isolated
pools = KeptPools(idle_s=300)
tasks = run_isolated(time.sleep, [120, 120], workers=2, timeout_s=600, pools=pools, pool_key="quality")
threading.Thread(target=lambda: list(tasks), daemon=True).start()
time.sleep(600)
"""




def alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_stage_workers_die_with_the_process_that_owns_their_pool_even_by_kill_9():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=REPO)
    try:
        def busy_workers() -> list[psutil.Process]:
            servers = [c for c in psutil.Process(owner.pid).children() if "forkserver" in " ".join(c.cmdline())]
            workers = [w for s in servers for w in s.children()]
            # A worker is busy once its task (time.sleep) runs: it sleeps, and the forkserver's child is idle.
            return workers if len(workers) == 2 and all(w.status() == psutil.STATUS_SLEEPING for w in workers) \
                else []
        workers = wait_for(busy_workers, 120, "two workers running their tasks")
        time.sleep(1.0)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        # Their tasks have two minutes to go: without dying with the pool they would run (or spin) on that long.
        wait_for(lambda: not any(alive(w) for w in workers), 30, "the workers of the killed process to go")
    finally:
        if owner.poll() is None:
            owner.kill()


def openblas_threads(_item: int) -> int:
    from threadpoolctl import threadpool_info
    return max(i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas")


def test_workers_of_a_stage_with_a_worker_per_core_keep_native_threads_to_their_share_of_the_cores():
    import numpy  # noqa: F401  (loads OpenBLAS here too, as the forkserver preloads it)
    from threadpoolctl import threadpool_info
    here = max(i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas")
    workers = max(2, os.cpu_count() or 1)
    shared = {r for _, r in run_isolated(openblas_threads, range(workers), workers=workers, timeout_s=60)}
    assert shared == {native_threads(workers)} == {max(1, (os.cpu_count() or 1) // workers)}
    pools = KeptPools(idle_s=60)
    try:
        kept = {r for _, r in run_isolated(openblas_threads, range(workers), workers=workers, timeout_s=60,
                                           pools=pools, pool_key="quality")}
        single = {r for _, r in run_isolated(openblas_threads, range(2), workers=1, timeout_s=60, pools=pools,
                                             pool_key="face_scans")}
    finally:
        pools.close()
    assert kept == shared
    assert single == {here}          # a model stage's single worker keeps every core for its libraries
