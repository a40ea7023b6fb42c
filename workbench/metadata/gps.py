"""GPS position and GPS timestamp from EXIF tags, and ISO 6709 strings from video containers.

Rules (each one a bug seen in real files):
- degrees/minutes/seconds rationals become signed decimal degrees using the N/S, E/W refs;
- tags present but empty (Immich's ``empty_gps.jpg``), a 0/0 rational, or out-of-range values give None;
- exactly (0, 0) is "no fix" from cheap cameras and phones, never a real photo in the Gulf of Guinea: None;
- altitude is negative when GPSAltitudeRef is 1 (below sea level); absurd values (an unsigned -12 read as
  4294967284, PhotoPrism's ``altitude.jpg``) are dropped;
- GPSDateStamp + GPSTimeStamp are UTC by definition, returned as an aware UTC datetime.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

from .exif import Tags

# Highest and lowest altitudes a camera can plausibly be at (aircraft to Dead Sea shore and below).
_MAX_ALT_M = 50_000.0
_MIN_ALT_M = -12_000.0


@dataclass
class GpsFix:
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    utc: datetime | None = None


def _rationals(t: Any) -> list[float] | None:
    if t is None or not isinstance(t.values, list) or not t.values:
        return None
    out: list[float] = []
    for v in t.values:
        try:
            if hasattr(v, "den"):
                if v.den == 0:
                    return None
                out.append(float(Fraction(v.num, v.den)))
            else:
                out.append(float(v))
        except (TypeError, ValueError):
            return None
    return out


def _ref(t: Any) -> str | None:
    if t is None:
        return None
    s = str(t.values if isinstance(t.values, str) else t.printable).strip().replace("\x00", "").upper()
    return s[:1] or None


def _dms_to_deg(parts: list[float] | None) -> float | None:
    if not parts:
        return None
    d = parts[0]
    m = parts[1] if len(parts) > 1 else 0.0
    s = parts[2] if len(parts) > 2 else 0.0
    return d + m / 60.0 + s / 3600.0


def valid_coords(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    """(lat, lon) when both are in range and not the (0, 0) no-fix marker, else None."""
    if lat is None or lon is None:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    if abs(lat) < 1e-7 and abs(lon) < 1e-7:
        return None
    return lat, lon


def parse_gps(tags: Tags) -> GpsFix:
    """Decimal position, altitude and UTC timestamp from exifread's 'GPS ...' tags."""
    fix = GpsFix()
    lat = _dms_to_deg(_rationals(tags.get("GPS GPSLatitude")))
    lon = _dms_to_deg(_rationals(tags.get("GPS GPSLongitude")))
    if lat is not None and lon is not None:
        if _ref(tags.get("GPS GPSLatitudeRef")) == "S":
            lat = -lat
        if _ref(tags.get("GPS GPSLongitudeRef")) == "W":
            lon = -lon
        ok = valid_coords(lat, lon)
        if ok:
            fix.lat, fix.lon = round(ok[0], 7), round(ok[1], 7)
    alt = _rationals(tags.get("GPS GPSAltitude"))
    if alt and fix.lat is not None:
        a = alt[0]
        ref = tags.get("GPS GPSAltitudeRef")
        try:
            below = ref is not None and int(ref.values[0] if isinstance(ref.values, list) else ref.values) == 1
        except (TypeError, ValueError, IndexError):
            below = False
        a = -a if below else a
        if _MIN_ALT_M <= a <= _MAX_ALT_M:
            fix.alt_m = round(a, 2) + 0.0  # never -0.0
    fix.utc = _gps_utc(tags)
    return fix


def _gps_utc(tags: Tags) -> datetime | None:
    date_t = tags.get("GPS GPSDate")
    time_parts = _rationals(tags.get("GPS GPSTimeStamp"))
    if date_t is None or not time_parts or len(time_parts) < 3:
        return None
    m = re.match(r"\s*(\d{4})[:\-](\d{2})[:\-](\d{2})", str(date_t.values))
    if not m:
        return None
    try:
        day = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=timezone.utc)
    except ValueError:
        return None
    h, mi, s = time_parts[:3]
    if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 61):
        return None
    return day + timedelta(hours=h, minutes=mi, seconds=s)


_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")


def parse_iso6709(text: str | None) -> tuple[float, float, float | None] | None:
    """'+37.7858-122.4064+012.345/' -> (37.7858, -122.4064, 12.345); decimal-degree form only, as phones write."""
    if not text:
        return None
    m = _ISO6709.match(text)
    if not m:
        return None
    lat, lon = float(m[1]), float(m[2])
    ok = valid_coords(lat, lon)
    if not ok:
        return None
    alt = float(m[3]) if m[3] else None
    if alt is not None and not (_MIN_ALT_M <= alt <= _MAX_ALT_M):
        alt = None
    return ok[0], ok[1], alt
