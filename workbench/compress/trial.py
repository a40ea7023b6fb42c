"""Try a lossy rule on one image and keep everything a person needs to judge it: both pictures, sizes, metric,
time. The compression tuner dashboard is built on this; the encoding is ``job.encode_image``, the very step
``Library.compress`` runs, so what you see is what applying the policy would write.

Nothing is written anywhere: the original is only read.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from workbench.compress.job import decode_source, encode_image
from workbench.compress.policy import ImageRule

#: Long side (pixels) of the pictures kept for viewing. Both are resized the same way, so the comparison stays
#: fair, but artifacts smaller than a pixel at this size are not visible. 1600 keeps the two RGBA arrays a page
#: receives at about 20 MB at most.
VIEW_MAX_SIDE_PX = 1600


@dataclass
class Trial:
    """One image encoded by one rule."""

    media_id: str
    name: str
    codec: str
    quality: int
    bytes_before: int
    bytes_after: int
    metric: str
    value: float | None
    met: bool            # the target was reached (always True for a fixed quality)
    encode_s: float      # wall time to encode and measure (the whole search, for a target)
    original: Image.Image  # upright RGBA, long side <= view_max_side_px
    result: Image.Image    # the decoded encode, same size as original

    @property
    def saving(self) -> float:
        """Fraction of the original's bytes saved (negative when the result is larger)."""
        return 1.0 - self.bytes_after / self.bytes_before if self.bytes_before else 0.0

    @property
    def kept(self) -> bool:
        """Whether applying the policy would write this result as a version (``compress_one``'s rule)."""
        return self.met and self.bytes_after < self.bytes_before

    def record(self) -> dict[str, Any]:
        """This trial as a row for ``job.predict``."""
        return {"kind": "image", "bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "new": self.kept, "metric": self.metric, "value": self.value}


def _for_view(img: Image.Image, max_side_px: int) -> Image.Image:
    im = img.convert("RGBA")
    if max(im.size) > max_side_px:
        scale = max_side_px / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                       Image.Resampling.LANCZOS)
    return im


def try_rule(src: Path, rule: ImageRule, *, media_id: str = "", name: str = "",
             view_max_side_px: int = VIEW_MAX_SIDE_PX) -> Trial:
    """Encode the image at ``src`` by ``rule`` (lossy) in memory and measure it; nothing is written."""
    from workbench.compress import lossy

    if rule.mode != "lossy":
        raise ValueError(f"the tuner tries lossy rules; got mode {rule.mode!r}")
    data = Path(src).read_bytes()
    img = decode_source(data, f"{name or src} to try compressing it")
    start = time.perf_counter()
    res = encode_image(img, rule)
    seconds = time.perf_counter() - start
    original = _for_view(lossy.upright(img, lossy.metadata_of(img)["exif"]), view_max_side_px)
    with lossy.open_image(res.data) as decoded:
        result = _for_view(decoded, view_max_side_px)
    if result.size != original.size:  # cannot happen for these codecs; a resize keeps the view aligned if it did
        result = result.resize(original.size, Image.Resampling.LANCZOS)
    return Trial(media_id=media_id, name=name or Path(src).name, codec=res.codec, quality=res.quality,
                 bytes_before=len(data), bytes_after=res.bytes, metric=res.metric,
                 value=None if res.value is None else float(res.value), met=bool(res.met), encode_s=seconds,
                 original=original, result=result)
