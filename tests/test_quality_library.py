"""Motion blur and white frames through the real library: import, process (thumbnails, quality), quality(). The
stage stores the directional sharpness; flags are decided when read, so moving the threshold needs no new run."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from workbench import Library


def motion(a: np.ndarray, frac: float, degrees: float) -> np.ndarray:
    """Linear motion blur (camera shake): a line kernel frac x the long side long, at an angle."""
    n = max(3, int(round(frac * max(a.shape[:2]))))
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1
    k = cv2.warpAffine(k, cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), degrees, 1.0), (n, n))
    return cv2.filter2D(a, -1, k / k.sum())


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Library:
    src = tmp_path_factory.mktemp("quality_src")
    astro = data.astronaut()
    wide = np.ascontiguousarray(np.hstack([astro, astro[:, ::-1]]))      # 1024x512, sharp at native scale
    Image.fromarray(wide).save(src / "sharp.jpg", quality=92)
    Image.fromarray(motion(wide, 0.01, 30)).save(src / "shaken.jpg", quality=92)
    white = np.clip(252 + np.random.default_rng(0).normal(0, 1.5, (1080, 1440, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(white).save(src / "white.jpg", quality=92)
    library = Library.create(tmp_path_factory.mktemp("quality") / "lib")
    library.import_files([src], progress=False)
    library.process(["thumbnails", "quality"], progress=False)
    return library


def flags(lib: Library) -> dict[str, list[str]]:
    return {Path(r["path"]).name: list(r["flags"]) for r in lib.quality().to_dict("records")}


def test_a_photo_smeared_by_camera_motion_is_blurry_and_the_sharp_one_is_not(lib):
    f = flags(lib)
    assert "blurry" in f["shaken.jpg"]
    assert "blurry" not in f["sharp.jpg"]


def test_a_nearly_white_frame_is_overexposed_and_low_information(lib):
    assert {"overexposed", "low_information"} <= set(flags(lib)["white.jpg"])


def test_the_motion_threshold_is_applied_when_read(lib):
    q = lib.quality()
    row = q.set_index(q["path"].map(lambda p: Path(p).name)).loc["shaken.jpg"]
    default = lib.quality_thresholds().motion_blur_max_directional
    assert 0 <= row["sharpness_directional"] <= default
    lib.set_quality_threshold("motion_blur_max_directional", row["sharpness_directional"] - 0.01)
    try:
        assert "blurry" not in flags(lib)["shaken.jpg"]   # the global Laplacian alone calls it sharp
    finally:
        lib.set_quality_threshold("motion_blur_max_directional", default)
