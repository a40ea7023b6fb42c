"""Two processes writing one catalog (two importers of a library in a bucket, the CLI next to `workbench serve`)
race for each table version. Lance refuses the loser with a "Retryable commit conflict"; the catalog tries again,
so neither side's command fails and no row is lost. Threads with their own `Catalog` race the same way and
much more often, which makes the race repeatable here (without the retry every round below conflicts)."""
from __future__ import annotations

import threading

import pyarrow as pa

from workbench.catalog.store import Catalog

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


def race(*calls) -> list[Exception]:
    """Run the calls at the same instant on their own threads; the exceptions they raised."""
    start, errors = threading.Barrier(len(calls)), []

    def run(call) -> None:
        start.wait()
        try:
            call()
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_two_writers_building_the_same_text_index_both_succeed_and_one_index_exists(tmp_path):
    first = Catalog(tmp_path)
    for n in range(5):
        name = f"notes{n}"
        first.ensure(name, SCHEMA)
        first.insert_new(name, [{"id": str(i), "text": f"hello {i}"} for i in range(50)], "id")
        a, b = Catalog(tmp_path), Catalog(tmp_path)
        assert race(lambda: a.ensure_text_index(name, "text"), lambda: b.ensure_text_index(name, "text")) == []
        assert [ix.name for ix in first.table(name).list_indices()] == ["text_idx"]


def test_two_writers_merging_rows_at_once_lose_none(tmp_path):
    Catalog(tmp_path).ensure("notes", SCHEMA)
    a, b = Catalog(tmp_path), Catalog(tmp_path)
    for n in range(5):
        rows_a = [{"id": f"a{n}-{i}", "text": "from a"} for i in range(20)]
        rows_b = [{"id": f"b{n}-{i}", "text": "from b"} for i in range(20)]
        assert race(lambda: a.insert_new("notes", rows_a, "id"), lambda: b.upsert("notes", rows_b, "id")) == []
    assert Catalog(tmp_path).count("notes") == 200


KEYED = pa.schema([pa.field("id", pa.string(), nullable=False), ("text", pa.string())])


def test_two_writers_inserting_the_same_new_keys_at_once_leave_one_row_per_key(tmp_path):
    """Two importers finding the same photo: each keyed merge sees the key missing and inserts it. Without the
    table's key declared to Lance both commits only add a fragment and both land (a duplicate); declared, the
    second is a conflict and its retry finds the row."""
    Catalog(tmp_path).ensure("media", KEYED)
    a, b = Catalog(tmp_path), Catalog(tmp_path)
    for n in range(12):
        same = [{"id": f"shared-{n}-{i}", "text": "either"} for i in range(3)]
        assert race(lambda: a.insert_new("media", same, "id"), lambda: b.insert_new("media", same, "id")) == []
    ids = Catalog(tmp_path).read("media", ["id"]).column("id").to_pylist()
    assert len(ids) == 36 and len(set(ids)) == 36
    declared = Catalog(tmp_path).schema("media").field("id").metadata or {}
    assert declared.get(b"lance-schema:unenforced-primary-key") == b"true"


def test_a_table_made_with_its_key_declares_it_so_its_first_write_is_one_commit(tmp_path):
    """``ensure(name, schema, key)`` declares the key when it makes the table: the first keyed write is then a
    single commit (in a bucket each commit is ~8 requests), and two writers of the same new keys still leave one
    row per key."""
    made = Catalog(tmp_path)
    made.ensure("media", KEYED, "id")
    declared = made.schema("media").field("id").metadata or {}
    assert declared.get(b"lance-schema:unenforced-primary-key") == b"true"
    before = made.version("media")
    made.insert_new("media", [{"id": "first", "text": "x"}], "id")
    assert made.version("media") == before + 1
    a, b = Catalog(tmp_path), Catalog(tmp_path)
    for n in range(6):
        same = [{"id": f"shared-{n}-{i}", "text": "either"} for i in range(3)]
        assert race(lambda: a.insert_new("media", same, "id"), lambda: b.insert_new("media", same, "id")) == []
    ids = Catalog(tmp_path).read("media", ["id"]).column("id").to_pylist()
    assert len(ids) == 19 and len(set(ids)) == 19
