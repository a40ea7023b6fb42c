"""CLIP embeddings: one vector per image (from its preview) and per video (mean of sampled frames, whose own
vectors and timestamps go to a side table so a video can match by its best frame).

The table is keyed by ``media_id@model_id``: switching models embeds everything again under the new id while
the old vectors stay until asked to go. Its name carries the vector size (``embeddings_512``), because a Lance
vector column has one fixed size.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.catalog.schema import UTC_TS, stage_schema
from workbench.errors import MediaError
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext, now_utc


def frame_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("key", pa.string(), nullable=False),       # media_id@model_id@t
        pa.field("media_id", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("t_s", pa.float64(), nullable=False),
        pa.field("kind", pa.string()),                # copied from media: filters run inside the vector query
        pa.field("taken_at", pa.timestamp("us")),
        pa.field("vector", pa.list_(pa.float32(), dim)),
        pa.field("created_at", UTC_TS, nullable=False),
    ])


# Encoder batches per worker task. Each task starts with the encoder waiting for its first batch to be decoded and
# ends with the results going back: with 4 batches per task the encoder was idle 8% of the time between its first
# and last batch, with 8 it is idle less than that (docs/benchmarks.md, embed_pipeline). More would make the progress
# bar, which moves once per task, too coarse (128 photos are about 10 s of fp32 encoding on two cores).
TASK_BATCHES = 8


class EmbeddingStage(Stage):
    kinds = ("image", "video")
    dependency_columns = ("preview",)
    workers = 1  # torch already uses every core; two model copies would only fight for them
    bulky_columns = ("vector", "frame_vectors")
    model_name = "clip"

    def __init__(self, settings: Settings, thumbnails: Stage):
        super().__init__(settings)
        self.dependency = thumbnails

    @cached_property
    def _identity(self) -> tuple[str, int]:
        from workbench.semantic.clip import weights_identity
        return weights_identity(self.settings)

    @property
    def version(self) -> str:
        return self._identity[0]

    @property
    def dim(self) -> int:
        return self._identity[1]

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"embeddings_{self.dim}"

    @property
    def frames_table(self) -> str:
        return f"frame_embeddings_{self.dim}"

    @property
    def schema(self) -> pa.Schema:  # type: ignore[override]
        return stage_schema(
            pa.field("vector", pa.list_(pa.float32(), self.dim)),
            pa.field("kind", pa.string()),
            pa.field("taken_at", pa.timestamp("us")),   # copied from media so date filters run inside the query
            pa.field("frames", pa.int32()),
            pa.field("frame_times", pa.list_(pa.float64())),
            pa.field("frame_vectors", pa.list_(pa.list_(pa.float32(), self.dim))),
        )

    def side_schemas(self) -> dict[str, pa.Schema]:
        return {self.frames_table: frame_schema(self.dim)}

    def unavailable_reason(self) -> str | None:
        """Loading is the only sure test of the weights; loaded, they stay in the process's model cache (a failed
        load is tried again when asked again, so weights placed later are found)."""
        from workbench.semantic.clip import WeightsUnavailable
        try:
            self.model()
        except WeightsUnavailable as e:
            return str(e)
        return None

    def model(self) -> Any:
        """CLIP's weights as an embedder with this stage's batch size and image encoder (the int8 one, loaded too,
        when ``clip_onnx_int8``)."""
        return super().model().embedder(self.settings)

    def after_run(self, catalog: Any) -> None:
        """Keep the vector indexes fresh: exact search while small, IVF-PQ once large (see vector_index); under the
        Ray engine a new IVF-PQ index is built on the cluster (engines.ensure_indexes)."""
        from workbench.stages.engines import ensure_indexes
        ensure_indexes(catalog.table(self.name),
                       filter_columns=("version", "status", "kind", "taken_at", "media_id"))
        ensure_indexes(catalog.table(self.frames_table), filter_columns=("model_id", "kind", "taken_at", "media_id"))
        # Date-filtered searches are answered exactly from a date-sorted snapshot (filtered_exact).
        from workbench.semantic.filtered_exact import SearchTables, refresh_snapshots
        refresh_snapshots(catalog, SearchTables(self.name, self.frames_table, self.version))

    @property
    def batch_rows(self) -> int:  # type: ignore[override]
        """Several encoder batches per worker task, so the loader threads can stay ahead of the encoder (feed.py)."""
        return max(1, self.settings.clip_batch_size) * TASK_BATCHES

    def transform(self, batch: pa.RecordBatch, ctx: StageContext) -> pa.RecordBatch:
        """Previews and video frames are decoded and preprocessed in loader threads while the encoder works on the
        batch before (``semantic.feed``); a video's vectors are its frames' plus their normalised mean."""
        from workbench.semantic.feed import embed_items

        rows = batch.to_pylist()
        times: dict[str, list[float]] = {}  # video id -> its sampled frames' times, filled by the loaders
        results = embed_items(self.model(), rows, lambda row: self._load(row, ctx, times),
                              prefetch_batches=self.settings.clip_prefetch_batches)
        out = []
        for row, res in zip(rows, results):
            mid = row["id"]
            if isinstance(res, MediaError):
                out.append(self.failed_row(mid, res.reason))
            elif isinstance(res, (OSError, ValueError)):
                out.append(self.failed_row(mid, f"could not read the preview to embed it: {res}"))
            elif isinstance(res, Exception):
                raise res  # unexpected: the runner retries the batch file by file and records the reason
            elif row["kind"] == "video":
                mean = res.mean(axis=0)
                mean /= max(float(np.linalg.norm(mean)), 1e-12)
                out.append(self._ok(mid, mean, "video", times[mid], res, row.get("taken_at")))
            else:
                out.append(self._ok(mid, res[0], "image", None, None, row.get("taken_at")))
        return pa.RecordBatch.from_pylist(out, schema=self.schema)

    def _load(self, row: dict[str, Any], ctx: StageContext, times: dict[str, list[float]]) -> list[Any]:
        """The images to embed for one media: its preview, or a video's sampled frames (their times kept aside)."""
        from PIL import Image

        from workbench.semantic.frames import sample_video_frames

        if row["kind"] == "video":
            frames = sample_video_frames(ctx.local_source(row), self.settings)
            if not frames:
                raise MediaError("no frame could be sampled from this video")
            times[row["id"]] = [t for t, _ in frames]
            return [im for _, im in frames]
        with Image.open(ctx.derived_stream(row["preview"])) as im:
            return [im.convert("RGB")]

    def _ok(self, mid: str, vec: np.ndarray, kind: str, times: list[float] | None,
            frame_vecs: np.ndarray | None, taken_at: Any = None) -> dict[str, Any]:
        return self.ok_row(mid, vector=vec.astype(np.float32).tolist(), kind=kind, taken_at=taken_at,
                           frames=len(times) if times else None, frame_times=times,
                           frame_vectors=frame_vecs.astype(np.float32).tolist() if frame_vecs is not None else None)

    def side_tables(self, results: pa.Table) -> dict[str, pa.Table]:
        rows = []
        now = now_utc()
        cols = ["media_id", "version", "kind", "taken_at", "frame_times", "frame_vectors"]
        for r in results.select(cols).to_pylist():
            for t, v in zip(r["frame_times"] or [], r["frame_vectors"] or []):
                rows.append({"key": f"{r['media_id']}@{r['version']}@{t:.3f}", "media_id": r["media_id"],
                             "model_id": r["version"], "t_s": float(t), "kind": r["kind"],
                             "taken_at": r["taken_at"], "vector": v, "created_at": now})
        return {self.frames_table: pa.Table.from_pylist(rows, schema=frame_schema(self.dim))}
