"""``lib.processing``: getting files in (import) and running the stages over them (process), what is pending
(status), and dropping rows of versions no longer current (prune)."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.capabilities.context import Capability
from workbench.catalog.filters import Ne, where
from workbench.ingest.importer import ImportReport, import_paths
from workbench.progress import bar
from workbench.stages.runner import StageReport, pending_media, run_stage
from workbench.storage import derived_key


class Processing(Capability):
    """``lib.processing``: ``import_files``, ``process``, ``engine``, ``status``, ``prune``, ``writers_waiting``."""

    def import_files(self, paths: Iterable[str | os.PathLike], *, mode: str = "copy", owner: str | None = None,
                     progress: bool | None = None, engine: Any = None) -> ImportReport:
        """Add files and folders; identical content is stored once and remembers every path it was found at.
        ``engine`` (from ``self.engine("ray")``) fans the per-file hashing, sniffing and copy-in out on Ray."""
        paths = [Path(p) for p in paths]
        with self.lock:
            self.storage.clean_tmp()
            with bar(None, "import", progress) as pb:
                report = import_paths(self.catalog, self.root, paths, mode=mode, owner=owner,
                                      settings=self.settings, storage=self.storage, on_progress=pb.update,
                                      set_total=lambda n: setattr(pb, "total", n) or pb.refresh(), engine=engine)
            self.refresh_indexes()
        return report

    def refresh_indexes(self) -> None:
        """The media table's full-text index, after an import."""
        if self.catalog.count("media") == 0:
            return
        self.catalog.ensure_text_index("media", "search_text")
        self.catalog.compact()

    def writers_waiting(self) -> bool:
        """Whether another process waits for this library's write lock (``workbench serve``'s processor then
        steps aside between chunks, so an import or a rename runs after the current chunk)."""
        return self.lock.someone_waiting()

    def engine(self, name: str = "local", address: str | None = None, *,
               keep_workers_s: float | None = None) -> Any:
        """The engine ``process`` runs stages on: "local" (worker processes) or "ray" (connects to, or starts, a
        Ray cluster now, so a wrong address fails before any work); ``describe()`` says where it runs. A local
        engine with ``keep_workers_s`` keeps each stage's workers (and the models they loaded) between
        ``process`` calls until unused that long: ``workbench serve``'s processor runs many small ones."""
        from workbench.stages.engines import make_engine
        return make_engine(name, address=address, settings=self.settings, keep_workers_s=keep_workers_s)

    def process(self, stages: Iterable[str] | None = None, *, retry_failed: bool = False,
                progress: bool | None = None, max_media: int | None = None, engine: Any = "local",
                address: str | None = None, upkeep: bool = True) -> list[StageReport]:
        """Run every pending stage (or the named ones); safe to interrupt and rerun. ``max_media`` caps the media
        each stage takes this time (``workbench serve`` works in chunks so new photos get thumbnails first).
        ``engine="ray"`` runs the stages' batches on a Ray cluster (``address``, else ``ray_address``, else a new
        local one); the rows are the same and are committed here either way. ``upkeep=False`` leaves out the
        catalog compaction and replica sync at the end (``upkeep``): ``workbench serve``'s processor, which runs
        many small chunks, does them once its queue empties."""
        from concurrent.futures import ThreadPoolExecutor

        from workbench.people.assign import update_people
        from workbench.stages.engines import indexes_built_on
        from workbench.stages.faces import FaceStage
        runner_engine = self.engine(engine, address) if isinstance(engine, str) else engine
        wanted = set(stages) if stages else None
        reports = []
        chosen = [s for s in self.stages.all() if wanted is None or s.name in wanted]
        with self.lock, ThreadPoolExecutor(1) as prefetch:
            self.storage.clean_tmp()
            # Whether later stages can run (loading CLIP takes seconds) is found out while the first stage's
            # workers are busy, instead of after them.
            ready = {id(s): prefetch.submit(s.unavailable_reason) for s in chosen[1:]}
            for stage in chosen:
                reason = ready[id(stage)].result() if id(stage) in ready else stage.unavailable_reason()
                if reason:
                    reports.append(StageReport(stage.name, stage.version, skipped=reason))
                    continue
                self.catalog.ensure(stage.name, stage.schema, "key")
                for name, schema in stage.side_schemas().items():
                    self.catalog.ensure(name, schema, stage.side_key(name))
                with bar(None, stage.name, progress) as pb:
                    rep = run_stage(self.catalog, stage, self.context.stage_context(), retry_failed=retry_failed,
                                    on_progress=pb.update,
                                    set_total=lambda n: setattr(pb, "total", n) or pb.refresh(),
                                    limit=max_media, engine=runner_engine)
                reports.append(rep)
                if rep.done or rep.failed:
                    with indexes_built_on(runner_engine):   # a Ray engine builds vector indexes on its cluster
                        stage.after_run(self.catalog)
                    if isinstance(stage, FaceStage):
                        # New faces join known people or form new ones (user decisions are kept).
                        update_people(self.catalog, self.settings, stage.version)
            if upkeep:
                reports.extend(self.upkeep(progress=progress))
        return reports

    def upkeep(self, *, progress: bool | None = None) -> list[StageReport]:
        """What follows processing: merge the catalog's small fragments (``Catalog.compact``) and, with
        ``replica_sync_after_process``, copy new originals to every replica; one report per replica synced."""
        reports = []
        with self.lock:
            self.catalog.compact()
            if self.settings.replica_sync_after_process:
                # New imports reach every replica without anyone running `replicas sync` (docs/archive.md).
                for r in self.lib.replicas.sync(progress=progress):
                    reports.append(StageReport(f"replica {r.replica}", "sync", done=r.copied,
                                               failed=len(r.failures), failures=r.failures))
        return reports

    def status(self) -> pd.DataFrame:
        """Per stage: done, pending and failed counts for its current version."""
        rows = []
        n_media = self.catalog.count("media")
        for stage in self.stages.all():
            exists = self.catalog.has(stage.name)
            done = self.catalog.count(stage.name, where(version=stage.version, status="ok")) if exists else 0
            failed = self.catalog.count(stage.name, where(version=stage.version, status="failed")) if exists else 0
            pending = pending_media(self.catalog, stage, ready_only=False).num_rows
            rows.append({"stage": stage.name, "version": stage.version, "done": done, "pending": pending,
                         "failed": failed})
        df = pd.DataFrame(rows, columns=["stage", "version", "done", "pending", "failed"])
        df.attrs["media"] = n_media
        return df

    def prune(self) -> dict[str, int]:
        """Delete stage rows (old vectors, old tag scores, old thumbnails) of versions other than the current
        ones, e.g. after switching CLIP models; returns rows removed per table. Originals are never touched."""
        removed: dict[str, int] = {}
        with self.lock:
            for stage in self.stages.all():
                if not self.catalog.has(stage.name):
                    continue
                old = Ne("version", stage.version)
                n = self.catalog.count(stage.name, old)
                if n:
                    self.catalog.delete(stage.name, old)
                    removed[stage.name] = n
                for side in stage.side_schemas():
                    if self.catalog.has(side) and "model_id" in self.catalog.schema(side).names:
                        w = Ne("model_id", stage.version)
                        k = self.catalog.count(side, w)
                        if k:
                            self.catalog.delete(side, w)
                            removed[side] = k
            removed.update(self.lib.people.prune())
            current = self.stages.thumbnail_version()
            old = {k.split("/")[2] for k in self.storage.list(derived_key("thumbnails"))} - {current}
            for version in sorted(old):
                self.storage.purge(derived_key(f"thumbnails/{version}"))
            self.catalog.compact()
        return removed
