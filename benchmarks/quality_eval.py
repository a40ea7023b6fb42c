#!/usr/bin/env python
"""Quality flags (workbench.quality.measures): false positives on ordinary photos, hits on generated bad copies.

What it does
  1. Ordinary photos: every image Pillow decodes in the corpus sets skimage_data, peer/immich-test-assets,
     peer/photoprism (except its broken/ folder), faces/photoprism and exif/exif-py (JPEG only). Each is turned
     upright (ImageOps.exif_transpose) and made into the preview the quality stage reads
     (workbench.imaging.renditions.make_renditions: long side <= 1440 px, WebP, decoded back). Face boxes come
     from dlib's HOG detector on the preview when dlib imports (faces >= 48 px), as the face stage would supply
     them. Every flag raised is looked up in REVIEWED below: my verdict after looking at the picture (TP/FP and
     why). A flag not in REVIEWED is counted as "unreviewed", so a threshold change shows up as work to do.
     low_resolution and odd_aspect_ratio are facts about the original's size and count as TP when that size
     confirms them (the corpus's tiny test images are meant to be low_resolution); grayscale hits were checked
     by eye like the rest.
  2. Generated bad copies of 12 sharp corpus photos, each degraded at preview size and then made into a preview
     the same way (so WebP smooths added noise as it would): Gaussian blur (0.5% and 1% of the long side; 0.2%,
     "soft", is reported but not labelled), linear motion blur (0.5/1/2% of the long side at 0, 45, 90, 135
     degrees), rotational motion blur about the centre (2, 5, 10 degrees of arc), -3/-4 stops (linear light), +2/+3 stops with clipping, Gaussian
     noise sigma 15/20/25, grayscale, 5:1 crop, shrunk to 320x240 and 160x120 (the +2/+3 stop cases only from
     sources whose mean luma is >= 80: pushing a night photo up is not an overexposure); plus blank frames (uniform
     grey/white/navy/red with faint noise, lens cap: near-black with noise, a white wall with a lighting
     gradient, pocket shots: dark blurred fabric weave; nearly white frames, means 247-252, which must also be
     overexposed). Hit rate = share carrying the expected flag; "other new
     flags" are flags the source photo did not have and the case did not expect.
  3. Pictures that must NOT be flagged, made from the same 12 photos: night (-4.5 stops with lamps and lit
     windows), low-key (a lit subject on black), snow/high-key (lightness compressed to 165-250, colours kept),
     backlit (subject -3.5 stops under a blown sky), clear blue sky over a horizon (70% sky gradient); and the
     portrait with soft background (faces/face_recognition obama.jpg, everything outside the head blurred by 1%
     of the long side, face box from the corpus ground truth): with its face box it must not be blurry. Its
     mirror image, "missed focus" (face blurred, background sharp), must be blurry with the face box.
  4. Videos in the corpus: measure_video / video_flags from the container probe (size, duration, fps, bytes).
  5. Speed: wall and CPU time of measure_image per preview (one untimed warm-up call), on all ordinary previews
     and on 1440x1080 ones.

Example
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/quality_eval.py
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/quality_eval.py --json /tmp/quality.json --no-faces
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ORDINARY_SETS = ("skimage_data", "peer/immich-test-assets", "peer/photoprism", "faces/photoprism", "exif/exif-py")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif"}
EXCLUDE_DIRS = {"broken"}  # peer/photoprism's deliberately broken files
SOURCES = [  # sharp photos the generated cases are made from (corpus paths)
    "peer/immich-test-assets/albums/text/craft-beer.jpg", "peer/immich-test-assets/albums/text/japanese-shop.jpg",
    "peer/immich-test-assets/albums/text/book-beside-flowers.jpg", "peer/immich-test-assets/formats/heic/IMG_2682.heic",
    "exif/exif-py/jpg/tests/42_IndexError.jpg", "peer/photoprism/examples/iphone_7.heic",
    "exif/exif-py/jpg/hdr/iphone_hdr_YES.jpg", "exif/exif-py/jpg/tests/35-empty.jpg",
    "skimage_data/astronaut.png", "skimage_data/coffee.png", "skimage_data/chelsea.png",
    "skimage_data/motorcycle_left.png",
]
PORTRAIT = "faces/face_recognition/tests/test_images/obama.jpg"
PORTRAIT_BOX = (349, 142, 268, 267)  # ground_truth.json hog box (top, right, bottom, left) = (142, 617, 409, 349)
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".m4v", ".3gp", ".mts"}

# My verdicts on every flag the default thresholds raise on the ordinary photos, after looking at each picture.
# Keys are corpus paths relative to the set folder's parent ("*" = every file of that name); value: flag ->
# ("TP" | "FP", why).
_BLANK = ("TP", "uniform test frame, nothing in it")
_GRAY = ("TP", "grayscale content")
REVIEWED: dict[str, dict[str, tuple[str, str]]] = {
    # blurry
    "skimage_data/cell.png": {"blurry": ("TP", "soft microscope image, no sharp edge"), "grayscale": _GRAY},
    "skimage_data/clock_motion.png": {"blurry": ("TP", "motion-blurred on purpose"), "grayscale": _GRAY},
    "skimage_data/microaneurysms.png": {"blurry": ("TP", "soft 102 px retina crop"), "grayscale": _GRAY},
    "skimage_data/color.png": {"blurry": ("FP", "synthetic colour wheel, smooth by design")},
    "faces/photoprism/images/10.jpg": {"blurry": ("FP", "a visibly soft dog portrait, usable (directional measure)")},
    "peer/photoprism/meta_testdata/animated.gif": {"blurry": ("FP", "painted soft sky, an illustration")},
    # dark / low_information: the corpus's blank test frames
    "peer/immich-test-assets/metadata/dates/date-priority-test.jpg": {"dark": _BLANK, "low_information": _BLANK},
    "peer/immich-test-assets/metadata/dates/datetimeoriginal-gps.jpg": {"dark": _BLANK, "low_information": _BLANK},
    "peer/immich-test-assets/metadata/dates/gps-datetime.jpg": {"dark": _BLANK, "low_information": _BLANK},
    "peer/immich-test-assets/metadata/dates/time-created.jpg": {"low_information": _BLANK},
    "exif/exif-py/jpg/Sony_alpha_a58.JPG": {"dark": ("TP", "10x10 black frame"), "low_information": _BLANK,
                                            "grayscale": ("TP", "black")},
    "exif/exif-py/jpg/tests/67-0_length_string.jpg": {"low_information": ("TP", "8 MP of uniform grey"),
                                                      "grayscale": ("TP", "uniform grey")},
    "peer/photoprism/meta_testdata/altitude.jpg": {"low_information": ("TP", "uniform blue with the word SAMPLE")},
    "peer/immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic": {
        "low_information": ("TP", "flash shot of a blank wall")},
    # overexposed / clipped_highlights: graphics the flat-colour guard does not catch
    "skimage_data/logo.png": {"overexposed": ("FP", "logo graphic on white")},
    "exif/exif-py/jpg/invalid/image01088.jpg": {"overexposed": ("FP", "web banner on white")},
    "peer/immich-test-assets/formats/png/density_plot.png": {"clipped_highlights": ("FP", "plot on white"),
                                                             "grayscale": _GRAY},
    # grayscale (checked by eye: every one is grey)
    **{f"skimage_data/{n}": {"grayscale": _GRAY} for n in (
        "brick.png", "camera.png", "chessboard_GRAY.png", "chessboard_RGB.png", "coins.png", "grass.png",
        "gravel.png", "horse.png", "moon.png", "multipage.tif", "page.png", "phantom.png", "text.png")},
    "peer/immich-test-assets/metadata/faces/portrait.jpg": {"grayscale": ("TP", "black-and-white photo")},
    "peer/immich-test-assets/metadata/faces/portrait-orientation-6.jpg": {"grayscale": ("TP", "black-and-white photo")},
    "peer/immich-test-assets/metadata/faces/solvay.jpg": {"grayscale": ("TP", "black-and-white photo")},
    "peer/photoprism/meta_testdata/buggy_panorama.jpg": {"grayscale": ("TP", "white text on black")},
    "exif/exif-py/jpg/invalid/image01713.jpg": {"grayscale": ("TP", "grey strip")},
}
# low_resolution and odd_aspect_ratio state a fact about the original's pixel size: a hit is a true positive by
# definition (the corpus's deliberately small test images are meant to be low_resolution); see _verdict.


# ----------------------------------------------------------------------------------------- generated cases

def _gen():  # noqa: ANN202 - the generators, imported lazily (numpy/cv2)
    import cv2
    import numpy as np

    def to_lin(a):
        x = a.astype(np.float32) / 255
        return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)

    def to_srgb(lin):
        lin = np.clip(lin, 0, 1)
        x = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
        return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)

    def exposure(a, stops):
        return to_srgb(to_lin(a) * 2.0 ** stops)

    def blur(a, frac):
        return cv2.GaussianBlur(a, (0, 0), frac * max(a.shape[:2]))

    def motion(a, frac, degrees):
        """Linear motion blur: a line kernel frac x the long side long, at an angle (camera shake)."""
        n = max(3, int(round(frac * max(a.shape[:2]))))
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1
        k = cv2.warpAffine(k, cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), degrees, 1.0), (n, n))
        return cv2.filter2D(a, -1, k / k.sum())

    def spin(a, degrees):
        """Rotational motion blur about the centre (a dial photographed while turning): the mean of rotated copies
        over the arc."""
        h, w = a.shape[:2]
        steps = max(3, int(degrees * 4))
        acc = np.zeros(a.shape, np.float32)
        for t in np.linspace(-degrees / 2, degrees / 2, steps):
            acc += cv2.warpAffine(a, cv2.getRotationMatrix2D((w / 2, h / 2), t, 1.0), (w, h),
                                  borderMode=cv2.BORDER_REFLECT)
        return (acc / steps).astype(np.uint8)

    def noise(a, sigma, seed):
        r = np.random.default_rng(seed)
        return np.clip(a + r.normal(0, sigma, a.shape), 0, 255).astype(np.uint8)

    def gray(a):
        return np.dstack([cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)] * 3)

    def uniform(color, seed, h=1080, w=1440):
        r = np.random.default_rng(seed)
        return np.clip(np.array(color, np.float32) + r.normal(0, 1.5, (h, w, 3)), 0, 255).astype(np.uint8)

    def lens_cap(sigma, seed, h=1080, w=1440):
        r = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w]
        vignette = 6 - 6 * np.hypot((yy - h / 2) / h, (xx - w / 2) / w)
        a = vignette[..., None] + r.normal(0, sigma, (h, w, 3)) + r.normal(0, sigma / 2, (h, w, 1))
        return np.clip(a, 0, 255).astype(np.uint8)

    def wall(seed, h=1080, w=1440):
        r = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w]
        base = 200 - 40 * (xx / w) - 15 * (yy / h)
        return np.clip(base[..., None] * np.array([1.0, 0.97, 0.9]) + r.normal(0, 2.0, (h, w, 3)), 0, 255
                       ).astype(np.uint8)

    def pocket(seed, h=1080, w=1440):
        r = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        weave = np.sin(xx / 3.0) * np.sin(yy / 3.0) + 0.5 * r.normal(0, 1, (h, w))
        weave = cv2.GaussianBlur(weave.astype(np.float32), (0, 0), 12)
        folds = cv2.GaussianBlur(r.normal(0, 1, (h // 16 + 1, w // 16 + 1)).astype(np.float32), (0, 0), 2)
        folds = cv2.resize(folds, (w, h), interpolation=cv2.INTER_CUBIC)
        lum = 22 + 60 * weave + 10 * folds / (np.abs(folds).max() + 1e-6)
        return np.clip(lum[..., None] * np.array([0.8, 0.9, 1.3]) + r.normal(0, 3.0, (h, w, 3)), 0, 255
                       ).astype(np.uint8)

    def night(a, seed):
        r = np.random.default_rng(seed)
        out = exposure(a, -4.5).astype(np.float32)
        h, w = out.shape[:2]
        s = max(h, w)
        lights = np.zeros((h, w), np.float32)
        for _ in range(10):  # street lamps
            cv2.circle(lights, (int(r.integers(0, w)), int(r.integers(0, h))), int(r.uniform(0.004, 0.01) * s), 1.0, -1)
        for _ in range(25):  # lit windows
            x, y = int(r.integers(0, w)), int(r.integers(0, h))
            cv2.rectangle(lights, (x, y), (x + int(0.015 * s), y + int(0.02 * s)), 0.85, -1)
        glow = cv2.GaussianBlur(lights, (0, 0), 0.02 * s)
        light = np.clip(lights + 2 * glow, 0, 1)[..., None] * np.array([255, 225, 170])
        return np.clip(out + light, 0, 255).astype(np.uint8)

    def low_key(a):
        h, w = a.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        m = np.exp(-(((xx - w * 0.5) / (0.18 * w)) ** 2 + ((yy - h * 0.4) / (0.25 * h)) ** 2))
        return to_srgb(to_lin(a) * (0.03 + 1.2 * m[..., None]))

    def snow(a):
        lab = cv2.cvtColor(a, cv2.COLOR_RGB2LAB).astype(np.float32)
        lab[..., 0] = 165 + lab[..., 0] * (85 / 255)
        return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)

    def backlit(a):
        h, w = a.shape[:2]
        out = exposure(a, -3.5).astype(np.float32)
        sky = (np.arange(h)[:, None] < int(0.35 * h)) * np.ones((1, w), np.float32)
        sky = cv2.GaussianBlur(sky, (0, 0), 0.02 * h)
        out = out * (1 - sky[..., None]) + 255 * sky[..., None]
        return np.clip(out, 0, 255).astype(np.uint8)

    def sky_horizon(a, h=1080, w=1440, horizon=0.7):
        t = np.linspace(0, 1, int(h * horizon))[:, None, None]
        top, bottom = np.array([70, 130, 220]), np.array([170, 205, 240])
        sky = (top + (bottom - top) * t) * np.ones((1, w, 1))
        land = cv2.resize(a, (w, int(a.shape[0] * w / a.shape[1])), interpolation=cv2.INTER_AREA)
        lh = h - sky.shape[0]
        strip = land[-lh:] if land.shape[0] >= lh else cv2.resize(land, (w, lh))
        return np.clip(np.vstack([sky, strip]), 0, 255).astype(np.uint8)

    def crop_aspect(a, ratio):
        h, w = a.shape[:2]
        ch = max(1, int(round(w / ratio)))
        y0 = (h - ch) // 2
        return a[y0:y0 + ch]

    def shrink(a, w, h):
        return cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)

    def portrait_soft_background(a, box, face_sharp=True):
        x, y, bw, bh = box
        h, w = a.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy = x + bw / 2, y + bh / 2
        inside = (((xx - cx) / (0.8 * bw)) ** 2 + ((yy - cy) / (0.85 * bh)) ** 2) <= 1.0
        mask = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.04 * bw)[..., None]
        soft = blur(a, 0.01).astype(np.float32)
        sharp = a.astype(np.float32)
        if not face_sharp:
            mask = 1 - mask
        return np.clip(sharp * mask + soft * (1 - mask), 0, 255).astype(np.uint8)

    return {k: v for k, v in locals().items() if callable(v) and not k.startswith("to_")} | {
        "to_lin": to_lin, "to_srgb": to_srgb}


# ----------------------------------------------------------------------------------------- helpers

def _preview(img):  # noqa: ANN001, ANN202 - PIL image -> uint8 RGB preview array, as the stage reads it
    import io

    import numpy as np
    from PIL import Image

    from workbench.imaging.renditions import make_renditions

    r = make_renditions(img)["preview"]
    return np.asarray(Image.open(io.BytesIO(r.data)).convert("RGB"))


def _open(path: Path):  # noqa: ANN202 - (upright RGB PIL image, width, height) or None
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.load()
            up = ImageOps.exif_transpose(im)
            up = up.convert("RGB")
        return up, up.width, up.height
    except Exception:
        return None


def _face_detector(enabled: bool):  # noqa: ANN202
    if not enabled:
        return None
    try:
        import dlib
    except Exception:
        return None
    det = dlib.get_frontal_face_detector()

    def boxes(rgb) -> list[tuple[int, int, int, int]]:  # noqa: ANN001
        found = [(d.left(), d.top(), d.width(), d.height()) for d in det(rgb, 0)]
        return [b for b in found if min(b[2], b[3]) >= 48]
    return boxes


def _verdict(o: dict, flag: str, th) -> tuple[str, str]:  # noqa: ANN001 (QualityThresholds)
    """(TP|FP|unreviewed, why) for one flag on one ordinary photo."""
    v = REVIEWED.get(o["name"], {}).get(flag)
    if v:
        return v
    w, h = o["width"], o["height"]
    if flag == "low_resolution" and w * h / 1e6 <= th.low_resolution_max_megapixels:
        return ("TP", f"{w}x{h}")
    if flag == "odd_aspect_ratio" and max(w, h) / min(w, h) >= th.odd_aspect_min_ratio:
        return ("TP", f"{w}x{h}")
    return ("unreviewed", "")


# ----------------------------------------------------------------------------------------- evaluation

def evaluate(corpus: Path, faces: bool = True) -> dict:
    import numpy as np
    from PIL import Image

    from workbench.imaging.decode import register_plugins
    from workbench.quality.measures import (FLAG_NAMES, QualityThresholds, flags_for, measure_image,
                                            measure_video, score, video_flags)

    register_plugins()
    t_start = time.perf_counter()
    th = QualityThresholds()
    detect = _face_detector(faces)
    g = _gen()

    # 1. ordinary photos -------------------------------------------------------------------------------
    ordinary, skipped, timings = [], [], []
    for s in ORDINARY_SETS:
        for p in sorted((corpus / s).rglob("*")):
            if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES or EXCLUDE_DIRS & set(p.parts):
                continue
            if s == "exif/exif-py" and p.suffix.lower() not in {".jpg", ".jpeg"}:
                continue
            name = str(p.relative_to(corpus))
            opened = _open(p)
            if opened is None:
                skipped.append(name)
                continue
            img, w, h = opened
            prev = _preview(img)
            boxes = detect(prev) if detect else []
            if not timings:
                measure_image(prev, width_px=w, height_px=h, face_boxes=boxes)  # warm-up
            t0, c0 = time.perf_counter(), time.process_time()
            m = measure_image(prev, width_px=w, height_px=h, face_boxes=boxes)
            timings.append((prev.shape[1], prev.shape[0], time.perf_counter() - t0, time.process_time() - c0))
            fl = flags_for(m, th)
            ordinary.append({"name": name, "width": w, "height": h, "faces": len(boxes), "measures": m,
                             "flags": fl, "score": score(m, fl)})

    per_flag = {}
    for f in FLAG_NAMES:
        hits = [o for o in ordinary if f in o["flags"]]
        rows = {"flagged": len(hits), "TP": [], "FP": [], "unreviewed": []}
        for o in hits:
            v, why = _verdict(o, f, th)
            rows[v].append({"name": o["name"], "why": why})
        per_flag[f] = rows

    # 2./3. generated cases -----------------------------------------------------------------------------
    sources = []
    for rel in SOURCES:
        opened = _open(corpus / rel)
        if opened is None:
            continue
        img, w, h = opened
        img.thumbnail((1440, 1440))
        sources.append((rel, np.asarray(img), w, h))

    def run(arr, w, h, boxes=None):  # noqa: ANN001, ANN202
        prev = _preview(Image.fromarray(arr))
        m = measure_image(prev, width_px=w, height_px=h, face_boxes=boxes)
        fl = flags_for(m, th)
        return m, fl

    generated: list[dict] = []

    def add(case: str, expected: str | None, src: str, arr, w: int, h: int, base_flags: list[str],  # noqa: ANN001
            boxes=None, labelled: bool = True) -> None:  # noqa: ANN001
        m, fl = run(arr, w, h, boxes)
        new = [f for f in fl if f not in base_flags and f != expected]
        generated.append({"case": case, "expected": expected, "labelled": labelled, "source": src,
                          "hit": (expected in fl) if expected else (not new), "new_flags": new, "flags": fl,
                          "score": score(m, fl), "measures": m})

    for i, (rel, a, w, h) in enumerate(sources):
        base_m, base = run(a, w, h)
        generated.append({"case": "source", "expected": None, "labelled": False, "source": rel, "hit": True,
                          "new_flags": [], "flags": base, "score": score(base_m, base), "measures": base_m})
        add("blur 0.2% (soft)", "blurry", rel, g["blur"](a, 0.002), w, h, base, labelled=False)
        add("blur 0.5%", "blurry", rel, g["blur"](a, 0.005), w, h, base)
        add("blur 1%", "blurry", rel, g["blur"](a, 0.01), w, h, base)
        for frac in (0.005, 0.01, 0.02):
            for deg in (0, 45, 90, 135):
                add(f"motion blur {frac:.1%}", "blurry", rel, g["motion"](a, frac, deg), w, h, base)
        for deg in (2, 5, 10):
            add(f"rotational blur {deg} deg", "blurry", rel, g["spin"](a, deg), w, h, base)
        add("-3 stops", "dark", rel, g["exposure"](a, -3), w, h, base)
        add("-4 stops", "dark", rel, g["exposure"](a, -4), w, h, base)
        if base_m["luma_mean"] >= 80:  # pushing a dark (night) source up is not an overexposure
            add("+2 stops", "overexposed", rel, g["exposure"](a, 2), w, h, base)
            add("+3 stops", "overexposed", rel, g["exposure"](a, 3), w, h, base)
        for sigma in (15, 20, 25):
            add(f"noise sigma {sigma}", "noisy", rel, g["noise"](a, sigma, i), w, h, base)
        add("grayscale", "grayscale", rel, g["gray"](a), w, h, base)
        pano = g["crop_aspect"](a, 5.0)
        add("5:1 crop", "odd_aspect_ratio", rel, pano, w, max(1, round(w / 5)), base)
        add("320x240", "low_resolution", rel, g["shrink"](a, 320, 240), 320, 240, base)
        add("160x120", "low_resolution", rel, g["shrink"](a, 160, 120), 160, 120, base)
        add("night (must pass)", None, rel, g["night"](a, i), w, h, base)
        add("low-key (must pass)", None, rel, g["low_key"](a), w, h, base)
        add("snow/high-key (must pass)", None, rel, g["snow"](a), w, h, base)
        add("backlit (must pass)", None, rel, g["backlit"](a), w, h, base)
        add("sky over horizon (must pass)", None, rel, g["sky_horizon"](a), 4032, 3024, base)
    blanks = [("uniform grey", g["uniform"]((128, 128, 128), 0)), ("uniform white", g["uniform"]((250, 250, 250), 1)),
              ("nearly white 252", g["uniform"]((252, 252, 252), 9)),
              ("nearly white 247", g["uniform"]((247, 248, 246), 10)),
              ("uniform navy", g["uniform"]((20, 30, 60), 2)), ("uniform red", g["uniform"]((200, 80, 60), 3)),
              ("lens cap", g["lens_cap"](2.0, 4)), ("lens cap, noisy", g["lens_cap"](6.0, 5)),
              ("white wall", g["wall"](6)), ("pocket", g["pocket"](7)), ("pocket", g["pocket"](8))]
    for label, arr in blanks:
        add("blank: " + label, "low_information", "(generated)", arr, 4032, 3024, [])
        if label.startswith(("nearly white", "uniform white")):  # white frames: overexposed too (cleanvision)
            add("white frame: " + label, "overexposed", "(generated)", arr, 4032, 3024, [])

    # portrait with soft background, and its mirror (missed focus)
    portrait = {}
    opened = _open(corpus / PORTRAIT)
    if opened is not None:
        img, w, h = opened
        a = np.asarray(img)
        soft_bg = g["portrait_soft_background"](a, PORTRAIT_BOX, face_sharp=True)
        soft_face = g["portrait_soft_background"](a, PORTRAIT_BOX, face_sharp=False)
        for label, arr, boxes in (("soft background, face box given", soft_bg, [PORTRAIT_BOX]),
                                  ("soft background, no face box", soft_bg, None),
                                  ("missed focus (soft face), face box given", soft_face, [PORTRAIT_BOX]),
                                  ("missed focus (soft face), no face box", soft_face, None)):
            m, fl = run(arr, w, h, boxes)
            portrait[label] = {"blurry": "blurry" in fl, "flags": fl, "sharpness": m["sharpness"],
                               "sharpness_image": m["sharpness_image"], "sharpness_faces": m["sharpness_faces"]}

    # 4. videos -------------------------------------------------------------------------------------------
    videos = []
    try:
        from workbench.formats.sniff import sniff
        from workbench.metadata.video import probe_video
        for p in sorted(corpus.rglob("*")):
            if not p.is_file() or p.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            try:
                ft = sniff(p)
                pr = probe_video(p, ft.mime)
            except Exception:
                continue
            m = measure_video(pr.width, pr.height, pr.duration_s, p.stat().st_size, pr.fps)
            videos.append({"name": str(p.relative_to(corpus)), "codec": pr.video_codec, "measures": m,
                           "flags": video_flags(m, th)})
    except ImportError:
        pass

    # 5. speed -------------------------------------------------------------------------------------------
    def stats(rows):  # noqa: ANN001, ANN202
        if not rows:
            return None
        wall = np.array([r[2] for r in rows]) * 1000
        cpu = np.array([r[3] for r in rows]) * 1000
        return {"n": len(rows), "wall_ms_mean": float(wall.mean()), "wall_ms_median": float(np.median(wall)),
                "wall_ms_max": float(wall.max()), "cpu_ms_mean": float(cpu.mean())}
    full = [t for t in timings if max(t[0], t[1]) == 1440 and min(t[0], t[1]) >= 1000]

    return {"thresholds": th.__dict__, "ordinary": ordinary, "skipped": skipped, "per_flag": per_flag,
            "generated": generated, "portrait": portrait, "videos": videos,
            "timing": {"all": stats(timings), "1440px": stats(full)},
            "seconds": time.perf_counter() - t_start, "faces": bool(detect)}


# ----------------------------------------------------------------------------------------- report

def report(r: dict) -> str:
    from collections import defaultdict

    from workbench.quality.measures import FLAG_NAMES

    out = []
    n = len(r["ordinary"])
    out.append(f"Ordinary photos: {n} decoded ({len(r['skipped'])} skipped: {', '.join(r['skipped']) or '-'}); "
               f"face boxes from dlib HOG: {'yes' if r['faces'] else 'no'}")
    out.append("")
    out.append("| flag | flagged | TP | FP | unreviewed | false positives |")
    out.append("|---|---:|---:|---:|---:|---|")
    for f in FLAG_NAMES:
        row = r["per_flag"][f]
        fps = "; ".join(f"{x['name'].rsplit('/', 1)[-1]} ({x['why']})" for x in row["FP"]) or "-"
        out.append(f"| {f} | {row['flagged']} | {len(row['TP'])} | {len(row['FP'])} | {len(row['unreviewed'])} "
                   f"| {fps} |")
    unrev = sorted({x["name"] + ":" + f for f in FLAG_NAMES for x in r["per_flag"][f]["unreviewed"]})
    if unrev:
        out.append("")
        out.append("Unreviewed: " + ", ".join(unrev))
    motion_only = [o["name"].rsplit("/", 1)[-1] for o in r["ordinary"] if "blurry" in o["flags"]
                   and o["measures"]["sharpness"] > r["thresholds"]["blur_max_sharpness"]
                   and o["measures"].get("faces_measured", 0) == 0]
    out.append("")
    out.append(f"Blurry by the directional (motion) measure alone on ordinary photos: {len(motion_only)} "
               f"({', '.join(motion_only) or '-'})")
    clean = sum(1 for o in r["ordinary"] if not o["flags"])
    out.append("")
    out.append(f"{clean}/{n} ordinary photos carry no flag.")

    out.append("")
    out.append("Generated cases (hit = expected flag raised; for 'must pass' cases hit = no new flag)")
    out.append("")
    out.append("| case | expected | n | hit rate | other new flags | mean score |")
    out.append("|---|---|---:|---:|---|---:|")
    groups: dict[str, list] = defaultdict(list)
    for x in r["generated"]:
        groups[x["case"]].append(x)
    for case, xs in groups.items():
        exp = xs[0]["expected"] or "(none)"
        hits = sum(1 for x in xs if x["hit"])
        others = defaultdict(int)
        for x in xs:
            for f in x["new_flags"]:
                others[f] += 1
        other = ", ".join(f"{k} {v}" for k, v in sorted(others.items())) or "-"
        label = "" if xs[0]["labelled"] or xs[0]["expected"] is None else " (not labelled)"
        if case == "source":
            exp, label = "(sources)", ""
        mean = sum(x["score"] for x in xs) / len(xs)
        out.append(f"| {case}{label} | {exp} | {len(xs)} | {hits}/{len(xs)} | {other} | {mean:.1f} |")
    motion = [x for x in r["generated"] if x["case"].startswith(("motion", "rotational"))]
    if motion:
        measurable = [x for x in motion if x["measures"].get("sharpness_directional", -1) >= 0]
        by_case: dict[str, list] = defaultdict(list)
        for x in measurable:
            by_case[x["case"]].append(x)
        out.append("")
        out.append("Motion cases from sources whose preview is >= 640 px (smaller ones have no directional measure): "
                   + "; ".join(f"{c} {sum(x['hit'] for x in xs)}/{len(xs)}" for c, xs in by_case.items()))
    out.append("")
    out.append("Portrait (obama.jpg, ground-truth face box)")
    out.append("")
    out.append("| variant | blurry | sharpness used | image | faces |")
    out.append("|---|---|---:|---:|---:|")
    for k, v in r["portrait"].items():
        out.append(f"| {k} | {'yes' if v['blurry'] else 'no'} | {v['sharpness']:.0f} | {v['sharpness_image']:.0f} "
                   f"| {v['sharpness_faces']:.0f} |")
    if r["videos"]:
        out.append("")
        out.append("| video | codec | size | fps | kbit/s | bits/pixel | flags |")
        out.append("|---|---|---|---:|---:|---:|---|")
        for v in r["videos"]:
            m = v["measures"]
            size = f"{m.get('long_side_px', 0):.0f}x{m.get('short_side_px', 0):.0f}" if "short_side_px" in m else "?"
            out.append(f"| {v['name']} | {v['codec']} | {size} | {m.get('fps', float('nan')):.1f} "
                       f"| {m.get('bitrate_kbps', float('nan')):.0f} | {m.get('bits_per_pixel', float('nan')):.3f} "
                       f"| {', '.join(v['flags']) or '-'} |")
    t = r["timing"]
    out.append("")
    for k, v in t.items():
        if v:
            out.append(f"measure_image {k}: n={v['n']} wall mean {v['wall_ms_mean']:.1f} ms, median "
                       f"{v['wall_ms_median']:.1f} ms, max {v['wall_ms_max']:.1f} ms; "
                       f"CPU mean {v['cpu_ms_mean']:.1f} ms")
    out.append(f"total {r['seconds']:.0f} s")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.environ.get("WORKBENCH_CORPUS", ""), help="default $WORKBENCH_CORPUS")
    ap.add_argument("--json", help="also write the full results (every measurement) to this file")
    ap.add_argument("--no-faces", action="store_true", help="do not detect faces with dlib on ordinary photos")
    args = ap.parse_args()
    if not args.corpus or not Path(args.corpus).is_dir():
        sys.exit("set WORKBENCH_CORPUS (or --corpus) to the shared corpus folder")
    r = evaluate(Path(args.corpus).resolve(), faces=not args.no_faces)
    print(report(r))
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1, default=float))


if __name__ == "__main__":
    main()
