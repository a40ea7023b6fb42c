"""Lossy image encoding (JPEG, WebP, AVIF, HEIC, JPEG XL) at a chosen quality or at a target perceptual quality.

Pure functions: PIL image + metadata bytes in, encoded bytes out; nothing touches the file system.

Orientation rule (one rule, every codec): **the output is stored upright.** ``encode`` applies the EXIF
orientation to the pixels (like ``PIL.ImageOps.exif_transpose``) and writes the EXIF Orientation tag as 1
(patched in place in the TIFF bytes, so maker notes and every other tag keep their offsets; ExifImageWidth/
Height are set to the new size; an XMP ``tiff:Orientation`` is set to 1 too). So ``img`` is expected *as
stored* (as decoded, not yet transposed); the orientation is read from the ``exif`` argument, or from
``img.getexif()`` when ``exif`` is None (so stripping metadata never leaves a sideways picture). An image that
was already transposed by ``exif_transpose`` has no orientation tag left and is not turned again. Why this
rule: AVIF/HEIC carry rotation in container boxes (irot/imir) rather than EXIF and viewers disagree on which
wins; upright pixels display the same everywhere. (The EXIF thumbnail in IFD1, if any, is left as it was.)

Metadata kept per format (verified by reading back in tests/test_compress_lossy.py):

    ======  ==========================  ===  ===
    codec   EXIF (incl. GPS, Orient.)   ICC  XMP
    ======  ==========================  ===  ===
    jpeg    yes (APP1, <= 65 533 B)     yes  yes
    webp    yes                         yes  yes
    avif    yes (bytes verbatim*)       yes  yes
    heic    yes                         yes  yes
    jxl     yes (Exif box)              no   yes
    ======  ==========================  ===  ===

    * Pillow's AVIF writer would move an Orientation tag into irot/imir boxes and re-serialise the EXIF,
      losing maker notes; we hand it the (already upright, Orientation=1) bytes verbatim instead.
    jxl: pillow-jxl-plugin's encoder takes no ICC profile; the file is tagged sRGB by libjxl.

Pixel modes: alpha is kept for webp/avif/heic/jxl (RGBA), flattened for jpeg; L stays L for jpeg/jxl; everything
else is encoded as 8-bit RGB (16-bit/float inputs are reduced to 8 bits by Pillow's convert).
"""
from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass

from PIL import Image

from workbench.compress.metrics import METRICS, measure

CODECS = ("jpeg", "webp", "avif", "heic", "jxl")

# Pillow format name, quality range searched by encode_at_target, extra save options.
_PIL_FORMAT = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF", "heic": "HEIF", "jxl": "JXL"}
QUALITY_RANGE = {"jpeg": (1, 100), "webp": (1, 100), "avif": (1, 100), "heic": (1, 100), "jxl": (1, 100)}
_OPTIONS = {
    "jpeg": {"optimize": True},  # Pillow's default 4:2:0 chroma subsampling
    "webp": {"method": 4},
    "avif": {"speed": 6},
    "heic": {},
    "jxl": {"effort": 7, "lossless_jpeg": False},
}
_ALPHA_OK = {"webp", "avif", "heic", "jxl"}
_GRAY_OK = {"jpeg", "jxl"}

_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003


def _register_plugins(codec: str) -> None:
    if codec == "heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    elif codec == "jxl":
        import pillow_jxl  # noqa: F401  (registers the JXL plugin on import)


def open_image(data: bytes) -> Image.Image:
    """Open encoded bytes of any codec here (registers the HEIF and JXL plugins)."""
    for codec in ("heic", "jxl"):
        _register_plugins(codec)
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def metadata_of(img: Image.Image) -> dict[str, bytes | None]:
    """The ``exif``/``icc``/``xmp`` keyword arguments for ``encode`` taken from an opened image."""
    exif = img.info.get("exif")
    if exif is None:
        e = img.getexif()
        exif = e.tobytes() if len(e) else None
    xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return {"exif": exif or None, "icc": img.info.get("icc_profile") or None, "xmp": xmp or None}


# ---------------------------------------------------------------- EXIF orientation, patched in place

def _tiff_start(exif: bytes) -> int:
    return 6 if exif.startswith(b"Exif\x00\x00") else 0


def _ifd_entries(buf: bytes, base: int, offset: int, endian: str):
    """Yield (entry_pos, tag, type, count) for the IFD at ``offset`` (relative to ``base``)."""
    pos = base + offset
    if pos + 2 > len(buf):
        return
    (n,) = struct.unpack_from(endian + "H", buf, pos)
    for i in range(n):
        e = pos + 2 + 12 * i
        if e + 12 > len(buf):
            return
        tag, typ, count = struct.unpack_from(endian + "HHI", buf, e)
        yield e, tag, typ, count


def _read_orientation(exif: bytes | None) -> int:
    if not exif:
        return 1
    try:
        e = Image.Exif()
        e.load(exif[_tiff_start(exif):])
        value = int(e.get(_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - unreadable EXIF means "no usable orientation"
        return 1
    return value if 1 <= value <= 8 else 1


def _patch_exif(exif: bytes, size: tuple[int, int]) -> bytes:
    """EXIF bytes with Orientation=1 and ExifImageWidth/Height=size, patched in place (offsets unchanged).

    Falls back to a Pillow re-serialisation when the orientation entry is not a plain in-place SHORT."""
    buf = bytearray(exif)
    base = _tiff_start(exif)
    try:
        endian = {b"II": "<", b"MM": ">"}[bytes(buf[base:base + 2])]
        (ifd0,) = struct.unpack_from(endian + "I", buf, base + 4)
        patched = False
        exif_ifd = None
        for e, tag, typ, count in list(_ifd_entries(buf, base, ifd0, endian)):
            if tag == _ORIENTATION and typ == 3 and count == 1:
                struct.pack_into(endian + "H", buf, e + 8, 1)
                patched = True
            elif tag == _EXIF_IFD and typ in (4, 13) and count == 1:
                (exif_ifd,) = struct.unpack_from(endian + "I", buf, e + 8)
        if not patched:
            raise ValueError("no in-place orientation entry")
        if exif_ifd:
            for e, tag, typ, count in list(_ifd_entries(buf, base, exif_ifd, endian)):
                if tag in (_PIXEL_X, _PIXEL_Y) and count == 1:
                    value = size[0] if tag == _PIXEL_X else size[1]
                    if typ == 3 and value < 65536:
                        struct.pack_into(endian + "H", buf, e + 8, value)
                        struct.pack_into(endian + "H", buf, e + 10, 0)
                    elif typ == 4:
                        struct.pack_into(endian + "I", buf, e + 8, value)
        return bytes(buf)
    except (KeyError, ValueError, struct.error):
        e = Image.Exif()
        e.load(exif[base:])
        e[_ORIENTATION] = 1
        return e.tobytes()


_XMP_ORIENT = [
    (re.compile(rb'(tiff:Orientation\s*=\s*["\'])\d(["\'])'), rb"\g<1>1\g<2>"),
    (re.compile(rb"(<tiff:Orientation>)\d(</tiff:Orientation>)"), rb"\g<1>1\g<2>"),
]


def _patch_xmp(xmp: bytes) -> bytes:
    for pattern, repl in _XMP_ORIENT:
        xmp = pattern.sub(repl, xmp)
    return xmp


def upright(img: Image.Image, exif: bytes | None = None) -> Image.Image:
    """``img`` (as stored) with its EXIF orientation applied: orientation from ``exif`` or else from the image."""
    orientation = _read_orientation(exif) if exif is not None else int(img.getexif().get(_ORIENTATION, 1) or 1)
    method = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}.get(orientation)
    return img.transpose(method) if method is not None else img


class _VerbatimExif(Image.Exif):
    """Hands Pillow's AVIF writer our EXIF bytes unchanged: without this it re-serialises any EXIF that has an
    Orientation tag (moving it to irot/imir), which drops maker notes and the thumbnail IFD."""

    def __init__(self, raw: bytes):
        super().__init__()
        self._raw = raw

    def __contains__(self, tag) -> bool:  # "no Orientation tag here" -> Pillow writes tobytes() verbatim
        return False

    def __len__(self) -> int:  # truthy, so the writer does not skip it
        return 1

    def tobytes(self, offset: int = 8) -> bytes:
        return self._raw


def _pixels_for(img: Image.Image, codec: str) -> Image.Image:
    """A metadata-free 8-bit copy of the pixels in a mode the codec encodes."""
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha and codec in _ALPHA_OK:
        mode = "RGBA"
    elif img.mode == "L" and codec in _GRAY_OK:
        mode = "L"
    else:
        mode = "RGB"
    if has_alpha and mode == "RGB":  # flatten on white rather than black
        rgba = img.convert("RGBA")
        out = Image.new("RGB", img.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
    else:
        out = img.convert(mode) if img.mode != mode else img.copy()
    out.info = {}
    return out


def upright_with_exif(img: Image.Image, exif: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Upright pixels and the EXIF to store with them (orientation reset to 1, sizes updated), for writers other
    than ``encode`` (PNG, TIFF, GIF) that follow the same orientation rule."""
    pixels = upright(img, exif)
    if exif and _read_orientation(exif) != 1:
        exif = _patch_exif(exif, pixels.size)
    return pixels, exif


def encode(img: Image.Image, codec: str, quality: int, *, exif: bytes | None, icc: bytes | None,
           xmp: bytes | None = None) -> bytes:
    """Encode ``img`` (pixels as stored) with ``codec`` at ``quality`` (0-100, codec's own scale), upright.

    ``exif``/``icc``/``xmp`` are written where the format holds them (see module table); pass None to omit.
    The orientation in ``exif`` (or in the image when ``exif`` is None) is applied to the pixels and the tag
    written as 1 (module docstring)."""
    if codec not in _PIL_FORMAT:
        raise ValueError(f"unknown codec {codec!r}; one of {CODECS}")
    if not 0 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 0..100, got {quality}")
    _register_plugins(codec)
    pixels = _pixels_for(upright(img, exif), codec)
    params: dict = {"quality": int(quality), **_OPTIONS[codec]}
    if exif:
        exif = _patch_exif(exif, pixels.size) if _read_orientation(exif) != 1 else exif
        raw = exif[_tiff_start(exif):]
        params["exif"] = b"Exif\x00\x00" + raw if codec == "jpeg" else raw
        if codec == "avif":
            params["exif"] = _VerbatimExif(b"Exif\x00\x00" + raw)
    elif codec == "jxl":
        params["exif"] = b""  # the JXL plugin otherwise falls back to img.getexif()
    if icc and codec != "jxl":
        params["icc_profile"] = icc
    if xmp:
        params["xmp"] = _patch_xmp(xmp.encode("utf-8") if isinstance(xmp, str) else xmp)
    buf = io.BytesIO()
    pixels.save(buf, format=_PIL_FORMAT[codec], **params)
    return buf.getvalue()


@dataclass(frozen=True)
class EncodeResult:
    codec: str
    quality: int
    data: bytes
    bytes: int
    metric: str
    value: float
    met: bool = True  # False when even the top of the quality range missed the target
    encodes: int = 1  # how many encodes the search spent


def encode_at_target(img: Image.Image, codec: str, metric: str = "ssim", target: float = 0.98, *,
                     exif: bytes | None = None, icc: bytes | None = None, xmp: bytes | None = None,
                     quality_range: tuple[int, int] | None = None, max_encodes: int = 8) -> EncodeResult:
    """The lowest quality whose decoded result scores >= ``target`` on ``metric`` against the (upright) original.

    Bisection over the codec's quality range (1..100: at most 7 encodes, capped by ``max_encodes``), assuming
    the score grows with quality. When no tried quality meets the target, the best-scoring try is returned
    with ``met=False``. Metadata arguments as for ``encode``."""
    if metric not in METRICS:
        raise KeyError(f"unknown metric {metric!r}; available: {sorted(METRICS)}")
    lo, hi = quality_range or QUALITY_RANGE[codec]
    reference = upright(img, exif).convert("RGB")
    best: EncodeResult | None = None
    fallback: EncodeResult | None = None
    n = 0
    while lo <= hi and n < max_encodes:
        q = (lo + hi) // 2
        data = encode(img, codec, q, exif=exif, icc=icc, xmp=xmp)
        n += 1
        value = measure(metric, reference, open_image(data).convert("RGB"))
        result = EncodeResult(codec, q, data, len(data), metric, value, value >= target, n)
        if value >= target:
            best, hi = result, q - 1
        else:
            if fallback is None or value > fallback.value:
                fallback = result
            lo = q + 1
    if best is None:
        top = (quality_range or QUALITY_RANGE[codec])[1]
        if fallback is None or fallback.quality != top:
            data = encode(img, codec, top, exif=exif, icc=icc, xmp=xmp)
            n += 1
            value = measure(metric, reference, open_image(data).convert("RGB"))
            fallback = EncodeResult(codec, top, data, len(data), metric, value, value >= target, n)
        best = fallback
    return EncodeResult(best.codec, best.quality, best.data, best.bytes, best.metric, best.value, best.met, n)
