"""Content-addressed, write-once storage for originals and derived files.

An original lives at ``originals/<aa>/<bb>/<sha256><ext>`` and is never modified: it is written to a
temporary file, fsynced, renamed into place (atomic on one file system) and made read-only. A process killed
mid-write leaves only a file in ``.tmp/``, which the next writer removes under the library lock.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from workbench.errors import MediaError

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def blob_relpath(sha256: str, ext: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{ext}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(dest: Path, data: bytes, tmp_dir: Path, *, read_only: bool = False) -> None:
    """Write ``data`` to ``dest`` so that ``dest`` is either absent or complete, never half-written.
    ``read_only`` makes it a stored original: mode 0444, an existing file of that name replaced, the folder
    entry synced too."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if read_only:
        os.chmod(tmp, 0o444)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if read_only and dest.exists():
        os.chmod(dest, 0o644)
    os.replace(tmp, dest)
    if read_only:
        _fsync_dir(dest.parent)


class BlobStore:
    """The ``originals/`` folder of a library."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp = self.root / ".tmp"

    def path(self, relpath: str) -> Path:
        return self.root / relpath

    def copy_in(self, src: Path, ext: str) -> tuple[str, str, int]:
        """Copy ``src`` in while hashing it in the same read; returns (sha256, relpath, size).

        If the content is already stored, the temporary copy is dropped and the stored file is kept as is.
        """
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{uuid.uuid4().hex}.part"
        h = hashlib.sha256()
        size = 0
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                while chunk := fin.read(CHUNK):
                    h.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            sha = h.hexdigest()
            rel = blob_relpath(sha, ext)
            dest = self.root / rel
            if dest.exists() and dest.stat().st_size == size:
                tmp.unlink()
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, dest)
                _fsync_dir(dest.parent)
            return sha, rel, size
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise MediaError(f"could not copy the file into the library: {e.strerror or e}") from e

    def clean_tmp(self) -> int:
        """Remove leftovers of interrupted writes; call only while holding the library lock."""
        if not self.tmp.exists():
            return 0
        n = 0
        for p in self.tmp.iterdir():
            p.unlink(missing_ok=True)
            n += 1
        return n

    @staticmethod
    def remove_tree_tmp(root: Path) -> None:
        shutil.rmtree(root / ".tmp", ignore_errors=True)
