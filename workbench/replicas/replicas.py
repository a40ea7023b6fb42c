"""Replica stores: every original of a library copied to other folders or buckets, verified by hash after the copy.

A replica is any ``Storage`` (a ``LocalStorage`` of another disk, an S3 bucket): originals keep their keys there, so
a replica is laid out like the library's ``originals/``. What is copied is the bytes *as stored*: for an encrypted
library the ciphertext of its raw layer (``EncryptedStorage.inner``, named by ``name_of``), so a replica in
someone else's bucket sees nothing either. A copy counts only once it was read back from the replica and its
sha256 matched (a ``replica_copies`` row); the copy itself is atomic (``Storage.write``), so a sync killed at any
point leaves complete files or none, and the next sync resumes where it stopped without sending anything twice.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.catalog.filters import Eq
from workbench.catalog.store import Catalog
from workbench.errors import WorkbenchError
from workbench.progress import bar
from workbench.settings import Settings
from workbench.storage import ORIGINALS, Storage, open_storage, original_key
from workbench.storage.base import CHUNK_BYTES


class ReplicaError(WorkbenchError):
    """A replica cannot be added, found or written (a wrong path, the library itself, an unreachable bucket)."""


class ContentMismatch(Exception):
    """Bytes read did not hash to what they must be: raised inside a copy, before the copy replaces anything."""


@dataclass(frozen=True)
class Original:
    """One stored original: its media, its key in the library's storage, and the sha256 its bytes must have (the
    stored file's for a replaced original)."""

    media_id: str
    key: str
    sha256: str


@dataclass
class SyncReport:
    """What one sync of one replica did."""

    replica: str
    copied: int = 0
    already_there: int = 0          # found complete on the replica (a killed sync's work), recorded without copying
    bytes_copied: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)   # (media id or "*" for all, reason)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# -- the raw layer: bytes as stored ------------------------------------------------------------------------------
def raw_layer(storage: Storage) -> Storage:
    """The storage holding the bytes as stored: an encrypting storage's ``inner`` one, else ``storage`` itself."""
    inner = getattr(storage, "inner", None)
    return inner if isinstance(inner, Storage) else storage


def stored_key(storage: Storage, key: str) -> str:
    """The name ``key`` is stored under in ``raw_layer(storage)``: an encrypted library names objects by a keyed
    hash (``EncryptedStorage.name_of``), so a replica's object names reveal no content hash either."""
    f = getattr(storage, "name_of", None)
    return f(key) if callable(f) and raw_layer(storage) is not storage else key


def is_layered(storage: Storage) -> bool:
    """Whether stored bytes differ from content (encrypted): then the stored bytes' hash is learnt, not known."""
    return raw_layer(storage) is not storage


def chunks_of(storage: Storage, key: str) -> Iterator[bytes]:
    """``key``'s bytes in chunks (a video is never read whole)."""
    with storage.open(key) as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def hash_of(storage: Storage, key: str) -> tuple[str, int]:
    """(sha256, size) of ``key``'s bytes; FileNotFoundError when absent, any other error when unreadable (for an
    encrypted storage read at its top, a failed authentication)."""
    h = hashlib.sha256()
    n = 0
    for chunk in chunks_of(storage, key):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def checked_chunks(chunks: Iterable[bytes], expected_sha256: str | None, on_digest: Callable[[str, int], None]
                   | None = None) -> Iterator[bytes]:
    """``chunks`` passed through while hashing; at the end, ContentMismatch unless they hashed to
    ``expected_sha256`` (None: any). Raised before the consumer's write completes, so an atomic write of these
    chunks never puts wrong bytes in place."""
    h = hashlib.sha256()
    n = 0
    for chunk in chunks:
        h.update(chunk)
        n += len(chunk)
        yield chunk
    digest = h.hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ContentMismatch(f"read {n} bytes hashing to {digest[:16]}..., expected {expected_sha256[:16]}...")
    if on_digest is not None:
        on_digest(digest, n)


def describe(exc: BaseException) -> str:
    """A short reason for a failed read or write."""
    if isinstance(exc, FileNotFoundError):
        return "the file is gone"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def library_originals(catalog: Catalog) -> list[Original]:
    """Every original the library stores itself (copy mode), sorted by key; referenced files are the user's."""
    if catalog.count("media") == 0:
        return []
    t = catalog.read("media", ["id", "sha256", "blob", "storage", "stored_sha256"], Eq("storage", "copy")).to_pylist()
    out = [Original(r["id"], original_key(r["blob"]), r["stored_sha256"] or r["sha256"]) for r in t if r["blob"]]
    return sorted(out, key=lambda o: o.key)


# -- replicas ----------------------------------------------------------------------------------------------------
def replica_storage(target: str) -> Storage:
    """The storage of a replica target (a folder, or ``s3://bucket/prefix``). A replica folder that has vanished (a
    disk not mounted) is an error, not a new empty folder on whatever disk holds its mount point."""
    if "://" not in target and not Path(target).is_dir():
        raise ReplicaError(f"the replica folder {target} is not there (is its disk mounted?)")
    return open_storage(target)


class Replicas:
    """A library's replica stores (``Library.replicas``): add, list, remove, status, and sync.

    Needs the library's catalog, storage, settings and write lock (a sync writes catalog rows)."""

    def __init__(self, catalog: Catalog, storage: Storage, settings: Settings, lock: Any, root: Path):
        self.catalog = catalog
        self.storage = storage
        self.settings = settings
        self.lock = lock
        self.root = Path(root)

    # -- configuration --------------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        """The replicas, in the order they were added (the order scrub tries them in when repairing)."""
        rows = self.catalog.read("replicas").to_pylist()
        return sorted(rows, key=lambda r: r["added_at"])

    def get(self, name: str) -> dict[str, Any]:
        for r in self.list():
            if r["name"] == name:
                return r
        known = ", ".join(r["name"] for r in self.list()) or "none yet"
        raise ReplicaError(f"no replica named {name!r} (replicas: {known}); add one with `workbench replicas add`")

    def open(self, name: str) -> Storage:
        """The storage of replica ``name``."""
        return replica_storage(self.get(name)["target"])

    def add(self, target: str, name: str | None = None) -> dict[str, Any]:
        """Name a new replica store: a folder (created if missing) or ``s3://bucket/prefix``. Nothing is copied
        until ``sync`` (which ``Library.process`` runs at its end)."""
        if "://" not in target:
            path = Path(target).expanduser().absolute()
            lib = self.root.absolute()
            if path == lib or lib in path.parents or path in lib.parents:
                raise ReplicaError(f"{path} is the library folder, inside it, or contains it: a replica must be "
                                   f"another folder, ideally on another disk")
            if path.exists() and not path.is_dir():
                raise ReplicaError(f"{path} is a file, not a folder")
            path.mkdir(parents=True, exist_ok=True)
            target = str(path)
            default_name = path.name
        else:
            default_name = target.rstrip("/").rsplit("/", 1)[-1] or target
        name = name or default_name
        existing = self.list()
        if any(r["name"] == name for r in existing):
            raise ReplicaError(f"a replica named {name!r} exists already; choose another with --name")
        if any(r["target"] == target for r in existing):
            raise ReplicaError(f"{target} is already a replica of this library")
        try:
            list(replica_storage(target).list(ORIGINALS))    # reachable, or one clear error now
        except WorkbenchError:
            raise
        except Exception as e:
            raise ReplicaError(f"cannot read replica {target}: {describe(e)}") from e
        row = {"name": name, "target": target, "added_at": now_utc()}
        with self.lock:
            self.catalog.upsert("replicas", [row], "name")
        return row

    def remove(self, name: str) -> None:
        """Forget replica ``name`` (its files stay where they are)."""
        self.get(name)
        with self.lock:
            self.catalog.delete("replicas", Eq("name", name))
            self.catalog.delete("replica_copies", Eq("replica", name))

    # -- what is where --------------------------------------------------------------------------------------
    def copies(self, name: str) -> dict[str, dict[str, Any]]:
        """The verified copies on replica ``name``: object key -> its ``replica_copies`` row."""
        t = self.catalog.read("replica_copies", ["object_key", "media_id", "sha256", "size_bytes"],
                              Eq("replica", name)).to_pylist()
        return {r["object_key"]: r for r in t}

    def status(self, originals: list[Original] | None = None) -> pd.DataFrame:
        """Per replica: originals safe there (copied and verified) and pending. From the catalog: no replica I/O
        (scrub re-reads the copies)."""
        originals = library_originals(self.catalog) if originals is None else originals
        keys = {stored_key(self.storage, o.key) for o in originals}
        rows = []
        for r in self.list():
            safe = len(keys & set(self.copies(r["name"])))
            rows.append({"replica": r["name"], "target": r["target"], "originals": len(keys), "safe": safe,
                         "pending": len(keys) - safe})
        return pd.DataFrame(rows, columns=["replica", "target", "originals", "safe", "pending"])

    # -- sync -----------------------------------------------------------------------------------------------
    def sync(self, names: Iterable[str] | None = None, *, progress: bool | None = None) -> list[SyncReport]:
        """Copy every original not yet verified on each replica (or the named ones) and verify it there."""
        chosen = [self.get(n) for n in names] if names else self.list()
        if not chosen:
            return []
        reports = []
        with self.lock:
            originals = library_originals(self.catalog)
            for r in chosen:
                reports.append(self._sync_one(r, originals, progress))
        return reports

    def _sync_one(self, replica: dict[str, Any], originals: list[Original], progress: bool | None) -> SyncReport:
        name = replica["name"]
        report = SyncReport(name)
        try:
            target = replica_storage(replica["target"])
            target.clean_tmp()    # leftovers of a sync killed mid-copy (a replica belongs to one library)
        except Exception as e:   # an unplugged disk or an unreachable bucket must not stop the other replicas
            report.failures.append(("*", f"replica {name} unreachable: {describe(e)}"))
            return report
        have = self.copies(name)
        todo = [o for o in originals if stored_key(self.storage, o.key) not in have]
        pending_rows: list[dict[str, Any]] = []
        last_commit = time.monotonic()

        def commit() -> None:
            nonlocal last_commit
            if pending_rows:
                self.catalog.upsert("replica_copies", pending_rows, "key")
                pending_rows.clear()
            last_commit = time.monotonic()

        with bar(len(todo), f"sync {name}", progress) as pb:
            for o in todo:
                try:
                    row, copied = self.copy_to(target, name, o)
                except Exception as e:   # one bad original never stops the others
                    report.failures.append((o.media_id, describe(e)))
                else:
                    pending_rows.append(row)
                    if copied:
                        report.copied += 1
                        report.bytes_copied += row["size_bytes"]
                    else:
                        report.already_there += 1
                pb.update(1)
                if (len(pending_rows) >= self.settings.commit_every_files
                        or time.monotonic() - last_commit >= self.settings.commit_every_s):
                    commit()
            commit()
        return report

    def copy_to(self, target: Storage, name: str, o: Original, *, force: bool = False) -> tuple[dict[str, Any], bool]:
        """Put original ``o`` on replica ``target`` as stored and verify it there; returns its ``replica_copies``
        row and whether bytes were sent (False: a complete, matching copy was there already). The primary's copy
        is checked first: a corrupt original is never replicated (ContentMismatch; scrub repairs it)."""
        raw = raw_layer(self.storage)
        rkey = stored_key(self.storage, o.key)
        expected = None if is_layered(self.storage) else o.sha256
        if is_layered(self.storage):
            # Authenticate the primary through its decrypting layer; the ciphertext's hash is then learnt.
            got, _ = hash_of(self.storage, o.key)
            if got != o.sha256:
                raise ContentMismatch("the library's copy does not match its recorded hash; run `workbench scrub`")
        if not force and target.exists(rkey):
            digest, size = hash_of(target, rkey)
            if expected is None:
                expected_raw, _ = hash_of(raw, rkey)
            else:
                expected_raw = expected
            if digest == expected_raw:
                return self._row(name, o, rkey, digest, size), False
        learnt: dict[str, Any] = {}
        try:
            target.write(rkey, checked_chunks(chunks_of(raw, rkey), expected,
                                              lambda d, n: learnt.update(sha256=d, size=n)), immutable=True)
        except ContentMismatch as e:
            raise ContentMismatch(f"the library's copy does not match its recorded hash ({e}); "
                                  f"run `workbench scrub` to repair it") from e
        digest, size = hash_of(target, rkey)        # read back from the replica: the copy counts only if it matches
        if digest != learnt["sha256"] or size != learnt["size"]:
            raise ContentMismatch(f"the copy on replica {name} reads back as {digest[:16]}... ({size} bytes), "
                                  f"sent {learnt['sha256'][:16]}... ({learnt['size']} bytes)")
        return self._row(name, o, rkey, digest, size), True

    @staticmethod
    def _row(name: str, o: Original, rkey: str, digest: str, size: int) -> dict[str, Any]:
        return {"key": f"{name}\0{rkey}", "replica": name, "object_key": rkey, "media_id": o.media_id,
                "sha256": digest, "size_bytes": size, "verified_at": now_utc()}
