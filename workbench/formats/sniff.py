"""Decide what a file *is* from its first few KB, never from its name.

Why our own table instead of a library: ``filetype`` (h2non) and ``puremagic`` match fixed magic numbers only.
Neither tells a Nikon NEF, Sony ARW, Pentax PEF or Samsung SRW from a plain TIFF (they all start ``II*\\0`` /
``MM\\0*``; only IFD0's Make tag, a DNGVersion tag or CFA sub-images tell them apart), ``filetype`` knows CR2 but
none of the other RAW vendors, and neither recognises MPEG transport streams (AVCHD ``.MTS``/``.M2TS``), whose
only signature is a 0x47 sync byte repeating every 188 or 192 bytes. Neither splits ISO-BMFF by brand the way
we need (HEIC vs HEIF vs AVIF vs CR3 vs MOV vs MP4) nor JPEG vs MPO. So the table below is ours: small, readable,
and tested against the shared corpus. Formats we do not list are offered to Pillow's own identification
(PSD, PPM, TGA, ICO, QOI, DDS, JPEG 2000, ...), which only reads headers.

The extension is used in exactly one place: to choose the vendor RAW mime for a TIFF-structured file whose
IFD0 Make tag does not already say it (content still decides that it is TIFF-structured).
"""
from __future__ import annotations

import string
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from workbench.errors import MediaError

HEAD_BYTES = 4096  # enough for every signature below; TIFF IFDs and JPEG segments are reached by seeking


@dataclass(frozen=True)
class FileType:
    """What a file's content is: ``kind`` 'image' or 'video', its mime, and the canonical extension (with dot)
    used to name the stored original."""

    kind: str
    mime: str
    ext: str


def _img(mime: str, ext: str) -> FileType:
    return FileType("image", mime, ext)


def _vid(mime: str, ext: str) -> FileType:
    return FileType("video", mime, ext)


JPEG = _img("image/jpeg", ".jpg")
MPO = _img("image/mpo", ".mpo")
TIFF = _img("image/tiff", ".tif")
DNG = _img("image/x-adobe-dng", ".dng")
HEIC = _img("image/heic", ".heic")
HEIF = _img("image/heif", ".heif")
AVIF = _img("image/avif", ".avif")
JXL = _img("image/jxl", ".jxl")
CR3 = _img("image/x-canon-cr3", ".cr3")
MP4 = _vid("video/mp4", ".mp4")
MOV = _vid("video/quicktime", ".mov")
M2TS = _vid("video/mp2t", ".mts")

# Fixed magic at offset 0 (checked in order, longest first where prefixes overlap).
MAGIC: list[tuple[bytes, FileType]] = [
    (b"\x89PNG\r\n\x1a\n", _img("image/png", ".png")),
    (b"GIF87a", _img("image/gif", ".gif")),
    (b"GIF89a", _img("image/gif", ".gif")),
    (b"\xff\x0a", JXL),                                     # JPEG XL bare codestream
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", JXL),               # JPEG XL ISO-BMFF container
    (b"FUJIFILMCCD-RAW", _img("image/x-fuji-raf", ".raf")),
    (b"\x00MRM", _img("image/x-minolta-mrw", ".mrw")),
    (b"FOVb", _img("image/x-sigma-x3f", ".x3f")),
    (b"IIU\x00", _img("image/x-panasonic-rw2", ".rw2")),    # TIFF variant with its own magic
    (b"IIRO", _img("image/x-olympus-orf", ".orf")),
    (b"IIRS", _img("image/x-olympus-orf", ".orf")),
    (b"MMOR", _img("image/x-olympus-orf", ".orf")),
    (b"BM", _img("image/bmp", ".bmp")),
    (b"8BPS", _img("image/vnd.adobe.photoshop", ".psd")),
    (b"FLV\x01", _vid("video/x-flv", ".flv")),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", _vid("video/x-ms-asf", ".wmv")),
    (b"\x00\x00\x01\xba", _vid("video/mpeg", ".mpg")),      # MPEG program stream pack header
    (b"\x00\x00\x01\xb3", _vid("video/mpeg", ".mpg")),      # MPEG elementary video sequence header
]

# Known non-media content: named in the error so the user knows what the file really is.
NOT_MEDIA: list[tuple[bytes, str]] = [
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP archive (or an Office document)"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"MAC ", "Monkey's Audio"),
    (b"FORM", "IFF/AIFF audio"),
    (b"MZ", "Windows executable"),
    (b"\x7fELF", "ELF executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE compound document (Office/FlashPix)"),
    (b"%!PS", "PostScript"),
    (b"{\\rtf", "RTF document"),
    (b"\xc5\xd0\xd3\xc6", "encapsulated PostScript"),
    (b"SQLite format 3", "SQLite database"),
    (b"\x93NUMPY", "NumPy array"),
]

# ISO-BMFF brands, in priority order: the first entry any of the file's brands matches wins, so a HEIC that
# also lists 'iso8' or an AVIF sequence that lists 'mp41' stays an image. Audio-only brands are refused.
BMFF_BRANDS: list[tuple[frozenset[str], FileType | str]] = [
    (frozenset({"crx "}), CR3),
    (frozenset({"jxl "}), JXL),
    (frozenset({"avif", "avis", "avio"}), AVIF),
    (frozenset({"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"}), HEIC),
    (frozenset({"mif1", "msf1", "mif2", "mif3", "heif"}), HEIF),
    (frozenset({"qt  "}), MOV),
    (frozenset({"3gp4", "3gp5", "3gp6", "3gp7", "3gp8", "3gp9", "3gs6", "3gs7", "3ge6", "3ge7", "3gg6"}),
     _vid("video/3gpp", ".3gp")),
    (frozenset({"3g2a", "3g2b", "3g2c"}), _vid("video/3gpp2", ".3g2")),
    (frozenset({"M4A ", "M4B ", "M4P ", "F4A ", "F4B "}), "MPEG-4 audio (M4A)"),
    (frozenset({"isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9", "mp41", "mp42",
                "mp71", "avc1", "hvc1", "av01", "M4V ", "M4VH", "M4VP", "mp4v", "dash", "f4v ", "MSNV",
                "NDAS", "XAVC", "mmp4", "kddi", "CAEP", "caqv", "ROSS"}), MP4),
]
# Classic QuickTime files have no ftyp: they start straight with one of these atoms.
QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"junk"}

# TIFF-structured RAWs without a magic of their own: vendor by IFD0 Make (prefix, upper case) and by extension.
TIFF_RAW_BY_MAKE: list[tuple[str, FileType]] = [
    ("NIKON", _img("image/x-nikon-nef", ".nef")),
    ("SONY", _img("image/x-sony-arw", ".arw")),
    ("PENTAX", _img("image/x-pentax-pef", ".pef")),
    ("RICOH IMAGING", _img("image/x-pentax-pef", ".pef")),
    ("SAMSUNG", _img("image/x-samsung-srw", ".srw")),
    ("CANON", _img("image/x-canon-cr2", ".cr2")),
    ("PHASE ONE", _img("image/x-phaseone-iiq", ".iiq")),
    ("HASSELBLAD", _img("image/x-hasselblad-3fr", ".3fr")),
    ("LEAF", _img("image/x-leaf-mos", ".mos")),
    ("KODAK", _img("image/x-kodak-dcr", ".dcr")),
    ("EASTMAN KODAK", _img("image/x-kodak-dcr", ".dcr")),
    ("SEIKO EPSON", _img("image/x-epson-erf", ".erf")),
    ("MAMIYA", _img("image/x-mamiya-mef", ".mef")),
]
TIFF_RAW_BY_EXT: dict[str, FileType] = {
    ".nef": TIFF_RAW_BY_MAKE[0][1], ".nrw": TIFF_RAW_BY_MAKE[0][1],
    ".arw": TIFF_RAW_BY_MAKE[1][1], ".srf": TIFF_RAW_BY_MAKE[1][1], ".sr2": TIFF_RAW_BY_MAKE[1][1],
    ".pef": TIFF_RAW_BY_MAKE[2][1], ".srw": TIFF_RAW_BY_MAKE[4][1], ".cr2": TIFF_RAW_BY_MAKE[5][1],
    ".iiq": TIFF_RAW_BY_MAKE[6][1], ".3fr": TIFF_RAW_BY_MAKE[7][1], ".mos": TIFF_RAW_BY_MAKE[8][1],
    ".dcr": TIFF_RAW_BY_MAKE[9][1], ".kdc": TIFF_RAW_BY_MAKE[9][1], ".erf": TIFF_RAW_BY_MAKE[11][1],
    ".mef": TIFF_RAW_BY_MAKE[12][1], ".dng": DNG,
}
GENERIC_TIFF_RAW = _img("image/x-raw", ".raw")
# Sensor data markers in a TIFF IFD: PhotometricInterpretation CFA/LinearRaw, or a vendor raw compression.
RAW_PHOTOMETRIC = {32803, 34892}
RAW_COMPRESSION = {32767, 32769, 32770, 34713, 65000, 65535}

RAW_MIMES: frozenset[str] = frozenset(
    {ft.mime for _, ft in TIFF_RAW_BY_MAKE}
    | {DNG.mime, CR3.mime, GENERIC_TIFF_RAW.mime, "image/x-canon-crw", "image/x-fuji-raf",
       "image/x-panasonic-rw2", "image/x-olympus-orf", "image/x-minolta-mrw", "image/x-sigma-x3f"}
)

# Pillow formats we never offer as images: they identify, but cannot be decoded to pixels here (EPS needs
# Ghostscript; WMF/BUFR/GRIB/HDF5 are stub plugins) or are really video (MPEG).
PILLOW_REFUSED = {"EPS", "WMF", "EMF", "BUFR", "GRIB", "HDF5", "MPEG", "PDF"}
# Pillow formats whose header check is too weak to trust alone (TGA has no magic at all; fuzzed binaries pass
# it): accepted only when the extension agrees.
PILLOW_WEAK = {"TGA"}
# Pillow formats that have no mime in Image.MIME.
PILLOW_EXTRA_MIME = {"QOI": "image/x-qoi", "DDS": "image/vnd-ms.dds", "SGI": "image/sgi", "ICNS": "image/icns"}

_EXTRA_MIMES = {"video/webm", "video/x-matroska", "video/x-msvideo", "video/mp2t", "image/webp",
                "image/x-canon-crw", "video/ogg"}


def is_supported_mime(mime: str) -> bool:
    """True for every mime ``sniff`` can return: the ingest pipeline only accepts those."""
    if mime in RAW_MIMES or mime in _EXTRA_MIMES:
        return True
    if any(ft.mime == mime for _, ft in MAGIC) or any(
            not isinstance(ft, str) and ft.mime == mime for _, ft in BMFF_BRANDS):
        return True
    if mime in {JPEG.mime, MPO.mime, TIFF.mime}:
        return True
    from PIL import Image  # lazy: sniffing the common formats needs no Pillow import

    Image.init()
    pillow_mimes = {Image.MIME.get(f) or PILLOW_EXTRA_MIME.get(f) or f"image/x-{f.lower()}"
                    for f in Image.OPEN if f not in PILLOW_REFUSED}
    return mime in pillow_mimes


def sniff(path: Path) -> FileType:
    """Identify ``path`` from its content; raise ``MediaError`` saying what it is when it is not media."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
            if not head:
                raise MediaError("empty file (0 bytes)")
            found = _sniff_head(f, head, path.suffix.lower())
    except IsADirectoryError:
        raise MediaError("not a file: it is a directory") from None
    except OSError as e:
        raise MediaError(f"cannot read file: {e.strerror or e}") from None
    if found is None:
        found = _sniff_with_pillow(path, path.suffix.lower())
    if found is None:
        raise MediaError(f"not an image or video: content starts with {_hex(head)} ({_describe(head)})")
    return found


def _sniff_head(f: BinaryIO, head: bytes, ext: str) -> FileType | None:
    """Our own signatures; None means 'ask Pillow'. Raises MediaError for known non-media."""
    if head[:3] == b"\xff\xd8\xff":
        return MPO if _jpeg_has_mpf(f) else JPEG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _sniff_tiff(f, head, ext)
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return TIFF  # BigTIFF
    if head[:4] == b"II\x1a\x00" and head[6:14] == b"HEAPCCDR":
        return _img("image/x-canon-crw", ".crw")
    for magic, ft in MAGIC:
        if head.startswith(magic):
            return ft
    if head[:4] == b"RIFF" and len(head) >= 12:
        form = head[8:12]
        if form == b"WEBP":
            return _img("image/webp", ".webp")
        if form in (b"AVI ", b"AVIX"):
            return _vid("video/x-msvideo", ".avi")
        raise MediaError(f"not an image or video: RIFF container of type {form!r} "
                         f"({'WAV audio' if form == b'WAVE' else 'not AVI or WebP'})")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _sniff_ebml(head)
    if head[4:8] == b"ftyp":
        return _sniff_bmff(head)
    if head[4:8] in QT_ATOMS and struct.unpack(">I", head[:4])[0] not in range(2, 8):
        return MOV  # atom size 0 = to end of file, 1 = 64-bit size follows, else >= 8
    if _is_mpegts(head):
        return M2TS
    if head[:4] == b"OggS":
        if b"\x80theora" in head:
            return _vid("video/ogg", ".ogv")
        raise MediaError("not an image or video: Ogg container without a Theora video stream (audio)")
    for magic, what in NOT_MEDIA:
        if head.startswith(magic):
            raise MediaError(f"not an image or video: content starts with {_hex(head)} (looks like {what})")
    return None


def _sniff_bmff(head: bytes) -> FileType:
    """ISO-BMFF (MP4/MOV/HEIF/AVIF/CR3/JXL): decide by the ftyp major and compatible brands."""
    size = struct.unpack(">I", head[:4])[0]
    box = head[8:min(max(size, 16), len(head))]
    major, minor = box[:4].decode("latin-1"), box[4:8].decode("latin-1")
    brands = {major} | {box[i:i + 4].decode("latin-1") for i in range(8, len(box) - 3, 4)}
    if major == "mif3":
        brands.add(minor)  # low-overhead 'mini' HEIF/AVIF carry the codec brand in minor_version
    for group, ft in BMFF_BRANDS:
        if brands & group:
            if isinstance(ft, str):
                if major in group:
                    raise MediaError(f"not an image or video: ISO-BMFF brand {major!r} is {ft}")
                continue
            return ft
    raise MediaError(f"not an image or video: unknown ISO-BMFF brand {major!r} (compatible: "
                     f"{', '.join(sorted(repr(b) for b in brands - {major})) or 'none'})")


def _sniff_ebml(head: bytes) -> FileType:
    """Matroska and WebM share the EBML header; its DocType element (ID 0x4282) tells them apart."""
    i = head.find(b"\x42\x82", 4, 64)
    if i >= 0 and i + 3 <= len(head):
        n = head[i + 2] & 0x7F  # one-byte size VINT covers every real DocType
        doctype = head[i + 3:i + 3 + n].rstrip(b"\x00")
        if doctype == b"webm":
            return _vid("video/webm", ".webm")
        if doctype == b"matroska":
            return _vid("video/x-matroska", ".mkv")
        raise MediaError(f"not an image or video: EBML document of type {doctype!r}")
    return _vid("video/x-matroska", ".mkv")


def _is_mpegts(head: bytes) -> bool:
    """MPEG-TS: 0x47 every 188 bytes; M2TS/MTS (AVCHD): 4-byte timecode then 0x47 every 192 bytes."""
    for start, step in ((0, 188), (4, 192)):
        marks = range(start, len(head), step)
        if len(marks) >= 2 and all(head[i] == 0x47 for i in marks):
            return True
    return False


def _jpeg_has_mpf(f: BinaryIO) -> bool:
    """Walk the JPEG marker segments before the image data looking for an APP2 'MPF\\0' (multi-picture)."""
    pos = 2
    for _ in range(64):
        f.seek(pos)
        hdr = f.read(4)
        if len(hdr) < 4 or hdr[0] != 0xFF:
            return False
        marker, length = hdr[1], struct.unpack(">H", hdr[2:])[0]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9 or length < 2:  # start of scan / end of image
            return False
        if marker == 0xE2 and f.read(4) == b"MPF\x00":
            return True
        pos += 2 + length
    return False


def _sniff_tiff(f: BinaryIO, head: bytes, ext: str) -> FileType:
    """TIFF-structured: plain TIFF, DNG, CR2, or a vendor RAW told apart by Make, CFA data and extension."""
    if head[8:10] == b"CR":
        return TIFF_RAW_BY_MAKE[5][1]
    if head[8:12] == b"IIII":
        return TIFF_RAW_BY_MAKE[6][1]  # Phase One IIQ
    bo = "<" if head[:2] == b"II" else ">"
    ifd0 = _read_ifd(f, bo, struct.unpack(bo + "I", head[4:8])[0])
    if 50706 in ifd0:
        return DNG
    make = _ascii_tag(f, bo, ifd0.get(271)).upper()
    by_make = next((ft for prefix, ft in TIFF_RAW_BY_MAKE if make.startswith(prefix)), None)
    # Sensor data in IFD0/SubIFDs proves a RAW; for a camera vendor's file, SubIFDs (330) or the vendor's private
    # data tag (50740, e.g. Sony SR2Private) in IFD0 is enough, which still works when the file is truncated.
    raw_data = _has_raw_data(f, bo, ifd0) or (by_make is not None and (330 in ifd0 or 50740 in ifd0))
    by_ext = TIFF_RAW_BY_EXT.get(ext)
    if by_ext is not None and by_ext is not DNG and (by_make is None or by_make == by_ext or not raw_data):
        return by_ext
    if raw_data:
        return by_make or GENERIC_TIFF_RAW
    return TIFF


_TAG = tuple[int, int, int, bytes]  # type, count, value/offset field (raw 4 bytes)


def _read_ifd(f: BinaryIO, bo: str, offset: int) -> dict[int, _TAG]:
    """Entries of one IFD (bounded to 512 entries); empty on any nonsense offset."""
    if offset < 8:
        return {}
    f.seek(offset)
    raw = f.read(2)
    if len(raw) < 2:
        return {}
    n = min(struct.unpack(bo + "H", raw)[0], 512)
    data = f.read(12 * n)
    out: dict[int, _TAG] = {}
    for i in range(len(data) // 12):
        tag, typ, count = struct.unpack(bo + "HHI", data[i * 12:i * 12 + 8])
        out[tag] = (typ, count, struct.unpack(bo + "I", data[i * 12 + 8:i * 12 + 12])[0], data[i * 12 + 8:i * 12 + 12])
    return out


def _short_or_long(bo: str, entry: _TAG | None) -> int | None:
    if entry is None:
        return None
    typ, _, value, raw = entry
    return struct.unpack(bo + "H", raw[:2])[0] if typ == 3 else value


def _ascii_tag(f: BinaryIO, bo: str, entry: _TAG | None) -> str:
    if entry is None or entry[0] != 2:
        return ""
    _, count, value, raw = entry
    if count <= 4:
        data = raw[:count]
    else:
        f.seek(value)
        data = f.read(min(count, 256))
    return data.split(b"\x00")[0].decode("latin-1").strip()


def _has_raw_data(f: BinaryIO, bo: str, ifd0: dict[int, _TAG]) -> bool:
    """True when IFD0 or one of its SubIFDs (tag 330) holds CFA/linear sensor data or vendor raw compression."""
    ifds = [ifd0]
    sub = ifd0.get(330)
    if sub is not None:
        typ, count, value, raw = sub
        if count == 1:
            offsets = [value]
        else:
            f.seek(value)
            blob = f.read(4 * min(count, 8))
            offsets = [struct.unpack(bo + "I", blob[i:i + 4])[0] for i in range(0, len(blob) - 3, 4)]
        ifds += [_read_ifd(f, bo, o) for o in offsets]
    return any(_short_or_long(bo, d.get(262)) in RAW_PHOTOMETRIC or _short_or_long(bo, d.get(259)) in RAW_COMPRESSION
               for d in ifds)


def _sniff_with_pillow(path: Path, ext: str) -> FileType | None:
    """Formats without a signature of ours: let Pillow's plugins identify them (headers only, no decode)."""
    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # identifying is not decoding: a bomb is still an image (decode refuses it)
    try:
        with Image.open(path) as im:
            fmt = im.format or ""
    except UnidentifiedImageError:
        return None
    except Exception:  # a plugin that recognised the header and then choked: not identifiable as media
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    exts = [e for e, f in Image.registered_extensions().items() if f == fmt]
    if fmt in PILLOW_REFUSED or (fmt in PILLOW_WEAK and ext not in exts):
        return None
    mime = Image.MIME.get(fmt) or PILLOW_EXTRA_MIME.get(fmt) or f"image/x-{fmt.lower()}"
    return _img(mime, ext if ext in exts else (exts[0] if exts else f".{fmt.lower()}"))


def _hex(head: bytes) -> str:
    return " ".join(f"{b:02X}" for b in head[:4])


def _describe(head: bytes) -> str:
    """A guess at what non-media content is, for the error message."""
    sample = head[:512]
    stripped = sample.lstrip()
    if stripped[:5].lower() in (b"<?xml", b"<svg ") or b"<svg" in sample[:256]:
        return "looks like SVG/XML" if b"<svg" in sample else "looks like XML"
    if (stripped[:1] == b"{" and stripped[1:].lstrip()[:1] in (b'"', b"}")
            or stripped[:1] == b"[" and stripped[1:].lstrip()[:1] in (b"{", b"[", b'"', b"]")) and _is_text(sample):
        return "looks like JSON"
    if stripped[:5].lower() in (b"<!doc", b"<html"):
        return "looks like HTML"
    if _is_text(sample):
        return "looks like plain text"
    return "unrecognised format"


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = set(string.printable)
    return sum(c in printable or ord(c) > 127 for c in text) >= 0.95 * max(len(text), 1)
