"""Quality measures, flags and score (workbench.quality.measures): one behaviour per test, on real photos.

Pictures go through the same WebP round trip as the stage's previews before they are measured, because WebP
smooths noise and flat areas and the thresholds were chosen on such previews (benchmarks/quality_eval.py).
"""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from workbench.quality.measures import (FLAG_NAMES, QualityThresholds, flags_for, measure_image, measure_video,
                                        score, video_flags)

PHONE = (4032, 3024)              # original size passed for pictures that should not be low_resolution
ASTRONAUT_FACE = (175, 76, 91, 91)  # dlib HOG box on skimage.data.astronaut()
OBAMA_FACE = (349, 142, 268, 267)   # faces/face_recognition ground truth for tests/test_images/obama.jpg


def preview(a: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "WEBP", quality=80, method=1)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def flags(a: np.ndarray, size: tuple[int, int] = PHONE, faces=None) -> list[str]:  # noqa: ANN001
    return flags_for(measure_image(preview(a), width_px=size[0], height_px=size[1], face_boxes=faces))


def stops(a: np.ndarray, ev: float) -> np.ndarray:
    """Exposure change in linear light (sRGB decode, scale by 2**ev, clip, encode)."""
    x = a.astype(np.float32) / 255
    lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * 2.0 ** ev
    lin = np.clip(lin, 0, 1)
    out = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def blur(a: np.ndarray, frac: float) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), frac * max(a.shape[:2]))


def soft_except(a: np.ndarray, box: tuple[int, int, int, int], keep_inside: bool) -> np.ndarray:
    """Blur the picture by 1% of its long side outside (keep_inside) or inside an ellipse around box."""
    x, y, w, h = box
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    inside = (((xx - x - w / 2) / (0.8 * w)) ** 2 + ((yy - y - h / 2) / (0.85 * h)) ** 2) <= 1.0
    mask = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.04 * w)[..., None]
    if not keep_inside:
        mask = 1 - mask
    return np.clip(a * mask + blur(a, 0.01) * (1 - mask), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return data.coffee()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


# --------------------------------------------------------------------------------------------- blur

def test_sharp_photo_is_not_blurry(coffee):
    assert "blurry" not in flags(coffee)


def test_blurred_copy_is_blurry(coffee):
    assert "blurry" in flags(blur(coffee, 0.006))


def test_portrait_with_soft_background_is_not_blurry_when_the_face_is_sharp(astronaut):
    soft_bg = soft_except(astronaut, ASTRONAUT_FACE, keep_inside=True)
    m = measure_image(preview(soft_bg), width_px=PHONE[0], height_px=PHONE[1], face_boxes=[ASTRONAUT_FACE])
    assert m["faces_measured"] == 1 and m["sharpness"] == m["sharpness_faces"]
    assert "blurry" not in flags_for(m)


def test_missed_focus_on_the_face_is_blurry_although_the_background_is_sharp(astronaut):
    soft_face = soft_except(astronaut, ASTRONAUT_FACE, keep_inside=False)
    assert "blurry" in flags(soft_face, faces=[ASTRONAUT_FACE])
    assert "blurry" not in flags(soft_face)  # the image as a whole is sharp: only the face says otherwise


def test_sharp_subject_before_a_soft_background_is_not_blurry_even_without_face_boxes(astronaut):
    # the sharpest tiles decide, not the frame's average: this frame's global Laplacian variance is ~70
    assert "blurry" not in flags(soft_except(astronaut, ASTRONAUT_FACE, keep_inside=True))


def test_dark_but_sharp_face_is_dark_not_blurry(astronaut):
    assert set(flags(stops(astronaut, -3), faces=[ASTRONAUT_FACE])) & {"dark", "blurry"} == {"dark"}


def test_corpus_portrait_soft_background_with_face_box_is_not_blurry(corpus):
    a = np.asarray(Image.open(corpus / "faces/face_recognition/tests/test_images/obama.jpg").convert("RGB"))
    assert "blurry" not in flags(soft_except(a, OBAMA_FACE, keep_inside=True), faces=[OBAMA_FACE])
    assert "blurry" in flags(soft_except(a, OBAMA_FACE, keep_inside=False), faces=[OBAMA_FACE])


def test_face_boxes_too_small_to_judge_fall_back_to_the_whole_picture(coffee):
    m = measure_image(preview(coffee), width_px=600, height_px=400, face_boxes=[(10, 10, 20, 20)])
    assert m["faces_measured"] == 0 and m["sharpness"] == m["sharpness_image"]


# --------------------------------------------------------------------------------------------- exposure

def test_underexposed_photo_is_dark(coffee):
    assert "dark" in flags(stops(coffee, -3))


def test_night_scene_with_lights_is_not_dark(coffee):
    night = stops(coffee, -4.5)
    rng = np.random.default_rng(0)
    for _ in range(25):  # lamps and lit windows
        x, y = int(rng.integers(0, 590)), int(rng.integers(0, 390))
        cv2.rectangle(night, (x, y), (x + 8, y + 10), (255, 230, 170), -1)
    m = measure_image(preview(night), width_px=PHONE[0], height_px=PHONE[1])
    assert m["luma_mean"] < 40          # as dark on average as an underexposed frame ...
    assert "dark" not in flags_for(m)   # ... but something in it is bright


def test_low_key_portrait_is_not_dark(astronaut):
    h, w = astronaut.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    light = np.exp(-(((xx - 220) / 90.0) ** 2 + ((yy - 130) / 110.0) ** 2))[..., None]
    low_key = np.clip(astronaut * (0.08 + 0.92 * light), 0, 255).astype(np.uint8)
    m = measure_image(preview(low_key), width_px=PHONE[0], height_px=PHONE[1])
    assert m["luma_mean"] < 60 and "dark" not in flags_for(m)


def test_blown_out_photo_is_overexposed(coffee):
    assert "overexposed" in flags(stops(coffee, 3))


def test_bright_snow_like_picture_with_detail_is_not_overexposed(coffee):
    lab = cv2.cvtColor(coffee, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] = 165 + lab[..., 0] * (85 / 255)          # everything bright, nothing clipped
    snow = cv2.cvtColor(lab.astype(np.uint8), cv2.COLOR_LAB2RGB)
    m = measure_image(preview(snow), width_px=PHONE[0], height_px=PHONE[1])
    assert m["luma_mean"] > 170
    assert not {"overexposed", "clipped_highlights"} & set(flags_for(m))


def test_backlit_subject_under_a_blown_sky_is_not_flagged(coffee):
    backlit = stops(coffee, -3.5)
    backlit[: coffee.shape[0] * 35 // 100] = 255
    m = measure_image(preview(backlit), width_px=PHONE[0], height_px=PHONE[1])
    assert m["clipped_highlights"] > 0.3
    assert flags_for(m) == []


def test_large_blown_area_in_a_mid_toned_photo_is_clipped_highlights(coffee):
    a = coffee.copy()
    a[:, : a.shape[1] * 3 // 10] = 255               # a blown window over a third of a normally lit scene
    assert "clipped_highlights" in flags(a)


def test_white_screenshot_is_not_overexposed():
    shot = np.full((1080, 1440, 3), 255, np.uint8)
    for i in range(12):                               # text lines and a coloured header bar
        shot[120 + i * 70: 140 + i * 70, 80: 80 + 900 - 40 * i] = (40, 40, 40)
    shot[:90] = (30, 110, 200)
    m = measure_image(preview(shot), width_px=1440, height_px=1080)
    assert m["luma_mean"] > 200 and m["clipped_highlights"] > 0.5
    assert not {"overexposed", "clipped_highlights"} & set(flags_for(m))


# --------------------------------------------------------------------------------------------- noise

def test_added_noise_is_noisy(coffee):
    noisy = np.clip(coffee + np.random.default_rng(1).normal(0, 20, coffee.shape), 0, 255).astype(np.uint8)
    assert "noisy" in flags(noisy)


def test_clean_photo_is_not_noisy(coffee):
    assert "noisy" not in flags(coffee)


def test_fine_texture_is_not_mistaken_for_noise():
    gravel = np.dstack([data.gravel()] * 3)
    m = measure_image(preview(gravel), width_px=PHONE[0], height_px=PHONE[1])
    assert m["sharpness_image"] > 1000                # plenty of fine detail ...
    assert "noisy" not in flags_for(m)                # ... that is not noise


# --------------------------------------------------------------------------------------------- information

def test_uniform_frame_is_low_information():
    grey = np.full((1080, 1440, 3), 128, np.uint8)
    found = flags(grey)
    assert "low_information" in found
    assert "blurry" not in found                      # no edge to judge sharpness by


def test_lens_cap_shot_is_low_information_and_dark():
    rng = np.random.default_rng(2)
    cap = np.clip(4 + rng.normal(0, 2.5, (1080, 1440, 3)), 0, 255).astype(np.uint8)
    assert {"low_information", "dark"} <= set(flags(cap))


def test_clear_blue_sky_over_a_horizon_is_not_low_information(coffee):
    h, w = 1080, 1440
    t = np.linspace(0, 1, int(h * 0.7))[:, None, None]
    sky = (np.array([70, 130, 220]) + (np.array([170, 205, 240]) - np.array([70, 130, 220])) * t) * np.ones((1, w, 1))
    land = cv2.resize(coffee, (w, h - sky.shape[0]), interpolation=cv2.INTER_AREA)
    scene = np.vstack([sky, land]).astype(np.uint8)
    assert flags(scene) == []


# --------------------------------------------------------------------------------------------- size, colour

def test_tiny_image_is_low_resolution(coffee):
    small = cv2.resize(coffee, (160, 107), interpolation=cv2.INTER_AREA)
    assert "low_resolution" in flags(small, size=(160, 107))
    assert "low_resolution" not in flags(coffee, size=PHONE)


def test_five_to_one_panorama_has_odd_aspect_ratio(coffee):
    strip = coffee[150:270]
    assert "odd_aspect_ratio" in flags(strip, size=(6000, 1200))
    assert "odd_aspect_ratio" not in flags(coffee, size=(1920, 1080))


def test_gray_copy_is_grayscale_and_the_colour_photo_is_not(coffee):
    gray = np.dstack([cv2.cvtColor(coffee, cv2.COLOR_RGB2GRAY)] * 3)
    assert "grayscale" in flags(gray)
    assert "grayscale" not in flags(coffee)


def test_grayscale_and_rgba_input_arrays_are_accepted(coffee):
    g = measure_image(data.camera(), width_px=512, height_px=512)
    rgba = measure_image(np.dstack([coffee, np.full(coffee.shape[:2], 255, np.uint8)]), width_px=600, height_px=400)
    tiny = measure_image(np.zeros((3, 2, 3), np.uint8), width_px=2, height_px=3)
    assert g["saturation"] == 0 and rgba["saturation"] > 0.1
    assert {"low_information", "low_resolution"} <= set(flags_for(tiny))


# --------------------------------------------------------------------------------------------- score

def test_score_orders_clean_above_each_degraded_copy(coffee):
    def s(a: np.ndarray) -> float:
        m = measure_image(preview(a), width_px=PHONE[0], height_px=PHONE[1])
        return score(m, flags_for(m))
    clean = s(coffee)
    noisy = np.clip(coffee + np.random.default_rng(3).normal(0, 20, coffee.shape), 0, 255).astype(np.uint8)
    degraded = {"blurred": s(blur(coffee, 0.006)), "dark": s(stops(coffee, -3.5)), "noisy": s(noisy),
                "blank": s(np.full_like(coffee, 128))}
    assert 0 <= min(degraded.values()) and clean <= 100
    assert all(clean > v for v in degraded.values()), (clean, degraded)
    assert degraded["blank"] == min(degraded.values())


def test_score_never_rises_with_an_extra_flag(coffee):
    m = measure_image(preview(coffee), width_px=PHONE[0], height_px=PHONE[1])
    base = score(m, [])
    assert all(score(m, [f]) <= base for f in FLAG_NAMES)
    assert score(m, ["blurry", "noisy"]) < score(m, ["blurry"])


# --------------------------------------------------------------------------------------------- thresholds

def test_thresholds_are_the_defaults_with_overrides_applied():
    t = QualityThresholds.from_overrides({"noise_min_sigma": 3})
    assert t.noise_min_sigma == 3.0 and isinstance(t.noise_min_sigma, float)
    assert t.blur_max_sharpness == QualityThresholds().blur_max_sharpness
    assert QualityThresholds.from_overrides(None) == QualityThresholds()


def test_an_unknown_threshold_name_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="noise_min_sigma"):
        QualityThresholds.from_overrides({"noisiness": 3})


def test_moving_a_threshold_changes_the_flag_without_remeasuring(coffee):
    m = measure_image(preview(coffee), width_px=PHONE[0], height_px=PHONE[1])
    strict = QualityThresholds(blur_max_sharpness=m["sharpness"] + 1)
    assert "blurry" in flags_for(m, strict) and "blurry" not in flags_for(m)


# --------------------------------------------------------------------------------------------- video

def test_starved_bitrate_video_is_low_bitrate():
    m = measure_video(1920, 1080, 60.0, 9_000_000, 30.0)     # 1.2 Mbit/s at 1080p30
    assert m["bitrate_kbps"] == pytest.approx(1200) and video_flags(m) == ["low_bitrate"]


def test_phone_video_is_not_flagged_and_small_video_is_low_resolution():
    assert video_flags(measure_video(1920, 1080, 10.0, 21_000_000, 30.0)) == []  # ~17 Mbit/s
    assert "low_resolution" in video_flags(measure_video(640, 360, 10.0, 1_000_000, 25.0))


def test_video_with_unknown_duration_gets_no_bitrate_verdict():
    m = measure_video(1280, 720, None, 5_000_000, None)
    assert "bitrate_kbps" not in m and video_flags(m) == []


# --------------------------------------------------------------------------------------------- motion blur, white

def motion(a: np.ndarray, frac: float, degrees: float) -> np.ndarray:
    """Linear motion blur (camera shake): a line kernel frac x the long side long, at an angle."""
    n = max(3, int(round(frac * max(a.shape[:2]))))
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1
    k = cv2.warpAffine(k, cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), degrees, 1.0), (n, n))
    return cv2.filter2D(a, -1, k / k.sum())


def spin(a: np.ndarray, degrees: float) -> np.ndarray:
    """Rotational motion blur about the centre (a dial photographed while turning)."""
    h, w = a.shape[:2]
    acc = np.zeros(a.shape, np.float32)
    for t in np.linspace(-degrees / 2, degrees / 2, int(degrees * 4)):
        acc += cv2.warpAffine(a, cv2.getRotationMatrix2D((w / 2, h / 2), t, 1.0), (w, h),
                              borderMode=cv2.BORDER_REFLECT)
    return (acc / int(degrees * 4)).astype(np.uint8)


@pytest.fixture(scope="module")
def wide(astronaut) -> np.ndarray:
    """A sharp 1024x512 picture at native pixel scale (the directional measure needs a >= 640 px preview)."""
    return np.ascontiguousarray(np.hstack([astronaut, astronaut[:, ::-1]]))


def test_sharp_wide_photo_is_not_blurry(wide):
    assert flags(wide) == []


@pytest.mark.parametrize("degrees", [0, 45, 90])
def test_linear_motion_blur_is_blurry_although_the_laplacian_misses_it(wide, degrees):
    m = measure_image(preview(motion(wide, 0.01, degrees)), width_px=PHONE[0], height_px=PHONE[1])
    assert m["sharpness_image"] > QualityThresholds().blur_max_sharpness  # a global Laplacian calls it sharp
    assert "blurry" in flags_for(m)


def test_rotational_motion_blur_is_blurry(wide):
    assert "blurry" in flags(spin(wide, 5))


def test_corpus_photo_smeared_by_camera_motion_is_blurry(corpus):
    a = np.asarray(Image.open(corpus / "peer/immich-test-assets/albums/text/craft-beer.jpg").convert("RGB"))
    a = cv2.resize(a, (1440, round(a.shape[0] * 1440 / a.shape[1])), interpolation=cv2.INTER_AREA)
    assert "blurry" not in flags(a)
    assert "blurry" in flags(motion(a, 0.01, 30))


def test_dark_snowy_low_key_and_backlit_versions_are_not_flagged_by_the_motion_measure(wide):
    night = stops(wide, -4.5)
    rng = np.random.default_rng(0)
    for _ in range(40):  # lamps and lit windows
        x, y = int(rng.integers(0, 1010)), int(rng.integers(0, 500))
        cv2.rectangle(night, (x, y), (x + 8, y + 10), (255, 230, 170), -1)
    lab = cv2.cvtColor(wide, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] = 165 + lab[..., 0] * (85 / 255)
    snow = cv2.cvtColor(lab.astype(np.uint8), cv2.COLOR_LAB2RGB)
    h, w = wide.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    low_key = np.clip(wide * (0.08 + 0.92 * np.exp(-(((xx - 220) / 90.0) ** 2 + ((yy - 130) / 110.0) ** 2))[..., None]),
                      0, 255).astype(np.uint8)
    backlit = stops(wide, -3.5)
    backlit[: h * 35 // 100] = 255
    for name, a in {"night": night, "snow": snow, "low-key": low_key, "backlit": backlit}.items():
        m = measure_image(preview(a), width_px=PHONE[0], height_px=PHONE[1])
        assert m["sharpness_directional"] > QualityThresholds().motion_blur_max_directional, name
        assert flags_for(m) == [], (name, flags_for(m))


def test_nearly_white_frame_is_overexposed_and_low_information():
    white = np.clip(252 + np.random.default_rng(4).normal(0, 1.5, (1080, 1440, 3)), 0, 255).astype(np.uint8)
    m = measure_image(preview(white), width_px=PHONE[0], height_px=PHONE[1])
    assert m["luma_mean"] > 250
    assert {"overexposed", "low_information"} <= set(flags_for(m))
    assert "blurry" not in flags_for(m)


def test_a_small_preview_gets_no_directional_verdict(coffee):
    m = measure_image(preview(motion(coffee, 0.02, 0)), width_px=600, height_px=400)
    assert m["sharpness_directional"] == -1
