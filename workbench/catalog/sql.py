"""Lance SQL string literals, importable without LanceDB: ``filters.py`` renders values with it, and filters are
built in stage modules that run in worker processes (and on Ray) that must not load the catalog's database
library just to quote a string."""
from __future__ import annotations


def sql_quote(value: str) -> str:
    """A SQL string literal for Lance filters (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"
