"""Run a stage over its pending media in isolated worker processes, committing results as they come."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from workbench.catalog.filters import Eq, In, where
from workbench.catalog.store import Catalog
from workbench.parallel import Failure
from workbench.stages.base import INPUT_COLUMNS, Stage, StageContext
from workbench.stages.engines import LocalEngine, RayEngine

BATCH_ROWS = 4  # rows per worker task: small enough that a crash isolates quickly, big enough to amortise IPC
# A task's time limit grows with its rows up to this many files' worth (the embeddings stage sends 128 previews
# per task, which take seconds): a hung decoder is still given up on within half an hour, and the task is then
# retried file by file, each with per_file_timeout_s.
MAX_TIMEOUT_FILES = 16


@dataclass
class StageReport:
    stage: str
    version: str
    done: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    skipped: str | None = None  # why the stage did not run at all (e.g. no model weights here)


def pending_media(catalog: Catalog, stage: Stage, retry_failed: bool = False,
                  ready_only: bool = True) -> pa.Table:
    """Media rows (``INPUT_COLUMNS``) that have no row for the stage's current version.

    With ``ready_only`` (what the runner uses) only media whose dependency stage succeeded are returned, with
    the dependency's columns joined; without it, everything still waiting for this stage is counted.
    """
    media = catalog.read("media", INPUT_COLUMNS, In("kind", stage.kinds))
    dep = stage.dependency
    if dep is not None and ready_only and media.num_rows:
        cols = ["media_id", *stage.dependency_columns]
        ready = (catalog.read(dep.name, cols, where(version=dep.version, status="ok"))
                 if catalog.has(dep.name) else pa.schema([pa.field("media_id", pa.string())]).empty_table())
        # An inner join by hand: Arrow's join cannot carry vector (fixed-size list) columns.
        pos = {m: i for i, m in enumerate(ready.column("media_id").to_pylist())}
        ids = media.column("id").to_pylist()
        keep = [i for i, m in enumerate(ids) if m in pos]
        media = media.take(pa.array(keep, pa.int64()))
        picked = ready.take(pa.array([pos[ids[i]] for i in keep], pa.int64()))
        for c in stage.dependency_columns:
            media = media.append_column(c, picked.column(c))
    if ready_only and media.num_rows:
        media = _join_optional(catalog, stage, media)
    if not catalog.has(stage.name) or media.num_rows == 0:
        return media
    done = where(version=stage.version, status="ok") if retry_failed else Eq("version", stage.version)
    have = set(catalog.read(stage.name, ["media_id"], done).column("media_id").to_pylist())
    if not have:
        return media
    mask = pa.array([m not in have for m in media.column("id").to_pylist()])
    return media.filter(mask)


def _join_optional(catalog: Catalog, stage: Stage, media: pa.Table) -> pa.Table:
    """Left-join the columns of optional input stages (null where a media has no current ``ok`` row)."""
    ids = media.column("id").to_pylist()
    for other, cols in stage.optional_inputs():
        if catalog.has(other.name):
            t = catalog.read(other.name, ["media_id", *cols],
                             where(version=other.version, status="ok"))
        else:
            t = pa.schema([pa.field("media_id", pa.string())] + [other.schema.field(c) for c in cols]).empty_table()
        pos = {m: i for i, m in enumerate(t.column("media_id").to_pylist())}
        for c in cols:
            values = t.column(c).to_pylist()
            media = media.append_column(c, pa.array([values[pos[m]] if m in pos else None for m in ids],
                                                    type=t.schema.field(c).type))
    return media


def _batches(table: pa.Table, rows: int) -> Iterator[pa.RecordBatch]:
    for b in table.to_batches(max_chunksize=rows):
        yield b


def run_stage(catalog: Catalog, stage: Stage, ctx: StageContext, *, retry_failed: bool = False,
              on_progress: Callable[[int], None] | None = None,
              set_total: Callable[[int], None] | None = None, limit: int | None = None,
              engine: LocalEngine | RayEngine | None = None) -> StageReport:
    """Process every pending media (at most ``limit`` of them, so a background processor can come back to an
    earlier stage soon) on ``engine`` (local worker processes unless given); a batch whose worker crashed is
    retried one file at a time. Results are committed here, in this process, whatever the engine."""
    engine = engine or LocalEngine()
    report = StageReport(stage.name, stage.version)
    todo = pending_media(catalog, stage, retry_failed)
    if limit is not None and todo.num_rows > limit:
        todo = todo.slice(0, limit)
    if set_total:
        set_total(todo.num_rows)
    if todo.num_rows == 0:
        return report
    paths = dict(zip(todo.column("id").to_pylist(), todo.column("path").to_pylist()))
    settings = ctx.settings
    workers = stage.workers or settings.worker_count()
    buffer: list[pa.RecordBatch] = []
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal buffer, last_commit
        if not buffer:
            return
        results = pa.Table.from_batches(buffer, schema=stage.schema)
        for name, side in stage.side_tables(results).items():
            if side.num_rows:
                catalog.upsert(name, side, stage.side_key(name))
        catalog.upsert(stage.name, results, "key")
        _record_errors(catalog, stage, results, paths)
        buffer = []
        last_commit = time.monotonic()

    def handle(batch: pa.RecordBatch, result: Any) -> Iterator[pa.RecordBatch]:
        if isinstance(result, Failure):
            if batch.num_rows > 1:  # find the culprit: rerun each file alone
                singles = [batch.slice(i, 1) for i in range(batch.num_rows)]
                for single, res in engine.map(stage, ctx, singles, workers=workers,
                                              timeout_s=settings.per_file_timeout_s):
                    yield from handle(single, res)
                return
            mid = batch.column("id")[0].as_py()
            yield pa.RecordBatch.from_pylist([stage.failed_row(mid, result.reason)], schema=stage.schema)
            return
        yield result

    rows = stage.batch_rows or BATCH_ROWS
    for batch, result in engine.map(stage, ctx, _batches(todo, rows), workers=workers,
                                    timeout_s=settings.per_file_timeout_s * min(rows, MAX_TIMEOUT_FILES)):
        for out in handle(batch, result):
            buffer.append(out)
            status = out.column("status").to_pylist()
            report.done += status.count("ok")
            report.failed += status.count("failed")
            for mid, st, err in zip(out.column("media_id").to_pylist(), status, out.column("error").to_pylist()):
                if st == "failed":
                    report.failures.append((paths.get(mid, mid), err))
            if on_progress:
                on_progress(out.num_rows)
        if (sum(b.num_rows for b in buffer) >= settings.commit_every_files
                or time.monotonic() - last_commit > settings.commit_every_s):
            commit()
    commit()
    return report


def _record_errors(catalog: Catalog, stage: Stage, results: pa.Table, paths: dict[str, str]) -> None:
    from workbench.catalog.errors_log import clear_errors, record_errors
    rows = results.select(["media_id", "status", "error"]).to_pylist()
    failed = [(paths[r["media_id"]], r["media_id"], stage.name, r["error"]) for r in rows if r["status"] == "failed"]
    ok = [paths[r["media_id"]] for r in rows if r["status"] == "ok"]
    record_errors(catalog, failed)
    clear_errors(catalog, ok, stage.name)
