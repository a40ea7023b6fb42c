"""Content sniffing: the type comes from the bytes, never from the file name."""
from __future__ import annotations

import io
import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from workbench.errors import MediaError
from workbench.formats.sniff import RAW_MIMES, FileType, is_supported_mime, sniff

# Corpus files and the mime their content has, whatever their name says.
CORPUS_EXPECTED = {
    "formats/pillow/hopper.jpg": "image/jpeg",
    "formats/pillow/hopper.png": "image/png",
    "formats/pillow/hopper.gif": "image/gif",
    "formats/pillow/hopper.webp": "image/webp",
    "formats/pillow/hopper.bmp": "image/bmp",
    "formats/pillow/hopper.tif": "image/tiff",
    "formats/pillow/hopper.psd": "image/vnd.adobe.photoshop",
    "formats/pillow/hopper.ppm": "image/x-portable-anymap",
    "formats/pillow/hopper.ico": "image/x-icon",
    "formats/pillow/hopper.qoi": "image/x-qoi",
    "formats/pillow/sugarshack.mpo": "image/mpo",
    "formats/pillow/frozenpond.mpo": "image/mpo",
    "formats/pillow/avif/hopper.avif": "image/avif",
    "formats/pillow/avif/star.avifs": "image/avif",
    "formats/pillow/avif/hopper.heif": "image/heic",
    "formats/libheif/examples/example.heic": "image/heic",
    "formats/libheif/tests_data/lightning_mini.heif": "image/heic",
    "formats/libheif/tests_data/simple_osm_tile_meta.avif": "image/avif",
    "exif/exif-py/heic/spring_1440x960.heic": "image/heic",
    "exif/exif-samples-extra/IMG_5195.HEIC": "image/heic",
    "peer/immich-test-assets/formats/jxl/8bit-sRGB.jxl": "image/jxl",
    "exif/exiftool_t/images/JXL.jxl": "image/jxl",      # bare codestream FF 0A
    "exif/exiftool_t/images/JXL2.jxl": "image/jxl",     # ISO-BMFF container
    "exif/exiftool_t/images/QuickTime.heic": "image/heic",
    "exif/exiftool_t/images/QuickTime.mov": "video/quicktime",   # classic: starts with a moov atom
    "exif/exiftool_t/images/Matroska.mkv": "video/x-matroska",
    "exif/exiftool_t/images/RIFF.avi": "video/x-msvideo",
    "exif/exiftool_t/images/M2TS.mts": "video/mp2t",             # 192-byte packets with 4-byte prefix
    "video/photoprism/quicktime-hvc1.mov": "video/quicktime",
    "video/photoprism/quicktime-jpeg.mov": "video/quicktime",    # starts with a 'free' atom, no ftyp
    "video/photoprism/mp4v-avc1.mp4": "video/mp4",
    "video/photoprism/isom-avc1.mp4": "video/mp4",
    "video/imagehash_pr/bigbuck_bunny.mp4": "video/mp4",
    "peer/photoprism/examples/earth.avi": "video/x-msvideo",
}
# The corpus' files whose extension lies.
LYING_EXTENSIONS = {
    "exif/exif-py/heic/heic_hdlr_box.jpg": "image/heic",
    "peer/photoprism/photoprism_testdata/wrong.heic": "image/jpeg",
    "exif/exif-py/jpg/tests/45-gps_ifd.jpg": "image/mpo",
}
RAW_EXPECTED = {
    "exif/exiftool_t/images/CanonRaw.cr2": "image/x-canon-cr2",
    "exif/exiftool_t/images/CanonRaw.cr3": "image/x-canon-cr3",
    "exif/exiftool_t/images/CanonRaw.crw": "image/x-canon-crw",
    "exif/exiftool_t/images/DNG.dng": "image/x-adobe-dng",
    "exif/exiftool_t/images/Nikon.nef": "image/x-nikon-nef",
    "exif/exiftool_t/images/FujiFilm.raf": "image/x-fuji-raf",
    "exif/exiftool_t/images/Panasonic.rw2": "image/x-panasonic-rw2",
    "exif/exiftool_t/images/Minolta.mrw": "image/x-minolta-mrw",
    "exif/exiftool_t/images/Sigma.x3f": "image/x-sigma-x3f",
    "exif/exiftool_t/images/SigmaDP2.x3f": "image/x-sigma-x3f",
    "exif/exif-py/raw/nikon_z_9_high_efficiency_compressed_dx_cropped_max_overexposed.dng": "image/x-adobe-dng",
    "exif/exif-py/raw/sony_alpha_a7iii_raw_image.ARW": "image/x-sony-arw",
    "peer/photoprism/examples/canon_eos_6d.dng": "image/x-adobe-dng",
}


@pytest.mark.parametrize("rel,mime", sorted({**CORPUS_EXPECTED, **LYING_EXTENSIONS}.items()))
def test_corpus_file_type_comes_from_content(corpus: Path, rel: str, mime: str) -> None:
    ft = sniff(corpus / rel)
    assert ft.mime == mime
    assert ft.kind == mime.split("/")[0]
    assert is_supported_mime(ft.mime)


@pytest.mark.parametrize("rel,mime", sorted(RAW_EXPECTED.items()))
def test_corpus_raw_files_get_their_vendor_mime(corpus: Path, rel: str, mime: str) -> None:
    ft = sniff(corpus / rel)
    assert (ft.kind, ft.mime) == ("image", mime)
    assert ft.mime in RAW_MIMES


@pytest.mark.parametrize("rel,mime", sorted({**CORPUS_EXPECTED, **LYING_EXTENSIONS, **RAW_EXPECTED}.items()))
def test_corpus_type_survives_a_renamed_copy(corpus: Path, tmp_path: Path, rel: str, mime: str) -> None:
    """Same bytes under a meaningless name: only the vendor-RAW choice for TIFF-structured RAWs may use the
    extension, and those (NEF/ARW) are told apart by their Make tag here."""
    copy = tmp_path / "upload.bin"
    copy.write_bytes((corpus / rel).read_bytes())
    assert sniff(copy).mime == mime


def test_jpeg_named_png_is_jpeg(tmp_path: Path) -> None:
    p = tmp_path / "x.png"
    Image.new("RGB", (16, 16), "red").save(p, "JPEG")
    assert sniff(p) == FileType("image", "image/jpeg", ".jpg")


def test_png_named_jpg_is_png(tmp_path: Path) -> None:
    p = tmp_path / "x.jpg"
    Image.new("RGB", (16, 16), "red").save(p, "PNG")
    assert sniff(p).ext == ".png"


def test_zero_byte_file_is_empty_error(tmp_path: Path) -> None:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        sniff(p)


def test_random_text_is_not_media(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    rng = random.Random(7)
    p.write_text(" ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet"]) for _ in range(500)))
    with pytest.raises(MediaError, match=r"not an image or video: content starts with 6C 6F 72 65|plain text"):
        sniff(p)


def test_random_bytes_are_not_media(tmp_path: Path) -> None:
    p = tmp_path / "noise.mp4"
    p.write_bytes(bytes(random.Random(3).randrange(256) for _ in range(5000)))
    with pytest.raises(MediaError, match="not an image or video"):
        sniff(p)


def test_pdf_error_names_pdf(corpus: Path) -> None:
    with pytest.raises(MediaError, match=r"content starts with 25 50 44 46 \(looks like PDF\)"):
        sniff(corpus / "exif/exiftool_t/images/PDF.pdf")


def test_audio_only_mp4_is_refused(corpus: Path) -> None:
    with pytest.raises(MediaError, match="audio"):
        sniff(corpus / "exif/exiftool_t/images/QuickTime.m4a")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="directory"):
        sniff(tmp_path)


def test_tiff_with_nikon_make_and_cfa_data_is_nef_even_without_extension(tmp_path: Path) -> None:
    """A TIFF whose IFD0 says NIKON and whose pixels are CFA sensor data is a NEF, whatever its name."""
    p = tmp_path / "DSC_0001"
    img = Image.new("L", (8, 8))
    img.save(p, "TIFF", tiffinfo={271: "NIKON CORPORATION", 262: 32803})
    assert sniff(p).mime == "image/x-nikon-nef"


def test_tiff_with_camera_make_but_plain_pixels_stays_tiff(tmp_path: Path) -> None:
    p = tmp_path / "scan.tif"
    Image.new("RGB", (8, 8)).save(p, "TIFF", tiffinfo={271: "NIKON CORPORATION"})
    assert sniff(p).mime == "image/tiff"


def _write_video(path: Path, fmt: str, codec: str, pix_fmt: str = "yuv420p") -> None:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, 10)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize("fmt,codec,ext,mime", [
    ("mp4", "libx264", ".mp4", "video/mp4"),
    ("mov", "libx264", ".mov", "video/quicktime"),
    ("matroska", "libx264", ".mkv", "video/x-matroska"),
    ("webm", "libvpx", ".webm", "video/webm"),
    ("avi", "mjpeg", ".avi", "video/x-msvideo"),
    ("mpegts", "mpeg2video", ".ts", "video/mp2t"),
    ("3gp", "libx264", ".3gp", "video/3gpp"),
])
def test_generated_video_containers(tmp_path: Path, fmt: str, codec: str, ext: str, mime: str) -> None:
    p = tmp_path / "clip.bin"  # the name says nothing
    try:
        _write_video(p, fmt, codec, "yuvj420p" if codec == "mjpeg" else "yuv420p")
    except av.FFmpegError as e:  # pragma: no cover - depends on the encoders PyAV was built with
        pytest.skip(f"PyAV cannot write {fmt}/{codec}: {e}")
    ft = sniff(p)
    assert (ft.kind, ft.mime, ft.ext) == ("video", mime, ext if ext != ".ts" else ".mts")


def test_m2ts_with_timecode_prefix_is_transport_stream(tmp_path: Path) -> None:
    """AVCHD .MTS: every 188-byte TS packet is preceded by a 4-byte arrival timestamp (192-byte stride)."""
    ts = tmp_path / "a.ts"
    _write_video(ts, "mpegts", "mpeg2video")
    data = ts.read_bytes()
    packets = [data[i:i + 188] for i in range(0, len(data) - 187, 188)]
    m2ts = tmp_path / "00001.bin"
    m2ts.write_bytes(b"".join(b"\x00\x00\x00\x00" + p for p in packets))
    assert sniff(m2ts).mime == "video/mp2t"


def test_sniff_reads_only_the_head_of_a_big_file(tmp_path: Path) -> None:
    """A 1-byte change past the first megabyte cannot change the answer (we read a few KB)."""
    p = tmp_path / "big.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "JPEG")
    p.write_bytes(buf.getvalue() + b"\x00" * 2_000_000)
    assert sniff(p).mime == "image/jpeg"
