"""Run per-file work in worker processes so that a crashing or hanging decoder costs one file, not the batch.

Decoders are C libraries (libjpeg, libheif, libraw, FFmpeg); a fuzzed file can crash or hang them. Each task
runs in a pebble worker process: a segfault becomes a ``Failure`` naming the signal, a hang is killed after
``timeout_s``, and the pool replaces the worker and goes on.
"""
from __future__ import annotations

import multiprocessing
import signal
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
           "workbench.storage.encrypted"]


def also_preload(module: str) -> None:
    """Have worker processes get ``module`` already imported from the forkserver (when called before the
    process's first pool): what only some libraries need, such as the S3 client of a library on object storage
    (importing boto3 and loading its S3 model cost each worker ~1.3 s otherwise)."""
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
            entry = self._pools[(key, workers)] = [ProcessPool(max_workers=workers, context=_context()), 0.0]
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
        with ProcessPool(max_workers=workers, context=_context()) as pool:
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
