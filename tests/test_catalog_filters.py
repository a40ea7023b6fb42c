"""Catalog filters are values: they render to Lance SQL only inside the catalog, quote every value, and select
exactly the rows they say in a real LanceDB table."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pyarrow as pa
import pytest

from workbench.catalog.filters import (ALL, NONE, And, Eq, Ge, Gt, In, IsNull, Le, Like, LowerEq, Lt, Ne, NotIn,
                                       NotNull, Or, Range, StartsWith, render, where)
from workbench.catalog.store import Catalog

HOSTILE = "x' OR '1'='1"

SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("owner", pa.string()),
    pa.field("size", pa.int64()),
    pa.field("score", pa.float32()),
    pa.field("ok", pa.bool_()),
    pa.field("taken_at", pa.timestamp("us")),
    pa.field("deleted_at", pa.timestamp("us", tz="UTC")),
])

ROWS = [
    {"id": "a1", "owner": "ann", "size": 10, "score": 0.5, "ok": True,
     "taken_at": datetime(2020, 1, 1, 12), "deleted_at": None},
    {"id": "a2", "owner": "Bob", "size": 20, "score": 0.9, "ok": False,
     "taken_at": datetime(2021, 6, 1), "deleted_at": datetime(2024, 1, 1, tzinfo=timezone.utc)},
    {"id": "b1", "owner": HOSTILE, "size": 30, "score": 0.1, "ok": True,
     "taken_at": datetime(2022, 3, 3), "deleted_at": None},
    {"id": "c_%", "owner": None, "size": 40, "score": 0.7, "ok": True,
     "taken_at": datetime(2023, 9, 9), "deleted_at": None},
]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    cat = Catalog(tmp_path_factory.mktemp("filters"))
    cat.ensure("t", SCHEMA)
    cat.upsert("t", ROWS, key="id")
    return cat


def ids(catalog, flt) -> list[str]:
    return sorted(catalog.read("t", ["id"], flt).column("id").to_pylist())


# -- rendering --------------------------------------------------------------------------------------------------

def test_each_filter_renders_to_the_lance_sql_it_names():
    assert Eq("media_id", "m1").to_sql() == "media_id = 'm1'"
    assert Ne("status", "ok").to_sql() == "status != 'ok'"
    assert In("id", ["a", "b"]).to_sql() == "id IN ('a', 'b')"
    assert NotIn("id", ["a"]).to_sql() == "id NOT IN ('a')"
    assert IsNull("deleted_at").to_sql() == "deleted_at IS NULL"
    assert NotNull("deleted_at").to_sql() == "deleted_at IS NOT NULL"
    assert Lt("size", 3).to_sql() == "size < 3" and Le("size", 3).to_sql() == "size <= 3"
    assert Gt("score", 0.5).to_sql() == "score > 0.5" and Ge("ok", True).to_sql() == "ok >= true"
    assert Range("size", 1, 5).to_sql() == "size >= 1 AND size <= 5"
    assert Range("size", hi=5, hi_inclusive=False).to_sql() == "size < 5"
    assert Like("id", "ab%").to_sql() == "id LIKE 'ab%'"
    assert LowerEq("name", "ann").to_sql() == "lower(name) = 'ann'"
    assert (Eq("a", 1) & IsNull("b")).to_sql() == "a = 1 AND b IS NULL"
    assert (Eq("a", 1) | Eq("a", 2)).to_sql() == "a = 1 OR a = 2"
    assert ((Eq("a", 1) | Eq("a", 2)) & Range("b", 1, 2)).to_sql() == "(a = 1 OR a = 2) AND (b >= 1 AND b <= 2)"
    assert (Eq("a", 1) & Eq("b", 2) | ~Eq("c", 3)).to_sql() == "(a = 1 AND b = 2) OR NOT (c = 3)"
    assert (~Eq("a", 1)).to_sql() == "NOT (a = 1)"
    assert where(media_id="m", status="ok").to_sql() == "media_id = 'm' AND status = 'ok'"


def test_timestamps_render_in_utc_and_dates_as_dates():
    naive = datetime(2020, 1, 2, 3, 4, 5)
    aware = datetime(2020, 1, 2, 4, 4, 5, tzinfo=timezone.utc).astimezone()   # the same instant, local zone
    assert Ge("taken_at", naive).to_sql() == "taken_at >= TIMESTAMP '2020-01-02 03:04:05.000000'"
    assert Lt("at", aware).to_sql() == "at < TIMESTAMP '2020-01-02 04:04:05.000000'"
    assert Eq("day", date(2020, 1, 2)).to_sql() == "day = DATE '2020-01-02'"


def test_numpy_scalars_count_as_the_values_they_hold():
    import numpy as np
    assert In("size", np.array([1, 2], np.int64)).to_sql() == "size IN (1, 2)"
    assert Eq("id", np.str_("a")).to_sql() == "id = 'a'" and Gt("score", np.float32(0.5)).to_sql() == "score > 0.5"
    assert Eq("ok", np.bool_(True)).to_sql() == "ok = true"


def test_hostile_strings_stay_values():
    assert Eq("owner", HOSTILE).to_sql() == "owner = 'x'' OR ''1''=''1'"
    assert In("owner", [HOSTILE]).to_sql() == "owner IN ('x'' OR ''1''=''1')"
    assert Like("owner", HOSTILE).to_sql() == "owner LIKE 'x'' OR ''1''=''1'"


def test_a_column_name_cannot_carry_sql():
    for bad in ["id = 'a' OR 1=1 --", "id;", "", "1id", "a b"]:
        with pytest.raises(ValueError, match="not a column name"):
            Eq(bad, "a")
    assert Eq("location.city", "Oslo").to_sql() == "location.city = 'Oslo'"


def test_values_of_other_kinds_are_refused_when_the_filter_is_built():
    with pytest.raises(ValueError, match="IsNull"):
        Eq("a", None)
    with pytest.raises(TypeError, match="cannot filter on a list"):
        Eq("a", ["x"])
    with pytest.raises(ValueError, match="finite"):
        Gt("a", float("nan"))
    with pytest.raises(TypeError, match="takes filters"):
        And(Eq("a", 1), "b = 2")


def test_empty_in_is_false_and_empty_not_in_is_true():
    assert In("id", []).to_sql() == "false"
    assert NotIn("id", set()).to_sql() == "true"
    assert And().to_sql() == "true" and Or().to_sql() == "false"


def test_filters_are_immutable_comparable_values_with_a_readable_repr():
    f = In("id", ["a", "b", "a"])
    assert f.values == ("a", "b")                       # once each, in the caller's order
    assert f == In("id", ("a", "b")) and hash(f) == hash(In("id", ("a", "b")))
    with pytest.raises(AttributeError):
        f.column = "x"                                  # type: ignore[misc]
    assert repr(Eq("a", 1) & ~IsNull("b")) == "And(Eq('a', 1), Not(IsNull('b')))"
    assert repr(In("id", [str(i) for i in range(8)])) == "In('id', ['0', '1', '2', '3', '4', ... (8 in all)])"
    assert And(And(Eq("a", 1), Eq("b", 2)), Eq("c", 3)).filters == (Eq("a", 1), Eq("b", 2), Eq("c", 3))


def test_render_is_the_catalogs_door_for_filters_and_passes_strings_during_the_move():
    assert render(None) is None and render(ALL) is None and render("") is None
    assert render("a = 1") == "a = 1"
    assert render(Eq("a", 1)) == "a = 1"
    with pytest.raises(TypeError, match="takes a Filter"):
        render(42)   # type: ignore[arg-type]


# -- selecting rows in LanceDB ----------------------------------------------------------------------------------

def test_each_filter_selects_the_right_rows(catalog):
    assert ids(catalog, Eq("owner", "ann")) == ["a1"]
    assert ids(catalog, Ne("owner", "ann")) == ["a2", "b1"]            # the null owner matches neither way
    assert ids(catalog, In("id", ["a1", "b1", "zz"])) == ["a1", "b1"]
    assert ids(catalog, NotIn("id", ["a1", "b1"])) == ["a2", "c_%"]
    assert ids(catalog, IsNull("deleted_at")) == ["a1", "b1", "c_%"]
    assert ids(catalog, NotNull("deleted_at")) == ["a2"]
    assert ids(catalog, IsNull("owner")) == ["c_%"]
    assert ids(catalog, Lt("size", 20)) == ["a1"] and ids(catalog, Le("size", 20)) == ["a1", "a2"]
    assert ids(catalog, Gt("score", 0.6)) == ["a2", "c_%"] and ids(catalog, Ge("size", 30)) == ["b1", "c_%"]
    assert ids(catalog, Eq("ok", False)) == ["a2"]
    assert ids(catalog, Range("size", 20, 30)) == ["a2", "b1"]
    assert ids(catalog, Range("size", 20, 30, hi_inclusive=False)) == ["a2"]
    assert ids(catalog, Range("taken_at", datetime(2021, 1, 1), datetime(2022, 12, 31))) == ["a2", "b1"]
    assert ids(catalog, Lt("deleted_at", datetime(2025, 1, 1, tzinfo=timezone.utc))) == ["a2"]
    assert ids(catalog, Like("id", "a%")) == ["a1", "a2"]
    assert ids(catalog, LowerEq("owner", "bob")) == ["a2"] and ids(catalog, LowerEq("id", "A1")) == []
    assert ids(catalog, StartsWith("id", "c_")) == ["c_%"]
    assert ids(catalog, StartsWith("id", "a_")) == []                   # '_' taken literally, not "any one"
    assert ids(catalog, Eq("ok", True) & IsNull("deleted_at") & Gt("size", 10)) == ["b1", "c_%"]
    assert ids(catalog, Eq("owner", "ann") | Eq("owner", "Bob")) == ["a1", "a2"]
    assert ids(catalog, (Eq("owner", "ann") | Eq("owner", "Bob")) & Range("size", 15, 25)) == ["a2"]
    assert ids(catalog, Eq("owner", "Bob") & Eq("ok", False) | Eq("id", "c_%")) == ["a2", "c_%"]
    assert ids(catalog, ~In("id", ["a1"])) == ["a2", "b1", "c_%"]
    assert ids(catalog, where(owner="Bob", ok=False)) == ["a2"]
    assert ids(catalog, ALL) == ["a1", "a2", "b1", "c_%"] and ids(catalog, NONE) == []


def test_empty_in_selects_nothing_and_empty_not_in_everything(catalog):
    assert ids(catalog, In("id", [])) == []
    assert ids(catalog, NotIn("id", [])) == ["a1", "a2", "b1", "c_%"]
    assert catalog.count("t", In("id", [])) == 0


def test_a_hostile_string_matches_only_itself(catalog):
    assert ids(catalog, Eq("owner", HOSTILE)) == ["b1"]
    assert ids(catalog, In("owner", [HOSTILE])) == ["b1"]
    assert ids(catalog, Eq("id", HOSTILE)) == []
    assert catalog.count("t", Eq("id", HOSTILE)) == 0


def test_count_update_and_delete_take_filters(tmp_path):
    cat = Catalog(tmp_path)
    cat.ensure("t", SCHEMA)
    cat.upsert("t", ROWS, key="id")
    assert cat.count("t", IsNull("deleted_at")) == 3
    cat.update("t", Eq("id", "a1"), {"size": 11})
    assert cat.read("t", ["size"], Eq("id", "a1")).column("size").to_pylist() == [11]
    assert cat.delete_matching("t", Eq("owner", HOSTILE)) == 1
    assert cat.delete_matching("t", In("id", [])) == 0
    cat.delete("t", StartsWith("id", "a"))
    assert sorted(cat.read("t", ["id"]).column("id").to_pylist()) == ["c_%"]
    assert cat.existing_keys("t", "id", ["c_%", HOSTILE]) == {"c_%"}


def test_a_text_search_names_the_score_column_so_lance_prints_no_deprecation_warning(tmp_path, capfd):
    """LanceDB adds ``_score`` to a full-text search that selects columns without it, and says on stderr, once per
    query, that it will stop doing so. The catalog names it, and every hit keeps its score."""
    cat = Catalog(tmp_path)
    cat.ensure("t", SCHEMA)
    cat.upsert("t", ROWS, key="id")
    cat.ensure_text_index("t", "owner")
    capfd.readouterr()
    hits = cat.text_search("t", "owner", "ann", columns=["id"])
    assert hits.column_names == ["id", "_score"] and hits.num_rows >= 1
    assert "_score" not in capfd.readouterr().err


def test_version_schema_text_search_and_compacting_one_table_need_no_table_handle(tmp_path):
    cat = Catalog(tmp_path)
    cat.ensure("t", SCHEMA)
    v0 = cat.version("t")
    cat.upsert("t", ROWS, key="id")
    assert cat.version("t") > v0 and cat.schema("t").names == SCHEMA.names
    assert cat.text_search("t", "owner", "ann") is None                  # no full-text index yet
    cat.ensure_text_index("t", "owner")
    hits = cat.text_search("t", "owner", "ann", where=Eq("ok", True), columns=["id", "_score"])
    assert hits.column("id").to_pylist() == ["a1"]
    assert cat.text_search("t", "owner", "ann", where=Eq("ok", False), columns=["id"]).num_rows == 0
    for i in range(3):
        cat.update("t", Eq("id", "a1"), {"size": 100 + i})
    before = cat.version("t")
    cat.compact(only=["t"])
    assert cat.version("t") > before and cat.count("t") == len(ROWS)
