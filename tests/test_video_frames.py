"""Poster frames: not black, upright, from every codec we meet; undecodable videos give a MediaError."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from workbench.errors import MediaError
from workbench.imaging.video_frames import poster_frame
from workbench.settings import Settings

FPS = 25


def _picture(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A bright, textured frame: gradient plus blocks, clearly not flat and not dark."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 120, (h // 8 + 1, w // 8 + 1))[y // 8, x // 8]
    base = 100 + (x * 100 // max(w, 1)) + blocks // 2
    return np.stack([np.clip(base, 0, 255), np.clip(base - 40, 0, 255), np.clip(y * 255 // h, 0, 255)],
                    axis=-1).astype(np.uint8)


def _write(path: Path, frames: list[np.ndarray], codec: str = "libx264", fmt: str | None = None,
           pix_fmt: str = "yuv420p", rotation: int | None = None) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _mean_luma(img: Image.Image) -> float:
    return float(np.asarray(img.convert("L"), float).mean())


def test_poster_skips_two_seconds_of_black(tmp_path: Path) -> None:
    """2 s of black, then 4 s of picture, one keyframe at 0 (x264's default GOP is 10 s): the poster must be
    a picture frame, found by decoding forward from the keyframe, not the black keyframe itself."""
    black = [np.zeros((72, 128, 3), np.uint8)] * (2 * FPS)
    picture = [_picture(128, 72, i) for i in range(4 * FPS)]
    p = tmp_path / "fade.mp4"
    _write(p, black + picture)
    img, t = poster_frame(p)
    assert img.mode == "RGB" and img.size == (128, 72)
    assert _mean_luma(img) >= Settings().poster_min_luma
    assert t >= 2.0


def test_all_black_video_falls_back_to_brightest_frame(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), 5 + i // FPS, np.uint8) for i in range(3 * FPS)]
    p = tmp_path / "night.mp4"
    _write(p, frames)
    img, t = poster_frame(p)
    assert img.size == (64, 48) and _mean_luma(img) < Settings().poster_min_luma  # nothing better exists


@pytest.mark.parametrize("rotation,transpose", [(-90, Image.Transpose.ROTATE_270),
                                                (90, Image.Transpose.ROTATE_90),
                                                (180, Image.Transpose.ROTATE_180)])
def test_display_matrix_rotation_is_applied(tmp_path: Path, rotation: int, transpose: Image.Transpose) -> None:
    """A phone clip: landscape sensor frames plus a display matrix. The poster is the frame turned as a
    player shows it (rotation is counter-clockwise degrees, FFmpeg's convention)."""
    src = _picture(160, 96, 3)
    src[:20, :40] = (255, 255, 255)  # a white marker in the stored top-left corner
    p = tmp_path / "phone.mp4"
    _write(p, [src] * (2 * FPS), rotation=rotation)
    img, _ = poster_frame(p)
    expected = Image.fromarray(src).transpose(transpose)
    assert img.size == expected.size
    diff = np.abs(np.asarray(img, float) - np.asarray(expected, float)).mean()
    assert diff < 12


def test_corpus_iphone_hevc_mov_is_portrait(corpus: Path) -> None:
    """quicktime-hvc1.mov stores 1280x720 HEVC with a -90 degree display matrix: shown portrait 720x1280."""
    img, t = poster_frame(corpus / "video/photoprism/quicktime-hvc1.mov")
    assert img.size == (720, 1280)
    assert _mean_luma(img) >= Settings().poster_min_luma


@pytest.mark.parametrize("rel,size", [
    ("video/photoprism/isom-avc1.mp4", (320, 180)),               # H.264
    ("video/photoprism/mp42-hvc1.mp4", (464, 848)),
    ("video/photoprism/mp4v-avc1.mp4", (640, 416)),
    ("video/imagehash_pr/bigbuck_bunny.mp4", (640, 360)),         # Big Buck Bunny, 10 s
    ("peer/photoprism/examples/earth.avi", (480, 270)),           # H.264 in AVI
    ("peer/photoprism/examples/earth.mov", (480, 270)),
    ("exif/exiftool_t/images/Flash.flv", (192, 154)),             # VP6 in FLV
    ("faces/face_recognition/examples/short_hamilton_clip.mp4", (640, 360)),
])
def test_corpus_clips_give_a_poster(corpus: Path, rel: str, size: tuple[int, int]) -> None:
    img, t = poster_frame(corpus / rel)
    assert img.mode == "RGB" and img.size == size
    assert t >= 0


def test_big_buck_bunny_poster_is_not_black(corpus: Path) -> None:
    img, t = poster_frame(corpus / "video/imagehash_pr/bigbuck_bunny.mp4")
    assert _mean_luma(img) >= Settings().poster_min_luma
    assert np.asarray(img.convert("L"), float).std() > 6
    assert 0.5 <= t <= 10


@pytest.mark.parametrize("codec,fmt,pix_fmt", [("mjpeg", "avi", "yuvj420p"), ("mpeg4", "mp4", "yuv420p"),
                                               ("libvpx", "webm", "yuv420p"), ("mpeg2video", "mpegts", "yuv420p")])
def test_generated_codecs_give_a_poster(tmp_path: Path, codec: str, fmt: str, pix_fmt: str) -> None:
    """MJPEG (the corpus' MJPEG .mov is truncated, see below), MPEG-4 part 2, VP8, MPEG-2 in a transport stream."""
    p = tmp_path / f"clip.{fmt}"
    try:
        _write(p, [_picture(96, 64, i) for i in range(2 * FPS)], codec=codec, fmt=fmt, pix_fmt=pix_fmt)
    except av.FFmpegError as e:  # pragma: no cover - depends on PyAV's build
        pytest.skip(f"cannot encode {codec}: {e}")
    img, t = poster_frame(p)
    assert img.size == (96, 64) and _mean_luma(img) >= Settings().poster_min_luma


def test_truncated_corpus_mjpeg_mov_gives_media_error(corpus: Path) -> None:
    """quicktime-jpeg.mov declares 500 MJPEG frames (41 s) but its media data is cut off: no frame exists."""
    with pytest.raises(MediaError, match="no decodable video frame"):
        poster_frame(corpus / "video/photoprism/quicktime-jpeg.mov")


def test_video_without_streams_gives_media_error(corpus: Path) -> None:
    with pytest.raises(MediaError, match="no video stream"):
        poster_frame(corpus / "peer/immich-test-assets/metadata/dates/future42603.mp4")


def test_audio_only_file_gives_media_error(tmp_path: Path) -> None:
    p = tmp_path / "voice.m4a"
    with av.open(str(p), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            out.mux(packet)
    with pytest.raises(MediaError, match="no video stream.*audio"):
        poster_frame(p)


def test_exiftool_quicktime_stub_gives_media_error(corpus: Path) -> None:
    """ExifTool's QuickTime.mov/.m4a test files have headers and no media data."""
    for name in ("QuickTime.mov", "QuickTime.m4a", "RIFF.avi", "M2TS.mts", "Matroska.mkv", "ASF.wmv"):
        with pytest.raises(MediaError):
            poster_frame(corpus / "exif/exiftool_t/images" / name)


def test_zero_byte_video_gives_media_error(tmp_path: Path) -> None:
    p = tmp_path / "empty.mov"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match="not a readable video"):
        poster_frame(p)


def test_garbage_after_a_valid_header_gives_media_error(tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    _write(good, [_picture(64, 48, i) for i in range(FPS)])
    data = bytearray(good.read_bytes())
    moov = data.find(b"moov")
    data[moov + 8:] = bytes(len(data) - moov - 8)  # wipe the index
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(MediaError):
        poster_frame(bad)


def test_huge_frame_size_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "wide.mp4"
    _write(p, [_picture(640, 480, 0)] * 3)
    with pytest.raises(MediaError, match="decompression bomb: video frames of 640x480"):
        poster_frame(p, Settings(max_image_megapixels=0.1))
