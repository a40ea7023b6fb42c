"""A few writes kept in flight from threads while the caller goes on with its next file.

On object storage each write waits on a network round trip (a 4 MB original ~35 ms, a preview ~9 ms against a
local server) during which the worker's core would sit idle; with the write in a thread, the worker reads, hashes
or decodes its next file meanwhile. On a folder a write is a local copy and an fsync: nothing to gain, so a storage
that does not set ``Storage.overlaps_writes`` runs each write at once, in the caller's thread.

The guarantee callers keep: nothing is reported done before its write succeeded. ``InFlight`` is a ``with`` block
that does not end until every write submitted in it has finished (succeeded or failed), and each write's outcome
is its ``Future``; a caller returns its results only after the block. A process killed meanwhile has returned
nothing, so no catalog row names an object that might be missing, and writes are atomic and idempotent (a PUT
appears whole or not at all), so the rerun simply writes again what did not arrive.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from workbench.storage.base import Storage

#: Writes in flight at once per ``InFlight`` block (each worker process has its own): two cover the round trip
#: of the one before while the next file is read; more only queue behind the server.
MAX_IN_FLIGHT = 2


class InFlight:
    """``submit(fn, *args)`` runs ``fn`` in a thread when ``storage.overlaps_writes`` (its outcome in the returned
    future), else at once in the caller (a failure raises from ``submit``, as the plain call did); leaving the
    ``with`` block waits for all of them. ``check()`` raises the first failure (for callers whose results all
    stand or fall together)."""

    def __init__(self, storage: Storage, max_in_flight: int = MAX_IN_FLIGHT):
        self.overlapped = bool(getattr(storage, "overlaps_writes", False))
        self.max_in_flight = max(1, max_in_flight)
        self.futures: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        if not self.overlapped:   # in line, as without this class: a failure raises here, in the caller
            fut: Future = Future()
            fut.set_result(fn(*args, **kwargs))
            self.futures.append(fut)
            return fut
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="write-in-flight")
        fut = self._pool.submit(fn, *args, **kwargs)
        self.futures.append(fut)
        return fut

    def wait(self) -> None:
        """Block until every submitted write has finished, successfully or not."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def check(self) -> None:
        """After ``wait``: raise the first submitted write's exception, if any failed."""
        for fut in self.futures:
            exc = fut.exception()
            if exc is not None:
                raise exc

    def __enter__(self) -> "InFlight":
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()
