"""A writer killed with SIGKILL in the middle of storing an original loses nothing and leaves nothing half-written:
the key is either absent or whole, the temp file is swept by ``clean_tmp``, and storing again completes."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from workbench.storage.local import LocalStorage

    class Slow:
        '''A source that hands out 64 KiB at a time and stalls after half, so the writer is mid-write.'''
        def __init__(self, data): self.data, self.pos = data, 0
        def read(self, n=-1):
            if self.pos >= len(self.data) // 2:
                print("HALF", flush=True); time.sleep(60)
            chunk = self.data[self.pos:self.pos + 65536]; self.pos += len(chunk); return chunk

    data = Path(sys.argv[2]).read_bytes()
    LocalStorage(Path(sys.argv[1])).put_addressed(Slow(data), lambda h: f"originals/{h[:2]}/{h}.bin")
""")


def test_kill_9_mid_write_leaves_no_partial_original_and_a_retry_completes(tmp_path):
    from workbench.storage.local import LocalStorage
    root = tmp_path / "lib"
    root.mkdir()
    data = os.urandom(4 * 2**20)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    key = f"originals/{sha[:2]}/{sha}.bin"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(src)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "HALF"       # half the bytes are in the temp file now
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    storage = LocalStorage(root)
    assert not storage.exists(key)                         # nothing half-written under the content's name
    leftovers = [p for p in root.rglob("*") if p.is_file()]
    assert storage.clean_tmp() == len(leftovers)           # what the killed writer left is temp, and is swept
    with open(src, "rb") as f:
        stored = storage.put_addressed(f, lambda h: f"originals/{h[:2]}/{h}.bin")
    assert stored.written and stored.sha256 == sha
    assert hashlib.sha256(storage.read_bytes(key)).hexdigest() == sha
