"""The metadata record every extractor fills, whatever the file format."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class MediaMetadata:
    """What we know about one file's content, before it enters the catalog.

    ``width``/``height`` are the *upright* (as displayed) pixel dimensions, after EXIF/XMP/container
    orientation. ``taken_at`` is the local wall-clock time of capture (naive); ``taken_at_offset_min`` is its
    UTC offset in minutes when known, else None. ``taken_at_source`` says where the date came from:
    ``exif`` (DateTimeOriginal), ``exif_digitized``, ``xmp``, ``gps``, ``video`` (container creation time) or
    ``file_mtime``. ``orientation`` is the 1..8 EXIF value as stored in the file (or from XMP), None when the
    file has none. ``warnings`` are recorded in the ``errors`` table (stage ``metadata``) without failing the
    import, e.g. a rejected far-future date.
    """

    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    taken_at: datetime | None = None
    taken_at_offset_min: int | None = None
    taken_at_source: str | None = None
    timezone: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    exposure_time_s: float | None = None
    f_number: float | None = None
    iso: int | None = None
    focal_length_mm: float | None = None
    orientation: int | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    gps_alt_m: float | None = None
    warnings: list[str] = field(default_factory=list)
