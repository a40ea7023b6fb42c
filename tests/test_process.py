"""Processing stages: thumbnails and previews, pending work, failures, resumption."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from factory import jpeg, png, video
from workbench import Library
from workbench.settings import Settings


def by_name(lib: Library, name: str):
    df = lib.media()
    return df[df["path"].str.endswith("/" + name)].iloc[0]


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    lib = Library.create(tmp_path / "lib")
    jpeg(tmp_path / "in" / "big.jpg", 2000, 1500, seed=1)
    png(tmp_path / "in" / "small.png", 120, 90)
    video(tmp_path / "in" / "clip.mp4", seconds=3.0, black_s=1.0)
    lib.import_files([tmp_path / "in"], progress=False)
    return lib


def test_new_media_are_pending_for_thumbnails(lib: Library):
    st = lib.status().set_index("stage").loc["thumbnails"]
    assert (st["done"], st["pending"], st["failed"]) == (0, 3, 0)


def test_process_makes_webp_thumbnail_and_preview_of_the_right_size(lib: Library):
    lib.process(progress=False)
    big = by_name(lib, "big.jpg")
    thumb = Image.open(lib.rendition_path(big["id"], "thumb"))
    prev = Image.open(lib.rendition_path(big["id"], "preview"))
    assert thumb.format == prev.format == "WEBP"
    assert max(thumb.size) == 256 and max(prev.size) == 1440
    assert thumb.size[0] / thumb.size[1] == pytest.approx(2000 / 1500, rel=0.02)


def test_small_images_are_not_upscaled(lib: Library):
    lib.process(progress=False)
    small = by_name(lib, "small.png")
    assert Image.open(lib.rendition_path(small["id"], "preview")).size == (120, 90)


def test_video_poster_is_not_the_black_opening(lib: Library):
    import numpy as np
    lib.process(progress=False)
    clip = lib.media(kind="video").iloc[0]
    thumb = np.asarray(Image.open(lib.rendition_path(clip["id"], "thumb")).convert("L"))
    assert thumb.mean() > 30
    assert lib.get(clip["id"])["stages"]["thumbnails"]["poster_time_s"] >= 1.0


def test_processing_again_does_nothing(lib: Library):
    lib.process(progress=False)
    reports = lib.process(progress=False)
    assert reports[0].done == 0 and reports[0].failed == 0
    st = lib.status().set_index("stage").loc["thumbnails"]
    assert (st["done"], st["pending"]) == (3, 0)


def test_a_new_thumbnail_size_makes_everything_pending_again(lib: Library):
    lib.process(progress=False)
    lib.settings.thumb_size_px = 128
    lib.settings.save(lib.root)
    again = Library.open(lib.root)
    assert again.status().set_index("stage").loc["thumbnails", "pending"] == 3
    again.process(progress=False)
    big = by_name(again, "big.jpg")
    assert max(Image.open(again.rendition_path(big["id"], "thumb")).size) == 128


def test_undecodable_pixels_fail_the_stage_with_a_reason_and_keep_the_original(tmp_path: Path):
    lib = Library.create(tmp_path / "lib")
    whole = jpeg(tmp_path / "src.jpg", 800, 600).read_bytes()
    cut = tmp_path / "in" / "truncated.jpg"
    cut.parent.mkdir()
    cut.write_bytes(whole[: len(whole) // 3])
    lib.import_files([cut], progress=False)
    rep = lib.process(progress=False)[0]
    assert rep.failed == 1
    err = lib.errors()
    assert list(err["stage"]) == ["thumbnails"] and "truncated" in err.iloc[0]["reason"].lower()
    row = lib.media().iloc[0]
    assert (lib.originals_dir / row["blob"]).read_bytes() == cut.read_bytes()
    assert lib.status().set_index("stage").loc["thumbnails", "failed"] == 1


def test_settings_file_overrides_defaults_and_rejects_unknown_names(tmp_path: Path):
    (tmp_path / "settings.json").write_text('{"thumb_size_px": 300}')
    assert Settings.load(tmp_path).thumb_size_px == 300
    (tmp_path / "settings.json").write_text('{"thumb_px": 300}')
    with pytest.raises(ValueError, match="unknown settings"):
        Settings.load(tmp_path)
