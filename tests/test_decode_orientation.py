"""Pictures come out upright, once: EXIF, XMP, TIFF and HEIF/AVIF container orientation, never applied twice."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.imaging.decode import open_upright, register_plugins

PILLOW = "formats/pillow"


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size, f"sizes differ: {a.size} vs {b.size}"
    return float(np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float)).mean())


def ink_iou(a: Image.Image, b: Image.Image) -> float:
    """Overlap of dark pixels: a sensitive comparison for mostly-white bilevel scans."""
    if a.size != b.size:
        return 0.0
    x, y = np.asarray(a.convert("L")) < 128, np.asarray(b.convert("L")) < 128
    return float((x & y).sum() / max((x | y).sum(), 1))


def pillow_truth(corpus: Path) -> dict:
    return json.loads((corpus / PILLOW / "ground_truth.json").read_text())["orientation_ground_truth"]


@pytest.mark.parametrize("ext,mime", [("jpg", "image/jpeg"), ("webp", "image/webp")])
@pytest.mark.parametrize("n", range(2, 9))
def test_hopper_orientation_matches_reference(corpus: Path, n: int, ext: str, mime: str) -> None:
    """Pillow's rule (ground_truth.json): upright hopper_orientation_N matches hopper within mean abs diff 17."""
    truth = pillow_truth(corpus)
    assert truth["files"][f"hopper_orientation_{n}.{ext}"] == n
    reference = open_upright(corpus / PILLOW / truth["reference"][ext], mime)
    upright = open_upright(corpus / PILLOW / f"hopper_orientation_{n}.{ext}", mime)
    assert mean_abs_diff(upright, reference) <= 17
    with Image.open(corpus / PILLOW / f"hopper_orientation_{n}.{ext}") as stored:  # the test can fail:
        assert stored.size != reference.size or mean_abs_diff(stored, reference) > 17  # stored pixels differ


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
@pytest.mark.parametrize("n", range(2, 9))
def test_exif_py_orientation_set_matches_orientation_1(corpus: Path, kind: str, n: int) -> None:
    folder = corpus / "exif/exif-py/jpg/orientation"
    reference = open_upright(folder / f"{kind}_1.jpg", "image/jpeg")
    upright = open_upright(folder / f"{kind}_{n}.jpg", "image/jpeg")
    assert mean_abs_diff(upright, reference) <= 17


@pytest.mark.parametrize("name", ["xmp_tags_orientation.png", "xmp_tags_orientation_exiftool.png",
                                  "exif_imagemagick_orientation.png"])
def test_png_xmp_or_profile_orientation_is_applied(corpus: Path, name: str) -> None:
    """These PNGs say orientation 3 only in XMP (or an ImageMagick raw EXIF profile): upright = stored turned 180."""
    assert pillow_truth(corpus)["xmp_orientation"][name] == 3
    upright = open_upright(corpus / PILLOW / name, "image/png")
    with Image.open(corpus / PILLOW / name) as stored:
        stored = stored.convert(upright.mode)
    turned = stored.transpose(Image.Transpose.ROTATE_180)
    # <= 17 rather than 0: xmp_tags_orientation.png carries a ColorMatch RGB profile, converted to sRGB
    assert mean_abs_diff(upright, turned) <= 17
    assert mean_abs_diff(upright, turned) < mean_abs_diff(upright, stored)


def test_imagemagick_orientation_png_matches_its_unrotated_twin(corpus: Path) -> None:
    """exif_imagemagick.png (orientation 1) and ..._orientation.png (3) store the same pixels."""
    plain = open_upright(corpus / PILLOW / "exif_imagemagick.png", "image/png")
    turned = open_upright(corpus / PILLOW / "exif_imagemagick_orientation.png", "image/png")
    assert mean_abs_diff(turned, plain.transpose(Image.Transpose.ROTATE_180)) < 0.5


@pytest.mark.parametrize("n", range(2, 9))
def test_tiff_orientation_g4_matches_orientation_1(corpus: Path, n: int) -> None:
    """Pillow orients libtiff-decoded TIFFs itself while loading; we must not rotate them a second time."""
    assert pillow_truth(corpus)["tiff_orientation"][f"g4_orientation_{n}.tif"] == n
    reference = open_upright(corpus / PILLOW / "g4_orientation_1.tif", "image/tiff")
    upright = open_upright(corpus / PILLOW / f"g4_orientation_{n}.tif", "image/tiff")
    assert upright.size == reference.size
    assert ink_iou(upright, reference) > 0.9


def _sky_on_top(img: Image.Image) -> bool:
    """rot0mir0.avif shows a field under a blue sky: the top tenth is bluer than the bottom tenth."""
    a = np.asarray(img.convert("RGB"), float)
    band = max(1, a.shape[0] // 10)
    top, bottom = a[:band], a[-band:]
    return (top[..., 2] - top[..., 1]).mean() > (bottom[..., 2] - bottom[..., 1]).mean() + 20


@pytest.mark.parametrize("rot", range(4))
@pytest.mark.parametrize("mir", range(2))
def test_avif_irot_imir_applied_once(corpus: Path, rot: int, mir: int) -> None:
    """Each rotXmirY.avif displays the same picture as rot0mir0 once its irot/imir are applied (Pillow exposes
    them as the EXIF orientation, which open_upright applies)."""
    folder = corpus / PILLOW / "avif"
    reference = open_upright(folder / "rot0mir0.avif", "image/avif")
    upright = open_upright(folder / f"rot{rot}mir{mir}.avif", "image/avif")
    assert upright.size == (640, 427)
    assert _sky_on_top(upright)
    assert mean_abs_diff(upright, reference) < 17


def _heif_container_decode(path: Path) -> Image.Image:
    """libheif's own output (irot/imir applied, nothing else) at thumbnail size, for comparison."""
    register_plugins()
    with Image.open(path) as im:
        scale = 256 / max(im.size)
        im.draft("RGB", (round(im.width * scale), round(im.height * scale)))
        im.load()
        return im.convert("RGB")


def _top_brighter(img: Image.Image) -> bool:
    a = np.asarray(img.convert("L"), float)
    q = a.shape[0] // 4
    return a[:q].mean() > a[-q:].mean() + 10


@pytest.mark.parametrize("rel", [
    "exif/exif-py/heic/mobile/iphone_13_pro_max.heic",              # irot 270 + EXIF orientation 6
    "peer/immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic",  # irot 270 + EXIF orientation 6
])
def test_heic_with_irot_is_not_rotated_again_by_exif(corpus: Path, rel: str) -> None:
    """The EXIF orientation 6 of these files describes the rotation irot already applies. Upright they are
    portrait with the lit room at the top; rotating again by EXIF would give a picture upside down."""
    upright = open_upright(corpus / rel, "image/heic", min_size_px=256)
    assert upright.height > upright.width
    assert _top_brighter(upright)
    container = _heif_container_decode(corpus / rel)
    # equal to libheif's output up to the Display P3 -> sRGB conversion; far from it turned once more
    assert upright.size == container.size and mean_abs_diff(upright, container) < 8
    assert mean_abs_diff(upright, container.transpose(Image.Transpose.ROTATE_180)) > 20


def test_iphone_heic_from_exif_samples_is_upright(corpus: Path) -> None:
    """IMG_5195.HEIC (iPhone 11 Pro Max, irot present): portrait, plant lit from the top, exactly libheif's output."""
    path = corpus / "exif/exif-samples-extra/IMG_5195.HEIC"
    upright = open_upright(path, "image/heic")
    assert (upright.width, upright.height) == (2566, 3313)
    assert _top_brighter(upright)


def test_immich_iphone_heic_is_landscape_as_exiftool_says(corpus: Path) -> None:
    """IMG_2682.heic: Immich's ground truth says 4032x3024 (EXIF orientation 1, irot 0)."""
    truth = json.loads((corpus / "peer/immich-test-assets/ground_truth.json").read_text())
    expected = next(v for k, v in truth.items() if isinstance(v, dict) and "formats/heic/IMG_2682.heic" in v)
    gt = expected["formats/heic/IMG_2682.heic"]
    upright = open_upright(corpus / "peer/immich-test-assets/formats/heic/IMG_2682.heic", "image/heic")
    assert upright.size == (gt["exifImageWidth"], gt["exifImageHeight"])
    assert _top_brighter(upright)


def test_heic_without_irot_falls_back_to_exif_orientation(corpus: Path) -> None:
    """photoprism's iphone_7.heic has EXIF orientation 6 and no irot/imir: the stored picture is sideways
    (sky on the left), so here, and only here, the EXIF orientation is applied: sky on top."""
    upright = open_upright(corpus / "peer/photoprism/examples/iphone_7.heic", "image/heic", min_size_px=256)
    assert upright.height > upright.width
    a = np.asarray(upright.convert("RGB"), float)
    q = a.shape[0] // 4
    assert (a[:q, :, 2] - a[:q, :, 0]).mean() > (a[-q:, :, 2] - a[-q:, :, 0]).mean() + 50  # blue sky on top
