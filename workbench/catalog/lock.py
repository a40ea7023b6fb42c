"""One writer at a time per library; the OS drops the lock when the holder dies, even by kill -9."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from workbench.errors import LibraryError


class WriteLock:
    def __init__(self, root: Path):
        self.path = Path(root) / ".lock"
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> "WriteLock":
        if self._depth == 0:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise LibraryError(f"the library is busy: process {holder} is writing to it; wait for it to "
                                   f"finish (or stop it) and run the command again") from None
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
