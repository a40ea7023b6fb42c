"""The embeddings stage and search, end to end through Library, with a tiny CLIP checkpoint made here."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from factory import jpeg, video
from workbench import Library
from workbench.semantic import filtered_exact as fx
from workbench.semantic.search import model_filters, snapshot_root, vector_hits

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


# -- date-filtered search from the date-sorted snapshot (workbench.semantic.filtered_exact) -----------------

@pytest.fixture(scope="module")
def snapshotted(lib: Library, tiny_clip_checkpoint, tmp_path_factory) -> Library:
    """A copy of ``lib`` plus one photo of 2016, processed with the snapshot threshold lowered to one row, so
    the embedding stage writes snapshots of both vector tables as it would for a large library."""
    root = tmp_path_factory.mktemp("snapshotted")
    shutil.copytree(lib.root, root / "lib", symlinks=True)
    copy = Library.open(root / "lib")
    copy.import_files([jpeg(root / "in" / "extra2016.jpg", 320, 240, seed=40, taken=datetime(2016, 8, 1))],
                      progress=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fx, "MIN_ROWS_FOR_SNAPSHOT", 1)
        copy.process(progress=False)
    return copy


def snapshot_of(lib: Library, which: int) -> fx.Snapshot | None:
    t = lib._search_tables()
    return fx.load_snapshot(snapshot_root(lib.catalog), (t.media_table, t.frames_table)[which],
                            model_filters(t)[which])


def test_processing_writes_date_sorted_snapshots_of_both_vector_tables(snapshotted: Library):
    media, frames = snapshot_of(snapshotted, 0), snapshot_of(snapshotted, 1)
    dated = snapshotted.media()["taken_at"].notna().sum()
    assert media is not None and media.rows == dated == 8      # six photos, the extra one and the video
    assert np.all(np.diff(media.taken_us) >= 0)
    n_frames = snapshotted.catalog.count(snapshotted._search_tables().frames_table)
    assert frames is not None and frames.rows == n_frames and len(frames.t_s) == n_frames


def test_date_filtered_search_from_the_snapshot_equals_the_lancedb_path(snapshotted: Library, monkeypatch):
    kw = dict(since=datetime(2016, 1, 1), until=datetime(2019, 12, 31), limit=4)
    t = snapshotted._search_tables()
    q = stored_vector(snapshotted, snapshotted.media(kind="image").iloc[2]["id"])
    assert fx.filtered_search(snapshotted.catalog.table(t.media_table), snapshot_root(snapshotted.catalog),
                              model_filters(t)[0], q, 4, since_us=0, until_us=None) is not None
    served = []                                                # a spy: the real function, answers recorded
    real = fx.filtered_search
    monkeypatch.setattr(fx, "filtered_search", lambda *a, **k: served.append(real(*a, **k)) or served[-1])
    exact = snapshotted.search("a photo", **kw)
    assert len(served) == 1 and served[0] is not None          # the media table (no video frame in range)
    monkeypatch.setattr(fx, "MAX_EXACT_ROWS", 0)               # every range is too wide: the LanceDB path
    lance = snapshotted.search("a photo", **kw)
    assert len(served) == 2 and served[1] is None
    assert list(exact["id"]) == list(lance["id"]) and len(exact) == 4
    assert np.allclose(exact["score"], lance["score"], atol=1e-5)
    assert exact["taken_at"].dt.year.between(2016, 2019).all()


def test_kind_and_date_filters_combine_on_the_snapshot(snapshotted: Library):
    res = snapshotted.search("a photo", kind="image", since=datetime(2015, 1, 1), until=datetime(2030, 1, 1))
    assert len(res) == 7 and set(res["kind"]) == {"image"}
    videos = snapshotted.search("a photo", kind="video", since=datetime(2000, 1, 1))
    assert len(videos) == 1 and set(videos["kind"]) == {"video"}


def test_media_added_after_the_snapshot_are_found_by_date_filtered_search(snapshotted: Library, tmp_path: Path,
                                                                          monkeypatch):
    shutil.copytree(snapshotted.root, tmp_path / "lib", symlinks=True)
    lib2 = Library.open(tmp_path / "lib")
    before = snapshot_of(lib2, 0)
    lib2.import_files([jpeg(tmp_path / "in" / "late.jpg", 320, 240, seed=77, taken=datetime(2016, 9, 9))],
                      progress=False)
    monkeypatch.setattr(fx, "MIN_ROWS_FOR_SNAPSHOT", 1)
    lib2.process(progress=False)          # one new row is below SNAPSHOT_REFRESH_ROWS: the snapshot stays
    late = lib2.media().set_index("path").filter(like="late.jpg", axis=0)["id"].iloc[0]
    after = snapshot_of(lib2, 0)
    assert after is not None and after.path == before.path
    res = lib2.search("a photo", since=datetime(2016, 1, 1), until=datetime(2016, 12, 31))
    assert late in set(res["id"]) and len(res) == 3
    t = lib2._search_tables()
    hit = fx.filtered_search(lib2.catalog.table(t.media_table), snapshot_root(lib2.catalog), model_filters(t)[0],
                             stored_vector(lib2, late), 1, since_us=None, until_us=None)
    assert list(hit["media_id"]) == [late]                             # served by the snapshot plus its delta


def test_trashed_media_stay_out_of_date_filtered_search(snapshotted: Library, tmp_path: Path):
    shutil.copytree(snapshotted.root, tmp_path / "lib", symlinks=True)
    lib2 = Library.open(tmp_path / "lib")
    dated = lib2.media()
    gone = dated[dated["taken_at"].dt.year == 2017]["id"].iloc[0]
    lib2.trash([gone])
    res = lib2.search("a photo", since=datetime(2017, 1, 1), until=datetime(2018, 12, 31))
    assert gone not in set(res["id"]) and sorted(res["taken_at"].dt.year) == [2018]
