"""Content-addressed, write-once originals: ``originals/<aa>/<bb>/<sha256><ext>``, stored through ``Storage``.

An original is streamed in while it is hashed, then put in place only if that content is not stored yet (atomic
put-if-absent, see ``workbench.storage``), and never modified afterwards. A process killed mid-write leaves only a
temporary file, which the next writer removes under the library lock (``Storage.clean_tmp``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from workbench.errors import MediaError
from workbench.storage import Storage, original_key
from workbench.storage.base import CHUNK_BYTES


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def blob_relpath(sha256: str, ext: str) -> str:
    """``media.blob`` of content ``sha256``: its path relative to ``originals/``."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{ext}"


def store_original(storage: Storage, src: Path, ext: str) -> tuple[str, str, int]:
    """Copy ``src`` in while hashing it in the same read; returns (sha256, blob relpath, size). Content already
    stored is kept as it is (the new copy is dropped)."""
    try:
        with open(src, "rb") as f:
            stored = storage.put_addressed(f, lambda sha: original_key(blob_relpath(sha, ext)))
    except OSError as e:
        raise MediaError(f"could not copy the file into the library: {e.strerror or e}") from e
    return stored.sha256, blob_relpath(stored.sha256, ext), stored.size_bytes
