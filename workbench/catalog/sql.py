"""Lance filter literals, importable without LanceDB: stage modules run in worker processes (and on Ray) that
must not load the catalog's database library just to quote a string."""
from __future__ import annotations

from collections.abc import Iterable


def sql_quote(value: str) -> str:
    """A SQL string literal for Lance filters (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_in(column: str, values: Iterable[str]) -> str:
    """``column IN (...)`` for Lance filters; ``false`` for no values (an empty IN list is a syntax error)."""
    vals = ", ".join(sql_quote(v) for v in values)
    return f"{column} IN ({vals})" if vals else "false"
