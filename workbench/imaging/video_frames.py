"""Pick a representative, upright poster frame from a video without decoding much of it.

Videos often open on black (fade-ins, lens cap, a pocket), so the first frame makes a poor thumbnail. We sample
``settings.poster_candidates`` times spread over the duration after the first second, seek to the keyframe
before each, decode forward to that time (at most ``MAX_FRAMES_PER_CANDIDATE`` frames, so a long GOP cannot make
it slow), and return the first candidate that is bright enough (mean luma >= ``poster_min_luma``) and not flat
(luma std >= ``MIN_LUMA_STD``: a uniform grey or white card is as useless as black). If none qualifies, the
brightest candidate wins. Containers that cannot seek are read from the start instead, a bounded number of frames.

Rotation: phones record landscape sensor data plus a display matrix; PyAV 18 exposes its rotation as
``VideoFrame.rotation`` (degrees counter-clockwise, the FFmpeg ``av_display_rotation_get`` convention), which we
apply so portrait clips come out portrait. Non-square pixels (sample aspect ratio, e.g. AVCHD 1440x1080) are
resized to display proportions.

The returned time is in seconds from the start of the video stream (the stream's start_time subtracted).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pathlib import Path

import numpy as np
from PIL import Image

from workbench.errors import MediaError
from workbench.imaging.decode import configure_pillow
from workbench.settings import Settings

MIN_LUMA_STD = 6.0           # below this a frame is a flat card (black, grey, white), not a picture
SKIP_INTRO_S = 1.0           # fade-ins live in the first second
MAX_FRAMES_PER_CANDIDATE = 48  # decode at most this many frames forward from a keyframe per candidate
MAX_SEQUENTIAL_FRAMES = 300  # when seeking is impossible, never decode more than this from the start
STATS_WIDTH = 160            # luma statistics are computed on a frame scaled to this width

ROTATIONS = {90: Image.Transpose.ROTATE_90, -90: Image.Transpose.ROTATE_270, 270: Image.Transpose.ROTATE_270,
              -270: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, -180: Image.Transpose.ROTATE_180}


def poster_frame(path: Path, settings: Settings | None = None) -> tuple[Image.Image, float]:
    """An upright RGB poster frame of the video at ``path`` and its time in seconds; MediaError if undecodable."""
    settings = settings or Settings()
    return with_video(path, settings, lambda container, _reopen: _poster(container, settings))


def frames_at(path: Path, times_s: list[float], settings: Settings | None = None, *,
              max_frames: int = MAX_FRAMES_PER_CANDIDATE) -> list[Image.Image | None]:
    """Upright RGB frames at these times (seconds from the video stream's start); None where none decodes.
    ``max_frames`` bounds the decoding after each seek's keyframe: a poster can stop early, comparing two
    encodes frame for frame cannot."""
    settings = settings or Settings()

    def work(container, _reopen):  # noqa: ANN001, ANN202
        stream, start, _ = video_stream(container, settings)
        sar = stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio
        out: list[Image.Image | None] = []
        for t in times_s:
            frame = _frame_at(container, stream, start + t, max_frames)
            out.append(upright_frame(frame, sar) if frame is not None else None)
        return out
    return with_video(path, settings, work)


def frame_image(path: Path, t_s: float, settings: Settings | None = None) -> Image.Image:
    """The upright RGB frame shown ``t_s`` seconds into the video (e.g. where a face was found)."""
    frame = frames_at(path, [t_s], settings)[0]
    if frame is None:
        raise MediaError(f"no frame could be decoded at {t_s:.2f} s")
    return frame


def frames_at_fractions(path: Path, fractions: tuple[float, ...], settings: Settings | None = None) -> list[Image.Image]:
    """Upright RGB frames at these fractions of the video's duration (e.g. for a re-encode-proof signature)."""
    settings = settings or Settings()

    def work(container, _reopen):  # noqa: ANN001, ANN202
        stream, start, duration = video_stream(container, settings)
        if not duration:
            raise MediaError("the video's duration is unknown, so frames cannot be taken at fixed fractions")
        sar = stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio
        out = []
        for f in fractions:
            frame = _frame_at(container, stream, start + f * duration)
            if frame is not None:
                out.append(upright_frame(frame, sar))
        if not out:
            raise MediaError("no frame could be decoded for the video signature")
        return out
    return with_video(path, settings, work)


def with_video(path: Path, settings: Settings, work):  # noqa: ANN001, ANN201 (callable(container, reopen) -> T)
    """Open ``path`` with PyAV and run ``work(container, reopen)``; every FFmpeg/PyAV failure becomes a MediaError
    with a reason. ``reopen()`` gives a fresh container (some demuxers return nothing after a failed seek).
    Shared by the poster frame and the frame sampler, so both refuse the same files in the same words."""
    import av

    configure_pillow(settings)
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise MediaError(f"not a readable video: {ffmpeg_message(e)}") from None
    except Exception as e:  # noqa: BLE001 - anything else FFmpeg/PyAV throws still needs a reason
        raise MediaError(f"not a readable video: {type(e).__name__}: {e}") from None
    with ffmpeg_errors("video decode failed"), container:
        return work(container, lambda: av.open(str(path)))


@contextmanager
def ffmpeg_errors(what: str) -> Iterator[None]:
    """Turn every FFmpeg/PyAV failure inside the block into a MediaError saying ``what`` failed and why."""
    import av
    try:
        yield
    except MediaError:
        raise
    except av.FFmpegError as e:
        raise MediaError(f"{what}: {ffmpeg_message(e)}") from None
    except Exception as e:  # noqa: BLE001 - anything else FFmpeg/PyAV throws still needs a reason
        raise MediaError(f"{what}: {type(e).__name__}: {e}") from None


def video_stream(container, settings: Settings):  # noqa: ANN001, ANN201 (av InputContainer -> VideoStream, ...)
    """The first video stream, threaded, checked for size; with its start time and duration in seconds.

    Shared by the poster frame and the frame sampler for embeddings, so both refuse the same files the same way.
    """
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise MediaError(f"no video stream in this file (it has: {', '.join(kinds)})")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    w, h = stream.codec_context.width, stream.codec_context.height
    if w * h > settings.max_image_megapixels * 1_000_000:
        raise MediaError(f"decompression bomb: video frames of {w}x{h} = {w * h / 1e6:.1f} megapixels exceed "
                         f"max_image_megapixels={settings.max_image_megapixels:g}")
    tb = stream.time_base
    start = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
    return stream, start, _duration_s(container, stream)


def _poster(container, settings: Settings) -> tuple[Image.Image, float]:  # noqa: ANN001 (av InputContainer)
    stream, start, duration = video_stream(container, settings)
    tb = stream.time_base

    candidates: list[tuple[float, float, object]] = []  # (luma, std, frame)
    errors: list[str] = []
    if duration and tb:
        seen: set[int | None] = set()
        for t in _candidate_times(duration, max(1, settings.poster_candidates)):
            try:
                frame = _frame_at(container, stream, start + t)
            except Exception as e:  # noqa: BLE001 - one bad GOP must not lose the others
                errors.append(f"seeking to {t:.1f} s and decoding failed: {ffmpeg_message(e)}")
                continue
            if frame is None or frame.pts in seen:
                continue
            seen.add(frame.pts)
            luma, std = _luma_stats(frame)
            candidates.append((luma, std, frame))
            if luma >= settings.poster_min_luma and std >= MIN_LUMA_STD:
                return upright_frame(frame, stream.codec_context.sample_aspect_ratio), _rel_time(frame, start, t)
    sar = stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio
    if not candidates:  # no duration, no index, or seeking failed: walk from the start
        found, candidates = _sequential(container, stream, settings, errors)
        if found is not None:
            return upright_frame(found, sar), _rel_time(found, start, 0.0)
    if not candidates:
        why = f" ({errors[-1]})" if errors else " (the file has no complete frame; truncated?)"
        raise MediaError(f"no decodable video frame{why}")
    luma, std, frame = max(candidates, key=lambda c: c[0])
    return upright_frame(frame, sar), _rel_time(frame, start, 0.0)


def _candidate_times(duration: float, n: int) -> list[float]:
    """n times spread over [intro, 95% of duration]; short clips keep a proportionally shorter intro."""
    intro = min(SKIP_INTRO_S, duration * 0.1)
    end = max(intro, duration * 0.95)
    if n == 1:
        return [intro + (end - intro) / 2]
    return [intro + (end - intro) * i / (n - 1) for i in range(n)]


def _duration_s(container, stream) -> float | None:  # noqa: ANN001
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _frame_at(container, stream, t_abs: float,  # noqa: ANN001, ANN202
              max_frames: int = MAX_FRAMES_PER_CANDIDATE):
    """Seek to the keyframe at or before t_abs and decode forward to it (at most ``max_frames`` frames)."""
    container.seek(max(0, int(t_abs / stream.time_base)), stream=stream, backward=True, any_frame=False)
    frame = None
    for n, frame in enumerate(container.decode(stream), start=1):
        if frame.time is None or frame.time >= t_abs or n >= max_frames:
            return frame
    return frame


def _sequential(container, stream, settings: Settings, errors: list[str]):  # noqa: ANN001, ANN202
    """Decode from the start, checking every few frames: (good frame or None, all checked candidates)."""
    checked: list[tuple[float, float, object]] = []
    try:
        container.seek(0)
    except Exception:  # noqa: BLE001 - not seekable at all: we are at the start anyway
        pass
    step = 10
    try:
        for n, frame in enumerate(container.decode(stream)):
            if n >= MAX_SEQUENTIAL_FRAMES:
                break
            if n % step:
                continue
            luma, std = _luma_stats(frame)
            checked.append((luma, std, frame))
            if luma >= settings.poster_min_luma and std >= MIN_LUMA_STD:
                return frame, checked
    except Exception as e:  # noqa: BLE001
        errors.append(f"decoding from the start failed: {ffmpeg_message(e)}")
    return None, checked


def _luma_stats(frame) -> tuple[float, float]:  # noqa: ANN001
    """Mean and standard deviation of luma (0..255) on a small grey copy of the frame."""
    w = min(STATS_WIDTH, frame.width)
    h = max(1, round(frame.height * w / max(frame.width, 1)))
    gray = frame.reformat(width=w, height=h, format="gray").to_ndarray().astype(np.float32)
    return float(gray.mean()), float(gray.std())


def upright_frame(frame, sar) -> Image.Image:  # noqa: ANN001
    """RGB image turned by the display matrix and stretched to square pixels (sar: sample aspect ratio)."""
    img = frame.to_image()
    if sar and float(sar) > 0 and abs(float(sar) - 1) > 0.01:
        img = img.resize((max(1, round(img.width * float(sar))), img.height), Image.Resampling.BICUBIC)
    rotation = int(round(getattr(frame, "rotation", 0) or 0))
    if rotation in ROTATIONS:
        img = img.transpose(ROTATIONS[rotation])
    return img.convert("RGB")


def _rel_time(frame, start: float, fallback: float) -> float:  # noqa: ANN001
    return max(0.0, float(frame.time) - start) if frame.time is not None else fallback


def ffmpeg_message(e: BaseException) -> str:
    """FFmpeg's own words without the file path PyAV appends."""
    msg = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return str(msg)
