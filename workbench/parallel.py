"""Run per-file work in worker processes so that a crashing or hanging decoder costs one file, not the batch.

Decoders are C libraries (libjpeg, libheif, libraw, FFmpeg); a fuzzed file can crash or hang them. Each task
runs in a pebble worker process: a segfault becomes a ``Failure`` naming the signal, a hang is killed after
``timeout_s``, and the pool replaces the worker and goes on.

Every worker starts with ``worker_start``:

* Native thread pools: in a stage that runs one worker per core (thumbnails, fingerprints, quality, OCR) each
  worker's OpenBLAS (and any OpenMP loaded by then) may use only its share of the cores (``native_threads``). Left
  at one thread per core, the workers' OpenBLAS threads spin-wait for each other on cores the other workers hold:
  the quality measurements burned 4.7x the CPU and took 4.6x as long on a loaded 2-core machine
  (``benchmarks/worker_threads.py``, docs/benchmarks.md). Model stages run a single worker and keep every core.
* Workers die with their pool's process. They are children of the forkserver, not of the process that owns the
  pool, and each holds the forkserver's keep-alive pipe, so neither the kernel nor the forkserver ends them when
  that process is killed (``kill -9``, or ``workbench serve`` stopping a processor that did not stop within
  ``STOP_TIMEOUT_S``): they ran their task to its end, at full speed, with nobody left to read the result (a
  two-minute task, two minutes; ``per_file_timeout_s`` applies only while the pool's owner lives). Each worker now
  watches its owner (a pidfd) and exits the moment it is gone.
"""
from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from pebble import ProcessExpired, ProcessPool

from workbench.errors import LibraryError, MediaError


# Imported once by the forkserver, inherited by every worker. Nothing here may import LanceDB.
PRELOAD = ["numpy", "pyarrow", "PIL.Image", "workbench.stages.base", "workbench.ingest.probe",
           "workbench.imaging.renditions",
           # An encrypted library's storage arrives with every task: without this each worker imported
           # cryptography and argon2 on its first one (0.1-0.4 s each, measured under load).
           "workbench.storage.encrypted",
           # Each worker of a multi-worker stage limits its native thread pools at start (limit_native_threads).
           "threadpoolctl"]


def also_preload(module: str) -> None:
    """Have worker processes get ``module`` already imported from the forkserver (when called before the
    process's first pool): what only some libraries need, such as the S3 client of a library on object storage
    (importing botocore and loading its S3 model cost each worker ~1.3 s otherwise)."""
    if module not in PRELOAD:
        PRELOAD.append(module)


@dataclass
class Failure:
    """Why one task failed, worded for the person reading ``workbench errors``."""

    reason: str


def describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the decoder crashed the worker process ({name}); the file is probably corrupt"
    return f"the worker process exited unexpectedly (exit code {exitcode})"


def call_as_result(fn: Callable[[Any], Any], item: Any) -> Any:
    """Worker-side wrapper: MediaError stays a reason; anything else keeps its message and type."""
    try:
        return fn(item)
    except MediaError as e:
        return Failure(e.reason)
    except MemoryError:
        return Failure("ran out of memory decoding this file")
    except LibraryError:
        raise   # the library's storage failed (unreachable, full, refused), not this file: stop the batch
    except Exception as e:  # an unexpected library error for this file must not stop the batch
        last = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        where = f" (in {last.name})" if last else ""
        return Failure(f"unexpected {type(e).__name__}{where}: {e}")


def native_threads(workers: int) -> int:
    """Threads each of ``workers`` worker processes lets its native libraries use: its share of the cores."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def limit_native_threads(threads: int) -> None:
    """Cap the thread pools of the native libraries loaded so far (numpy's OpenBLAS; OpenMP) at ``threads``, so
    workers that together fill the cores do not spin-wait for each other (module docstring)."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=threads)


def exit_with(owner_pid: int) -> None:
    """Exit this process as soon as process ``owner_pid`` has exited (a daemon thread waiting on its pidfd, or
    checking every second where pidfds are missing)."""
    def watch() -> None:
        try:
            fd = os.pidfd_open(owner_pid)
        except (AttributeError, OSError):      # no pidfds here, or the owner is already gone
            fd = None
        if fd is not None:
            select.select([fd], [], [])       # readable once the process has exited
        else:
            while True:
                try:
                    os.kill(owner_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, name="exit-with-pool-owner", daemon=True).start()


def worker_start(owner_pid: int, threads: int | None) -> None:
    """Pebble initializer of every worker (module docstring): exit with the pool's owner, cap native threads."""
    exit_with(owner_pid)
    if threads is not None:
        limit_native_threads(threads)


def _pool(workers: int) -> Any:
    """A pebble pool of ``workers`` forkserver workers started by ``worker_start``: with more than one worker per
    core's worth, each worker's native thread pools are capped at its share of the cores."""
    threads = native_threads(workers)
    cap = threads if threads < (os.cpu_count() or 1) else None  # a single worker (a model stage) keeps every core
    return ProcessPool(max_workers=workers, context=_context(), initializer=worker_start,
                       initargs=(os.getpid(), cap))


def _context() -> Any:
    _forget_unimportable_main()
    ctx = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has already imported the decoders, so each starts in milliseconds.
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


class KeptPools:
    """Worker pools that outlive one run, for a long-lived process (``workbench serve``'s processor): one pool per
    key (a stage), so its workers keep the models they loaded from one chunk to the next. A pool unused for
    ``idle_s`` is stopped by ``trim`` (its memory goes back); pebble still replaces a worker that crashed or hung.
    """

    def __init__(self, idle_s: float):
        self.idle_s = idle_s
        self._pools: dict[tuple[str, int], list[Any]] = {}   # key -> [pool, last used (monotonic)]

    def acquire(self, key: str, workers: int) -> Any:
        entry = self._pools.get((key, workers))
        if entry is None or not entry[0].active:
            entry = self._pools[(key, workers)] = [_pool(workers), 0.0]
        entry[1] = float("inf")      # in use: never trimmed
        return entry[0]

    def release(self, key: str, workers: int, *, broken: bool = False) -> None:
        entry = self._pools.get((key, workers))
        if entry is None:
            return
        if broken:
            self._stop(self._pools.pop((key, workers))[0])
        else:
            entry[1] = time.monotonic()

    def trim(self) -> int:
        """Stop the pools unused for ``idle_s``; returns how many."""
        now = time.monotonic()
        old = [k for k, (_, used) in self._pools.items() if now - used > self.idle_s]
        for k in old:
            self._stop(self._pools.pop(k)[0])
        return len(old)

    def close(self) -> None:
        for pool, _ in self._pools.values():
            self._stop(pool)
        self._pools.clear()

    def __len__(self) -> int:
        return len(self._pools)

    @staticmethod
    def _stop(pool: Any) -> None:
        pool.stop()
        pool.join()


def run_isolated(fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int, timeout_s: float,
                 max_in_flight: int | None = None, pools: KeptPools | None = None,
                 pool_key: str = "") -> Iterator[tuple[Any, Any]]:
    """Yield ``(item, result_or_Failure)`` as tasks finish (not in input order).

    ``fn`` must be a picklable top-level function. At most ``max_in_flight`` tasks are queued at once, so a
    million-file import does not hold a million futures. With ``pools``, the workers come from (and stay in)
    the kept pool named ``pool_key``; otherwise a pool is made for this call and stopped after it.
    """
    if pools is None:
        with _pool(workers) as pool:
            yield from _drain(pool, fn, items, workers=workers, timeout_s=timeout_s, max_in_flight=max_in_flight)
        return
    pool = pools.acquire(pool_key, workers)
    broken = True
    try:
        yield from _drain(pool, fn, items, workers=workers, timeout_s=timeout_s, max_in_flight=max_in_flight)
        broken = False
    finally:
        # Left early (an error, or the caller stopped reading): tasks may still be queued or running in it.
        pools.release(pool_key, workers, broken=broken)


def _drain(pool: Any, fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int, timeout_s: float,
           max_in_flight: int | None) -> Iterator[tuple[Any, Any]]:
    limit = max_in_flight or workers * 4
    it = iter(items)
    pending: dict[Any, Any] = {}

    def fill() -> None:
        while len(pending) < limit:
            try:
                item = next(it)
            except StopIteration:
                return
            pending[pool.schedule(call_as_result, args=(fn, item), timeout=timeout_s)] = item

    fill()
    while pending:
        done = _wait_any(list(pending))
        for fut in done:
            item = pending.pop(fut)
            try:
                result = fut.result()
            except FutureTimeout:
                result = Failure(f"timed out after {timeout_s:g} s (per_file_timeout_s); the file may be "
                                 f"malformed or too large to decode")
            except ProcessExpired as e:
                result = Failure(describe_exit(e.exitcode))
            except LibraryError:
                # One clear line for the whole batch instead of the same failure recorded for every file;
                # what was stored is complete (writes are atomic) and the next run resumes.
                pool.stop()
                raise
            except Exception as e:
                result = Failure(f"worker error {type(e).__name__}: {e}")
            yield item, result
        fill()


def start_forkserver(hide_env: tuple[str, ...] = ()) -> None:
    """Start the process every worker process of this process forks from, now, without the environment variables
    named in ``hide_env``. The fork server copies the environment once, when it starts, and its workers inherit
    it: a server whose workers decode what strangers upload (the gallery) starts it before it makes its
    link-signing secret and hides the passphrase and cloud keys from it, so a decoder exploit finds no secret.
    Call it while the process has one thread (it edits ``os.environ`` for a moment)."""
    import multiprocessing.forkserver
    import os
    _context()
    hidden = {name: os.environ.pop(name) for name in hide_env if name in os.environ}
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        os.environ.update(hidden)


def _forget_unimportable_main() -> None:
    """A script read from stdin (``python - <<EOF``) leaves ``__main__.__file__ == '<stdin>'``, which forkserver
    workers then try to run as a file and die; such a main module cannot be re-imported anyway, so drop it."""
    import os
    import sys
    main = sys.modules.get("__main__")
    f = getattr(main, "__file__", None)
    if isinstance(f, str) and f.startswith("<") and not os.path.exists(f):
        del main.__file__


def _wait_any(futures: list[Any]) -> list[Any]:
    from concurrent.futures import FIRST_COMPLETED, wait
    done, _ = wait(futures, return_when=FIRST_COMPLETED)
    return list(done)
