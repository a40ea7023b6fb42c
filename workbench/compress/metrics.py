"""Full-reference image quality metrics for judging lossy encodes (pure functions on PIL images).

Both metrics compare a reference ``a`` with a distorted ``b`` of the same pixel size and work at a bounded
*working size*: when the long side exceeds ``max_side`` (default 1024) both images are box-downscaled to the
same size first. This keeps a target search (several encodes, one metric call each) fast on camera-sized
photos; it is a little kinder to fine-grained artifacts than a full-resolution score.

* ``ssim``: SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1=0.01, K2=0.03) on luma (ITU-R 601
  ``L``), via ``skimage.metrics.structural_similarity``. Range ~[-1, 1]; 1.0 means identical; higher is better.
* ``ssimulacra2``: SSIMULACRA2 (XYB colour space, multi-scale SSIM + edge/blocking terms) from the PyPI package
  ``ssimulacra2`` (a numpy/scipy port of the libjxl tool). 100 means identical, ~90 visually lossless, ~70 high
  quality, ~50 medium, below 30 low; higher is better. ``None`` when the package is not installed.

``METRICS`` maps a metric name to ``Metric(fn, higher_is_better, perfect)``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

DEFAULT_MAX_SIDE = 1024


def _same_size(a: Image.Image, b: Image.Image) -> None:
    if a.size != b.size:
        raise ValueError(f"images differ in size: {a.size} vs {b.size}")


def _working(img: Image.Image, mode: str, max_side: int | None) -> Image.Image:
    """``img`` in ``mode`` (alpha flattened on black by convert), box-downscaled so its long side <= max_side."""
    im = img if img.mode == mode else img.convert(mode)
    if max_side and max(im.size) > max_side:
        scale = max_side / max(im.size)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.BOX)
    return im


def ssim(a: Image.Image, b: Image.Image, *, max_side: int | None = DEFAULT_MAX_SIDE) -> float:
    """Luma SSIM of ``b`` against ``a`` (same size), at long side <= ``max_side``. 1.0 = identical."""
    from skimage.metrics import structural_similarity

    _same_size(a, b)
    x = np.asarray(_working(a, "L", max_side), dtype=np.float64)
    y = np.asarray(_working(b, "L", max_side), dtype=np.float64)
    if min(x.shape) < 7:  # too small for a window: fall back to exact-equality semantics
        return 1.0 if np.array_equal(x, y) else float(1.0 - np.abs(x - y).mean() / 255.0)
    return float(structural_similarity(x, y, data_range=255.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def ssimulacra2_available() -> bool:
    try:
        import ssimulacra2  # noqa: F401
    except ImportError:
        return False
    return True


def ssimulacra2(a: Image.Image, b: Image.Image, *, max_side: int | None = DEFAULT_MAX_SIDE) -> float | None:
    """SSIMULACRA2 score of ``b`` against ``a`` (same size; 100 = identical), or None without the package."""
    try:
        from ssimulacra2 import compute_ssimulacra2
    except ImportError:
        return None
    _same_size(a, b)
    # The package reads its inputs with Image.open: hand it uncompressed in-memory PPMs.
    bufs = []
    for im in (a, b):
        buf = io.BytesIO()
        _working(im, "RGB", max_side).save(buf, "PPM")
        buf.seek(0)
        bufs.append(buf)
    return float(compute_ssimulacra2(bufs[0], bufs[1]))


@dataclass(frozen=True)
class Metric:
    fn: Callable[[Image.Image, Image.Image], float | None]
    higher_is_better: bool
    perfect: float


METRICS: dict[str, Metric] = {"ssim": Metric(ssim, True, 1.0)}
if ssimulacra2_available():
    METRICS["ssimulacra2"] = Metric(ssimulacra2, True, 100.0)


def measure(name: str, a: Image.Image, b: Image.Image) -> float:
    """Run metric ``name`` from ``METRICS`` (KeyError naming the available ones if unknown)."""
    try:
        metric = METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; available: {sorted(METRICS)}") from None
    value = metric.fn(a, b)
    if value is None:
        raise RuntimeError(f"metric {name!r} is unavailable")
    return float(value)
