"""Thumbnail (256 px) and preview (1440 px) WebP renditions for every image and video."""
from __future__ import annotations

from typing import Any

from workbench.catalog.schema import THUMBNAILS
from workbench.stages.base import Stage, StageContext


class ThumbnailStage(Stage):
    name = "thumbnails"
    schema = THUMBNAILS

    @property
    def version(self) -> str:
        s = self.settings
        return f"webp-{s.thumb_size_px}-{s.preview_size_px}-q{s.webp_quality}-v1"

    def relpath(self, media_id: str, which: str) -> str:
        return f"thumbnails/{self.version}/{media_id[:2]}/{media_id}.{which}.webp"

    def process_one(self, row: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        from workbench.imaging.renditions import render_image_file, render_video_file  # heavy: load in workers

        src = ctx.materialize_source(row)  # a JPEG stored as JPEG XL is rebuilt into the cache first
        if not src.exists():
            raise FileNotFoundError(src)
        poster_time = None
        if row["kind"] == "video":
            video = render_video_file(src, ctx.settings)
            renditions, poster_time = video.renditions, video.poster_time_s
        else:
            renditions = render_image_file(src, row["mime"], ctx.settings)
        out: dict[str, Any] = {"poster_time_s": poster_time}
        for which in ("thumb", "preview"):
            r = renditions[which]
            rel = self.relpath(row["id"], which)
            ctx.write_derived(rel, r.data)
            out.update({which: rel, f"{which}_width": r.width, f"{which}_height": r.height})
        return out
