"""Video facts from a PyAV container probe (no frame is decoded) plus the MP4/MOV track header.

- Size: the first video stream's coded width/height, swapped when the display rotation is 90 or 270. PyAV 18
  does not expose the display matrix, so for MP4/MOV we read it from ``tkhd`` (see ``bmff``); other
  containers may still carry a legacy ``rotate`` stream tag.
- Duration: the container's, else the video stream's. FPS: average frame rate, else the guessed rate.
- Dates: Apple ``com.apple.quicktime.creationdate`` (local time with its own offset) is preferred over the
  container ``creation_time``, which QuickTime defines as UTC (ffmpeg prints it with a ``Z``). AVI/MKV dates
  without a zone are taken as local wall time with an unknown offset.
- Location: Apple ``com.apple.quicktime.location.ISO6709`` or the generic ``location`` tag (ISO 6709).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MediaError
from .bmff import read_moov, video_track_rotation


@dataclass
class VideoProbe:
    width: int | None = None
    height: int | None = None
    rotation: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    is_quicktime_family: bool = False
    apple_creationdate: str | None = None
    creation_time: str | None = None
    location: str | None = None
    make: str | None = None
    model: str | None = None
    warnings: list[str] = field(default_factory=list)


def _first(meta: dict[str, str], *keys: str) -> str | None:
    lowered = {k.lower(): v for k, v in meta.items()}
    for k in keys:
        v = lowered.get(k.lower())
        if v and v.strip():
            return v.strip()
    return None


def probe_video(path: Path, mime: str) -> VideoProbe:
    """Open the container, read stream parameters and tags; MediaError if it is not a readable video."""
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception as e:  # av.error.InvalidDataError, EOFError, PermissionError, ...
        raise MediaError(f"not a readable video container ({mime}): {e}") from None
    try:
        vstreams = list(container.streams.video)
        p = VideoProbe()
        vs = vstreams[0] if vstreams else None
        if vs is None:
            # Still a valid container (Immich's future42603.mp4 is one): keep its tags, report the gap.
            p.warnings.append("container has no video stream: size, fps and codec unknown")
        cc = vs.codec_context if vs is not None else None
        p.video_codec = cc.name if cc is not None else None
        p.width = (cc.width if cc is not None else None) or None
        p.height = (cc.height if cc is not None else None) or None
        astreams = list(container.streams.audio)
        if astreams and astreams[0].codec_context is not None:
            p.audio_codec = astreams[0].codec_context.name
        if container.duration and container.duration > 0:
            p.duration_s = round(container.duration / 1_000_000, 3)
        elif vs is not None and vs.duration and vs.time_base:
            p.duration_s = round(float(vs.duration * vs.time_base), 3)
        rate = (vs.average_rate or vs.guessed_rate) if vs is not None else None
        if rate:
            fps = float(rate)
            p.fps = round(fps, 3) if 0 < fps < 10_000 else None
        fmt = container.format.name or ""
        p.is_quicktime_family = "mov" in fmt or "mp4" in fmt
        meta = dict(container.metadata)
        smeta = dict(vs.metadata) if vs is not None else {}
        p.apple_creationdate = _first(meta, "com.apple.quicktime.creationdate")
        p.creation_time = _first(meta, "creation_time", "date") or _first(smeta, "creation_time")
        p.location = _first(meta, "com.apple.quicktime.location.ISO6709", "location", "location-eng")
        p.make = _first(meta, "com.apple.quicktime.make", "make")
        p.model = _first(meta, "com.apple.quicktime.model", "model")
        legacy_rotate = _first(smeta, "rotate")
    finally:
        container.close()
    if p.is_quicktime_family:
        try:
            with open(path, "rb") as fh:
                moov = read_moov(fh)
            p.rotation = video_track_rotation(moov) if moov else None
        except OSError:
            p.rotation = None
    if p.rotation is None and legacy_rotate:
        try:
            p.rotation = int(float(legacy_rotate)) % 360
        except ValueError:
            pass
    if p.rotation in (90, 270) and p.width and p.height:
        p.width, p.height = p.height, p.width
    return p
