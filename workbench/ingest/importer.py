"""Import: scan paths, probe files in isolated workers, and commit catalog rows in batches.

Crash safety: an original is fully written (temp file, fsync, rename) before any row names it, and rows are
merged by content id and source key, so killing an import at any moment and running it again ends with each
file stored once, every source remembered, and nothing half-written.
"""
from __future__ import annotations

import getpass
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.catalog.errors_log import clear_errors, record_errors
from workbench.catalog.filters import Eq, In
from workbench.catalog.store import Catalog
from workbench.ingest.probe import ProbeBatch, ProbeTask, probe_file, probe_files
from workbench.ingest.scan import iter_candidates
from workbench.metadata.places import lookup_places, warm_in_background
from workbench.parallel import Failure, run_isolated
from workbench.settings import Settings
from workbench.storage import Storage


@dataclass
class ImportReport:
    """What an import did; ``added`` counts new media, ``known`` files whose content was already stored."""

    found: int = 0
    added: int = 0
    known: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped_sidecars: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    media_ids: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Files that are in the library after this run (new, already known or unchanged)."""
        return self.added + self.known + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {"found": self.found, "added": self.added, "known": self.known, "unchanged": self.unchanged,
                "failed": self.failed, "skipped_sidecars": self.skipped_sidecars}


def source_key(media_id: str, path: str) -> str:
    return hashlib.sha256(f"{media_id}\0{path}".encode()).hexdigest()[:24]


def default_owner() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "owner"


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def search_text(row: dict[str, Any]) -> str:
    """Words a person might type to find this file: name, folders, camera, place."""
    p = Path(row["path"])
    parts = [p.stem, *p.parent.parts[-4:], row.get("camera_make") or "", row.get("camera_model") or "",
             row.get("place") or ""]
    words: list[str] = []
    for part in parts:
        words += _WORD.findall(part)
    return " ".join(dict.fromkeys(w.lower() for w in words))


def _unchanged_sources(catalog: Catalog, files: list[Path], mode: str) -> dict[str, str]:
    """Paths already imported whose size and mtime have not changed since: path -> media id.

    A path imported by reference and now imported as a copy is not "unchanged": it must be copied in.
    """
    out: dict[str, str] = {}
    if catalog.count("sources") == 0:
        return out
    stats = {}
    for f in files:
        try:
            st = f.stat()
            stats[str(f)] = (st.st_size, st.st_mtime_ns)
        except OSError:
            pass
    keys = list(stats)
    for i in range(0, len(keys), 1000):
        t = catalog.read("sources", ["path", "media_id", "mode", "size_bytes", "mtime_ns"],
                         In("path", keys[i:i + 1000]))
        for r in t.to_pylist():
            if stats.get(r["path"]) == (r["size_bytes"], r["mtime_ns"]) and (mode == r["mode"] or mode == "reference"):
                out[r["path"]] = r["media_id"]
    if out:  # only trust a source whose media row exists (it always does: rows are written media-first)
        present = catalog.existing_keys("media", "id", set(out.values()))
        out = {p: m for p, m in out.items() if m in present}
    return out


def import_paths(catalog: Catalog, root: Path, paths: list[Path], *, mode: str, owner: str | None,
                 settings: Settings, storage: Storage, on_progress: Callable[[int], None] | None = None,
                 set_total: Callable[[int], None] | None = None, engine: Any = None) -> ImportReport:
    """Import ``paths``; the per-file probe runs on ``engine.map_calls`` (e.g. a Ray cluster), else in local
    worker processes. Rows are committed here either way, so the guarantees are the same."""
    if mode not in ("copy", "reference"):
        raise ValueError(f"mode must be 'copy' or 'reference', not {mode!r}")
    owner = owner or default_owner()
    report = ImportReport()
    files: list[Path] = []
    for f, sidecar in iter_candidates(paths, exclude=root):
        if sidecar:
            report.skipped_sidecars += 1
        else:
            files.append(f)
    report.found = len(files)
    if set_total:
        set_total(len(files))
    unchanged = _unchanged_sources(catalog, files, mode)
    report.unchanged = len(unchanged)
    report.media_ids += list(dict.fromkeys(unchanged.values()))
    if on_progress and unchanged:
        on_progress(len(unchanged))
    todo = [f for f in files if str(f) not in unchanged]

    pending: list[tuple[dict[str, Any], list[str], tuple[int, int]]] = []
    failures: list[tuple[str, str]] = []
    last = time.monotonic()

    def commit() -> None:
        nonlocal pending, failures, last
        if pending:
            pending.sort(key=lambda item: order[item[0]["path"]])  # workers finish out of order
            commit_media(catalog, root, pending, mode, owner, report)
        if failures:
            record_errors(catalog, [(p, None, "import", r) for p, r in failures])
        pending, failures, last = [], [], time.monotonic()

    order = {str(f): i for i, f in enumerate(todo)}
    for task, result in _probed(todo, mode, storage, settings, engine):
        if isinstance(result, Failure):
            report.failed += 1
            report.failures.append((task.path, result.reason))
            failures.append((task.path, result.reason))
        else:
            try:
                st = Path(task.path).stat()
                stat = (st.st_size, st.st_mtime_ns)
            except OSError:
                stat = (None, None)
            pending.append((result["row"], result["warnings"], stat))
            if result["row"].get("gps_lat") is not None:
                warm_in_background()   # the commit will look places up: load them while the workers go on
        if on_progress:
            on_progress(1)
        if len(pending) + len(failures) >= settings.commit_every_files or time.monotonic() - last > settings.commit_every_s:
            commit()
    commit()
    return report


#: Files per worker task when each original's upload waits on the network (``Storage.overlaps_writes``, object
#: storage): the next file is read and hashed while the last one uploads (``probe_files``). 1 elsewhere.
FILES_PER_TASK_OVERLAPPED = 2


def _probed(todo: list[Path], mode: str, storage: Storage, settings: Settings,
            engine: Any) -> Iterator[tuple[ProbeTask, Any]]:
    """``(task, probe result or Failure)`` for each file of ``todo``, as workers finish them. On object storage
    (a copy import) the files go to workers in batches of ``FILES_PER_TASK_OVERLAPPED``, each answered only once
    its uploads are done; a batch whose worker crashed or hung is run again one file per task, so the culprit
    fails alone, as with single files."""
    fan_out = engine.map_calls if engine is not None else run_isolated
    workers, per_file_s = settings.worker_count(), settings.per_file_timeout_s
    per_task = FILES_PER_TASK_OVERLAPPED if mode == "copy" and storage.overlaps_writes else 1
    if per_task == 1:
        tasks = (ProbeTask(str(f), mode, storage, settings) for f in todo)
        yield from fan_out(probe_file, tasks, workers=workers, timeout_s=per_file_s)
        return
    batches = (ProbeBatch(tuple(str(f) for f in todo[i:i + per_task]), mode, storage, settings)
               for i in range(0, len(todo), per_task))
    again: list[ProbeTask] = []
    for batch, result in fan_out(probe_files, batches, workers=workers, timeout_s=per_file_s * per_task):
        if isinstance(result, Failure):
            again += batch.tasks()
        else:
            yield from zip(batch.tasks(), result)
    if again:
        yield from fan_out(probe_file, again, workers=workers, timeout_s=per_file_s)


def commit_media(catalog: Catalog, root: Path, items: list, mode: str, owner: str, report: ImportReport) -> None:
    """Write probed files as media and sources rows (owner, places, search words): import and upload alike."""
    now = datetime.now(timezone.utc)
    rows = [r for r, _, _ in items]
    # Places for the rows that have GPS, in one batched lookup.
    with_gps = [r for r in rows if r.get("gps_lat") is not None and r.get("gps_lon") is not None]
    places = lookup_places([(r["gps_lat"], r["gps_lon"]) for r in with_gps]) if with_gps else []
    for r, place in zip(with_gps, places):
        if place is not None:
            r.update(place_city=place.city, place_region=place.region, place_country=place.country,
                     place=place.label)
    for r in rows:
        r.update(owner=owner, imported_at=now)
        r["search_text"] = search_text(r)
    ids = [r["id"] for r in rows]
    inserted = catalog.insert_new("media", rows, "id")
    # Content first imported by reference and now imported as a copy becomes a stored original. A row of these ids
    # still saying "reference" after the insert was there before it (new rows say "copy"), and when every row was
    # new there is none, so the usual import reads nothing back (each read is a request in a bucket).
    if mode == "copy" and inserted < len(set(ids)):
        ref = catalog.read("media", ["id"], Eq("storage", "reference") & In("id", ids))
        by_id = {r["id"]: r for r in rows}
        for mid in ref.column("id").to_pylist():
            catalog.update("media", Eq("id", mid), {"storage": "copy", "blob": by_id[mid]["blob"]})
    report.added += inserted
    report.known += len(rows) - inserted
    report.media_ids += ids
    sources = [{"key": source_key(r["id"], r["path"]), "media_id": r["id"], "path": r["path"], "mode": mode,
                "owner": owner, "size_bytes": size, "mtime_ns": mtime, "found_at": now}
               for r, _, (size, mtime) in items]
    catalog.upsert("sources", sources, "key")
    warnings = [(r["path"], r["id"], "metadata", "; ".join(ws)) for r, ws, _ in items if ws]
    record_errors(catalog, warnings)
    clear_errors(catalog, [r["path"] for r in rows], "import")
