"""Perceptual fingerprints for duplicate detection: the ``fingerprints`` stage.

Images: three 64-bit hashes (pHash, dHash, aHash) of 40 views of the thumbnail (3 centre crops x 8 rotations and
mirrors, 16 off-centre crops, see ``duplicates.fingerprint``), plus a detail measure and the mean colour for flat
pictures; for copies rotated by other angles (``duplicates.rotation``) the centre-disc colour descriptor of the
thumbnail and the ORB keypoints of the preview at 640 px (the thumbnail finds fewer: benchmarks/
rotated_duplicates.py). Videos: a signature of pHashes of frames at fixed fractions of the duration, so a re-encode
(other codec, bitrate or size) of the same clip matches.
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from workbench.catalog.schema import stage_schema
from workbench.errors import MediaError
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext

from workbench.duplicates.fingerprint import N_VIEWS  # noqa: E402 (light module: numpy and Pillow only)
from workbench.duplicates.rotation import DISC_DIM  # noqa: E402 (numpy only at import)
VIDEO_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
_NO_ROTATION = {"disc": None, "kp_xy": None, "kp_desc": None, "kp_size": None}


VERSION = f"pdahash{N_VIEWS}-orb-v2"  # bump when what is stored changes (v2: disc + ORB keypoints)


class FingerprintStage(Stage):
    name = "fingerprints"
    kinds = ("image", "video")
    dependency_columns = ("thumb", "preview")
    bulky_columns = ("phash", "dhash", "ahash", "frame_phash", "disc", "kp_xy", "kp_desc")

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
                            pa.field("frame_phash", pa.list_(pa.int64())),
                            pa.field("disc", pa.list_(pa.float32(), DISC_DIM)), pa.field("kp_xy", pa.list_(pa.float32())),
                            pa.field("kp_desc", pa.binary()), pa.field("kp_size", pa.list_(pa.int32(), 2)))

    def process_one(self, row: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        from workbench.duplicates.fingerprint import fingerprint, to_int64
        if row["kind"] == "video":
            from workbench.duplicates.video_signature import video_signature
            return {"phash": None, "dhash": None, "ahash": None, "detail": None, "colour": None, **_NO_ROTATION,
                    "frame_phash": [to_int64(h) for h in video_signature(ctx.local_source(row), VIDEO_FRACTIONS,
                                                                         self.settings)]}
        import numpy as np
        from PIL import Image

        from workbench.duplicates.rotation import disc_descriptor, keypoints, pack
        try:
            with Image.open(ctx.derived_stream(row["thumb"])) as im:
                fp = fingerprint(im)
                disc = disc_descriptor(np.asarray(im.convert("RGB")))
        except (OSError, ValueError) as e:
            raise MediaError(f"could not read the thumbnail to fingerprint it: {e}") from e
        try:
            with Image.open(ctx.derived_stream(row["preview"])) as im:
                kp = pack(keypoints(np.asarray(im.convert("RGB"))))
        except (OSError, ValueError, TypeError) as e:
            raise MediaError(f"could not read the preview to find keypoints: {e}") from e
        return {"phash": [to_int64(v) for v in fp["phash"]], "dhash": [to_int64(v) for v in fp["dhash"]],
                "ahash": [to_int64(v) for v in fp["ahash"]], "detail": int(fp["detail"]),
                "colour": int(fp["colour"]), "frame_phash": None, "disc": disc.tolist(), **kp}
