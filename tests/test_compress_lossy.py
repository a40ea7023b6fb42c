"""Specification tests for workbench.compress.lossy / .metrics on real images (astronaut + the shared corpus)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageFilter, ImageOps

from workbench.compress.lossy import CODECS, EncodeResult, encode, encode_at_target, metadata_of, open_image
from workbench.compress.metrics import METRICS, ssim, ssimulacra2, ssimulacra2_available

FORMAT = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF", "heic": "HEIF", "jxl": "JXL"}
KEEPS_ICC = {"jpeg", "webp", "avif", "heic"}  # jxl: the plugin's encoder takes no ICC profile
EXIFPY = Path("exif/exif-py/jpg")


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def _open(corpus: Path, rel: str) -> Image.Image:
    path = corpus / rel
    if not path.exists():
        pytest.skip(f"{rel} not in corpus")
    im = Image.open(path)
    im.load()
    return im


# ---------------------------------------------------------------- metrics

def test_identical_images_score_perfect(astronaut):
    assert ssim(astronaut, astronaut.copy()) == pytest.approx(1.0)
    assert METRICS["ssim"].higher_is_better and METRICS["ssim"].perfect == 1.0
    if ssimulacra2_available():
        assert ssimulacra2(astronaut, astronaut.copy()) == pytest.approx(100.0)
        assert METRICS["ssimulacra2"].perfect == 100.0
    else:
        assert ssimulacra2(astronaut, astronaut) is None


def test_metrics_fall_with_distortion(astronaut):
    light = astronaut.filter(ImageFilter.GaussianBlur(0.8))
    heavy = astronaut.filter(ImageFilter.GaussianBlur(3))
    assert 1.0 > ssim(astronaut, light) > ssim(astronaut, heavy)
    if ssimulacra2_available():
        assert 100 > ssimulacra2(astronaut, light) > ssimulacra2(astronaut, heavy)


def test_metric_rejects_size_mismatch(astronaut):
    with pytest.raises(ValueError):
        ssim(astronaut, astronaut.resize((100, 100)))


def test_ssim_working_size_ranks_like_full_size(astronaut):
    # Scores at long side <= 1024 are kinder than at full size (downscaling averages fine artifacts), but they
    # rank encodes the same way.
    big = astronaut.resize((2048, 2048), Image.Resampling.LANCZOS)
    q30, q90 = (open_image(encode(big, "jpeg", q, exif=None, icc=None)).convert("RGB") for q in (30, 90))
    bounded = (ssim(big, q30), ssim(big, q90))
    full = (ssim(big, q30, max_side=None), ssim(big, q90, max_side=None))
    assert bounded[0] < bounded[1] and full[0] < full[1]
    assert all(b >= f - 0.01 for b, f in zip(bounded, full))


# ---------------------------------------------------------------- encode at a chosen quality

@pytest.mark.parametrize("codec", CODECS)
def test_encode_opens_with_right_size_and_looks_alike(astronaut, codec):
    data = encode(astronaut, codec, 80, exif=None, icc=None)
    out = open_image(data)
    assert out.format == FORMAT[codec]
    assert out.size == astronaut.size
    assert ssim(astronaut, out.convert("RGB")) > 0.9
    assert len(data) < len(astronaut.tobytes()) / 5


@pytest.mark.parametrize("codec", CODECS)
def test_quality_controls_size(astronaut, codec):
    assert len(encode(astronaut, codec, 30, exif=None, icc=None)) < len(encode(astronaut, codec, 90, exif=None, icc=None))


def test_unknown_codec_and_bad_quality(astronaut):
    with pytest.raises(ValueError):
        encode(astronaut, "gif", 80, exif=None, icc=None)
    with pytest.raises(ValueError):
        encode(astronaut, "jpeg", 101, exif=None, icc=None)


# ---------------------------------------------------------------- orientation: output stored upright, tag = 1

@pytest.mark.parametrize("rel", ["orientation/landscape_6.jpg", "orientation/portrait_5.jpg",
                                 "orientation/landscape_3.jpg"])
@pytest.mark.parametrize("codec", CODECS)
def test_output_is_upright(corpus, rel, codec):
    src = _open(corpus, str(EXIFPY / rel))
    assert src.getexif().get(0x0112, 1) != 1
    expected = ImageOps.exif_transpose(src).convert("RGB")
    out = open_image(encode(src, codec, 85, **metadata_of(src)))
    assert out.getexif().get(0x0112, 1) == 1
    shown = ImageOps.exif_transpose(out).convert("RGB")  # what a viewer shows
    assert shown.size == expected.size
    # upright beats the as-stored pixels (same size only for 180/flip cases) and a 180-degree turn
    score = ssim(expected, shown)
    assert score > 0.85
    assert score > ssim(expected, shown.transpose(Image.Transpose.ROTATE_180)) + 0.1


@pytest.mark.parametrize("codec", CODECS)
def test_pillow_hopper_orientation_6_upright_without_exif_argument(corpus, codec):
    # exif=None strips EXIF but still honours the image's own orientation: never a sideways picture
    src = _open(corpus, "formats/pillow/hopper_orientation_6.jpg")
    expected = ImageOps.exif_transpose(src).convert("RGB")
    out = open_image(encode(src, codec, 90, exif=None, icc=None)).convert("RGB")
    assert out.size == expected.size
    assert ssim(expected, out) > 0.85


def test_orientation_patch_keeps_every_other_exif_byte(corpus):
    src = _open(corpus, str(EXIFPY / "orientation/landscape_6.jpg"))
    before = metadata_of(src)["exif"]
    after = open_image(encode(src, "jpeg", 85, **metadata_of(src))).info["exif"]
    assert len(after) == len(before)
    assert sum(x != y for x, y in zip(before, after)) <= 6  # orientation value + pixel dimensions


# ---------------------------------------------------------------- metadata kept (read back)

@pytest.mark.parametrize("codec", CODECS)
def test_exif_gps_and_xmp_kept(corpus, codec):
    src = _open(corpus, str(EXIFPY / "gps/DSCN0010.jpg"))  # Nikon with GPS (43.467 N, 11.885 E) and XMP
    meta = metadata_of(src)
    assert meta["xmp"]
    data = encode(src, codec, 80, **meta)
    out = open_image(data)
    exif_in, exif_out = src.getexif(), out.getexif()
    assert exif_out.get(0x010F) == exif_in.get(0x010F)  # Make
    assert exif_out.get(0x0110) == exif_in.get(0x0110)  # Model
    gps_in, gps_out = exif_in.get_ifd(0x8825), exif_out.get_ifd(0x8825)
    assert gps_out.get(1) == gps_in.get(1) == "N"
    for tag in (1, 2, 3, 4):
        assert gps_out.get(tag) == gps_in.get(tag)
    assert exif_out.get_ifd(0x8769).get(0x9003) == exif_in.get_ifd(0x8769).get(0x9003)  # DateTimeOriginal
    assert len(out.info["exif"]) >= len(meta["exif"]) - 6  # nothing dropped (maker notes included)
    xmp_out = metadata_of(out)["xmp"] or (data if codec == "jxl" else b"")  # the JXL plugin does not read XMP
    assert meta["xmp"] in xmp_out


@pytest.mark.parametrize("codec", CODECS)
def test_icc_kept_where_format_holds_it(corpus, codec):
    src = _open(corpus, str(EXIFPY / "orientation/landscape_6.jpg"))
    meta = metadata_of(src)
    assert meta["icc"]
    out = open_image(encode(src, codec, 80, **meta))
    if codec in KEEPS_ICC:
        assert out.info.get("icc_profile") == meta["icc"]
    else:
        assert out.info.get("icc_profile") != meta["icc"]


@pytest.mark.parametrize("codec", CODECS)
def test_no_metadata_when_none_given(astronaut, codec):
    tagged = astronaut.copy()
    exif = Image.Exif()
    exif[0x010F] = "ShouldNotLeak"
    tagged.info["exif"] = exif.tobytes()
    out = open_image(encode(tagged, codec, 80, exif=None, icc=None))
    assert out.getexif().get(0x010F) is None


# ---------------------------------------------------------------- encode at a target quality

@pytest.mark.parametrize("codec", CODECS)
def test_encode_at_target_meets_target_and_higher_target_costs_more(astronaut, codec):
    low = encode_at_target(astronaut, codec, "ssim", 0.95)
    high = encode_at_target(astronaut, codec, "ssim", 0.98)
    for r, target in ((low, 0.95), (high, 0.98)):
        assert isinstance(r, EncodeResult)
        assert r.met and r.value >= target and r.metric == "ssim" and r.codec == codec
        assert r.bytes == len(r.data) and r.encodes <= 8
        assert ssim(astronaut, open_image(r.data).convert("RGB")) == pytest.approx(r.value)
    assert high.quality > low.quality
    assert high.bytes > low.bytes


def test_encode_at_target_is_the_lowest_passing_quality(astronaut):
    r = encode_at_target(astronaut, "jpeg", "ssim", 0.97)
    below = open_image(encode(astronaut, "jpeg", r.quality - 1, exif=None, icc=None)).convert("RGB")
    assert ssim(astronaut, below) < 0.97


def test_unreachable_target_reports_not_met(astronaut):
    r = encode_at_target(astronaut, "webp", "ssim", 1.01, max_encodes=3)
    assert not r.met and r.quality == 100 and r.encodes == 4


@pytest.mark.skipif(not ssimulacra2_available(), reason="ssimulacra2 package not installed")
def test_encode_at_target_with_ssimulacra2(astronaut):
    r = encode_at_target(astronaut, "jxl", "ssimulacra2", 80.0)
    assert r.met and r.value >= 80.0 and r.metric == "ssimulacra2"
    assert r.quality < 100


def test_encode_at_target_keeps_metadata_and_orientation(corpus):
    src = _open(corpus, str(EXIFPY / "orientation/landscape_6.jpg"))
    r = encode_at_target(src, "webp", "ssim", 0.97, **metadata_of(src))
    out = open_image(r.data)
    expected = ImageOps.exif_transpose(src).convert("RGB")
    assert out.size == expected.size and r.value >= 0.97
    assert ssim(expected, out.convert("RGB")) == pytest.approx(r.value)
    assert out.info.get("icc_profile") == metadata_of(src)["icc"]
