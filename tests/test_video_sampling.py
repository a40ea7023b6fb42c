"""Frames chosen for embedding a video: every scene, bounded in number, never black, upright."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from workbench.errors import MediaError
from workbench.semantic.frames import sample_video_frames
from workbench.settings import Settings

FPS = 10


def _scene(w: int, h: int, seed: int) -> np.ndarray:
    """A textured, bright frame whose colours and pattern depend on seed: scenes differ clearly from each other."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    blocks = rng.integers(0, 160, (h // 8 + 1, w // 8 + 1))[y // 8, x // 8]
    colour = rng.integers(60, 255, 3)
    arr = np.stack([(colour[c] + blocks) % 256 for c in range(3)], axis=-1)
    return arr.astype(np.uint8)


def _write(path: Path, frames: list[np.ndarray], rotation: int | None = None) -> Path:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _close(img: Image.Image, arr: np.ndarray) -> bool:
    ref = Image.fromarray(arr).resize(img.size, Image.Resampling.BILINEAR)
    return float(np.abs(np.asarray(img, float) - np.asarray(ref, float)).mean()) < 20


def test_three_scenes_each_get_a_frame(tmp_path: Path) -> None:
    scenes = [_scene(160, 96, s) for s in (1, 2, 3)]
    p = _write(tmp_path / "three.mp4", [scenes[i // (3 * FPS)] for i in range(9 * FPS)])  # 3 s per scene
    frames = sample_video_frames(p, Settings())
    for k, scene in enumerate(scenes):
        assert any(_close(img, scene) and 3 * k <= t < 3 * (k + 1) for t, img in frames), f"scene {k} missing"
    assert [t for t, _ in frames] == sorted(t for t, _ in frames)
    assert all(img.mode == "RGB" and img.size == (160, 96) for _, img in frames)


def test_long_clip_respects_max_frames_and_spans_the_video(tmp_path: Path) -> None:
    scenes = [_scene(64, 48, s) for s in range(30)]
    p = _write(tmp_path / "long.mp4", [scenes[i // (2 * FPS)] for i in range(60 * FPS)])  # 30 scenes of 2 s
    frames = sample_video_frames(p, Settings(video_max_frames=5))
    times = [t for t, _ in frames]
    assert len(frames) == 5
    assert times[0] < 10 and times[-1] > 50  # evenly thinned, not the first five


def test_black_lead_in_is_skipped(tmp_path: Path) -> None:
    black = [np.zeros((72, 128, 3), np.uint8)] * (3 * FPS)
    p = _write(tmp_path / "fade.mp4", black + [_scene(128, 72, 5)] * (3 * FPS))
    frames = sample_video_frames(p, Settings())
    assert frames
    for t, img in frames:
        assert t >= 2.9 and np.asarray(img.convert("L"), float).mean() >= Settings().poster_min_luma


def test_very_short_clip_gives_a_frame(tmp_path: Path) -> None:
    p = _write(tmp_path / "blink.mp4", [_scene(64, 48, 9)] * 3)  # 0.3 s
    frames = sample_video_frames(p, Settings())
    assert len(frames) >= 1 and _close(frames[0][1], _scene(64, 48, 9))


def test_all_black_clip_still_gives_one_frame(tmp_path: Path) -> None:
    p = _write(tmp_path / "night.mp4", [np.full((48, 64, 3), 3, np.uint8)] * (2 * FPS))
    assert len(sample_video_frames(p, Settings())) == 1


def test_large_frames_are_reduced_for_clip(tmp_path: Path) -> None:
    p = _write(tmp_path / "big.mp4", [_scene(1280, 720, 4)] * FPS)
    (_, img), *_ = sample_video_frames(p, Settings())
    assert img.size == (448, 252)


@pytest.mark.parametrize("rotation,transpose", [(-90, Image.Transpose.ROTATE_270), (90, Image.Transpose.ROTATE_90)])
def test_rotated_phone_clip_comes_out_upright(tmp_path: Path, rotation: int, transpose: Image.Transpose) -> None:
    src = _scene(160, 96, 3)
    src[:24, :48] = (255, 255, 255)  # a marker in the stored top-left corner shows which way it turned
    p = _write(tmp_path / "phone.mp4", [src] * (2 * FPS), rotation=rotation)
    frames = sample_video_frames(p, Settings())
    expected = Image.fromarray(src).transpose(transpose)
    for _, img in frames:
        assert img.size == expected.size == (96, 160)
        assert _close(img, np.asarray(expected))


def test_corpus_iphone_hevc_mov_is_portrait(corpus: Path) -> None:
    frames = sample_video_frames(corpus / "video/photoprism/quicktime-hvc1.mov", Settings())
    assert frames and all(img.size == (252, 448) for _, img in frames)


def test_raw_stream_without_duration_or_timestamps_is_walked(tmp_path: Path) -> None:
    """A raw H.264 elementary stream has no duration, no index and no frame times: walk it from the start."""
    p = tmp_path / "raw.h264"
    scenes = [_scene(64, 48, s) for s in (11, 12)]
    with av.open(str(p), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(4 * FPS):
            frame = av.VideoFrame.from_ndarray(scenes[i // (2 * FPS)], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    frames = sample_video_frames(p, Settings())
    assert all(any(_close(img, scene) for _, img in frames) for scene in scenes)


def test_undecodable_file_raises_media_error(tmp_path: Path) -> None:
    p = tmp_path / "junk.mp4"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError, match="not a readable video"):
        sample_video_frames(p, Settings())


def test_audio_only_file_raises_media_error(tmp_path: Path) -> None:
    p = tmp_path / "voice.m4a"
    with av.open(str(p), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(MediaError, match="no video stream"):
        sample_video_frames(p, Settings())
