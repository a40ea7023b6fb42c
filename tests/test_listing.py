"""ls: sorting, filters, full-text words, the JSON contract."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from factory import jpeg, video
from workbench import Library, NotFoundError
from workbench.cli.output import LS_COLUMNS, ls_record


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Library:
    root = tmp_path_factory.mktemp("listing")
    jpeg(root / "in" / "holidays" / "beach-day.jpg", 400, 300, 1, make="Canon", model="EOS R5",
         taken=datetime(2020, 7, 1, 10, 0), offset="+01:00")
    jpeg(root / "in" / "holidays" / "mountain.jpg", 800, 600, 2, make="NIKON CORPORATION", model="NIKON D750",
         taken=datetime(2019, 1, 2, 9, 0))
    jpeg(root / "in" / "family" / "birthday.jpg", 300, 200, 3, taken=datetime(2022, 3, 4, 18, 0))
    video(root / "in" / "family" / "party.mp4")
    lib = Library.create(root / "lib")
    lib.import_files([root / "in"], progress=False)
    return lib


def names(df) -> list[str]:
    return [Path(p).name for p in df["path"]]


def test_sort_by_date_puts_undated_last(lib: Library):
    # The video has no capture date of its own and falls back to its file time, which is today.
    assert names(lib.media(sort="date"))[:3] == ["mountain.jpg", "beach-day.jpg", "birthday.jpg"]


def test_sort_by_name_descending(lib: Library):
    assert names(lib.media(sort="name", desc=True)) == ["party.mp4", "mountain.jpg", "birthday.jpg", "beach-day.jpg"]


def test_sort_by_size(lib: Library):
    sizes = list(lib.media(sort="size")["size_bytes"])
    assert sizes == sorted(sizes)


def test_filter_by_kind(lib: Library):
    assert names(lib.media(kind="video")) == ["party.mp4"]


def test_filter_by_date_range_includes_the_whole_until_day(lib: Library):
    assert names(lib.media(since=date(2019, 6, 1), until=date(2020, 7, 1))) == ["beach-day.jpg"]


def test_filter_by_camera_matches_make_or_model_case_insensitively(lib: Library):
    assert names(lib.media(camera="nikon")) == ["mountain.jpg"]
    assert names(lib.media(camera="eos")) == ["beach-day.jpg"]


def test_words_match_file_names_and_folders(lib: Library):
    assert names(lib.media(query="beach")) == ["beach-day.jpg"]
    assert sorted(names(lib.media(query="holidays"))) == ["beach-day.jpg", "mountain.jpg"]


def test_words_match_camera(lib: Library):
    assert names(lib.media(query="canon")) == ["beach-day.jpg"]


def test_unknown_words_match_nothing(lib: Library):
    assert lib.media(query="zebra").empty


def test_ls_json_rows_have_exactly_the_contract_keys(lib: Library):
    rec = ls_record(lib.media(query="beach").iloc[0].to_dict())
    assert list(rec) == LS_COLUMNS
    assert rec["taken_at"] == "2020-07-01T10:00:00+01:00"
    assert rec["camera_make"] == "Canon" and rec["width"] == 400 and rec["duration_s"] is None


def test_taken_at_without_known_offset_has_no_offset(lib: Library):
    rec = ls_record(lib.media(query="mountain").iloc[0].to_dict())
    assert rec["taken_at"] == "2019-01-02T09:00:00"


def test_show_accepts_a_unique_id_prefix(lib: Library):
    full = lib.media(query="birthday").iloc[0]["id"]
    assert lib.get(full[:6])["id"] == full


def test_show_rejects_unknown_ids_clearly(lib: Library):
    with pytest.raises(NotFoundError, match="no media"):
        lib.get("ffffffffffff")
    with pytest.raises(NotFoundError, match="hex"):
        lib.get("xyz")
