"""The one door to a library's files: originals, renditions, compressed versions, the file trash and caches.

Every module reads and writes them through a ``Storage`` (``Library.storage``, ``StageContext.storage``) by key, a
relative POSIX name such as ``originals/ab/cd/<sha256>.jpg``; only this package turns a key into a place. A place is a
folder (``LocalStorage``) or a bucket prefix (``S3Storage``, issue 16); encryption at rest and replicas plug in
behind the same methods. See ``workbench.storage.keys`` for the layout and ``base.Storage`` for the contract.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.storage.base import Storage, StoredBlob
from workbench.storage.keys import (CACHE, DERIVED, ORIGINALS, TRASH, derived_key, original_key, trash_key,
                                    untrash_key)
from workbench.storage.local import LocalStorage
from workbench.storage.location import is_remote, local_home, normalize

if TYPE_CHECKING:
    from workbench.settings import Settings

__all__ = ["Storage", "StoredBlob", "LocalStorage", "open_storage", "ORIGINALS", "DERIVED", "TRASH", "CACHE",
           "original_key", "derived_key", "trash_key", "untrash_key", "is_remote", "local_home"]


def open_storage(root: str | Path, settings: "Settings | None" = None) -> Storage:
    """The storage of the library at ``root``: a folder, or ``s3://bucket/prefix`` (one client per process, made
    from the library's settings and the standard AWS environment variables; see ``docs/storage.md``)."""
    if is_remote(root):
        from workbench.settings import Settings
        s = settings if settings is not None else Settings.load(local_home(str(root)))
        env = tuple(os.environ.get(k, "") for k in _S3_ENV)
        return _s3_storage(normalize(str(root)), s.s3_endpoint_url, s.s3_region, s.s3_part_size_bytes,
                           s.s3_cache_max_bytes, s.s3_stale_upload_hours, env)
    return LocalStorage(Path(root))


_S3_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
           "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "WORKBENCH_STATE_HOME")


@functools.lru_cache(maxsize=32)
def _s3_storage(location: str, endpoint_url: str, region: str, part_size_bytes: int, cache_max_bytes: int,
                stale_upload_hours: float, env: tuple[str, ...]) -> Storage:
    from workbench.storage.s3 import S3Storage
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return S3Storage(location, local_home(location) / "cache", endpoint_url=endpoint_url or None, region=region,
                     part_size_bytes=part_size_bytes, cache_max_bytes=cache_max_bytes,
                     stale_upload_hours=stale_upload_hours)
