"""Specification of lossless recompression (issue 6): every result counted is verified, metadata kept where claimed."""
from __future__ import annotations

import functools

import io

import numpy as np
import pytest
from PIL import Image

from workbench.compress import lossless as L
from workbench.compress.lossless import (best_lossless, decode_pixels, jpeg_to_jxl, jxl_to_jpeg, lossless_jxl,
                                         lossless_png, lossless_webp, pixels_identical, read_metadata,
                                         verify_jpeg_roundtrip)

MIME = {"png": "image/png", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff", "jpg": "image/jpeg"}


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _rng_image(mode: str, size=(64, 48), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    if mode == "I;16":
        # smooth gradient + noise in the low byte: a 16->8 bit reduction would change it
        arr = (np.add.outer(np.arange(h), np.arange(w)) * 300 + rng.integers(0, 256, (h, w))).astype(np.uint16)
        return Image.fromarray(arr)  # uint16 2-D -> mode I;16
    chans = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    base = np.add.outer(np.arange(h), np.arange(w))[..., None].repeat(chans, 2) * 2
    arr = ((base + rng.integers(0, 8, (h, w, chans))) % 256).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if chans == 1 else arr, mode)


# ------------------------------------------------------------------------------------------ JPEG -> JXL

@pytest.mark.parametrize("rel", ["formats/pillow/hopper.jpg", "formats/pillow/exif_gps.jpg",
                                 "exif/exif-py/jpg/Canon_40D.jpg", "exif/exif-py/jpg/Nikon_D70.jpg"])
def test_jpeg_to_jxl_reconstructs_byte_identical_and_smaller(corpus, rel):
    original = (corpus / rel).read_bytes()
    jxl = jpeg_to_jxl(original)
    assert len(jxl) < len(original)
    assert jxl_to_jpeg(jxl) == original
    assert verify_jpeg_roundtrip(original, jxl)
    res = best_lossless(original, "image/jpeg")
    assert (res.codec, res.verified, res.data) == ("jxl-jpeg", True, jxl)
    assert res.bytes_after < res.bytes_before


def test_jpeg_exif_and_gps_survive_by_reconstruction(corpus):
    original = (corpus / "formats/pillow/exif_gps.jpg").read_bytes()
    back = jxl_to_jpeg(best_lossless(original, "image/jpeg").data)
    exif = Image.open(io.BytesIO(back)).getexif()
    assert exif.get_ifd(0x8825), "GPS IFD must be present after reconstruction"
    assert back == original


def test_corrupted_jxl_fails_jpeg_verification():
    original = _save(_rng_image("RGB", (96, 64)), "JPEG", quality=90)
    jxl = bytearray(jpeg_to_jxl(original))
    jxl[len(jxl) // 2] ^= 0xFF
    assert not verify_jpeg_roundtrip(original, bytes(jxl))
    assert not verify_jpeg_roundtrip(original, b"not a jxl")
    other = _save(_rng_image("RGB", (96, 64), seed=1), "JPEG", quality=90)
    assert not verify_jpeg_roundtrip(original, jpeg_to_jxl(other))


def test_pixel_jxl_has_no_jpeg_to_reconstruct():
    with pytest.raises(ValueError):
        jxl_to_jpeg(lossless_jxl(_rng_image("RGB")))


def test_missing_jxl_library_is_reported_not_hidden(monkeypatch):
    monkeypatch.setattr(L, "_IC_JXL", False)
    monkeypatch.setattr(L, "_PJEncoder", None)
    original = _save(_rng_image("RGB"), "JPEG")
    res = best_lossless(original, "image/jpeg")
    assert res.codec == "original" and res.data == original and "not available" in res.note


# ------------------------------------------------------------------------------------------ pixels

@pytest.mark.parametrize("rel", ["formats/pillow/hopper.png", "formats/pillow/hopper.bmp",
                                 "exif/exif-py/tiff/Rudless.tiff", "skimage_data/logo.png", "skimage_data/camera.png"])
def test_best_lossless_is_pixel_identical_and_not_larger(corpus, rel):
    data = (corpus / rel).read_bytes()
    res = best_lossless(data, MIME[rel.rsplit(".", 1)[1]])
    assert res.verified and res.bytes_after <= res.bytes_before == len(data)
    assert res.codec != "original", res.candidates  # all of these compress
    assert pixels_identical(data, res.data)


@pytest.mark.parametrize("fn", [lossless_png, lossless_webp, lossless_jxl])
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_each_codec_is_exact_on_generated_images(fn, mode):
    src = _save(_rng_image(mode), "PNG")
    assert pixels_identical(src, fn(src))


def test_alpha_with_hidden_colour_survives_exactly():
    arr = np.asarray(_rng_image("RGBA")).copy()
    arr[::3, ::2, 3] = 0  # fully transparent pixels that still carry colour
    src = _save(Image.fromarray(arr, "RGBA"), "PNG")
    res = best_lossless(src, "image/png")
    assert res.verified and res.codec != "original"
    assert np.array_equal(decode_pixels(res.data), arr)


def test_16bit_gray_survives_exactly():
    im = _rng_image("I;16")
    src = _save(im, "PNG")
    res = best_lossless(src, "image/png")
    out = decode_pixels(res.data)
    assert out.dtype == np.uint16 and np.array_equal(out[..., 0], np.asarray(im))
    with pytest.raises(ValueError):
        lossless_webp(src)  # WebP is 8-bit: refused, never silently reduced


def test_16bit_rgb_is_compared_at_16_bits(corpus):
    data = (corpus / "skimage_data/chessboard_RGB.png").read_bytes()
    assert decode_pixels(data).dtype == np.uint16  # Pillow alone would give 8-bit RGB here
    res = best_lossless(data, "image/png")
    assert res.verified and pixels_identical(data, res.data)
    assert decode_pixels(res.data).dtype == np.uint16
    # an 8-bit copy looks identical to Pillow, but is not
    eight_bit = _save(Image.open(io.BytesIO(data)).convert("RGB"), "PNG")
    assert not pixels_identical(data, eight_bit)


def test_generated_16bit_rgb_with_low_byte_detail():
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 65536, (40, 30, 3), dtype=np.uint16)
    src = bytes(L._ic.png_encode(arr))
    res = best_lossless(src, "image/png")
    assert res.verified and np.array_equal(decode_pixels(res.data), arr)


def test_changed_pixel_or_corrupted_candidate_fails_verification():
    im = _rng_image("RGB")
    src = _save(im, "PNG")
    changed = np.asarray(im).copy()
    changed[5, 7, 1] ^= 1
    assert not pixels_identical(src, lossless_webp(Image.fromarray(changed)))
    corrupt = bytearray(lossless_webp(src))
    corrupt[len(corrupt) // 2] ^= 0xFF
    assert not pixels_identical(src, bytes(corrupt))
    assert not pixels_identical(src, _save(im.convert("RGBA").resize((63, 48)), "PNG"))


def test_never_chooses_an_unverified_candidate(monkeypatch):
    src = _save(_rng_image("RGB"), "PNG")

    def lossy_webp(img, **kw):  # small but wrong
        return _save(Image.open(io.BytesIO(src)), "WEBP", quality=10)

    monkeypatch.setattr(L, "lossless_webp", lossy_webp)
    monkeypatch.setattr(L, "lossless_jxl", lossy_webp)
    res = best_lossless(src, "image/png")
    assert res.codec in ("png", "original") and pixels_identical(src, res.data)
    assert "pixels differ" in res.candidates["webp"]


def test_nothing_smaller_or_unsupported_gives_original(monkeypatch):
    src = _save(_rng_image("RGB"), "PNG")

    def bigger(img, **kw):  # identical pixels, but larger than the input
        return _save(Image.open(io.BytesIO(src)), "PNG", compress_level=0)

    for name in ("lossless_png", "lossless_webp", "lossless_jxl"):
        monkeypatch.setattr(L, name, bigger)
    monkeypatch.setattr(L, "_oxipng", None)
    res = best_lossless(src, "image/png")
    assert res.codec == "original" and res.data == src and res.verified and res.bytes_after == len(src)
    gif = _save(_rng_image("L"), "GIF")
    assert best_lossless(gif, "image/gif").codec == "original"
    assert best_lossless(b"\x89PNG\r\n\x1a\nbroken", "image/png").codec == "original"


# ------------------------------------------------------------------------------------------ metadata

def test_png_exif_kept(corpus):
    data = (corpus / "formats/pillow/exif_text.png").read_bytes()
    src = read_metadata(data)
    assert "exif" in src
    res = best_lossless(data, "image/png")
    assert res.codec != "original" and read_metadata(res.data)["exif"] == src["exif"]


@pytest.mark.parametrize("rel", ["skimage_data/chelsea.png", "peer/photoprism/meta_testdata/screenshot.png"])
def test_png_icc_and_xmp_kept(corpus, rel):
    data = (corpus / rel).read_bytes()
    src = read_metadata(data)
    assert {"icc", "xmp"} <= set(src)
    res = best_lossless(data, "image/png")
    assert res.codec != "original"
    out = read_metadata(res.data)
    assert all(out[k] == v for k, v in src.items())


@pytest.mark.parametrize("fn", [lossless_png, lossless_webp])
def test_png_and_webp_carry_exif_icc_xmp(fn):
    exif = Image.Exif()
    exif[0x010F] = "WorkbenchCam"
    icc = _srgb_icc()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    im = _rng_image("RGB")
    im.info["xmp"] = xmp
    src = _save(im, "PNG", exif=exif.tobytes(), icc_profile=icc, pnginfo=_xmp_info(xmp))
    out = read_metadata(fn(src))
    assert out["icc"] == icc and out["xmp"] == xmp and out["exif"] == read_metadata(src)["exif"]


def test_jxl_carries_exif_and_xmp_but_not_icc_so_icc_images_never_choose_it():
    exif = Image.Exif()
    exif[0x010F] = "WorkbenchCam"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    src = _save(_rng_image("RGB"), "PNG", exif=exif.tobytes(), pnginfo=_xmp_info(xmp))
    out = read_metadata(lossless_jxl(src))
    assert out["exif"] == read_metadata(src)["exif"] and out["xmp"] == xmp
    with_icc = _save(_rng_image("RGB"), "PNG", icc_profile=_srgb_icc())
    res = best_lossless(with_icc, "image/png")
    assert res.codec != "jxl" and read_metadata(res.data)["icc"] == _srgb_icc()


def test_tiff_with_tags_that_cannot_be_moved_stays_original(corpus):
    for rel in ("exif/exiftool_t/images/GeoTiff.tif", "formats/pillow/g4_orientation_6.tif", "formats/pillow/hopper.tif"):
        data = (corpus / rel).read_bytes()
        res = best_lossless(data, "image/tiff")
        assert res.codec == "original" and res.data == data, rel


def _xmp_info(xmp: bytes):
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    return info


@functools.cache
def _srgb_icc() -> bytes:
    """One profile per run: a new one carries its creation time, so two would differ by a second."""
    from PIL import ImageCms
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
