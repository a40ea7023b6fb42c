"""Choosing the capture date: which source wins, how offsets and time zones are found, what is rejected.

Priority (first acceptable candidate wins; every rejected one leaves a warning):

1. ``exif``           EXIF DateTimeOriginal (+ SubSecTimeOriginal, + OffsetTimeOriginal when present)
2. ``exif_digitized`` EXIF DateTimeDigitized (+ OffsetTimeDigitized)
3. ``xmp``            XMP exif:DateTimeOriginal, xmp:CreateDate, photoshop:DateCreated (date+time only)
4. ``gps``            GPSDateStamp + GPSTimeStamp: UTC, shown in the zone of the GPS position when known
5. ``video``          container creation time (Apple ``creationdate`` keeps its own offset; ``creation_time``
                      is UTC)
6. ``file_mtime``     the file's modification time, in the zone of the GPS position or else this machine's

``taken_at`` is always local wall-clock time. When the chosen value has no offset of its own but the file has
a GPS position, the IANA zone at that position (timezonefinder, offline) gives ``timezone`` and the offset
for that instant (DST-correct via zoneinfo), which is what Immich asserts for ``gps-datetime.jpg``. A UTC
source without a position stays in UTC with offset 0.

Rejected: unparsable strings ("0000:00:00 00:00:00", blanks), a time-only value (IPTC TimeCreated),
year < 1826 (before the first surviving photograph), later than now + ``settings.max_future_days``, and the
QuickTime/MP4 "unset" epochs 1904-01-01 and 1970-01-01 at midnight.
"""
from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

MIN_YEAR = 1826
_UNSET_EPOCHS = {datetime(1904, 1, 1), datetime(1970, 1, 1)}

_DATE_RE = re.compile(
    r"^\s*(\d{4,6})[:\-/.](\d{1,2})[:\-/.](\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?)?"
    r"\s*(Z|[+-]\d{1,2}:\d{2}|[+-]\d{2}(?:\d{2})?)?\s*$"
)
_OFFSET_RE = re.compile(r"^\s*(Z|[+-]\d{1,2}:\d{2}|[+-]\d{2}(?:\d{2})?)\s*$")


@dataclass
class Candidate:
    """One possible capture time: naive local time, its UTC offset if known, and where it came from."""

    local: datetime
    offset_min: int | None
    source: str
    label: str  # human wording for warnings, e.g. "EXIF DateTimeOriginal"
    raw_utc: datetime | None = None  # the UTC value before zone conversion, for the 'unset epoch' check


class DateRejected(ValueError):
    """A date string or value that must not be used; the message is the warning text."""


def parse_offset(text: str | None) -> int | None:
    """'+02:00', '-0700', 'Z' -> minutes east of UTC; None when absent or malformed."""
    if not text:
        return None
    m = _OFFSET_RE.match(text)
    if not m:
        return None
    return _offset_minutes(m[1])


def _offset_minutes(tok: str) -> int | None:
    if tok == "Z":
        return 0
    sign = -1 if tok[0] == "-" else 1
    if ":" in tok:
        h, m = tok[1:].split(":", 1)
        hours, minutes = int(h), int(m)
    else:
        hours = int(tok[1:3])
        minutes = int(tok[3:5]) if len(tok) >= 5 else 0
    if hours > 14 or minutes >= 60:
        return None
    return sign * (hours * 60 + minutes)


def parse_datetime(text: str, label: str, *, require_time: bool = True) -> tuple[datetime, int | None]:
    """Parse an EXIF/XMP/ISO date string into (naive wall time, offset minutes or None).

    Raises DateRejected with a readable reason; callers turn that into a warning.
    """
    m = _DATE_RE.match(text or "")
    if not m:
        raise DateRejected(f"taken_at rejected: {label} {text!r} is not a date")
    if m[4] is None and require_time:
        raise DateRejected(f"taken_at rejected: {label} {text!r} has no time of day")
    if int(m[1]) > 9999:  # e.g. QuickTime creation_time 42603-05-04: a corrupt 64-bit seconds field
        raise DateRejected(f"taken_at rejected: {label} {text.strip()} is in the future")
    frac = m[7] or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    try:
        dt = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(m[5] or 0), int(m[6] or 0), micro)
    except ValueError:
        raise DateRejected(f"taken_at rejected: {label} {text!r} is not a valid date") from None
    offset = _offset_minutes(m[8]) if m[8] else None
    return dt, offset


def with_subsec(dt: datetime, subsec: str | None) -> datetime:
    """Apply EXIF SubSecTime ('81' means .81 s) when the main value has no fraction."""
    if not subsec or dt.microsecond:
        return dt
    digits = "".join(ch for ch in subsec.strip() if ch.isdigit())
    if not digits:
        return dt
    return dt.replace(microsecond=int((digits + "000000")[:6]))


def check_plausible(c: Candidate, max_future_days: float, now: datetime | None = None) -> None:
    """Raise DateRejected when the candidate cannot be a real capture time."""
    shown = c.local.isoformat(sep=" ")
    if c.local.year < MIN_YEAR or (c.raw_utc is not None and c.raw_utc.year < MIN_YEAR):
        raise DateRejected(f"taken_at rejected: {c.label} {shown} is before {MIN_YEAR}")
    if c.local.replace(microsecond=0) in _UNSET_EPOCHS or (
        c.raw_utc is not None and c.raw_utc.replace(microsecond=0, tzinfo=None) in _UNSET_EPOCHS
    ):
        raise DateRejected(f"taken_at rejected: {c.label} {shown} is the container's 'unset' epoch")
    now = now or datetime.now(timezone.utc)
    utc = c.local - timedelta(minutes=c.offset_min or 0)
    if utc > now.replace(tzinfo=None) + timedelta(days=max_future_days):
        raise DateRejected(f"taken_at rejected: {c.label} {shown} is in the future")


_IMPORT_LOCK = threading.Lock()


def _timezone_finder_class() -> type:
    """timezonefinder's ``TimezoneFinder``, loaded with its C extension rather than numba where that is possible.

    Why: with numba installed (umap-learn needs it), timezonefinder compiles its point-in-polygon kernels with
    numba when its modules load, uncached: 0.58 s of CPU in every import worker, against 0.14 s with its own C
    extension, which answers the same (30,000 random positions gave identical zones at the same 1.8 us per query;
    ``tests/test_timezones.py``). timezonefinder picks numba when ``import numba`` succeeds, so while its modules
    load that import is made to fail. Only when numba is not loaded yet: a process already using numba keeps it.
    (Another thread importing numba in those 0.14 s would fail; our workers do not import it.)"""
    with _IMPORT_LOCK:
        if "numba" in sys.modules or "timezonefinder.timezonefinder" in sys.modules:
            from timezonefinder import TimezoneFinder
            return TimezoneFinder
        sys.modules["numba"] = None   # type: ignore[assignment]  # "import numba" raises ImportError
        try:
            from timezonefinder import TimezoneFinder   # the package is lazy: this loads its modules
        finally:
            if "numba" in sys.modules and sys.modules["numba"] is None:
                del sys.modules["numba"]
        return TimezoneFinder


@lru_cache(maxsize=1)
def _finder():
    return _timezone_finder_class()(in_memory=True)


@lru_cache(maxsize=4096)
def zone_at(lat: float, lon: float) -> str | None:
    """IANA zone name at a position (offline polygons), None at sea or on failure."""
    try:
        name = _finder().timezone_at(lat=lat, lng=lon)
    except Exception:
        return None
    if not name:
        return None
    try:
        ZoneInfo(name)
    except Exception:
        return None
    return name


def offset_in_zone(local: datetime, zone: str) -> int | None:
    """UTC offset in minutes that ``zone`` had at that local wall time."""
    try:
        off = local.replace(tzinfo=ZoneInfo(zone)).utcoffset()
    except Exception:
        return None
    return int(off.total_seconds() // 60) if off is not None else None


def utc_to_zone(utc: datetime, zone: str | None) -> tuple[datetime, int]:
    """Aware/naive UTC instant -> (naive local time, offset) in ``zone``, or UTC itself when zone is None."""
    utc_aware = utc if utc.tzinfo else utc.replace(tzinfo=timezone.utc)
    if zone:
        try:
            local = utc_aware.astimezone(ZoneInfo(zone))
            off = local.utcoffset()
            return local.replace(tzinfo=None), int(off.total_seconds() // 60) if off else 0
        except Exception:
            pass
    return utc_aware.astimezone(timezone.utc).replace(tzinfo=None), 0


@dataclass
class DateChoice:
    taken_at: datetime | None
    offset_min: int | None
    source: str | None
    timezone: str | None
    warnings: list[str]


def choose(candidates: list[Candidate], zone: str | None, max_future_days: float,
           pre_warnings: list[str] | None = None) -> DateChoice:
    """First plausible candidate wins; a missing offset is filled from the GPS zone when there is one."""
    warnings = list(pre_warnings or [])
    for c in candidates:
        try:
            check_plausible(c, max_future_days)
        except DateRejected as e:
            warnings.append(str(e))
            continue
        offset = c.offset_min
        if offset is None and zone:
            offset = offset_in_zone(c.local, zone)
        return DateChoice(c.local, offset, c.source, zone, warnings)
    return DateChoice(None, None, None, zone, warnings)


def local_from_timestamp(ts: float, zone: str | None) -> tuple[datetime, int]:
    """A POSIX timestamp as local time: in the GPS zone when known, else in this machine's zone."""
    if zone:
        return utc_to_zone(datetime.fromtimestamp(ts, timezone.utc), zone)
    local = datetime.fromtimestamp(ts).astimezone()
    off = local.utcoffset()
    return local.replace(tzinfo=None), int(off.total_seconds() // 60) if off else 0
