"""Shared helpers for the metadata tests (no tests here): the sniffer's mime names by file extension.

The real sniffer (``workbench.formats.sniff``) is written separately and reads content; these tests exercise the
metadata layer alone, so they name the mime the sniffer would give for each corpus file's actual content.
"""
from __future__ import annotations

from pathlib import Path

IMAGE_MIMES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jps": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".webp": "image/webp", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".heic": "image/heic", ".heif": "image/heif", ".avif": "image/avif", ".jxl": "image/jxl",
    ".mpo": "image/mpo", ".dng": "image/x-adobe-dng", ".cr2": "image/x-canon-cr2", ".cr3": "image/x-canon-cr3",
    ".crw": "image/x-canon-crw", ".nef": "image/x-nikon-nef", ".arw": "image/x-sony-arw",
    ".raf": "image/x-fuji-raf", ".rw2": "image/x-panasonic-rw2", ".orf": "image/x-olympus-orf",
    ".pef": "image/x-pentax-pef", ".srw": "image/x-samsung-srw", ".mrw": "image/x-minolta-mrw",
    ".x3f": "image/x-sigma-x3f", ".psd": "image/vnd.adobe.photoshop", ".ppm": "image/x-portable-anymap",
    ".pnm": "image/x-portable-anymap",
}
VIDEO_MIMES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
    ".webm": "video/webm", ".avi": "video/x-msvideo", ".mts": "video/mp2t", ".m2ts": "video/mp2t",
}


def kind_and_mime(path: Path) -> tuple[str, str] | None:
    """('image'|'video', mime) for a corpus file by its extension, None for non-media."""
    ext = path.suffix.lower()
    if ext in IMAGE_MIMES:
        return "image", IMAGE_MIMES[ext]
    if ext in VIDEO_MIMES:
        return "video", VIDEO_MIMES[ext]
    return None


def sniffed(path: Path) -> tuple[str, str] | None:
    """Like ``kind_and_mime`` but trusts an ISO-BMFF brand over the extension (the corpus has a HEIC named .jpg)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc"):
            return "image", "image/heic"
        if brand in (b"avif", b"avis"):
            return "image", "image/avif"
    return kind_and_mime(path)


ORIENTATION_NAMES = {
    "Horizontal (normal)": 1, "Mirrored horizontal": 2, "Rotated 180": 3, "Mirrored vertical": 4,
    "Mirrored horizontal then rotated 90 CCW": 5, "Rotated 90 CW": 6,
    "Mirrored horizontal then rotated 90 CW": 7, "Rotated 90 CCW": 8,
}
