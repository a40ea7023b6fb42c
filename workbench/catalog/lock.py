"""One writer at a time per library; the OS drops the lock when the holder dies, even by kill -9.

A writer that finds the lock taken waits for it (``wait_s``, the setting ``write_lock_wait_s``) instead of failing
at once: with ``workbench serve`` running, its processor holds the lock one chunk at a time, and an import, a trash
or a rename started meanwhile should simply run after that chunk. While it waits it leaves a ``.lock.waiting.<pid>``
marker, so a holder that loops (the processor) can step aside between chunks (``someone_waiting``).
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from workbench.errors import LibraryError

#: How often a waiting writer tries the lock again.
POLL_S = 0.1


class WriteLock:
    def __init__(self, root: Path, wait_s: float = 0.0):
        self.path = Path(root) / ".lock"
        self.wait_s = wait_s
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> "WriteLock":
        if self._depth == 0:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            marker = self.path.with_name(f".lock.waiting.{os.getpid()}")
            deadline = time.monotonic() + self.wait_s
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
                            os.close(fd)
                            waited = f" (waited {self.wait_s:g} s)" if self.wait_s else ""
                            raise LibraryError(f"the library is busy: process {holder} is writing to it{waited}; "
                                               f"wait for it to finish (or stop it) and run the command again") \
                                from None
                        marker.touch()
                        time.sleep(POLL_S)
            finally:
                marker.unlink(missing_ok=True)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            self._fd = fd
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def someone_waiting(self) -> bool:
        """Whether another live process is waiting for this lock (a looping holder then pauses between rounds)."""
        for marker in self.path.parent.glob(".lock.waiting.*"):
            try:
                pid = int(marker.name.rsplit(".", 1)[1])
                if pid != os.getpid():
                    os.kill(pid, 0)
                    return True
            except (ValueError, ProcessLookupError):
                marker.unlink(missing_ok=True)     # left by a waiter that died
            except PermissionError:
                return True
        return False
