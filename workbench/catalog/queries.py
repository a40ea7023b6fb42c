"""Listing and filtering media for ``ls``, notebooks and the gallery."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from workbench.catalog.filters import And, Eq, Filter, In, Range
from workbench.catalog.store import Catalog

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


def date_filter(flt: MediaFilter) -> Filter:
    """The capture-date range (``until`` includes its whole day); every row when there is none."""
    return Range("taken_at", as_datetime(flt.since, False) if flt.since else None,
                 as_datetime(flt.until, True) if flt.until else None)


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
    parts: list[Filter] = []
    if flt.kind:
        if flt.kind not in ("image", "video"):
            raise ValueError(f"kind must be 'image' or 'video', not {flt.kind!r}")
        parts.append(Eq("kind", flt.kind))
    if flt.owner:
        parts.append(Eq("owner", flt.owner))
    if flt.since or flt.until:
        parts.append(date_filter(flt))
    if flt.query:
        parts.append(In("id", fts_ids(catalog, flt.query)))
    table: pa.Table = catalog.read("media", None, And(*parts))
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
