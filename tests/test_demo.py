"""`make demo` builds a working library from scikit-image's photos and a generated video."""
from __future__ import annotations

import contextlib
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import Library
from workbench.demo import DEMO_PHOTOS, build


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Library, str]:
    root = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        build(root / "lib", root / "media")
    return Library.open(root / "lib"), out.getvalue()


def test_demo_library_has_every_photo_the_video_and_their_thumbnails(demo):
    lib, output = demo
    df = lib.media()
    # every sample photo, plus a smaller recompressed copy of one (a "same picture" duplicate), plus the video
    assert (df["kind"] == "image").sum() == len(DEMO_PHOTOS) + 1 and (df["kind"] == "video").sum() == 1
    st = lib.status().set_index("stage").loc["thumbnails"]
    assert (st["done"], st["pending"], st["failed"]) == (len(DEMO_PHOTOS) + 2, 0, 0)
    assert "Demo library" in output


def test_demo_video_poster_skips_its_black_first_second(demo):
    lib, _ = demo
    vid = lib.media(kind="video").iloc[0]
    poster = np.asarray(Image.open(lib.rendition_path(vid["id"], "thumb")).convert("L"))
    assert poster.mean() > 40


def test_demo_duplicate_is_stored_once_with_both_paths(demo):
    lib, _ = demo
    src = lib.sources()
    dup = src[src["path"].str.endswith("astronaut-copy.jpg")]["media_id"].iloc[0]
    paths = sorted(Path(p).name for p in src[src["media_id"] == dup]["path"])
    assert paths == ["astronaut-copy.jpg", "astronaut.jpg"]
    assert lib.get(dup)["path"].endswith("photos/astronaut.jpg")


def test_demo_suggests_the_recompressed_copy_as_a_duplicate_and_keeps_the_larger(demo):
    lib, output = demo
    groups = lib.duplicates("same").to_dict("records")
    g = next(g for g in groups if any(m["path"].endswith("coffee-small.jpg") for m in g["members"]))
    assert sorted(Path(m["path"]).name for m in g["members"]) == ["coffee-small.jpg", "coffee.jpg"]
    assert lib.get(g["keep"])["path"].endswith("photos/coffee.jpg")
    assert "Duplicates:" in output


def test_demo_has_an_admin_account_whose_printed_password_signs_in(demo):
    lib, output = demo
    password = re.search(r"Demo account: user demo, password (\S+) \(admin\)", output).group(1)
    assert lib.users().set_index("name").loc["demo", "role"] == "admin"
    assert lib.session_user(hashlib.sha256(lib.login("demo", password).encode()).hexdigest()) == "demo"


@pytest.mark.slow  # the demo is imported and checked again in a fresh interpreter
def test_make_demo_builds_without_serving_when_told_to(demo):
    """`make test` never serves: with WORKBENCH_DEMO_NO_SERVE=1 `python -m workbench.demo` returns once the library
    is built (here the demo above again: nothing new to import or process, a new password)."""
    import os
    import subprocess
    import sys
    lib, _ = demo
    env = {**os.environ, "WORKBENCH_DEMO_NO_SERVE": "1"}
    out = subprocess.run([sys.executable, "-m", "workbench.demo", "--library", str(lib.root), "--media",
                          str(lib.root.parent / "media"), "--port", "1"], env=env, capture_output=True, text=True,
                         timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "Demo account: user demo" in out.stdout and "Serving" not in out.stdout
