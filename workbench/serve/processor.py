"""The background processor: runs the pending stages of new media by itself, thumbnails first.

    python -m workbench.serve.processor --library PATH     (``workbench serve`` starts it)

How it works, and why:

* Waking up: every ``serve_poll_interval_s`` (1 s) it reads the media table's version (``Library.media_version``,
  ~0.1 ms), which grows with every import or upload from any process. Nothing else needs to tell it anything.
* Order: each round asks ``Library.status()`` what waits, then runs the first stage in ``process`` order that has
  work, for at most ``serve_chunk_media`` media (``Library.process(max_media=)``), and starts again from the
  first stage. New media thus get thumbnails (and appear in the timeline) before the faces, tags, duplicates
  and quality of older ones go on.
* Restart-safe: all it knows is in the catalog. Each stage writes its rows keyed by media and version, so a
  processor killed at any point (``kill -9`` included) loses at most the uncommitted rows, which the next one
  redoes, and never writes a row twice. It assigns faces to people once at start, for faces a killed run
  stored without getting there.
* One per library: it holds ``ProcessorLock`` while it runs; a second one stops at once with ``ProcessorBusy``.
* Models stay loaded between rounds: in this process (CLIP's weights check) and in the stage workers, which are
  kept between chunks (``Library.engine(keep_workers_s=)``) and stopped after ``serve_keep_workers_s`` unused. A
  stage that cannot run here (no weights) is skipped with its reason until new media arrive.
* Upkeep once the queue empties: the catalog compaction and replica sync that end ``workbench process`` run
  after the last chunk of a batch (``Library.process(upkeep=False)`` for each chunk, then ``Library.upkeep``),
  not after every chunk; during a backlog longer than ``serve_upkeep_interval_s`` (600 s) also between chunks.
* Scrubbing without a person: once the queue is empty and ``serve_scrub_interval_h`` have passed since the last
  scrub, it scrubs ``serve_scrub_sample_percent`` of the library in slices of ``serve_scrub_slice_s``, each
  continuing where the last stopped (``scrub_if_due``); damage is repaired from a replica as ``workbench scrub``
  does, and what could not be repaired becomes the status's last error. New media go first between slices.
* It takes the library's write lock only while a chunk runs; when someone else holds it (``workbench import``),
  the state is ``waiting`` and it tries again after the poll interval.
* Status for admins: ``status.write_status`` after every step (state, stage, queue per stage, last error).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import LibraryError
from workbench.serve.status import ProcessorBusy, ProcessorLock, now_iso, write_status

#: Exit code of a processor that found another one at work on the library (``workbench serve`` reads it).
EXIT_BUSY = 3


class Processor:
    """One library's background processor. ``run`` loops until ``stop`` is set; ``step`` does one round."""

    def __init__(self, library_root: Path, *, log: Any = None):
        from workbench.library import Library
        self.lib = Library.open(library_root)
        self.root = self.lib.root
        self.lock = ProcessorLock(self.root)
        self.poll_interval_s = float(self.lib.settings.serve_poll_interval_s)
        self.chunk_media = int(self.lib.settings.serve_chunk_media)
        self.upkeep_interval_s = float(self.lib.settings.serve_upkeep_interval_s)
        self._upkeep_due = True              # chunks ran since the last upkeep (or a killed run may have left it)
        self._last_upkeep = time.monotonic()
        self._scrub_left_percent: float | None = None     # of the scrub under way, in slices
        self._scrub_not_before = 0.0                      # monotonic time of the next "is a scrub due?"
        # Stage workers kept between chunks (their models stay loaded), stopped after serve_keep_workers_s unused.
        self.engine = self.lib.engine("local", keep_workers_s=float(self.lib.settings.serve_keep_workers_s))
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._seen_version: int | None = None
        self._work = True               # something may be pending: true at start and after new media
        self.skipped: dict[str, str] = {}   # stage -> why it cannot run here (until new media arrive)
        self.status: dict[str, Any] = {"state": "starting", "stage": None, "queue": {}, "skipped": {},
                                       "done": {}, "last_error": None, "last_error_at": None,
                                       "started_at": now_iso()}

    # -- the loop -------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Hold the lock and process until ``stop`` is set (raises ``ProcessorBusy`` when another one runs)."""
        stop = stop or threading.Event()
        self.lock.acquire()
        try:
            self.status["pid"] = os.getpid()
            self._publish()
            self._catch_up_people()
            while not stop.is_set():
                try:
                    busy = self.step()
                except Exception as e:        # e.g. a catalog read failing for a moment: say it, try again
                    self._error(f"{type(e).__name__}: {e}")
                    self._log(traceback.format_exc())
                    busy = False
                if not busy:
                    self.engine.trim()
                    stop.wait(self.poll_interval_s)
                elif self.lib.writers_waiting():
                    # Someone (an import, a rename) waits for the write lock: let them have it before the next
                    # chunk; they hold it for their own write and we go on after.
                    deadline = time.monotonic() + 30.0
                    while self.lib.writers_waiting() and time.monotonic() < deadline and not stop.is_set():
                        stop.wait(0.2)
        finally:
            self.engine.close()
            self._publish(state="stopped", stage=None)
            self.lock.release()

    def step(self) -> bool:
        """One round: notice new media, then run one chunk of the first stage with work. True when it did work
        (so the caller goes straight on), False when idle or waiting."""
        version = self.lib.media_version()
        if version != self._seen_version:
            self._seen_version = version
            self._work = True
            self.skipped.clear()          # new media: stages skipped for want of weights are asked again
        if not self._work:
            if self._upkeep_due:              # the write lock was someone else's when the queue emptied
                self.upkeep()
                return False
            return self.scrub_if_due()
        queue = {r["stage"]: int(r["pending"]) for r in self.lib.status().to_dict("records")}
        self._publish(state="processing", queue=queue, skipped=dict(self.skipped))
        for name, pending in queue.items():
            if pending == 0 or name in self.skipped:
                continue
            self._publish(stage=name)
            try:
                rep = self.lib.process([name], max_media=self.chunk_media, progress=False, engine=self.engine,
                                       upkeep=False)[0]
            except LibraryError as e:         # the write lock is someone else's right now (an import): later
                self._publish(state="waiting", stage=None, waiting_for=str(e))
                return False
            except Exception as e:            # a bug or a broken library: say it, keep serving, retry on news
                self._error(f"{name}: {type(e).__name__}: {e}")
                self._log(traceback.format_exc())
                self.skipped[name] = f"stopped after an error: {e}"
                continue
            if rep.skipped:
                self.skipped[name] = rep.skipped
                self._publish(skipped=dict(self.skipped))
                continue
            if rep.failures:
                path, reason = rep.failures[-1]
                self._error(f"{name}: {path}: {reason}")
            if rep.done or rep.failed:
                done = self.status["done"]
                done[name] = done.get(name, 0) + rep.done + rep.failed
                self._publish(stage=None)
                self._upkeep_due = True
                if time.monotonic() - self._last_upkeep >= self.upkeep_interval_s:
                    self.upkeep()                 # a long backlog: now and then between chunks too
                return True
        # Nothing could move: everything done, or what waits needs a stage that cannot run here.
        self._work = False
        if self._upkeep_due:
            self.upkeep()
        queue = {r["stage"]: int(r["pending"]) for r in self.lib.status().to_dict("records")}
        self._publish(state="idle", stage=None, queue=queue, skipped=dict(self.skipped))
        return False

    def upkeep(self) -> None:
        """Compact the catalog and sync the replicas (``Library.upkeep``): after the chunks of a batch, not after
        each. When the write lock is someone else's, it stays due and runs after a later chunk or round."""
        self._publish(state="processing", stage="upkeep")
        try:
            for rep in self.lib.upkeep(progress=False):
                if rep.failures:
                    path, reason = rep.failures[-1]
                    self._error(f"{rep.stage}: {path}: {reason}")
        except LibraryError as e:
            self._publish(state="waiting", stage=None, waiting_for=str(e))
            return
        self._upkeep_due = False
        self._last_upkeep = time.monotonic()
        self._publish(stage=None, upkeep_at=now_iso())

    def scrub_if_due(self) -> bool:
        """Scrub one slice when a scrub is due or under way (see the module's docstring); True when it did."""
        settings = self.lib.settings
        if float(settings.serve_scrub_interval_h) <= 0:
            return False
        if self._scrub_left_percent is None:
            if time.monotonic() < self._scrub_not_before:
                return False                  # not due: no catalog read on every idle poll
            last = self.lib.integrity.last_scrub_at()
            wait_s = 0.0 if last is None else float(settings.serve_scrub_interval_h) * 3600 - (
                datetime.now(timezone.utc) - last).total_seconds()
            if wait_s > 0:
                self._scrub_not_before = time.monotonic() + min(wait_s, 600.0)   # a manual scrub may move it
                return False
            self._scrub_left_percent = min(100.0, float(settings.serve_scrub_sample_percent))
        self._publish(state="processing", stage="scrub")
        try:
            rep = self.lib.scrub(sample_percent=self._scrub_left_percent,
                                 budget_s=float(settings.serve_scrub_slice_s), progress=False)
        except LibraryError as e:             # the write lock is someone else's: the slice waits for later
            self._publish(state="waiting", stage=None, waiting_for=str(e))
            return False
        except Exception as e:                # a scrub that cannot run (a broken catalog): say it, try tomorrow
            self._scrub_left_percent = None
            self._error(f"scrub: {type(e).__name__}: {e}")
            self._log(traceback.format_exc())
            return False
        self._scrub_left_percent -= 100.0 * rep.checked / max(rep.total, 1)
        if not rep.stopped_by_budget or self._scrub_left_percent <= 0 or rep.checked == 0:
            self._scrub_left_percent = None   # this interval's share is checked
        for e in rep.unrepairable:
            self._error(f"scrub: {e['media_id'] or e['location']}: {e['object']} {e['problem']}, NOT REPAIRED: "
                        f"{e['detail']}")
        more = self._scrub_left_percent is not None
        self._publish(state="processing" if more else "idle", stage=None, scrub_at=now_iso(),
                      scrub_checked=rep.checked, scrub_repaired=rep.repaired)
        return more

    # -- helpers --------------------------------------------------------------------------------------------
    def _catch_up_people(self) -> None:
        """Faces a killed run stored before it assigned them to people get assigned now."""
        try:
            self.lib.update_people()
        except LibraryError:
            pass                            # busy: the next faces chunk assigns them
        except Exception as e:
            self._error(f"people: {type(e).__name__}: {e}")

    def _error(self, message: str) -> None:
        self._log(f"processor: {message}")
        self._publish(last_error=message, last_error_at=now_iso())

    def _publish(self, **changes: Any) -> None:
        self.status.pop("waiting_for", None)
        self.status.update(changes)
        write_status(self.root, self.status)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Process new media of a library in the background until stopped.")
    ap.add_argument("--library", type=Path, default=None)
    a = ap.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        proc = Processor(a.library)
        proc.run(stop)
    except ProcessorBusy as e:
        print(f"processor: not started: {e}", file=sys.stderr, flush=True)
        return EXIT_BUSY
    return 0


if __name__ == "__main__":
    sys.exit(main())
