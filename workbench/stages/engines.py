"""Where a stage's batches run: in local worker processes (the default) or on a Ray cluster.

Both engines take the same thing, a stage, its context and its pending media as Arrow batches, and give back the
stage's own result batches; committing to the catalog stays in the runner, in the driver process, so the two
engines write the same rows the same way and a killed run resumes the same way (pending = no row yet).

- ``LocalEngine``: pebble worker processes (``workbench.parallel``): a crashing or hanging decoder costs one file.
- ``RayEngine``: a Ray Data pipeline, ``from_arrow(pending).map_batches(...)``. A model stage (one that sets
  ``workers = 1`` locally because its model multithreads) runs in an actor pool so each actor loads the model once;
  a decode-heavy stage runs as plain tasks. Each UDF call keeps one bad file to itself: an exception becomes that
  file's failed row. A block whose worker died (a decoder crash, out of memory) is let through by Ray Data
  (``max_errored_blocks``); its media are then rerun one per Ray task, so the culprit fails alone with its reason
  and the others still get their rows.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Iterator
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
    """A Ray Data callable class: the stage set up once per actor, then batch in, batch out."""

    def __init__(self, stage: Stage, ctx: StageContext):
        self.stage, self.ctx = stage, ctx
        stage.setup(ctx)  # the model, loaded into this actor's process once

    def __call__(self, table: pa.Table) -> pa.Table:
        return transform_each(table, self.stage, self.ctx)


def transform_each(table: pa.Table, stage: Stage, ctx: StageContext) -> pa.Table:
    """The stage's transform over ``table``; if it raises anything but a file's own ``MediaError`` (which the
    stage already turns into a failed row), each file is retried alone so one bad file costs only its row."""
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


def _one_file(stage: Stage, ctx: StageContext, batch: pa.RecordBatch) -> pa.RecordBatch | Failure:
    return call_as_result(run_batch, (stage, batch, ctx))


class RayEngine:
    """A Ray cluster: ``address`` as ``ray.init`` takes it (None or "local": start one on this machine;
    "auto": the cluster this machine belongs to; "ray://host:10001": a remote one)."""

    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_task: float = 1.0, cpus_per_actor: float = 1.0,
                 gpus_per_actor: float = 0.0, num_cpus: int | None = None):
        self.address = None if address in (None, "", "local") else address
        self.cpus_per_task, self.cpus_per_actor, self.gpus_per_actor = cpus_per_task, cpus_per_actor, gpus_per_actor
        self.num_cpus = num_cpus
        self.started_here = False
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
        url = getattr(ray.worker.get_global_worker().node, "webui_url", None) if ray.is_initialized() else None
        cpus = ray.cluster_resources().get("CPU", 0)
        dash = f", dashboard http://{url}" if url else ""
        return f"Ray cluster ({cpus:g} CPUs, node {ctx.get_node_id()[:8]}{dash})"

    def dashboard_url(self) -> str | None:
        try:
            import ray
            url = ray.worker.get_global_worker().node.webui_url
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
        rows = max(b.num_rows for b in batches)
        todo = pa.Table.from_batches(batches)
        data_ctx = ray.data.DataContext.get_current()
        data_ctx.max_errored_blocks = -1   # a dead worker's block is reported by its missing rows, below
        data_ctx.enable_progress_bars = False
        ds = ray.data.from_arrow(todo).repartition(max(1, -(-todo.num_rows // rows)))
        if stage.workers == 1:  # a model stage: an actor pool, the model loaded once per actor
            ds = ds.map_batches(_StageUDF, fn_constructor_args=(stage, ctx), batch_size=rows,
                                batch_format="pyarrow", concurrency=max(1, workers), num_cpus=self.cpus_per_actor,
                                num_gpus=self.gpus_per_actor or None, zero_copy_batch=True)
        else:
            ds = ds.map_batches(transform_each, fn_args=(stage, ctx), batch_size=rows, batch_format="pyarrow",
                                num_cpus=self.cpus_per_task, concurrency=max(1, workers), zero_copy_batch=True)
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

    def shutdown(self) -> None:
        """Stop the cluster this engine started (never one it only connected to)."""
        if self.started_here:
            import ray
            ray.shutdown()


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
                  "num_cpus": settings.workers if settings.workers > 0 else None}
        return RayEngine(address or (settings.ray_address if settings is not None else None), **kw)
    raise EngineUnavailable(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
