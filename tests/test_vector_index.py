"""Vector-index policy (workbench.semantic.vector_index) against a real LanceDB in tmp_path.

Small clustered 64-d data so each test runs in about a second; the ANN threshold is set per test so both
regimes (exact below, IVF-PQ above) are exercised without building a 10k-row table.
"""
from __future__ import annotations

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from workbench.semantic import vector_index as vi

DIM = 64
T0 = np.datetime64("2015-01-01T00:00:00", "us").astype(np.int64)
YEAR_US = 365 * 86_400 * 1_000_000
SPAN_US = 10 * YEAR_US


class Clusters:
    """Unit vectors drawn from 40 Gaussian clusters of varying spread on the sphere."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        c = rng.standard_normal((40, DIM)).astype(np.float32)
        self.centers = c / np.linalg.norm(c, axis=1, keepdims=True)
        self.spread = rng.uniform(0.3, 0.7, 40).astype(np.float32)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        lab = rng.integers(0, len(self.centers), n)
        x = self.centers[lab] + self.spread[lab, None] * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def rows(x: np.ndarray, start: int, rng: np.random.Generator) -> pa.Table:
    n = len(x)
    return pa.table({
        "media_id": [f"m{start + i:06d}" for i in range(n)],
        "model_id": ["clip-test"] * n,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), pa.float32()), DIM),
        "taken_at": pa.array(T0 + rng.integers(0, SPAN_US, n), pa.timestamp("us")),
        "kind": rng.choice(["image", "video"], n, p=[0.9, 0.1]),
    })


def make_table(path, n: int, seed: int = 0):
    """A LanceDB table of n clustered rows; returns (table, vectors, taken_at as int64 us)."""
    rng = np.random.default_rng(seed)
    x = Clusters().sample(rng, n)
    data = rows(x, 0, rng)
    table = lancedb.connect(path).create_table("emb", data)
    return table, x, data.column("taken_at").cast(pa.int64()).to_numpy()


def ids(result: pa.Table) -> list[int]:
    return [int(s[1:]) for s in result.column("media_id").to_pylist()]


def brute_force(x: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[int]:
    sims = x @ (q / np.linalg.norm(q))
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    return list(np.argsort(-sims, kind="stable")[:k])


def ann_indexes(table) -> list:
    return [i for i in table.list_indices() if i.columns == ["vector"]]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """4,000 rows with the ANN threshold at 1,000: an IVF-PQ table shared by the read-only tests."""
    table, x, t = make_table(tmp_path_factory.mktemp("indexed"), 4000)
    assert vi.ensure_indexes(table, min_rows_for_ann=1000) == "created"
    return table, x, t


def test_below_threshold_no_ann_index_and_search_is_exact(tmp_path):
    table, x, _ = make_table(tmp_path, 2000)
    assert vi.ensure_indexes(table, min_rows_for_ann=5000) == "scalar"
    assert ann_indexes(table) == []
    queries = Clusters().sample(np.random.default_rng(99), 10)
    for q in queries:
        got = vi.vector_search(table, q, 10)
        assert ids(got) == brute_force(x, q, 10)
        expected_sim = x[ids(got)] @ (q / np.linalg.norm(q))
        np.testing.assert_allclose(got.column("score").to_numpy(), expected_sim, atol=1e-5)
        np.testing.assert_allclose(got.column("_distance").to_numpy(), 1 - expected_sim, atol=1e-5)


def test_above_threshold_ivf_pq_index_with_recall(indexed):
    table, x, _ = indexed
    (ann,) = ann_indexes(table)
    assert ann.index_type == "IvfPq"
    assert table.index_stats(ann.name).distance_type == "cosine"
    assert ann.name == vi.ann_index_name("vector", vi.num_partitions_for(4000), 4000)
    queries = Clusters().sample(np.random.default_rng(7), 30)  # fresh samples, not stored rows
    recall = np.mean([len(set(ids(vi.vector_search(table, q, 10))) & set(brute_force(x, q, 10))) / 10
                      for q in queries])
    assert recall >= 0.9


def test_planted_vector_comes_first(indexed):
    table, x, _ = indexed
    for i in (3, 1234, 3999):
        got = vi.vector_search(table, x[i], 10)
        assert ids(got)[0] == i
        assert got.column("score")[0].as_py() == pytest.approx(1.0, abs=1e-4)


def test_date_filter_returns_only_rows_in_range_and_finds_planted_vector(indexed):
    table, x, t = indexed
    lo, hi = T0 + 3 * YEAR_US, T0 + 4 * YEAR_US
    where = (f"taken_at >= arrow_cast({lo}, 'Timestamp(Microsecond, None)') "
             f"AND taken_at < arrow_cast({hi}, 'Timestamp(Microsecond, None)')")
    in_range = (t >= lo) & (t < hi)
    planted = int(np.flatnonzero(in_range)[5])
    got = vi.vector_search(table, x[planted], 10, where=where)
    assert got.num_rows == 10
    stamps = got.column("taken_at").cast(pa.int64()).to_numpy()
    assert np.all((stamps >= lo) & (stamps < hi))
    assert ids(got)[0] == planted
    outside = int(np.flatnonzero(~in_range)[0])  # a stored vector outside the range is not returned
    assert outside not in ids(vi.vector_search(table, x[outside], 10, where=where))


def test_new_rows_are_indexed_and_searchable_after_ensure_indexes(tmp_path):
    table, x, _ = make_table(tmp_path, 3000)
    assert vi.ensure_indexes(table, min_rows_for_ann=1000) == "created"
    rng = np.random.default_rng(5)
    new = Clusters().sample(rng, 1500)
    table.add(rows(new, 3000, rng))
    assert vi.ensure_indexes(table, min_rows_for_ann=1000) == "updated"
    assert all(i.num_unindexed_rows == 0 for i in table.list_indices())
    assert ids(vi.vector_search(table, new[700], 10))[0] == 3700


def test_scalar_indexes_on_filter_columns(indexed):
    table, _, _ = indexed
    types = {i.columns[0]: i.index_type for i in table.list_indices()}
    assert types["taken_at"] == "BTree"
    assert types["media_id"] == "BTree"
    assert types["kind"] == "Bitmap"
    assert types["model_id"] == "Bitmap"


def test_second_ensure_indexes_does_nothing(tmp_path):
    table, _, _ = make_table(tmp_path, 3000)
    assert vi.ensure_indexes(table, min_rows_for_ann=1000) == "created"
    version = table.version
    assert vi.ensure_indexes(table, min_rows_for_ann=1000) == "none"
    assert table.version == version


def test_index_is_retrained_when_table_outgrows_it(tmp_path):
    table, _, _ = make_table(tmp_path, 1200)
    vi.ensure_indexes(table, min_rows_for_ann=1000)
    rng = np.random.default_rng(6)
    table.add(rows(Clusters().sample(rng, 3800), 1200, rng))  # 5,000 rows >= 4 x 1,200
    assert vi.ensure_indexes(table, min_rows_for_ann=1000) == "rebuilt"
    (ann,) = ann_indexes(table)
    assert ann.name == vi.ann_index_name("vector", vi.num_partitions_for(5000), 5000)
    assert ann.num_unindexed_rows == 0


def test_index_trained_with_another_metric_is_replaced(tmp_path):
    from lancedb.index import IvfPq

    table, x, _ = make_table(tmp_path, 2000)
    table.create_index("vector", config=IvfPq(distance_type="l2", num_partitions=8, num_sub_vectors=8))
    assert vi.ensure_indexes(table, min_rows_for_ann=1000) == "rebuilt"
    (ann,) = ann_indexes(table)
    assert table.index_stats(ann.name).distance_type == "cosine"
    assert ids(vi.vector_search(table, x[10], 10))[0] == 10


# ----------------------------------------------------------------------------------------------------------
# Scaling past 1M rows, wide filters, the re-rank store
# ----------------------------------------------------------------------------------------------------------

def test_partitions_follow_the_square_root_of_the_rows_up_to_256_where_lance_turns_to_hierarchical_k_means():
    assert vi.num_partitions_for(15_000) == 122
    assert vi.num_partitions_for(65_536) == 256
    # 1M and 10M rows: 256, not 1,000 and 3,162 (at 10M those ranked worse at the same rows scanned: measured)
    assert vi.num_partitions_for(1_000_000) == vi.num_partitions_for(10_000_000) == 256


def test_probe_and_refine_rules_are_unchanged_up_to_1m_rows_and_grow_slower_than_the_table_past_it():
    assert vi.nprobes_for(1000, 1_000_000, filtered=False) == 250          # a quarter of 1M rows
    assert vi.nprobes_for(1000, 1_000_000, filtered=True) == 480
    assert vi.nprobes_for(316, 100_000, filtered=False) == 316             # small tables scan everything
    assert vi.refine_factor_for(100_000) == vi.refine_factor_for(1_000_000) == vi.REFINE_FACTOR
    # 10M rows: 21 of 256 partitions (791k rows, 3.2x the 1M scan, not 10x) and refine 200 (measured)
    assert vi.nprobes_for(256, 10_000_000, filtered=False) == 21
    assert vi.refine_factor_for(10_000_000) == 200


def _range(lo_year: int, hi_year: int):
    from datetime import datetime

    from workbench.catalog.filters import Range
    return Range("taken_at", datetime(lo_year, 1, 1), datetime(hi_year, 1, 1), hi_inclusive=False)


def _us(year: int) -> int:
    return int(np.datetime64(f"{year}-01-01T00:00:00", "us").astype(np.int64))


def test_wide_date_filter_is_applied_after_the_ann_search_and_still_returns_k_rows_in_range(indexed, monkeypatch):
    table, x, t = indexed
    where = _range(2016, 2022)                                    # ~60% of the rows: postfiltered
    assert vi.where_share(table, vi.render(where)) >= vi.POSTFILTER_MIN_SHARE
    in_range = (t >= _us(2016)) & (t < _us(2022))
    planted = int(np.flatnonzero(in_range)[7])
    for oversample in (vi.POSTFILTER_OVERSAMPLE, 0.01):           # 0.01: too few survive, re-run prefiltered
        monkeypatch.setattr(vi, "POSTFILTER_OVERSAMPLE", oversample)
        got = vi.vector_search(table, x[planted], 10, where=where)
        stamps = got.column("taken_at").cast(pa.int64()).to_numpy()
        assert got.num_rows == 10 and np.all(in_range[ids(got)]) and np.all(stamps >= _us(2016))
        assert ids(got)[0] == planted
        assert list(got.column("_distance").to_numpy()) == sorted(got.column("_distance").to_numpy())


def test_date_range_the_store_can_check_is_read_from_the_filter_and_anything_else_is_not():
    from datetime import datetime

    from workbench.catalog.filters import And, Eq, Ge, Lt
    assert vi._date_range(_range(2016, 2022)) == (_us(2016), _us(2022) - 1)
    assert vi._date_range(And(Ge("taken_at", datetime(2016, 1, 1)), Lt("taken_at", datetime(2017, 1, 1)))) \
        == (_us(2016), _us(2017) - 1)
    assert vi._date_range(And(_range(2016, 2022), Eq("kind", "image"))) is None
    assert vi._date_range("taken_at >= TIMESTAMP '2016-01-01 00:00:00'") is None   # SQL: LanceDB's path


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The IVF-PQ table of ``indexed``'s size with a re-rank store written beside it."""
    path = tmp_path_factory.mktemp("stored")
    table, x, t = make_table(path / "db", 4000, seed=3)
    vi.ensure_indexes(table, min_rows_for_ann=1000)
    assert vi.refresh_rerank_store(table, path / "search", min_rows=1000)
    assert not vi.refresh_rerank_store(table, path / "search", min_rows=1000)     # up to date: no rewrite
    return table, x, t, path / "search"


def answered_by_store(monkeypatch) -> list:
    """Record each answer the re-rank store path gives (None: it handed the query back to LanceDB's refine)."""
    seen: list = []
    real = vi._search_with_store

    def spy(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]
    monkeypatch.setattr(vi, "_search_with_store", spy)
    return seen


def test_search_through_the_rerank_store_finds_the_true_neighbours_with_exact_scores(stored, monkeypatch):
    table, x, t, root = stored
    seen = answered_by_store(monkeypatch)
    in_range = (t >= _us(2016)) & (t < _us(2022))
    recall = []
    for q in Clusters().sample(np.random.default_rng(11), 20):
        got = vi.vector_search(table, q, 10, rerank_root=root)
        sims = x[ids(got)] @ (q / np.linalg.norm(q))
        np.testing.assert_allclose(got.column("score").to_numpy(), sims, atol=1e-5)
        assert list(sims) == sorted(sims, reverse=True)
        recall.append(len(set(ids(got)) & set(brute_force(x, q, 10))) / 10)
        dated = vi.vector_search(table, q, 10, where=_range(2016, 2022), rerank_root=root)
        assert dated.num_rows == 10 and np.all(in_range[ids(dated)])
        recall.append(len(set(ids(dated)) & set(brute_force(x, q, 10, in_range))) / 10)
    assert np.mean(recall) >= 0.95
    assert len(seen) == 40 and all(r is not None for r in seen)


def test_rows_added_after_the_rerank_store_are_still_found(tmp_path, monkeypatch):
    seen = answered_by_store(monkeypatch)
    table, x, _ = make_table(tmp_path / "db", 3000, seed=5)
    vi.ensure_indexes(table, min_rows_for_ann=1000)
    vi.write_rerank_store(table, tmp_path / "search")
    rng = np.random.default_rng(6)
    new = Clusters().sample(rng, 50)
    table.add(rows(new, 3000, rng))                      # a fragment the store does not hold, not yet indexed
    got = vi.vector_search(table, new[17], 10, rerank_root=tmp_path / "search")
    assert ids(got)[0] == 3017
    assert got.column("score")[0].as_py() == pytest.approx(1.0, abs=1e-4)
    assert len(seen) == 1 and seen[0] is not None


def test_mid_size_date_window_is_postfiltered_from_the_store_and_a_narrow_one_is_not(stored, monkeypatch):
    table, x, t, root = stored
    seen = answered_by_store(monkeypatch)
    mid = _range(2018, 2020)                                      # ~20%: under POSTFILTER_MIN_SHARE
    share = vi.where_share(table, vi.render(mid))
    assert vi.STORE_POSTFILTER_MIN_SHARE <= share < vi.POSTFILTER_MIN_SHARE
    in_mid = (t >= _us(2018)) & (t < _us(2020))
    recall = []
    for q in Clusters().sample(np.random.default_rng(12), 20):
        got = vi.vector_search(table, q, 10, where=mid, rerank_root=root)
        assert got.num_rows == 10 and np.all(in_mid[ids(got)])
        recall.append(len(set(ids(got)) & set(brute_force(x, q, 10, in_mid))) / 10)
    assert np.mean(recall) >= 0.95
    assert len(seen) == 20 and all(r is not None for r in seen)
    from datetime import datetime

    from workbench.catalog.filters import Range
    narrow = Range("taken_at", datetime(2018, 1, 1), datetime(2018, 4, 1), hi_inclusive=False)   # ~2.5%
    in_narrow = (t >= _us(2018)) & (t < int(np.datetime64("2018-04-01T00:00:00", "us").astype(np.int64)))
    got = vi.vector_search(table, x[np.flatnonzero(in_narrow)[3]], 10, where=narrow, rerank_root=root)
    assert len(seen) == 20                                        # LanceDB's prefilter answered it
    assert got.num_rows == 10 and np.all(in_narrow[ids(got)]) and ids(got)[0] == np.flatnonzero(in_narrow)[3]


def test_a_narrower_window_postfiltered_from_the_store_probes_more_partitions_and_refines_as_its_own_rows():
    # 10M rows, 256 partitions: 21 unfiltered, 23 / 25 / 26 for windows of 50% / 20% / 12.5% (measured)
    got = [vi.store_nprobes_for(256, 10_000_000, s) for s in (1.0, 0.5, 0.2, 0.125)]
    assert got == [21, 23, 25, 26]
    assert vi.store_nprobes_for(16, 10_000_000, 1e-9) == 16          # never more than the index has
    # refine: a table of the window's size (10% of 10M refines as 1M rows do)
    assert [vi.store_refine_for(10_000_000, s) for s in (1.0, 0.5, 0.2, 0.1)] == [200, 123, 65, 40]
    assert vi.store_refine_for(100_000, 0.3) == vi.REFINE_FACTOR


def test_the_rerank_store_writer_removes_what_a_dead_writer_left_and_nothing_else(tmp_path):
    import os
    import subprocess
    import sys

    table, _, _ = make_table(tmp_path / "db", 500, seed=8)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = tmp_path / "search" / "emb" / "rerank"
    left = {".tmp-v2-%d" % dead.pid,                                  # the name older versions wrote
            ".tmp-v3_%s_%d" % (vi.socket_host(), dead.pid)}
    kept = {".tmp-v3_%s_%d" % (vi.socket_host(), os.getpid()),         # a live writer
            ".tmp-v3_other-host_%d" % dead.pid,                         # another machine's writer
            "notes"}
    for name in left | kept:
        (base / name).mkdir(parents=True)
        (base / name / "codes.npy").write_bytes(b"x" * 100)
    final = vi.write_rerank_store(table, tmp_path / "search")
    assert {p.name for p in base.iterdir()} == kept | {final.name}


def test_a_search_names_the_distance_column_so_lance_prints_no_deprecation_warning(indexed, tmp_path, capfd):
    """LanceDB adds ``_distance`` to a search that selects columns without it, and says on stderr, once per query,
    that it will stop doing so; a notebook or a server log would fill with that line. Searches name it."""
    small, _, _ = make_table(tmp_path, 500)
    capfd.readouterr()
    q = Clusters().sample(np.random.default_rng(5), 1)[0]
    for table in (small, indexed[0]):
        got = vi.vector_search(table, q, 5, columns=["media_id"])
        assert got.column_names == ["media_id", "_distance", "score"]
    assert "_distance" not in capfd.readouterr().err
