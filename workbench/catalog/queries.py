"""Listing and filtering media for ``ls``, notebooks and the gallery."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from workbench.catalog.store import Catalog, sql_in, sql_quote

SORT_KEYS = {"date": "taken_at", "name": "name", "size": "size_bytes"}


@dataclass
class MediaFilter:
    kind: str | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None
    camera: str | None = None
    place: str | None = None
    query: str | None = None
    owner: str | None = None
    ids: set[str] | None = None   # restrict to these media (e.g. those carrying a tag)


def as_datetime(d: date | datetime, end: bool) -> datetime:
    """A naive datetime for a date filter bound (``end``: the last moment of that day), as ``taken_at`` is stored."""
    if isinstance(d, datetime):
        return d.replace(tzinfo=None)
    dt = datetime(d.year, d.month, d.day)
    return dt + timedelta(days=1) - timedelta(microseconds=1) if end else dt


def date_clauses(flt: MediaFilter) -> list[str]:
    """Lance SQL for the capture-date range (``until`` includes its whole day)."""
    out = []
    if flt.since:
        out.append(f"taken_at >= TIMESTAMP '{as_datetime(flt.since, False).isoformat(sep=' ')}'")
    if flt.until:
        out.append(f"taken_at <= TIMESTAMP '{as_datetime(flt.until, True).isoformat(sep=' ')}'")
    return out


def fts_ids(catalog: Catalog, words: str) -> list[str]:
    """Media ids whose names, folders, camera or place match ``words`` (LanceDB full-text index)."""
    tbl = catalog.table("media")
    n = tbl.count_rows()
    if n == 0 or not words.strip():
        return []
    res = (tbl.search(words, query_type="fts", fts_columns="search_text").select(["id", "_score"])
           .limit(n).to_arrow())
    return res.column("id").to_pylist()


def list_media(catalog: Catalog, flt: MediaFilter, sort: str = "date", desc: bool = False,
               limit: int | None = None) -> pd.DataFrame:
    """All media matching ``flt``, sorted; columns are the full ``media`` schema plus ``name``."""
    clauses: list[str] = []
    if flt.kind:
        if flt.kind not in ("image", "video"):
            raise ValueError(f"kind must be 'image' or 'video', not {flt.kind!r}")
        clauses.append(f"kind = {sql_quote(flt.kind)}")
    if flt.owner:
        clauses.append(f"owner = {sql_quote(flt.owner)}")
    clauses += date_clauses(flt)
    if flt.query:
        ids = fts_ids(catalog, flt.query)
        clauses.append(sql_in("id", ids))
    table: pa.Table = catalog.read("media", None, " AND ".join(clauses) or None)
    df = table.to_pandas()
    if flt.camera:
        needle = flt.camera.lower()
        cam = (df["camera_make"].fillna("") + " " + df["camera_model"].fillna("")).str.lower()
        df = df[cam.str.contains(needle, regex=False)]
    if flt.place:
        df = df[df["place"].fillna("").str.lower().str.contains(flt.place.lower(), regex=False)]
    if flt.ids is not None:
        df = df[df["id"].isin(flt.ids)]
    df = df.assign(name=df["path"].map(lambda p: Path(p).name.lower()))
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {sorted(SORT_KEYS)}, not {sort!r}")
    df = df.sort_values([SORT_KEYS[sort], "name", "id"], ascending=not desc, na_position="last", kind="stable")
    if limit is not None:
        df = df.head(limit)
    return df.reset_index(drop=True)
