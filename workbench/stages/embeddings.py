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


class EmbeddingStage(Stage):
    kinds = ("image", "video")
    dependency_columns = ("preview",)
    workers = 1  # torch already uses every core; two model copies would only fight for them
    bulky_columns = ("vector", "frame_vectors")

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
        """Checked once per run (the tags stage asks too): loading is the only sure test of the weights."""
        if not hasattr(self, "_unavailable"):
            from workbench.semantic.clip import WeightsUnavailable, load_embedder
            try:
                load_embedder(self.settings)
                self._unavailable: str | None = None
            except WeightsUnavailable as e:
                self._unavailable = str(e)
        return self._unavailable

    def after_run(self, catalog: Any) -> None:
        """Keep the vector indexes fresh: exact search while small, IVF-PQ once large (see vector_index)."""
        from workbench.semantic.vector_index import ensure_indexes
        ensure_indexes(catalog.table(self.name),
                       filter_columns=("version", "status", "kind", "taken_at", "media_id"))
        ensure_indexes(catalog.table(self.frames_table), filter_columns=("model_id", "kind", "taken_at", "media_id"))
        # Date-filtered searches are answered exactly from a date-sorted snapshot (filtered_exact).
        from workbench.semantic.search import SearchTables, refresh_snapshots
        refresh_snapshots(catalog, SearchTables(self.name, self.frames_table, self.version))

    def transform(self, batch: pa.RecordBatch, ctx: StageContext) -> pa.RecordBatch:
        """Images are embedded together in one forward pass per batch; videos frame by frame."""
        from PIL import Image

        from workbench.semantic.clip import load_embedder
        from workbench.semantic.frames import sample_video_frames

        emb = load_embedder(self.settings)
        rows = batch.to_pylist()
        out: dict[str, dict[str, Any]] = {}
        images, image_ids = [], []
        for row in rows:
            mid = row["id"]
            try:
                if row["kind"] == "video":
                    frames = sample_video_frames(ctx.source_of(row), self.settings)
                    if not frames:
                        raise MediaError("no frame could be sampled from this video")
                    vecs = emb.embed_images([im for _, im in frames])
                    mean = vecs.mean(axis=0)
                    mean /= max(float(np.linalg.norm(mean)), 1e-12)
                    out[mid] = self._ok(mid, mean, "video", [t for t, _ in frames], vecs, row.get("taken_at"))
                else:
                    with Image.open(ctx.derived / row["preview"]) as im:
                        images.append(im.convert("RGB"))
                    image_ids.append((mid, row.get("taken_at")))
            except MediaError as e:
                out[mid] = self.failed_row(mid, e.reason)
            except (OSError, ValueError) as e:
                out[mid] = self.failed_row(mid, f"could not read the preview to embed it: {e}")
        if images:
            for (mid, taken), vec in zip(image_ids, emb.embed_images(images)):
                out[mid] = self._ok(mid, vec, "image", None, None, taken)
        ordered = [out[r["id"]] for r in rows]
        return pa.RecordBatch.from_pylist(ordered, schema=self.schema)

    def _ok(self, mid: str, vec: np.ndarray, kind: str, times: list[float] | None,
            frame_vecs: np.ndarray | None, taken_at: Any = None) -> dict[str, Any]:
        return {"key": self.key(mid), "media_id": mid, "version": self.version, "status": "ok", "error": None,
                "created_at": now_utc(), "vector": vec.astype(np.float32).tolist(), "kind": kind,
                "taken_at": taken_at,
                "frames": len(times) if times else None, "frame_times": times,
                "frame_vectors": frame_vecs.astype(np.float32).tolist() if frame_vecs is not None else None}

    def failed_row(self, media_id: str, reason: str) -> dict[str, Any]:
        row = super().failed_row(media_id, reason)
        row.update(vector=None, kind=None, taken_at=None, frames=None, frame_times=None, frame_vectors=None)
        return row

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
