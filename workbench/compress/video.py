"""Re-encode a video with PyAV: H.264, H.265, AV1 (SVT-AV1), VP9 or an animated GIF, keeping what matters.

``transcode(src, dst, codec, crf=..., max_side_px=..., preset=...)`` decodes the first video stream (and the
first audio stream), re-encodes it with the encoder in ``ENCODERS`` and writes the container that codec lives in
(mp4 for h264/h265/av1, webm for vp9, and for av1 too when ``dst`` ends in ``.webm``; gif for gif). It returns a
``TranscodeResult``: sizes, duration, frame count, mean luma SSIM on sampled frames against the source at the
same times (both upright), and ``kept``: what happened to audio, rotation, creation time and location.

Default CRFs (each encoder's CRF scale is its own; these aim at "looks like the original on a phone screen",
i.e. SSIM ~0.95+ on typical footage, not at archival transparency):

* h264 23 - libx264's own default, the long-standing "visually fine" point; preset ``medium``.
* h265 28 - libx265's default; by x265's design roughly the same quality as x264 CRF 23 at ~half the bits.
  Preset ``fast`` (``medium`` is ~2x slower for a few % of size).
* av1 35 - SVT-AV1's default CRF is 35 (range 1..63); about x265 28 quality at 20-30 % fewer bits.
  Preset 8 (0 slowest .. 13 fastest): SVT's recommended speed/efficiency middle for offline use.
* vp9 33 - libvpx constant-quality mode (``-b:v 0``); Google's recommended value for 360p-720p is 32-36.
  ``cpu-used`` 4 with ``row-mt`` (``preset`` sets cpu-used, 0..8).
* gif has no CRF: frames are quantised to a 256-colour adaptive palette (Pillow median cut, no dithering, which
  keeps SSIM honest and files smaller), frame rate capped at ``GIF_MAX_FPS`` and long side at ``GIF_MAX_SIDE``.

Metadata, per container (all checked by tests/test_compress_video.py):

* rotation: PyAV 18 reads the display matrix as ``VideoFrame.rotation`` and writes it with
  ``VideoStream.set_display_rotation``; mp4 (tkhd matrix) and webm (Matroska projection) both hold it, so the
  pixels stay as coded and players turn them. GIF cannot, so the rotation is applied to the pixels.
* creation_time: mp4 (mvhd) and webm (DateUTC) hold it. GIF has no metadata at all: dropped.
* location: mp4 with ``movflags=use_metadata_tags`` keeps ``com.apple.quicktime.location.ISO6709`` verbatim (what
  Apple Photos reads) and also gets the ``(c)xyz`` user-data atom from ``location``; webm keeps both as Matroska
  tags (read back upper-cased). Apple make/model/creationdate keys travel the same way. GIF: dropped.
* audio: re-encoded to AAC (mp4) or Opus (webm, 48 kHz); GIF has no audio: dropped.
* 10-bit sources keep 10 bits where the encoder can (x265, SVT-AV1); otherwise 8 bit. Colour primaries,
  transfer and matrix are copied, but HDR is not tone-mapped.

Every FFmpeg/PyAV failure becomes a ``MediaError`` with a reason; a failed encode leaves no partial ``dst``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.compress.metrics import ssim
from workbench.errors import MediaError
from workbench.imaging.video_frames import ffmpeg_message, upright_frame, ffmpeg_errors, frames_at, video_stream, with_video
from workbench.settings import Settings

SAMPLE_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)  # where the quality measure samples frames
MAX_GOP_FRAMES = 1200  # decode at most this many frames after a keyframe when sampling for the quality measure
GIF_MAX_FPS = 12.0
GIF_MAX_SIDE = 480
LOCATION_KEYS = ("location", "com.apple.quicktime.location.ISO6709")
CARRIED_KEYS = ("creation_time", *LOCATION_KEYS, "com.apple.quicktime.creationdate", "com.apple.quicktime.make",
                "com.apple.quicktime.model")


@dataclass(frozen=True)
class Encoder:
    name: str                    # PyAV/FFmpeg encoder
    containers: tuple[str, ...]  # first is the default
    default_crf: int | None
    crf_range: tuple[int, int] | None
    default_preset: str | None
    fastest_preset: str | None


ENCODERS: dict[str, Encoder] = {
    "h264": Encoder("libx264", ("mp4",), 23, (0, 51), "medium", "ultrafast"),
    "h265": Encoder("libx265", ("mp4",), 28, (0, 51), "fast", "ultrafast"),
    "av1": Encoder("libsvtav1", ("mp4", "webm"), 35, (1, 63), "8", "12"),
    "vp9": Encoder("libvpx-vp9", ("webm",), 33, (0, 63), "4", "8"),
    "gif": Encoder("gif", ("gif",), None, None, None, None),
}
AUDIO_ENCODERS = {"mp4": "aac", "webm": "libopus"}


def available_codecs() -> list[str]:
    """Our codec names whose encoder (and, for mp4/webm, audio encoder) this PyAV build has."""
    import av

    return [c for c, e in ENCODERS.items() if e.name in av.codecs_available]


@dataclass
class TranscodeResult:
    codec: str
    container: str
    crf: int | None
    bytes_before: int
    bytes_after: int
    duration_s: float
    frames: int
    encode_s: float
    metric: str = "ssim"
    value: float | None = None   # mean luma SSIM on frames sampled at SAMPLE_FRACTIONS
    kept: dict[str, str] = field(default_factory=dict)  # audio/rotation/creation_time/location -> what happened

    @property
    def ratio(self) -> float:
        return self.bytes_after / self.bytes_before if self.bytes_before else float("nan")


def transcode(src: Path, dst: Path, codec: str, *, crf: int | None = None, max_side_px: int | None = None,
              preset: str | None = None, container: str | None = None, measure: bool = True,
              settings: Settings | None = None) -> TranscodeResult:
    """Re-encode ``src`` into ``dst`` with ``codec`` (see ``ENCODERS``) at ``crf`` (None: the codec's default).

    ``max_side_px`` downscales (never upscales) so the displayed long side fits; ``preset`` is the encoder's speed
    knob (x264/x265 preset name, SVT-AV1 0..13, VP9 cpu-used 0..8). ``container`` defaults to ``dst``'s suffix
    when the codec can live in it, else the codec's first container. ``measure=False`` skips the SSIM sampling.
    """
    import av

    src, dst = Path(src), Path(dst)
    settings = settings or Settings()
    if codec not in ENCODERS:
        raise ValueError(f"unknown video codec {codec!r}; choose from {', '.join(ENCODERS)}")
    enc = ENCODERS[codec]
    if enc.name not in av.codecs_available:
        raise MediaError(f"this PyAV/FFmpeg build has no {enc.name} encoder, so {codec} is unavailable")
    if container is None:
        suffix = dst.suffix.lower().lstrip(".")
        container = suffix if suffix in enc.containers else enc.containers[0]
    if container not in enc.containers:
        raise ValueError(f"{codec} cannot be written to {container}; it goes in {', '.join(enc.containers)}")
    if enc.crf_range is None:
        crf = None
    else:
        crf = enc.default_crf if crf is None else int(crf)
        lo, hi = enc.crf_range
        if not lo <= crf <= hi:
            raise ValueError(f"crf {crf} is outside {codec}'s range {lo}..{hi}")
    if not src.is_file():
        raise MediaError(f"not a readable video: {src} does not exist")
    bytes_before = src.stat().st_size

    part = dst.with_name(f".{dst.name}.part")
    t0 = time.perf_counter()
    try:
        frames, kept = with_video(src, settings, lambda c, _r: _encode(c, part, codec, enc, container, crf,
                                                                         max_side_px, preset, settings))
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)
    encode_s = time.perf_counter() - t0

    duration = with_video(dst, settings, lambda c, _r: video_stream(c, settings)[2]) or 0.0
    result = TranscodeResult(codec=codec, container=container, crf=crf, bytes_before=bytes_before,
                             bytes_after=dst.stat().st_size, duration_s=duration, frames=frames, encode_s=encode_s,
                             kept=kept)
    if measure:
        result.value = mean_ssim(src, dst, settings=settings)
    return result


# --- encoding ---------------------------------------------------------------------------------------------------

def _encode(inp, out_path: Path, codec: str, enc: Encoder, container: str, crf: int | None,  # noqa: ANN001, PLR0913
            max_side_px: int | None, preset: str | None, settings: Settings) -> tuple[int, dict[str, str]]:
    import av

    vin, start, _ = video_stream(inp, settings)
    ain = inp.streams.audio[0] if inp.streams.audio else None
    if ain is not None:
        ain.thread_type = "AUTO"
    sar = vin.codec_context.sample_aspect_ratio or vin.sample_aspect_ratio
    sar_f = float(sar) if sar and float(sar) > 0 else 1.0
    rate = vin.average_rate or vin.guessed_rate or Fraction(30)
    meta = _carried_metadata(inp)
    kept: dict[str, str] = {}
    is_gif = container == "gif"

    opts = _video_options(codec, enc, crf, preset)
    fmt_opts = {"movflags": "use_metadata_tags"} if container == "mp4" else {}
    try:
        out = av.open(str(out_path), "w", format=container, options=fmt_opts)
    except av.FFmpegError as e:
        raise MediaError(f"cannot create {container} output: {ffmpeg_message(e)}") from None
    with out:
        if not is_gif:
            out.metadata.update(meta)
        frames = 0
        vout = None
        aout = None
        resampler = None
        pix_fmt = None
        rotation = 0
        size = None
        gif_last_cs = -1
        a_next = None
        v_tb = vin.time_base or Fraction(1, 90000)
        gif_fps = min(float(rate), GIF_MAX_FPS) if is_gif else None

        streams = [vin] + ([ain] if ain is not None and not is_gif else [])
        with ffmpeg_errors(f"video transcode to {codec}/{container} failed"):
            for packet in inp.demux(*streams):
                for frame in packet.decode():
                    if packet.stream is vin:
                        if vout is None:  # first frame: now we know rotation, pixel format and size
                            rotation = int(round(getattr(frame, "rotation", 0) or 0))
                            size = _target_size(frame.width, frame.height, sar_f, max_side_px, is_gif,
                                                rotated=(rotation % 180 == 90) and is_gif)
                            vout, pix_fmt = _add_video(out, codec, enc, vin, frame, rate, size, opts, is_gif,
                                                       sar_f)
                            if not is_gif and rotation:
                                vout.set_display_rotation(rotation)
                            if ain is not None and not is_gif:
                                aout, resampler = _add_audio(out, container, ain)
                        if frame.pts is None:
                            continue
                        t_rel = float((frame.pts * v_tb)) - start
                        if is_gif:
                            cs = round(t_rel * 100)
                            if cs < 0 or (gif_last_cs >= 0 and cs - gif_last_cs < 100 / gif_fps - 0.5):
                                continue
                            gif_last_cs = cs
                            new = _gif_frame(frame, sar_f, size)
                            new.pts = cs
                        else:
                            new = frame.reformat(width=size[0], height=size[1], format=pix_fmt,
                                                 interpolation="BICUBIC") \
                                if (frame.width, frame.height, frame.format.name) != (*size, pix_fmt) else frame
                            new.pts = frame.pts - (vin.start_time or 0)
                            new.time_base = v_tb
                        for p in vout.encode(new):
                            out.mux(p)
                        frames += 1
                    elif aout is not None:
                        if a_next is None:
                            t_a = float(frame.pts * ain.time_base) - start if frame.pts is not None else 0.0
                            a_next = max(0, round(t_a * aout.codec_context.sample_rate))
                        frame.pts = None
                        for rf in resampler.resample(frame):
                            rf.pts = a_next
                            a_next += rf.samples
                            for p in aout.encode(rf):
                                out.mux(p)
            if vout is None:
                raise MediaError("no decodable video frame to encode")
            for p in vout.encode():
                out.mux(p)
            if aout is not None:
                for rf in resampler.resample(None):
                    rf.pts = a_next
                    a_next = (a_next or 0) + rf.samples
                    for p in aout.encode(rf):
                        out.mux(p)
                for p in aout.encode():
                    out.mux(p)

    # what survived
    if ain is None:
        kept["audio"] = "absent in source"
    elif is_gif:
        kept["audio"] = "dropped: gif has no audio"
    else:
        kept["audio"] = f"kept: re-encoded {ain.codec_context.name} to {AUDIO_ENCODERS[container]}"
    if not rotation:
        kept["rotation"] = "none in source"
    elif is_gif:
        kept["rotation"] = f"applied to pixels ({rotation} deg ccw): gif has no display matrix"
    else:
        kept["rotation"] = f"kept: display matrix {rotation} deg ccw"
    for key, keys in (("creation_time", ("creation_time",)), ("location", LOCATION_KEYS)):
        present = [k for k in keys if k in meta]
        if not present:
            kept[key] = "absent in source"
        elif is_gif:
            kept[key] = "dropped: gif has no metadata"
        else:
            kept[key] = f"kept: {', '.join(f'{k}={meta[k]}' for k in present)}"
    return frames, kept


def _video_options(codec: str, enc: Encoder, crf: int | None, preset: str | None) -> dict[str, str]:
    preset = preset or enc.default_preset
    if codec in ("h264", "h265"):
        opts = {"crf": str(crf), "preset": preset}
        if codec == "h265":
            opts["x265-params"] = "log-level=error"
            opts["tag"] = "hvc1"  # Apple players want hvc1, not hev1
        return opts
    if codec == "av1":
        return {"crf": str(crf), "preset": preset, "svtav1-params": "svt-log-level=1"}
    if codec == "vp9":
        return {"crf": str(crf), "b": "0", "cpu-used": preset, "deadline": "good", "row-mt": "1"}
    return {}


def _target_size(w: int, h: int, sar: float, max_side: int | None, is_gif: bool, rotated: bool) -> tuple[int, int]:
    """Coded output size: square pixels for gif (and rotated there), even dimensions for yuv420p encoders."""
    if is_gif:
        dw, dh = max(1, round(w * sar)), h
        if rotated:
            dw, dh = dh, dw
        cap = min(max_side or GIF_MAX_SIDE, GIF_MAX_SIDE)
        if max(dw, dh) > cap:
            s = cap / max(dw, dh)
            dw, dh = max(1, round(dw * s)), max(1, round(dh * s))
        return dw, dh
    if max_side and max(w * sar, h) > max_side:
        s = max_side / max(w * sar, h)
        w, h = round(w * s), round(h * s)
    return max(2, w - w % 2), max(2, h - h % 2)


def _add_video(out, codec: str, enc: Encoder, vin, frame, rate, size, opts, is_gif: bool, sar: float):  # noqa: ANN001, ANN202
    import av

    if is_gif:
        vout = out.add_stream("gif", rate=Fraction(100))
        vout.width, vout.height = size
        vout.pix_fmt = "pal8"
        vout.codec_context.time_base = Fraction(1, 100)
        return vout, "pal8"
    vout = out.add_stream(enc.name, rate=rate, options=opts)
    vout.width, vout.height = size
    formats = {f.name for f in (av.codec.Codec(enc.name, "w").video_formats or [])}
    ten_bit = "10" in frame.format.name and "yuv420p10le" in formats
    pix_fmt = "yuv420p10le" if ten_bit else "yuv420p"
    vout.pix_fmt = pix_fmt
    cc = vout.codec_context
    cc.time_base = vin.time_base or Fraction(1, 90000)
    cc.framerate = rate
    if abs(sar - 1) > 0.01 and (frame.width, frame.height) == size:
        cc.sample_aspect_ratio = Fraction(sar).limit_denominator(1000)
    src_cc = vin.codec_context
    for attr in ("color_primaries", "color_trc", "colorspace"):
        try:
            value = getattr(src_cc, attr)
            if value is not None:
                setattr(cc, attr, value)
        except Exception:  # noqa: BLE001 - colour tags are nice to have
            pass
    return vout, pix_fmt


def _add_audio(out, container: str, ain):  # noqa: ANN001, ANN202
    import av

    name = AUDIO_ENCODERS[container]
    src_rate = ain.codec_context.sample_rate or 48000
    rate = 48000 if name == "libopus" else (src_rate if src_rate in (44100, 48000, 32000, 22050, 16000) else 48000)
    channels = ain.codec_context.channels or 2
    layout = "stereo" if channels >= 2 else "mono"
    aout = out.add_stream(name, rate=rate)
    aout.layout = layout
    aout.codec_context.bit_rate = 128_000 if layout == "stereo" else 64_000
    fmt = (av.codec.Codec(name, "w").audio_formats or [av.AudioFormat("fltp")])[0].name
    aout.format = fmt
    aout.codec_context.time_base = Fraction(1, rate)
    resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate,
                                  frame_size=aout.codec_context.frame_size or None)
    return aout, resampler


def _gif_frame(frame, sar: float, size: tuple[int, int]):  # noqa: ANN001, ANN202
    """Upright, square-pixel, resized frame quantised to an adaptive 256-colour palette, as a pal8 VideoFrame."""
    import av

    img = upright_frame(frame, sar)
    if img.size != size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    q = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = np.frombuffer(bytes(q.getpalette() or []), np.uint8).reshape(-1, 3)
    argb = np.zeros((256, 4), np.uint8)
    argb[:, 0] = 255
    argb[: len(pal), 1:] = pal[:256]
    return av.VideoFrame.from_ndarray((np.asarray(q, dtype=np.uint8), argb), format="pal8")


def _carried_metadata(inp) -> dict[str, str]:  # noqa: ANN001
    """Container (and video stream) tags worth keeping; ``location`` filled from Apple's key when only that."""
    meta: dict[str, str] = {}
    sources = [dict(inp.metadata)] + [dict(s.metadata) for s in inp.streams.video[:1]]
    for tags in sources:
        lower = {k.lower(): v for k, v in tags.items()}
        for key in CARRIED_KEYS:
            if key not in meta and lower.get(key.lower()):
                meta[key] = lower[key.lower()]
    if "location" not in meta and "com.apple.quicktime.location.ISO6709" in meta:
        meta["location"] = meta["com.apple.quicktime.location.ISO6709"]
    return meta


def read_metadata(path: Path, settings: Settings | None = None) -> dict[str, str]:
    """Container tags of ``path`` with lower-cased keys (Matroska upper-cases them)."""
    settings = settings or Settings()
    return with_video(path, settings, lambda c, _r: {k.lower(): v for k, v in c.metadata.items()})


# --- quality ----------------------------------------------------------------------------------------------------

def sample_frames(path: Path, times_s: list[float], settings: Settings | None = None) -> list[Image.Image | None]:
    """Upright RGB frames at these times (seconds from the video stream's start); None where none decodes. The
    whole GOP is decoded if needed: a source and an encode with different keyframes must land on the same frame."""
    return frames_at(path, times_s, settings, max_frames=MAX_GOP_FRAMES)


def mean_ssim(src: Path, dst: Path, fractions: tuple[float, ...] = SAMPLE_FRACTIONS,
              settings: Settings | None = None) -> float:
    """Mean luma SSIM of ``dst``'s upright frames against ``src``'s at the same times (fractions of src's
    duration); the source frame is resized to the encoded size when the encode was downscaled."""
    settings = settings or Settings()
    def probe(container, _reopen):  # noqa: ANN001, ANN202
        stream, _, duration = video_stream(container, settings)
        return duration, stream.average_rate or stream.guessed_rate

    duration, rate = with_video(src, settings, probe)
    if not duration:
        raise MediaError("the source's duration is unknown, so frames cannot be compared")
    times = [f * duration for f in fractions]
    if rate and float(rate) > 0:  # halfway between two frames: rounding of timestamps (webm keeps ms, gif cs)
        fps = float(rate)        # cannot make the source and the encode pick neighbouring frames
        times = [(int(t * fps) + 0.5) / fps for t in times]
    a = sample_frames(src, times, settings)
    b = sample_frames(dst, times, settings)
    scores = []
    for x, y in zip(a, b):
        if x is None or y is None:
            continue
        if x.size != y.size:
            x = x.resize(y.size, Image.Resampling.LANCZOS)
        scores.append(ssim(x, y))
    if not scores:
        raise MediaError("no frame pair could be decoded to measure quality")
    return float(np.mean(scores))


def transcode_at_target(src: Path, dst: Path, codec: str, target_ssim: float, *, max_encodes: int = 5,
                        preset: str | None = None, settings: Settings | None = None) -> TranscodeResult:
    """The highest CRF (smallest file) whose mean sampled-frame SSIM is at least ``target_ssim``, by bisection over
    the codec's CRF range (at most ``max_encodes`` encodes). When even the lowest CRF tried misses the target, the
    best attempt is kept; its ``value`` says what it reached."""
    enc = ENCODERS[codec]
    if enc.crf_range is None:
        return transcode(src, dst, codec, preset=preset, settings=settings)
    lo, hi = enc.crf_range
    best: TranscodeResult | None = None
    best_miss: TranscodeResult | None = None
    tmp = dst.with_name(dst.stem + ".try" + dst.suffix)
    for _ in range(max_encodes):
        if lo > hi:
            break
        mid = (lo + hi) // 2
        r = transcode(src, tmp, codec, crf=mid, preset=preset, settings=settings)
        if r.value is not None and r.value >= target_ssim:
            best = r
            tmp.replace(dst)
            lo = mid + 1          # good enough: try a higher CRF (smaller file)
        else:
            if best is None and (best_miss is None or (r.value or 0) > (best_miss.value or 0)):
                best_miss = r
                tmp.replace(dst)
            hi = mid - 1
    tmp.unlink(missing_ok=True)
    result = best or best_miss
    if result is None:
        raise ValueError(f"no encode was tried for {codec}")
    return result
