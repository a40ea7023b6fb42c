"""Technical quality: the ``quality`` stage stores measurements (sharpness, exposure, noise, detail, colour,
resolution; for videos resolution and bitrate). Flags and the 0-100 score are computed when read, from those
measurements and the current ``quality_*`` settings, so moving a threshold never re-measures anything.

Images are measured on their preview; when the face stage has found faces, sharpness is measured on them (a
portrait with a soft background is not blurry).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from workbench.catalog.schema import stage_schema
from workbench.errors import MediaError
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext

# Every measurement measure_image / measure_video can return, stored as nullable float64 columns.
MEASURES = ("luma_mean", "unclipped_luma_mean", "highlight_luma", "clipped_highlights", "clipped_shadows",
            "flat_colour_share", "sharpness_image", "sharpness_faces", "faces_measured", "sharpness",
            "sharpness_directional", "detail",
            "entropy_bits", "noise_sigma", "saturation", "saturation_mean", "megapixels", "aspect_ratio",
            "short_side_px", "long_side_px", "fps", "duration_s", "bitrate_kbps", "bits_per_pixel")


VERSION = "measures-v2"  # bump when what is stored changes (v2: sharpness_directional)


class QualityStage(Stage):
    name = "quality"
    kinds = ("image", "video")
    dependency_columns = ("preview", "preview_width", "preview_height")

    def __init__(self, settings: Settings, thumbnails: Stage, faces: Stage | None = None):
        super().__init__(settings)
        self.dependency = thumbnails
        self.faces = faces

    @property
    def version(self) -> str:  # type: ignore[override]
        return VERSION

    @property
    def schema(self) -> pa.Schema:  # type: ignore[override]
        return stage_schema(*[pa.field(m, pa.float64()) for m in MEASURES])

    def optional_inputs(self) -> list[tuple[Stage, tuple[str, ...]]]:
        return [(self.faces, ("detections",))] if self.faces is not None else []

    def process_one(self, row: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        from workbench.quality.measures import measure_image, measure_video
        if row["kind"] == "video":
            m = measure_video(row.get("width"), row.get("height"), row.get("duration_s"), row.get("size_bytes"),
                              row.get("fps"))
        else:
            from PIL import Image
            try:
                with Image.open(ctx.derived_stream(row["preview"])) as im:
                    rgb = np.asarray(im.convert("RGB"))
            except (OSError, ValueError) as e:
                raise MediaError(f"could not read the preview to measure quality: {e}") from e
            scale = rgb.shape[1] / max(1, row.get("width") or rgb.shape[1])
            boxes = [tuple(int(round(v * scale)) for v in d["bbox"]) for d in (row.get("detections") or [])]
            m = measure_image(rgb, width_px=row.get("width") or rgb.shape[1],
                              height_px=row.get("height") or rgb.shape[0], face_boxes=boxes)
        return {k: (float(m[k]) if k in m else None) for k in MEASURES}
