"""Listing and filtering media for ``ls``, notebooks and the gallery."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from workbench.catalog.store import Catalog, sql_in, sql_quote

# The keys of ``ls --json``, in order; a stable contract for scripts.
LS_COLUMNS = ["id", "path", "sha256", "kind", "mime", "width", "height", "duration_s", "taken_at",
              "camera_make", "camera_model", "orientation", "gps_lat", "gps_lon", "place", "size_bytes"]

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


def _as_datetime(d: date | datetime, end: bool) -> datetime:
    if isinstance(d, datetime):
        return d.replace(tzinfo=None)
    dt = datetime(d.year, d.month, d.day)
    return dt + timedelta(days=1) - timedelta(microseconds=1) if end else dt


def date_clauses(flt: MediaFilter) -> list[str]:
    """Lance SQL for the capture-date range (``until`` includes its whole day)."""
    out = []
    if flt.since:
        out.append(f"taken_at >= TIMESTAMP '{_as_datetime(flt.since, False).isoformat(sep=' ')}'")
    if flt.until:
        out.append(f"taken_at <= TIMESTAMP '{_as_datetime(flt.until, True).isoformat(sep=' ')}'")
    return out


def iso_taken_at(ts: Any, offset_min: Any) -> str | None:
    """ISO 8601 local time, with its UTC offset when known."""
    if ts is None or pd.isna(ts):
        return None
    ts = pd.Timestamp(ts).to_pydatetime()
    if offset_min is not None and not pd.isna(offset_min):
        ts = ts.replace(tzinfo=timezone(timedelta(minutes=int(offset_min))))
    return ts.isoformat()


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


def ls_record(row: dict[str, Any]) -> dict[str, Any]:
    """One ``ls --json`` row: exactly ``LS_COLUMNS``, JSON-ready, null where unknown."""
    out: dict[str, Any] = {}
    for c in LS_COLUMNS:
        v = row.get(c)
        if c == "taken_at":
            v = iso_taken_at(v, row.get("taken_at_offset_min"))
        elif v is not None and not isinstance(v, str) and pd.isna(v):
            v = None
        elif hasattr(v, "item"):
            v = v.item()
        out[c] = v
    return out
