"""TIFFs Pillow cannot read (float samples, planar RGB, many-channel scientific files), through tifffile.

Pillow covers the TIFFs cameras and scanners write; microscopy and scientific tools also write float64 or
planar-configured files that Pillow refuses ("cannot identify image file"). tifffile (the reference Python TIFF
reader, already a scikit-image dependency) reads the first page of those; we turn it into an 8-bit image,
upright by the TIFF orientation tag.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from workbench.errors import MediaError

# TIFF Orientation tag value -> the transpose that makes the pixels upright (the EXIF convention).
_ORIENT = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
           4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
           6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE], 8: [Image.Transpose.ROTATE_90]}


def first_page_shape(path: Path) -> tuple[int, int, int]:
    """(upright width, upright height, orientation) of the first page, from the header only."""
    import tifffile
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            h, w = page.imagelength, page.imagewidth
            tag = page.tags.get("Orientation")
            orient = int(tag.value) if tag is not None else 1
    except Exception as e:
        raise MediaError(f"not a readable TIFF: {e}") from None
    return (h, w, orient) if orient in (5, 6, 7, 8) else (w, h, orient)


def read_first_page(path: Path) -> Image.Image:
    """The first page as an upright 8-bit L or RGB image (float and 16-bit data scaled to their range)."""
    import tifffile
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            arr = page.asarray()
            tag = page.tags.get("Orientation")
            orient = int(tag.value) if tag is not None else 1
            planar = page.planarconfig == 2 and arr.ndim == 3
    except Exception as e:
        raise MediaError(f"not a readable TIFF: {e}") from None
    if planar:
        arr = np.moveaxis(arr, 0, -1)  # (samples, h, w) -> (h, w, samples)
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4):
        arr = arr[..., :3] if arr.shape[-1] > 3 else arr[..., :1]
    arr = _to_uint8(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    im = Image.fromarray(arr[..., :3] if arr.ndim == 3 else arr)
    for op in _ORIENT.get(orient, []):
        im = im.transpose(op)
    return im.convert("RGB") if im.mode not in ("L", "RGB") else im


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    a = arr.astype(np.float64)
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if np.issubdtype(arr.dtype, np.integer) and lo >= 0:
        lo, hi = 0.0, float(np.iinfo(arr.dtype).max)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.clip(np.nan_to_num((a - lo) * scale), 0, 255).astype(np.uint8)
