"""PhotoPrism's asserted metadata (peer/photoprism/meta_ground_truth_from_go_tests.json), for the ``Exif``
reader cases whose media file is in peer/photoprism/meta_testdata.

How their fields map to ours, and what is compared:

- ``TakenAtLocal`` = our ``taken_at`` (to the second). ``TakenAt`` (UTC) = ``taken_at - offset``, compared when
  we know the offset; without one PhotoPrism treats local as UTC, so only the local time is compared.
- ``Lat``/``Lng`` with their InEpsilon tolerance; 0.0 means "none" and must be None for us.
- ``CameraMake``/``CameraModel``/``LensModel``: "" means None.
- ``Orientation``: PhotoPrism's 0 means "no tag" (our None); for buggy_panorama.jpg, which has no Orientation
  tag either, PhotoPrism defaults to 1 and we report None (we never invent a stored value).
- ``Exposure``: "1/N" where PhotoPrism truncates or rounds 1/seconds to N; "" means None.
- ``FocalLength``: PhotoPrism stores FocalLengthIn35mmFilm when the file has it, else the real focal length
  truncated to int. We store the real focal length only, so it is compared for files without a 35 mm value.
- ``Width``/``Height``: PhotoPrism takes EXIF PixelXDimension/PixelYDimension when present, i.e. the camera
  original's *stored* size, which survives the test copies being downscaled to 500 px. Ours is the decoded
  upright size of this file. So: equal when the file still has the camera's size; otherwise the upright
  aspect ratio must match within 1 % (orientation 1..4 in all these cases, so stored == upright).

Not compared, and why:
- Artist, Copyright, Description, Title, Keywords, Software, CameraOwner, CameraSerial, Projection,
  ColorProfile, Codec, TakenNs as a field: we do not extract these (our sub-seconds are inside ``taken_at``).
- ``Altitude``: PhotoPrism asserts 0 for files whose GPSAltitude we read (we keep it), and 4294967284 for
  altitude.jpg, an unsigned wrap-around of -12 m; we reject that as implausible (None), tested below.
- Special cases with a documented divergence, tested as our own rule instead:
  buggy_panorama.jpg (GPS seconds 595404 make the position invalid: we return None; PhotoPrism asserts a
  position in China and a UTC time derived from its zone, we keep the EXIF offset +02:00),
  aurora.jpg (PhotoPrism uses IFD0 ModifyDate; we prefer XMP xmp:CreateDate 2021-10-27T10:43:46+02:00),
  gps-2000.jpg and exif-example.tiff (no usable capture date: PhotoPrism returns zero time, we fall back to
  file mtime), notebook.jpg (the 500 px copy was re-oriented to portrait while EXIF still describes the
  4000x3000 landscape original, so neither size nor aspect can agree).
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image

from test_metadata_support import sniffed
from workbench.metadata.extract import extract_metadata

SET = "peer/photoprism"
FMT = 'Format("2006-01-02T15:04:05Z")'
DIVERGENT_DATES = {"buggy_panorama.jpg", "aurora.jpg", "gps-2000.jpg", "exif-example.tiff"}
DIVERGENT_GPS = {"buggy_panorama.jpg"}
DIVERGENT_SIZE = {"notebook.jpg"}
ORIENTATION_DEFAULTED = {"buggy_panorama.jpg"}


def _cases() -> dict[str, dict]:
    root = os.environ.get("WORKBENCH_CORPUS")
    f = Path(root or "/nonexistent") / SET / "meta_ground_truth_from_go_tests.json"
    if not f.exists():
        return {}
    out = {}
    for key, case in json.loads(f.read_text())["cases"].items():
        if case["reader"] != "Exif" or "/" in key.split("::", 1)[1] or not case["asserts"]:
            continue
        files = [Path(root) / SET / "meta_testdata" / p.split("/", 1)[1] for p in case["files"]]
        if all(p.exists() for p in files):
            out[files[0].name] = case["asserts"]
    return out


CASES = _cases()
pillow_heif.register_heif_opener()  # _has_35mm reads iphone_7.heic through Pillow


def _with(field: str) -> list[str]:
    return sorted(n for n, a in CASES.items() if field in a)


@pytest.fixture(scope="module")
def md_of(corpus):
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            p = corpus / SET / "meta_testdata" / name
            cache[name] = extract_metadata(p, *sniffed(p))
        return cache[name]

    return get


def _val(name, field):
    return CASES[name][field]["value"]


@pytest.mark.parametrize("name", [n for n in _with(f"TakenAtLocal.{FMT}") if n not in DIVERGENT_DATES])
def test_local_and_utc_capture_time_match_photoprism(md_of, name):
    md = md_of(name)
    local = datetime.strptime(_val(name, f"TakenAtLocal.{FMT}"), "%Y-%m-%dT%H:%M:%SZ")
    utc = datetime.strptime(_val(name, f"TakenAt.{FMT}"), "%Y-%m-%dT%H:%M:%SZ")
    assert md.taken_at.replace(microsecond=0) == local
    if md.taken_at_offset_min is not None:
        assert (md.taken_at - timedelta(minutes=md.taken_at_offset_min)).replace(microsecond=0) == utc
    else:
        assert utc == local  # PhotoPrism's "no zone" convention


@pytest.mark.parametrize("name", [n for n in _with("TakenNs") if _val(n, "TakenNs")])
def test_subsecond_time_matches_photoprism(md_of, name):
    assert md_of(name).taken_at.microsecond == _val(name, "TakenNs") // 1000


@pytest.mark.parametrize("name", [n for n in _with("Lat") if n not in DIVERGENT_GPS])
def test_gps_position_matches_photoprism(md_of, name):
    md = md_of(name)
    lat, lng = _val(name, "Lat"), _val(name, "Lng")
    if lat == 0.0 and lng == 0.0:
        assert md.gps_lat is None and md.gps_lon is None
    else:
        assert md.gps_lat == pytest.approx(lat, rel=1e-5)
        assert md.gps_lon == pytest.approx(lng, rel=1e-5)


@pytest.mark.parametrize("name", _with("CameraMake"))
def test_camera_make_and_model_match_photoprism(md_of, name):
    md = md_of(name)
    assert md.camera_make == (_val(name, "CameraMake") or None)
    assert md.camera_model == (_val(name, "CameraModel") or None)


@pytest.mark.parametrize("name", _with("LensModel"))
def test_lens_model_matches_photoprism(md_of, name):
    assert md_of(name).lens == (_val(name, "LensModel") or None)


@pytest.mark.parametrize("name", [n for n in _with("Orientation") if n not in ORIENTATION_DEFAULTED])
def test_orientation_matches_photoprism(md_of, name):
    assert md_of(name).orientation == (_val(name, "Orientation") or None)


def test_missing_orientation_tag_is_not_invented(md_of):
    assert md_of("buggy_panorama.jpg").orientation is None


@pytest.mark.parametrize("name", _with("Exposure"))
def test_exposure_time_matches_photoprism(md_of, name):
    md, exp = md_of(name), _val(name, "Exposure")
    if not exp:
        assert md.exposure_time_s is None
    else:
        num, den = exp.split("/")
        assert num == "1"
        inverse = 1 / md.exposure_time_s
        assert int(den) in (int(inverse), round(inverse))


def _has_35mm(path: Path) -> bool:
    """FocalLengthIn35mmFilm (0xA405 in the Exif IFD), read with Pillow as an independent reader."""
    with Image.open(path) as im:
        return bool(im.getexif().get_ifd(0x8769).get(0xA405))


@pytest.mark.parametrize("name", _with("FocalLength"))
def test_real_focal_length_matches_photoprism_when_no_35mm_value(corpus, md_of, name):
    md, exp = md_of(name), _val(name, "FocalLength")
    if _has_35mm(corpus / SET / "meta_testdata" / name):
        # PhotoPrism reports the 35 mm equivalent here; ours is the real focal length, never longer.
        assert md.focal_length_mm is not None and md.focal_length_mm <= exp
    elif exp == 0:
        assert md.focal_length_mm is None
    else:
        assert int(md.focal_length_mm) == exp


@pytest.mark.parametrize("name", [n for n in _with("Width") if _val(n, "Width") and n not in DIVERGENT_SIZE])
def test_size_matches_photoprism_or_keeps_its_aspect_when_downscaled(md_of, name):
    md = md_of(name)
    w, h = _val(name, "Width"), _val(name, "Height")
    if (md.width, md.height) != (w, h):
        assert max(md.width, md.height) <= 500, "only the 500 px test copies may differ"
        assert md.width / md.height == pytest.approx(w / h, rel=0.01)


def test_invalid_gps_seconds_give_no_position(md_of):
    """buggy_panorama.jpg: GPSLatitude seconds 74425504/125 (> 60) cannot be a position."""
    md = md_of("buggy_panorama.jpg")
    assert md.gps_lat is None and md.gps_lon is None
    assert md.taken_at == datetime(2022, 4, 24, 10, 35, 53, 358000) and md.taken_at_offset_min == 120


def test_wrapped_unsigned_altitude_is_dropped(md_of):
    md = md_of("altitude.jpg")
    assert md.gps_lat == pytest.approx(45.75285, rel=1e-5)
    assert md.gps_alt_m is None


def test_xmp_create_date_is_used_when_exif_has_only_modify_date(md_of):
    md = md_of("aurora.jpg")
    assert md.taken_at_source == "xmp"
    assert (md.taken_at, md.taken_at_offset_min) == (datetime(2021, 10, 27, 10, 43, 46), 120)


@pytest.mark.parametrize("name", ["gps-2000.jpg", "exif-example.tiff"])
def test_file_without_capture_date_falls_back_to_mtime(md_of, name):
    assert md_of(name).taken_at_source == "file_mtime"


def test_exif_behind_large_app_segments_is_found(md_of):
    """digikam.jpg keeps its APP1 EXIF ~80 kB into the file, where exifread's walker gives up."""
    md = md_of("digikam.jpg")
    assert md.camera_make == "HUAWEI" and md.timezone == "Europe/Berlin"
