"""The library's write lock: one writer at a time, the next one waits its turn (up to write_lock_wait_s), and a
holder that loops can see that someone waits. The other writer is a real second process."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.catalog.lock import WriteLock
from workbench.errors import LibraryError

HOLD = """
import sys, time
from pathlib import Path
from workbench.catalog.lock import WriteLock
with WriteLock(Path(sys.argv[1]), wait_s=float(sys.argv[3]) if len(sys.argv) > 3 else 0):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(root: Path, seconds: float) -> subprocess.Popen:
    """Another process that takes the lock and keeps it for ``seconds``; returns once it holds it."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(root), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_writer_waits_for_the_one_before_it(tmp_path: Path) -> None:
    holder = hold(tmp_path, 1.5)
    t = time.monotonic()
    with WriteLock(tmp_path, wait_s=60):
        waited = time.monotonic() - t
    holder.wait(timeout=30)
    assert 0.5 < waited < 30
    assert not list(tmp_path.glob(".lock.waiting.*"))   # the marker goes with the wait


def test_past_its_wait_a_writer_says_who_is_busy(tmp_path: Path) -> None:
    holder = hold(tmp_path, 30)
    try:
        with pytest.raises(LibraryError, match=rf"busy: process {holder.pid} .*waited 0.3 s"):
            with WriteLock(tmp_path, wait_s=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_the_holder_sees_that_someone_waits(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path)
    with lock:
        assert not lock.someone_waiting()
        waiter = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "0", "60"], stdout=subprocess.PIPE,
                                  text=True)
        deadline = time.monotonic() + 60
        while not lock.someone_waiting():
            assert time.monotonic() < deadline and waiter.poll() is None
            time.sleep(0.05)
    assert waiter.stdout.readline().strip() == "held"      # it got the lock as soon as we let go
    waiter.wait(timeout=30)
    assert not lock.someone_waiting()
