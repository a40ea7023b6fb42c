"""Preview and thumbnail WebPs from one decoded picture.

The original is decoded once, at preview size (JPEG DCT scaling / RAW previews do most of the shrinking); the
preview is resized from it and the thumbnail from the preview, which is much cheaper than from the original and
visually identical at 256 px. Nothing is ever upscaled: a 100 px original gives a 100 px preview and thumbnail.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from workbench.imaging.decode import configure_pillow, open_upright
from workbench.imaging.video_frames import poster_frame
from workbench.settings import Settings

REDUCING_GAP = 3.0  # Image.thumbnail's reducing_gap: integer pre-reduce then LANCZOS, quality loss invisible


@dataclass(frozen=True)
class Rendition:
    """Encoded WebP bytes and the pixel size they decode to."""

    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class VideoRenditions:
    """Renditions of a video's poster frame, plus the poster's time (seconds from the start of the stream)."""

    renditions: dict[str, Rendition]
    poster_time_s: float


def make_renditions(img: Image.Image, settings: Settings | None = None) -> dict[str, Rendition]:
    """{'preview': long edge <= preview_size_px, 'thumb': long edge <= thumb_size_px}, both WebP, never upscaled."""
    settings = settings or Settings()
    configure_pillow(settings)  # Pillow 13 also bomb-checks resize targets: use this library's limit
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
    preview = fit_long_edge(img, settings.preview_size_px)
    thumb = fit_long_edge(preview, settings.thumb_size_px)
    return {"preview": encode_webp(preview, settings), "thumb": encode_webp(thumb, settings)}


def render_image_file(path: Path, mime: str, settings: Settings | None = None) -> dict[str, Rendition]:
    """Decode an image file just large enough for the preview, then make both renditions."""
    settings = settings or Settings()
    img = open_upright(Path(path), mime, min_size_px=settings.preview_size_px, settings=settings)
    return make_renditions(img, settings)


def render_video_file(path: Path, settings: Settings | None = None) -> VideoRenditions:
    """Poster frame of a video (see ``poster_frame``) turned into renditions, with the poster's time."""
    settings = settings or Settings()
    img, t = poster_frame(Path(path), settings)
    return VideoRenditions(make_renditions(img, settings), t)


def fit_long_edge(img: Image.Image, long_edge: int) -> Image.Image:
    """A copy whose long edge is at most ``long_edge``, aspect kept; same size if already small enough."""
    w, h = img.size
    if max(w, h) <= long_edge:
        return img
    scale = long_edge / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Pillow's bilinear filter is antialiased when shrinking (its support widens with the factor). For a
    # 2000x1500 -> 1440x1080 preview it costs 22 ms against 36 ms bicubic and 49 ms Lanczos, for a mean absolute
    # difference from the Lanczos result of 1.7 levels in 255 (bicubic: 0.7), i.e. slightly softer fine
    # texture, invisible at preview size (measured for docs/benchmarks.md, ingest).
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)


def encode_webp(img: Image.Image, settings: Settings) -> Rendition:
    """A rendition's WebP bytes at the settings' quality and method (timed alone by benchmarks/ingest_steps.py)."""
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=settings.webp_quality, method=settings.webp_method)
    return Rendition(buf.getvalue(), img.width, img.height)
