"""Lossless recompression of images, as pure ``bytes -> bytes`` functions, each result verified before it counts.

Why: an archive may only replace a file by a smaller one if nothing is lost. So every candidate is decoded again
and compared with the original (JPEG -> JPEG XL: byte-identical after reconstruction; everything else: identical
decoded pixels *and* the original's EXIF / ICC / XMP still present), and :func:`best_lossless` never chooses an
unverified candidate; if nothing smaller verifies, the answer is ``codec="original"``.

Backends (investigated for issue 6):

* JPEG -> JPEG XL with reconstruction data: ``imagecodecs.jpegxl_encode_jpeg`` / ``jpegxl_decode_jpeg`` (libjxl
  0.11) is used; ``pillow_jxl.Encoder(...)(jpeg, w, h, jpeg_encode=True)`` and its ``Decoder`` (first result
  ``True`` = reconstructed JPEG) are the fallback. Both are interchangeable (each reconstructs the other's files).
* Pixel JPEG XL lossless: ``pillow_jxl`` (carries EXIF and XMP boxes, *not* an ICC profile) for Pillow modes
  L/LA/RGB/RGBA/I;16; ``imagecodecs.jpegxl_encode`` for >8-bit multi-channel arrays (carries no metadata).
* PNG: Pillow ``optimize=True, compress_level=9`` (eXIf, iCCP, iTXt XMP) then ``oxipng`` (pyoxipng) which keeps
  all chunks; for PNG input oxipng also recompresses the original file itself (exact, every chunk kept, 16-bit).
* WebP lossless: Pillow (``lossless=True, method=6, exact=True``; EXIF, ICC and XMP chunks); 8-bit RGB(A) only.

Metadata per target: PNG keeps EXIF/ICC/XMP; WebP keeps EXIF/ICC/XMP; JXL (pixels) keeps EXIF/XMP but not ICC, so
it cannot be chosen for an image with an ICC profile; JXL from JPEG keeps everything (byte-identical JPEG).
TIFF-native tags (including a TIFF's Exif/GPS IFDs) are not transferred: such TIFFs stay ``original``.
"""
from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, PngImagePlugin

try:  # registers the JXL plugin with Pillow and gives the JPEG-reconstruction encoder/decoder
    import pillow_jxl  # noqa: F401
    from pillow_jxl import Decoder as _PJDecoder
    from pillow_jxl import Encoder as _PJEncoder
except ImportError:  # pragma: no cover - optional
    _PJDecoder = _PJEncoder = None  # type: ignore[assignment,misc]

try:
    import imagecodecs as _ic

    _IC_JXL = bool(_ic.JPEGXL.available)
except ImportError:  # pragma: no cover - optional
    _ic = None  # type: ignore[assignment]
    _IC_JXL = False

try:
    import oxipng as _oxipng
except ImportError:  # pragma: no cover - optional
    _oxipng = None  # type: ignore[assignment]

__all__ = [
    "LosslessResult", "LosslessUnavailable", "jpeg_to_jxl", "jxl_to_jpeg", "verify_jpeg_roundtrip",
    "lossless_png", "lossless_webp", "lossless_jxl", "decode_pixels", "pixels_identical", "read_metadata",
    "metadata_preserved", "best_lossless", "backends",
]

ImageInput = bytes | Image.Image


class LosslessUnavailable(RuntimeError):
    """The library needed for this codec is not installed (the message says which)."""


def backends() -> dict[str, str | None]:
    """Which optional libraries are present (version) or missing (None), so callers can say what is missing."""
    import importlib.metadata as md

    out: dict[str, str | None] = {}
    for dist in ("imagecodecs", "pillow-jxl-plugin", "pyoxipng", "pillow"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


# ----------------------------------------------------------------------------------------------- JPEG <-> JXL

def _is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


def jpeg_to_jxl(data: bytes) -> bytes:
    """Transcode a JPEG to JPEG XL losslessly, keeping the reconstruction data (``jbrd``) so the exact original
    JPEG file, markers and metadata included, can be rebuilt by :func:`jxl_to_jpeg`. Typically ~20% smaller."""
    if not _is_jpeg(data):
        raise ValueError("not a JPEG stream")
    if _IC_JXL:
        return bytes(_ic.jpegxl_encode_jpeg(data))
    if _PJEncoder is not None:
        with Image.open(io.BytesIO(data)) as im:
            mode, (w, h) = im.mode, im.size
        return bytes(_PJEncoder(mode=mode, lossless=True)(data, w, h, jpeg_encode=True))
    raise LosslessUnavailable("JPEG->JXL needs imagecodecs (with libjxl) or pillow-jxl-plugin")


def jxl_to_jpeg(data: bytes) -> bytes:
    """Rebuild the original JPEG from a JXL made by :func:`jpeg_to_jxl`; raises ValueError if the JXL carries no
    JPEG reconstruction data (then there is no original JPEG to give back)."""
    if _IC_JXL:
        try:
            return bytes(_ic.jpegxl_decode_jpeg(data))
        except _ic.JpegxlError as exc:
            raise ValueError(f"JXL has no JPEG reconstruction data or is invalid: {exc}") from exc
    if _PJDecoder is not None:
        try:
            reconstructed, _info, out, *_ = _PJDecoder()(data)
        except Exception as exc:  # noqa: BLE001 - the Rust decoder raises plain exceptions
            raise ValueError(f"invalid JXL: {exc}") from exc
        if not reconstructed:
            raise ValueError("JXL has no JPEG reconstruction data")
        return bytes(out)
    raise LosslessUnavailable("JXL->JPEG needs imagecodecs (with libjxl) or pillow-jxl-plugin")


def verify_jpeg_roundtrip(original: bytes, jxl: bytes) -> bool:
    """True only if ``jxl`` rebuilds exactly the bytes of ``original`` (any error counts as a failure)."""
    try:
        return jxl_to_jpeg(jxl) == original
    except Exception:  # noqa: BLE001 - a corrupted candidate must fail verification, not crash
        return False


# ----------------------------------------------------------------------------------------------- decoding

def _open(img: ImageInput) -> Image.Image:
    if isinstance(img, Image.Image):
        return img
    im = Image.open(io.BytesIO(img))
    im.load()
    return im


def _deep_array(data: bytes) -> np.ndarray | None:
    """Pixels with more than 8 bits per sample, via imagecodecs: Pillow silently reduces 16-bit RGB(A) to 8 bits,
    which would make a lossy result look identical."""
    if _ic is None:
        return None
    try:
        arr = np.asarray(_ic.imread(data))
    except Exception:  # noqa: BLE001 - not decodable by imagecodecs: fall back to Pillow
        return None
    if arr.dtype == np.bool_ or arr.dtype.itemsize == 1:
        return None
    return arr


def _canonical(im: Image.Image) -> np.ndarray:
    """Decoded pixels as an H x W x C array with the source precision (palettes expanded, 1-bit as 0/255)."""
    mode = im.mode
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)[..., None]
    elif mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F", "YCbCr", "LAB"):
        im = im.convert("RGBA")
    arr = np.asarray(im)
    return arr[..., None] if arr.ndim == 2 else arr


def decode_pixels(data: bytes) -> np.ndarray:
    """The pixels of an encoded image (first frame) as H x W x C at full precision (16-bit kept)."""
    deep = _deep_array(data)
    if deep is not None:
        return deep[..., None] if deep.ndim == 2 else deep
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _canonical(_open(data))


def _frames(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:  # noqa: BLE001
        return 1


def _expand(a: np.ndarray, channels: int) -> np.ndarray | None:
    """Gray -> RGB by repetition and 'no alpha' -> opaque alpha, so an L PNG equals its RGB WebP exactly."""
    c = a.shape[2]
    opaque = np.iinfo(a.dtype).max if np.issubdtype(a.dtype, np.integer) else 1.0
    if c == channels:
        return a
    if c == 1 and channels in (3, 4):
        a = np.repeat(a, 3, axis=2)
        c = 3
    elif c == 2 and channels == 4:
        a = np.concatenate([np.repeat(a[..., :1], 3, axis=2), a[..., 1:]], axis=2)
        c = 4
    if c == 3 and channels == 4:
        a = np.concatenate([a, np.full(a.shape[:2] + (1,), opaque, a.dtype)], axis=2)
        c = 4
    return a if c == channels else None


def pixels_identical(a: bytes, b: bytes) -> bool:
    """True if both encodings decode to exactly the same samples: same size, same bit depth (16-bit compared at
    16 bits), every channel including alpha. Representation-only differences count as equal: gray stored as
    R=G=B, a palette expanded, a missing alpha channel versus a fully opaque one. Decoding errors -> False."""
    try:
        x, y = decode_pixels(a), decode_pixels(b)
        if _frames(a) != _frames(b):
            return False
    except Exception:  # noqa: BLE001 - undecodable candidate is simply not identical
        return False
    if x.shape[:2] != y.shape[:2] or x.dtype != y.dtype:
        return False
    n = max(x.shape[2], y.shape[2])
    x2, y2 = _expand(x, n), _expand(y, n)
    return x2 is not None and y2 is not None and bool(np.array_equal(x2, y2))


# ----------------------------------------------------------------------------------------------- metadata

def _strip_exif_header(exif: bytes | None) -> bytes | None:
    if not exif:
        return None
    return exif[6:] if exif.startswith(b"Exif\x00\x00") else exif


def _jxl_boxes(data: bytes) -> dict[bytes, bytes]:
    """Top-level ISO-BMFF boxes of a JXL container (the pillow_jxl reader exposes only Exif, not XMP)."""
    boxes: dict[bytes, bytes] = {}
    if data[:12] != b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return boxes
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        head = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            head = 16
        elif size == 0:
            size = len(data) - pos
        if size < head:
            break
        boxes.setdefault(kind, data[pos + head:pos + size])
        pos += size
    return boxes


def read_metadata(data: bytes) -> dict[str, bytes]:
    """EXIF (TIFF block, without the ``Exif\\0\\0`` prefix), ICC profile and XMP packet found in an encoded image."""
    out: dict[str, bytes] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data)) as im:
            info = dict(im.info)
            fmt = im.format
    exif = _strip_exif_header(info.get("exif"))
    icc = info.get("icc_profile")
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if fmt == "JXL":
        boxes = _jxl_boxes(data)
        if b"Exif" in boxes and not exif:
            exif = boxes[b"Exif"][4:]  # 4-byte offset to the TIFF header
        xmp = xmp or boxes.get(b"xml ")
    if exif:
        out["exif"] = exif
    if icc:
        out["icc"] = bytes(icc)
    if xmp:
        out["xmp"] = xmp.encode("utf-8") if isinstance(xmp, str) else bytes(xmp)
    return out


def metadata_preserved(original: bytes, candidate: bytes) -> bool:
    """Every EXIF / ICC / XMP item of ``original`` is in ``candidate`` unchanged (extra items are allowed: a JXL
    decoder may report a synthesised sRGB profile)."""
    try:
        src, dst = read_metadata(original), read_metadata(candidate)
    except Exception:  # noqa: BLE001
        return False
    return all(dst.get(k) == v for k, v in src.items())


def _source_metadata(im: Image.Image) -> dict[str, bytes]:
    """What an encoder should carry over from a decoded source image."""
    md: dict[str, bytes] = {}
    exif = _strip_exif_header(im.info.get("exif"))
    if exif and im.format != "TIFF":
        md["exif"] = b"Exif\x00\x00" + exif
    if im.info.get("icc_profile"):
        md["icc"] = im.info["icc_profile"]
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if xmp:
        md["xmp"] = xmp.encode("utf-8") if isinstance(xmp, str) else bytes(xmp)
    return md


# ----------------------------------------------------------------------------------------------- encoders

def _run_oxipng(png: bytes, level: int = 2) -> bytes:
    if _oxipng is None:
        raise LosslessUnavailable("oxipng optimisation needs the pyoxipng package")
    return bytes(_oxipng.optimize_from_memory(png, level=level))


def lossless_png(img: ImageInput, *, use_oxipng: bool = True, oxipng_level: int = 2) -> bytes:
    """Optimised lossless PNG (Pillow optimize=True, compress_level=9, then oxipng if installed), keeping EXIF
    (eXIf), ICC (iCCP) and XMP (iTXt). 16-bit RGB(A) bytes are encoded from the full-depth array."""
    if isinstance(img, bytes):
        deep = _deep_array(img)
        if deep is not None and deep.ndim == 3 and deep.shape[2] >= 3:
            out = bytes(_ic.png_encode(deep, level=9))  # Pillow cannot hold 16-bit RGB; no metadata carried
            return _run_oxipng(out, oxipng_level) if (use_oxipng and _oxipng) else out
    im = _open(img)
    md = _source_metadata(im)
    if im.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B", "I"):
        im = im.convert("RGBA")
    kw: dict = {"optimize": True, "compress_level": 9}
    if "exif" in md:
        kw["exif"] = md["exif"]
    if "icc" in md:
        kw["icc_profile"] = md["icc"]
    if "xmp" in md:
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", md["xmp"].decode("utf-8", "replace"))
        kw["pnginfo"] = info
    buf = io.BytesIO()
    im.save(buf, format="PNG", **kw)
    out = buf.getvalue()
    if use_oxipng and _oxipng is not None:
        out = _run_oxipng(out, oxipng_level)
    return out


def lossless_webp(img: ImageInput, *, method: int = 4) -> bytes:
    """Lossless WebP (exact=True keeps colour under transparent pixels) with EXIF, ICC and XMP. WebP is 8-bit
    RGB(A) only, so deeper images raise ValueError rather than lose precision."""
    if isinstance(img, bytes) and _deep_array(img) is not None:
        raise ValueError("WebP cannot hold more than 8 bits per sample")
    im = _open(img)
    if im.mode in ("I;16", "I;16B", "I", "F"):
        raise ValueError("WebP cannot hold more than 8 bits per sample")
    md = _source_metadata(im)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    im = im.convert("RGBA" if has_alpha else "RGB")
    kw: dict = {"lossless": True, "quality": 100, "method": method, "exact": True}
    if "exif" in md:
        kw["exif"] = md["exif"]
    if "icc" in md:
        kw["icc_profile"] = md["icc"]
    if "xmp" in md:
        kw["xmp"] = md["xmp"]
    buf = io.BytesIO()
    im.save(buf, format="WEBP", **kw)
    return buf.getvalue()


def lossless_jxl(img: ImageInput, *, effort: int = 7) -> bytes:
    """Lossless (modular) JPEG XL of the pixels, with EXIF and XMP boxes. No ICC profile can be passed to either
    Python binding, so images with an ICC profile will not verify as metadata-preserving."""
    if isinstance(img, bytes):
        deep = _deep_array(img)
        if deep is not None and deep.ndim == 3 and deep.shape[2] >= 3:
            if not _IC_JXL:
                raise LosslessUnavailable("16-bit RGB JPEG XL needs imagecodecs with libjxl")
            return bytes(_ic.jpegxl_encode(deep, lossless=True, effort=effort))
    if _PJEncoder is None:
        raise LosslessUnavailable("lossless JPEG XL needs pillow-jxl-plugin")
    im = _open(img)
    md = _source_metadata(im)
    if im.mode == "I;16B":
        im = im.convert("I;16")
    if im.mode in ("P", "PA", "1"):
        im = im.convert("RGBA" if ("transparency" in im.info or im.mode == "PA") else ("L" if im.mode == "1" else "RGB"))
    elif im.mode not in ("RGB", "RGBA", "L", "LA", "I;16"):
        raise ValueError(f"JPEG XL lossless: unsupported mode {im.mode}")
    enc = _PJEncoder(mode=im.mode, lossless=True, quality=100, effort=effort, use_container=bool(md))
    exif = md.get("exif")
    return bytes(enc(im.tobytes(), im.width, im.height, jpeg_encode=False,
                     exif=exif[6:] if exif else None, xmp=md.get("xmp"), jumb=None, compress=False))


# ----------------------------------------------------------------------------------------------- choice

@dataclass
class LosslessResult:
    """The chosen encoding: ``data`` is the original bytes when ``codec == "original"``."""

    codec: str                     # "jxl-jpeg" | "png" | "webp" | "jxl" | "original"
    data: bytes
    bytes_before: int
    bytes_after: int
    verified: bool
    note: str = ""
    candidates: dict[str, str] = field(default_factory=dict)  # codec -> size / why rejected

    @property
    def savings(self) -> float:
        """Fraction of bytes saved (0 for the original)."""
        return 1.0 - self.bytes_after / self.bytes_before if self.bytes_before else 0.0


# TIFF tags that only describe the pixel storage (or are carried: ICC 34675, XMP 700); any other tag in a TIFF
# (Orientation != 1, Make, DateTime, Exif/GPS IFDs, GeoTIFF keys, ...) would be lost, so such TIFFs stay original.
_TIFF_STRUCTURAL = {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 282, 283, 284, 292, 293,
                    296, 297, 317, 320, 322, 323, 324, 325, 338, 339, 700, 34675}

_PIXEL_MIMES = {"image/png": "PNG", "image/tiff": "TIFF", "image/bmp": "BMP", "image/x-ms-bmp": "BMP"}


def _original(data: bytes, note: str, cands: dict[str, str] | None = None) -> LosslessResult:
    return LosslessResult("original", data, len(data), len(data), True, note, cands or {})


def best_lossless(data: bytes, mime: str) -> LosslessResult:
    """Smallest *verified* lossless re-encoding: JPEG -> JXL with reconstruction (byte-identical check);
    PNG/TIFF/BMP -> smallest of optimised PNG / WebP-lossless / JXL-lossless whose pixels are identical and whose
    metadata is kept. Never returns an unverified candidate; returns ``original`` when nothing smaller verifies."""
    mime = mime.lower().split(";")[0].strip()
    n = len(data)
    if mime in ("image/jpeg", "image/jpg", "image/pjpeg"):
        try:
            jxl = jpeg_to_jxl(data)
        except LosslessUnavailable as exc:
            return _original(data, f"JPEG XL not available: {exc}")
        except Exception as exc:  # noqa: BLE001 - e.g. CMYK/arithmetic/corrupt JPEG that libjxl refuses
            return _original(data, f"JPEG->JXL transcode failed: {exc}", {"jxl-jpeg": f"error: {exc}"})
        if not verify_jpeg_roundtrip(data, jxl):
            return _original(data, "JXL reconstruction was not byte-identical", {"jxl-jpeg": "not verified"})
        if len(jxl) >= n:
            return _original(data, "JXL not smaller than the JPEG", {"jxl-jpeg": str(len(jxl))})
        return LosslessResult("jxl-jpeg", jxl, n, len(jxl), True,
                              "byte-identical JPEG reconstruction (all metadata kept)", {"jxl-jpeg": str(len(jxl))})
    if mime not in _PIXEL_MIMES:
        return _original(data, f"no lossless recompression for {mime}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = _open(data)
            n_frames = int(getattr(im, "n_frames", 1))
    except Exception as exc:  # noqa: BLE001
        return _original(data, f"cannot decode: {exc}")
    if n_frames > 1:
        return _original(data, f"{n_frames} frames: multi-frame images are kept as they are")
    if im.format == "TIFF":
        extra = sorted(t for t in im.tag_v2 if t not in _TIFF_STRUCTURAL)
        if im.tag_v2.get(274, 1) != 1:
            extra.append(274)
        if extra:
            return _original(data, f"TIFF tags {extra} (e.g. Exif/GPS/Geo/Orientation) would not be transferred")
    encoders = {"png": lossless_png, "webp": lossless_webp, "jxl": lossless_jxl}
    cands: dict[str, str] = {}
    if mime == "image/png" and _oxipng is not None:
        encoders = {"png-oxipng": lambda d: _run_oxipng(d, 2), **encoders}
    best: tuple[str, bytes] | None = None
    for name, fn in encoders.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = fn(data)
        except Exception as exc:  # noqa: BLE001 - one codec failing does not stop the others
            cands[name] = f"error: {exc}"
            continue
        if best is not None and len(out) >= len(best[1]):
            cands[name] = f"{len(out)} (not smaller)"
            continue
        if not pixels_identical(data, out):
            cands[name] = f"{len(out)} rejected: pixels differ"
            continue
        if not metadata_preserved(data, out):
            cands[name] = f"{len(out)} rejected: metadata lost"
            continue
        cands[name] = f"{len(out)} verified"
        best = (name, out)
    if best is None or len(best[1]) >= n:
        return _original(data, "no verified candidate smaller than the original", cands)
    codec = "png" if best[0] == "png-oxipng" else best[0]
    return LosslessResult(codec, best[1], n, len(best[1]), True, f"pixels identical, metadata kept ({best[0]})", cands)

