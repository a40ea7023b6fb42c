"""Perceptual fingerprints for "same picture" duplicates: three 64-bit imagehash hashes of 40 views of a picture.

``fingerprint(img)`` takes an upright image (the stage should pass the 256 px thumbnail: every view is shrunk to
64 px anyway; the 1440 px preview measured the same recall and precision at 19 ms instead of 10-14 ms per
fingerprint, plus a far bigger decode; see benchmarks/duplicates_eval.py) and returns plain Python ints::

    {"phash": [40 x uint64], "dhash": [40 x uint64], "ahash": [40 x uint64], "detail": int, "colour": int}

Views (``VIEWS[v] = (crop box, transform)``; the box is the fraction cut off the left, top, right, bottom):

* 0..23: ``v = 8 * c + g``: centre crop ``CENTRE_CROPS[c]`` (0, 5 %, 10 % off every side), then dihedral
  transform ``DIHEDRAL[g]`` (identity, ROTATE_90, ROTATE_180, ROTATE_270, FLIP_LEFT_RIGHT, FLIP_TOP_BOTTOM,
  TRANSPOSE, TRANSVERSE, as in Pillow). View 0 is the picture itself.
* 24..39: off-centre crops, picture not rotated: 10 % off two adjacent sides (the four corners kept: left+top,
  top+right, right+bottom, bottom+left), 10 % off one side (left, top, right, bottom), then the same eight at 5 %.

A copy that was rotated or mirrored (any of the 8) and/or centre-cropped by 0..~12 % per side, or cropped
off-centre by up to ~10 % (not rotated), has a view-0 hash close to one of the original's views. So the search is a
*star*: view 0 of one image against all views of the other, in both directions (``candidates.near_pairs`` on a
``[n, 40]`` array). No canonical orientation is guessed, so nothing is lost on symmetric or ambiguous pictures.
Cost: 3 x 40 x 8 = 960 bytes per image (a 256 px WebP thumbnail is ~10 KiB); 10-14 ms per thumbnail.

Which hash catches what (benchmarks/duplicates_eval.py: 131 corpus pictures and 11 generated copies of each;
per-hash star distances over the centre views; "random" = 0.1st percentile over pairs of different pictures):

* ``phash`` (DCT of 32 x 32 grey, 8 x 8 low frequencies above their median): survives resizing, JPEG/WebP
  recompression, brightness and colour-profile changes (copies: mean 0.6 bits, p95 2) and is the most
  discriminating between unrelated photos (random: 14); but it barely sees a small shift of the scene (the
  skimage stereo pair motorcycle_left/right: 4). Exactly half the bits are set (median), so distances are even.
* ``dhash`` (signs of horizontal gradients on 9 x 8 grey): as stable on copies (mean 0.6, p95 2), follows edges,
  so it does see the shift (stereo pair: 10); random: 9.
* ``ahash`` (8 x 8 grey above its mean): the most stable on copies (mean 0.3, p95 1) and sees the shift (11), but
  coarse: unrelated photos with the same light/dark layout collide (random: 5).
* Rotations and mirrors: the dihedral views. Crops: the crop views (translation is what hurts all three hashes:
  a 2.5 % shift costs about as much as a 20 % brightness change).
* Decision: a pair is the same picture when the *sum* of its phash, dhash and ahash distances at the same view
  pairing is at most ``SAME_PICTURE_MAX_BITS`` (of 192) over the centre views, or ``OFF_CENTRE_MAX_BITS`` when it
  takes an off-centre view (a camera shift looks like an off-centre crop, so that route must be near-exact).
  True copies measure 0-18 (median 1, p99 16); the stereo pair 24 (16 through off-centre views); unrelated photos
  from ~30. phash alone cannot keep both recall and precision at any radius (benchmark sweep). The candidate
  search runs per hash type at ``CANDIDATE_BITS`` and unions the results (measured: >99.9 % of true pairs have
  one hash within 3 bits).
* Flat pictures (``detail``, the largest standard deviation of the R, G, B channels at 64 px, below
  ``MIN_DETAIL``): hashes of a flat picture are encoder noise (a navy and a purple square hash alike), so they are
  never paired through hashes; two flat pictures are the same picture when their mean ``colour`` (0xRRGGBB)
  agrees within ``FLAT_ABS`` + ``FLAT_REL`` x value per channel (``flat_colours_match``).
* Not caught here: crops beyond ~12 % per side, off-centre crops combined with a rotation, rotation by other
  angles (``rotation`` catches those: keypoints checked geometrically), letterboxing/padding, overlays and heavy
  edits.

Transparent pixels are composited onto black first (what dropping alpha gives for most files, e.g. a PNG re-saved
as JPEG), so the hidden colour under alpha = 0, which WebP thumbnails do not keep, cannot change the hashes.

Storage: hashes are uint64; Arrow columns are int64 with the same bits (two's complement): ``to_int64`` /
``from_int64`` for one value, ``as_uint64_array`` for a whole column (nested lists, or an int64 numpy array from
``pa.FixedSizeListArray.flatten().to_numpy().reshape(-1, N_VIEWS)``). Suggested schema: ``phash``, ``dhash``,
``ahash``: ``pa.list_(pa.int64(), 40)``; ``detail``: ``pa.int16()``; ``colour``: ``pa.int32()``.
View 0 of each hash equals ``int(str(imagehash.<hash>(img)), 16)`` up to the 64 px intermediate resize.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
from PIL import Image

HASH_TYPES: tuple[str, ...] = ("phash", "dhash", "ahash")
CENTRE_CROPS: tuple[float, ...] = (0.0, 0.05, 0.10)
DIHEDRAL: tuple[Image.Transpose | None, ...] = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)
_OFF_CENTRE_SIDES = ((1, 1, 0, 0), (0, 1, 1, 0), (0, 0, 1, 1), (1, 0, 0, 1),  # corners kept: cut 2 sides
                     (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1))  # cut 1 side
Box = tuple[float, float, float, float]
VIEWS: tuple[tuple[Box, Image.Transpose | None], ...] = (
    tuple(((c, c, c, c), op) for c in CENTRE_CROPS for op in DIHEDRAL)
    + tuple(((f * lf, f * tp, f * rt, f * bt), None) for f in (0.10, 0.05) for lf, tp, rt, bt in _OFF_CENTRE_SIDES)
)
N_VIEWS = len(VIEWS)  # 40
N_CENTRE_VIEWS = len(CENTRE_CROPS) * len(DIHEDRAL)  # 24: views 0..23
WORK_PX = 64  # each crop is squeezed to this square once; the hashes shrink it further (32, 9x8, 8x8)

# Chosen with benchmarks/duplicates_eval.py (see its docstring for the table).
SAME_PICTURE_MAX_BITS = 20  # max sum of phash + dhash + ahash distances (of 192), best centre-view pairing
OFF_CENTRE_MAX_BITS = 6  # the same through an off-centre crop view: stricter (a shift is also a burst)
CANDIDATE_BITS = 3  # per-hash-type radius of the candidate search (union over the three types)
MIN_DETAIL = 2  # detail below this: flat picture, hashes are noise; compared by mean colour instead
# Two flat pictures are the same picture when every channel of their mean colours differs by at most
# FLAT_ABS + FLAT_REL x the larger value (a +10 % brightness edit scales colours by 1.1; recompression moves a few
# levels). Candidates come from near_pairs on thermometer codes (steps of FLAT_COLOUR_STEP grey levels) at
# FLAT_CANDIDATE_LEVELS, which covers every pair the rule can accept.
FLAT_ABS = 6
FLAT_REL = 0.12
FLAT_COLOUR_STEP = 12  # 22 levels 0..21 per channel -> 21 bits x 3 channels = 63 bits
FLAT_CANDIDATE_LEVELS = 12

_MASK64 = (1 << 64) - 1
_SIGN = 1 << 63
_BLACK = (0, 0, 0, 255)


def fingerprint(img: Image.Image) -> dict[str, int | list[int]]:
    """Hashes of the ``N_VIEWS`` views of an upright picture, its ``detail`` and mean ``colour`` (see the module
    docstring). ``img`` is any Pillow image (RGB, RGBA, L, P, ...); alpha is composited onto black."""
    import imagehash

    rgb = _rgb(img)
    grey = rgb.convert("L")
    px = np.asarray(rgb.resize((WORK_PX, WORK_PX), Image.Resampling.LANCZOS, reducing_gap=3.0),
                    dtype=np.float32).reshape(-1, 3)
    detail = int(round(float(px.std(axis=0).max())))
    red, green, blue = (min(255, max(0, int(round(float(v))))) for v in px.mean(axis=0))
    out: dict[str, list[int]] = {name: [] for name in HASH_TYPES}
    small: dict[Box, Image.Image] = {}
    for box, op in VIEWS:
        if box not in small:
            small[box] = _crop(grey, box).resize((WORK_PX, WORK_PX), Image.Resampling.LANCZOS, reducing_gap=3.0)
        view = small[box] if op is None else small[box].transpose(op)
        out["phash"].append(_bits(imagehash.phash(view)))
        out["dhash"].append(_bits(imagehash.dhash(view)))
        out["ahash"].append(_bits(imagehash.average_hash(view)))
    result: dict[str, int | list[int]] = dict(out)
    result["detail"] = detail
    result["colour"] = (red << 16) | (green << 8) | blue
    return result


def to_int64(value: int) -> int:
    """uint64 (Python int 0..2**64-1) -> the int64 with the same bits, for Arrow int64 columns."""
    value &= _MASK64
    return value - (1 << 64) if value & _SIGN else value


def from_int64(value: int) -> int:
    """int64 (or already unsigned) -> the uint64 Python int with the same bits."""
    return int(value) & _MASK64


def as_uint64_array(values: Iterable) -> np.ndarray:
    """Hashes as stored (nested lists of int64 or uint64 Python ints, or an int64/uint64 numpy array) -> a
    ``uint64`` numpy array of the same shape, bits unchanged. Use it to feed ``candidates.near_pairs``."""
    if isinstance(values, np.ndarray):
        if values.dtype == np.uint64:
            return values
        if values.dtype == np.int64:
            return values.view(np.uint64)
        raise TypeError(f"expected int64 or uint64, got {values.dtype}")
    arr = np.asarray(values, dtype=object)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.uint64)
    flat = [int(v) & _MASK64 for v in arr.reshape(-1)]
    return np.array(flat, dtype=np.uint64).reshape(arr.shape)


def colour_code(colour: np.ndarray | Iterable[int]) -> np.ndarray:
    """Packed 0xRRGGBB mean colours -> uint64 thermometer codes: each channel quantised to
    ``round(v / FLAT_COLOUR_STEP)`` (0..21) and written as that many low bits of its own 21-bit field, so the
    Hamming distance of two codes is the L1 distance of the quantised colours."""
    c = np.asarray(colour, dtype=np.int64).reshape(-1)
    width = 255 // FLAT_COLOUR_STEP  # 21 bits per channel
    code = np.zeros(len(c), dtype=np.uint64)
    for k, shift in enumerate((16, 8, 0)):
        q = np.clip(np.rint(((c >> shift) & 0xFF) / FLAT_COLOUR_STEP), 0, width).astype(np.uint64)
        code |= ((np.uint64(1) << q) - np.uint64(1)) << np.uint64(k * width)
    return code


def flat_colours_match(a: np.ndarray | Iterable[int], b: np.ndarray | Iterable[int]) -> np.ndarray:
    """Element-wise: are packed 0xRRGGBB mean colours ``a`` and ``b`` the same flat picture (see FLAT_ABS)?"""
    a = np.asarray(a, dtype=np.int64).reshape(-1)
    b = np.asarray(b, dtype=np.int64).reshape(-1)
    ok = np.ones(len(a), dtype=bool)
    for shift in (16, 8, 0):
        x, y = (a >> shift) & 0xFF, (b >> shift) & 0xFF
        ok &= np.abs(x - y) <= FLAT_ABS + FLAT_REL * np.maximum(x, y)
    return ok


def colour_difference(a: np.ndarray | Iterable[int], b: np.ndarray | Iterable[int]) -> np.ndarray:
    """Element-wise largest per-channel difference (grey levels) of packed 0xRRGGBB colours."""
    a = np.asarray(a, dtype=np.int64).reshape(-1)
    b = np.asarray(b, dtype=np.int64).reshape(-1)
    return np.max([np.abs(((a >> s) & 0xFF) - ((b >> s) & 0xFF)) for s in (16, 8, 0)], axis=0).astype(np.int32)


def _rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB of the picture; transparency composited onto black."""
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, _BLACK), rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def _crop(img: Image.Image, box: Box) -> Image.Image:
    """``img`` without the given fractions of its width/height on the left, top, right, bottom."""
    if not any(box):
        return img
    w, h = img.size
    left, top = int(round(w * box[0])), int(round(h * box[1]))
    right, bottom = w - int(round(w * box[2])), h - int(round(h * box[3]))
    if right - left < 1 or bottom - top < 1:
        return img
    return img.crop((left, top, right, bottom))


def _bits(h) -> int:  # noqa: ANN001 (imagehash.ImageHash)
    """ImageHash (8 x 8 bools, row-major, first bit most significant) -> Python int; equals int(str(h), 16)."""
    return int.from_bytes(np.packbits(np.asarray(h.hash, dtype=bool).reshape(-1)).tobytes(), "big")
