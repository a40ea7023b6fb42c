"""Compression policies: what to do with photos (and videos), chosen by name or read from a JSON file.

Built-in policies::

    lossless   photos: the smallest verified lossless form (JPEG -> JPEG XL with exact reconstruction,
               PNG/TIFF/BMP -> PNG/WebP/JPEG XL lossless); videos: untouched. The default: it loses nothing.
    balanced   photos: AVIF at the lowest quality with SSIM >= 0.98; videos: H.265 CRF 28
    space      photos: AVIF at SSIM >= 0.95; videos: AV1 CRF 35

A file policy is JSON with the same fields, e.g.::

    {"name": "archive", "images": {"mode": "lossy", "codec": "jxl", "metric": "ssimulacra2", "target": 80},
     "videos": {"codec": "av1", "target_ssim": 0.97}}

Applying a policy writes new versions next to the originals (``derived/versions/<policy>/``) and records them;
the originals are kept.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError

IMAGE_CODECS = ("jpeg", "webp", "avif", "heic", "jxl")


@dataclass
class ImageRule:
    mode: str = "lossless"          # lossless | lossy
    codec: str = "avif"             # lossy only
    quality: int | None = None      # a fixed quality, or None to search for the target
    metric: str = "ssim"
    target: float = 0.98


@dataclass
class VideoRule:
    codec: str = "h265"
    crf: int | None = None
    target_ssim: float | None = None   # when set, the highest CRF whose sampled frames reach this mean SSIM


@dataclass
class Policy:
    name: str
    images: ImageRule = field(default_factory=ImageRule)
    videos: VideoRule | None = None

    @property
    def loses_information(self) -> bool:
        return self.images.mode == "lossy" or self.videos is not None

    def describe(self) -> dict:
        return asdict(self)


BUILT_IN = {
    "lossless": Policy("lossless"),
    "balanced": Policy("balanced", ImageRule("lossy", "avif", None, "ssim", 0.98), VideoRule("h265", 28)),
    "space": Policy("space", ImageRule("lossy", "avif", None, "ssim", 0.95), VideoRule("av1", 35)),
}


def load_policy(name_or_path: str) -> Policy:
    """A built-in policy by name, or one read from a JSON file; errors say what is wrong and what is allowed."""
    if name_or_path in BUILT_IN:
        return BUILT_IN[name_or_path]
    p = Path(name_or_path).expanduser()
    if not p.is_file():
        raise WorkbenchError(f"no policy {name_or_path!r}: use one of {', '.join(BUILT_IN)} or a JSON file path")
    try:
        data = json.loads(p.read_text())
        images = ImageRule(**data.get("images", {}))
        videos = VideoRule(**data["videos"]) if data.get("videos") else None
        pol = Policy(str(data.get("name") or p.stem), images, videos)
    except (ValueError, TypeError) as e:
        raise WorkbenchError(f"{p}: not a valid policy ({e}); see `workbench compress --help`") from e
    if images.mode not in ("lossless", "lossy"):
        raise WorkbenchError(f"{p}: images.mode must be 'lossless' or 'lossy', not {images.mode!r}")
    if images.mode == "lossy" and images.codec not in IMAGE_CODECS:
        raise WorkbenchError(f"{p}: images.codec must be one of {', '.join(IMAGE_CODECS)}, not {images.codec!r}")
    return pol
