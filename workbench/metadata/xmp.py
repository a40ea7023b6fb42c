"""Fields we take from an embedded XMP packet: orientation, capture dates, GPS position.

Why: PNG and some edited JPEG/WebP/AVIF files carry orientation only as ``tiff:Orientation`` in XMP (Pillow's
``exif_transpose`` honours it too, see Pillow's ``xmp_tags_orientation.png``), and files exported by Lightroom,
Photoshop or Apple Photos may keep the capture date only in XMP. Values can be rdf:Description attributes or
child elements; both are read. Parsing uses defusedxml, so a hostile packet cannot expand entities.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from defusedxml import ElementTree as DET

NS = {
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
}
# Dates in the order they are trusted: the capture moment first, then file-creation style dates.
DATE_KEYS = ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate")
_WANTED = {"{%s}%s" % (NS[k.split(":")[0]], k.split(":")[1]): k
           for k in ("tiff:Orientation", "exif:GPSLatitude", "exif:GPSLongitude", "exif:GPSTimeStamp", *DATE_KEYS)}
_MAX_XMP_BYTES = 4 * 1024 * 1024


@dataclass
class XmpFields:
    orientation: int | None = None
    dates: list[tuple[str, str]] | None = None  # (key, raw value) in DATE_KEYS order
    lat: float | None = None
    lon: float | None = None
    gps_timestamp: str | None = None  # exif:GPSTimeStamp, an ISO date-time in UTC (ExifTool writes it so)


def _packet(raw: bytes | str) -> str | None:
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    start = text.find("<x:xmpmeta")
    if start < 0:
        start = text.find("<rdf:RDF")
    if start < 0:
        return None
    end_tag = "</x:xmpmeta>" if text.startswith("<x:xmpmeta", start) else "</rdf:RDF>"
    end = text.find(end_tag, start)
    if end < 0:
        return None
    return text[start:end + len(end_tag)]


def _xmp_coord(text: str) -> float | None:
    """XMP GPSCoordinate 'DDD,MM.mmmR' or 'DDD,MM,SSR' (R in NSEW) -> signed degrees."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?\s*([NSEW])\s*$", text or "")
    if not m:
        return None
    v = float(m[1]) + float(m[2]) / 60 + (float(m[3]) / 3600 if m[3] else 0.0)
    return -v if m[4] in "SW" else v


def parse_xmp(raw: bytes | str | None) -> XmpFields | None:
    """Parse an XMP packet; None when absent or not well-formed XML."""
    if not raw or len(raw) > _MAX_XMP_BYTES:
        return None
    packet = _packet(raw)
    if packet is None:
        return None
    try:
        root = DET.fromstring(packet)
    except Exception:  # ParseError, defusedxml's EntitiesForbidden, ...
        return None
    found: dict[str, str] = {}
    for el in root.iter():
        for attr, value in el.attrib.items():
            key = _WANTED.get(attr)
            if key and key not in found and value.strip():
                found[key] = value.strip()
        key = _WANTED.get(el.tag) if isinstance(el.tag, str) else None
        if key and key not in found:
            text = (el.text or "").strip()
            if not text:  # rdf:Seq/rdf:li wrappers
                text = next(((li.text or "").strip() for li in el.iter() if (li.text or "").strip()), "")
            if text:
                found[key] = text
    out = XmpFields()
    o = found.get("tiff:Orientation")
    if o and o.isdigit() and 1 <= int(o) <= 8:
        out.orientation = int(o)
    out.dates = [(k, found[k]) for k in DATE_KEYS if k in found]
    out.gps_timestamp = found.get("exif:GPSTimeStamp")
    lat, lon = found.get("exif:GPSLatitude"), found.get("exif:GPSLongitude")
    if lat and lon:
        out.lat, out.lon = _xmp_coord(lat), _xmp_coord(lon)
    return out
