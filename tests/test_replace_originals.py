"""Replacing originals by compressed versions: only verified lossless ones by default, only after the new file is
written, verified and recorded; the id never changes, reads still give the original, the old file waits in the
trash."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench import Library
from workbench.cli.main import app
from workbench.compress.policy import ImageRule, Policy
from workbench.errors import WorkbenchError

JPEGS = ["exif/exif-py/jpg/gps/DSCN0010.jpg", "exif/exif-py/jpg/gps/DSCN0012.jpg"]
PNG = "formats/pillow/hopper.png"
REFERENCED = "exif/exif-py/jpg/gps/DSCN0021.jpg"
OWNER = "alice"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory) -> Path:
    """Two JPEGs and a PNG stored in the library, one JPEG indexed in place; thumbnails, a lossless and a lossy
    (WebP 85) set of versions."""
    base = tmp_path_factory.mktemp("replace")
    src = base / "src"
    src.mkdir()
    for rel in [*JPEGS, PNG]:
        shutil.copy(corpus / rel, src / Path(rel).name)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(corpus / REFERENCED, elsewhere / Path(REFERENCED).name)
    lib = Library.create(base / "lib")
    lib.import_files([src], owner=OWNER, progress=False)
    lib.import_files([elsewhere], mode="reference", owner=OWNER, progress=False)
    lib.process(["thumbnails"], progress=False)
    lib.save_policy(Policy("webp85", ImageRule("lossy", "webp", 85)))
    lib.compress("lossless", progress=False)
    lib.compress("webp85", progress=False)
    return base


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built / "lib", tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


@pytest.fixture
def src(built) -> Path:
    return built / "src"


def id_of(lib: Library, name: str) -> str:
    m = lib.media()
    return m[m["path"].str.endswith(name)].iloc[0]["id"]


def row_of(df, mid: str) -> dict:
    return df[df["id"] == mid].iloc[0].to_dict()


def test_a_jpeg_replaced_by_its_jpeg_xl_keeps_its_id_and_gives_back_the_exact_original(lib, src):
    mid = id_of(lib, "DSCN0010.jpg")
    original = (src / "DSCN0010.jpg").read_bytes()
    df = lib.replace_originals(progress=False)
    r = row_of(df, mid)
    assert r["status"] == "replaced" and r["stored_as"] == "jxl-reconstructible"
    assert mid in set(lib.media()["id"]) and lib.get(mid)["blob"].endswith(".stored.jxl")
    assert not (lib.originals_dir / lib.get(mid)["original_blob"]).exists()
    assert lib.original_path(mid).read_bytes() == original
    assert lib.get(mid)["mime"] == "image/jpeg"


def test_the_bytes_saved_are_reported_and_freed_from_the_originals_folder(lib):
    def stored_bytes() -> int:
        return sum(p.stat().st_size for p in lib.originals_dir.rglob("*") if p.is_file())

    before = stored_bytes()
    df = lib.replace_originals(progress=False)
    replaced = df[df["status"] == "replaced"]
    assert len(replaced) == 3 and (replaced["bytes_saved"] > 0).all()
    assert (replaced["bytes_saved"] == replaced["bytes_before"] - replaced["bytes_after"]).all()
    assert df.attrs["bytes_saved"] == int(replaced["bytes_saved"].sum())
    assert before - stored_bytes() == df.attrs["bytes_saved"]


def test_verify_checks_replaced_originals_and_says_how_they_are_stored(lib):
    lib.replace_originals(progress=False)
    report = lib.verify(progress=False)
    assert report["status"].eq("ok").all()
    by_id = report.set_index("id")["stored_as"]
    assert by_id[id_of(lib, "DSCN0010.jpg")] == "jxl-reconstructible"
    assert by_id[id_of(lib, "hopper.png")] == "lossless-pixels"
    assert by_id[id_of(lib, "DSCN0021.jpg")] == "original"


def test_verify_notices_a_damaged_stored_jpeg_xl(lib):
    mid = id_of(lib, "DSCN0012.jpg")
    lib.replace_originals(progress=False)
    stored = lib.originals_dir / lib.get(mid)["blob"]
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    r = row_of(lib.verify(progress=False), mid)
    assert r["status"] == "changed" and "jxl-reconstructible" in r["detail"]


def test_thumbnails_of_a_replaced_jpeg_are_built_from_the_exact_original(lib, src):
    from workbench.imaging.renditions import render_image_file
    mid = id_of(lib, "DSCN0010.jpg")
    lib.replace_originals(progress=False)
    assert lib.thumbnail(mid) is not None                       # renditions made before stay
    lib.settings.thumb_size_px = 200                              # a new thumbnail version: everything is redone
    lib.settings.save(lib.root)
    again = Library.open(lib.root)
    rep = again.process(["thumbnails"], progress=False)[0]
    assert rep.failed == 0 and rep.done == 4
    expected = render_image_file(src / "DSCN0010.jpg", "image/jpeg", again.settings)["thumb"].data
    assert again.thumbnail(mid) == expected


def test_the_replaced_original_waits_in_the_trash_until_it_is_emptied(lib, src):
    mid = id_of(lib, "DSCN0010.jpg")
    lib.replace_originals(progress=False)
    waiting = lib.root / "trash" / "originals" / lib.get(mid)["original_blob"]
    assert sha(waiting.read_bytes()) == lib.get(mid)["sha256"]
    assert lib.replaced_originals()["in_trash"].all()
    assert lib.original_path(mid).parent.parent == lib.derived_dir / "reconstructed"   # rebuilt into a cache
    res = lib.empty_trash()
    assert res["replaced_originals_deleted"] == 3 and not waiting.exists()
    shutil.rmtree(lib.derived_dir / "reconstructed")              # the rebuilt cache goes too: rebuilt on demand
    assert lib.original_path(mid).read_bytes() == (src / "DSCN0010.jpg").read_bytes()
    with pytest.raises(WorkbenchError, match="no longer in the trash"):
        lib.restore_original(mid)


def test_a_replaced_original_can_be_restored_while_in_the_trash(lib, src):
    jpg, png = id_of(lib, "DSCN0010.jpg"), id_of(lib, "hopper.png")
    lib.replace_originals(progress=False)
    assert lib.get(png)["mime"] == "image/jxl"
    stored = lib.get(jpg)["blob"]
    for mid in (jpg, png):
        lib.restore_original(mid)
    assert lib.get(jpg)["stored_as"] is None and lib.get(png)["mime"] == "image/png"
    assert lib.original_path(png).read_bytes() == (src / "hopper.png").read_bytes()
    assert lib.original_path(jpg).parent.is_relative_to(lib.originals_dir)
    assert (lib.root / "trash" / "originals" / stored).exists()  # the JPEG XL is trashed, not deleted
    report = lib.verify(progress=False).set_index("id")
    assert report["status"].eq("ok").all() and report.loc[[jpg, png], "stored_as"].eq("original").all()


def test_a_lossy_version_replaces_nothing_without_the_explicit_choice(lib, src):
    df = lib.replace_originals("webp85", progress=False)
    stored = df[df["id"] != id_of(lib, "DSCN0021.jpg")]
    assert stored["status"].eq("skipped").all() and stored["reason"].str.contains("not verified lossless").all()
    assert lib.replaced_originals().empty
    assert lib.original_path(id_of(lib, "hopper.png")).read_bytes() == (src / "hopper.png").read_bytes()


def test_a_lossy_version_replaces_the_original_when_explicitly_allowed(lib):
    mid = id_of(lib, "hopper.png")
    r = row_of(lib.replace_originals("webp85", allow_lossy=True, progress=False), mid)
    assert r["status"] == "replaced" and r["stored_as"] == "lossy"
    assert lib.get(mid)["mime"] == "image/webp" and lib.original_path(mid).read_bytes()[8:12] == b"WEBP"
    assert row_of(lib.verify(progress=False), mid)["status"] == "ok"


def test_a_media_indexed_in_place_is_never_replaced(lib, built):
    mid = id_of(lib, "DSCN0021.jpg")
    before = (built / "elsewhere" / "DSCN0021.jpg").read_bytes()
    for pol, lossy in (("lossless", False), ("webp85", True)):
        r = row_of(lib.replace_originals(pol, allow_lossy=lossy, progress=False), mid)
        assert r["status"] == "skipped" and "indexed in place" in r["reason"]
    assert (built / "elsewhere" / "DSCN0021.jpg").read_bytes() == before
    assert lib.get(mid)["stored_as"] is None


def test_a_version_that_fails_verification_again_is_refused_and_the_original_stays(lib, src):
    mid = id_of(lib, "DSCN0012.jpg")
    version = lib.derived_dir / lib.versions("lossless").set_index("media_id").loc[mid, "path"]
    data = bytearray(version.read_bytes())
    data[len(data) // 2] ^= 0xFF
    version.write_bytes(bytes(data))
    r = row_of(lib.replace_originals(progress=False), mid)
    assert r["status"] == "refused" and "the original stays" in r["reason"]
    assert lib.get(mid)["stored_as"] is None
    assert lib.original_path(mid).read_bytes() == (src / "DSCN0012.jpg").read_bytes()


def test_replacing_again_changes_nothing(lib):
    lib.replace_originals(progress=False)
    files = sorted(p for p in lib.root.rglob("*") if p.is_file() and "catalog" not in p.parts)
    again = lib.replace_originals(progress=False)
    assert again["status"].eq("skipped").all() and again.attrs["bytes_saved"] == 0
    assert sorted(p for p in lib.root.rglob("*") if p.is_file() and "catalog" not in p.parts) == files


def test_the_gallery_download_of_a_replaced_jpeg_is_the_original_jpeg(lib, src):
    mid = id_of(lib, "DSCN0010.jpg")
    lib.replace_originals(progress=False)
    lib.add_user(OWNER, "correct horse battery", "viewer")
    assert lib.for_user(OWNER).original_bytes(mid) == (src / "DSCN0010.jpg").read_bytes()


def test_the_gallery_serves_a_replaced_png_as_the_jpeg_xl_it_now_is(lib, src):
    from workbench.gallery.media_handler import served_file

    mid = id_of(lib, "hopper.png")
    assert served_file(lib, mid)["name"] == "hopper.png"
    lib.replace_originals(progress=False)
    served = served_file(lib, mid)
    assert (served["name"], served["mime"]) == ("hopper.jxl", "image/jxl")
    assert lib.storage.read_bytes(served["key"])[:2] in (b"\xff\x0a", b"\x00\x00")  # JPEG XL codestream/container


def test_the_gallery_serves_a_replaced_jpeg_under_its_own_name(lib):
    from workbench.gallery.media_handler import served_file

    mid = id_of(lib, "DSCN0010.jpg")
    lib.replace_originals(progress=False)
    assert (served_file(lib, mid)["name"], served_file(lib, mid)["mime"]) == ("DSCN0010.jpg", "image/jpeg")


def test_cli_asks_before_lossy_versions_replace_anything(lib):
    runner = CliRunner()
    no = runner.invoke(app, ["--library", str(lib.root), "replace-originals", "--policy", "webp85",
                             "--allow-lossy"], input="n\n")
    assert no.exit_code != 0 and lib.replaced_originals().empty
    ok = runner.invoke(app, ["--library", str(lib.root), "replace-originals", "--json"])
    assert ok.exit_code == 0, ok.output
    assert len(lib.replaced_originals()) == 3


def test_emptying_the_trash_of_a_replaced_media_deletes_its_stored_file_and_its_original(lib):
    mid = id_of(lib, "DSCN0010.jpg")
    lib.replace_originals(progress=False)
    row = lib.get(mid)
    stored, waiting = lib.originals_dir / row["blob"], lib.root / "trash" / "originals" / row["original_blob"]
    lib.trash([mid])
    lib.empty_trash()
    assert not stored.exists() and not waiting.exists() and mid not in set(lib.media(include_trashed=True)["id"])
