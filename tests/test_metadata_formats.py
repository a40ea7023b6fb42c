"""Every image and video format in the corpus goes through ``extract_metadata`` without raising anything but
MediaError, and simple values agree with ExifTool's expected output (exif/exiftool_t/expected/*.out) and
ExifTool's JSON sidecars for video/photoprism.

ExifTool comparisons: the EXIF group's Make, Camera Model Name, Date/Time Original, Orientation, and the File
group's Image Width/Height (stored size; ours is upright, so swapped for orientation 5..8). Values ExifTool
takes from MakerNotes, IPTC or Composite tags are not EXIF and are not compared. Image Width/Height are not
compared for RAW files, where ExifTool's File group describes an embedded preview or raw frame rather than the
developed image LibRaw produces.

Known gaps, marked strict xfail so they flip when fixed (``NOT_READ``): Canon CRW (CIFF) and Sigma X3F
metadata, which exifread cannot parse (we record a warning instead), and EXIF inside Photoshop PSD image
resources, which neither exifread nor Pillow's PSD plugin exposes.

Video durations: ExifTool's is the ``mvhd`` movie duration, ours FFmpeg's container duration; they may differ
by the tail of the longer (audio) track, hence 50 ms tolerance.
"""
from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from test_metadata_support import sniffed
from workbench.errors import MediaError
from workbench.metadata.extract import extract_metadata
from workbench.metadata.image import is_raw_mime

ROOT = Path(os.environ.get("WORKBENCH_CORPUS") or "/nonexistent")
EXIFTOOL = ROOT / "exif/exiftool_t"
SWEEP_DIRS = ["exif/exiftool_t/images", "formats/pillow", "formats/libheif", "video", "exif/exif-samples-extra"]
EXIFTOOL_ORIENTATION = {
    "Horizontal (normal)": 1, "Mirror horizontal": 2, "Rotate 180": 3, "Mirror vertical": 4,
    "Mirror horizontal and rotate 270 CW": 5, "Rotate 90 CW": 6, "Mirror horizontal and rotate 90 CW": 7,
    "Rotate 270 CW": 8,
}


def _media_files() -> list[str]:
    out = []
    for d in SWEEP_DIRS:
        base = ROOT / d
        if base.is_dir():
            out += [str(p.relative_to(ROOT)) for p in sorted(base.rglob("*")) if p.is_file() and sniffed(p)]
    return out


@pytest.mark.parametrize("rel", _media_files())
def test_extract_raises_nothing_but_media_error(corpus, rel):
    path = corpus / rel
    try:
        md = extract_metadata(path, *sniffed(path))
    except MediaError as e:
        assert e.reason and not re.fullmatch(r"\w+(Error|Exception)", e.reason)
        return
    assert md.taken_at is not None and md.taken_at_source  # mtime is always the last resort
    if md.width is not None:
        assert md.width > 0 and md.height > 0


def _exiftool_expected() -> dict[str, dict[str, str]]:
    """FileName -> {tag description: value} from ExifTool's own test outputs, first occurrence wins."""
    out: dict[str, dict[str, str]] = {}
    exp_dir = EXIFTOOL / "expected"
    if not exp_dir.is_dir():
        return out
    line_re = re.compile(r"^\[([^\]]*)\] \S+ - ([^:]+): (.*)$")
    for f in sorted(exp_dir.glob("*.out")):
        tags: dict[str, str] = {}
        for line in f.read_text(errors="replace").splitlines():
            m = line_re.match(line)
            if m:
                group = m[1].split(",")[0]
                if group in ("File", "EXIF"):  # MakerNotes/Composite/IPTC values are not EXIF tags
                    key = ("File " if group == "File" else "") + m[2]
                    tags.setdefault(key, m[3].strip())
        name = tags.get("File File Name")
        if name and (EXIFTOOL / "images" / name).exists() and name not in out:
            km = sniffed(EXIFTOOL / "images" / name)
            if km and km[0] == "image":
                out[name] = tags
    return out


EXPECTED = _exiftool_expected()


@pytest.fixture(scope="module")
def exiftool_md(corpus):
    cache = {}

    def get(name):
        if name not in cache:
            p = corpus / "exif/exiftool_t/images" / name
            try:
                cache[name] = extract_metadata(p, *sniffed(p))
            except MediaError as e:
                cache[name] = e
        return cache[name]

    return get


NOT_READ = {
    "CanonRaw.crw": "CRW (CIFF) metadata is not readable by exifread",
    "Sigma.x3f": "X3F metadata is not readable by exifread",
    "Photoshop.psd": "EXIF inside PSD image resources is not exposed by exifread or Pillow",
}


def _names_with(key: str) -> list:
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=NOT_READ[n])) if n in NOT_READ else n
            for n in sorted(n for n, t in EXPECTED.items() if key in t)]


@pytest.mark.parametrize("name", _names_with("Make"))
def test_make_and_model_match_exiftool(exiftool_md, name):
    md = exiftool_md(name)
    assert not isinstance(md, MediaError), md
    assert md.camera_make == EXPECTED[name]["Make"]
    if "Camera Model Name" in EXPECTED[name]:
        assert md.camera_model == EXPECTED[name]["Camera Model Name"]


@pytest.mark.parametrize("name", _names_with("Date/Time Original"))
def test_date_time_original_matches_exiftool(exiftool_md, name):
    md = exiftool_md(name)
    expected = datetime.strptime(EXPECTED[name]["Date/Time Original"][:19], "%Y:%m:%d %H:%M:%S")
    assert md.taken_at_source == "exif"
    assert md.taken_at.replace(microsecond=0) == expected


@pytest.mark.parametrize("name", [n for n in _names_with("Orientation")
                                  if EXPECTED[getattr(n, "values", [n])[0]]["Orientation"] in EXIFTOOL_ORIENTATION])
def test_orientation_matches_exiftool(exiftool_md, name):
    assert exiftool_md(name).orientation == EXIFTOOL_ORIENTATION[EXPECTED[name]["Orientation"]]


@pytest.mark.parametrize("name", [n for n in _names_with("File Image Width")
                                  if not is_raw_mime(sniffed(EXIFTOOL / "images" / getattr(n, "values", [n])[0])[1])])
def test_upright_size_matches_exiftool_stored_size(exiftool_md, name):
    md = exiftool_md(name)
    w, h = int(EXPECTED[name]["File Image Width"]), int(EXPECTED[name]["File Image Height"])
    if md.orientation is not None and 5 <= md.orientation <= 8:
        w, h = h, w
    assert (md.width, md.height) == (w, h)


# ---- video/photoprism: ExifTool JSON sidecars ------------------------------------------------------------

def _video_cases() -> list[str]:
    d = ROOT / "video/photoprism"
    return sorted(p.name for p in d.glob("*.json")) if d.is_dir() else []


def _sidecar(corpus, name):
    d = json.loads((corpus / "video/photoprism" / name).read_text())
    d = d[0] if isinstance(d, list) else d
    md = extract_metadata(corpus / "video/photoprism" / name[:-5], *sniffed(corpus / "video/photoprism" / name[:-5]))
    return d, md


@pytest.mark.parametrize("name", _video_cases())
def test_video_duration_and_upright_size_match_exiftool(corpus, name):
    d, md = _sidecar(corpus, name)
    assert md.duration_s == pytest.approx(d["Duration"], abs=0.05)
    w, h = d["ImageWidth"], d["ImageHeight"]
    if d.get("Rotation") in (90, 270):
        w, h = h, w
    assert (md.width, md.height) == (w, h)


@pytest.mark.parametrize("name", _video_cases())
def test_video_creation_date_matches_exiftool_utc(corpus, name):
    d, md = _sidecar(corpus, name)
    if d["CreateDate"].startswith("0000"):
        assert md.taken_at_source == "file_mtime"
        return
    assert md.taken_at_source == "video"
    utc = md.taken_at - timedelta(minutes=md.taken_at_offset_min)
    assert utc == datetime.strptime(d["CreateDate"], "%Y:%m:%d %H:%M:%S")


@pytest.mark.parametrize("name", _video_cases())
def test_video_gps_matches_exiftool_and_null_island_is_none(corpus, name):
    d, md = _sidecar(corpus, name)
    lat, lon = d.get("GPSLatitude"), d.get("GPSLongitude")
    if not lat and not lon:
        assert md.gps_lat is None and md.gps_lon is None
    else:
        assert (md.gps_lat, md.gps_lon) == pytest.approx((lat, lon), abs=1e-4)


def test_apple_creationdate_keeps_its_own_offset_and_zone_comes_from_location(corpus):
    _, md = _sidecar(corpus, "quicktime-hvc1.mov.json")
    assert (md.taken_at, md.taken_at_offset_min) == (datetime(2023, 9, 22, 18, 34, 5), 120)
    assert md.timezone == "Europe/Berlin"
    assert md.camera_make == "Apple" and md.camera_model == "iPad mini"


# ---- orientation rules on Pillow's and libheif's samples -------------------------------------------------

@pytest.mark.parametrize("n", range(0, 4))
@pytest.mark.parametrize("mirror", [0, 1])
def test_avif_irot_imir_give_the_reference_upright_size(corpus, n, mirror):
    """Pillow's rotNmirM.avif store the same picture turned by irot; displayed, all are 640x427."""
    md = extract_metadata(corpus / f"formats/pillow/avif/rot{n}mir{mirror}.avif", "image", "image/avif")
    assert (md.width, md.height) == (640, 427)


@pytest.mark.parametrize("n", range(1, 9))
def test_tiff_orientation_tag_is_reported(corpus, n):
    md = extract_metadata(corpus / f"formats/pillow/g4_orientation_{n}.tif", "image", "image/tiff")
    assert md.orientation == n


@pytest.mark.parametrize("name", ["xmp_tags_orientation.png", "xmp_tags_orientation_exiftool.png",
                                  "exif_imagemagick_orientation.png"])
def test_png_orientation_from_xmp_or_raw_profile(corpus, name):
    md = extract_metadata(corpus / "formats/pillow" / name, "image", "image/png")
    assert md.orientation == 3


@pytest.mark.parametrize("n", range(2, 9))
@pytest.mark.parametrize("ext,mime", [("jpg", "image/jpeg"), ("webp", "image/webp")])
def test_hopper_orientation_samples_report_their_orientation(corpus, n, ext, mime):
    md = extract_metadata(corpus / f"formats/pillow/hopper_orientation_{n}.{ext}", "image", mime)
    assert md.orientation == n


def test_jxl_size_comes_from_the_codestream_header_without_decoding(corpus):
    md = extract_metadata(corpus / "peer/immich-test-assets/formats/jxl/16bit-HDR-P3-nclx.jxl", "image", "image/jxl")
    assert (md.width, md.height) == (5667, 3685)


def test_cr3_exif_is_read_from_its_cmt_boxes(corpus):
    md = extract_metadata(corpus / "exif/exiftool_t/images/CanonRaw.cr3", "image", "image/x-canon-cr3")
    assert (md.camera_make, md.camera_model) == ("Canon", "Canon EOS M50")
    assert md.taken_at_source == "exif"


def test_crw_reports_that_camera_exif_was_not_extracted(corpus):
    md = extract_metadata(corpus / "exif/exiftool_t/images/CanonRaw.crw", "image", "image/x-canon-crw")
    assert md.width and md.height
    assert any("CRW" in w for w in md.warnings)


def test_empty_file_is_a_media_error(tmp_path):
    f = tmp_path / "empty.jpg"
    f.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        extract_metadata(f, "image", "image/jpeg")


def test_text_claimed_as_jpeg_is_a_media_error(tmp_path):
    f = tmp_path / "fake.jpg"
    f.write_text("not an image at all\n")
    with pytest.raises(MediaError, match="image/jpeg"):
        extract_metadata(f, "image", "image/jpeg")
