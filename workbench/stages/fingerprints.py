"""Perceptual fingerprints for duplicate detection: the ``fingerprints`` stage.

Images: three 64-bit hashes (pHash, dHash, aHash) of 24 views of the thumbnail (3 centre crops x 8 rotations and
mirrors, see ``duplicates.fingerprint``), plus a detail measure and the mean colour for flat pictures. Videos: a
signature of pHashes of frames at fixed fractions of the duration, so a re-encode (other codec, bitrate or size)
of the same clip matches.
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from workbench.catalog.schema import stage_schema
from workbench.errors import MediaError
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext

from workbench.duplicates.fingerprint import N_VIEWS  # noqa: E402 (light module: numpy and Pillow only)
VIDEO_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


VERSION = f"pdahash{N_VIEWS}-v1"  # bump when what is stored changes


class FingerprintStage(Stage):
    name = "fingerprints"
    kinds = ("image", "video")
    dependency_columns = ("thumb",)
    bulky_columns = ("phash", "dhash", "ahash", "frame_phash")

    def __init__(self, settings: Settings, thumbnails: Stage):
        super().__init__(settings)
        self.dependency = thumbnails

    @property
    def version(self) -> str:  # type: ignore[override]
        return VERSION

    @property
    def schema(self) -> pa.Schema:  # type: ignore[override]
        h = pa.list_(pa.int64(), N_VIEWS)
        return stage_schema(pa.field("phash", h), pa.field("dhash", h), pa.field("ahash", h),
                            pa.field("detail", pa.int16()), pa.field("colour", pa.int32()),
                            pa.field("frame_phash", pa.list_(pa.int64())))

    def process_one(self, row: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        from workbench.duplicates.fingerprint import fingerprint, to_int64
        if row["kind"] == "video":
            from workbench.duplicates.video_signature import video_signature
            return {"phash": None, "dhash": None, "ahash": None, "detail": None, "colour": None,
                    "frame_phash": [to_int64(h) for h in video_signature(ctx.source_of(row), VIDEO_FRACTIONS,
                                                                         self.settings)]}
        from PIL import Image
        try:
            with Image.open(ctx.derived / row["thumb"]) as im:
                fp = fingerprint(im)
        except (OSError, ValueError) as e:
            raise MediaError(f"could not read the thumbnail to fingerprint it: {e}") from e
        return {"phash": [to_int64(v) for v in fp["phash"]], "dhash": [to_int64(v) for v in fp["dhash"]],
                "ahash": [to_int64(v) for v in fp["ahash"]], "detail": int(fp["detail"]),
                "colour": int(fp["colour"]), "frame_phash": None}

    def failed_row(self, media_id: str, reason: str) -> dict[str, Any]:
        row = super().failed_row(media_id, reason)
        row.update(phash=None, dhash=None, ahash=None, detail=None, colour=None, frame_phash=None)
        return row
