"""Pick the frames of a video worth embedding with CLIP, decoding as little as possible.

A video is searchable by what it shows, and a video shows several things: so we embed a handful of frames, not
one poster. The frames are

* scene changes: on a dense grid (every ``DENSE_STEP_S``, coarser for long videos so the grid has at most
  ``MAX_GRID_POINTS`` points) each sampled frame is reduced to a small grey image; when its mean absolute
  difference from the previous sample is >= ``settings.video_scene_change`` (0..255) it starts a new scene;
* regular frames: the first usable grid frame in every ``settings.video_frame_interval_s`` window, so long
  static shots are still represented over time.

Near-black frames (mean luma < ``settings.poster_min_luma`` and nearly flat) are never returned: fade-ins and
pocket shots say nothing. At most ``settings.video_max_frames`` are kept: all scene changes first (evenly thinned
if even they are too many), then regular frames, evenly thinned, to fill the rest. A decodable video always
gives at least one frame (the brightest sample when every sample is black; very short clips use a few evenly
spread samples).

Cost: grid frames are decoded forward while the next sample is near (within half the observed keyframe
interval, or ``SEQUENTIAL_GAP_S`` while that is still unknown), otherwise we seek to the keyframe before it and
decode at most ``MAX_FRAMES_PER_SEEK`` frames forward (so in long-GOP files samples drift towards keyframes,
which encoders place at cuts anyway); frame threading is on. After ``MAX_DECODED_FRAMES`` decoded frames the
remaining samples are just the keyframes before their times, so no video costs much more than that. Frames are converted straight to
``EMBED_LONG_EDGE`` px (CLIP reads 224 px) with square pixels, then turned by the display matrix like posters
(``workbench.imaging.video_frames``). Times are seconds from the start of the video stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.errors import MediaError
from workbench.imaging.video_frames import MIN_LUMA_STD, ffmpeg_message, ROTATIONS, video_stream, with_video
from workbench.settings import Settings

DENSE_STEP_S = 1.0          # scene changes are looked for at least this finely
MAX_GRID_POINTS = 120       # long videos get a coarser grid, so the work per video is bounded
SHORT_CLIP_POINTS = 4       # a clip shorter than a few grid steps is sampled at this many evenly spread times
SEQUENTIAL_GAP_S = 1.5      # decode forward rather than seek when the next sample is this close (GOP unknown)
MAX_FRAMES_PER_SEEK = 24    # after a seek never decode more than this forward (a long GOP cannot make it slow)
MAX_DECODED_FRAMES = 3000   # past this many decoded frames, later samples take the keyframe before their time
MAX_SEQUENTIAL_FRAMES = 3000  # no duration known: walk from the start, at most this many frames
EMBED_LONG_EDGE = 448       # returned frames: twice CLIP's 224 px input, so crops and resizes stay sharp
DIFF_WIDTH = 64             # scene-change statistics are computed on a grey frame this wide


@dataclass
class _Sample:
    time: float          # seconds from the stream start
    pts: int | None
    image: Image.Image   # upright RGB, EMBED_LONG_EDGE
    gray: np.ndarray     # DIFF_WIDTH-wide luma, float32
    black: bool
    scene_change: bool = False


def sample_video_frames(path: Path, settings: Settings) -> list[tuple[float, Image.Image]]:
    """Frames to embed for the video at ``path``: (seconds, upright RGB image), in time order, at least one and at
    most ``settings.video_max_frames``. Raises ``MediaError`` with a specific reason when it cannot be decoded."""
    samples = with_video(path, settings, lambda container, reopen: _samples(container, settings, reopen=reopen))
    chosen = _choose(samples, settings)
    return [(s.time, s.image) for s in chosen]


# --------------------------------------------------------------------------------------------------- decoding


def _samples(container, settings: Settings, reopen) -> list[_Sample]:  # noqa: ANN001 (av InputContainer)
    """Grid samples (seeking), or a bounded walk from the start when the duration is unknown or seeking failed.
    ``reopen`` gives a fresh container: after a failed seek some demuxers (raw H.264, broken MOV) return nothing."""
    stream, start, duration = video_stream(container, settings)
    tb = stream.time_base
    sar = stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio
    sar = float(sar) if sar and float(sar) > 0 else 1.0

    samples: list[_Sample] = []
    seen: set[int | None] = set()
    errors: list[str] = []

    def add(frame, t_est: float | None = None) -> None:  # noqa: ANN001
        if frame is None or (frame.pts in seen and frame.pts is not None):
            return
        seen.add(frame.pts)
        samples.append(_sample(frame, start, sar, settings, t_est))

    seeked = bool(duration and tb)
    if seeked:
        reader = _Reader(container, stream)
        for t in _grid(duration, settings):
            try:
                add(reader.at(start + t))
            except Exception as e:  # noqa: BLE001 - one bad GOP must not lose the others
                errors.append(f"decoding at {t:.1f} s failed: {ffmpeg_message(e)}")
                reader.reset()
    if not samples:  # no duration, no index, or seeking failed: walk from the start
        if seeked:
            with reopen() as fresh:
                walk = fresh.streams.video[0]
                walk.thread_type = "AUTO"
                _sequential(fresh, walk, add, errors)
        else:
            _sequential(container, stream, add, errors)
    if not samples:
        why = f" ({errors[-1]})" if errors else " (the file has no complete frame; truncated?)"
        raise MediaError(f"no decodable video frame{why}")
    samples.sort(key=lambda s: s.time)
    return samples


def _grid(duration: float, settings: Settings) -> list[float]:
    """Sample times: every DENSE_STEP_S (or the regular interval, if finer), coarser for very long videos."""
    step = max(min(DENSE_STEP_S, settings.video_frame_interval_s), duration / MAX_GRID_POINTS, 1e-3)
    times = list(np.arange(0.0, duration, step))
    if len(times) < SHORT_CLIP_POINTS:
        times = [duration * i / SHORT_CLIP_POINTS for i in range(SHORT_CLIP_POINTS)]
    return [float(t) for t in times]


class _Reader:
    """Frames at increasing times: decode forward when the next time is near, otherwise seek to its keyframe."""

    def __init__(self, container, stream) -> None:  # noqa: ANN001
        self.container, self.stream = container, stream
        self.frames = None       # live decode iterator, None after a reset
        self.last = None         # last frame decoded from it
        self.last_key: float | None = None
        self.gop: float = 0.0    # longest keyframe interval seen while decoding forward
        self.decoded = 0         # frames decoded so far, against MAX_DECODED_FRAMES

    def reset(self) -> None:
        self.frames, self.last, self.last_key = None, None, None

    def at(self, t_abs: float):  # noqa: ANN201 (av.VideoFrame | None)
        last_t = self.last.time if self.last is not None else None
        if last_t is not None and last_t >= t_abs:
            return self.last                         # already there (long frame or deduped later)
        over = self.decoded >= MAX_DECODED_FRAMES
        # Forward is cheaper than a seek unless the keyframes are closer together than twice the gap.
        near = self.gop / 2 if self.gop else SEQUENTIAL_GAP_S
        if over or self.frames is None or last_t is None or t_abs - last_t > near:
            self.container.seek(max(0, int(t_abs / self.stream.time_base)), stream=self.stream, backward=True,
                                any_frame=False)
            self.frames, self.last, self.last_key = self.container.decode(self.stream), None, None
            budget = 1 if over else MAX_FRAMES_PER_SEEK  # over budget: the keyframe itself will do
        else:
            budget = None                            # continuing forward: we chose this because it is cheap
        n = 0
        for frame in self.frames:
            n += 1
            self.decoded += 1
            self.last = frame
            if frame.key_frame and frame.time is not None:
                if self.last_key is not None:
                    self.gop = max(self.gop, frame.time - self.last_key)
                self.last_key = frame.time
            if frame.time is None or frame.time >= t_abs or (budget is not None and n >= budget):
                return frame
        return self.last                             # end of stream: the last frame is the closest


def _sequential(container, stream, add, errors: list[str]) -> None:  # noqa: ANN001
    """Decode from the current position (the start) and take one frame per DENSE_STEP_S, at most
    MAX_SEQUENTIAL_FRAMES decoded. Frames without timestamps (raw elementary streams) are timed by the frame rate."""
    rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
    next_t = 0.0
    try:
        for n, frame in enumerate(container.decode(stream)):
            if n >= MAX_SEQUENTIAL_FRAMES:
                break
            t = float(frame.time) if frame.time is not None else None
            t_est = t if t is not None else n / rate
            if t_est >= next_t:
                add(frame, None if t is not None else t_est)
                next_t = t_est + DENSE_STEP_S
    except Exception as e:  # noqa: BLE001
        errors.append(f"decoding from the start failed: {ffmpeg_message(e)}")


def _sample(frame, start: float, sar: float, settings: Settings,  # noqa: ANN001
            t_est: float | None = None) -> _Sample:
    """Reduce a decoded frame to the embedding image (upright, square pixels) and its scene statistics."""
    dw = frame.width * sar  # display width before rotation
    scale = min(1.0, EMBED_LONG_EDGE / max(dw, frame.height, 1))
    w, h = max(2, round(dw * scale)), max(2, round(frame.height * scale))
    img = frame.reformat(width=w, height=h, format="rgb24").to_image()
    rotation = int(round(getattr(frame, "rotation", 0) or 0))
    if rotation in ROTATIONS:
        img = img.transpose(ROTATIONS[rotation])
    gw = min(DIFF_WIDTH, img.width)
    gray = np.asarray(img.convert("L").resize((gw, max(1, round(img.height * gw / img.width))),
                                              Image.Resampling.BILINEAR), np.float32)
    black = float(gray.mean()) < settings.poster_min_luma and float(gray.std()) < MIN_LUMA_STD
    t = max(0.0, float(frame.time) - start) if frame.time is not None else (t_est or 0.0)
    return _Sample(t, frame.pts, img, gray, black)


# -------------------------------------------------------------------------------------------------- selection


def _choose(samples: list[_Sample], settings: Settings) -> list[_Sample]:
    """Scene changes first, then one per regular interval, evenly thinned to video_max_frames; never black."""
    limit = max(1, settings.video_max_frames)
    prev = None
    for s in samples:
        if prev is not None and not s.black:
            s.scene_change = float(np.abs(s.gray - prev.gray).mean()) >= settings.video_scene_change
        prev = s
    usable = [s for s in samples if not s.black]
    if not usable:
        return [max(samples, key=lambda s: float(s.gray.mean()))]
    interval = max(settings.video_frame_interval_s, 1e-3)
    regular: list[_Sample] = []
    window = -1
    for s in usable:
        if int(s.time // interval) != window:
            window = int(s.time // interval)
            regular.append(s)
    scenes = [s for s in usable if s.scene_change]
    regular = [s for s in regular if not s.scene_change]
    chosen = _thin(scenes, limit)
    chosen += _thin(regular, limit - len(chosen))
    return sorted(chosen, key=lambda s: s.time)


def _thin(items: list[_Sample], n: int) -> list[_Sample]:
    """n items spread evenly over the list (first and last included), or all of them when they fit."""
    if n <= 0:
        return []
    if len(items) <= n:
        return list(items)
    if n == 1:
        return [items[len(items) // 2]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]
