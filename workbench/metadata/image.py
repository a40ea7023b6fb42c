"""Pixel dimensions of a still image from its header, and the orientation rule that makes them upright.

The rule, per family (checked against the corpus, see tests/test_metadata_formats.py):

- **HEIC/HEIF/AVIF** (pillow-heif / libheif): libheif applies the container's ``irot``/``imir`` boxes, so the
  size pillow-heif reports is already upright. pillow-heif then rewrites the EXIF orientation it exposes to 1
  (keeping the old value in ``info['original_orientation']``) so that ``exif_transpose`` cannot rotate twice.
  We therefore do not apply EXIF orientation to HEIF dimensions when the container has a transform;
  ``MediaMetadata.orientation`` still reports
  the EXIF value as stored in the file (read by exifread from the raw EXIF block). Example:
  ``iphone_13_pro_max.heic`` has EXIF orientation 6, stored 4032x3024 and upright 3024x4032; PhotoPrism's
  ``iphone_7.heic`` has EXIF orientation 6 but no ``irot``: it is visibly sideways unless the EXIF value is
  applied, so for such files (container transform absent) we apply it; see ``workbench.formats.heif``.
- **AVIF through Pillow 13's own plugin** (only used when pillow-heif cannot open the file): Pillow reports the
  *stored* size and converts ``irot``/``imir`` into an EXIF orientation (overriding the file's EXIF value), so
  upright = stored size swapped when that orientation is 5..8.
- **JPEG XL**: the codestream header's orientation is what libjxl applies on decode; swap for 5..8.
- **RAW**: LibRaw's ``sizes.flip`` (3=180, 5=90 CCW, 6=90 CW) is applied on output; swap for 5 and 6.
- **Everything Pillow opens** (JPEG, MPO, PNG, WebP, TIFF, GIF, BMP, PSD, PNM...): stored size, swapped when
  the orientation (EXIF, then Pillow's view of EXIF incl. PNG raw profiles, then XMP ``tiff:Orientation``)
  is 5..8, exactly what ``ImageOps.exif_transpose`` will do.

Nothing here decodes pixels: Pillow and pillow-heif open lazily, rawpy only runs LibRaw's ``open_file``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..errors import MediaError
from ..formats.heif import orientation_to_apply
from .jxl import read_jxl_header

HEIF_MIMES = {"image/heic", "image/heif", "image/avif", "image/heic-sequence", "image/heif-sequence",
              "image/avif-sequence"}
JXL_MIMES = {"image/jxl"}


def is_raw_mime(mime: str) -> bool:
    """Camera RAW as the sniffer names it (``RAW_MIMES``): those go to LibRaw, everything else to Pillow."""
    from workbench.formats.sniff import RAW_MIMES
    return mime in RAW_MIMES


def swaps_axes(orientation: int | None) -> bool:
    """Orientations 5..8 turn the image a quarter, so width and height trade places."""
    return orientation is not None and 5 <= orientation <= 8


@dataclass
class ImageProbe:
    """What the container header says: upright size (if already upright) or stored size + pending orientation."""

    width: int | None = None
    height: int | None = None
    upright: bool = False          # True when width/height already account for every rotation
    orientation: int | None = None  # orientation the decoder will apply to a stored size (when not upright)
    xmp: bytes | str | None = None
    exif: bytes | None = None       # raw EXIF block as Pillow found it, a fallback for exifread
    warnings: list[str] = field(default_factory=list)


def _pillow_open(path: Path, mime: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(path)
    except Image.DecompressionBombError:
        # Reading the header allocates nothing; read it unguarded only to say how big the image claims to be.
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(path) as im:
                w, h = im.size
        finally:
            Image.MAX_IMAGE_PIXELS = saved
        raise MediaError(f"decompression bomb: {w}x{h} = {w * h / 1e6:.1f} megapixels exceeds the safe limit "
                         f"(max_image_megapixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise MediaError(f"not a readable {mime} image: {e}") from None
    except Exception as e:  # plugin bugs on hostile input (struct.error, IndexError, ...)
        raise MediaError(f"{mime} header could not be parsed ({type(e).__name__}: {e})") from None


def _pil_orientation(im: Image.Image) -> int | None:
    """Orientation as Pillow sees it (EXIF, PNG raw profiles, AVIF irot/imir); quiet on corrupt EXIF."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            orient = im.getexif().get(274)
    except Exception:
        return None
    return orient if isinstance(orient, int) and 1 <= orient <= 8 else None


def _pil_xmp(im: Image.Image) -> bytes | str | None:
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if xmp is None and getattr(im, "tag_v2", None) is not None:
        xmp = im.tag_v2.get(700)  # TIFF XMP tag
    return xmp


def _exif_orientation_of(exif: bytes | None) -> int | None:
    """The orientation tag of a raw EXIF block (pillow-heif hands it over unparsed)."""
    if not exif:
        return None
    try:
        ex = Image.Exif()
        ex.load(exif)
        return ex.get(274)
    except Exception:
        return None


def probe_heif(path: Path, mime: str) -> ImageProbe:
    """pillow-heif gives the upright size without decoding; fall back to Pillow's native AVIF plugin."""
    try:
        import pillow_heif

        hf = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
        w, h = hf.size
        pending = orientation_to_apply(hf[hf.primary_index], _exif_orientation_of(hf.info.get("exif")))
        if swaps_axes(pending):
            w, h = h, w
        return ImageProbe(width=w, height=h, upright=True, xmp=hf.info.get("xmp"))
    except Exception as heif_error:
        if mime != "image/avif":
            raise MediaError(f"not a readable HEIF image: {heif_error}") from None
    im = _pillow_open(path, mime)
    with im:
        orient = _pil_orientation(im)
        return ImageProbe(width=im.width, height=im.height, orientation=orient, xmp=_pil_xmp(im))


def probe_jxl(path: Path, mime: str) -> ImageProbe:
    """Header parse first; the plugin (which decodes) only when the header is unreadable."""
    head = read_jxl_header(path)
    if head:
        w, h, orient = head
        return ImageProbe(width=h if swaps_axes(orient) else w, height=w if swaps_axes(orient) else h, upright=True)
    im = _pillow_open(path, mime)
    with im:
        return ImageProbe(width=im.width, height=im.height, upright=True, xmp=_pil_xmp(im))


def probe_raw(path: Path, mime: str) -> ImageProbe:
    """LibRaw's open_file parses the headers only (no unpack); its flip is what rawpy applies on output."""
    import rawpy

    try:
        raw = rawpy.RawPy()
        raw.open_file(str(path))
        s = raw.sizes
        w, h, flip = int(s.width), int(s.height), int(s.flip)
        raw.close()
    except Exception as e:
        return ImageProbe(warnings=[f"dimensions unknown: LibRaw cannot open this {mime} file ({e})"])
    if w <= 0 or h <= 0:
        return ImageProbe(warnings=[f"dimensions unknown: LibRaw reports {w}x{h}"])
    if flip in (5, 6):
        w, h = h, w
    return ImageProbe(width=w, height=h, upright=True)


def _pil_exif_bytes(im: Image.Image) -> bytes | None:
    raw = im.info.get("exif")
    return bytes(raw) if isinstance(raw, (bytes, bytearray)) and len(raw) > 8 else None


def probe_pillow(path: Path, mime: str) -> ImageProbe:
    """Lazy Image.open: reads the header (and JPEG APP segments) only."""
    im = _pillow_open(path, mime)
    with im:
        exif_raw = _pil_exif_bytes(im)
        orient = _pil_orientation(im)
        return ImageProbe(width=im.width, height=im.height, orientation=orient, xmp=_pil_xmp(im), exif=exif_raw)


def probe_image(path: Path, mime: str) -> ImageProbe:
    """Dispatch on the sniffed mime; raises MediaError only when the file is not an image of that kind."""
    if mime in HEIF_MIMES:
        return probe_heif(path, mime)
    if mime in JXL_MIMES:
        return probe_jxl(path, mime)
    if is_raw_mime(mime):
        return probe_raw(path, mime)
    try:
        return probe_pillow(path, mime)
    except MediaError:
        if mime != "image/tiff":
            raise
        from ..formats.tiff_fallback import first_page_shape  # float/planar TIFFs Pillow refuses
        w, h, _ = first_page_shape(path)
        return ImageProbe(width=w, height=h, upright=True)
