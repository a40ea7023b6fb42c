"""What a processing stage is: a callable class from an Arrow table of media to a table of result rows.

A stage is built from its settings, ``setup(ctx)`` loads its model once (from ``workbench.models``) and keeps the
``StageContext`` (where originals are read and derived files written), and ``stage(table)`` does the work:
``pa.Table`` of media in, ``pa.Table`` of the stage's rows out, one row per media. The local worker pool and Ray
Data's ``map_batches`` run that same call (``stages/engines.py``); a test runs it on a bare table with no runner
and no LanceDB (``tests/test_stage_transforms.py``).

Each stage owns one catalog table keyed by ``media_id@version``. A media is pending for a stage when the
table has no row for the stage's current version, so a rerun resumes where the last one stopped and a new
version (a new model, a new thumbnail size) makes everything pending again without losing the old rows.
"""
from __future__ import annotations

import io
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench.compress.reconstruct import RECONSTRUCTIBLE, reconstructed_original
from workbench.errors import MediaError, WorkbenchError
from workbench.models.registry import get as get_model
from workbench.settings import Settings
from workbench.storage import Storage, derived_key, open_storage, original_key
from workbench.storage.inflight import InFlight

#: The writes of the batch ``Stage.transform`` is running in this thread (``StageContext.write_derived`` puts its
#: writes there), or None outside a batch.
_BATCH_WRITES: ContextVar[InFlight | None] = ContextVar("batch_writes", default=None)

# The media columns every stage receives.
INPUT_COLUMNS = ["id", "kind", "mime", "path", "storage", "blob", "taken_at", "width", "height", "fps", "duration_s",
                 "size_bytes", "stored_as"]


@dataclass(frozen=True)
class StageContext:
    """What a stage reads originals from and writes derived files to (the library's ``Storage``) and its settings;
    picklable, so it travels to workers."""

    root: str
    settings: Settings
    #: The library's storage when opening it again from ``root`` is not enough (an encrypted library's travels
    #: unlocked, with its keys, to the workers).
    store: Storage | None = None

    @property
    def storage(self) -> Storage:
        return self.store if self.store is not None else open_storage(self.root)

    def derived_stream(self, rel: str) -> io.BytesIO:
        """A derived file (a catalog row's path relative to ``derived/``, e.g. a preview) as an in-memory stream,
        ready for ``Image.open``."""
        return io.BytesIO(self.storage.read_bytes(derived_key(rel)))

    def write_derived(self, rel: str, data: bytes) -> None:
        """Store a derived file atomically at ``rel`` (relative to ``derived/``). Inside a batch of
        ``Stage.transform`` on object storage the write goes on in a thread while the next media is worked on;
        the batch's rows are returned only once all its writes succeeded (``workbench.storage.inflight``)."""
        writes = _BATCH_WRITES.get()
        if writes is not None:
            writes.submit(self.storage.write, derived_key(rel), data)
        else:
            self.storage.write(derived_key(rel), data)

    def local_source(self, row: dict[str, Any]) -> Path:
        """A local file with a media's original bytes, for decoders that need a file: the stored original, or the
        referenced file for ``--mode reference``. A read, so it never writes: an original replaced by its JPEG XL
        (``stored_as`` jxl-reconstructible) has no such file until ``materialize_source`` rebuilds it, and asking
        here for one is an error that says so."""
        if row.get("storage") == "copy" and row.get("blob"):
            if row.get("stored_as") == RECONSTRUCTIBLE:
                raise WorkbenchError(f"media {row['id']} is stored as JPEG XL: its exact JPEG is rebuilt into the "
                                     f"storage's cache by StageContext.materialize_source (a write), not by a read")
            return self.storage.local_file(original_key(row["blob"]))
        return Path(row["path"])

    def materialize_source(self, row: dict[str, Any]) -> Path:
        """``local_source``, except that an original replaced by its JPEG XL is first rebuilt, exactly, into the
        storage's bounded cache (``Storage.materialize``, found there the next time): the one write reading an
        original may need, made by name by the callers that decode or serve any original (the thumbnail and OCR
        stages, ``Library.original_path``)."""
        if row.get("storage") == "copy" and row.get("blob") and row.get("stored_as") == RECONSTRUCTIBLE:
            return reconstructed_original(self.storage, row)
        if row.get("storage") == "copy" and row.get("blob"):
            # A copy the storage already holds locally is used as it is (``Storage.original_file``): on object
            # storage the thumbnail stage then reads the file import just hashed, with no request at all.
            return self.storage.original_file(original_key(row["blob"]))
        return self.local_source(row)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class Stage:
    """A callable class: ``setup(ctx)`` once per process (it loads ``model_name`` and keeps the context), then
    ``stage(table)`` for each table of media. Subclasses set ``name``, ``schema``, ``version`` and implement
    ``process_one`` (one media) or override ``transform`` (a whole batch)."""

    name: str = ""
    schema: pa.Schema
    kinds: tuple[str, ...] = ("image", "video")
    # Another stage whose ``ok`` rows this one needs, and the columns of that stage's table it reads.
    dependency: "Stage | None" = None
    dependency_columns: tuple[str, ...] = ()
    # Worker processes for this stage (None: one per core). A stage that multithreads internally (torch) uses 1.
    workers: int | None = None
    # Rows per worker task (None: the runner's default). The embeddings stage wants several encoder batches.
    batch_rows: int | None = None
    # Columns too big to show in ``workbench show`` (vectors).
    bulky_columns: tuple[str, ...] = ()
    #: The model this stage runs, by its name in ``workbench.models`` (None: a stage without a model).
    model_name: str | None = None
    #: The context ``setup`` was given: where ``__call__`` reads originals and writes derived files.
    _ctx: StageContext | None = None

    def __init__(self, settings: Settings):
        self.settings = settings

    def side_tables(self, results: pa.Table) -> dict[str, pa.Table]:
        """Extra tables written with each commit of results (e.g. per-frame vectors); keyed by table name."""
        return {}

    def side_schemas(self) -> dict[str, pa.Schema]:
        """Schemas of the tables ``side_tables`` writes, so the library can create them."""
        return {}

    def optional_inputs(self) -> list[tuple["Stage", tuple[str, ...]]]:
        """Other stages whose current ``ok`` results this one uses when they exist (joined in, else None), e.g.
        the quality stage reads face boxes but runs without them."""
        return []

    def side_key(self, table: str) -> str:
        """The column a side table's rows are merged on."""
        return "key"

    def after_run(self, catalog: "Any") -> None:
        """Called once after a run that wrote rows (e.g. to refresh indexes)."""

    def unavailable_reason(self) -> str | None:
        """Why this stage cannot run on this machine right now (e.g. no model weights), or None."""
        return None

    def model_options(self) -> dict[str, Any]:
        """What ``model_name`` is loaded with beyond the settings (``workbench.models.get(name, settings, **these)``),
        e.g. the tag stage's vocabulary."""
        return {}

    def model(self) -> Any:
        """This stage's model from the process's model cache: loaded on the first call, a lookup after that.
        Raises the model's own error (no weights: what to do) when it cannot be loaded."""
        if self.model_name is None:
            raise WorkbenchError(f"the {self.name} stage runs no model")
        return get_model(self.model_name, self.settings, **self.model_options())

    def setup(self, ctx: StageContext) -> None:
        """Get ready to be called: keep ``ctx`` (where files are read and written; ``stage(table)`` takes only the
        table, so it travels this way, as it does into a Ray actor's constructor) and load the model before the
        first table. The engines call it in each worker process and once per Ray actor; models come from the
        process's cache (``workbench.models``), so calling it again costs a lookup."""
        self._ctx = ctx
        if self.model_name is not None:
            self.model()

    @property
    def context(self) -> StageContext:
        """The ``StageContext`` given to ``setup``."""
        if self._ctx is None:
            raise WorkbenchError(f"the {self.name} stage was called before its setup: call "
                                 f"stage.setup(StageContext(root, settings)) first, it says where the library's "
                                 f"files are read and written")
        return self._ctx

    def __call__(self, table: pa.Table) -> pa.Table:
        """This stage's rows for ``table``'s media (``INPUT_COLUMNS`` plus the dependency's columns): one row per
        media, in order. A bad file (``MediaError``, a missing original) is a ``failed`` row with its reason; anything
        else raises, and the engines then retry the files one by one so only the culprit fails."""
        ctx = self.context
        return pa.Table.from_batches([self.transform(b, ctx) for b in table.to_batches()], schema=self.schema)

    @property
    def version(self) -> str:
        raise NotImplementedError

    def process_one(self, row: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        """Outputs for one media (the stage's own columns); raise MediaError with a reason on failure."""
        raise NotImplementedError

    def key(self, media_id: str) -> str:
        return f"{media_id}@{self.version}"

    def ok_row(self, media_id: str, **outputs: Any) -> dict[str, Any]:
        """The row of a media done: the shared leading columns (``stage_schema``) and the stage's own outputs."""
        return {"key": self.key(media_id), "media_id": media_id, "version": self.version, "status": "ok",
                "error": None, "created_at": now_utc(), **outputs}

    def failed_row(self, media_id: str, reason: str) -> dict[str, Any]:
        """The row that records why a media failed: every column of the stage's schema, its own outputs null."""
        row: dict[str, Any] = dict.fromkeys(self.schema.names)
        row.update(key=self.key(media_id), media_id=media_id, version=self.version, status="failed", error=reason,
                   created_at=now_utc())
        return row

    def transform(self, batch: pa.RecordBatch, ctx: StageContext) -> pa.RecordBatch:
        """One batch of ``__call__``: ``process_one`` for each media; one bad file yields a ``failed`` row, never an
        exception for the batch. A stage that wants whole batches (an encoder) overrides this.

        On object storage a media's derived files upload while the next media decodes (``write_derived``); the
        batch is returned only after every upload succeeded, and a failed one fails the batch as a write in line
        did (the runner then retries its media one by one; a storage error stops the run)."""
        out: list[dict[str, Any]] = []
        with InFlight(ctx.storage) as writes:
            token = _BATCH_WRITES.set(writes)
            try:
                for row in batch.to_pylist():
                    try:
                        out.append(self.ok_row(row["id"], **self.process_one(row, ctx)))
                    except MediaError as e:
                        out.append(self.failed_row(row["id"], e.reason))
                    except FileNotFoundError:
                        out.append(self.failed_row(row["id"], "original is missing: run `workbench verify`"))
            finally:
                _BATCH_WRITES.reset(token)
        writes.check()
        return pa.RecordBatch.from_pylist(out, schema=self.schema)


def run_batch(task: tuple[Stage, pa.RecordBatch, StageContext]) -> pa.RecordBatch:
    """What a worker process (local or Ray) runs: ``stage.setup(ctx)``, then ``stage(batch)``. It lives here, not in
    the runner, so workers never import LanceDB."""
    stage, batch, ctx = task
    stage.setup(ctx)
    result = stage(pa.Table.from_batches([batch])).combine_chunks()
    return (result.to_batches() or [pa.RecordBatch.from_pylist([], schema=stage.schema)])[0]
