"""`workbench convert`: every supported photo input to every photo target opens, has the upright size, looks
like the source, and keeps GPS where the target holds EXIF."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from workbench import Library
from workbench.cli.main import app
from workbench.compress.convert import IMAGE_TARGETS, convert_file
from workbench.formats.sniff import sniff
from workbench.imaging.decode import open_upright

INPUTS = ["formats/pillow/hopper.jpg", "formats/pillow/hopper.png", "formats/pillow/hopper.webp",
          "formats/pillow/hopper.tif", "formats/pillow/hopper.bmp", "formats/pillow/hopper.gif",
          "formats/pillow/hopper_orientation_6.jpg", "exif/exif-py/jpg/gps/DSCN0010.jpg",
          "exif/exif-py/heic/spring_1440x960.heic", "exif/exif-py/avif/mountains.avif",
          "exif/exif-py/jxl/test_0001.jxl", "exif/exif-py/raw/nikon_z_9_high_efficiency_compressed_dx_cropped_max_overexposed.dng"]
HOLDS_EXIF = {"jpeg", "png", "webp", "avif", "heic", "jxl", "tiff"}


def small_gray(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L").resize((48, 48)), np.float32)


def gps_of(path: Path) -> object:
    from workbench.imaging.decode import register_plugins
    register_plugins()
    with Image.open(path) as im:
        return im.getexif().get_ifd(0x8825).get(2)   # GPSLatitude


@pytest.mark.parametrize("target", IMAGE_TARGETS)
@pytest.mark.parametrize("rel", INPUTS)
def test_photo_converts_upright_with_its_size_and_look(corpus, tmp_path, rel, target):
    src = corpus / rel
    ft = sniff(src)
    out = convert_file(src, ft.kind, ft.mime, target, tmp_path)
    source = open_upright(src, ft.mime)
    result = open_upright(Path(out.output), sniff(Path(out.output)).mime)
    assert result.size == source.size == (out.width, out.height)
    assert np.abs(small_gray(result) - small_gray(source)).mean() < 12     # same picture, same way up


@pytest.mark.parametrize("target", sorted(HOLDS_EXIF))
def test_gps_survives_conversion_where_the_target_holds_exif(corpus, tmp_path, target):
    src = corpus / "exif/exif-py/jpg/gps/DSCN0010.jpg"
    out = convert_file(src, "image", "image/jpeg", target, tmp_path)
    assert gps_of(Path(out.output)) == gps_of(src) is not None


def test_converting_never_overwrites(corpus, tmp_path):
    src = corpus / "formats/pillow/hopper.jpg"
    a = convert_file(src, "image", "image/jpeg", "png", tmp_path)
    b = convert_file(src, "image", "image/jpeg", "png", tmp_path)
    assert a.output != b.output and Path(a.output).exists() and Path(b.output).exists()


def test_cli_converts_library_media_and_files_in_one_batch(corpus, tmp_path):
    lib = Library.create(tmp_path / "lib")
    lib.import_files([corpus / "formats/pillow/hopper.jpg"], progress=False)
    mid = lib.media().iloc[0]["id"]
    out = CliRunner().invoke(app, ["--library", str(lib.root), "convert", mid[:8],
                                   str(corpus / "formats/pillow/hopper.png"), "nonexistent-thing", "--to", "webp",
                                   "--out", str(tmp_path / "out"), "--json"])
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert [bool(r["output"]) for r in rows] == [True, True, False]
    assert "not a media id" in rows[2]["error"]
    assert all(Path(r["output"]).suffix == ".webp" for r in rows[:2])


VIDEO_INPUTS = ["video/photoprism/quicktime-hvc1.mov", "video/photoprism/isom-avc1.mp4",
                "video/imagehash_pr/bigbuck_bunny.mp4"]


@pytest.mark.parametrize("target", ["mp4", "webm", "gif"])
@pytest.mark.parametrize("rel", VIDEO_INPUTS)
def test_video_converts_to_a_playable_upright_file(corpus, tmp_path, rel, target):
    from workbench.imaging.video_frames import poster_frame
    src = corpus / rel
    if not src.exists():
        pytest.skip(f"{rel} is not in this corpus")
    ft = sniff(src)
    out = convert_file(src, ft.kind, ft.mime, target, tmp_path)
    source, _ = poster_frame(src)
    assert sniff(Path(out.output)).kind == "video" or target == "gif"
    portrait = source.height > source.width
    assert (out.height > out.width) == portrait
    if target != "gif":
        assert (out.width, out.height) == source.size
