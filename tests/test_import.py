"""Import: content addressing, deduplication, idempotency, reference mode, bad files, lock."""
from __future__ import annotations

import stat
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from factory import jpeg, png, video
from workbench import Library, LibraryError


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    return Library.create(tmp_path / "lib")


def test_imported_original_is_stored_by_sha256_and_read_only(lib: Library, tmp_path: Path):
    src = jpeg(tmp_path / "in" / "a.jpg")
    lib.import_files([src], progress=False)
    row = lib.media().iloc[0]
    stored = lib.originals_dir / row["blob"]
    import hashlib
    assert stored.read_bytes() == src.read_bytes()
    assert stored.name.startswith(hashlib.sha256(src.read_bytes()).hexdigest())
    assert not (stored.stat().st_mode & stat.S_IWUSR)


def test_identical_bytes_under_two_names_are_one_media_with_both_paths(lib: Library, tmp_path: Path):
    a = jpeg(tmp_path / "in" / "a.jpg", seed=5)
    b = tmp_path / "in" / "sub" / "copy-of-a.jpg"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes())
    rep = lib.import_files([tmp_path / "in"], progress=False)
    assert (rep.found, rep.added, rep.known) == (2, 1, 1)
    assert len(lib.media()) == 1
    info = lib.get(lib.media().iloc[0]["id"])
    assert info["sources"] == sorted([str(a), str(b)])


def test_importing_the_same_files_again_adds_nothing(lib: Library, tmp_path: Path):
    for i in range(3):
        jpeg(tmp_path / "in" / f"{i}.jpg", seed=i)
    lib.import_files([tmp_path / "in"], progress=False)
    before = (len(lib.media()), len(lib.sources()), sorted(p.name for p in lib.originals_dir.rglob("*.jpg")))
    rep = lib.import_files([tmp_path / "in"], progress=False)
    after = (len(lib.media()), len(lib.sources()), sorted(p.name for p in lib.originals_dir.rglob("*.jpg")))
    assert rep.added == 0 and rep.imported == 3
    assert before == after


def test_reference_mode_indexes_files_without_copying(lib: Library, tmp_path: Path):
    src = jpeg(tmp_path / "in" / "ref.jpg")
    lib.import_files([src], mode="reference", progress=False)
    row = lib.media().iloc[0]
    assert row["storage"] == "reference" and pd.isna(row["blob"])
    assert not any(p.is_file() for p in lib.originals_dir.rglob("*") if ".tmp" not in p.parts)
    assert lib.original_path(row["id"]) == src


def test_reference_media_becomes_a_stored_copy_when_imported_with_copy(lib: Library, tmp_path: Path):
    src = jpeg(tmp_path / "in" / "ref.jpg")
    lib.import_files([src], mode="reference", progress=False)
    lib.import_files([src], mode="copy", progress=False)
    row = lib.media().iloc[0]
    assert row["storage"] == "copy"
    assert (lib.originals_dir / row["blob"]).read_bytes() == src.read_bytes()


def test_source_path_is_absolute(lib: Library, tmp_path: Path, monkeypatch):
    jpeg(tmp_path / "in" / "rel.jpg")
    monkeypatch.chdir(tmp_path)
    lib.import_files([Path("in")], progress=False)
    assert lib.media().iloc[0]["path"] == str(tmp_path / "in" / "rel.jpg")


def test_type_comes_from_content_not_extension(lib: Library, tmp_path: Path):
    liar = tmp_path / "in" / "actually-a-jpeg.png"
    jpeg(liar)
    lib.import_files([liar], progress=False)
    row = lib.media().iloc[0]
    assert row["mime"] == "image/jpeg"
    assert row["blob"].endswith(".jpg")


def test_bad_files_are_recorded_with_reasons_and_the_batch_goes_on(lib: Library, tmp_path: Path):
    good = jpeg(tmp_path / "in" / "good.jpg")
    (tmp_path / "in" / "empty.jpg").write_bytes(b"")
    (tmp_path / "in" / "notes.dat").write_bytes(b"just some text, not a photo\n" * 10)
    rep = lib.import_files([tmp_path / "in"], progress=False)
    assert rep.added == 1 and rep.failed == 2
    errs = lib.errors().set_index("path")
    assert "empty" in errs.loc[str(tmp_path / "in" / "empty.jpg"), "reason"].lower()
    assert "not an image or video" in errs.loc[str(tmp_path / "in" / "notes.dat"), "reason"].lower()
    assert str(good) in set(lib.media()["path"])


def test_sidecars_are_skipped_not_reported_as_errors(lib: Library, tmp_path: Path):
    jpeg(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "a.xmp").write_text("<x:xmpmeta/>")
    rep = lib.import_files([tmp_path / "in"], progress=False)
    assert rep.skipped_sidecars == 1 and rep.failed == 0
    assert lib.errors().empty


def test_a_fixed_file_clears_its_import_error(lib: Library, tmp_path: Path):
    f = tmp_path / "in" / "later.jpg"
    f.parent.mkdir()
    f.write_bytes(b"")
    lib.import_files([f], progress=False)
    assert len(lib.errors()) == 1
    jpeg(f)
    lib.import_files([f], progress=False)
    assert lib.errors().empty


def test_decompression_bomb_is_refused_with_its_size(lib: Library, tmp_path: Path):
    from PIL import Image
    bomb = tmp_path / "in" / "bomb.png"
    bomb.parent.mkdir()
    Image.new("1", (20000, 20000)).save(bomb)  # 400 MP, a few KB on disk
    rep = lib.import_files([bomb], progress=False)
    assert rep.failed == 1
    reason = lib.errors().iloc[0]["reason"]
    assert "decompression bomb" in reason and "20000x20000" in reason


def test_owner_is_recorded(lib: Library, tmp_path: Path):
    lib.import_files([jpeg(tmp_path / "in" / "a.jpg")], owner="alice", progress=False)
    assert lib.media().iloc[0]["owner"] == "alice"
    assert len(lib.media(owner="bob")) == 0


def test_exif_metadata_reaches_the_catalog(lib: Library, tmp_path: Path):
    f = jpeg(tmp_path / "in" / "cam.jpg", make="Canon", model="Canon EOS 5D",
             taken=datetime(2021, 6, 5, 14, 30, 0), offset="+02:00")
    lib.import_files([f], progress=False)
    row = lib.media().iloc[0]
    assert (row["camera_make"], row["camera_model"]) == ("Canon", "Canon EOS 5D")
    assert row["taken_at"].to_pydatetime() == datetime(2021, 6, 5, 14, 30, 0)
    assert row["taken_at_offset_min"] == 120 and row["taken_at_source"] == "exif"


def test_video_is_imported_with_duration_and_codec(lib: Library, tmp_path: Path):
    lib.import_files([video(tmp_path / "in" / "clip.mp4", seconds=2.0, fps=10)], progress=False)
    row = lib.media().iloc[0]
    assert row["kind"] == "video" and row["mime"] == "video/mp4"
    assert row["duration_s"] == pytest.approx(2.0, abs=0.3)
    assert row["video_codec"] == "h264" and (row["width"], row["height"]) == (160, 120)


def test_import_of_a_missing_path_says_which(lib: Library, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        lib.import_files([tmp_path / "nothing-here"], progress=False)


def test_a_second_writer_waits_its_turn_then_is_told_the_library_is_busy(lib: Library, tmp_path: Path):
    from workbench.settings import Settings
    s = Settings.load(lib.root)
    s.write_lock_wait_s = 0.5
    s.save(lib.root)
    other = Library.open(lib.root)
    with lib._lock:
        t = time.monotonic()
        with pytest.raises(LibraryError, match=r"busy: .*waited 0.5 s"):
            other.import_files([png(tmp_path / "x.png")], progress=False)
        assert time.monotonic() - t >= 0.5
    assert other.import_files([png(tmp_path / "x.png")], progress=False).added == 1


def test_opening_a_folder_that_is_not_a_library_explains_how_to_create_one(tmp_path: Path):
    with pytest.raises(LibraryError, match="workbench init"):
        Library.open(tmp_path / "nope")


def test_library_folder_is_found_through_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LIBRARY", str(tmp_path / "envlib"))
    lib = Library.create()
    assert lib.root == tmp_path / "envlib" and (lib.root / "library.json").exists()
    assert {"originals", "derived", "catalog"} <= {p.name for p in lib.root.iterdir()}
