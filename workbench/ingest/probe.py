"""The per-file half of import, run in a worker process: sniff, read metadata, hash, copy in.

It reads headers only; pixels are decoded later by the thumbnails stage, so a file whose header is sound but
whose pixel data is damaged is still kept (it is the user's file) and its decode failure is recorded there.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import MediaError
from workbench.formats.sniff import sniff
from workbench.imaging.decode import configure_pillow
from workbench.ingest.blobstore import sha256_file, store_original
from workbench.metadata.extract import extract_metadata
from workbench.settings import Settings
from workbench.storage import Storage


@dataclass(frozen=True)
class ProbeTask:
    path: str
    mode: str            # copy | reference
    storage: Storage     # where a copied original is stored
    settings: Settings


def media_id_for(sha256: str) -> str:
    """Media ids are content ids: the same bytes get the same id in every library."""
    return sha256[:16]


def probe_file(task: ProbeTask) -> dict[str, Any]:
    """Everything the ``media`` table needs about one file except owner, place and import time."""
    path = Path(task.path)
    configure_pillow(task.settings)
    try:
        ftype = sniff(path)
    except FileNotFoundError as e:
        raise MediaError("file vanished before it could be read") from e
    except PermissionError as e:
        raise MediaError("permission denied reading the file") from e
    meta = extract_metadata(path, ftype.kind, ftype.mime, task.settings)
    if meta.width and meta.height:
        mp = meta.width * meta.height / 1e6
        if mp > task.settings.max_image_megapixels:
            raise MediaError(f"decompression bomb: {meta.width}x{meta.height} = {mp:.1f} megapixels exceeds "
                             f"max_image_megapixels={task.settings.max_image_megapixels:g}")
    if task.mode == "copy":
        sha, rel, size = store_original(task.storage, path, ftype.ext)
    else:
        sha, rel, size = sha256_file(path), None, path.stat().st_size
    row = dataclasses.asdict(meta)
    warnings = row.pop("warnings")
    row.update(id=media_id_for(sha), sha256=sha, path=str(path), kind=ftype.kind, mime=ftype.mime,
               size_bytes=size, storage=task.mode, blob=rel)
    return {"row": row, "warnings": warnings}


@dataclass(frozen=True)
class StagedProbe:
    """An upload whose bytes are all in the staging area: decided by content, like an imported file."""
    path: str            # the staged file (its name ends with the uploaded file's extension, for RAW vendors)
    settings: Settings


def probe_staged(task: StagedProbe) -> dict[str, Any]:
    """The ``media`` row fields of an uploaded file (sniffed, metadata read, bomb-checked), without storing it:
    the upload path hashed it while receiving and stores it with ``Storage.put_staged``."""
    path = Path(task.path)
    configure_pillow(task.settings)
    ftype = sniff(path)
    meta = extract_metadata(path, ftype.kind, ftype.mime, task.settings)
    if meta.width and meta.height:
        mp = meta.width * meta.height / 1e6
        if mp > task.settings.max_image_megapixels:
            raise MediaError(f"decompression bomb: {meta.width}x{meta.height} = {mp:.1f} megapixels exceeds "
                             f"max_image_megapixels={task.settings.max_image_megapixels:g}")
    row = dataclasses.asdict(meta)
    warnings = row.pop("warnings")
    row.update(kind=ftype.kind, mime=ftype.mime, storage="copy")
    return {"row": row, "warnings": warnings, "ext": ftype.ext}
