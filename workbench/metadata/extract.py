"""One call per imported file: ``extract_metadata(path, kind, mime)`` -> ``MediaMetadata``.

Contract: headers only (no pixel or frame decoding); bad or missing metadata never raises, it yields None
fields and, when something was discarded, a line in ``warnings``. ``MediaError`` is raised only when the file
cannot be parsed at all as the claimed kind (empty, unreadable, not an image/video container). The rules for
each field live in the module that computes it: ``image`` (upright size, HEIF rule), ``exif``, ``xmp``,
``gps``, ``dates`` (date priority and zones), ``video``.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ..errors import MediaError
from ..settings import Settings
from . import dates as D
from .exif import ExifFields, parse_exif_fields, read_exif_tags, tags_from_exif_block
from .gps import GpsFix, parse_gps, parse_iso6709, valid_coords
from .image import probe_image, swaps_axes
from .types import MediaMetadata
from .video import probe_video
from .xmp import XmpFields, parse_xmp


def extract_metadata(path: Path, kind: str, mime: str, settings: Settings | None = None) -> MediaMetadata:
    """Everything we know about ``path`` from its headers; see the module docstring for the contract."""
    settings = settings or Settings()
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise MediaError(f"cannot read file: {e.strerror or e}") from None
    if st.st_size == 0:
        raise MediaError("file is empty (0 bytes)")
    if kind == "image":
        md = _extract_image(path, mime, settings)
    elif kind == "video":
        md = _extract_video(path, mime, settings)
    else:
        raise MediaError(f"unsupported media kind {kind!r}")
    if md.taken_at is None:
        _use_mtime(md, float(int(st.st_mtime)))  # whole seconds, like a camera clock
    return md


def _use_mtime(md: MediaMetadata, mtime: float) -> None:
    """Last resort: the file's modification time, in the GPS zone when we know it."""
    local, offset = D.local_from_timestamp(mtime, md.timezone)
    md.taken_at, md.taken_at_offset_min, md.taken_at_source = local, offset, "file_mtime"


def _extract_image(path: Path, mime: str, settings: Settings) -> MediaMetadata:
    probe = probe_image(path, mime)  # raises MediaError for a non-image
    md = MediaMetadata(warnings=list(probe.warnings))
    try:
        tags, note = read_exif_tags(path, mime)
        if not tags and probe.exif:
            tags = tags_from_exif_block(probe.exif)
        if note:
            md.warnings.append(note)
        ex = parse_exif_fields(tags)
        fix = parse_gps(tags)
    except Exception as e:  # belt and braces: metadata must never fail the import
        md.warnings.append(f"EXIF ignored: {type(e).__name__}: {e}")
        ex, fix = ExifFields(), GpsFix()
    xmp = None
    try:
        xmp = parse_xmp(probe.xmp)
    except Exception as e:
        md.warnings.append(f"XMP ignored: {type(e).__name__}: {e}")

    md.camera_make, md.camera_model, md.lens = ex.make, ex.model, ex.lens
    md.exposure_time_s, md.f_number, md.iso, md.focal_length_mm = (
        ex.exposure_time_s, ex.f_number, ex.iso, ex.focal_length_mm)

    # Orientation as stored: EXIF, else what Pillow found (PNG raw profiles, AVIF irot), else XMP.
    md.orientation = ex.orientation or probe.orientation or (xmp.orientation if xmp else None)
    if probe.width and probe.height:
        pending = None if probe.upright else (probe.orientation or ex.orientation or (xmp.orientation if xmp else None))
        if swaps_axes(pending):
            md.width, md.height = probe.height, probe.width
        else:
            md.width, md.height = probe.width, probe.height

    if fix.lat is not None:
        md.gps_lat, md.gps_lon, md.gps_alt_m = fix.lat, fix.lon, fix.alt_m
    elif xmp and valid_coords(xmp.lat, xmp.lon):
        md.gps_lat, md.gps_lon = xmp.lat, xmp.lon
    zone = D.zone_at(md.gps_lat, md.gps_lon) if md.gps_lat is not None else None

    candidates, pre = _image_date_candidates(ex, xmp, fix, zone)
    _apply_choice(md, D.choose(candidates, zone, settings.max_future_days, pre))
    return md


def _exif_candidate(raw: str | None, subsec: str | None, offset: str | None, source: str,
                    label: str, pre: list[str]) -> D.Candidate | None:
    if not raw:
        return None
    try:
        local, own_offset = D.parse_datetime(raw, label)
    except D.DateRejected as e:
        pre.append(str(e))
        return None
    off = D.parse_offset(offset)
    return D.Candidate(D.with_subsec(local, subsec), off if off is not None else own_offset, source, label)


def _image_date_candidates(ex: ExifFields, xmp: XmpFields | None, fix: GpsFix, zone: str | None) -> tuple[list[D.Candidate], list[str]]:
    """Candidates in priority order; unparsable strings are reported in ``pre``."""
    pre: list[str] = []
    out: list[D.Candidate] = []
    for c in (
        _exif_candidate(ex.date_original, ex.subsec_original, ex.offset_original, "exif",
                        "EXIF DateTimeOriginal", pre),
        _exif_candidate(ex.date_digitized, ex.subsec_digitized, ex.offset_digitized, "exif_digitized",
                        "EXIF DateTimeDigitized", pre),
    ):
        if c:
            out.append(c)
    for key, raw in (xmp.dates or []) if xmp else []:
        c = _exif_candidate(raw, None, None, "xmp", f"XMP {key}", pre)
        if c:
            out.append(c)
    gps_utc, gps_label = fix.utc, "GPS date/time"
    if gps_utc is None and xmp is not None and xmp.gps_timestamp:
        gps_label = "XMP exif:GPSTimeStamp"
        try:
            naive, off = D.parse_datetime(xmp.gps_timestamp, gps_label)
            gps_utc = naive - timedelta(minutes=off or 0)
        except D.DateRejected as e:
            pre.append(str(e))
    if gps_utc is not None:
        local, offset = D.utc_to_zone(gps_utc, zone)
        out.append(D.Candidate(local, offset, "gps", gps_label, raw_utc=gps_utc))
    return out, pre


def _apply_choice(md: MediaMetadata, choice: D.DateChoice) -> None:
    md.taken_at, md.taken_at_offset_min, md.taken_at_source = choice.taken_at, choice.offset_min, choice.source
    md.timezone = choice.timezone
    md.warnings.extend(choice.warnings)


def _extract_video(path: Path, mime: str, settings: Settings) -> MediaMetadata:
    p = probe_video(path, mime)  # raises MediaError for a non-video
    md = MediaMetadata(width=p.width, height=p.height, duration_s=p.duration_s, fps=p.fps,
                       video_codec=p.video_codec, audio_codec=p.audio_codec, warnings=list(p.warnings))
    md.camera_make, md.camera_model = p.make, p.model
    loc = parse_iso6709(p.location)
    if loc:
        md.gps_lat, md.gps_lon, md.gps_alt_m = loc
    zone = D.zone_at(md.gps_lat, md.gps_lon) if md.gps_lat is not None else None

    pre: list[str] = []
    candidates: list[D.Candidate] = []
    if p.apple_creationdate:
        try:
            local, off = D.parse_datetime(p.apple_creationdate, "QuickTime CreationDate")
            candidates.append(D.Candidate(local, off, "video", "QuickTime CreationDate"))
        except D.DateRejected as e:
            pre.append(str(e))
    if p.creation_time:
        label = "QuickTime creation_time" if p.is_quicktime_family else "container creation_time"
        try:
            raw, off = D.parse_datetime(p.creation_time, label)
            if off is None and p.is_quicktime_family:
                off = 0  # QuickTime/MP4 mvhd times are UTC by definition
            if off is not None:
                utc = raw - timedelta(minutes=off)
                local, offset = D.utc_to_zone(utc, zone)
                candidates.append(D.Candidate(local, offset, "video", label, raw_utc=utc))
            else:
                candidates.append(D.Candidate(raw, None, "video", label))
        except D.DateRejected as e:
            pre.append(str(e))
    _apply_choice(md, D.choose(candidates, zone, settings.max_future_days, pre))
    return md
