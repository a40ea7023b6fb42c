"""`workbench compress`: policies, dry runs that predict and write nothing, verified new versions, originals kept."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench import Library
from workbench.cli.main import app
from workbench.compress.lossless import jxl_to_jpeg
from workbench.errors import WorkbenchError

KEYS = ["id", "path", "codec", "quality", "bytes_before", "bytes_after", "metric", "value", "verified"]


@pytest.fixture
def lib(corpus, tmp_path) -> Library:
    src = tmp_path / "src"
    src.mkdir()
    for rel in ["exif/exif-py/jpg/gps/DSCN0010.jpg", "exif/exif-py/jpg/gps/DSCN0012.jpg", "formats/pillow/hopper.png"]:
        shutil.copy(corpus / rel, src / Path(rel).name)
    lib = Library.create(tmp_path / "lib")
    lib.import_files([src], progress=False)
    return lib


def test_dry_run_predicts_savings_and_writes_nothing(lib):
    df = lib.compress("lossless", dry_run=True, progress=False)
    pred = df.attrs["prediction"]
    assert len(df) == 3 and pred["by_kind"]["image"]["library_bytes"] == int(lib.media()["size_bytes"].sum())
    assert 0 < pred["predicted_bytes_saved"] < pred["by_kind"]["image"]["library_bytes"]
    assert lib.catalog.count("versions") == 0 and not (lib.derived_dir / "versions").exists()


def test_a_policy_applied_to_an_album_touches_only_that_albums_media(lib):
    album = lib.create_album("finished work")
    gps = lib.media()[lib.media()["path"].str.contains("DSCN")]["id"].tolist()
    lib.add_to_album(album, gps)
    dry = lib.compress("space", album="finished work", dry_run=True, progress=False)
    assert sorted(dry["id"]) == sorted(gps)
    assert dry.attrs["prediction"]["by_kind"]["image"]["library_bytes"] == \
        int(lib.media().set_index("id").loc[gps, "size_bytes"].sum())
    done = lib.compress("space", album=album, progress=False)
    assert sorted(done["id"]) == sorted(gps)
    assert len(lib.compress("lossless", progress=False)) == 3        # the rest of the library keeps its own policy


def test_lossless_versions_are_verified_and_originals_kept(lib):
    df = lib.compress("lossless", progress=False)
    assert df["verified"].all() and (df["bytes_after"] <= df["bytes_before"]).all()
    row = df[df["path"].str.endswith("DSCN0010.jpg")].iloc[0]
    version = lib.catalog.read("versions", ["path"], f"media_id = '{row['id']}'").column("path")[0].as_py()
    original = lib.original_path(row["id"]).read_bytes()
    assert jxl_to_jpeg((lib.derived_dir / version).read_bytes()) == original      # exact reconstruction
    assert lib.verify()["status"].eq("ok").all()


def test_rerunning_a_policy_resumes_and_redoes_nothing(lib):
    lib.compress("lossless", progress=False)
    assert len(lib.compress("lossless", progress=False)) == 0


def test_lossy_policy_reaches_its_quality_target(lib):
    df = lib.compress("balanced", progress=False)
    assert (df["metric"] == "ssim").all() and (df["value"] >= 0.98).all()
    assert (df["bytes_after"] < df["bytes_before"]).all()


def test_a_policy_file_is_read_and_a_bad_one_explained(lib, tmp_path):
    good = tmp_path / "webp.json"
    good.write_text(json.dumps({"name": "webp85", "images": {"mode": "lossy", "codec": "webp", "quality": 85}}))
    df = lib.compress(str(good), progress=False)
    assert set(df["codec"]) == {"webp"} and set(df["quality"]) == {85}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": {"mode": "lossy", "codec": "bmp"}}))
    with pytest.raises(WorkbenchError, match="images.codec must be one of"):
        lib.compress(str(bad))
    with pytest.raises(WorkbenchError, match="lossless, balanced, space"):
        lib.compress("tiny")


def test_cli_compress_json_rows_have_the_documented_keys(lib):
    out = CliRunner().invoke(app, ["--library", str(lib.root), "compress", "--policy", "lossless", "--dry-run",
                                   "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(rows) == 3 and all(list(r) == KEYS for r in rows)


def test_a_video_policy_transcodes_videos_and_reports_ssim(corpus, tmp_path):
    src = corpus / "video/photoprism/quicktime-hvc1.mov"
    lib = Library.create(tmp_path / "vlib")
    lib.import_files([src], progress=False)
    policy = tmp_path / "h264.json"
    policy.write_text(json.dumps({"name": "h264", "videos": {"codec": "h264", "crf": 23}}))
    df = lib.compress(str(policy), kind="video", progress=False)
    r = df.iloc[0]
    assert r["codec"] == "h264" and r["metric"] == "ssim" and r["value"] > 0.9
    assert r["bytes_after"] < r["bytes_before"]


def test_a_video_target_quality_finds_a_crf_that_reaches_it(corpus, tmp_path):
    from workbench.compress.video import transcode_at_target
    src = corpus / "video/photoprism/quicktime-hvc1.mov"
    low = transcode_at_target(src, tmp_path / "a.mp4", "h264", 0.95, preset="ultrafast")
    high = transcode_at_target(src, tmp_path / "b.mp4", "h264", 0.99, preset="ultrafast")
    assert low.value >= 0.95 and low.crf >= high.crf
    assert (tmp_path / "a.mp4").stat().st_size <= (tmp_path / "b.mp4").stat().st_size
    assert not list(tmp_path.glob("*.try*"))
