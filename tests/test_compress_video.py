"""Video transcoding (workbench.compress.video): every available codec writes a playable file that keeps duration,
audio, rotation, creation time and location where its container can hold them, at a reported SSIM > 0.9.

Clips are small (320x240, 2 s) and encoders run at their fastest presets so the file stays well under a minute.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from workbench.compress.video import (ENCODERS, available_codecs, read_metadata, sample_frames,  # noqa: E402
                                      transcode)
from workbench.compress.metrics import ssim  # noqa: E402
from workbench.errors import MediaError  # noqa: E402

CREATED = "2023-09-22T16:34:05.000000Z"
ISO6709 = "+52.4597+013.3220+051.178/"
W, H, FPS, SECONDS = 320, 240, 25, 2
ROTATION = -90  # FFmpeg convention (ccw): a phone held upright, sensor landscape
GIF_MIN_SSIM = 0.8  # a 256-colour palette at <= 12 fps is a preview, not a faithful copy

TARGETS = [(c, ext) for c in ENCODERS for ext in ENCODERS[c].containers]


def _picture(i: int) -> np.ndarray:
    """Smooth, moving, asymmetric content (so a wrong rotation or a frame offset shows in SSIM)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.empty((H, W, 3), np.float32)
    img[..., 0] = 128 + 100 * np.sin((x + 3 * i) / 25.0)
    img[..., 1] = 255 * y / H
    img[..., 2] = 128 + 100 * np.cos((x + y - 2 * i) / 40.0)
    cx, cy = 60 + 4 * i, 70
    img[(x - cx) ** 2 + (y - cy) ** 2 < 30 ** 2] = (250, 250, 40)
    img[20:60, 250:300] = (20, 20, 20)  # a dark box top right: marks the orientation
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s 320x240 H.264 + AAC sine, rotated by a display matrix, with creation_time and an Apple location."""
    path = tmp_path_factory.mktemp("video") / "phone.mp4"
    with av.open(str(path), "w", format="mp4", options={"movflags": "use_metadata_tags"}) as out:
        out.metadata.update({"creation_time": CREATED, "com.apple.quicktime.location.ISO6709": ISO6709})
        v = out.add_stream("libx264", rate=FPS, options={"crf": "12", "preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.set_display_rotation(ROTATION)
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        for i in range(FPS * SECONDS):
            frame = av.VideoFrame.from_ndarray(_picture(i), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        n, fs = 0, a.codec_context.frame_size or 1024
        while n < 48000 * SECONDS:
            t = np.arange(n, n + fs) / 48000
            af = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :],
                                            format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, n
            for p in a.encode(af):
                out.mux(p)
            n += fs
        for p in a.encode():
            out.mux(p)
    return path


def _probe(path: Path) -> dict:
    """Decode every frame of ``path``: count, duration, stream kinds and the first frame's rotation."""
    with av.open(str(path)) as c:
        kinds = [s.type for s in c.streams]
        vs = c.streams.video[0]
        frames = list(c.decode(vs))
        dur = float(vs.duration * vs.time_base) if vs.duration else c.duration / 1e6
        return {"frames": len(frames), "duration": dur, "kinds": kinds,
                "rotation": int(round(frames[0].rotation or 0)) if frames else None}


@pytest.mark.parametrize(("codec", "ext"), TARGETS, ids=[f"{c}-{e}" for c, e in TARGETS])
def test_transcode_generated_clip(clip: Path, tmp_path: Path, codec: str, ext: str) -> None:
    if codec not in available_codecs():
        pytest.skip(f"this PyAV build has no {ENCODERS[codec].name}")
    dst = tmp_path / f"out.{ext}"
    r = transcode(clip, dst, codec, preset=ENCODERS[codec].fastest_preset)
    assert r.container == ext and r.crf == ENCODERS[codec].default_crf
    assert r.bytes_before == clip.stat().st_size and r.bytes_after == dst.stat().st_size > 0
    assert not list(tmp_path.glob(".*.part"))

    info = _probe(dst)  # playable: re-opened and fully decoded
    assert info["frames"] > 0 and info["frames"] == r.frames
    assert abs(info["duration"] - SECONDS) < 0.2 and abs(r.duration_s - SECONDS) < 0.2
    assert r.metric == "ssim" and r.value > (GIF_MIN_SSIM if ext == "gif" else 0.9), r.value

    meta = read_metadata(dst)
    if ext == "gif":
        assert info["kinds"] == ["video"]
        assert r.kept["audio"].startswith("dropped") and r.kept["creation_time"].startswith("dropped")
        assert r.kept["location"].startswith("dropped") and r.kept["rotation"].startswith("applied")
        assert info["rotation"] == 0
    else:
        assert "audio" in info["kinds"] and r.kept["audio"].startswith("kept")
        assert info["rotation"] == ROTATION and r.kept["rotation"].startswith("kept")
        assert meta.get("creation_time", "").startswith("2023-09-22T16:34:05") and r.kept["creation_time"].startswith("kept")
        assert meta.get("com.apple.quicktime.location.iso6709") == ISO6709 and r.kept["location"].startswith("kept")
        assert meta.get("location", "").startswith("+52.4597+013.3220")

    # kept or applied, the upright picture is the source's upright picture (portrait, dark box in place)
    a, b = sample_frames(clip, [1.0])[0], sample_frames(dst, [1.0])[0]
    assert a.size == (H, W)
    assert b.size[0] < b.size[1]
    assert ssim(a.resize(b.size), b) > (GIF_MIN_SSIM if ext == "gif" else 0.9)


def test_transcode_phone_clip_from_corpus(corpus: Path, tmp_path: Path) -> None:
    """iPad HEVC .mov, display matrix -90, Apple ISO 6709 location: to downscaled H.264 and VP9."""
    src = corpus / "video" / "photoprism" / "quicktime-hvc1.mov"
    with av.open(str(src)) as c:
        src_rot = int(next(c.decode(video=0)).rotation)
        src_meta = dict(c.metadata)
    for codec, ext in (("h264", "mp4"), ("vp9", "webm")):
        if codec not in available_codecs():
            continue
        dst = tmp_path / f"phone.{ext}"
        r = transcode(src, dst, codec, max_side_px=480, preset=ENCODERS[codec].fastest_preset)
        info = _probe(dst)
        assert info["rotation"] == src_rot == -90
        assert "audio" in info["kinds"]
        assert abs(r.duration_s - 1.1667) < 0.2 and r.bytes_after < r.bytes_before
        meta = read_metadata(dst)
        assert meta["com.apple.quicktime.location.iso6709"] == src_meta["com.apple.quicktime.location.ISO6709"]
        assert meta["creation_time"].startswith(src_meta["creation_time"][:19])
        assert r.value > 0.9, r.value
        up = sample_frames(dst, [0.5])[0]
        assert up.size[0] < up.size[1] and max(up.size) <= 480  # portrait once upright, downscaled


def test_errors_have_reasons(tmp_path: Path, clip: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    dst = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as e:
        transcode(bad, dst, "h264")
    assert e.value.reason and "Error" not in e.value.reason.split(":")[0]
    assert not dst.exists() and not list(tmp_path.glob(".*.part"))
    with pytest.raises(MediaError, match="does not exist"):
        transcode(tmp_path / "missing.mp4", dst, "h264")
    with pytest.raises(ValueError, match="unknown video codec"):
        transcode(clip, dst, "mpeg2")
    with pytest.raises(ValueError, match="range"):
        transcode(clip, dst, "h264", crf=99)
    with pytest.raises(ValueError, match="cannot be written"):
        transcode(clip, dst, "vp9", container="mp4")
