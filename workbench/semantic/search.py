"""Text-to-media and media-to-media search: CLIP vectors (images, videos by their best frame) fused with the
full-text index by reciprocal rank, then filtered like ``ls``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.catalog.queries import MediaFilter, fts_ids, list_media
from workbench.catalog.filters import ALL, And, Eq, Filter, In, Not
from workbench.catalog.store import Catalog
from workbench.semantic.filtered_exact import SearchTables, model_filters, snapshot_root

# Reciprocal rank fusion constant (Cormack et al. 2009 use 60): large enough that the top few ranks of either
# list do not drown the other.
RRF_K = 60
# How many more candidates than asked for to fetch from each index before filtering and fusing. Kept small:
# IVF-PQ refine re-reads k x refine_factor full vectors, so latency grows with k (19 ms at k=10, 23 ms at k=30,
# 62 ms at k=100 on 1M vectors; docs/benchmarks.md).
OVERFETCH = 2
# Below this many allowed media a filter is pushed into the vector query as an id list (exact); above it
# candidates are over-fetched and filtered afterwards.
PREFILTER_MAX_IDS = 5000


def _allowed_ids(catalog: Catalog, flt: MediaFilter) -> set[str] | None:
    """Ids passing the filters that cannot run inside the vector query (camera, place, owner, tag), or None."""
    active = any(v is not None for v in (flt.camera, flt.place, flt.owner, flt.ids))
    if not active:
        return None
    if all(v is None for v in (flt.camera, flt.place, flt.owner)):
        return set(flt.ids)  # an id list alone needs no pass over the media table
    return set(list_media(catalog, MediaFilter(**{**flt.__dict__, "query": None}))["id"])


def _all_filters(catalog: Catalog, flt: MediaFilter) -> set[str] | None:
    active = any(v is not None for v in (flt.kind, flt.since, flt.until, flt.camera, flt.place, flt.owner, flt.ids))
    if active and all(v is None for v in (flt.kind, flt.since, flt.until, flt.camera, flt.place, flt.owner)):
        return set(flt.ids)
    return set(list_media(catalog, MediaFilter(**{**flt.__dict__, "query": None}))["id"]) if active else None


def pushdown(flt: MediaFilter) -> Filter:
    """The filters the vector tables carry themselves (kind, capture date), as a prefilter of the vector query."""
    from workbench.catalog.queries import date_filter
    return And(*([Eq("kind", flt.kind)] if flt.kind else []), *([date_filter(flt)] if flt.since or flt.until else []))


def _date_range_us(flt: MediaFilter | None) -> tuple[int | None, int | None] | None:
    """The filter's capture-date range in microseconds (inclusive, as ``date_filter``), or None if it has
    none."""
    if flt is None or (flt.since is None and flt.until is None):
        return None
    from workbench.catalog.queries import as_datetime

    def us(d, end):
        return None if d is None else int(np.datetime64(as_datetime(d, end), "us").astype(np.int64))
    return us(flt.since, False), us(flt.until, True)


def _ranked(catalog: Catalog, table: str, model_where: Filter, base: Filter, query: np.ndarray, fetch: int,
            flt: MediaFilter | None, exact_ok: bool) -> pd.DataFrame:
    """Top ``fetch`` rows of one vector table: from its date-sorted snapshot when the filter is a selective
    date range (exact; ``filtered_exact``), else through the ANN/flat LanceDB search."""
    from workbench.semantic.filtered_exact import filtered_search
    from workbench.semantic.vector_index import vector_search

    dates = _date_range_us(flt) if exact_ok else None
    if dates is not None:
        hits = filtered_search(catalog.table(table), snapshot_root(catalog), model_where, query, fetch,
                               since_us=dates[0], until_us=dates[1], kind=flt.kind)
        if hits is not None:
            return hits
    return vector_search(catalog.table(table), query, fetch, where=base,
                         rerank_root=snapshot_root(catalog)).to_pandas()


def vector_hits(catalog: Catalog, tables: SearchTables, query: np.ndarray, k: int,
                allowed: set[str] | None, exclude: str | None = None, where: Filter = ALL,
                flt: MediaFilter | None = None) -> pd.DataFrame:
    """Best cosine score per media over its own vector and (videos) its frames; columns id, score, frame_s.

    ``where`` (kind and date, see ``pushdown``) runs inside the vector query; ``allowed`` ids come from the
    other filters and are pushed down as an id list when short, else applied to over-fetched candidates.
    ``flt`` (the filter ``where`` came from) lets a selective date range be answered exactly from the
    date-sorted snapshot instead (``filtered_exact``; used when no id list has to be pushed down)."""
    model_where, fmodel_where = model_filters(tables)
    base = _only_needed(catalog, tables.media_table, model_where)
    fbase = _only_needed(catalog, tables.frames_table, fmodel_where)
    base, fbase = base & where, fbase & where
    fetch = k * OVERFETCH
    exact_ok = allowed is None
    if allowed is not None and len(allowed) <= PREFILTER_MAX_IDS:
        ids = In("media_id", sorted(allowed))
        base, fbase = base & ids, fbase & ids
    elif allowed is not None:
        fetch = k * OVERFETCH * 10
    frames: list[pd.DataFrame] = []
    if catalog.has(tables.media_table) and catalog.count(tables.media_table, base):
        m = _ranked(catalog, tables.media_table, model_where, base, query, fetch, flt, exact_ok)
        frames.append(pd.DataFrame({"id": m["media_id"], "score": m["score"], "frame_s": np.nan}))
    if catalog.has(tables.frames_table) and catalog.count(tables.frames_table, fbase):
        f = _ranked(catalog, tables.frames_table, fmodel_where, fbase, query, fetch, flt, exact_ok)
        frames.append(pd.DataFrame({"id": f["media_id"], "score": f["score"], "frame_s": f["t_s"]}))
    if not frames:
        return pd.DataFrame(columns=["id", "score", "frame_s"])
    hits = pd.concat(frames, ignore_index=True)
    if exclude is not None:
        hits = hits[hits["id"] != exclude]
    if allowed is not None:
        hits = hits[hits["id"].isin(allowed)]
    # A video's score is its best frame's (or its mean vector's, whichever is higher); keep that frame's time.
    hits = hits.sort_values(["score", "frame_s"], ascending=[False, True], na_position="last")
    best = hits.drop_duplicates("id", keep="first")
    # The mean vector can win for a video; still report the best frame's time.
    frame_t = hits.dropna(subset=["frame_s"]).drop_duplicates("id", keep="first").set_index("id")["frame_s"]
    best = best.assign(frame_s=best["id"].map(frame_t))
    return best.head(k * 2).reset_index(drop=True)


def tag_ranking(tags: pd.DataFrame, text: str) -> list[str]:
    """Media whose effective tags appear in the query text (whole words), best tag score first."""
    if tags is None or tags.empty:
        return []
    q = f" {' '.join(text.lower().split())} "
    names = pd.Series(tags["tag"].unique())
    hit = set(names[names.map(lambda t: f" {t} " in q)])
    if not hit:
        return []
    t = tags[tags["tag"].isin(hit)].fillna({"score": 1.0})
    return list(t.groupby("media_id")["score"].max().sort_values(ascending=False).index)


def _only_needed(catalog: Catalog, table: str, where: Filter) -> Filter:
    """``where``, or ``ALL`` when every row already satisfies it: a prefilter that excludes nothing still costs
    about 2x in latency at 1M vectors (docs/benchmarks.md), and the usual table holds one model, all ok."""
    if not catalog.has(table):
        return where
    return where if catalog.count(table, Not(where)) else ALL


def fuse(vector: pd.DataFrame, text_ids: list[str], limit: int,
         tag_ids: list[str] | None = None, read_ids: list[str] | None = None) -> pd.DataFrame:
    """Reciprocal rank fusion of the vector ranking, the full-text ranking, the tag ranking and the ranking of
    words read in the pictures (``read_ids``, OCR). The words read come first, so they win ties: a photo that
    holds the very word asked for beats an equally ranked look-alike."""
    fused: dict[str, float] = {}
    for ranking in (read_ids or [], list(vector["id"]), text_ids, tag_ids or []):
        for rank, mid in enumerate(ranking):
            fused[mid] = fused.get(mid, 0.0) + 1.0 / (RRF_K + rank + 1)
    order = sorted(fused, key=lambda m: -fused[m])[:limit]
    v = vector.set_index("id")
    return pd.DataFrame({
        "id": order,
        "score": [float(v.at[m, "score"]) if m in v.index else np.nan for m in order],
        "frame_s": [float(v.at[m, "frame_s"]) if m in v.index else np.nan for m in order],
        "rank_score": [fused[m] for m in order],
    })


def search_text(catalog: Catalog, tables: SearchTables, query_vec: np.ndarray | None, text: str,
                flt: MediaFilter, limit: int, tags: pd.DataFrame | None = None,
                word_ids: list[str] | None = None, text_ids: list[str] | None = None) -> pd.DataFrame:
    """Vector hits, full-text hits (names, folders, camera, place), tag hits and hits of words read in the
    pictures (``text_ids``, best first), fused by rank. ``word_ids`` replaces the full-text ranking (a user's
    view ranks only words of paths that user may see)."""
    allowed = _allowed_ids(catalog, flt)
    vec = (vector_hits(catalog, tables, query_vec, limit, allowed, where=pushdown(flt), flt=flt)
           if query_vec is not None
           else pd.DataFrame(columns=["id", "score", "frame_s"]))
    # Word and tag hits go through every filter (the same ones ``ls`` applies).
    everything = _all_filters(catalog, flt)
    words = [m for m in (fts_ids(catalog, text) if word_ids is None else word_ids)
             if everything is None or m in everything]
    tagged = [m for m in tag_ranking(tags, text) if everything is None or m in everything]
    read = [m for m in text_ids or [] if everything is None or m in everything]
    return fuse(vec, words[: limit * OVERFETCH], limit, tagged[: limit * OVERFETCH], read[: limit * OVERFETCH])
