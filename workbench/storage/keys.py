"""Where things live inside a library, as storage keys (relative POSIX names, the same on disk and in a bucket).

- ``originals/<aa>/<bb>/<sha256><ext>``: content-addressed originals, write-once (a replaced original is stored as
  ``<sha256>.stored<ext>`` next to them);
- ``derived/...``: files rebuilt from the originals (``thumbnails/<version>/``, ``versions/<policy>/``,
  ``label_banks/``, ``search/``); catalog rows hold these paths relative to ``derived/``;
- ``derived/reconstructed/``: the bounded cache of original JPEGs rebuilt from their JPEG XL;
- ``trash/<key>``: files waiting to be deleted for good (replaced originals, restored-away versions).
"""
from __future__ import annotations

ORIGINALS = "originals"
DERIVED = "derived"
TRASH = "trash"
CACHE = f"{DERIVED}/reconstructed"


def original_key(blob: str) -> str:
    """The key of a stored original from its ``media.blob`` (a path relative to ``originals/``)."""
    return f"{ORIGINALS}/{blob}"


def derived_key(rel: str) -> str:
    """The key of a derived file from the path a catalog row records (relative to ``derived/``)."""
    return f"{DERIVED}/{rel}"


def trash_key(key: str) -> str:
    """Where ``key`` waits in the file trash."""
    return f"{TRASH}/{key}"


def untrash_key(key: str) -> str:
    """The key a trashed file came from."""
    if not key.startswith(TRASH + "/"):
        raise ValueError(f"{key!r} is not in the trash")
    return key[len(TRASH) + 1:]


def check_key(key: str) -> str:
    """``key`` if it is a well-formed relative name inside the library, else ValueError (never ``..`` or ``/x``)."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a storage key: {key!r} (a relative name like 'originals/ab/cd/<sha>.jpg')")
    return key
