"""``workbench convert``: any supported photo or video into another format, upright, metadata kept where the
target can hold it (EXIF with GPS, ICC profile, XMP; see ``compress.lossy`` for the per-format table).

Photos are decoded at full size; the lossy codecs (JPEG, WebP, AVIF, HEIC, JPEG XL) go through
``compress.lossy.encode`` and the lossless ones (PNG, TIFF) and GIF through Pillow with the same orientation rule:
pixels turned upright, Orientation written as 1. RAW files give their developed pixels; their maker metadata is
not carried over. 16-bit and float pictures stay 16-bit in PNG and TIFF and are scaled (not clipped) to 8 bits
for the other targets. A TIFF with EXIF is written uncompressed (libtiff cannot write the EXIF sub-IFD through
Pillow here); without EXIF it is deflate-compressed. Videos go through ``compress.video``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import MediaError
from workbench.settings import Settings

IMAGE_TARGETS = ("jpeg", "png", "webp", "avif", "heic", "jxl", "tiff", "gif")
VIDEO_TARGETS = ("mp4", "webm", "gif")
TARGETS = tuple(dict.fromkeys(IMAGE_TARGETS + VIDEO_TARGETS))
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "avif": ".avif", "heic": ".heic", "jxl": ".jxl",
              "tiff": ".tif", "gif": ".gif", "mp4": ".mp4", "webm": ".webm"}
DEFAULT_QUALITY = {"jpeg": 90, "webp": 90, "avif": 75, "heic": 80, "jxl": 90}


@dataclass
class Converted:
    source: str
    output: str
    to: str
    bytes_before: int
    bytes_after: int
    width: int
    height: int


def convert_file(src: Path, kind: str, mime: str, to: str, out_dir: Path, *, quality: int | None = None,
                 settings: Settings | None = None, stem: str | None = None) -> Converted:
    """Write ``src`` converted to ``to`` into ``out_dir`` (never overwriting: a free name is chosen)."""
    settings = settings or Settings()
    if to not in TARGETS:
        raise ValueError(f"cannot convert to {to!r}; targets are {', '.join(TARGETS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = _free_name(out_dir, stem or src.stem, EXTENSIONS[to])
    if kind == "video":
        if to not in VIDEO_TARGETS:
            raise MediaError(f"a video converts to {', '.join(VIDEO_TARGETS)}, not {to}")
        from workbench.compress.video import transcode
        codec = {"mp4": "h264", "webm": "vp9", "gif": "gif"}[to]
        transcode(src, dst, codec)
        from workbench.imaging.video_frames import poster_frame
        im, _ = poster_frame(dst, settings)
        return Converted(str(src), str(dst), to, src.stat().st_size, dst.stat().st_size, im.width, im.height)
    if to not in IMAGE_TARGETS:
        raise MediaError(f"a photo converts to {', '.join(IMAGE_TARGETS)}, not {to}")
    data, size = encode_image(src, mime, to, quality, settings)
    tmp = dst.with_suffix(dst.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(dst)
    return Converted(str(src), str(dst), to, src.stat().st_size, len(data), size[0], size[1])


def encode_image(src: Path, mime: str, to: str, quality: int | None, settings: Settings) -> tuple[bytes, tuple[int, int]]:
    """Encoded bytes and the upright pixel size of a photo converted to ``to``."""
    from PIL import Image

    from workbench.compress import lossy
    from workbench.formats.sniff import RAW_MIMES
    from workbench.imaging.decode import open_upright, register_plugins, scale_to_8bit
    register_plugins()
    meta: dict = {"exif": None, "icc": None, "xmp": None}
    if mime in RAW_MIMES:
        img = open_upright(src, mime, settings=settings)        # developed pixels, already upright
    else:
        try:
            img = Image.open(src)
            img.load()
        except Exception as e:  # noqa: BLE001 - any decoder error is this file's problem
            raise MediaError(f"cannot decode {src.name} to convert it: {e}") from e
        meta = lossy.metadata_of(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F") and to not in ("png", "tiff"):
        img = scale_to_8bit(img)  # 8-bit targets: scale the range, never clip it to white
    if to in lossy.CODECS:
        q = DEFAULT_QUALITY[to] if quality is None else int(quality)
        data = lossy.encode(img, to, q, exif=meta["exif"], icc=meta["icc"], xmp=meta["xmp"])
        with lossy.open_image(data) as check:
            return data, check.size
    pixels, exif = lossy.upright_with_exif(img, meta["exif"])
    params: dict = {}
    if exif:
        params["exif"] = Image.Exif()
        params["exif"].load(exif)
    if meta["icc"]:
        params["icc_profile"] = meta["icc"]
    if to == "gif":
        pixels = pixels.convert("RGB").quantize(256) if pixels.mode not in ("P", "L") else pixels
        params.pop("exif", None)  # GIF has no EXIF
    elif to == "png" and pixels.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        pixels = pixels.convert("RGBA" if "A" in pixels.getbands() else "RGB")
    elif to == "tiff":
        if not exif:  # libtiff cannot write the EXIF sub-IFD here: with EXIF the TIFF stays uncompressed
            params["compression"] = "tiff_adobe_deflate"
        if meta["xmp"]:
            params["xmp"] = meta["xmp"]
    buf = io.BytesIO()
    pixels.save(buf, format={"png": "PNG", "tiff": "TIFF", "gif": "GIF"}[to], **params)
    return buf.getvalue(), pixels.size


def _free_name(folder: Path, stem: str, ext: str) -> Path:
    p = folder / f"{stem}{ext}"
    n = 1
    while p.exists():
        p = folder / f"{stem}-{n}{ext}"
        n += 1
    return p
