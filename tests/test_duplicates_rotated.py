"""A copy rotated by an arbitrary angle (straightened, with black or cropped corners) is the same picture as its
original, through the real library: import, process, duplicates. Different photos stay apart."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import Library
from workbench.duplicates.rotation import keypoints, verify
from workbench.settings import Settings

STAGES = ["thumbnails", "fingerprints"]


def photo(name: str, size: int = 1024) -> Image.Image:
    from skimage import data
    if name.startswith("motorcycle_"):
        a = data.stereo_motorcycle()[0 if name.endswith("left") else 1]
    else:
        a = getattr(data, name)()
    im = Image.fromarray(a).convert("RGB")
    return im.resize((size, round(size * im.height / im.width)), Image.Resampling.LANCZOS)


def rotated(im: Image.Image, degrees: float, corners: str) -> Image.Image:
    """Rotated counter-clockwise with black corners on a grown canvas, or cropped to the largest centred rectangle
    of the original aspect ratio, as an editor's straighten tool does."""
    r = im.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))
    if corners == "black":
        return r
    W, H = im.size
    c, s = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    k = min(W / (W * c + H * s), H / (W * s + H * c))
    w, h = int(W * k) - 2, int(H * k) - 2
    x0, y0 = round(r.width / 2 - w / 2), round(r.height / 2 - h / 2)
    return r.crop((x0, y0, x0 + w, y0 + h))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("rot_src")
    astro = photo("astronaut")
    astro.save(src / "astro.jpg", quality=92)
    rotated(astro, 15, "black").save(src / "astro_rot15_black.jpg", quality=90)
    rotated(astro, 15, "crop").save(src / "astro_rot15_crop.jpg", quality=90)
    photo("chelsea").save(src / "chelsea.jpg", quality=92)
    rotated(photo("chelsea"), -10, "crop").save(src / "chelsea_rot-10_crop.jpg", quality=90)
    photo("coffee").save(src / "coffee.jpg", quality=92)           # different photos, also rotated
    rotated(photo("rocket", 800), 20, "black").save(src / "rocket_rot20.jpg", quality=90)
    photo("motorcycle_left").save(src / "motorcycle_left.jpg", quality=92)  # a stereo pair: same scene, moved
    photo("motorcycle_right").save(src / "motorcycle_right.jpg", quality=92)
    lib = Library.create(tmp_path_factory.mktemp("rot") / "lib")
    lib.import_files([src], progress=False)
    lib.process(STAGES, progress=False)
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def same_groups(lib: Library) -> list[list[str]]:
    return [sorted(Path(m["path"]).name for m in g["members"]) for g in lib.duplicates("same").to_dict("records")]


def test_a_copy_rotated_15_degrees_with_black_and_with_cropped_corners_is_the_same_picture(lib):
    assert ["astro.jpg", "astro_rot15_black.jpg", "astro_rot15_crop.jpg"] in same_groups(lib)


def test_a_copy_straightened_the_other_way_is_the_same_picture(lib):
    assert ["chelsea.jpg", "chelsea_rot-10_crop.jpg"] in same_groups(lib)


def test_different_photos_and_a_stereo_pair_are_not_grouped(lib):
    grouped = {n for g in same_groups(lib) for n in g}
    assert not grouped & {"coffee.jpg", "rocket_rot20.jpg", "motorcycle_left.jpg", "motorcycle_right.jpg"}


def test_the_hashes_alone_do_not_see_the_rotated_copy(lib):
    lib.settings.rotated_duplicate_neighbours = 0  # the keypoint route off: what the library did before
    assert all("astro_rot15_black.jpg" not in g for g in same_groups(lib))


def test_the_verification_reports_the_angle_and_refuses_an_off_centre_match():
    astro = photo("astronaut")
    a = keypoints(np.asarray(astro))
    b = keypoints(np.asarray(rotated(astro, 15, "black")))
    s = Settings()
    v = verify(a, b, min_inliers=s.rotated_duplicate_min_inliers, max_centre_offset=s.rotated_duplicate_max_centre_offset)
    assert v.same and abs(v.angle_deg + 15) < 1.0 and v.inliers >= 3 * s.rotated_duplicate_min_inliers
    shifted = astro.crop((200, 0, 1024, 824))  # the same pixels, but the centre is elsewhere: a camera move
    w = verify(a, keypoints(np.asarray(shifted)), min_inliers=s.rotated_duplicate_min_inliers,
               max_centre_offset=s.rotated_duplicate_max_centre_offset)
    assert w.inliers >= s.rotated_duplicate_min_inliers and not w.same
