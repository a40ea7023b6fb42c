"""Who processes a library, and what it is doing: the processor's lock and its status file.

One background processor per library: it holds an exclusive ``flock`` on ``<library>/.processor.lock`` for as
long as it runs (the OS drops it when the process dies, even by ``kill -9``), with its process id written inside.
What it is doing goes to ``<library>/.processor.json`` (replaced atomically, so a reader never sees half of it):
its state, the stage it is running, how many media wait per stage, and the last error. ``workbench status`` and
the gallery's admin line read it; a status file whose writer no longer holds the lock reads as stopped.
"""
from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

LOCK_FILE = ".processor.lock"
STATUS_FILE = ".processor.json"


class ProcessorBusy(WorkbenchError):
    """Another processor already processes this library."""


class ProcessorLock:
    """The one-processor-per-library lock (see the module docstring)."""

    def __init__(self, library_root: Path):
        self.root = Path(library_root)
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``ProcessorBusy`` naming the process that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ProcessorBusy(f"process {holder} already processes {self.root}; one processor per library "
                                f"(stop that one to process from here)") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def processor_pid(library_root: Path) -> int | None:
    """The id of the process that holds the processor lock, or None when no processor runs."""
    path = Path(library_root) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_status(library_root: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically (a temp file renamed over it)."""
    path = Path(library_root) / STATUS_FILE
    tmp = path.with_name(f"{STATUS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**status, "updated_at": now_iso()}, indent=1) + "\n")
    os.replace(tmp, path)


def read_status(library_root: Path) -> dict[str, Any]:
    """The processor's last status, with ``running`` (whether a processor holds the lock now). Keys: ``state``
    (idle, processing, waiting, stopped), ``stage``, ``queue`` ({stage: media waiting}), ``last_error``,
    ``last_error_at``, ``pid``, ``started_at``, ``updated_at``, ``done`` ({stage: media processed since start})."""
    pid = processor_pid(library_root)
    try:
        status = json.loads((Path(library_root) / STATUS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        status = {}
    status.setdefault("queue", {})
    status.setdefault("done", {})
    status.setdefault("last_error", None)
    status.setdefault("stage", None)
    if pid is None:
        status.update(running=False, state="stopped", stage=None)
    else:
        status.update(running=True, pid=pid)
        status.setdefault("state", "starting")
    return status


def describe(status: dict[str, Any]) -> str:
    """One line for people: ``processor: processing faces (thumbnails 0, face_scans 12 waiting)``."""
    if not status["running"]:
        return "processor: not running (`workbench serve` processes new media by itself)"
    skipped = status.get("skipped") or {}
    waiting = {k: v for k, v in status.get("queue", {}).items() if v and k not in skipped}
    line = f"processor: {status.get('state', '?')}"
    if status.get("stage") and status.get("state") == "processing":
        line += f" {status['stage']}"
    line += " (" + (", ".join(f"{k} {v}" for k, v in waiting.items()) + " waiting)" if waiting else "nothing waiting)")
    if skipped:
        line += "; cannot run here: " + ", ".join(skipped) + " (`workbench status --processor --json` says why)"
    if status.get("waiting_for"):
        line += f"; {status['waiting_for']}"
    line += f", process {status['pid']}"
    if status.get("last_error"):
        line += f"; last error {status.get('last_error_at', '')}: {status['last_error']}"
    return line
