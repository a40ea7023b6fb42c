"""Preview/thumbnail WebPs: right sizes, never upscaled, decodable bytes."""
from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from workbench.imaging.renditions import (Rendition, VideoRenditions, make_renditions, render_image_file,
                                          render_video_file)
from workbench.settings import Settings


def _decoded(r: Rendition) -> Image.Image:
    im = Image.open(io.BytesIO(r.data))
    im.load()
    assert im.format == "WEBP"
    assert im.size == (r.width, r.height)
    return im


def test_large_landscape_is_fitted_to_preview_and_thumb() -> None:
    out = make_renditions(Image.effect_mandelbrot((4000, 3000), (-2, -1.5, 1, 1.5), 50).convert("RGB"))
    assert set(out) == {"preview", "thumb"}
    assert (out["preview"].width, out["preview"].height) == (1440, 1080)
    assert (out["thumb"].width, out["thumb"].height) == (256, 192)
    _decoded(out["preview"]), _decoded(out["thumb"])


def test_portrait_long_edge_is_the_height() -> None:
    out = make_renditions(Image.new("RGB", (1000, 3000), "white"))
    assert (out["preview"].width, out["preview"].height) == (480, 1440)
    assert (out["thumb"].width, out["thumb"].height) == (85, 256)


def test_small_image_is_never_upscaled() -> None:
    out = make_renditions(Image.new("RGB", (100, 60), "red"))
    assert (out["preview"].width, out["preview"].height) == (100, 60)
    assert (out["thumb"].width, out["thumb"].height) == (100, 60)


def test_medium_image_keeps_size_for_preview_but_shrinks_for_thumb() -> None:
    out = make_renditions(Image.new("RGB", (800, 600), "red"))
    assert (out["preview"].width, out["preview"].height) == (800, 600)
    assert (out["thumb"].width, out["thumb"].height) == (256, 192)


def test_settings_sizes_are_honoured() -> None:
    out = make_renditions(Image.new("RGB", (2000, 1000)), Settings(preview_size_px=500, thumb_size_px=100))
    assert (out["preview"].width, out["thumb"].width) == (500, 100)


def test_colours_survive_encoding() -> None:
    out = make_renditions(Image.new("RGB", (300, 300), (200, 30, 40)))
    r, g, b = _decoded(out["thumb"]).convert("RGB").getpixel((10, 10))
    assert abs(r - 200) < 10 and abs(g - 30) < 10 and abs(b - 40) < 10


def test_alpha_is_kept_in_webp() -> None:
    img = Image.new("RGBA", (300, 300), (0, 0, 255, 0))
    out = make_renditions(img)
    assert _decoded(out["thumb"]).mode == "RGBA"


def test_render_image_file_decodes_reduced_and_renders(tmp_path: Path) -> None:
    p = tmp_path / "big.jpg"
    Image.effect_mandelbrot((3000, 2000), (-2, -1.5, 1, 1.5), 50).convert("RGB").save(p, quality=85)
    out = render_image_file(p, "image/jpeg")
    assert (out["preview"].width, out["preview"].height) == (1440, 960)
    assert (out["thumb"].width, out["thumb"].height) == (256, 171)


def test_render_image_file_uprights_exif_orientation(corpus: Path) -> None:
    out = render_image_file(corpus / "exif/exif-py/jpg/orientation/landscape_6.jpg", "image/jpeg")
    ref = render_image_file(corpus / "exif/exif-py/jpg/orientation/landscape_1.jpg", "image/jpeg")
    assert (out["thumb"].width, out["thumb"].height) == (ref["thumb"].width, ref["thumb"].height)
    a = np.asarray(_decoded(out["thumb"]).convert("RGB"), float)
    b = np.asarray(_decoded(ref["thumb"]).convert("RGB"), float)
    assert np.abs(a - b).mean() < 17


def test_render_video_file_returns_renditions_and_poster_time(tmp_path: Path) -> None:
    p = tmp_path / "clip.mp4"
    with av.open(str(p), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(75):
            arr = np.full((240, 320, 3), 0 if i < 25 else 180, np.uint8)
            arr[:, ::16] = 40
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    result = render_video_file(p)
    assert isinstance(result, VideoRenditions)
    assert (result.renditions["preview"].width, result.renditions["preview"].height) == (320, 240)
    assert (result.renditions["thumb"].width, result.renditions["thumb"].height) == (256, 192)
    assert result.poster_time_s >= 1.0
