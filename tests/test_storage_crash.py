"""A writer killed with SIGKILL in the middle of storing an original loses nothing and leaves nothing half-written:
the key is either absent or whole, the temp file is swept by ``clean_tmp``, and storing again completes."""
from __future__ import annotations

import hashlib
import os

from killed_writer import kill_9_at_half

WRITER = """
from workbench.storage.local import LocalStorage
data = Path(sys.argv[2]).read_bytes()
LocalStorage(Path(sys.argv[1])).put_addressed(Slow(data), lambda h: f"originals/{h[:2]}/{h}.bin")
"""


def test_kill_9_mid_write_leaves_no_partial_original_and_a_retry_completes(tmp_path):
    from workbench.storage.local import LocalStorage
    root = tmp_path / "lib"
    root.mkdir()
    data = os.urandom(4 * 2**20)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    key = f"originals/{sha[:2]}/{sha}.bin"
    kill_9_at_half(WRITER, str(root), str(src))           # half the bytes are in the temp file now
    storage = LocalStorage(root)
    assert not storage.exists(key)                         # nothing half-written under the content's name
    leftovers = [p for p in root.rglob("*") if p.is_file()]
    assert storage.clean_tmp() == len(leftovers)           # what the killed writer left is temp, and is swept
    with open(src, "rb") as f:
        stored = storage.put_addressed(f, lambda h: f"originals/{h[:2]}/{h}.bin")
    assert stored.written and stored.sha256 == sha
    assert hashlib.sha256(storage.read_bytes(key)).hexdigest() == sha
