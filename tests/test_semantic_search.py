"""The embeddings stage and search, end to end through Library, with a tiny CLIP checkpoint made here."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from factory import jpeg, video
from workbench import Library
from workbench.semantic.search import vector_hits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lib(tiny_clip_checkpoint, tmp_path_factory) -> Library:
    cfg, ckpt = tiny_clip_checkpoint
    root = tmp_path_factory.mktemp("semantic")
    lib = Library.create(root / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = str(cfg), str(ckpt)
    lib.settings.save(lib.root)
    for i in range(6):
        jpeg(root / "in" / f"photo{i}.jpg", 320, 240, seed=i, taken=datetime(2015 + i, 5, 1, 12, 0))
    video(root / "in" / "clip.mp4", seconds=4.0, black_s=0.5)
    lib = Library.open(lib.root)
    lib.import_files([root / "in"], progress=False)
    lib.process(progress=False)
    return lib


def stored_vector(lib: Library, mid: str) -> np.ndarray:
    t = lib._search_tables()
    row = lib.catalog.read(t.media_table, ["vector"], f"media_id = '{mid}'").to_pylist()[0]
    return np.asarray(row["vector"], np.float32)


def test_every_image_and_video_gets_an_embedding_under_the_model_id(lib: Library):
    st = lib.status().set_index("stage")
    emb = st.loc[[s for s in st.index if s.startswith("embeddings_")][0]]
    assert (emb["done"], emb["pending"], emb["failed"]) == (7, 0, 0)
    assert emb["version"].startswith("wb-tiny-clip/file-")


def test_video_frames_are_stored_with_their_times(lib: Library):
    t = lib._search_tables()
    vid = lib.media(kind="video").iloc[0]["id"]
    frames = lib.catalog.read(t.frames_table, ["t_s"], f"media_id = '{vid}'").to_pandas()
    assert len(frames) >= 1 and frames["t_s"].between(0, 4.0).all()


def test_a_planted_vector_is_found_first(lib: Library):
    target = lib.media(kind="image").iloc[3]["id"]
    hits = vector_hits(lib.catalog, lib._search_tables(), stored_vector(lib, target), 5, None)
    assert hits.iloc[0]["id"] == target and hits.iloc[0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_similar_excludes_the_query_and_ranks_by_score(lib: Library):
    target = lib.media(kind="image").iloc[0]["id"]
    res = lib.similar(target, limit=5)
    assert target not in set(res["id"]) and len(res) == 5
    assert list(res["score"]) == sorted(res["score"], reverse=True)


def test_search_respects_kind_and_date_filters(lib: Library):
    assert set(lib.search("a photo", kind="video")["kind"]) == {"video"}
    dated = lib.search("a photo", since=datetime(2017, 1, 1), until=datetime(2018, 12, 31))
    assert sorted(dated["taken_at"].dt.year) == [2017, 2018]


def test_a_video_result_carries_the_time_of_its_best_frame(lib: Library):
    res = lib.search("a video", kind="video")
    assert len(res) == 1 and 0.0 <= res.iloc[0]["frame_s"] <= 4.0


def test_words_in_file_names_rank_that_file_first(lib: Library):
    assert Path(lib.search("photo3").iloc[0]["path"]).name == "photo3.jpg"


def test_search_json_rows_are_id_path_score_plus_frame_for_videos(lib: Library):
    env = {**os.environ, "WORKBENCH_LIBRARY": str(lib.root)}
    out = subprocess.run([sys.executable, "-m", "workbench", "search", "something", "--json"], env=env,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 7
    for r in rows:
        assert set(r) in ({"id", "path", "score"}, {"id", "path", "score", "frame_s"})
    assert sum("frame_s" in r for r in rows) == 1


def test_without_weights_processing_says_so_in_one_line_and_search_uses_words(tmp_path: Path):
    lib = Library.create(tmp_path / "lib")
    lib.settings.clip_checkpoint = str(tmp_path / "missing.pt")
    lib.settings.save(lib.root)
    lib = Library.open(lib.root)
    lib.import_files([jpeg(tmp_path / "in" / "sunset-beach.jpg")], progress=False)
    reports = {r.stage: r for r in lib.process(progress=False)}
    skipped = [r.skipped for name, r in reports.items() if name.startswith("embeddings_")][0]
    assert skipped and "\n" not in skipped and "clip_checkpoint" in skipped
    assert reports["thumbnails"].done == 1
    assert Path(lib.search("beach").iloc[0]["path"]).name == "sunset-beach.jpg"
