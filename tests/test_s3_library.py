"""A library on S3-compatible object storage (moto's server on 127.0.0.1) works like a folder one: import,
process, renditions and originals for the gallery, compress and replace, trash, verify; the catalog in the bucket
or on local disk; every command and ``Library.open`` honour ``s3://`` and ``WORKBENCH_LIBRARY``."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory import jpeg, png, video
from workbench import Library
from workbench.cli.main import app
from workbench.errors import LibraryError
from workbench.storage.s3 import S3Storage


@pytest.fixture
def photos(tmp_path) -> Path:
    src = tmp_path / "photos"
    for i in range(3):
        jpeg(src / f"p{i}.jpg", seed=i)
    png(src / "drawing.png")
    video(src / "clip.mp4", seconds=1.0)
    return src


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_init_puts_library_json_in_the_bucket_and_state_in_the_local_home(s3_env):
    lib = Library.create(s3_env.url)
    assert isinstance(lib.storage, S3Storage) and lib.location == s3_env.url
    meta = json.loads(s3_env.client.get_object(Bucket=s3_env.bucket, Key="lib/library.json")["Body"].read())
    assert meta["catalog"] == "bucket" and meta["format"] == "workbench-library"
    assert any(k.startswith("lib/catalog/media.lance/") for k in s3_env.keys())
    # The local home holds only a pointer (and later the lock and caches), under WORKBENCH_STATE_HOME.
    assert lib.root == s3_env.state_home / "s3" / s3_env.bucket / "lib"
    assert json.loads((lib.root / "library.json").read_text())["location"] == s3_env.url
    # The home opens the same library (the gallery and dashboards are handed it), and so does the URL again.
    assert Library.open(lib.root).location == s3_env.url
    assert repr(Library.open(s3_env.url + "/")) == f"Library({s3_env.url!r})"


def test_opening_a_prefix_without_a_library_says_how_to_make_one(s3_env):
    with pytest.raises(LibraryError, match="no library at s3://.*workbench init"):
        Library.open(f"s3://{s3_env.bucket}/nothing-here")


@pytest.mark.slow
def test_import_process_read_trash_and_verify_on_object_storage(s3_env, photos):
    lib = Library.create(s3_env.url)
    rep = lib.import_files([photos], progress=False)
    assert rep.added == 5 and rep.failed == 0
    media = lib.media()
    originals = [k for k in s3_env.keys("lib/originals/")]
    assert len(originals) == 5
    # Content-addressed: each object's key is the sha256 of exactly the file's bytes.
    for f in photos.iterdir():
        assert any(sha(f) in k for k in originals), f.name
    # Importing again uploads nothing.
    again = lib.import_files([photos], progress=False)
    assert again.added == 0 and len(s3_env.keys("lib/originals/")) == 5

    reports = {r.stage: r for r in lib.process(["thumbnails"], progress=False)}
    assert reports["thumbnails"].done == 5 and reports["thumbnails"].failed == 0
    thumbs = s3_env.keys("lib/derived/thumbnails/")
    assert len(thumbs) == 10                                   # a thumbnail and a preview each
    # Nothing of the library's files lands in the local home except cached copies.
    local = [p for p in lib.root.rglob("*") if p.is_file()]
    assert not [p for p in local if "originals" in p.parts and "cache" not in p.parts]

    photo = media[media["path"].str.endswith("p1.jpg")].iloc[0]["id"]
    assert lib.thumbnail(photo)[:4] == b"RIFF"                 # a WebP read from the bucket
    # What the gallery's media handler serves: a local file with the original bytes.
    assert sha(lib.original_path(photo)) == sha(photos / "p1.jpg")
    clip = media[media["kind"] == "video"].iloc[0]
    key = f"originals/{clip['blob']}"
    assert lib.storage.read_range(key, 100, 50) == (photos / "clip.mp4").read_bytes()[100:150]

    assert lib.trash([photo]) == 1
    assert photo not in set(lib.media()["id"])
    emptied = lib.empty_trash()
    assert emptied
    assert not any(sha(photos / "p1.jpg") in k for k in s3_env.keys("lib/originals/"))

    report = lib.verify(progress=False)
    assert set(report["status"]) == {"ok"} and len(report) == 4
    # A damaged object in the bucket (same size, one byte changed) is found, not hidden by the local cache.
    png_id = media[media["path"].str.endswith("drawing.png")].iloc[0]["id"]
    lib.original_path(png_id)                                  # cached locally first
    blob = media.set_index("id").loc[png_id, "blob"]
    data = bytearray(lib.storage.read_bytes(f"originals/{blob}"))
    data[-20] ^= 0xFF
    s3_env.client.put_object(Bucket=s3_env.bucket, Key=f"lib/originals/{blob}", Body=bytes(data))
    report = lib.verify(progress=False).set_index("id")
    assert report.loc[png_id, "status"] == "changed"


def test_compress_and_replace_originals_on_object_storage(s3_env, photos):
    lib = Library.create(s3_env.url)
    lib.import_files([photos / "p0.jpg", photos / "drawing.png"], progress=False)
    lib.compress("lossless", progress=False)
    assert s3_env.keys("lib/derived/versions/lossless/")
    done = lib.replace_originals(progress=False)
    assert set(done["status"]) == {"replaced"}
    # The JPEG is kept as its JPEG XL and still reads back byte for byte; the old originals wait in the trash.
    jid = lib.media().set_index("path").filter(like="p0.jpg", axis=0).iloc[0]["id"]
    assert sha(lib.original_path(jid)) == sha(photos / "p0.jpg")
    assert len(s3_env.keys("lib/trash/originals/")) == 2
    assert set(lib.verify(progress=False)["status"]) == {"ok"}


def test_a_local_catalog_keeps_the_tables_off_the_bucket(s3_env, photos):
    lib = Library.create(s3_env.url, catalog_location="local")
    lib.import_files([photos / "p0.jpg"], progress=False)
    assert not [k for k in s3_env.keys() if "/catalog/" in k]
    assert (lib.root / "catalog" / "media.lance").is_dir()
    assert json.loads(s3_env.client.get_object(Bucket=s3_env.bucket, Key="lib/library.json")["Body"].read())[
        "catalog"] == "local"
    assert Library.open(s3_env.url).catalog.count("media") == 1


def test_every_command_honours_an_s3_library(s3_env, photos, monkeypatch):
    runner = CliRunner()
    res = runner.invoke(app, ["init", s3_env.url, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["library"] == s3_env.url
    monkeypatch.setenv("WORKBENCH_LIBRARY", s3_env.url)
    res = runner.invoke(app, ["import", str(photos / "p0.jpg"), str(photos / "p1.jpg")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["--library", s3_env.url, "ls", "--json"])
    assert res.exit_code == 0 and len(res.stdout.strip().splitlines()) == 2, res.output
    assert len(s3_env.keys("lib/originals/")) == 2


def test_the_gallery_plays_a_video_of_an_s3_library_by_ranged_reads_of_the_bucket(s3_env, photos):
    """The gallery's media handler reads a stored original by ranges through the library's storage: for a library
    on S3 each range is one ranged GET, and no whole copy of the video is made first."""
    from workbench.gallery.media_handler import served_file
    lib = Library.create(s3_env.url)
    lib.import_files([photos / "clip.mp4"], progress=False)
    mid = lib.media().iloc[0]["id"]
    served = served_file(lib, mid)
    assert "path" not in served and served["name"] == "clip.mp4" and served["mime"] == "video/mp4"
    clip = (photos / "clip.mp4").read_bytes()
    assert lib.storage.size(served["key"]) == len(clip)
    assert lib.storage.read_range(served["key"], 1000, 5000) == clip[1000:6000]


def test_the_endpoint_and_region_can_be_library_settings(s3_env, photos, monkeypatch):
    from workbench.storage import local_home
    home = local_home(s3_env.url)
    home.mkdir(parents=True)
    (home / "settings.json").write_text(json.dumps({"s3_endpoint_url": s3_env.endpoint, "s3_region": "us-east-1"}))
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_REGION")
    lib = Library.create(s3_env.url)
    assert lib.storage.endpoint_url == s3_env.endpoint
    lib.import_files([photos / "p0.jpg"], progress=False)
    assert len(s3_env.keys("lib/originals/")) == 1


def test_the_catalog_location_is_a_setting_too(s3_env, photos):
    """Without --catalog, ``catalog_location`` in the library's settings decides (and a wrong value is refused)."""
    from workbench.storage import local_home
    home = local_home(s3_env.url)
    home.mkdir(parents=True)
    (home / "settings.json").write_text(json.dumps({"catalog_location": "somewhere"}))
    with pytest.raises(LibraryError, match="catalog_location must be 'bucket' or 'local'"):
        Library.create(s3_env.url)
    (home / "settings.json").write_text(json.dumps({"catalog_location": "local"}))
    lib = Library.create(s3_env.url)
    lib.import_files([photos / "p0.jpg"], progress=False)
    assert json.loads(s3_env.client.get_object(Bucket=s3_env.bucket, Key="lib/library.json")["Body"].read())[
        "catalog"] == "local"
    assert not [k for k in s3_env.keys() if "/catalog/" in k] and (home / "catalog" / "media.lance").is_dir()


def _bucket_meta(s3_env) -> dict:
    return json.loads(s3_env.client.get_object(Bucket=s3_env.bucket, Key="lib/library.json")["Body"].read())


def test_a_catalog_in_the_bucket_reads_columns_only_of_tables_it_has_not_checked(s3_env, photos):
    """Opening reads no table's columns twice (a few requests each in a bucket), yet a table made since the last
    check, or every table once the expected columns change, is still checked and completed."""
    lib = Library.create(s3_env.url)
    checked = _bucket_meta(s3_env)["columns_checked"]
    assert "media" in checked["tables"] and "thumbnails" not in checked["tables"]
    lib.import_files([photos / "p0.jpg"], progress=False)
    lib.process(["thumbnails"], progress=False)
    # As if an older workbench had made the thumbnails table without a column this one expects.
    lib.catalog.table("thumbnails").drop_columns(["poster_time_s"])
    again = Library.open(s3_env.url)
    assert "poster_time_s" in again.catalog.schema("thumbnails").names
    assert "thumbnails" in _bucket_meta(s3_env)["columns_checked"]["tables"]
    # Expected columns that changed (a newer workbench) make every table suspect again.
    again.catalog.table("media").drop_columns(["lens"])
    meta = _bucket_meta(s3_env)
    meta["columns_checked"]["columns"] = "from-another-version"
    s3_env.client.put_object(Bucket=s3_env.bucket, Key="lib/library.json", Body=json.dumps(meta).encode())
    third = Library.open(s3_env.url)
    assert "lens" in third.catalog.schema("media").names and len(third.media()) == 1


def test_a_catalog_in_the_bucket_merges_small_fragments_once_enough_have_piled_up(s3_env, photos):
    from workbench.storage import local_home
    home = local_home(s3_env.url)
    home.mkdir(parents=True)
    (home / "settings.json").write_text(json.dumps({"catalog_bucket_compact_min_fragments": 3}))
    lib = Library.create(s3_env.url)

    def fragments() -> int:
        return lib.catalog.table("media").stats()["fragment_stats"]["num_fragments"]

    lib.import_files([photos / "p0.jpg"], progress=False)
    lib.import_files([photos / "p1.jpg"], progress=False)
    assert fragments() == 2                        # each import's compaction left them: too few to be worth it
    lib.import_files([photos / "p2.jpg"], progress=False)
    assert fragments() < 3 and len(lib.media()) == 3     # the third is merged (with what its index allows)
