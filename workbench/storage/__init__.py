"""The one door to a library's files: originals, renditions, compressed versions, the file trash and caches.

Every module reads and writes them through a ``Storage`` (``Library.storage``, ``StageContext.storage``) by key, a
relative POSIX name such as ``originals/ab/cd/<sha256>.jpg``; only this package turns a key into a place. Today that
place is a folder (``LocalStorage``); object storage, encryption at rest and replicas (issues 16 and 17) plug in
behind the same methods. See ``workbench.storage.keys`` for the layout and ``base.Storage`` for the contract.
"""
from __future__ import annotations

from pathlib import Path

from workbench.storage.base import Storage, StoredBlob
from workbench.storage.keys import (CACHE, DERIVED, ORIGINALS, TRASH, derived_key, original_key, trash_key,
                                    untrash_key)
from workbench.storage.local import LocalStorage

__all__ = ["Storage", "StoredBlob", "LocalStorage", "open_storage", "ORIGINALS", "DERIVED", "TRASH", "CACHE",
           "original_key", "derived_key", "trash_key", "untrash_key"]


def open_storage(root: str | Path) -> Storage:
    """The storage of the library at ``root`` (a local folder today; ``s3://`` roots come with issue 16)."""
    return LocalStorage(Path(root))
