"""Immich's asserted values (peer/immich-test-assets/ground_truth.json) as specifications for our extractor.

Immich reports ``dateTimeOriginal`` as a UTC instant and ``localDateTime`` as wall time; ours is
``taken_at`` (wall time) + ``taken_at_offset_min``, so UTC = taken_at - offset.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from test_metadata_support import sniffed
from workbench.metadata.extract import extract_metadata

SET = "peer/immich-test-assets"


def _truth(corpus: Path) -> dict:
    return json.loads((corpus / SET / "ground_truth.json").read_text())


def _extract(corpus: Path, rel: str):
    path = corpus / SET / rel
    return extract_metadata(path, *sniffed(path))


def _iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _utc(md) -> datetime:
    assert md.taken_at_offset_min is not None
    return md.taken_at - timedelta(minutes=md.taken_at_offset_min)


def _exif_cases() -> list[str]:
    root = os.environ.get("WORKBENCH_CORPUS")
    f = Path(root or "/nonexistent") / SET / "ground_truth.json"
    return sorted(json.loads(f.read_text())["exif_expected"]) if f.exists() else []


@pytest.mark.parametrize("rel", _exif_cases())
def test_upright_size_matches_immich_exif_image_size(corpus, rel):
    exp = _truth(corpus)["exif_expected"][rel]
    md = _extract(corpus, rel)
    assert (md.width, md.height) == (exp["exifImageWidth"], exp["exifImageHeight"])


@pytest.mark.parametrize("rel", [r for r in _exif_cases() if r.endswith((".jpg", ".heic"))])
def test_camera_fields_match_immich(corpus, rel):
    exp = _truth(corpus)["exif_expected"][rel]
    md = _extract(corpus, rel)
    assert md.camera_make == exp["make"]
    assert md.camera_model == exp["model"]
    assert md.iso == exp["iso"]
    assert md.f_number == pytest.approx(exp["fNumber"], rel=1e-3)
    assert md.focal_length_mm == pytest.approx(exp["focalLength"], rel=1e-3)
    num, den = exp["exposureTime"].split("/")
    assert md.exposure_time_s == pytest.approx(int(num) / int(den), rel=1e-3)
    if "lensModel" in exp:
        assert md.lens == exp["lensModel"]


def test_jpeg_without_offset_or_gps_keeps_its_wall_time(corpus):
    """el_torcal_rocks.jpg: Immich shows 2012-08-05 11:39:59 (UTC because it has no zone); we keep the wall
    time and leave the offset unknown rather than inventing UTC."""
    md = _extract(corpus, "formats/jpg/el_torcal_rocks.jpg")
    assert md.taken_at == _iso("2012-08-05T11:39:59+00:00").replace(tzinfo=None)
    assert md.taken_at_source == "exif"
    assert md.taken_at_offset_min is None and md.timezone is None


def test_iphone_heic_instant_and_zone_match_immich(corpus):
    exp = _truth(corpus)["exif_expected"]["formats/heic/IMG_2682.heic"]
    md = _extract(corpus, "formats/heic/IMG_2682.heic")
    assert _utc(md) == _iso(exp["dateTimeOriginal"]).replace(tzinfo=None)
    assert md.timezone == exp["timeZone"]
    assert md.gps_lat == pytest.approx(exp["latitude"], abs=1e-4)
    assert md.gps_lon == pytest.approx(exp["longitude"], abs=1e-4)


def test_date_time_original_wins_over_other_dates(corpus):
    exp = _truth(corpus)["date_expected"]["metadata/dates/date-priority-test.jpg"]
    md = _extract(corpus, "metadata/dates/date-priority-test.jpg")
    assert md.taken_at_source == "exif"
    assert md.taken_at == _iso(exp["localDateTime"]).replace(tzinfo=None)
    assert md.timezone is exp["timeZone"] is None


def test_gps_datetime_is_shown_in_the_zone_of_the_gps_position(corpus):
    exp = _truth(corpus)["date_expected"]["metadata/dates/gps-datetime.jpg"]
    md = _extract(corpus, "metadata/dates/gps-datetime.jpg")
    assert md.taken_at_source == "gps"
    assert md.timezone == exp["timeZone"]
    assert md.taken_at == _iso(exp["localDateTime"]).replace(tzinfo=None)
    assert _utc(md) == _iso(exp["dateTimeOriginal"]).replace(tzinfo=None)


def test_exif_time_without_offset_gets_zone_from_gps(corpus):
    md = _extract(corpus, "metadata/dates/datetimeoriginal-gps.jpg")
    assert md.taken_at == datetime(2025, 12, 1, 11, 30)
    assert md.timezone == "America/Denver"
    assert md.taken_at_offset_min == -7 * 60


def test_time_only_iptc_value_falls_back_to_file_mtime(corpus):
    path = corpus / SET / "metadata/dates/time-created.jpg"
    md = _extract(corpus, "metadata/dates/time-created.jpg")
    assert md.taken_at_source == "file_mtime"
    assert md.taken_at == datetime.fromtimestamp(int(path.stat().st_mtime))  # whole seconds


def test_year_42603_video_date_is_rejected_with_a_warning(corpus):
    md = _extract(corpus, "metadata/dates/future42603.mp4")
    assert md.taken_at_source != "video"
    assert any("42603" in w and "future" in w for w in md.warnings)


def test_present_but_empty_gps_tags_give_no_location(corpus):
    md = _extract(corpus, "metadata/gps-position/empty_gps.jpg")
    assert md.gps_lat is None and md.gps_lon is None and md.gps_alt_m is None


def test_valid_gps_gives_a_location(corpus):
    md = _extract(corpus, "metadata/gps-position/thompson-springs.jpg")
    assert md.gps_lat == pytest.approx(39.115, abs=1e-3)
    assert md.gps_lon == pytest.approx(-108.401, abs=1e-3)


def test_exif_orientation_6_portrait_is_reported_upright(corpus):
    """portrait-orientation-6.jpg stores portrait.jpg's picture turned a quarter (700x840 stored) with EXIF
    orientation 6; shown upright it has portrait.jpg's size."""
    md = _extract(corpus, "metadata/faces/portrait-orientation-6.jpg")
    ref = _extract(corpus, "metadata/faces/portrait.jpg")
    assert md.orientation == 6 and ref.orientation is None
    assert (md.width, md.height) == (ref.width, ref.height) == (840, 700)
