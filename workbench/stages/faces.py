"""Face detection and embeddings: the ``face_scans`` stage table (one row per media) and the ``faces`` table
(one row per face: box, frame, detector score, quality, embedding, model id).

Images are read from their preview, the size every analysis stage reads; boxes are stored in pixels of the
upright original. Videos are sampled like the CLIP stage does and their faces consolidated into tracks, one
row per track with the frame number and time of its best face. After a run, ``Library.process`` updates people
(``people.assign.update_people``): new faces join known people or form new ones. (The stage does not call it
itself: stages sit below the people layer.)
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.catalog.schema import UTC_TS, stage_schema
from workbench.errors import MediaError
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext, now_utc

FACES_TABLE = "faces"

DETECTION = pa.struct([
    pa.field("face_id", pa.string()),
    pa.field("bbox", pa.list_(pa.int32())),          # x, y, w, h in pixels of the upright original
    pa.field("frame", pa.int32()),                   # videos: frame number of the face shown; null for images
    pa.field("t_s", pa.float64()),                   # videos: its time in seconds
    pa.field("track_frames", pa.int32()),            # videos: sampled frames the person was seen in
    pa.field("score", pa.float32()),                 # detector confidence 0..1
    pa.field("size_px", pa.int32()),                 # shorter box side in analysed (preview) pixels
    pa.field("sharpness", pa.float32()),             # Laplacian variance of the aligned crop at 112 px
    pa.field("quality", pa.float32()),               # 0..1 ranking score (faces.quality.quality_score)
    pa.field("embedding", pa.list_(pa.float32())),
])

FACES = pa.schema([
    pa.field("face_id", pa.string(), nullable=False),
    pa.field("media_id", pa.string(), nullable=False),
    pa.field("model_id", pa.string(), nullable=False),
    *[DETECTION.field(i) for i in range(1, DETECTION.num_fields)],
    pa.field("created_at", UTC_TS, nullable=False),
])


def face_id(media_id: str, model: str, index: int) -> str:
    """Stable across reruns, so rewriting a media's faces is idempotent and user decisions keep pointing at them."""
    return hashlib.sha256(f"{media_id}@{model}#{index}".encode()).hexdigest()[:16]


class FaceStage(Stage):
    name = "face_scans"
    kinds = ("image", "video")
    dependency_columns = ("preview", "preview_width", "preview_height")
    workers = 1  # dlib already uses both cores for its detector; a second copy of the models only competes
    bulky_columns = ("detections",)
    model_name = "faces"  # the detector and recogniser (faces/engine.py's FaceEngine)

    def __init__(self, settings: Settings, thumbnails: Stage):
        super().__init__(settings)
        self.dependency = thumbnails

    @property
    def version(self) -> str:  # type: ignore[override]
        from workbench.faces.engine import model_id
        return f"{model_id(self.settings)}-v1"

    @property
    def schema(self) -> pa.Schema:  # type: ignore[override]
        return stage_schema(pa.field("faces", pa.int32()), pa.field("frames_scanned", pa.int32()),
                            pa.field("detections", pa.list_(DETECTION)))

    def side_schemas(self) -> dict[str, pa.Schema]:
        return {FACES_TABLE: FACES}

    def side_key(self, table: str) -> str:
        return "face_id"

    def unavailable_reason(self) -> str | None:
        """Loading is the sure test; the loaded engine stays in the process's model cache."""
        from workbench.faces.engine import FaceModelUnavailable
        from workbench.faces.weights import FaceWeightsUnavailable
        try:
            self.model()
        except (FaceModelUnavailable, FaceWeightsUnavailable) as e:
            return str(e)
        return None

    def process_one(self, row: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        engine = self.model()
        if row["kind"] == "video":
            dets, frames = self._video(row, ctx, engine)
        else:
            dets, frames = self._image(row, ctx, engine), 1
        for i, d in enumerate(dets):
            d["face_id"] = face_id(row["id"], self.version, i)
        return {"faces": len(dets), "frames_scanned": frames, "detections": dets}

    def _image(self, row: dict[str, Any], ctx: StageContext, engine: Any) -> list[dict[str, Any]]:
        from PIL import Image
        try:
            with Image.open(ctx.derived_stream(row["preview"])) as im:
                rgb = np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as e:
            raise MediaError(f"could not read the preview to find faces: {e}") from e
        scale = (row.get("width") or rgb.shape[1]) / rgb.shape[1]
        return [_detection(f, scale) for f in engine.analyze(rgb)]

    def _video(self, row: dict[str, Any], ctx: StageContext, engine: Any) -> tuple[list[dict[str, Any]], int]:
        from workbench.faces.tracks import build_tracks
        from workbench.semantic.frames import sample_video_frames
        frames = sample_video_frames(ctx.local_source(row), self.settings)
        if not frames:
            raise MediaError("no frame could be sampled from this video to find faces")
        samples = []
        scale = 1.0
        for t, im in frames:
            small = im.copy()
            small.thumbnail((self.settings.preview_size_px, self.settings.preview_size_px))
            scale = im.width / small.width
            samples.append((t, engine.analyze(np.asarray(small.convert("RGB")))))
        fps = row.get("fps") or None
        out = []
        for tr in build_tracks(samples, self.settings.face_match_distance):
            _, t, face = tr.best
            d = _detection(face, scale)
            d.update(t_s=float(t), frame=int(round(t * fps)) if fps else None, track_frames=len(tr.faces))
            out.append(d)
        return out, len(frames)

    def side_tables(self, results: pa.Table) -> dict[str, pa.Table]:
        rows = []
        now = now_utc()
        for r in results.select(["media_id", "version", "status", "detections"]).to_pylist():
            for d in r["detections"] or []:
                rows.append({**d, "media_id": r["media_id"], "model_id": r["version"], "created_at": now})
        return {FACES_TABLE: pa.Table.from_pylist(rows, schema=FACES)}


def _detection(face: Any, scale: float) -> dict[str, Any]:
    from workbench.faces.quality import quality_score
    x, y, w, h = face.bbox
    return {"bbox": [int(round(x * scale)), int(round(y * scale)), int(round(w * scale)), int(round(h * scale))],
            "frame": None, "t_s": None, "track_frames": None, "score": face.score, "size_px": face.size_px,
            "sharpness": face.sharpness, "quality": quality_score(face.size_px, face.sharpness),
            "embedding": face.embedding.astype(np.float32).tolist() if face.embedding is not None else None}
