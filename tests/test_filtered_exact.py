"""Exact date-filtered search over the date-sorted snapshot (workbench.semantic.filtered_exact), against a
real LanceDB table in tmp_path and numpy brute force. 64-d clustered vectors, a few thousand rows."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from test_vector_index import DIM, SPAN_US, T0, YEAR_US, Clusters, brute_force
from workbench.semantic import filtered_exact as fx

WHERE = "model_id = 'clip-test'"
CREATED0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rows(x: np.ndarray, start: int, rng: np.random.Generator, created: datetime,
         taken: np.ndarray | None = None, model: str = "clip-test") -> pa.Table:
    n = len(x)
    return pa.table({
        "media_id": [f"m{start + i:06d}" for i in range(n)],
        "model_id": [model] * n,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), pa.float32()), DIM),
        "taken_at": pa.array(T0 + rng.integers(0, SPAN_US, n) if taken is None else taken, pa.timestamp("us")),
        "kind": rng.choice(["image", "video"], n, p=[0.8, 0.2]),
        "created_at": pa.array([created] * n, pa.timestamp("us", tz="UTC")),
    })


@pytest.fixture(scope="module", params=["float32 copy", "int8 codes and row addresses"])
def built(tmp_path_factory, request):
    """A 3,000-row table in three fragments (plus 200 rows of another model) and its snapshot, written once in
    each layout: with the float32 copy (small views), and without it (large views: the re-rank reads the
    vectors from the table), the latter streamed in batches of 64 rows."""
    root = tmp_path_factory.mktemp("fx")
    rng = np.random.default_rng(1)
    x = Clusters().sample(rng, 3000)
    data = rows(x, 0, rng, CREATED0)
    other = rows(Clusters(5).sample(rng, 200), 900_000, rng, CREATED0, model="other-model")
    table = lancedb.connect(root / "db").create_table("emb", data.slice(0, 1000))
    table.add(data.slice(1000, 1000))
    table.add(other)
    table.add(data.slice(2000))
    copy_vectors = request.param == "float32 copy"
    assert fx.write_snapshot(table, root / "snap", WHERE, store_vectors=copy_vectors,
                             batch_rows=fx.WRITE_CHUNK_ROWS if copy_vectors else 64) is not None
    assert (fx.load_snapshot(root / "snap", "emb", WHERE).vectors is not None) == copy_vectors
    return root, x, data.column("taken_at").cast(pa.int64()).to_numpy(), data.column("kind").to_numpy(False)


@pytest.fixture
def copy(built, tmp_path):
    """A private copy of the built table and snapshot, for tests that change them."""
    root, x, taken, kind = built
    shutil.copytree(root, tmp_path / "fx", symlinks=True)
    return tmp_path / "fx", lancedb.connect(tmp_path / "fx" / "db").open_table("emb"), x, taken, kind


def queries(x: np.ndarray, n: int = 12) -> np.ndarray:
    rng = np.random.default_rng(9)
    q = x[rng.choice(len(x), n, replace=False)] + 0.3 * rng.standard_normal((n, DIM)).astype(np.float32) / 8
    return q.astype(np.float32)


def got(res) -> list[int]:
    return [int(s[1:]) for s in res["media_id"]]


def open_table(root):
    return lancedb.connect(root / "db").open_table("emb")


def test_date_range_returns_exactly_the_brute_force_top_k_in_order(built):
    root, x, taken, _ = built
    lo, hi = T0 + 3 * YEAR_US, T0 + 5 * YEAR_US
    for q in queries(x):
        res = fx.filtered_search(open_table(root), root / "snap", WHERE, q, 10, since_us=lo, until_us=hi)
        assert got(res) == brute_force(x, q, 10, (taken >= lo) & (taken <= hi))
        sims = x[got(res)] @ (q / np.linalg.norm(q))
        assert np.allclose(res["score"], sims, atol=1e-5)
        assert np.allclose(res["_distance"], 1 - sims, atol=1e-5)


def test_range_bounds_are_inclusive_and_open_ends_work(built):
    root, x, taken, _ = built
    q = queries(x, 1)[0]
    edge = int(np.sort(taken)[1500])
    res = fx.filtered_search(open_table(root), root / "snap", WHERE, q, 3000, since_us=edge, until_us=None)
    assert sorted(got(res)) == sorted(np.flatnonzero(taken >= edge).tolist())
    res = fx.filtered_search(open_table(root), root / "snap", WHERE, q, 3000, since_us=None, until_us=edge)
    assert sorted(got(res)) == sorted(np.flatnonzero(taken <= edge).tolist())


def test_kind_filter_keeps_only_that_kind(built):
    root, x, taken, kind = built
    lo, hi = T0 + 2 * YEAR_US, T0 + 4 * YEAR_US
    for q in queries(x, 6):
        res = fx.filtered_search(open_table(root), root / "snap", WHERE, q, 10, since_us=lo, until_us=hi,
                                 kind="video")
        assert got(res) == brute_force(x, q, 10, (taken >= lo) & (taken <= hi) & (kind == "video"))
    none = fx.filtered_search(open_table(root), root / "snap", WHERE, queries(x, 1)[0], 10, since_us=lo,
                              until_us=hi, kind="document")
    assert none is not None and len(none) == 0


def test_rows_of_other_views_are_not_in_the_snapshot(built):
    root, x, _, _ = built
    res = fx.filtered_search(open_table(root), root / "snap", WHERE, queries(x, 1)[0], 5000, since_us=T0,
                             until_us=T0 + SPAN_US)
    assert len(res) == 3000 and max(got(res)) < 900_000


def test_rows_added_after_the_snapshot_are_found_without_rewriting_it(copy):
    root, table, x, taken, _ = copy
    rng = np.random.default_rng(3)
    q = queries(x, 1)[0]
    planted = (q / np.linalg.norm(q))[None, :]
    when = np.array([T0 + 4 * YEAR_US], np.int64)
    table.add(rows(planted, 500_000, rng, CREATED0 + timedelta(days=1), taken=when))
    table.add(rows(Clusters().sample(rng, 50), 600_000, rng, CREATED0 + timedelta(days=2)))
    res = fx.filtered_search(open_table(root), root / "snap", WHERE, q, 10, since_us=T0 + 3 * YEAR_US,
                             until_us=T0 + 5 * YEAR_US)
    assert got(res)[0] == 500_000 and res["score"].iloc[0] == pytest.approx(1.0, abs=1e-5)
    outside = fx.filtered_search(open_table(root), root / "snap", WHERE, q, 10, since_us=T0,
                                 until_us=T0 + 3 * YEAR_US)
    assert 500_000 not in got(outside)
    assert [p.name for p in fx.snapshot_dir(root / "snap", "emb", WHERE).iterdir()] == [
        f"v{fx.load_snapshot(root / 'snap', 'emb', WHERE).table_version}"]


def test_a_removed_row_makes_the_snapshot_stale_so_the_caller_falls_back(copy):
    root, table, x, _, _ = copy
    table.delete("media_id = 'm000007'")
    assert fx.filtered_search(open_table(root), root / "snap", WHERE, queries(x, 1)[0], 10, since_us=T0,
                              until_us=T0 + YEAR_US) is None


def test_a_missing_snapshot_or_a_too_wide_range_returns_none(copy):
    root, table, x, _, _ = copy
    q = queries(x, 1)[0]
    assert fx.filtered_search(table, root / "snap", WHERE, q, 10, since_us=T0, until_us=T0 + SPAN_US,
                              max_rows=1000) is None
    assert fx.filtered_search(table, root / "snap", "model_id = 'never-written'", q, 10, since_us=T0,
                              until_us=T0 + YEAR_US) is None
    shutil.rmtree(root / "snap")
    assert fx.filtered_search(table, root / "snap", WHERE, q, 10, since_us=T0, until_us=T0 + YEAR_US) is None


def test_a_table_without_created_at_only_trusts_the_snapshot_of_its_own_version(tmp_path):
    rng = np.random.default_rng(4)
    x = Clusters().sample(rng, 500)
    table = lancedb.connect(tmp_path / "db").create_table("emb", rows(x, 0, rng, CREATED0).drop(["created_at"]))
    fx.write_snapshot(table, tmp_path / "snap", WHERE)
    q = queries(x, 1)[0]
    assert fx.filtered_search(table, tmp_path / "snap", WHERE, q, 5, since_us=T0, until_us=T0 + SPAN_US) is not None
    table.add(rows(x[:3], 1000, rng, CREATED0).drop(["created_at"]))
    assert fx.filtered_search(table, tmp_path / "snap", WHERE, q, 5, since_us=T0, until_us=T0 + SPAN_US) is None


def test_refresh_writes_when_missing_or_far_behind_and_not_otherwise(copy):
    root, table, x, _, _ = copy
    rng = np.random.default_rng(6)
    assert fx.refresh_snapshot(table, root / "snap", WHERE, min_rows=100) == "none"      # up to date
    assert fx.refresh_snapshot(table, root / "snap2", WHERE, min_rows=10_000) == "none"  # too small for one
    assert fx.refresh_snapshot(table, root / "snap2", WHERE, min_rows=100) == "written"  # missing
    table.add(rows(Clusters().sample(rng, 20), 700_000, rng, CREATED0 + timedelta(days=1)))
    assert fx.refresh_snapshot(table, root / "snap", WHERE, min_rows=100, refresh_rows=50) == "none"
    table.add(rows(Clusters().sample(rng, 40), 800_000, rng, CREATED0 + timedelta(days=2)))
    assert fx.refresh_snapshot(table, root / "snap", WHERE, min_rows=100, refresh_rows=50) == "written"
    snap = fx.load_snapshot(root / "snap", "emb", WHERE)
    assert snap.rows == 3060 and snap.table_version == table.version
    table.delete("media_id = 'm000001'")
    assert fx.refresh_snapshot(table, root / "snap", WHERE, min_rows=100) == "written"             # stale
    assert fx.load_snapshot(root / "snap", "emb", WHERE).rows == 3059


@pytest.mark.parametrize("copy_vectors", [True, False], ids=["float32 copy", "row addresses"])
def test_frame_tables_return_each_hit_with_its_frame_time(tmp_path, copy_vectors):
    rng = np.random.default_rng(8)
    x = Clusters().sample(rng, 400)
    data = rows(x, 0, rng, CREATED0).append_column("t_s", pa.array(np.arange(400) * 0.5))
    table = lancedb.connect(tmp_path / "db").create_table("frames", data)
    fx.write_snapshot(table, tmp_path / "snap", WHERE, store_vectors=copy_vectors)
    q = queries(x, 1)[0]
    res = fx.filtered_search(table, tmp_path / "snap", WHERE, q, 5, since_us=T0, until_us=T0 + SPAN_US)
    assert list(res["t_s"]) == [i * 0.5 for i in got(res)]


def test_rows_without_a_vector_are_left_out_and_do_not_make_the_snapshot_stale(copy):
    root, table, x, _, _ = copy
    rng = np.random.default_rng(12)
    failed = rows(Clusters().sample(rng, 2), 950_000, rng, CREATED0 + timedelta(days=3))
    failed = failed.set_column(2, "vector", pa.nulls(2, failed.schema.field("vector").type))
    table.add(failed)
    res = fx.filtered_search(open_table(root), root / "snap", WHERE, queries(x, 1)[0], 5000, since_us=T0,
                             until_us=T0 + SPAN_US)
    assert res is not None and len(res) == 3000
    assert fx.refresh_snapshot(table, root / "snap", WHERE, min_rows=100, refresh_rows=1) == "none"  # none new
    fx.write_snapshot(table, root / "snap", WHERE)
    snap = fx.load_snapshot(root / "snap", "emb", WHERE)
    assert (snap.rows, snap.counted_rows) == (3000, 3002)
    table.add(rows(Clusters().sample(rng, 1), 960_000, rng, CREATED0 + timedelta(days=4)))
    res = fx.filtered_search(open_table(root), root / "snap", WHERE, queries(x, 1)[0], 5000, since_us=T0,
                             until_us=T0 + SPAN_US)
    assert res is not None and len(res) == 3001


def test_without_numba_the_numpy_scan_gives_the_same_exact_answer(built, monkeypatch):
    root, x, taken, _ = built
    monkeypatch.setattr(fx, "_KERNEL", False)          # what int8_kernel() records when numba is missing
    lo, hi = T0 + YEAR_US, T0 + 6 * YEAR_US
    for q in queries(x, 4):
        res = fx.filtered_search(open_table(root), root / "snap", WHERE, q, 10, since_us=lo, until_us=hi)
        assert got(res) == brute_force(x, q, 10, (taken >= lo) & (taken <= hi))


def many_fragments(tmp_path, x: np.ndarray, rng, per_fragment: int = 250):
    data = rows(x, 0, rng, CREATED0)
    table = lancedb.connect(tmp_path / "db").create_table("emb", data.slice(0, per_fragment))
    for start in range(per_fragment, len(x), per_fragment):
        table.add(data.slice(start, per_fragment))
    return table, data.column("taken_at").cast(pa.int64()).to_numpy()


def test_a_snapshot_streamed_in_small_batches_over_many_fragments_answers_exactly_in_both_layouts(tmp_path):
    rng = np.random.default_rng(21)
    x = Clusters().sample(rng, 2000)
    table, taken = many_fragments(tmp_path, x, rng)
    assert len(table.to_lance().get_fragments()) == 8
    lo, hi = T0 + 2 * YEAR_US, T0 + 7 * YEAR_US
    for copy_vectors in (True, False):
        root = tmp_path / f"snap-{copy_vectors}"
        fx.write_snapshot(table, root, WHERE, store_vectors=copy_vectors, batch_rows=16)   # 125 batches
        snap = fx.load_snapshot(root, "emb", WHERE)
        assert snap.rows == 2000 and np.all(np.diff(snap.taken_us) >= 0)
        for q in queries(x, 8):
            res = fx.filtered_search(table, root, WHERE, q, 10, since_us=lo, until_us=hi)
            assert got(res) == brute_force(x, q, 10, (taken >= lo) & (taken <= hi))
            assert np.allclose(res["score"], x[got(res)] @ (q / np.linalg.norm(q)), atol=1e-5)


def test_views_over_the_copy_limit_keep_no_float32_copy_on_disk(tmp_path, monkeypatch):
    rng = np.random.default_rng(22)
    x = Clusters().sample(rng, 1500)
    table, _ = many_fragments(tmp_path, x, rng, per_fragment=500)
    assert fx.refresh_snapshot(table, tmp_path / "small", WHERE, min_rows=100) == "written"
    assert (fx.load_snapshot(tmp_path / "small", "emb", WHERE).path / "vectors.npy").exists()
    monkeypatch.setattr(fx, "VECTOR_COPY_MAX_ROWS", 1000)       # as a 10M-row view is to the default
    assert fx.refresh_snapshot(table, tmp_path / "large", WHERE, min_rows=100) == "written"
    snap = fx.load_snapshot(tmp_path / "large", "emb", WHERE)
    files = {p.name: p.stat().st_size for p in snap.path.iterdir()}
    assert set(files) == {"codes.npy", "taken_at.npy", "kinds.npy", "row_ids.npy", "scale.npy", "meta.json"}
    assert files["codes.npy"] < 1500 * DIM + 4096                  # one byte per dimension and row
    assert snap.vectors is None and snap.media_ids is None


def test_rows_without_a_vector_leave_no_gap_in_a_streamed_snapshot(tmp_path):
    rng = np.random.default_rng(23)
    x = Clusters().sample(rng, 600)
    data = rows(x, 0, rng, CREATED0)
    hole = np.zeros(600, bool)
    hole[rng.choice(600, 37, replace=False)] = True      # their dates fall between the others'
    table = lancedb.connect(tmp_path / "db").create_table("emb", data.filter(pa.array(~hole)))
    failed = data.filter(pa.array(hole))
    table.add(failed.set_column(2, "vector", pa.nulls(37, failed.schema.field("vector").type)))
    fx.write_snapshot(table, tmp_path / "snap", WHERE, store_vectors=False, batch_rows=8)
    snap = fx.load_snapshot(tmp_path / "snap", "emb", WHERE)
    assert (snap.rows, snap.counted_rows) == (563, 600) and np.all(np.diff(snap.taken_us) >= 0)
    for q in queries(x, 4):
        res = fx.filtered_search(table, tmp_path / "snap", WHERE, q, 600, since_us=None, until_us=None)
        assert got(res) == brute_force(x, q, 563, ~hole)


def test_compacting_the_table_retires_a_snapshot_that_points_at_row_addresses(tmp_path):
    rng = np.random.default_rng(24)
    x = Clusters().sample(rng, 1000)
    table, _ = many_fragments(tmp_path, x, rng)
    fx.write_snapshot(table, tmp_path / "codes", WHERE, store_vectors=False)
    fx.write_snapshot(table, tmp_path / "copy", WHERE, store_vectors=True)
    q = queries(x, 1)[0]
    assert fx.filtered_search(table, tmp_path / "codes", WHERE, q, 5, since_us=T0, until_us=None) is not None
    table.to_lance().optimize.compact_files()                        # rows move to a new fragment
    table = open_table(tmp_path)
    assert len(table.to_lance().get_fragments()) == 1
    assert fx.filtered_search(table, tmp_path / "codes", WHERE, q, 5, since_us=T0, until_us=None) is None
    assert fx.filtered_search(table, tmp_path / "copy", WHERE, q, 5, since_us=T0, until_us=None) is not None
    assert fx.refresh_snapshot(table, tmp_path / "codes", WHERE, min_rows=100) == "written"


WRITER = """
import sys, lancedb
from workbench.semantic import filtered_exact as fx
table = lancedb.connect(sys.argv[1]).open_table("emb")
fx.write_snapshot(table, sys.argv[2], "model_id = 'clip-test'", store_vectors=False, batch_rows=1)
"""


def test_a_snapshot_writer_killed_mid_way_leaves_nothing_once_the_next_writer_runs(tmp_path):
    """A writer killed with SIGKILL leaves its unfinished folder (at 10M rows up to 5 GB); the next writer of
    that table removes it. A live writer's folder and another host's are left alone."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from workbench.semantic import vector_index as vi

    rng = np.random.default_rng(25)
    x = Clusters().sample(rng, 2000)
    table, _ = many_fragments(tmp_path, x, rng)
    root = tmp_path / "snap"
    base = fx.snapshot_dir(root, "emb", WHERE)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "db"), str(root)])
    deadline = time.monotonic() + 120
    while not list(base.glob(".tmp-*/codes.npy")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the writer finished before it could be killed mid-way"
    (left,) = [p for p in base.iterdir() if p.name.startswith(".tmp-")]
    assert str(proc.pid) in left.name and fx.load_snapshot(root, "emb", WHERE) is None

    live = base / f".tmp-v1_{vi.socket_host()}_{os.getpid()}"       # this test's own process: alive
    foreign = base / ".tmp-v1_another-host_1"
    for p in (live, foreign):
        p.mkdir()
    fx.write_snapshot(table, root, WHERE, store_vectors=False)
    assert not left.exists()
    assert sorted(p.name for p in base.iterdir() if p.name.startswith(".tmp-")) == sorted([live.name, foreign.name])
    assert fx.load_snapshot(root, "emb", WHERE).rows == 2000
