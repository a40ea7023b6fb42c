"""The per-file half of import, run in a worker process: sniff, read metadata, hash, copy in.

It reads headers only; pixels are decoded later by the thumbnails stage, so a file whose header is sound but
whose pixel data is damaged is still kept (it is the user's file) and its decode failure is recorded there.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import MediaError
from workbench.formats.sniff import sniff
from workbench.imaging.decode import configure_pillow
from workbench.ingest.blobstore import sha256_file, store_original
from workbench.metadata.extract import extract_metadata
from workbench.parallel import Failure
from workbench.settings import Settings
from workbench.storage import Storage
from workbench.storage.inflight import InFlight


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
    ftype, meta = _read_headers(task)
    return _result(task, ftype, meta, _store(task, ftype.ext))


@dataclass(frozen=True)
class ProbeBatch:
    """Several files for one worker task: on object storage (``Storage.overlaps_writes``) a file's upload goes on
    in a thread while the next file is read and hashed (``probe_files``)."""
    paths: tuple[str, ...]
    mode: str
    storage: Storage
    settings: Settings

    def tasks(self) -> list[ProbeTask]:
        return [ProbeTask(p, self.mode, self.storage, self.settings) for p in self.paths]


def probe_files(batch: ProbeBatch) -> list[Any]:
    """``probe_file`` of each file of ``batch``, in order: its result, or the ``Failure`` of that file alone (a
    bad file never fails the others). Each original is stored (hashed into the local spool, then uploaded) in one
    of a few threads while the next file's headers are read; the list is returned only once every upload has
    finished, so the import commits no row before its original is stored. A storage failure (unreachable, full,
    refused) raises for the whole batch, as for one file."""
    from workbench.parallel import call_as_result

    tasks = batch.tasks()
    out: list[Any] = [None] * len(tasks)
    headers: dict[int, tuple[Any, Any]] = {}
    stores: dict[int, Any] = {}
    with InFlight(batch.storage) as inflight:
        for i, task in enumerate(tasks):
            got = call_as_result(_read_headers, task)
            if isinstance(got, Failure):
                out[i] = got
                continue
            headers[i] = got
            if task.mode == "copy":
                try:
                    stores[i] = inflight.submit(_store, task, got[0].ext)
                except Exception as e:   # a storage that writes in line raised here: handled as below
                    stores[i] = Future()
                    stores[i].set_exception(e)
            else:
                stores[i] = None
    for i, (ftype, meta) in headers.items():
        out[i] = call_as_result(_finish, (tasks[i], ftype, meta, stores[i]))
    return out


def _finish(item: tuple[ProbeTask, Any, Any, Any]) -> dict[str, Any]:
    task, ftype, meta, stored = item
    return _result(task, ftype, meta, stored.result() if stored is not None else _store(task, ftype.ext))


def _read_headers(task: ProbeTask) -> tuple[Any, Any]:
    """The file's type and metadata, from its headers; MediaError for a file to refuse (unreadable, a bomb)."""
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
    return ftype, meta


def _store(task: ProbeTask, ext: str) -> tuple[str, str | None, int]:
    """(sha256, blob relpath or None, size): the original stored for a copy, only hashed for a reference."""
    path = Path(task.path)
    if task.mode == "copy":
        return store_original(task.storage, path, ext)
    return sha256_file(path), None, path.stat().st_size


def _result(task: ProbeTask, ftype: Any, meta: Any, stored: tuple[str, str | None, int]) -> dict[str, Any]:
    sha, rel, size = stored
    row = dataclasses.asdict(meta)
    warnings = row.pop("warnings")
    row.update(id=media_id_for(sha), sha256=sha, path=str(Path(task.path)), kind=ftype.kind, mime=ftype.mime,
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
