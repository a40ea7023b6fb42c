"""Decoding: cheap reduced decodes, RAW previews instead of demosaicing, and every pixel mode to RGB(A)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import rawpy
from PIL import Image

from workbench.errors import MediaError
from workbench.formats.sniff import sniff
from workbench.imaging.decode import open_upright
from workbench.settings import Settings


def _noise_jpeg(path: Path, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (size[1] // 50, size[0] // 50, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.Resampling.BILINEAR).save(path, "JPEG", quality=85)


def test_large_jpeg_is_dct_scaled_for_the_preview(tmp_path: Path) -> None:
    p = tmp_path / "big.jpg"
    _noise_jpeg(p, (4000, 3000))
    img = open_upright(p, "image/jpeg", min_size_px=1440)
    assert 1440 <= max(img.size) < 4000  # draft() decoded at 1/2 scale: 2000x1500
    assert img.size == (2000, 1500)


def test_without_min_size_the_full_image_is_decoded(tmp_path: Path) -> None:
    p = tmp_path / "big.jpg"
    _noise_jpeg(p, (4000, 3000))
    assert open_upright(p, "image/jpeg").size == (4000, 3000)


def test_small_jpeg_is_not_reduced_below_its_size(tmp_path: Path) -> None:
    p = tmp_path / "small.jpg"
    _noise_jpeg(p, (800, 600))
    assert open_upright(p, "image/jpeg", min_size_px=1440).size == (800, 600)


def _embedded_preview_size(path: Path) -> tuple[int, int]:
    with rawpy.imread(str(path)) as raw:
        thumb = raw.extract_thumb()
        assert thumb.format == rawpy.ThumbFormat.JPEG
        with Image.open(io.BytesIO(thumb.data)) as im:
            return im.size


def test_raw_uses_embedded_preview_when_big_enough(corpus: Path) -> None:
    """canon_eos_6d.dng: sensor 1224x816, embedded JPEG preview 1024x683. Asking for >= 1000 px must return
    the preview's exact size: a demosaic (full or half) could only give 1224x816 or 612x408."""
    path = corpus / "peer/photoprism/examples/canon_eos_6d.dng"
    preview_size = _embedded_preview_size(path)
    assert preview_size == (1024, 683)
    img = open_upright(path, sniff(path).mime, min_size_px=1000)
    assert img.size == preview_size and img.mode == "RGB"


def test_raw_demosaics_when_preview_is_too_small(corpus: Path) -> None:
    path = corpus / "peer/photoprism/examples/canon_eos_6d.dng"
    img = open_upright(path, "image/x-adobe-dng", min_size_px=1440)
    assert img.size == (1224, 816)  # full LibRaw demosaic: the preview (1024) and half size (612) are too small


def test_raw_half_size_demosaic_for_small_targets_without_preview(corpus: Path, tmp_path: Path) -> None:
    """With the preview refused (min 1100 > 1024) and half size (612) too small, full size is used; with
    min 600 half size would do but the preview is preferred: both avoid a full demosaic when they can."""
    path = corpus / "peer/photoprism/examples/canon_eos_6d.dng"
    assert open_upright(path, "image/x-adobe-dng", min_size_px=600).size == (1024, 683)


def test_unsupported_raw_compression_falls_back_to_its_preview(corpus: Path) -> None:
    """LibRaw cannot demosaic Nikon Z9 'high efficiency' DNGs; the embedded 640x424 preview is returned."""
    path = corpus / "exif/exif-py/raw/nikon_z_9_high_efficiency_compressed_dx_cropped_max_overexposed.dng"
    assert open_upright(path, "image/x-adobe-dng", min_size_px=1440).size == (640, 424)


def test_truncated_raw_gives_media_error(corpus: Path) -> None:
    path = corpus / "exif/exif-py/raw/sony_alpha_a7iii_raw_image.ARW"
    with pytest.raises(MediaError, match="RAW"):
        open_upright(path, "image/x-sony-arw")


def test_heif_uses_embedded_thumbnail_for_small_targets(corpus: Path) -> None:
    """pillow-heif's draft picks the 320 px HEIF thumbnail item instead of decoding 12 megapixels."""
    path = corpus / "peer/immich-test-assets/formats/heic/IMG_2682.heic"
    assert open_upright(path, "image/heic", min_size_px=256).size == (320, 240)
    assert open_upright(path, "image/heic", min_size_px=1440).size == (4032, 3024)


def test_palette_gif_becomes_rgb(corpus: Path) -> None:
    img = open_upright(corpus / "formats/pillow/hopper.gif", "image/gif")
    assert img.mode == "RGB" and img.size == (128, 128)


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    p = tmp_path / "anim.gif"
    red, blue = Image.new("RGB", (20, 20), (255, 0, 0)), Image.new("RGB", (20, 20), (0, 0, 255))
    red.save(p, save_all=True, append_images=[blue], duration=100, loop=0)
    assert open_upright(p, "image/gif").getpixel((5, 5)) == (255, 0, 0)


def test_animated_webp_gives_first_frame(tmp_path: Path) -> None:
    p = tmp_path / "anim.webp"
    red, blue = Image.new("RGB", (20, 20), (255, 0, 0)), Image.new("RGB", (20, 20), (0, 0, 255))
    red.save(p, save_all=True, append_images=[blue], duration=100, lossless=True)
    r, g, b = open_upright(p, "image/webp").getpixel((5, 5))
    assert r > 200 and b < 50


def test_transparent_png_keeps_alpha_and_opaque_png_drops_it(tmp_path: Path) -> None:
    clear = tmp_path / "clear.png"
    im = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    im.putpixel((0, 0), (0, 0, 0, 0))
    im.save(clear)
    assert open_upright(clear, "image/png").mode == "RGBA"
    opaque = tmp_path / "opaque.png"
    Image.new("RGBA", (10, 10), (255, 0, 0, 255)).save(opaque)
    assert open_upright(opaque, "image/png").mode == "RGB"


def test_grey_with_alpha_becomes_rgba(tmp_path: Path) -> None:
    p = tmp_path / "la.png"
    im = Image.new("LA", (10, 10), (128, 255))
    im.putpixel((1, 1), (128, 0))
    im.save(p)
    img = open_upright(p, "image/png")
    assert img.mode == "RGBA" and img.getpixel((5, 5)) == (128, 128, 128, 255)


def test_cmyk_jpeg_becomes_rgb(corpus: Path) -> None:
    """pil_sample_cmyk.jpg is an Adobe (inverted) CMYK JPEG showing red letters 'RED' on black."""
    img = open_upright(corpus / "formats/pillow/pil_sample_cmyk.jpg", "image/jpeg")
    a = np.asarray(img).astype(int)
    red = (a[..., 0] > 200) & (a[..., 1] < 80) & (a[..., 2] < 80)
    black = a.sum(axis=2) < 60
    assert img.mode == "RGB" and red.mean() > 0.05 and black.mean() > 0.5


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    p = tmp_path / "g16.png"
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    Image.fromarray(ramp).save(p)  # uint16 -> mode I;16
    img = open_upright(p, "image/png")
    row = np.asarray(img)[0, :, 0]
    assert img.mode == "RGB"
    assert row[0] == 0 and row[-1] == 255 and 120 <= row[128] <= 135  # a ramp, not a white bar


def test_float_pfm_is_scaled(corpus: Path) -> None:
    img = open_upright(corpus / "formats/pillow/hopper.pfm", "image/x-portable-anymap")
    a = np.asarray(img)
    assert img.mode == "RGB" and a.min() < 40 and a.max() > 200


def test_bilevel_tiff_becomes_rgb(corpus: Path) -> None:
    img = open_upright(corpus / "formats/pillow/g4_orientation_1.tif", "image/tiff")
    assert img.mode == "RGB" and set(np.unique(np.asarray(img))) <= {0, 255}


def test_multipage_tiff_gives_first_page(tmp_path: Path) -> None:
    p = tmp_path / "pages.tif"
    Image.new("RGB", (30, 20), (0, 255, 0)).save(p, save_all=True,
                                                 append_images=[Image.new("RGB", (10, 10), (255, 0, 0))])
    img = open_upright(p, "image/tiff")
    assert img.size == (30, 20) and img.getpixel((1, 1)) == (0, 255, 0)


def test_mpo_gives_first_frame(corpus: Path) -> None:
    path = corpus / "formats/pillow/sugarshack.mpo"
    with Image.open(path) as im:
        first = im.convert("RGB")
    img = open_upright(path, "image/mpo")
    assert img.size == first.size
    assert np.abs(np.asarray(img, float) - np.asarray(first, float)).mean() < 1


def test_heic_with_alpha_keeps_alpha(corpus: Path) -> None:
    img = open_upright(corpus / "formats/libheif/tests_data/with-alpha-512x512.heic", "image/heic")
    assert img.mode == "RGBA" and img.size == (512, 512)


def test_jxl_16_bit_grey_decodes_to_rgb(corpus: Path) -> None:
    img = open_upright(corpus / "exif/exif-py/jxl/test_0001.jxl", "image/jxl")
    a = np.asarray(img)
    assert img.mode == "RGB" and img.size == (1280, 1024) and a.std() > 5


def test_low_overhead_mif3_heif_decodes(corpus: Path) -> None:
    """libheif reads the 'mini' (mif3) HEIF even though pillow-heif's brand check does not accept it."""
    img = open_upright(corpus / "formats/libheif/tests_data/lightning_mini.heif", "image/heic")
    assert img.size == (256, 256)


@pytest.mark.parametrize("rel", ["formats/pillow/hopper.psd", "formats/pillow/hopper.qoi",
                                 "formats/pillow/hopper.ppm", "formats/pillow/hopper.bmp",
                                 "formats/pillow/avif/hopper.avif",
                                 "formats/pillow/hopper.webp", "formats/pillow/hopper.tif"])
def test_other_pillow_formats_decode_to_hopper(corpus: Path, rel: str) -> None:
    path = corpus / rel
    img = open_upright(path, sniff(path).mime)
    with Image.open(corpus / "formats/pillow/hopper.png") as ref:
        ref = ref.convert("RGB").resize(img.size)
    assert img.mode == "RGB"
    assert np.abs(np.asarray(img, float) - np.asarray(ref, float)).mean() < 17


def test_video_mime_is_refused_by_image_decoder(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not an image"):
        open_upright(tmp_path / "x.mp4", "video/mp4")


def test_settings_limit_applies_to_ordinary_sizes(tmp_path: Path) -> None:
    p = tmp_path / "mid.png"
    Image.new("RGB", (2000, 1000)).save(p)
    with pytest.raises(MediaError, match=r"2000x1000 = 2\.0 megapixels exceeds max_image_megapixels=1"):
        open_upright(p, "image/png", settings=Settings(max_image_megapixels=1.0))
