"""Compression tuner dashboard: try a codec and quality (or a target metric) on sample photos, compare original and
result with one zoom, save the settings as a named policy that ``Library.compress`` and ``workbench compress``
accept, and apply it only after a dry run and a confirmation. Real demo library, real server, real Chromium."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser import open_page, screenshot, served, settle
from playwright.sync_api import expect
from typer.testing import CliRunner

from workbench import Library
from workbench.cli.main import app
from workbench.compress.lossy import open_image
from workbench.compress.policy import ImageRule, Policy
from workbench.compress.trial import try_rule
from workbench.dashboards.compression import ALBUM, CHOSEN, FIXED, RANDOM, CompressionTuner, size_text
from workbench.demo import build
from workbench.errors import WorkbenchError

WAIT_MS = 60_000
WEBP_80 = ImageRule("lossy", "webp", 80, "ssim", 0.98)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The demo library: 15 photos (JPEG and PNG) and a video."""
    root = tmp_path_factory.mktemp("compressdash")
    with contextlib.redirect_stdout(io.StringIO()):
        build(root / "lib", root / "media")
    return root / "lib"


@pytest.fixture
def lib(built, tmp_path) -> Library:
    """A private copy of the demo library for a test that changes it."""
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


@pytest.fixture(scope="module")
def server(built, tmp_path_factory) -> tuple[Path, str]:
    """One server on a copy of the demo library shared by the browser tests (each saves its own policy name)."""
    root = tmp_path_factory.mktemp("compressdash-served") / "lib"
    shutil.copytree(built, root, symlinks=True)
    with served(root, ["compression"]) as base:
        yield root, base


def photo(lib: Library, name: str) -> dict:
    df = lib.media()
    return df[df["path"].str.endswith("/" + name)].iloc[0].to_dict()


def trials_table(page) -> list[dict[str, str]]:
    """The per-photo table as rows of {column: text}."""
    lines = page.locator("table.wb-trials").inner_text().strip().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, line.split("\t"))) for line in lines[1:]]


def try_settings(page, codec: str, quality: int) -> list[dict[str, str]]:
    """Set codec and a fixed quality in the sidebar, click Try, and return the table once it shows them."""
    page.get_by_label("Codec").select_option(label=codec)
    page.get_by_role("button", name="Fixed quality").click()
    q = page.locator(".wb-quality input")
    q.fill(str(quality))
    q.press("Enter")
    settle(page, 300)
    page.get_by_role("button", name="Try").click()
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        if page.locator("table.wb-trials").count():
            rows = trials_table(page)
            if rows and all(r["codec"] == codec and r["quality"] == str(quality) for r in rows):
                return rows
        page.wait_for_timeout(250)
    raise AssertionError(f"the table never showed {codec} q{quality}")


# -- policies by name -------------------------------------------------------------------------------------------

def test_a_saved_policy_is_applied_by_name_by_library_compress_and_the_cli(lib):
    path = lib.save_policy(Policy("webp-80", WEBP_80))
    assert path == lib.root / "policies" / "webp-80.json" and json.loads(path.read_text())["images"]["codec"] == "webp"
    df = lib.compress("webp-80", dry_run=True, sample=3, kind="image", progress=False)
    assert len(df) == 3 and set(df["codec"]) == {"webp"} and set(df["quality"]) == {80}
    assert df.attrs["prediction"]["policy"]["name"] == "webp-80"
    out = CliRunner().invoke(app, ["--library", str(lib.root), "compress", "--policy", "webp-80", "--dry-run",
                                   "--sample", "2", "--kind", "image", "--json"])
    assert out.exit_code == 0, out.output
    assert {json.loads(x)["codec"] for x in out.stdout.splitlines()} == {"webp"}
    assert list(lib.policies().query("saved")["name"]) == ["webp-80"]


def test_saving_refuses_a_built_in_name_a_taken_name_and_an_unsafe_name(lib):
    lib.save_policy(Policy("mine", WEBP_80))
    with pytest.raises(WorkbenchError, match="built-in"):
        lib.save_policy(Policy("balanced", WEBP_80))
    with pytest.raises(WorkbenchError, match="already saved"):
        lib.save_policy(Policy("mine", ImageRule("lossy", "jpeg", 90)))
    with pytest.raises(WorkbenchError, match="cannot be a policy name"):
        lib.save_policy(Policy("../escape", WEBP_80))
    with pytest.raises(WorkbenchError, match="images.codec must be one of"):
        lib.save_policy(Policy("bmp", ImageRule("lossy", "bmp", 80)))
    assert sorted(p.name for p in (lib.root / "policies").iterdir()) == ["mine.json"]


def test_an_unknown_policy_name_lists_the_saved_ones(lib):
    lib.save_policy(Policy("mine", WEBP_80))
    with pytest.raises(WorkbenchError, match="lossless, balanced, space, mine"):
        lib.compress("theirs", dry_run=True)


def test_a_broken_saved_policy_is_reported_without_hiding_the_others(lib):
    lib.save_policy(Policy("good", WEBP_80))
    (lib.root / "policies" / "broken.json").write_text('{"images": {"mode": "lossy", "codec": "gif"}}')
    saved = lib.policies().query("saved").set_index("name")
    assert pd.isna(saved.loc["good", "problem"]) and saved.loc["good", "policy"]["images"]["quality"] == 80
    assert "images.codec must be one of" in saved.loc["broken", "problem"]
    with pytest.raises(WorkbenchError, match="images.codec must be one of"):
        lib.compress("broken", dry_run=True)


# -- what a trial shows ---------------------------------------------------------------------------------------------

def test_a_trial_shows_exactly_what_applying_the_policy_writes(lib):
    m = photo(lib, "coffee.jpg")
    trial = try_rule(lib.original_path(m["id"]), WEBP_80, media_id=m["id"])
    lib.save_policy(Policy("webp-80", WEBP_80))
    lib.compress("webp-80", kind="image", progress=False)
    version = lib.versions("webp-80").set_index("media_id").loc[m["id"]]
    written = (lib.derived_dir / version["path"]).read_bytes()
    assert trial.bytes_after == len(written) == version["bytes_after"]
    assert trial.bytes_before == m["size_bytes"] and round(trial.value, 4) == version["value"]
    with open_image(written) as im:
        assert np.array_equal(np.asarray(im.convert("RGBA")), np.asarray(trial.result))


def test_the_two_pictures_of_a_trial_have_one_size_capped_for_viewing(lib):
    m = photo(lib, "chelsea.jpg")  # 451 x 300
    trial = try_rule(lib.original_path(m["id"]), WEBP_80, view_max_side_px=120)
    assert trial.original.size == trial.result.size == (120, 80)


def test_an_empty_library_says_how_to_add_photos(tmp_path):
    tuner = CompressionTuner(Library.create(tmp_path / "empty"))
    assert not tuner.sidebar
    assert "no photos yet" in tuner.messages.objects[0].object and "import" in tuner.messages.objects[0].object


def test_an_album_can_be_the_sample_and_only_its_photos_are_tried(lib):
    album = lib.create_album("Cats and cups")
    video = lib.media(kind="video")["id"].iloc[0]
    lib.add_to_album(album, [photo(lib, "chelsea.jpg")["id"], photo(lib, "coffee.jpg")["id"], video])
    tuner = CompressionTuner(lib)
    assert ALBUM in tuner.source.options
    tuner.source.value = ALBUM
    tuner.album.value = album
    assert sorted(tuner.sample()["path"].map(lambda p: Path(p).name)) == ["chelsea.jpg", "coffee.jpg"]


def test_the_knobs_are_parameters_and_the_sidebar_follows_them(built):
    tuner = CompressionTuner(Library.open(built))
    assert tuner.sample_source == RANDOM and tuner.sample_size.visible and not tuner.chosen.visible
    tuner.sample_source = CHOSEN
    assert tuner.chosen.visible and not tuner.sample_size.visible and not tuner.album.visible
    assert tuner.target.visible and not tuner.quality_slider.visible and tuner.metric_select.name == "Metric"
    tuner.quality_mode = FIXED
    assert tuner.quality_slider.visible and not tuner.target.visible
    assert tuner.metric_select.name == "Metric (measured)"
    tuner.metric = "ssimulacra2"   # the target starts over on the metric's own scale
    assert (tuner.target.start, tuner.target.end, tuner.target.value, tuner.target_value) == (30, 95, 80, 80)
    tuner.param.update(codec="webp", quality=61)
    assert tuner.rule() == ImageRule("lossy", "webp", 61, "ssimulacra2", 80.0)


def test_the_comparison_the_table_and_the_prediction_follow_the_trials(built):
    lib = Library.open(built)
    tuner = CompressionTuner(lib)
    assert tuner.hint.visible and not tuner.views.visible and tuner.table.object == ""
    trials = [try_rule(lib.original_path(photo(lib, n)["id"]), WEBP_80, name=n) for n in ("coffee.jpg", "chelsea.jpg")]
    tuner.trials = trials
    assert not tuner.hint.visible and tuner.views.visible
    assert list(tuner.compare.options) == ["coffee.jpg", "chelsea.jpg"] and tuner.compared_trial == 0
    assert "coffee.jpg" in tuner.table.object and "chelsea.jpg" in tuner.table.object
    assert "Predicted for the whole library** (from 2 sampled photos)" in tuner.prediction.object
    assert tuner.figures[0].title.text == f"Original · {size_text(trials[0].bytes_before)}"
    tuner.compared_trial = 1
    assert tuner.figures[0].title.text == f"Original · {size_text(trials[1].bytes_before)}"
    assert tuner.sources[0].data["dw"] == [trials[1].original.size[0]]


# -- in the browser ------------------------------------------------------------------------------------------------

def test_page_loads_and_try_shows_the_size_and_metric_of_the_chosen_settings(browser, server):
    root, base = server
    w = open_page(browser, f"{base}/compression")
    page = w.page
    settle(page)
    assert not w.problems
    high = try_settings(page, "WebP", 90)
    low = try_settings(page, "WebP", 20)
    assert [r["photo"] for r in high] == [r["photo"] for r in low] and len(low) == 3
    for h, lo in zip(high, low):
        assert int(lo["bytes after"].replace(",", "")) < int(h["bytes after"].replace(",", ""))
        assert float(lo["value"]) < float(h["value"])
    jxl = try_settings(page, "JPEG XL", 20)
    assert [r["bytes after"] for r in jxl] != [r["bytes after"] for r in low]
    expect(page.get_by_text("Predicted for the whole library")).to_be_visible()
    try_settings(page, "AVIF", 60)
    screenshot(page, "dashboard_compression")
    assert not w.problems


def test_zooming_one_picture_zooms_the_other(browser, server):
    root, base = server
    w = open_page(browser, f"{base}/compression")
    page = w.page
    settle(page)
    try_settings(page, "WebP", 50)
    plots = "() => [...Bokeh.documents[0].all_models].filter(m => m.x_range && m.renderers)" \
            ".map(m => [m.x_range.start, m.x_range.end, m.y_range.start, m.y_range.end])"
    before = page.evaluate(plots)
    box = page.locator("canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    page.mouse.wheel(0, -400)
    settle(page, 300)
    after = page.evaluate(plots)
    assert len(after) == 2 and after[0] == after[1]               # both pictures show the same region ...
    assert after[0] != before[0] and after[0][1] - after[0][0] < before[0][1] - before[0][0]  # ... zoomed in
    assert not w.problems


def test_save_as_policy_writes_a_policy_that_library_compress_accepts(browser, server):
    root, base = server
    w = open_page(browser, f"{base}/compression")
    page = w.page
    settle(page)
    try_settings(page, "WebP", 70)
    page.get_by_label("Policy name").fill("webp-70")
    page.get_by_label("Policy name").press("Enter")
    settle(page, 300)
    page.get_by_role("button", name="Save as policy").click()
    expect(page.get_by_text("Saved policy")).to_be_visible(timeout=WAIT_MS)
    saved = json.loads((root / "policies" / "webp-70.json").read_text())
    assert saved["images"] == {"mode": "lossy", "codec": "webp", "quality": 70, "metric": "ssim",
                               "target": 0.98} and saved["videos"] is None
    df = Library.open(root).compress("webp-70", dry_run=True, sample=2, kind="image", progress=False)
    assert set(df["codec"]) == {"webp"} and set(df["quality"]) == {70}
    assert not w.problems


def test_apply_shows_a_dry_run_first_and_writes_versions_only_after_confirm(browser, server):
    root, base = server
    Library.open(root).save_policy(Policy("jpeg-60", ImageRule("lossy", "jpeg", 60)))
    w = open_page(browser, f"{base}/compression")
    page = w.page
    settle(page)
    page.get_by_label("Policy to apply").select_option("jpeg-60")
    settle(page, 300)
    page.get_by_role("button", name="Apply…").click()
    expect(page.get_by_text("Dry run of policy jpeg-60: nothing written yet")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("16 media")).to_be_visible()
    lib = Library.open(root)
    assert lib.versions("jpeg-60").empty and not (lib.derived_dir / "versions" / "jpeg-60").exists()
    page.get_by_role("button", name="Confirm apply").click()
    expect(page.get_by_text("Applied policy")).to_be_visible(timeout=WAIT_MS)
    versions = Library.open(root).versions("jpeg-60")
    assert len(versions) == 16                                    # every photo and the video has a row
    written = versions[versions["path"].notna()]
    assert len(written) >= 10 and set(written["codec"]) == {"jpeg"}
    assert all((root / "derived" / p).is_file() for p in written["path"])
    assert Library.open(root).verify()["status"].eq("ok").all()   # originals untouched
    expect(page.get_by_role("button", name="Confirm apply")).to_be_hidden()
    assert not w.problems
