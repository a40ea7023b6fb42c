"""The catalog's keyed writes on a real LanceDB folder: vector columns where some rows have no vector."""
from __future__ import annotations

import pyarrow as pa
import pytest

from workbench.catalog.store import Catalog

SCHEMA = pa.schema([pa.field("key", pa.string(), nullable=False), pa.field("vector", pa.list_(pa.float32(), 3))])


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    cat = Catalog(tmp_path / "catalog")
    cat.ensure("vectors", SCHEMA)
    return cat


def test_upsert_keeps_a_row_without_a_vector_next_to_rows_with_one(catalog: Catalog) -> None:
    # A stage's failed row has no vector; it must not abort the commit of the rows that have one.
    catalog.upsert("vectors", pa.Table.from_pylist([{"key": "a", "vector": [1, 2, 3]}, {"key": "b", "vector": None}],
                                                   schema=SCHEMA), "key")
    rows = {r["key"]: r["vector"] for r in catalog.read("vectors", ["key", "vector"]).to_pylist()}
    assert rows == {"a": [1.0, 2.0, 3.0], "b": None}


def test_upsert_replaces_a_missing_vector_when_a_retry_succeeds(catalog: Catalog) -> None:
    catalog.upsert("vectors", [{"key": "a", "vector": None}], "key")
    catalog.upsert("vectors", [{"key": "a", "vector": [0.5, 0.5, 0.5]}], "key")
    assert catalog.read("vectors", ["key", "vector"]).to_pylist() == [{"key": "a", "vector": [0.5, 0.5, 0.5]}]


def test_insert_new_accepts_rows_without_a_vector(catalog: Catalog) -> None:
    assert catalog.insert_new("vectors", [{"key": "a", "vector": None}, {"key": "b", "vector": [1, 1, 1]}], "key") == 2


def test_a_vector_of_the_wrong_length_is_refused_not_nulled(catalog: Catalog) -> None:
    with pytest.raises((pa.ArrowInvalid, ValueError)):
        catalog.upsert("vectors", [{"key": "a", "vector": [1.0, 2.0]}], "key")
