"""The storage contract every backend keeps (a folder today; object storage, encryption and replicas later).

Why these operations: originals are content-addressed and write-once, so the one write they need is an atomic
put-if-absent that hashes while it streams (``put_addressed``); videos are served by ranges (``read_range``) and
never read whole (``open``); deleting goes through the file trash first (``to_trash``/``from_trash``, ``purge``);
and decoders that insist on a file name get one explicitly (``local_file``/``local_copy``), never a path built
under the library root. A write that a read needs (a JPEG rebuilt from its JPEG XL) is an explicit cache operation,
``materialize``, so reading never writes behind the caller's back.
"""
from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

#: Chunk size of streamed copies and hashing (1 MiB: large enough that syscalls cost nothing measurable).
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class StoredBlob:
    """What ``put_addressed`` stored: the content's sha256, the key it lives at, its size, and whether this call
    wrote it (False: the same content was already there)."""

    sha256: str
    key: str
    size_bytes: int
    written: bool


class Storage(ABC):
    """Keys are relative POSIX names (see ``workbench.storage.keys``); missing keys raise ``FileNotFoundError``."""

    #: Each write waits on a network round trip (object storage): callers that write several files may keep a few
    #: writes in flight from threads while they go on (``workbench.storage.inflight``). Such a storage's writes
    #: are safe to call from several threads at once.
    overlaps_writes: bool = False

    # -- reading --------------------------------------------------------------------------------------------
    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a file."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size of ``key`` in bytes."""

    def checked_size(self, key: str) -> int:
        """Size of ``key`` in bytes, after whatever check the storage can make without reading it all (an
        encrypted object's header and sealed name): what a server asks before it promises a length to a client."""
        return self.size(key)

    @abstractmethod
    def modified_at(self, key: str) -> float:
        """When ``key`` was last written (seconds since the epoch)."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of ``key`` for reading in chunks (close it, or use it in ``with``)."""

    def read_bytes(self, key: str) -> bytes:
        """The whole of a small file (thumbnails, previews); stream big ones with ``open``."""
        with self.open(key) as f:
            return f.read()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from offset ``start`` (fewer at the end of the file): how a video is played."""
        with self.open(key) as f:
            f.seek(start)
            return f.read(length)

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` (a folder-like key), in no particular order; temporary files never show."""

    # -- writing --------------------------------------------------------------------------------------------
    @abstractmethod
    def write(self, key: str, data: bytes | Iterable[bytes], *, immutable: bool = False) -> int:
        """Store ``data`` (bytes or an iterable of chunks) at ``key`` atomically: readers see the old file or the
        complete new one, never a part. ``immutable`` marks a stored original (durable and read-only). Returns
        the number of bytes written."""

    @abstractmethod
    def put_addressed(self, src: BinaryIO, key_for: Callable[[str], str]) -> StoredBlob:
        """Stream ``src`` in while hashing it and store it at ``key_for(sha256)`` unless that content is already
        there: atomic (two writers of the same content end with one complete file) and idempotent."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes | Iterable[bytes]) -> bool:
        """Store immutable ``data`` at ``key`` only if nothing complete is there yet; True if this call wrote it."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key`` for good (read-only or not); False if it was not there. Prefer ``to_trash``."""

    @abstractmethod
    def move(self, src: str, dest: str) -> None:
        """Rename ``src`` to ``dest`` durably (replacing ``dest``)."""

    def to_trash(self, key: str) -> str:
        """Move ``key`` into the file trash (``trash/<key>``); returns its trash key."""
        from workbench.storage.keys import trash_key
        dest = trash_key(key)
        self.move(key, dest)
        return dest

    def from_trash(self, key: str) -> None:
        """Put a file back from the trash to ``key`` (the key it had before ``to_trash``)."""
        from workbench.storage.keys import trash_key
        self.move(trash_key(key), key)

    def purge(self, prefix: str) -> tuple[int, int]:
        """Delete every file under ``prefix`` for good; returns (files, bytes)."""
        n = size = 0
        for key in list(self.list(prefix)):
            try:
                s = self.size(key)
            except FileNotFoundError:
                continue
            if self.delete(key):
                n, size = n + 1, size + s
        return n, size

    @abstractmethod
    def clean_tmp(self) -> int:
        """Remove leftovers of interrupted writes; call only while holding the library's write lock."""

    # -- local files for decoders that need one -------------------------------------------------------------
    @abstractmethod
    def local_file(self, key: str) -> Path:
        """A local file holding ``key``'s bytes, for a library that only opens file names (ffmpeg, rawpy, tornado's
        file server). Treat it as read-only and as valid until the key changes: a folder backend returns the stored
        file itself, a remote or encrypted one a copy in its local cache."""

    def original_file(self, key: str) -> Path:
        """``local_file`` of a stored original (write-once, its key names its content) for a decoder: a backend
        that keeps local copies may hand over one it holds without asking the store whether the object changed
        (it cannot have). Checking what is stored (``verify``) uses ``local_file``."""
        return self.local_file(key)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """``local_file`` scoped to a ``with`` block, for callers that want no lasting local copy."""
        yield self.local_file(key)

    # -- staging: uploads being received ----------------------------------------------------------------------
    def staging_dir(self) -> Path:
        """The local folder of uploads arriving in pieces. By default beside the backend's local cache folder
        (``cache_dir``: object storage and encrypted libraries keep one outside the library); a folder library
        has its own."""
        cache = getattr(self, "cache_dir", None)
        if cache is None:
            raise NotImplementedError(f"{type(self).__name__} has no local folder for uploads being received")
        return Path(cache).parent / "upload-staging"

    def staging_file(self, name: str) -> Path:
        """A local file of the staging area (appended to, then stored with ``put_staged`` or deleted). Not part
        of the library: nothing lists or serves it."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"not a staging file name: {name!r}")
        d = self.staging_dir()
        d.mkdir(parents=True, exist_ok=True)
        return d / name

    def staging_names(self) -> list[str]:
        """Names of the files in the staging area."""
        d = self.staging_dir()
        return sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() else []

    def put_staged(self, name: str, key: str) -> bool:
        """Store the complete staged file ``name`` at ``key`` unless that content is already there (as
        ``put_addressed``: here by streaming it in, encrypted or uploaded as the backend does); the staged file is
        consumed. True if written."""
        src = self.staging_file(name)
        with open(src, "rb") as f:
            stored = self.put_addressed(f, lambda _sha: key)
        src.unlink(missing_ok=True)
        return stored.written

    @abstractmethod
    def materialize(self, key: str, build: Callable[[], bytes], *, expected_size: int | None,
                    max_cache_bytes: int) -> Path:
        """A local file of the cache entry ``key`` (under ``derived/``): found, or written from ``build()``; the
        cache folder is then trimmed to ``max_cache_bytes``, least recently used first. The one sanctioned write
        on a read path, made explicit by name."""
