"""``lib.search``: finding media by meaning and words (CLIP vectors fused with the full-text index and the words
read in pictures), media that look alike, the vectors an embedding map lays out, and the text read in a media."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.access.scope import EVERYTHING, Scope
from workbench.capabilities.context import Capability
from workbench.catalog.queries import MediaFilter
from workbench.catalog.filters import Gt, In, where

if TYPE_CHECKING:
    import numpy as np

    from workbench.semantic.layout import MapLayout


@dataclass(frozen=True)
class MapDefaults:
    """Where an embedding map's knobs start: UMAP's ``n_neighbors`` and ``min_dist``, HDBSCAN's
    ``min_cluster_size``, and ``min_points_for_umap`` (fewer points are laid out by PCA)."""
    n_neighbors: int
    min_dist: float
    min_cluster_size: int
    min_points_for_umap: int


class Search(Capability):
    """``lib.search(text)`` searches; ``similar``, ``map_vectors``, ``text``, ``media_with_text``, ``tables``."""

    def __call__(self, text: str, *, limit: int = 20, kind: str | None = None,
                 since: date | datetime | None = None, until: date | datetime | None = None,
                 camera: str | None = None, place: str | None = None, owner: str | None = None,
                 tag: str | None = None, person: str | None = None, has_text: bool | None = None,
                 scope: Scope = EVERYTHING) -> pd.DataFrame:
        """Media matching a description: CLIP text-to-image (videos by their best frame, with its time) fused
        with words in names, folders, camera and place. Without CLIP weights only the words are used.
        Words read in the pictures (the ``ocr`` stage) are ranked too, and win ties: they are no secret of the
        owner's, whoever may see a picture may find it by them. ``scope`` is applied inside the search (hits are
        not lost to media outside it), and a viewer who does not see all is matched only by the words they may
        see (the folder words of other people's media must not find anything)."""
        from workbench.semantic.clip import WeightsUnavailable, load_embedder
        from workbench.semantic.search import search_text
        from workbench.stages.ocr import text_hits
        ids = scope.limit(self.lib.media.matching(tag, person, has_text, scope=scope))
        words = None
        if not scope.sees_all:
            seen = scope.keep(self.catalog.read("media", ["id", "path", "camera_make", "camera_model",
                                                          "place"]).to_pandas())
            words = scope.word_hits(self.catalog, seen, text)
        flt = MediaFilter(kind=kind, since=since, until=until, camera=camera, place=place, owner=owner, ids=ids)
        qvec = None
        # With no stored vector of this model a query vector has nothing to match: CLIP is not loaded (torch and
        # open_clip cost a gallery viewer's kernel ~250 MB; docs/benchmarks.md, gallery load).
        if self.has_vectors():
            try:
                qvec = load_embedder(self.settings).embed_texts([text])[0]
            except WeightsUnavailable:
                pass
        # Effective tags cost a pass over every stored score: compute them only when the query names a tag.
        tags = self.lib.tags() if self.lib.tags.mentioned_in(text) else None
        trashed = self.lib.trash.ids()
        hits = search_text(self.catalog, self.tables(), qvec, text, flt, limit + len(trashed), tags=tags,
                           word_ids=words, text_ids=text_hits(self.catalog, self.stages.ocr_version(), text))
        out = scope.redact(self.with_media(self.lib.trash.hide(hits, trashed=trashed).head(limit)))
        out.attrs["by_meaning"] = qvec is not None   # False: words only (no CLIP vectors or weights), say so
        return out

    def tables(self):
        """The tables search reads (``SearchTables``) for the current CLIP model."""
        from workbench.semantic.search import SearchTables
        st = self.stages.embeddings()
        return SearchTables(st.name, st.frames_table, st.version)

    def has_vectors(self) -> bool:
        """Whether any media has an embedding of the current CLIP model (so a text query is worth embedding)."""
        t = self.tables()
        return self.catalog.has(t.media_table) and self.catalog.count(
            t.media_table, where(version=t.model_id, status="ok")) > 0

    def similar(self, id_or_prefix: str, *, limit: int = 20, kind: str | None = None,
                scope: Scope = EVERYTHING) -> pd.DataFrame:
        """Media that look like this one (its CLIP vector against every other image and video frame); with a
        ``scope``, one of its media against the others."""
        import numpy as np

        from workbench.errors import WorkbenchError
        from workbench.semantic.search import pushdown, vector_hits
        mid = scope.resolve_id(self.lib, id_or_prefix)
        tables = self.tables()
        rows = (self.catalog.read(tables.media_table, ["vector"],
                                  where(media_id=mid, version=tables.model_id, status="ok")).to_pylist()
                if self.catalog.has(tables.media_table) else [])
        if not rows:
            raise WorkbenchError(f"media {mid} has no {tables.model_id} embedding yet: run `workbench process` "
                                 f"(CLIP weights are needed; see `workbench status`)")
        trashed = self.lib.trash.ids()
        hits = vector_hits(self.catalog, tables, np.asarray(rows[0]["vector"], np.float32), limit + len(trashed),
                           scope.limit(None), exclude=mid, where=pushdown(MediaFilter(kind=kind)))
        return scope.redact(self.with_media(self.lib.trash.hide(hits, trashed=trashed).head(limit)))

    def with_media(self, hits: pd.DataFrame) -> pd.DataFrame:
        """Search hits joined with their media rows, in hit order."""
        if hits.empty:
            return hits.assign(path=pd.Series(dtype=str), kind=pd.Series(dtype=str))
        media = self.catalog.read("media", None, In("id", list(hits["id"]))).to_pandas()
        return hits.merge(media, on="id", how="left")

    def map_vectors(self, source: str = "clip") -> Any:
        """The raw vectors an embedding map lays out (``MapVectors``: items + float32 matrix): ``clip``, one
        CLIP vector per media (videos: the mean of their frames), or ``faces``, one per recognisable face.
        Trashed media are left out. Why: search returns scores, but a map needs the vectors themselves."""
        from workbench.semantic.map_vectors import SOURCES, clip_vectors, face_vectors
        if source not in SOURCES:
            raise ValueError(f"unknown map source {source!r}: use one of {', '.join(SOURCES)}")
        if source == "faces":
            return face_vectors(self.catalog, self.settings, self.stages.face_model_id(), self.lib.trash.ids())
        tables = self.tables()
        return clip_vectors(self.catalog, tables.media_table, tables.model_id, self.lib.trash.ids())

    @property
    def map_defaults(self) -> MapDefaults:
        """The layout's own defaults (UMAP's, HDBSCAN's, and below how many points PCA lays them out instead), so a
        map's knobs start where ``map_layout`` does and say so."""
        from workbench.semantic import layout
        return MapDefaults(layout.DEFAULT_N_NEIGHBORS, layout.DEFAULT_MIN_DIST, layout.DEFAULT_MIN_CLUSTER_SIZE,
                           layout.MIN_POINTS_FOR_UMAP)

    @property
    def map_item_columns(self) -> list[str]:
        """The columns of ``map_vectors(...).items`` (what a point of the map is), for an empty selection."""
        from workbench.semantic.map_vectors import ITEM_COLUMNS
        return list(ITEM_COLUMNS)

    @staticmethod
    def map_layout(vectors: np.ndarray, *, metric: str = "cosine", n_neighbors: int | None = None,
                   min_dist: float | None = None, min_cluster_size: int | None = None) -> MapLayout:
        """Lay vectors (rows of ``map_vectors(...).vectors``, compared by its ``metric``) out in 2-D with UMAP and
        cluster the layout with HDBSCAN (``semantic.layout.layout_points``: a ``MapLayout`` of xy, labels, method);
        None takes ``map_defaults``. Why here: the map's geometry is the search layer's, not the dashboard's."""
        from workbench.semantic.layout import layout_points
        given = {"n_neighbors": n_neighbors, "min_dist": min_dist, "min_cluster_size": min_cluster_size}
        return layout_points(vectors, metric=metric, **{k: v for k, v in given.items() if v is not None})

    # -- text read in pictures (the ``ocr`` stage) ----------------------------------------------------------
    def media_with_text(self, has_text: bool | None) -> set[str] | None:
        """Media in which text was read (True), or all others (False); None: no restriction."""
        if has_text is None:
            return None
        from workbench.stages.ocr import OCR_TABLE
        found: set[str] = set()
        if self.catalog.has(OCR_TABLE):
            found = set(self.catalog.read(OCR_TABLE, ["media_id"], where(version=self.stages.ocr_version(), status="ok")
                                          & Gt("line_count", 0)).column("media_id").to_pylist())
        if has_text:
            return found
        return set(self.catalog.read("media", ["id"]).column("id").to_pylist()) - found

    def text(self, id_or_prefix: str, *, scope: Scope = EVERYTHING) -> pd.DataFrame:
        """The lines of text read in a media [text, confidence, box, t_s], in reading order (for a video, by the
        time of the frame they were read in): ``box`` is four corners [[x, y], ...] clockwise from top-left in
        pixels of the upright original. Empty until the ``ocr`` stage has run, or when there is no text."""
        from workbench.stages.ocr import OCR_TABLE
        mid = scope.resolve_id(self.lib, id_or_prefix)
        cols = ["text", "confidence", "box", "t_s"]
        rows = (self.catalog.read(OCR_TABLE, ["lines"],
                                  where(media_id=mid, version=self.stages.ocr_version(), status="ok")).to_pylist()
                if self.catalog.has(OCR_TABLE) else [])
        lines = (rows[0]["lines"] or []) if rows else []
        return pd.DataFrame([{"text": ln["text"], "confidence": ln["confidence"],
                              "box": [ln["box"][i:i + 2] for i in range(0, len(ln["box"]), 2)], "t_s": ln["t_s"]}
                             for ln in lines], columns=cols)
