"""Decode any supported still image to upright pixels, as cheaply as the caller's size allows.

``open_upright`` returns an RGB image, or RGBA when the file has real transparency (some pixel with alpha < 255):
previews are WebP, which keeps alpha, so a logo on transparency does not turn into a black box. Callers that need
plain RGB (face, semantic stages) convert.

Orientation rules, verified on the shared corpus (tests/test_decode_orientation.py):

* JPEG, MPO, PNG, WebP, TIFF and every other Pillow format: the EXIF Orientation tag 1..8 (IFD0, or a PNG eXIf /
  ImageMagick raw profile), else ``tiff:Orientation`` from an XMP packet (Pillow's ``getexif`` falls back to XMP),
  is applied once here. It is read *after* loading: for TIFFs decoded through libtiff (e.g. CCITT G4) Pillow
  already orients the pixels while loading and removes the tag, so reading it before would rotate twice.
* AVIF (Pillow's native plugin): libavif does *not* rotate the pixels; Pillow turns the container's irot/imir into
  the EXIF orientation (replacing whatever orientation the EXIF block said), so applying that orientation once is
  exactly the container's transform.
* HEIC/HEIF (pillow-heif): libheif applies irot/imir while decoding and pillow-heif resets the EXIF/XMP orientation
  to 1, keeping the file's value in ``info['original_orientation']``. When the container has irot/imir (iPhone 13/15,
  Samsung, Nokia files in the corpus: irot 270 with EXIF 6 or 1) nothing more is done; rotating again by EXIF would
  turn the picture 180 degrees. Only when the container has no irot/imir at all and the EXIF orientation is not 1
  (corpus: photoprism's iphone_7.heic, a sideways landscape) is the EXIF orientation applied.
* JPEG XL: libjxl applies the codestream orientation while decoding; EXIF orientation is not applied again
  (the JXL spec makes the codestream authoritative). No corpus file exercises this.
* RAW: LibRaw's ``postprocess`` output is already rotated by the RAW's flip. The embedded preview JPEG is stored
  in sensor orientation, so ``raw.sizes.flip`` is applied to it, unless the preview carries its own EXIF
  orientation other than 1, which is then used instead.

Colour: an embedded ICC profile other than sRGB is converted to sRGB (ImageCms), so wide-gamut (Display P3) and
CMYK files look right in previews; if the profile is unusable the pixels are kept as they are.
"""
from __future__ import annotations

import io
import math
import struct
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from workbench.errors import MediaError
from workbench.formats.heif import orientation_to_apply
from workbench.formats.sniff import RAW_MIMES
from workbench.settings import Settings

_ORIENTATION_OPS: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# LibRaw's flip codes (raw.sizes.flip) as EXIF orientations.
_LIBRAW_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}

_LABELS = {
    "image/jpeg": "JPEG", "image/mpo": "MPO", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
    "image/bmp": "BMP", "image/tiff": "TIFF", "image/heic": "HEIF", "image/heif": "HEIF", "image/avif": "AVIF",
    "image/jxl": "JPEG XL", "image/vnd.adobe.photoshop": "PSD", "image/x-adobe-dng": "DNG RAW",
}

_PILLOW_FORMAT = {"image/heic": "HEIF", "image/heif": "HEIF", "image/jxl": "JXL", "image/mpo": "MPO",
                  "image/x-qoi": "QOI", "image/vnd-ms.dds": "DDS", "image/sgi": "SGI"}

_plugins_lock = threading.Lock()
_plugins_registered = False
_pillow_limit_lock = threading.Lock()


def register_plugins() -> None:
    """Register pillow-heif (HEIC/HEIF) and the JPEG XL plugin with Pillow, once per process.

    AVIF stays with Pillow's native plugin: this pillow-heif build has no AV1 decoder.
    """
    global _plugins_registered
    with _plugins_lock:
        if _plugins_registered:
            return
        import pillow_heif
        import pillow_jxl  # noqa: F401  (importing registers the JXL plugin)

        pillow_heif.register_heif_opener()
        Image.init()  # load every plugin now, so Image.open(formats=[...]) finds them
        _plugins_registered = True


def configure_pillow(settings: Settings) -> None:
    """Set Pillow's bomb limit so that it refuses exactly what ``max_image_megapixels`` refuses.

    Pillow raises DecompressionBombError above *twice* ``MAX_IMAGE_PIXELS``; we do our own check with a clear
    message first, and Pillow's stays as a safety net for any other code path (e.g. other stages' Image.open).
    """
    Image.MAX_IMAGE_PIXELS = int(settings.max_image_megapixels * 1_000_000 / 2)
    ImageFile.LOAD_TRUNCATED_IMAGES = False


def open_upright(path: Path, mime: str, min_size_px: int | None = None,
                 settings: Settings | None = None) -> Image.Image:
    """Decode ``path`` (of sniffed ``mime``) to an upright RGB/RGBA image whose long edge is >= ``min_size_px``
    (or the full image when it is smaller), reading as little as the format allows: JPEG DCT scaling, HEIF
    thumbnails, RAW embedded previews or half-size demosaic. Raises ``MediaError`` with a specific reason."""
    settings = settings or Settings()
    register_plugins()
    configure_pillow(settings)
    path = Path(path)
    if not mime.startswith("image/"):
        raise MediaError(f"not an image: {mime} cannot be decoded as a still image")
    try:
        if mime in RAW_MIMES:
            return _open_raw(path, mime, min_size_px, settings)
        return _open_pillow(path, mime, min_size_px, settings)
    except MediaError:
        raise
    except UnidentifiedImageError as e:  # Image.open hides why; ask the format's own plugin
        if mime == "image/tiff":  # float or planar scientific TIFFs: tifffile reads what Pillow cannot
            from workbench.formats.tiff_fallback import read_first_page
            try:
                return read_first_page(path)
            except MediaError:
                pass
        raise MediaError(_reason(mime, _plugin_error(path, mime) or e)) from None
    except Exception as e:  # every decoder failure becomes a reason the user can read
        raise MediaError(_reason(mime, e)) from None


# --------------------------------------------------------------------------------------------------- Pillow


def _open_pillow(path: Path, mime: str, min_size_px: int | None, settings: Settings) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = _pillow_open(path, mime, settings)
    try:
        _check_bomb(*im.size, settings)
        heif_orientation = _heif_orientation(im) if im.format == "HEIF" else 1  # needs the pre-load handle
        if min_size_px:
            im.draft("RGB", _draft_size(im.size, min_size_px))
        im.load()
        if im.format == "HEIF":
            orientation = heif_orientation
        elif im.format == "JXL":
            orientation = 1
        else:
            # read after load: Pillow's libtiff path orients the pixels itself and then drops the tag
            orientation = _exif_orientation(im)
        out = _to_display_mode(im)
        if orientation in _ORIENTATION_OPS:
            out = out.transpose(_ORIENTATION_OPS[orientation])
        if out is im and getattr(im, "fp", None) is not None:
            out = im.copy()  # multi-frame files keep their file open: detach from it (close() frees pixels)
    except BaseException:
        im.close()
        raise
    if out is not im:
        im.close()
    return out


def _pillow_open(path: Path, mime: str, settings: Settings) -> Image.Image:
    """Image.open, turning Pillow's own bomb refusal into our message with the declared dimensions."""
    try:
        return Image.open(path, formats=_pillow_formats(mime))
    except UnidentifiedImageError:
        if mime in ("image/heic", "image/heif"):
            # pillow-heif's accept() only knows the common brands; libheif itself also reads e.g. 'mif3'
            # low-overhead files, which our sniffer has already established are HEIF.
            from pillow_heif.as_plugin import HeifImageFile

            return HeifImageFile(str(path))
        raise
    except Image.DecompressionBombError:
        with _pillow_limit_disabled(), Image.open(path, formats=_pillow_formats(mime)) as im:
            w, h = im.size
        _check_bomb(w, h, settings)
        raise


def _pillow_formats(mime: str) -> list[str] | None:
    """Only the plugin(s) for the sniffed type may open the file: a fuzzed HEIF must not be read as a TGA."""
    if mime in ("image/jpeg", "image/mpo"):
        fmts = ["JPEG", "MPO"]
    elif mime in _PILLOW_FORMAT:
        fmts = [_PILLOW_FORMAT[mime]]
    else:
        fmts = [f for f, m in Image.MIME.items() if m == mime]
    return [f for f in fmts if f in Image.OPEN] or None


@contextmanager
def _pillow_limit_disabled() -> Iterator[None]:
    with _pillow_limit_lock:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _check_bomb(w: int, h: int, settings: Settings) -> None:
    if w * h > settings.max_image_megapixels * 1_000_000:
        raise MediaError(f"decompression bomb: {w}x{h} = {w * h / 1e6:.1f} megapixels exceeds "
                         f"max_image_megapixels={settings.max_image_megapixels:g}")


def _draft_size(size: tuple[int, int], min_size_px: int) -> tuple[int, int]:
    """The smallest (w, h) with the image's aspect whose long edge is min_size_px (draft keeps >= this)."""
    w, h = size
    scale = min(1.0, min_size_px / max(w, h, 1))
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def _exif_orientation(im: Image.Image) -> int:
    """EXIF orientation, falling back to XMP tiff:Orientation (Pillow does both); 1 when absent or corrupt."""
    try:
        value = im.getexif().get(0x0112, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # a corrupt EXIF block must not make a good picture undecodable
        return 1


def _heif_orientation(im: Image.Image) -> int:
    """Orientation still to apply after libheif (see ``workbench.formats.heif``)."""
    try:
        frame = im._heif_file[im.tell()]  # type: ignore[attr-defined]
    except Exception:  # private API changed: trust the decoder, never rotate twice
        return 1
    return orientation_to_apply(frame, im.info.get("original_orientation"))


def _to_display_mode(im: Image.Image) -> Image.Image:
    """RGB, or RGBA when alpha is really used; 16-bit/float greys scaled, CMYK/LAB converted, ICC -> sRGB."""
    mode = im.mode
    icc = im.info.get("icc_profile")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        im = scale_to_8bit(im)
    elif mode == "LAB":
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        im = ImageCms.applyTransform(im, ImageCms.buildTransform(lab, srgb, "LAB", "RGB"))
        icc = None
    elif mode in ("1", "P", "PA", "LA", "La", "RGBa", "RGBX", "YCbCr", "HSV") or mode not in ("RGB", "RGBA", "L", "CMYK"):
        has_alpha = mode in ("PA", "LA", "La", "RGBa") or (mode == "P" and "transparency" in im.info)
        im = im.convert("RGBA" if has_alpha else "RGB")
    if icc and im.mode in ("RGB", "RGBA", "L", "CMYK"):
        im = _icc_to_srgb(im, icc)
    if im.mode in ("L", "CMYK"):
        im = im.convert("RGB")
    if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 255:
        im = im.convert("RGB")
    return im


def scale_to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and float greys: Pillow's convert would clip them to white; scale to 0..255 instead."""
    a = np.asarray(im)
    if im.mode.startswith("I;16"):
        out = (a.astype(np.uint32) >> 8).astype(np.uint8)
    else:
        a = a.astype(np.float64)
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if im.mode == "I" and lo >= 0 and hi <= 255:
            lo, hi = 0.0, 255.0
        elif im.mode == "I" and lo >= 0 and hi <= 65535:
            lo, hi = 0.0, 65535.0
        out = np.clip((np.nan_to_num(a, nan=lo) - lo) * (255.0 / max(hi - lo, 1e-12)), 0, 255).astype(np.uint8)
    return Image.fromarray(out, "L").convert("RGB")


_SRGB = None


def _icc_to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    """Convert from the embedded profile to sRGB; keep the pixels as they are if the profile is unusable."""
    global _SRGB
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = (ImageCms.getProfileDescription(src) or "").lower()
        if "srgb" in desc and im.mode in ("RGB", "RGBA"):
            return im
        if _SRGB is None:
            _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, src, _SRGB, outputMode=out_mode)
    except Exception:
        return im


# ------------------------------------------------------------------------------------------------------ RAW


def _open_raw(path: Path, mime: str, min_size_px: int | None, settings: Settings) -> Image.Image:
    """Embedded preview when it is big enough (no demosaic), else LibRaw half-size or full demosaic."""
    import rawpy

    with rawpy.imread(str(path)) as raw:
        s = raw.sizes
        _check_bomb(s.width, s.height, settings)
        full_long = max(s.width, s.height)
        goal = full_long if not min_size_px else min(min_size_px, full_long)
        thumb = _raw_thumb(raw)  # before postprocess: LibRaw refuses it afterwards
        preview = _raw_preview(thumb, goal, s.flip)
        if preview is not None:
            return preview
        half = bool(min_size_px) and full_long // 2 >= goal
        try:
            rgb = raw.postprocess(half_size=half, use_camera_wb=True, output_bps=8)  # already rotated by flip
        except Exception:
            # LibRaw cannot demosaic this sensor data (e.g. Nikon Z9 "high efficiency" compression): a smaller
            # embedded preview is still a faithful picture of the photo, so use it rather than failing.
            preview = _raw_preview(thumb, goal, s.flip, allow_smaller=True)
            if preview is None:
                raise
            return preview
    return Image.fromarray(rgb, "RGB")


def _raw_thumb(raw):  # noqa: ANN001, ANN202 (rawpy.RawPy -> rawpy.Thumbnail | None)
    import rawpy

    try:
        return raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError, rawpy.LibRawError):
        return None


def _raw_preview(thumb, goal: int, flip: int,  # noqa: ANN001 (rawpy.Thumbnail)
                 allow_smaller: bool = False) -> Image.Image | None:
    """The embedded preview, upright, when its long edge reaches ``goal`` (or any size with ``allow_smaller``);
    None when absent, too small or broken."""
    import rawpy

    if thumb is None:
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            im = Image.open(io.BytesIO(thumb.data))
            if max(im.size) < goal and not allow_smaller:
                return None
            own = _exif_orientation(im)
            im.draft("RGB", _draft_size(im.size, goal))
            im.load()
            orientation = own if own != 1 else _LIBRAW_FLIP_TO_ORIENTATION.get(flip, 1)
        else:
            im = Image.fromarray(thumb.data).convert("RGB")
            if max(im.size) < goal and not allow_smaller:
                return None
            orientation = _LIBRAW_FLIP_TO_ORIENTATION.get(flip, 1)
        out = _to_display_mode(im)
        return out.transpose(_ORIENTATION_OPS[orientation]) if orientation in _ORIENTATION_OPS else out
    except Exception:  # a broken preview is not a broken RAW: demosaic instead
        return None


# --------------------------------------------------------------------------------------------------- errors



def _plugin_error(path: Path, mime: str) -> BaseException | None:
    """The exception the plugin for ``mime`` raises on this file (Image.open only says 'cannot identify')."""
    fmt = _PILLOW_FORMAT.get(mime) or next((f for f, m in Image.MIME.items() if m == mime), None)
    if fmt not in Image.OPEN:
        return None
    factory, _accept = Image.OPEN[fmt]
    try:
        with open(path, "rb") as fp:
            factory(fp, str(path)).close()
    except Exception as e:  # noqa: BLE001 - this exception *is* the answer
        return e
    return None



def _label(mime: str) -> str:
    if mime in _LABELS:
        return _LABELS[mime]
    if mime in RAW_MIMES:
        return mime.split("/")[-1].removeprefix("x-").upper() + " RAW"
    return mime.split("/")[-1].removeprefix("x-").removeprefix("vnd.").upper()


def _reason(mime: str, e: BaseException) -> str:
    """A specific, user-readable reason for a decoder exception: what file kind, what failed, the decoder's words."""
    label = _label(mime)
    msg = str(e).strip() or type(e).__name__
    low = msg.lower()
    module = type(e).__module__ or ""
    if module.startswith("rawpy") or "LibRaw" in type(e).__name__:
        name = type(e).__name__
        detail = msg.strip("b'\"")
        if "Unsupported" in name:
            return f"{label} decode failed: LibRaw does not support this file ({detail})"
        if "IOError" in name or "input/output" in detail.lower():
            return f"truncated RAW data: LibRaw could not read the sensor data of this {label} ({detail})"
        return f"{label} decode failed: LibRaw error {name} ({detail})"
    if isinstance(e, UnidentifiedImageError):
        return f"not a valid {label}: no image decoder recognises the content"
    if "please build `libjxl`" in low or ("generic error" in low and mime == "image/jxl"):
        return "JPEG XL decode failed: libjxl rejected the data (generic decoder error)"
    if isinstance(e, MemoryError):
        return f"{label} decode failed: out of memory"
    if "truncated" in low or isinstance(e, EOFError) or "unexpected end" in low or "premature end" in low:
        return f"truncated image data: {label} file ends before the image is complete ({msg})"
    if mime in ("image/heic", "image/heif") or "heif" in low or "libheif" in low:
        return f"HEIF decode failed: {msg}"
    if mime == "image/jxl" or "jxl" in low:
        return f"JPEG XL decode failed: {msg}"
    if isinstance(e, (struct.error, IndexError)) or "unpack" in low and "buffer" in low:
        return f"not a valid {label}: its header or a data block ends early or points outside the file ({msg})"
    if isinstance(e, SyntaxError):
        return f"not a valid {label}: {msg}"
    if "broken data stream" in low:
        return f"not a valid {label}: broken data stream"
    if "data stream" in low or "decoder error" in low:
        return f"not a valid {label}: corrupt image data ({msg})"
    if isinstance(e, OSError):
        return f"{label} decode failed: {msg}"
    return f"{label} decode failed: {type(e).__name__}: {msg}"
