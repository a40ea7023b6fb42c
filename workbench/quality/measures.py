"""Technical quality of one picture or video: measurements, named flags and a 0-100 score. Pure functions.

Nothing here reads the catalog or the settings file: ``measure_image`` turns the 1440 px preview (plus the
original's pixel size and the face boxes the face stage found) into numbers, ``flags_for`` compares those numbers
with ``QualityThresholds``, ``score`` folds both into 0..100. Flags are decided from stored measurements, so a
curator who moves a threshold sees the effect without re-measuring.

Every threshold's default was chosen with ``benchmarks/quality_eval.py``: false positives counted on the
corpus's ordinary photos (and on generated night, low-key, snow, backlit and sky-with-horizon pictures that must
not be flagged), hits counted on generated bad copies (blurred, -3/-4 stops, +2/+3 stops, noise 15-25, blank,
lens cap, pocket, tiny, 5:1 crop, grayscale); its table belongs in docs/benchmarks.md ("Quality").

Measurements (``measure_image`` keys; 8-bit levels unless stated; luma statistics on the working image, long
side 640 px)
  sharpness            what the blur flag reads: ``sharpness_faces`` when a usable face was given, else
                       ``sharpness_image``
  sharpness_image      Laplacian variance of the luma at a fixed working size (long side 640 px, never
                       upscaled), taken in 32 px tiles; the 98th percentile tile, so a sharp subject in front of a
                       soft background (or a sharp horizon under a plain sky) counts as sharp
  sharpness_faces      largest Laplacian variance over the face boxes (each crop resized to 112x112 px as in
                       ``workbench.faces.engine.sharpness``, a low-contrast crop first stretched to a standard
                       deviation of 40 levels so a dark but sharp face is not called soft); -1 when no face box was
                       given or all were smaller than 48 px
  faces_measured       how many face boxes were measured
  sharpness_directional  sharpness in the weakest direction, which a smear by camera motion (linear, or rotational
                       like a dial turning) lowers while a global Laplacian still sees the other direction's edges:
                       per 32 px tile and each of 8 directions, the energy of the second directional derivative
                       over that of the first (a squared spatial frequency in cycles^2 x const, independent of
                       contrast, so dim night, low-key and snow scenes read like any other); the tile keeps its
                       weakest direction; the value is the 90th percentile over the half of the tiles with the
                       most gradient energy (flat tiles only hold noise). -1 when the preview's long side is under
                       ``WORK_PX`` (the frequency scale would differ) or no tile has gradients
  luma_mean            mean Rec.601 luma
  highlight_luma       99.9th percentile luma: whether anything in the frame is bright (lamps in a night scene,
                       the lit face in a low-key portrait); an underexposed frame has none
  clipped_highlights   share of the frame with luma >= 250
  unclipped_luma_mean  mean luma of the rest of the frame (luma < 250): dark behind a blown sky means backlit
  clipped_shadows      share of the frame with luma <= 5
  noise_sigma          noise standard deviation, PCA estimate (Pyatykh et al. 2013, simplified): the smallest
                       eigenvalue of the covariance of the flattest 10% of 8x8 preview patches (stride 4). Natural
                       texture (foliage, gravel, wood grain) is low-rank and leaves that eigenvalue small; noise
                       adds to all of them. Calibrated to read sigma on uncompressed Gaussian noise; a WebP preview
                       has already smoothed part of it away (sigma 15 added to a preview reads 8.3-10.8)
  detail               share of the working image's 32 px tiles that contain an edge (gradient > 6 levels/px after
                       a 1 px Gaussian smoothing, so sensor noise does not count)
  entropy_bits         Shannon entropy of the smoothed luma histogram (0 = one flat colour, 8 = all levels used)
  megapixels           original width x height / 1e6
  aspect_ratio         original long side / short side (>= 1)
  saturation           95th percentile of chroma (max(R,G,B) - min(R,G,B)) / 255 over a ~100k pixel sample of the
                       preview; 0 for grayscale stored as RGB, 0.1+ for sepia and colour
  saturation_mean      mean of the same chroma / 255
  flat_colour_share    share of the not-clipped pixels (a ~25k pixel sample) taken by the 8 most frequent exact RGB
                       colours: flat fills of graphics and screenshots read 0.47-1, photos (continuous tones) up to
                       0.35
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

FLAG_NAMES = ("blurry", "dark", "overexposed", "clipped_highlights", "noisy", "low_information", "low_resolution",
              "odd_aspect_ratio", "grayscale")
VIDEO_FLAG_NAMES = ("low_resolution", "low_bitrate")

WORK_PX = 640              # long side of the working image for sharpness, exposure, detail and colour
TILE_PX = 32               # tile side at the working size (a 640x480 image has 300 tiles)
SHARP_TILE_PERCENTILE = 98
FACE_PX = 112              # face crops are measured at this size, like workbench.faces.engine.sharpness
FACE_MIN_PX = 48           # smaller face boxes are too small to judge (same as the face_min_size_px default)
FACE_MIN_STD = 40.0        # a face crop with less contrast is stretched to this standard deviation first
DETAIL_GRADIENT = 6.0      # levels per pixel after 1 px smoothing: an edge, not noise
NOISE_PATCH_PX = 8
NOISE_FLATTEST = 0.10
# The flattest-10% selection lowers the estimate; on flat grey with Gaussian noise (no compression) the raw
# estimate is this fraction of the true sigma (measured, 1440x1080, sigma 5..25: 0.777..0.782).
NOISE_CALIBRATION = 0.78
VIDEO_DEFAULT_FPS = 30.0


@dataclass
class QualityThresholds:
    """One field per flag threshold. ``*_max_*``: the flag fires when the measurement is <= the value;
    ``*_min_*``: when it is >= the value. Defaults measured with benchmarks/quality_eval.py."""

    # blurry: sharpness_image <= this. Gaussian blur of 0.5% of the long side reads 17-66 on the 12 test photos
    # (1%: 10-31); 0.2%, just soft, reads 123-371 and is not flagged. The softest ordinary photos read 131-240 (a
    # dog shot wide open, a leaf macro, a retina scan); below 80 are only soft scientific images, a deliberately
    # motion-blurred clock, a synthetic colour wheel (17) and a painted sky (79).
    blur_max_sharpness: float = 80.0
    # blurry (motion): sharpness_directional <= this, when no face was measured (a face decides by itself) and the
    # preview is at least WORK_PX on its long side. Sharp photos, and their night, low-key, snow and backlit
    # versions, read 1.11-3.6; a linear motion blur of 0.5 / 1 / 2 % of the long side at 0, 45, 90, 135 degrees
    # reads 0.3-1.5 (flagged 17/36, 32/36, 34/36) and rotational blur of 2-10 degrees 0.3-1.5 (6-7 of 9), while
    # their global Laplacian stays 150-6000, far above blur_max_sharpness (0 flagged before). Of the 110 ordinary
    # corpus photos with a >= 640 px preview one is flagged by this alone (a visibly soft dog portrait,
    # faces/photoprism 10.jpg); at 0.8 seven would be. Previews under WORK_PX have no directional measure (their
    # pixel scale differs; they are mostly low_resolution anyway).
    motion_blur_max_directional: float = 0.7
    # blurry when faces were measured: sharpness_faces <= this. On 46 real faces (dlib HOG boxes, >= 48 px) the
    # untouched face reads 130-1448, a 0.5% blur at most 48, the same face 3 stops darker at least 96 (after the
    # contrast stretch). Faces on the ordinary photos read 240-1790.
    blur_max_face_sharpness: float = 60.0
    # dark: luma_mean <= dark_max_luma AND highlight_luma <= dark_max_highlight_luma. -3 stops maps white to 100
    # (means 13-51, highlights 70-100; -4 stops: 49-72); night and low-key pictures are as dark on average
    # (14-50) but keep lamps, windows or a lit face near the top (highlights 172-251; dark ordinary photos such as
    # a night street, an aurora, a flower on black: 169-255). "Nothing in the frame is bright" separates them.
    dark_max_luma: float = 60.0
    dark_max_highlight_luma: float = 120.0
    # overexposed: luma_mean >= overexposed_min_luma AND clipped_highlights >= overexposed_min_clipped_fraction.
    # +2/+3 stops on the normally exposed test photos: means 136-236, 10-66% of the frame clipped (hits 8/11 and
    # 10/11; the misses read mean 136-159). Snow and high-key pictures are as bright (means 170-208) but keep
    # their highlights (< 1% clipped); a snow scene in the corpus with 17% blown snow reads mean 153.
    overexposed_min_luma: float = 160.0
    overexposed_min_clipped_fraction: float = 0.10
    # clipped_highlights: clipped_highlights >= clipped_min_fraction (a fifth of the frame pure white) in a frame
    # that is not overexposed overall, unless unclipped_luma_mean <= clipped_backlit_max_luma: a blown sky behind
    # a dark subject (backlit; the rest of the frame averages 22-59 in the generated backlit pictures) is the
    # scene's dynamic range, not a mistake. Ordinary photos clip 0-17%.
    clipped_min_fraction: float = 0.20
    clipped_backlit_max_luma: float = 80.0
    # overexposed and clipped_highlights are not raised when flat_colour_share >= this: screenshots, logos,
    # charts and scans are white by design. Such graphics in the corpus read 0.47-0.95 (a logo, a banner and a
    # plot read 0.22-0.32 and are still flagged); photos, even 3 stops overexposed, at most 0.32 (grayscale
    # photos 3 stops over: up to 0.35).
    graphic_min_flat_colour_share: float = 0.40
    # noisy: noise_sigma >= this. Ordinary corpus photos read at most 7.9 (a grass texture sample; foliage
    # 6.1-7.1, everything else < 4.5); Gaussian noise of sigma 15 added to a preview reads 8.3-10.8 once it is a
    # WebP, sigma 20 10.2-13.8, sigma 25 11.9-16.9. Visible noise below sigma ~15 is not separable from fine
    # foliage texture by this estimator.
    noise_min_sigma: float = 8.1
    # low_information: detail <= low_info_max_detail OR entropy_bits <= low_info_max_entropy_bits. Blank frames,
    # lens caps, a white wall and pocket shots have no edge anywhere (detail 0; a flash shot of a bare wall in the
    # corpus 0.007); a clear sky over a horizon keeps 17-33% of its tiles, a painted sky over a field 8%, a
    # colour wheel 3.3%. The entropy test catches a flat colour with a small caption (0.16 bits).
    low_info_max_detail: float = 0.02
    low_info_max_entropy_bits: float = 1.0
    # overexposed also when a low_information frame averages at least this luma: a nearly white frame (a photo of
    # the sky through fog, a flash into a white wall, a blown-out frame) is both, as cleanvision reports it; the
    # flat-colour guard for white graphics does not apply to a frame with nothing else in it. Generated white
    # frames read 250-255; the brightest ordinary corpus photo reads 231 and has detail (not low_information).
    white_frame_min_luma: float = 245.0
    # low_resolution: megapixels <= this: 800x600 (0.48 MP) and smaller; 1024x768 (0.79 MP) is not flagged.
    low_resolution_max_megapixels: float = 0.5
    # odd_aspect_ratio: aspect_ratio >= this. 16:9 (1.78), 2:1 and 21:9 phone formats (2.33) pass; 3:1 panoramas,
    # strips and banners are flagged.
    odd_aspect_min_ratio: float = 2.5
    # grayscale: saturation (95th percentile chroma / 255) <= this. Grayscale stored as RGB reads 0; the least
    # colourful colour pictures in the corpus (a pencil drawing, a grey wall, a screenshot) 0.043-0.063.
    grayscale_max_saturation: float = 0.03
    # video low_resolution: short side <= this many pixels (360p and smaller).
    video_low_resolution_max_px: int = 360
    # video low_bitrate: bits per pixel per frame <= this, i.e. a floor that scales with resolution and frame
    # rate: 1.2 Mbit/s at 1080p30, 550 kbit/s at 720p30, 250 kbit/s at 480p30 (visibly starved for H.264,
    # borderline for HEVC). The corpus's real clips read 0.05-0.31 (phone video 0.1-0.3); a truncated 1080p
    # test stream reads 0.001.
    video_low_bitrate_max_bits_per_pixel: float = 0.02

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> "QualityThresholds":
        """The defaults with a library's overrides (``quality_thresholds`` in settings.json) applied; an unknown
        name is refused with the list of known ones."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(overrides or {}) - set(known)
        if unknown:
            raise ValueError(f"unknown quality thresholds {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: type(known[k].default)(v) for k, v in (overrides or {}).items()})


# ------------------------------------------------------------------------------------------------- images

def measure_image(rgb: np.ndarray, *, width_px: int, height_px: int,
                  face_boxes: list[tuple[int, int, int, int]] | None = None) -> dict[str, float]:
    """Measurements of one picture (see the module docstring for each key).

    rgb: the preview as uint8 HxWx3 (HxW and HxWx4 are accepted); width_px/height_px: the original's pixel size;
    face_boxes: (x, y, w, h) in preview pixels."""
    import cv2

    rgb = _as_rgb(rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = min(1.0, WORK_PX / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        work = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    else:
        work = gray

    m: dict[str, float] = {}
    hist = cv2.calcHist([work], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    n = hist.sum()
    cdf = np.cumsum(hist) / n
    m["luma_mean"] = float((hist * np.arange(256)).sum() / n)
    m["highlight_luma"] = float(min(255, np.searchsorted(cdf, 0.999)))
    m["clipped_highlights"] = float(hist[250:].sum() / n)
    unclipped = hist[:250].sum()
    m["unclipped_luma_mean"] = float((hist[:250] * np.arange(250)).sum() / unclipped) if unclipped else 255.0
    m["clipped_shadows"] = float(hist[:6].sum() / n)

    workf = work.astype(np.float32)
    lap = cv2.Laplacian(workf, cv2.CV_32F)
    tile_energy = _tile_reduce(lap * lap, TILE_PX, np.mean)
    m["sharpness_image"] = float(np.percentile(tile_energy, SHARP_TILE_PERCENTILE)) if tile_energy.size \
        else float(lap.var())
    faces = _face_sharpness(gray, face_boxes or [])
    m["sharpness_faces"] = max(faces) if faces else -1.0
    m["faces_measured"] = float(len(faces))
    m["sharpness"] = m["sharpness_faces"] if faces else m["sharpness_image"]
    m["sharpness_directional"] = _directional_sharpness(workf) if max(h, w) >= WORK_PX else -1.0

    smooth = cv2.GaussianBlur(workf, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    grad = cv2.magnitude(gx, gy)
    tile_grad = _tile_reduce(grad, TILE_PX, np.max)
    m["detail"] = float((tile_grad > DETAIL_GRADIENT).mean()) if tile_grad.size \
        else float((grad > DETAIL_GRADIENT).mean())
    hs = np.bincount(np.clip(np.rint(smooth), 0, 255).astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    p = hs[hs > 0] / hs.sum()
    m["entropy_bits"] = float(max(0.0, -(p * np.log2(p)).sum()))

    m["noise_sigma"] = _noise_sigma(gray)

    # colour statistics from a ~100k pixel sample (every step-th row and column): plenty for a percentile
    step = max(1, int(math.sqrt(h * w / 100_000)))
    sub = np.ascontiguousarray(rgb[::step, ::step]) if step > 1 else rgb
    r, g, b = cv2.split(sub)
    chroma = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    ch = cv2.calcHist([chroma], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    m["saturation"] = float(np.searchsorted(np.cumsum(ch) / ch.sum(), 0.95) / 255.0)
    m["saturation_mean"] = float((ch * np.arange(256)).sum() / ch.sum() / 255.0)
    m["flat_colour_share"] = _flat_colour_share(sub[::2, ::2], gray[::step, ::step][::2, ::2])

    W, H = max(1, int(width_px)), max(1, int(height_px))
    m["megapixels"] = W * H / 1e6
    m["aspect_ratio"] = max(W, H) / min(W, H)
    return m


def flags_for(measures: dict[str, float], thresholds: QualityThresholds | None = None) -> list[str]:
    """Named flags (in FLAG_NAMES order) for measurements from ``measure_image``."""
    t = thresholds or QualityThresholds()
    m = measures
    out: list[str] = []
    low_info = (m["detail"] <= t.low_info_max_detail or m["entropy_bits"] <= t.low_info_max_entropy_bits)
    # Sharpness means nothing on a frame without a single edge: a blank frame is low_information, not blurry.
    if not low_info:
        limit = t.blur_max_face_sharpness if m.get("faces_measured", 0) > 0 else t.blur_max_sharpness
        directional = m.get("sharpness_directional", -1.0)
        motion = (m.get("faces_measured", 0) == 0 and directional >= 0
                  and directional <= t.motion_blur_max_directional)
        if m["sharpness"] <= limit or motion:
            out.append("blurry")
    if m["luma_mean"] <= t.dark_max_luma and m["highlight_luma"] <= t.dark_max_highlight_luma:
        out.append("dark")
    # Graphics, screenshots and documents are white by design: no exposure verdict on their white areas.
    graphic = m["flat_colour_share"] >= t.graphic_min_flat_colour_share
    overexposed = (not graphic and m["luma_mean"] >= t.overexposed_min_luma
                   and m["clipped_highlights"] >= t.overexposed_min_clipped_fraction)
    overexposed |= low_info and m["luma_mean"] >= t.white_frame_min_luma  # a nearly white, empty frame
    if overexposed:
        out.append("overexposed")
    if (not graphic and not overexposed and m["clipped_highlights"] >= t.clipped_min_fraction
            and m["unclipped_luma_mean"] > t.clipped_backlit_max_luma):
        out.append("clipped_highlights")
    if m["noise_sigma"] >= t.noise_min_sigma:
        out.append("noisy")
    if low_info:
        out.append("low_information")
    if m["megapixels"] <= t.low_resolution_max_megapixels:
        out.append("low_resolution")
    if m["aspect_ratio"] >= t.odd_aspect_min_ratio:
        out.append("odd_aspect_ratio")
    if m["saturation"] <= t.grayscale_max_saturation:
        out.append("grayscale")
    return out


# Share of the score a flag takes away (multiplicative). Grayscale is a choice, not a defect; an odd aspect ratio
# is mostly a panorama. Blank frames are the least useful pictures in a library.
FLAG_PENALTY = {"low_information": 0.85, "blurry": 0.5, "dark": 0.4, "overexposed": 0.4, "noisy": 0.3,
                "clipped_highlights": 0.15, "low_resolution": 0.25, "odd_aspect_ratio": 0.05, "grayscale": 0.0}
# Reference points of the continuous part (fixed, independent of the thresholds).
SCORE_SHARP_SOFT, SCORE_SHARP_CRISP = 80.0, 2000.0     # image sharpness: 0 at/below soft, 1 at/above crisp
SCORE_FACE_SOFT, SCORE_FACE_CRISP = 60.0, 600.0        # the same for face sharpness
SCORE_NOISE_CLEAN, SCORE_NOISE_BAD = 1.0, 10.0         # noise_sigma: 1 at/below clean, 0 at/above bad
SCORE_MP_LOW, SCORE_MP_FULL = 0.1, 2.0                 # megapixels: 0 at/below low, 1 at/above full


def score(measures: dict[str, float], flags: list[str]) -> float:
    """0..100. ``(70 + 30 * c) * prod(1 - FLAG_PENALTY[f] for f in flags)`` where c in 0..1 is
    0.4 * sharpness + 0.3 * (1 - noise) + 0.3 * resolution, each a clipped log/linear ramp between the fixed
    reference points above. A clean, sharp, >= 2 MP picture scores 100; each flag multiplies the score down, so
    adding a flag never raises it, and with the same flags more sharpness, less noise or more pixels never
    lower it."""
    m = measures
    if m.get("faces_measured", 0) > 0:
        q_sharp = _log_ramp(m["sharpness"], SCORE_FACE_SOFT, SCORE_FACE_CRISP)
    else:
        q_sharp = _log_ramp(m["sharpness"], SCORE_SHARP_SOFT, SCORE_SHARP_CRISP)
    q_noise = 1.0 - min(1.0, max(0.0, (m["noise_sigma"] - SCORE_NOISE_CLEAN) / (SCORE_NOISE_BAD - SCORE_NOISE_CLEAN)))
    q_res = _log_ramp(m["megapixels"], SCORE_MP_LOW, SCORE_MP_FULL)
    s = 70.0 + 30.0 * (0.4 * q_sharp + 0.3 * q_noise + 0.3 * q_res)
    for f in set(flags):
        s *= 1.0 - FLAG_PENALTY.get(f, 0.0)
    return float(round(min(100.0, max(0.0, s)), 2))


# ------------------------------------------------------------------------------------------------- videos

def measure_video(width_px: int | None, height_px: int | None, duration_s: float | None, size_bytes: int | None,
                  fps: float | None) -> dict[str, float]:
    """Container-level measurements of a video. Keys that cannot be computed (unknown size or duration) are left
    out. bitrate_kbps is the whole file's (audio included) over its duration; bits_per_pixel is that bitrate per
    pixel per frame (fps defaults to 30 when unknown). Shakiness is not measured: it needs decoded frames and
    motion estimation, which this container-level function does not have."""
    m: dict[str, float] = {}
    if width_px and height_px and width_px > 0 and height_px > 0:
        m["short_side_px"] = float(min(width_px, height_px))
        m["long_side_px"] = float(max(width_px, height_px))
        m["megapixels"] = width_px * height_px / 1e6
    if fps and fps > 0 and math.isfinite(fps):
        m["fps"] = float(fps)
    if duration_s and duration_s > 0 and size_bytes and size_bytes > 0:
        m["duration_s"] = float(duration_s)
        m["bitrate_kbps"] = size_bytes * 8.0 / duration_s / 1000.0
        if "megapixels" in m:
            rate = m.get("fps", VIDEO_DEFAULT_FPS)
            m["bits_per_pixel"] = m["bitrate_kbps"] * 1000.0 / (m["megapixels"] * 1e6 * rate)
    return m


def video_flags(measures: dict[str, float], thresholds: QualityThresholds | None = None) -> list[str]:
    """low_resolution and low_bitrate (in VIDEO_FLAG_NAMES order) for measurements from ``measure_video``."""
    t = thresholds or QualityThresholds()
    out = []
    if "short_side_px" in measures and measures["short_side_px"] <= t.video_low_resolution_max_px:
        out.append("low_resolution")
    if "bits_per_pixel" in measures and measures["bits_per_pixel"] <= t.video_low_bitrate_max_bits_per_pixel:
        out.append("low_bitrate")
    return out


def video_score(measures: dict[str, float], flags: list[str]) -> float:
    """0..100 for a video: ``(70 + 30 * r) * prod(1 - penalty)`` where r ramps (log) from 0 at a 240 px short side
    to 1 at 1080 px (unknown size counts as 1080) and the penalties are low_resolution 0.25, low_bitrate 0.3."""
    q_res = _log_ramp(measures.get("short_side_px", 1080.0), 240.0, 1080.0)
    s = 70.0 + 30.0 * q_res
    for f in set(flags):
        s *= 1.0 - {"low_resolution": 0.25, "low_bitrate": 0.3}.get(f, 0.0)
    return float(round(s, 2))


# ------------------------------------------------------------------------------------------------- helpers

def _as_rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] > 3:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def _tile_reduce(x: np.ndarray, t: int, fn) -> np.ndarray:  # noqa: ANN001 (np.mean / np.max)
    """fn over each full t x t tile, flattened; empty when the image is smaller than one tile."""
    th, tw = x.shape[0] // t, x.shape[1] // t
    if th == 0 or tw == 0:
        return np.empty(0, np.float32)
    return fn(fn(x[:th * t, :tw * t].reshape(th, t, tw, t), axis=3), axis=1).ravel()


DIRECTIONS = 8            # directions (0, 22.5, ... 157.5 degrees) of the directional sharpness
DIRECTIONAL_PERCENTILE = 90
DIRECTIONAL_TEXTURED = 0.5  # share of the tiles (most gradient energy first) the directional sharpness reads
DIRECTIONAL_MIN_GRADIENT = 4.0  # mean squared gradient (levels^2/px^2) below which a tile is flat


def _directional_sharpness(work: np.ndarray) -> float:
    """Weakest-direction bandwidth (see ``sharpness_directional`` in the module docstring) of a float32 grey image.
    Tile means of the products of first and second derivatives give each direction's energies in closed form
    (D_t = c*Ix + s*Iy, D2_t = c^2*Ixx + 2cs*Ixy + s^2*Iyy), so 8 directions cost 9 tile reductions."""
    import cv2

    gx = cv2.Sobel(work, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(work, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    ixx = cv2.Sobel(work, cv2.CV_32F, 2, 0, ksize=3) / 4.0
    iyy = cv2.Sobel(work, cv2.CV_32F, 0, 2, ksize=3) / 4.0
    ixy = cv2.Sobel(work, cv2.CV_32F, 1, 1, ksize=3) / 4.0
    t = {k: _tile_reduce(v, TILE_PX, np.mean).astype(np.float64) for k, v in (
        ("xx", gx * gx), ("yy", gy * gy), ("xy", gx * gy), ("aa", ixx * ixx), ("bb", iyy * iyy),
        ("cc", ixy * ixy), ("ab", ixx * iyy), ("ac", ixx * ixy), ("bc", iyy * ixy))}
    if t["xx"].size == 0:
        return -1.0
    e1, e2 = [], []
    for theta in np.arange(DIRECTIONS) * (np.pi / DIRECTIONS):
        c, s = math.cos(theta), math.sin(theta)
        a1, a2, a3 = c * c, 2 * c * s, s * s
        e1.append(c * c * t["xx"] + s * s * t["yy"] + 2 * c * s * t["xy"])
        e2.append(a1 * a1 * t["aa"] + a3 * a3 * t["bb"] + a2 * a2 * t["cc"] + 2 * a1 * a3 * t["ab"]
                  + 2 * a1 * a2 * t["ac"] + 2 * a2 * a3 * t["bc"])
    e1a, e2a = np.asarray(e1), np.asarray(e2)
    weakest = (e2a / (e1a + 1.0)).min(axis=0)
    strength = e1a.max(axis=0)
    textured = strength >= max(float(np.percentile(strength, 100 * (1 - DIRECTIONAL_TEXTURED))),
                               DIRECTIONAL_MIN_GRADIENT)
    if not textured.any():
        return -1.0
    return float(np.percentile(weakest[textured], DIRECTIONAL_PERCENTILE))


def _face_sharpness(gray: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> list[float]:
    import cv2

    out = []
    H, W = gray.shape
    for box in boxes:
        x, y, bw, bh = (int(round(v)) for v in box)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + bw), min(H, y + bh)
        if min(x1 - x0, y1 - y0) < FACE_MIN_PX:
            continue
        crop = cv2.resize(gray[y0:y1, x0:x1], (FACE_PX, FACE_PX), interpolation=cv2.INTER_AREA).astype(np.float32)
        sd = float(crop.std())
        if sd < FACE_MIN_STD:
            crop = (crop - crop.mean()) * (FACE_MIN_STD / max(sd, 1e-3))
        out.append(float(cv2.Laplacian(crop, cv2.CV_32F).var()))
    return out


def _flat_colour_share(rgb: np.ndarray, gray: np.ndarray) -> float:
    """Share of the not-clipped pixels taken by the 8 most frequent exact colours (on a pixel sample)."""
    px = rgb[gray < 250].astype(np.uint32)
    if len(px) < 64:
        return 1.0
    codes = np.sort((px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2])
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    counts = np.diff(np.r_[starts, len(codes)])
    return float(np.sort(counts)[-8:].sum() / len(codes))


def _noise_sigma(gray: np.ndarray) -> float:
    """PCA noise estimate over the flattest patches (see the module docstring), in 8-bit levels."""
    import cv2
    from numpy.lib.stride_tricks import as_strided

    p, q = NOISE_PATCH_PX, NOISE_PATCH_PX // 2          # p x p patches on a stride-q grid (half overlapping)
    bh, bw = gray.shape[0] // q, gray.shape[1] // q
    if bh < 5 or bw < 5:
        return 0.0
    g = np.ascontiguousarray(gray[:bh * q, :bw * q], dtype=np.float32)
    # q x q block means (area averaging over whole blocks is exact), then 2x2 of them = one p x p patch
    b1 = cv2.resize(g, (bw, bh), interpolation=cv2.INTER_AREA)
    b2 = cv2.resize(g * g, (bw, bh), interpolation=cv2.INTER_AREA)
    mu = (b1[:-1, :-1] + b1[1:, :-1] + b1[:-1, 1:] + b1[1:, 1:]) / 4
    var = (b2[:-1, :-1] + b2[1:, :-1] + b2[:-1, 1:] + b2[1:, 1:]) / 4 - mu * mu
    ny, nx = mu.shape
    mu, var = mu.ravel(), var.ravel()
    ok = (mu > 16) & (mu < 240)          # clipped areas hide noise
    if ok.sum() < 50:
        ok = np.ones_like(ok)
    idx = np.flatnonzero(ok)
    k = max(min(len(idx), 50), int(len(idx) * NOISE_FLATTEST))
    pick = idx[np.argpartition(var[idx], k - 1)[:k]] if k < len(idx) else idx
    rs, cs = g.strides
    patches = as_strided(g, shape=(ny, nx, p, p), strides=(q * rs, q * cs, rs, cs), writeable=False)
    sel = patches[pick // nx, pick % nx].reshape(len(pick), p * p).astype(np.float64)
    sel -= sel.mean(axis=0)
    cov = sel.T @ sel / len(sel)
    lam = float(np.linalg.eigvalsh(cov)[0])
    return float(math.sqrt(max(lam, 0.0)) / NOISE_CALIBRATION)


def _log_ramp(x: float, lo: float, hi: float) -> float:
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    return math.log(x / lo) / math.log(hi / lo)
