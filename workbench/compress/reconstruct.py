"""Reading a media whose original was replaced by its JPEG XL (``stored_as`` jxl-reconstructible): the exact
original JPEG, rebuilt on demand into a bounded cache of the storage.

Why a module of its own: stages read such originals through ``StageContext.materialize_source``, which needs this; the
rest of ``compress/replace.py`` is the replace-originals workflow above the stages (tests/test_layers.py, rule 6).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from workbench.errors import MediaError
from workbench.storage import CACHE, Storage, original_key

#: ``media.stored_as`` of an original replaced by a JPEG XL holding the JPEG reconstruction data: the original
#: rebuilds exactly (``compress/replace.py`` writes it; the stages and the media handler read it).
RECONSTRUCTIBLE = "jxl-reconstructible"

#: Rebuilt original JPEGs of ``jxl-reconstructible`` media live in the cache ``derived/reconstructed/``.
#: Upper bound of that cache: beyond it the least recently used rebuilt JPEGs are removed (they rebuild on demand).
RECONSTRUCTED_CACHE_MAX_BYTES = 1 << 30


def cached_key(media_id: str) -> str:
    """The cache key of the JPEG rebuilt from a ``jxl-reconstructible`` media's JPEG XL."""
    return f"{CACHE}/{media_id[:2]}/{media_id}.jpg"


def reconstructed_original(storage: Storage, row: dict[str, Any],
                           max_cache_bytes: int = RECONSTRUCTED_CACHE_MAX_BYTES) -> Path:
    """A local file of the exact original JPEG of a ``jxl-reconstructible`` media, rebuilt from its stored JPEG XL
    into the storage's cache (or found there): an explicit write (``Storage.materialize``). Raises ``MediaError`` if
    the stored file no longer rebuilds the media's bytes."""
    def build() -> bytes:
        from workbench.compress.lossless import jxl_to_jpeg
        try:
            data = jxl_to_jpeg(storage.read_bytes(original_key(row["blob"])))
        except ValueError as e:
            raise MediaError(f"the stored JPEG XL no longer rebuilds the original JPEG ({e}): run `workbench "
                             f"verify`") from None
        sha = hashlib.sha256(data).hexdigest()
        if sha != row.get("sha256", sha) or not sha.startswith(row["id"]):
            raise MediaError("the JPEG rebuilt from the stored JPEG XL is not the original: run `workbench verify`")
        return data

    return storage.materialize(cached_key(row["id"]), build, expected_size=row.get("size_bytes"),
                               max_cache_bytes=max_cache_bytes)


def drop_cached(storage: Storage, media_ids: list[str]) -> None:
    """Forget rebuilt JPEGs (a derived cache, rebuilt on demand) of these media."""
    for mid in media_ids:
        storage.delete(cached_key(mid))
