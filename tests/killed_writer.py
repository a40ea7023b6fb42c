"""A writer process killed with SIGKILL half-way through storing one original: the crash tests of each storage
(tests/test_storage_crash.py for a folder, tests/test_s3_storage.py for a bucket) replay it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

PRELUDE = '''
import sys, time
from pathlib import Path

class Slow:
    """Hands out 64 KiB at a time and stalls after half, so the writer is mid-write when it is killed."""
    def __init__(self, data): self.data, self.pos = data, 0
    def read(self, n=-1):
        if self.pos >= len(self.data) // 2:
            print("HALF", flush=True); time.sleep(60)
        chunk = self.data[self.pos:self.pos + 65536]; self.pos += len(chunk); return chunk
'''


def kill_9_at_half(body: str, *args: str) -> None:
    """Run ``body`` (Python that stores ``Slow(...)``; ``sys``, ``Path`` and ``Slow`` are there) with ``args`` as
    ``sys.argv[1:]`` in a fresh process, wait until its source has handed out half its bytes, then kill -9 it."""
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(body), *args],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "HALF"       # half the bytes are in the writer's hands now
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
