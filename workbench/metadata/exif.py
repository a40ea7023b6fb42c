"""EXIF camera fields, read with exifread (``details=False``: no MakerNotes, no thumbnail).

Why exifread and not Pillow's ``getexif``: it reads TIFF-based RAW (DNG, NEF, CR2, ARW, RW2, ORF, PEF, SRW), HEIC,
AVIF, JXL, PNG and WebP EXIF straight from the file without building an image object, and it tolerates broken
IFDs. For the RAW containers exifread does not parse we hand it the embedded TIFF ourselves: Canon CR3 keeps
IFD0 and the Exif IFD in ``CMT1``/``CMT2`` boxes, Fujifilm RAF carries a JPEG with the EXIF, Minolta MRW has a
``TTW`` TIFF block. CRW (CIFF) and Sigma X3F have no EXIF that exifread can read; the caller records that.

Everything here returns None for a missing or malformed value, never raises.
"""
from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import exifread

from .bmff import cr3_tiff_blocks

# exifread logs "File format not recognized." etc. through the root "exifread" logger; with no handler Python's
# last-resort handler would print them on stderr for every PNG without EXIF. They carry no information for us.
logging.getLogger("exifread").addHandler(logging.NullHandler())
logging.getLogger("exifread").propagate = False

Tags = dict[str, Any]

# RAW mimes exifread cannot open directly, and how we find their TIFF.
_NO_EXIF_READER = {"image/x-canon-crw": "CRW (CIFF)", "image/x-sigma-x3f": "Sigma X3F"}


def read_tags_from(fh: io.BufferedIOBase | io.BytesIO) -> Tags:
    """exifread's tag dict for one stream, {} when it finds nothing or chokes."""
    try:
        return dict(exifread.process_file(fh, details=False, extract_thumbnail=False))
    except Exception:  # exifread raises bare ValueError/IndexError/struct.error on broken IFDs
        return {}


def read_exif_tags(path: Path, mime: str) -> tuple[Tags, str | None]:
    """All EXIF tags of ``path`` plus, when the format keeps them out of reach, a note saying so."""
    if mime in _NO_EXIF_READER:
        return {}, f"camera EXIF not extracted: {_NO_EXIF_READER[mime]} files are not readable by exifread"
    try:
        with open(path, "rb") as fh:
            if mime == "image/x-canon-cr3":
                return _cr3_tags(fh), None
            if mime == "image/x-fuji-raf":
                return _raf_tags(fh), None
            if mime == "image/x-minolta-mrw":
                return _mrw_tags(fh), None
            return read_tags_from(fh), None
    except OSError as e:
        return {}, f"EXIF not read: {e.strerror or e}"


def tags_from_exif_block(block: bytes | None) -> Tags:
    """exifread over an EXIF block found by another parser ('Exif\\0\\0' + TIFF, or bare TIFF).

    Why: exifread's JPEG walker gives up when the APP1 segment sits behind large APPn segments (PhotoPrism's
    huawei-gps-error.jpg and digikam.jpg keep it 80 kB into the file); Pillow's marker parser finds it.
    """
    if not block:
        return {}
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    if block[:4] not in (b"II*\x00", b"MM\x00*"):
        return {}
    return read_tags_from(io.BytesIO(block))


def _cr3_tags(fh: Any) -> Tags:
    """Merge CMT1 (IFD0) and CMT2 (Exif IFD); exifread names CMT2's entries 'Image ...', so rename them."""
    blocks = cr3_tiff_blocks(fh)
    tags: Tags = {}
    if "CMT1" in blocks:
        tags.update(read_tags_from(io.BytesIO(blocks["CMT1"])))
    if "CMT2" in blocks:
        for k, v in read_tags_from(io.BytesIO(blocks["CMT2"])).items():
            if k.startswith("Image "):
                tags["EXIF " + k[6:]] = v
    return tags


def _raf_tags(fh: Any) -> Tags:
    """RAF header: big-endian offset and length of the embedded JPEG (which holds the EXIF) at byte 84."""
    head = fh.read(100)
    if len(head) < 92 or not head.startswith(b"FUJIFILM"):
        return {}
    offset, length = struct.unpack(">II", head[84:92])
    fh.seek(offset)
    return read_tags_from(io.BytesIO(fh.read(min(length, 1 << 20))))


def _mrw_tags(fh: Any) -> Tags:
    """MRW: '\\0MRM' + header length, then blocks (4-byte name, 4-byte length); '\\0TTW' is a TIFF."""
    head = fh.read(8)
    if len(head) < 8 or head[:4] != b"\x00MRM":
        return {}
    data_len = struct.unpack(">I", head[4:8])[0]
    block = fh.read(min(data_len, 1 << 20))
    pos = 0
    while pos + 8 <= len(block):
        name, size = block[pos:pos + 4], struct.unpack(">I", block[pos + 4:pos + 8])[0]
        if name == b"\x00TTW":
            return read_tags_from(io.BytesIO(block[pos + 8:pos + 8 + size]))
        pos += 8 + size
    return {}


def tag(tags: Tags, name: str) -> Any:
    """The tag called ``name`` in IFD0 ('Image') or the Exif IFD ('EXIF'), whichever the file used."""
    return tags.get(f"EXIF {name}") or tags.get(f"Image {name}")


def as_text(t: Any) -> str | None:
    """Printable string with NUL/space padding stripped; None for empty or binary junk."""
    if t is None:
        return None
    values = t.values
    if isinstance(values, bytes):
        s = values.split(b"\x00", 1)[0].decode("utf-8", "replace")
    elif isinstance(values, str):
        s = values
    else:
        s = t.printable
    s = s.replace("\x00", "").strip()
    if not s or not any(ch.isalnum() for ch in s):
        return None
    return s


def as_float(t: Any) -> float | None:
    """First numeric value (rational or integer) as float; None for 0/0 or non-numbers."""
    if t is None:
        return None
    try:
        v = t.values[0] if isinstance(t.values, list) else t.values
        if hasattr(v, "den") and v.den == 0:
            return None
        f = float(Fraction(v.num, v.den)) if hasattr(v, "den") else float(v)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def as_int(t: Any) -> int | None:
    f = as_float(t)
    return int(round(f)) if f is not None else None


@dataclass
class ExifFields:
    """The camera fields we keep, already cleaned; raw date strings are interpreted in ``dates``."""

    make: str | None = None
    model: str | None = None
    lens: str | None = None
    exposure_time_s: float | None = None
    f_number: float | None = None
    iso: int | None = None
    focal_length_mm: float | None = None
    orientation: int | None = None
    date_original: str | None = None
    offset_original: str | None = None
    subsec_original: str | None = None
    date_digitized: str | None = None
    offset_digitized: str | None = None
    subsec_digitized: str | None = None


def parse_exif_fields(tags: Tags) -> ExifFields:
    """Pick and clean the camera fields; invalid values (orientation 0 or 9, f/0, ISO 0) become None."""
    f = ExifFields()
    f.make = as_text(tags.get("Image Make"))
    f.model = as_text(tags.get("Image Model"))
    f.lens = as_text(tag(tags, "LensModel"))
    exp = as_float(tag(tags, "ExposureTime"))
    f.exposure_time_s = exp if exp and exp > 0 else None
    fn = as_float(tag(tags, "FNumber"))
    f.f_number = fn if fn and fn > 0 else None
    iso = as_int(tag(tags, "ISOSpeedRatings") or tag(tags, "PhotographicSensitivity"))
    if iso == 65535:  # the SHORT field saturates; high-ISO bodies put the real value in ISOSpeed/REI
        iso = as_int(tag(tags, "ISOSpeed") or tag(tags, "RecommendedExposureIndex")) or iso
    f.iso = iso if iso and iso > 0 else None
    fl = as_float(tag(tags, "FocalLength"))
    f.focal_length_mm = fl if fl and fl > 0 else None
    o = as_int(tags.get("Image Orientation"))
    f.orientation = o if o is not None and 1 <= o <= 8 else None
    f.date_original = as_text(tag(tags, "DateTimeOriginal"))
    f.offset_original = as_text(tag(tags, "OffsetTimeOriginal"))
    f.subsec_original = as_text(tag(tags, "SubSecTimeOriginal"))
    f.date_digitized = as_text(tag(tags, "DateTimeDigitized"))
    f.offset_digitized = as_text(tag(tags, "OffsetTimeDigitized"))
    f.subsec_digitized = as_text(tag(tags, "SubSecTimeDigitized"))
    return f
