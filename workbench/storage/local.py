"""A library's files in a local folder: the storage every library has today.

Writes go to a temporary file in ``<area>/.tmp/`` (``originals/.tmp``, ``derived/.tmp``: the same file system as
their destination), are fsynced and renamed into place, so a file is absent or complete, never half-written. A
stored original is also made read-only and its folder entry synced. Put-if-absent links the temporary file to its
name (``os.link`` fails if the name exists), which is atomic even between processes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from workbench.storage.base import CHUNK_BYTES, Storage, StoredBlob
from workbench.storage.cache import trim_lru
from workbench.storage.keys import CACHE, DERIVED, ORIGINALS, TRASH, check_key

TMP = ".tmp"
#: Uploads being received (``staging_file``): beside the library's areas, never listed or served.
STAGING = "staging"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(Storage):
    """The folder ``root`` of a library; picklable (it is only its root), so it travels to worker processes."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalStorage) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _tmp_dir(self, key: str) -> Path:
        return self.root / key.split("/", 1)[0] / TMP

    def _tmp_file(self, key: str) -> Path:
        d = self._tmp_dir(key)
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{uuid.uuid4().hex}.part"

    # -- reading --------------------------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def modified_at(self, key: str) -> float:
        return self._path(key).stat().st_mtime

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != TMP]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                yield f"{rel}/{name}"

    # -- writing --------------------------------------------------------------------------------------------
    def _write_tmp(self, key: str, data: bytes | Iterable[bytes] | BinaryIO,
                   hasher: "hashlib._Hash | None" = None) -> tuple[Path, int]:
        tmp = self._tmp_file(key)
        size = 0
        try:
            with open(tmp, "wb") as f:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    f.write(data)
                    size = len(data)
                    if hasher is not None:
                        hasher.update(data)
                else:
                    chunks = iter(lambda: data.read(CHUNK_BYTES), b"") if hasattr(data, "read") else data
                    for chunk in chunks:
                        if hasher is not None:
                            hasher.update(chunk)
                        f.write(chunk)
                        size += len(chunk)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, size

    def write(self, key: str, data: bytes | Iterable[bytes], *, immutable: bool = False) -> int:
        dest = self._path(key)
        tmp, size = self._write_tmp(key, data)
        if immutable:
            os.chmod(tmp, 0o444)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if immutable and dest.exists():
            os.chmod(dest, 0o644)
        os.replace(tmp, dest)
        if immutable:
            _fsync_dir(dest.parent)
        return size

    def _place_if_absent(self, tmp: Path, key: str, size: int) -> bool:
        """Link the finished temporary file to ``key`` unless a complete file (same size) is already there."""
        dest = self._path(key)
        os.chmod(tmp, 0o444)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            try:
                os.link(tmp, dest)
            except FileExistsError:
                if dest.stat().st_size == size:
                    return False
                os.chmod(dest, 0o644)            # a damaged or truncated copy: replace it
                os.replace(tmp, dest)
            except OSError:                      # a file system without hard links: check, then rename
                if dest.exists() and dest.stat().st_size == size:
                    return False
                os.replace(tmp, dest)
            _fsync_dir(dest.parent)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def put_addressed(self, src: BinaryIO, key_for: Callable[[str], str]) -> StoredBlob:
        h = hashlib.sha256()
        tmp, size = self._write_tmp(key_for("0" * 64), src, hasher=h)
        sha = h.hexdigest()
        key = key_for(sha)
        try:
            written = self._place_if_absent(tmp, key, size)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredBlob(sha, key, size, written)

    def put_if_absent(self, key: str, data: bytes | Iterable[bytes]) -> bool:
        if self.exists(key):
            return False
        tmp, size = self._write_tmp(key, data)
        return self._place_if_absent(tmp, key, size)

    def delete(self, key: str) -> bool:
        p = self._path(key)
        try:
            os.chmod(p, stat.S_IWUSR | stat.S_IRUSR)  # stored originals are read-only
            p.unlink()
            return True
        except FileNotFoundError:
            return False

    def move(self, src: str, dest: str) -> None:
        d = self._path(dest)
        d.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(src), d)
        _fsync_dir(d.parent)

    def purge(self, prefix: str) -> tuple[int, int]:
        n, size = super().purge(prefix)
        folder = self._path(prefix.rstrip("/"))
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        return n, size

    def clean_tmp(self) -> int:
        n = 0
        # Only the storage's own areas: ``catalog/`` and the rest of the root belong to others.
        for tmp in (self.root / ORIGINALS / TMP, self.root / DERIVED / TMP, self.root / TRASH / TMP,
                    self.root / CACHE / TMP):    # the cache's was used before the storage layer existed
            if tmp.is_dir():
                for p in tmp.iterdir():
                    p.unlink(missing_ok=True)
                    n += 1
        return n

    # -- staging: uploads being received --------------------------------------------------------------------
    def staging_dir(self) -> Path:
        return self.root / STAGING

    def put_staged(self, name: str, key: str) -> bool:
        src = self.staging_file(name)
        with open(src, "rb") as f:       # durable before any catalog row can name it
            os.fsync(f.fileno())
        # The staging area is on the library's file system: a rename, not a copy (a 4 GB video is not copied twice).
        tmp = self._tmp_file(key)
        os.replace(src, tmp)
        return self._place_if_absent(tmp, key, tmp.stat().st_size)

    # -- local files ----------------------------------------------------------------------------------------
    def local_file(self, key: str) -> Path:
        return self._path(key)

    def materialize(self, key: str, build: Callable[[], bytes], *, expected_size: int | None,
                    max_cache_bytes: int) -> Path:
        dest = self._path(key)
        if dest.exists() and (expected_size is None or dest.stat().st_size == expected_size):
            os.utime(dest)   # recently used: trimmed last
            return dest
        self.write(key, build())
        self._trim(dest.parent.parent, max_cache_bytes, keep=dest)
        return dest

    @staticmethod
    def _trim(folder: Path, max_bytes: int, keep: Path) -> None:
        trim_lru((p for p in folder.glob("*/*") if p.parent.name != TMP), max_bytes, keep)
