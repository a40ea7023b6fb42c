"""Storage failures a person can act on: each says what is wrong and what to do, in one line.

They are ``LibraryError``s, so the CLI prints them as one line and a batch stops cleanly: nothing half-written is
ever visible (object-store writes are atomic), and the next run resumes where this one stopped.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from workbench.errors import LibraryError


class StorageError(LibraryError):
    """The library's storage refused or failed an operation."""


class StorageUnreachable(StorageError):
    """The object store did not answer (wrong endpoint, network down, server stopped)."""


class StorageAccessDenied(StorageError):
    """The object store refused the credentials (unknown key, wrong secret, no permission)."""


class StorageBucketMissing(StorageError):
    """The bucket named in the library's location does not exist."""


class StorageFull(StorageError):
    """The object store refused a write because its quota or disk is full."""


def from_object_store(exc: BaseException, where: str) -> StorageError | None:
    """The one-line error for a failure LanceDB met on a catalog in a bucket (``where``), or None when ``exc`` is
    not one. LanceDB reports them as a RuntimeError or OSError whose text carries the store's answer (a page of
    it, with a Rust source path): the same four causes as the storage's own requests, said the same way."""
    text = str(exc)
    low = text.lower()
    if "s3" not in low and "performing" not in low and "object" not in low:
        return None
    if "nosuchbucket" in low:
        return StorageBucketMissing(f"the bucket of {where} does not exist (any more): create it or fix the library "
                                    f"location, then run the command again")
    if any(c.lower() in low for c in ("XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded",
                                      "507 Insufficient Storage", "storage cap exceeded")):
        return StorageFull(f"the object store refused a write to {where}: its quota or disk is full; free space "
                           f"or raise the quota, then run the command again (it resumes where it stopped)")
    if any(c.lower() in low for c in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403 Forbidden",
                                      "ExpiredToken", "InvalidToken")):
        return StorageAccessDenied(f"the object store refused the credentials for {where}: check "
                                   f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and that the key may read and "
                                   f"write the bucket")
    if any(c in low for c in ("error sending request", "connection refused", "tcp connect error", "dns error",
                              "connection reset", "operation timed out", "timed out")):
        return StorageUnreachable(f"cannot reach the object store holding {where}: check AWS_ENDPOINT_URL (or the "
                                  f"setting s3_endpoint_url) and the network, then run the command again")
    return None


@contextmanager
def object_store_errors(where: str | None) -> Iterator[None]:
    """Turn LanceDB's failures on a catalog in a bucket (``where``; None for a local catalog: nothing to turn) into
    the one-line errors above; anything else passes unchanged."""
    try:
        yield
    except (RuntimeError, OSError) as e:
        err = from_object_store(e, where) if where else None
        if err is None:
            raise
        raise err from None
