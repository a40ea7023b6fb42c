"""Where a stage's batches run: in local worker processes (the default) or on a Ray cluster.

Both engines take the same thing, a stage, its context and its pending media as Arrow batches, and give back the
stage's own result batches; committing to the catalog stays in the runner, in the driver process, so the two
engines write the same rows the same way and a killed run resumes the same way (pending = no row yet).

- ``LocalEngine``: pebble worker processes (``workbench.parallel``): a crashing or hanging decoder costs one file.
- ``RayEngine``: a model stage (one that sets ``workers = 1`` locally because its model multithreads) runs as a
  Ray Data pipeline, ``from_arrow(blocks).map_batches(...)`` in an actor pool, so each actor loads the model once;
  a decode-heavy stage runs as plain Ray tasks (``_map_tasks``), one block of up to ``MAX_BLOCK_ROWS`` media each,
  without Ray Data's executor and helper actors. Each call keeps one bad file to itself: an exception becomes that
  file's failed row. A block whose worker died (a decoder crash, out of memory) is let through (Ray Data's
  ``max_errored_blocks``, or the task's error); its media are then rerun one per Ray task, so the culprit fails
  alone with its reason and the others still get their rows.
- Under a Ray engine (``indexes_built_on``) a stage's ``after_run`` builds a new IVF-PQ index on the cluster
  with lance-ray (``ensure_indexes``, ``RayEngine.build_vector_index``).
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import islice
from typing import Any

import pyarrow as pa

from workbench.errors import WorkbenchError
from workbench.parallel import Failure, KeptPools, call_as_result, run_isolated
from workbench.stages.base import Stage, StageContext, run_batch

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")


class EngineUnavailable(WorkbenchError):
    """The chosen engine cannot run here (Ray not installed, the cluster unreachable)."""


class LocalEngine:
    """Worker processes on this machine (``workbench.parallel.run_isolated``). With ``keep_workers_s`` each stage's
    workers are kept between runs (``workbench serve``: a face or OCR worker loads its models once, not once per
    chunk) until unused for that long (``trim``)."""

    name = "local"

    def __init__(self, keep_workers_s: float | None = None):
        self.pools = KeptPools(keep_workers_s) if keep_workers_s else None

    def map(self, stage: Stage, ctx: StageContext, batches: Iterable[pa.RecordBatch], *, workers: int,
            timeout_s: float) -> Iterator[tuple[pa.RecordBatch, Any]]:
        """Yield ``(input batch, result batch or Failure)`` as batches finish."""
        tasks = ((stage, b, ctx) for b in batches)
        for item, result in run_isolated(run_batch, tasks, workers=workers, timeout_s=timeout_s,
                                         pools=self.pools, pool_key=stage.name):
            yield item[1], result

    def map_calls(self, fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int,
                  timeout_s: float) -> Iterator[tuple[Any, Any]]:
        """``fn`` over ``items`` in worker processes: ``(item, result or Failure)`` as they finish (import's
        per-file probe runs through this, so ``import --engine`` picks where it fans out)."""
        yield from run_isolated(fn, items, workers=workers, timeout_s=timeout_s)

    def trim(self) -> int:
        """Stop kept workers unused for ``keep_workers_s``; returns how many pools were stopped."""
        return self.pools.trim() if self.pools else 0

    def close(self) -> None:
        """Stop every kept worker."""
        if self.pools:
            self.pools.close()

    def describe(self) -> str:
        return "local worker processes"


class _StageUDF:
    """A Ray Data callable class around a stage (itself a callable class): set up once per actor (its model
    loaded there once), then table in, table out, a bad file costing only its row."""

    def __init__(self, stage: Stage, ctx: StageContext):
        self.stage, self.ctx = stage, ctx
        stage.setup(ctx)  # the model, loaded into this actor's process once

    def __call__(self, table: pa.Table) -> pa.Table:
        return transform_each(table, self.stage, self.ctx)


def transform_each(table: pa.Table, stage: Stage, ctx: StageContext) -> pa.Table:
    """``stage(table)`` batch by batch (``run_batch``); if a batch raises anything but a file's own ``MediaError``
    (which the stage already turns into a failed row), each file is retried alone so one bad file costs only its
    row."""
    batches = table.to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]
    out = []
    for batch in batches:
        result = call_as_result(run_batch, (stage, batch, ctx))
        if not isinstance(result, Failure):
            out.append(result)
            continue
        for i in range(batch.num_rows):
            single = call_as_result(run_batch, (stage, batch.slice(i, 1), ctx))
            if isinstance(single, Failure):
                single = pa.RecordBatch.from_pylist(
                    [stage.failed_row(batch.column("id")[i].as_py(), single.reason)], schema=stage.schema)
            out.append(single)
    return pa.Table.from_batches(out, schema=stage.schema)


# Rows per Ray task. Ray Data's cost per task (scheduling on the driver, the task's start, its stats) is tens of
# milliseconds, and a fingerprint or a quality measure ~50 ms a photo: at the runner's 4 rows per task that cost
# is a visible share of a cheap stage. Blocks grow up to MAX_BLOCK_ROWS while every task slot still gets
# BLOCKS_PER_SLOT of them, so the slots stay evenly busy to the end (docs/benchmarks.md, "Processing on Ray").
MAX_BLOCK_ROWS = 32
BLOCKS_PER_SLOT = 4


def block_rows(total_rows: int, batch_rows: int, slots: int) -> int:
    """Rows per Ray task for ``total_rows`` pending media on ``slots`` task slots: at least the stage's own batch
    (``batch_rows``; a model stage's encoder batch), at most ``MAX_BLOCK_ROWS`` unless that batch is larger, and
    few enough that each slot gets ``BLOCKS_PER_SLOT`` blocks."""
    share = -(-total_rows // max(1, slots * BLOCKS_PER_SLOT))
    return max(batch_rows, min(MAX_BLOCK_ROWS, share))


def _one_file(stage: Stage, ctx: StageContext, batch: pa.RecordBatch) -> pa.RecordBatch | Failure:
    return call_as_result(run_batch, (stage, batch, ctx))


def _call_chunk(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """One Ray task's share of ``map_calls``: each item's result, or its Failure (a bad file costs its own row)."""
    return [call_as_result(fn, item) for item in items]


def _call_one(fn: Callable[[Any], Any], item: Any) -> Any:
    return call_as_result(fn, item)


class RayEngine:
    """A Ray cluster: ``address`` as ``ray.init`` takes it (None or "local": start one on this machine;
    "auto": the cluster this machine belongs to; "ray://host:10001": a remote one)."""

    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_task: float = 1.0, cpus_per_actor: float = 1.0,
                 gpus_per_actor: float = 0.0, num_cpus: int | None = None, import_files_per_task: int = 8):
        self.address = None if address in (None, "", "local") else address
        self.import_files_per_task = max(1, import_files_per_task)
        self.cpus_per_task, self.cpus_per_actor, self.gpus_per_actor = cpus_per_task, cpus_per_actor, gpus_per_actor
        self.num_cpus = num_cpus
        self.started_here = False
        self.indexes_built: list[str] = []   # names of the vector indexes this engine built (build_vector_index)
        self._connect()

    def _connect(self) -> None:
        try:
            import ray
        except ImportError as e:
            raise EngineUnavailable("the Ray engine needs Ray: pip install 'ray[data]' (the local engine, the "
                                    "default, needs nothing more)") from e
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False,
                                  "logging_level": logging.WARNING}
        if self.address:
            _check_reachable(self.address)
            kwargs["address"] = self.address
        else:
            kwargs["num_cpus"] = self.num_cpus or os.cpu_count() or 1
            kwargs["include_dashboard"] = False
            self.started_here = True
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise EngineUnavailable(f"could not reach the Ray cluster at {self.address or 'a new local one'}: "
                                    f"{str(e).splitlines()[0] if str(e) else type(e).__name__}; start it with "
                                    f"`ray start --head` or pass --address") from e

    def describe(self) -> str:
        import ray
        ctx = ray.get_runtime_context()
        url = self.dashboard_url()
        cpus = ray.cluster_resources().get("CPU", 0)
        dash = f", dashboard {url}" if url else ""
        return f"Ray cluster ({cpus:g} CPUs, node {ctx.get_node_id()[:8]}{dash})"

    def dashboard_url(self) -> str | None:
        try:
            import ray
            url = ray._private.worker.get_dashboard_url() if ray.is_initialized() else None
        except Exception:
            return None
        return f"http://{url}" if url else None

    def map(self, stage: Stage, ctx: StageContext, batches: Iterable[pa.RecordBatch], *, workers: int,
            timeout_s: float) -> Iterator[tuple[pa.RecordBatch, Any]]:
        import ray
        import ray.data

        batches = list(batches)
        if not batches:
            return
        todo = pa.Table.from_batches(batches)
        data_ctx = ray.data.DataContext.get_current()
        data_ctx.max_errored_blocks = -1   # a dead worker's block is reported by its missing rows, below
        data_ctx.enable_progress_bars = False
        data_ctx.print_on_execution_start = False
        model_stage = stage.workers == 1
        slots = self._slots(model_stage, workers)
        rows = block_rows(todo.num_rows, max(b.num_rows for b in batches), slots)
        blocks = [todo.slice(i, rows) for i in range(0, todo.num_rows, rows)]
        if not model_stage:
            yield from self._map_tasks(stage, ctx, blocks, slots)
            return
        # A model stage: a Ray Data actor pool, the model loaded once per actor. One block per call, cut here (no
        # repartition, an all-to-all step the driver waits on, before the map).
        ds = ray.data.from_arrow(blocks).map_batches(
            _StageUDF, fn_constructor_args=(stage, ctx), batch_size=None, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=slots), num_cpus=self.cpus_per_actor,
            num_gpus=self.gpus_per_actor or None, zero_copy_batch=True)
        seen: set[str] = set()
        for out in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            for rb in out.to_batches():
                seen.update(rb.column("media_id").to_pylist())
                yield rb, rb
        missing = [i for i, m in enumerate(todo.column("id").to_pylist()) if m not in seen]
        if missing:
            log.warning("%d media came back from no Ray worker (a worker died); running them one by one",
                        len(missing))
            yield from self._singly(stage, ctx, todo.take(pa.array(missing, pa.int64())), timeout_s)

    def _map_tasks(self, stage: Stage, ctx: StageContext, blocks: list[pa.Table],
                   slots: int) -> Iterator[tuple[pa.RecordBatch, Any]]:
        """A decode stage as plain Ray tasks, ``transform_each`` over one block each, at most two per task slot
        in flight (one running, one queued behind it), results as they finish. Not a Ray Data pipeline: its
        streaming executor and the two helper actors it starts per run (stats, autoscaling) cost as much CPU as
        a tenth of a worker on this 2-core machine (docs/benchmarks.md, "Processing on Ray"), and a decode stage
        needs none of what they do. A task whose worker died (a decoder crash, out of memory) or that ran past
        ``per_file_timeout_s`` per file is rerun one file per task, so the culprit fails alone."""
        import ray

        from workbench.errors import LibraryError

        per_file_s = ctx.settings.per_file_timeout_s
        task = ray.remote(max_retries=0, num_cpus=self.cpus_per_task)(transform_each)
        stage_ref, ctx_ref = ray.put(stage), ray.put(ctx)   # sent once, not with every task
        pending = iter(blocks)
        in_flight: dict[Any, pa.Table] = {}

        def submit() -> None:
            while len(in_flight) < 2 * slots:
                block = next(pending, None)
                if block is None:
                    return
                in_flight[task.remote(block, stage_ref, ctx_ref)] = block

        submit()
        while in_flight:
            rows = max(b.num_rows for b in in_flight.values())
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=per_file_s * min(rows, 16) + 60)
            if not done:  # nothing finished in a whole block's time: what is left hangs; find the culprits alone
                for ref, block in list(in_flight.items()):
                    ray.cancel(ref, force=True)
                    del in_flight[ref]
                    yield from self._singly(stage, ctx, block, per_file_s)
                submit()
                continue
            block = in_flight.pop(done[0])
            try:
                out = ray.get(done[0])
            except ray.exceptions.RayTaskError as e:
                if isinstance(e.cause, LibraryError):   # the library's storage failed, not a file: stop, as locally
                    raise e.cause from None
                yield from self._singly(stage, ctx, block, per_file_s)
            except ray.exceptions.RayError:   # the worker died: each of its files alone
                log.warning("a Ray worker died on a block of %d media; running them one by one", block.num_rows)
                yield from self._singly(stage, ctx, block, per_file_s)
            else:
                for rb in out.to_batches():
                    yield rb, rb
            submit()

    def _slots(self, model_stage: bool, workers: int) -> int:
        """How many tasks (or actors) run at once: a decode stage takes every CPU the cluster has (``workers`` is
        the local engine's count); a model stage keeps ``workers`` actors, each holding its model in memory."""
        import ray
        if model_stage:
            return max(1, workers)
        cpus = ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus // max(self.cpus_per_task, 0.01)))

    def map_calls(self, fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int, timeout_s: float,
                  items_per_task: int | None = None) -> Iterator[tuple[Any, Any]]:
        """``fn`` over ``items`` as Ray tasks of ``items_per_task`` items each: ``(item, result or Failure)`` as
        they finish. Items are read lazily and at most two tasks per cluster CPU are in flight, so a million-file
        import holds a bounded number. A task whose worker died, or that ran past ``timeout_s`` per item, is rerun
        one item per task, so the culprit fails alone with its reason. A ``LibraryError`` (the library's storage
        failed, not the file) stops the run, as it does locally. ``workers`` is the local engine's; the cluster's
        CPUs decide here."""
        import ray

        from workbench.errors import LibraryError

        items_per_task = items_per_task or self.import_files_per_task
        chunk_task = ray.remote(max_retries=0, num_cpus=self.cpus_per_task)(_call_chunk)
        slots = 2 * max(1, workers, int(ray.cluster_resources().get("CPU", 1) // max(self.cpus_per_task, 0.01)))
        pending_items = iter(items)
        in_flight: dict[Any, list[Any]] = {}

        def submit() -> None:
            while len(in_flight) < slots:
                chunk = list(islice(pending_items, items_per_task))
                if not chunk:
                    return
                in_flight[chunk_task.remote(fn, chunk)] = chunk

        submit()
        while in_flight:
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout_s * items_per_task)
            if not done:  # nothing finished in a whole chunk's time: what is left hangs; find the culprits alone
                for ref, chunk in list(in_flight.items()):
                    ray.cancel(ref, force=True)
                    del in_flight[ref]
                    yield from self._calls_singly(fn, chunk, timeout_s)
                submit()
                continue
            chunk = in_flight.pop(done[0])
            try:
                results = ray.get(done[0])
            except ray.exceptions.RayTaskError as e:
                if isinstance(e.cause, LibraryError):
                    raise e.cause from None
                yield from self._calls_singly(fn, chunk, timeout_s)
            except ray.exceptions.RayError:  # the worker died (a decoder crash, out of memory)
                yield from self._calls_singly(fn, chunk, timeout_s)
            else:
                yield from zip(chunk, results)
            submit()

    def _calls_singly(self, fn: Callable[[Any], Any], items: list[Any],
                      timeout_s: float) -> Iterator[tuple[Any, Any]]:
        """One Ray task per item, no retries: a crash or a hang fails only that item, with a reason."""
        import ray

        from workbench.errors import LibraryError

        task = ray.remote(max_retries=0, num_cpus=self.cpus_per_task)(_call_one)
        refs = {task.remote(fn, item): item for item in items}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=timeout_s)
            if not done:
                for ref in pending:
                    ray.cancel(ref, force=True)
                    yield refs[ref], Failure(f"gave up after {timeout_s:.0f} s: reading this file hung")
                return
            try:
                yield refs[done[0]], ray.get(done[0])
            except ray.exceptions.RayTaskError as e:
                if isinstance(e.cause, LibraryError):
                    raise e.cause from None
                yield refs[done[0]], Failure(_ray_reason(e))
            except ray.exceptions.RayError as e:
                yield refs[done[0]], Failure(_ray_reason(e))

    def _singly(self, stage: Stage, ctx: StageContext, table: pa.Table,
                timeout_s: float) -> Iterator[tuple[pa.RecordBatch, Any]]:
        """One Ray task per file, no retries: a crash or a hang fails only that file, with a reason."""
        import ray

        task = ray.remote(max_retries=0, num_cpus=self.cpus_per_task)(_one_file)
        singles = [table.slice(i, 1).to_batches()[0] for i in range(table.num_rows)]
        refs = {task.remote(stage, ctx, b): b for b in singles}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=timeout_s)
            if not done:  # every remaining task ran past the per-file limit: give up on them
                for ref in pending:
                    ray.cancel(ref, force=True)
                    yield refs[ref], Failure(f"gave up after {timeout_s:.0f} s: the decoder hung on this file")
                return
            ref = done[0]
            try:
                yield refs[ref], ray.get(ref)
            except ray.exceptions.RayError as e:
                yield refs[ref], Failure(_ray_reason(e))

    def build_vector_index(self, table: Any, vector_column: str = "vector", *, min_rows_for_ann: int | None = None,
                           rebuild_growth: float | None = None) -> str | None:
        """Train and write ``table``'s IVF-PQ index on this cluster (``catalog.ray_index``, lance-ray) when
        ``vector_index.ensure_indexes`` would build one, one Ray task per cluster CPU; returns "created" or
        "rebuilt", or None when no build was due."""
        from workbench.catalog.ray_index import build_vector_index_on_ray

        built = build_vector_index_on_ray(table, vector_column, num_workers=self._slots(False, 1),
                                          cpus_per_task=self.cpus_per_task, min_rows_for_ann=min_rows_for_ann,
                                          rebuild_growth=rebuild_growth)
        if built is None:
            return None
        action, name = built
        self.indexes_built.append(name)
        return action

    def shutdown(self) -> None:
        """Stop the cluster this engine started (never one it only connected to)."""
        if self.started_here:
            import ray
            ray.shutdown()


# The engine whose cluster builds the vector indexes (``Processing.process`` sets it around each stage's
# ``after_run``); None: they are built in this process, as with the local engine.
_index_engine: ContextVar[RayEngine | None] = ContextVar("workbench_index_engine", default=None)


@contextmanager
def indexes_built_on(engine: Any) -> Iterator[None]:
    """Within this block, ``ensure_indexes`` trains new IVF-PQ indexes on ``engine``'s Ray cluster (lance-ray);
    a local engine (or None) leaves them to this process."""
    token = _index_engine.set(engine if isinstance(engine, RayEngine) else None)
    try:
        yield
    finally:
        _index_engine.reset(token)


def ensure_indexes(table: Any, vector_column: str = "vector", **kwargs: Any) -> str:
    """``vector_index.ensure_indexes`` for a stage's ``after_run``: under a Ray engine (``indexes_built_on``) a
    new or rebuilt IVF-PQ index is built on the cluster first (``RayEngine.build_vector_index``), so the local
    pass finds it current and only adds scalar indexes and folds in new rows, as it always does."""
    from workbench.semantic.vector_index import ensure_indexes as ensure_here

    engine = _index_engine.get()
    built = None
    if engine is not None:
        built = engine.build_vector_index(table, vector_column,
                                          min_rows_for_ann=kwargs.get("min_rows_for_ann"),
                                          rebuild_growth=kwargs.get("rebuild_growth"))
    action = ensure_here(table, vector_column, **kwargs)
    return built or action


class LocalHead:
    """A Ray head on 127.0.0.1 (``ray start --head``) in its own process group, for tests and benchmarks that need
    a real cluster: ``address`` to connect to, ``stop()`` ends exactly this head's processes (never ``ray stop``,
    which stops every Ray on the machine). Fixed agent and metrics ports and longer waits help a loaded machine,
    but with the load far above the cores the raylet still aborts after 30 s without the dashboard agent's port
    file (Ray's own fixed wait): then ``EngineUnavailable`` after ``attempts`` tries."""

    def __init__(self, num_cpus: int, temp_dir: str | os.PathLike, *, start_timeout_s: float = 420.0,
                 attempts: int = 2):
        import signal
        import subprocess
        import sys
        from pathlib import Path

        self._signal = signal
        # No token authentication: the head listens on 127.0.0.1 only, and ~/.ray/auth_token is shared by every
        # Ray on the machine (another user's new token made this head refuse its own drivers).
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_raylet_start_wait_time_s": "120",
               "RAY_agent_register_timeout_ms": "180000", "RAY_AUTH_MODE": "disabled"}
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # for the drivers this process (and its children) start
        self.pgid: int | None = None
        error = ""
        for _ in range(attempts):
            port = _free_port()
            proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("ray")), "start", "--head", "--node-ip-address", "127.0.0.1",
                 "--port", str(port), "--num-cpus", str(num_cpus), "--include-dashboard", "false",
                 "--disable-usage-stats",
                 "--dashboard-agent-grpc-port", str(_free_port()), "--dashboard-agent-listen-port",
                 str(_free_port()), "--runtime-env-agent-port", str(_free_port()), "--metrics-export-port",
                 str(_free_port()), f"--temp-dir={temp_dir}"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
            self.pgid = proc.pid
            try:
                _, err = proc.communicate(timeout=start_timeout_s)
            except subprocess.TimeoutExpired:
                err = f"`ray start` took over {start_timeout_s:.0f} s"
            if proc.returncode == 0:
                self.address = f"127.0.0.1:{port}"
                return
            error = (err.strip().splitlines() or ["?"])[-1][:300]
            self.stop()
        raise EngineUnavailable(f"a local Ray head could not start: {error}")

    def stop(self) -> None:
        """Stop this head's processes (its process group): SIGTERM, then SIGKILL what is left after 10 s."""
        import time
        if self.pgid is None:
            return
        for sig, wait_s in ((self._signal.SIGTERM, 10.0), (self._signal.SIGKILL, 0.0)):
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
        self.pgid = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds on a HOST:PORT nobody listens on (Ray itself retries its connection for minutes)."""
    target = address.removeprefix("ray://")
    if address == "auto" or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as e:
        raise EngineUnavailable(f"could not reach the Ray cluster at {address}: {e.strerror or e}; start it with "
                                f"`ray start --head` or pass the right --address") from e


def _ray_reason(e: Exception) -> str:
    import ray
    if isinstance(e, ray.exceptions.OutOfMemoryError):
        return "the Ray worker ran out of memory on this file"
    if isinstance(e, (ray.exceptions.WorkerCrashedError, ray.exceptions.ActorDiedError)):
        return "the decoder crashed the Ray worker; the file is probably corrupt"
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return f"the Ray task failed: {first[:300]}"


def make_engine(name: str, *, address: str | None = None, settings: Any = None,
                keep_workers_s: float | None = None) -> LocalEngine | RayEngine:
    """The engine called ``name`` ("local" or "ray"), with its resources from ``settings``; ``keep_workers_s``
    keeps local workers between runs (see ``LocalEngine``)."""
    if name == "local":
        return LocalEngine(keep_workers_s)
    if name == "ray":
        kw: dict[str, Any] = {}
        if settings is not None:
            kw = {"cpus_per_task": settings.ray_cpus_per_task, "cpus_per_actor": settings.ray_cpus_per_actor,
                  "gpus_per_actor": settings.ray_gpus_per_actor,
                  "num_cpus": settings.workers if settings.workers > 0 else None,
                  "import_files_per_task": settings.ray_import_files_per_task}
        return RayEngine(address or (settings.ray_address if settings is not None else None), **kw)
    raise EngineUnavailable(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
