"""Storage failures a person can act on: each says what is wrong and what to do, in one line.

They are ``LibraryError``s, so the CLI prints them as one line and a batch stops cleanly: nothing half-written is
ever visible (object-store writes are atomic), and the next run resumes where this one stopped.
"""
from __future__ import annotations

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
