"""Embedding map: every picture (or face) as a point, placed by what it shows, coloured by cluster.

The library's CLIP vectors (one per media; a video by the mean of its frames) or face embeddings are laid out in
2-D with UMAP and clustered with HDBSCAN (``lib.search.map_layout``). Hovering a point shows its thumbnail;
a lasso or box selection shows the chosen pictures below the map, where they can be tagged, put in an album, or
opened in the duplicates/quality review (``../duplicates?ids=...``) or the faces dashboard.

Computing a map can take a while (UMAP is compiled on its first run on a machine), so it runs in a worker thread
with a progress bar; a served page computes the default map as soon as it opens.
"""
from __future__ import annotations

import asyncio
import base64
import html
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import panel as pn
import param

from workbench.dashboards.widgets import Dashboard, guarded, picture_html

if TYPE_CHECKING:
    from workbench.semantic.layout import MapLayout

log = logging.getLogger("workbench.dashboards")

SOURCE_LABELS = {"clip": "Pictures (CLIP)", "faces": "Faces"}
HOVER_THUMB_PX = 96       # thumbnail in the hover tooltip: small, because every point carries one in the page
STRIP_THUMB_PX = 96       # thumbnails of the selection strip under the map
MAX_POINTS = 5000         # more points are sampled down (randomly, reproducibly): UMAP time and page size grow with it
SELECTION_SHOWN = 60      # thumbnails shown for a selection; actions still apply to every selected point
PLOT_HEIGHT_PX = 560
LOAD_WAIT_S = 10.0        # how long the first map waits for the page's session to finish loading
NOISE_COLOUR = "#b8bec8"
NOISE_LABEL = "no cluster"
EMPTY_HELP = {
    "clip": "No CLIP vectors yet, so there is nothing to map. Run `workbench process` with CLIP weights available "
            "(`workbench status` shows whether the embeddings stage ran, or why it was skipped).",
    "faces": "No recognisable faces yet, so there is nothing to map. Run `workbench process` to find faces "
             "(faces too small or too blurry to recognise are not mapped; the Faces dashboard lists them).",
}
# Shown when a thumbnail cannot be made (not processed yet): a grey square instead of a broken image.
PLACEHOLDER = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96"><rect width="96" height="96" fill="#eceff3"/>'
    b'<text x="48" y="52" font-size="11" text-anchor="middle" fill="#6b7280">no preview</text></svg>').decode()
TOOLTIP = f"""
<div style="width:{HOVER_THUMB_PX + 8}px">
  <img src="@thumb" width="{HOVER_THUMB_PX}" height="{HOVER_THUMB_PX}"
       style="object-fit:cover;border-radius:4px;display:block" alt="">
  <div style="font:11px system-ui,sans-serif;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">@name</div>
  <div style="font:11px system-ui,sans-serif;color:#4b5563">@cluster_label</div>
</div>
"""


@dataclass
class MapData:
    """One computed map: the points (items with x, y, cluster, name, thumb) and how it was made."""
    source: str
    points: pd.DataFrame
    layout: MapLayout
    total: int            # points available before sampling down to max_points
    params: dict[str, Any]


def cluster_names(labels: np.ndarray) -> list[str]:
    return [f"cluster {int(c) + 1}" if c >= 0 else NOISE_LABEL for c in labels]


def palette(n: int) -> list[str]:
    """n distinct colours for clusters (Category10/20 while they suffice, then Turbo)."""
    from bokeh.palettes import Category10_10, Category20_20, turbo
    if n <= 10:
        return list(Category10_10[:n])
    if n <= 20:
        return list(Category20_20[:n])
    return list(turbo(n))


def sample_rows(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Row positions to map: all of them, or a reproducible random ``max_points`` in their original order."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def review_link(media_ids: list[str]) -> str:
    """The duplicates/quality dashboard restricted to these media (it reads ``?ids=``)."""
    return "../duplicates?ids=" + ",".join(dict.fromkeys(media_ids))


class EmbeddingMap(Dashboard):
    """UMAP map of CLIP or face embeddings with HDBSCAN clusters; select points to tag, file or review them.

    The knobs are parameters: ``source`` (what is mapped: choosing another computes its map), ``n_neighbors``,
    ``min_dist`` and ``min_cluster_size`` (the layout's and the clustering's own names; **Compute map** applies
    them, since a map takes a while), and ``selected_rows``, the lasso's points. The computed map is the parameter
    ``data``; the plot and the summary follow it, and the selection strip, its title and its actions follow
    ``selected_rows`` through ``@param.depends``. Add tag and Add to album stay buttons: they write."""

    title = "Embedding map"

    source = param.Selector(objects={label: key for key, label in SOURCE_LABELS.items()}, default="clip",
                            doc="What the points are: pictures (CLIP vectors) or faces")
    # the layout's knobs start at the library's defaults (``lib.search.map_defaults``), set by ``__init__``
    n_neighbors = param.Integer(None, bounds=(2, 200),
                                doc="UMAP n_neighbors: more shows the big picture, fewer the local detail")
    min_dist = param.Number(None, bounds=(0.0, 1.0), step=0.05,
                            doc="UMAP min_dist: smaller packs look-alikes tighter")
    min_cluster_size = param.Integer(None, bounds=(2, 500),
                                     doc="HDBSCAN min_cluster_size: the fewest points a cluster has")
    selected_rows = param.List([], doc="The selected points, as row positions of the map")
    data = param.ClassSelector(class_=MapData, allow_None=True, precedence=-1,
                               doc="The map shown (None before the first map, or when there is nothing to map)")

    def __init__(self, library: Any, *, source: str = "clip", n_neighbors: int | None = None,
                 min_dist: float | None = None, min_cluster_size: int | None = None,
                 max_points: int = MAX_POINTS, hover_thumb_px: int = HOVER_THUMB_PX):
        if source not in SOURCE_LABELS:
            raise ValueError(f"unknown source {source!r}: use one of {', '.join(SOURCE_LABELS)}")
        if max_points < 1:
            raise ValueError("max_points must be at least 1")
        self.max_points, self.hover_thumb_px = max_points, hover_thumb_px
        self._generation = 0                       # which requested map is the latest (older results are dropped)
        self._shown_source = source                # the source of the map shown (or found empty)
        self._thumbs: dict[tuple[str, str], str] = {}   # (source, id) -> data URI, kept across recomputes
        self._strip_bytes: dict[tuple[str, str], bytes | None] = {}
        d = self.defaults = library.search.map_defaults   # None above: the library's own default
        knobs = {"n_neighbors": int(d.n_neighbors if n_neighbors is None else n_neighbors),
                 "min_dist": float(d.min_dist if min_dist is None else min_dist),
                 "min_cluster_size": int(d.min_cluster_size if min_cluster_size is None else min_cluster_size)}
        super().__init__(library, source=source, **knobs)
        for name, value in (("n_neighbors", d.n_neighbors), ("min_dist", d.min_dist),
                            ("min_cluster_size", d.min_cluster_size)):
            self.param[name].default, self.param[name].allow_None = value, False

    @property
    def selected(self) -> list[int]:
        """The selected points (row positions in ``data.points``); ``selected_rows`` by its older name."""
        return self.selected_rows

    # -- page ----------------------------------------------------------------------------------------------
    def build(self) -> None:
        self.source_picker = pn.widgets.RadioButtonGroup.from_param(self.param.source, name="Map", color="light",
                                                                    sizing_mode="stretch_width")
        self.n_neighbors_input = pn.widgets.IntInput.from_param(self.param.n_neighbors,
                                                                name="Neighbours (UMAP n_neighbors)",
                                                                sizing_mode="stretch_width")
        self.min_dist_input = pn.widgets.FloatInput.from_param(self.param.min_dist, name="Spacing (UMAP min_dist)",
                                                               sizing_mode="stretch_width")
        self.min_cluster_size_input = pn.widgets.IntInput.from_param(
            self.param.min_cluster_size, name="Smallest cluster (HDBSCAN min_cluster_size)",
            sizing_mode="stretch_width")
        self.compute_button = pn.widgets.Button(label="Compute map", color="primary",
                                                sizing_mode="stretch_width")
        self.compute_button.on_click(self.messages.guard(self._compute_clicked))
        self.sidebar += [
            pn.pane.Markdown("Each point is a picture (or a face), placed near the ones that look alike; colours "
                             "are clusters. Hover for a thumbnail, draw a lasso (or a box) to select.",
                             sizing_mode="stretch_width"),
            self.source_picker, self.n_neighbors_input, self.min_dist_input, self.min_cluster_size_input,
            self.compute_button,
            pn.pane.Markdown(
                f"Defaults: {self.defaults.n_neighbors} neighbours (more shows the big picture, fewer the local "
                f"detail), spacing {self.defaults.min_dist} (smaller packs look-alikes tighter), smallest cluster "
                f"{self.defaults.min_cluster_size} pictures. Fewer than {self.defaults.min_points_for_umap} points "
                f"are laid out with "
                f"PCA instead of UMAP. Above {self.max_points:,} points a random sample is mapped.",
                sizing_mode="stretch_width", styles={"font-size": "12px", "color": "#4b5563"})]

        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.plot = pn.pane.Bokeh(None, sizing_mode="stretch_width", height=PLOT_HEIGHT_PX, visible=False)
        self.selection_title = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.strip = pn.FlexBox(sizing_mode="stretch_width")
        self.tag_name = pn.widgets.TextInput(label="Tag", placeholder="tag name", width=200, sizing_mode="fixed")
        self.tag_button = pn.widgets.Button(label="Add tag", color="primary", width=110, sizing_mode="fixed",
                                            align="end")
        self.tag_button.on_click(self.messages.guard(self._add_tag))
        self.album_name = pn.widgets.AutocompleteInput(label="Album", placeholder="existing or new album",
                                                       restrict=False, min_characters=1, case_sensitive=False,
                                                       width=220, sizing_mode="fixed")
        self.album_button = pn.widgets.Button(label="Add to album", width=130, sizing_mode="fixed", align="end")
        self.album_button.on_click(self.messages.guard(self._add_to_album))
        self.clear_button = pn.widgets.Button(label="Clear selection", width=140, sizing_mode="fixed", align="end")
        self.clear_button.on_click(self.messages.guard(lambda e: self.clear_selection()))
        self.links = pn.pane.HTML("", sizing_mode="stretch_width")
        self.actions = pn.Column(
            pn.Row(self.tag_name, self.tag_button, self.album_name, self.album_button, self.clear_button,
                   sizing_mode="stretch_width"),
            self.links, visible=False, sizing_mode="stretch_width")
        self.main += [self.summary, self.plot, self.selection_title, self.actions, self.strip]

        self._refresh_albums()
        served = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
        self._explain_start(served)
        if served:
            pn.state.onload(self.messages.guard(self._compute_on_open))  # the map appears on its own

    def _explain_start(self, computing: bool) -> None:
        n = len(self.library.map_vectors(self.source))
        if n == 0:
            self.summary.object = EMPTY_HELP[self.source]
            return
        then = "computing the map" if computing else "press **Compute map**"
        self.summary.object = (f"{n} {self._unit(n)} to map: {then} (the first map on a machine takes about a "
                               f"minute while UMAP is compiled).")

    def _unit(self, n: int, source: str | None = None) -> str:
        word = "face" if (source or self.source) == "faces" else "picture"
        return word if n == 1 else word + "s"

    # -- computing -----------------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The map parameters currently set."""
        return {"source": self.source, "n_neighbors": int(self.n_neighbors), "min_dist": float(self.min_dist),
                "min_cluster_size": int(self.min_cluster_size)}

    def compute_data(self, source: str, n_neighbors: int, min_dist: float, min_cluster_size: int) -> MapData | None:
        """Read the vectors, lay them out, cluster them and make the hover thumbnails (slow: runs off the page)."""
        vectors = self.library.map_vectors(source)
        if len(vectors) == 0:
            return None
        rows = sample_rows(len(vectors), self.max_points)
        items = vectors.items.iloc[rows].reset_index(drop=True)
        layout = self.library.search.map_layout(vectors.vectors[rows], n_neighbors=n_neighbors, min_dist=min_dist,
                                                min_cluster_size=min_cluster_size, metric=vectors.metric)
        points = items.assign(x=layout.xy[:, 0], y=layout.xy[:, 1], cluster=layout.labels,
                              cluster_label=cluster_names(layout.labels),
                              name=[self._point_name(r, source) for r in items.to_dict("records")],
                              thumb=[self._thumb(source, r) for r in items.to_dict("records")])
        return MapData(source, points, layout, len(vectors),
                       {"n_neighbors": n_neighbors, "min_dist": min_dist, "min_cluster_size": min_cluster_size})

    def compute(self) -> MapData | None:
        """Compute and show the map for the current parameters, in this thread (for notebooks and scripts)."""
        data = self.compute_data(**self.params())
        self._show(data, self.source)
        return data

    async def _compute_clicked(self, event: Any = None) -> None:
        params = self.params()
        self._generation += 1
        mine = self._generation
        self.compute_button.disabled = True
        try:
            data = await self.busy.run(f"Computing the map of {self._unit(2, params['source'])}",
                                       self.compute_data, **params)
        finally:
            if mine == self._generation:
                self.compute_button.disabled = False
        if mine != self._generation:  # the source was switched meanwhile: a newer map is on its way
            return
        self.messages.clear()
        self._show(data, params["source"])

    async def _compute_on_open(self) -> None:
        # Under `panel serve --num-threads` (what `workbench dashboards` runs) Panel calls onload callbacks from a
        # pool thread and marks the session loaded only after they return; a coroutine started from there can run
        # first, when changing the page fails. So wait for the session to be loaded.
        for _ in range(int(LOAD_WAIT_S / 0.05)):
            if pn.state.loaded:
                break
            await asyncio.sleep(0.05)
        await self._compute_clicked()

    @param.depends("source", watch=True)
    @guarded
    async def _source_changed(self) -> None:
        """Another source: its map is computed at once (the old one no longer applies)."""
        await self._compute_clicked()

    @staticmethod
    def _point_name(row: dict[str, Any], source: str) -> str:
        name = Path(str(row["path"])).name if row.get("path") else str(row["id"])[:10]
        if source == "faces":
            who = row.get("person") or (f"unnamed person {row['person_id'][:6]}" if row.get("person_id")
                                        else "no person")
            return f"{who} · {name}"
        return name + (" (video)" if row.get("kind") == "video" else "")

    def _thumb(self, source: str, row: dict[str, Any]) -> str:
        """A small data-URI picture for the tooltip (cached: recomputing with other parameters reuses it)."""
        key = (source, row["id"])
        if key not in self._thumbs:
            data, mime = self._picture_bytes(source, row["id"], self.hover_thumb_px)
            self._thumbs[key] = (f"data:{mime};base64,{base64.b64encode(data).decode()}" if data else PLACEHOLDER)
        return self._thumbs[key]

    def _picture_bytes(self, source: str, item_id: str, size_px: int) -> tuple[bytes | None, str]:
        from PIL import Image
        try:
            if source == "faces":
                im = self.library.face_crop(item_id, size_px=size_px).convert("RGB")
            else:
                raw = self.library.thumbnail(item_id)
                if raw is None:
                    return None, "image/webp"
                with Image.open(io.BytesIO(raw)) as src:
                    im = src.convert("RGB")
                im.thumbnail((size_px, size_px))
            buf = io.BytesIO()
            im.save(buf, "WEBP", quality=75)
            return buf.getvalue(), "image/webp"
        except Exception as e:  # noqa: BLE001 - one unreadable preview must not break the whole map
            log.info("no picture for %s %s: %s", source, item_id, e)
            return None, "image/webp"

    # -- showing -------------------------------------------------------------------------------------------
    def _show(self, data: MapData | None, source: str) -> None:
        """Show a computed map (or say why there is none): the plot and the summary follow ``data``."""
        self._shown_source = source
        if data is self.data:
            self.param.trigger("data")
        else:
            self.data = data

    @param.depends("data", watch=True)
    @guarded
    def _draw(self) -> None:
        data = self.data
        with param.parameterized.discard_events(self):
            self.selected_rows = []
        if data is None:
            self.plot.object, self.plot.visible = None, False
            self.summary.object = EMPTY_HELP[self._shown_source]
        else:
            self.plot.object = self._figure(data)
            self.plot.visible = True
            self.summary.object = self._summary(data)
        self._show_selection()

    def _summary(self, data: MapData) -> str:
        lay, n = data.layout, len(data.points)
        shown = f"**{n} {self._unit(n, data.source)}**"
        if data.total > n:
            shown += f" (a random sample of {data.total:,})"
        clusters = f"{lay.n_clusters} cluster{'s' if lay.n_clusters != 1 else ''}"
        how = ("laid out with UMAP" if lay.method == "umap" else
               f"laid out with PCA: fewer than {self.defaults.min_points_for_umap} points are too few for UMAP")
        p = data.params
        return (f"{shown} · {clusters} · {lay.n_unclustered} in no cluster · {how} "
                f"(neighbours {p['n_neighbors']}, spacing {p['min_dist']:g}, smallest cluster "
                f"{p['min_cluster_size']}).")

    def _figure(self, data: MapData):
        from bokeh.models import (BoxSelectTool, ColumnDataSource, HoverTool, LassoSelectTool, Legend, LegendItem,
                                  PanTool, ResetTool, WheelZoomTool)
        from bokeh.plotting import figure
        from bokeh.transform import factor_cmap

        pts = data.points
        source = ColumnDataSource({"x": pts["x"].to_numpy(), "y": pts["y"].to_numpy(),
                                   "name": pts["name"].tolist(), "thumb": pts["thumb"].tolist(),
                                   "cluster_label": pts["cluster_label"].tolist()})
        k = data.layout.n_clusters
        factors = [f"cluster {i + 1}" for i in range(k)] + [NOISE_LABEL]
        colours = palette(k) + [NOISE_COLOUR]
        lasso, box = LassoSelectTool(continuous=False), BoxSelectTool(continuous=False)
        hover = HoverTool(tooltips=TOOLTIP)
        fig = figure(height=PLOT_HEIGHT_PX, sizing_mode="stretch_width", toolbar_location="above",
                     tools=[PanTool(), WheelZoomTool(), lasso, box, ResetTool(), hover],
                     title=f"{SOURCE_LABELS[data.source]}: hover for a thumbnail, lasso or box to select")
        fig.toolbar.active_drag = lasso
        fig.toolbar.active_scroll = fig.select_one(WheelZoomTool)
        dots = fig.scatter("x", "y", source=source, size=10, line_color="white", line_width=0.5, alpha=0.85,
                           color=factor_cmap("cluster_label", colours, factors), nonselection_alpha=0.25,
                           selection_line_color="#111827", selection_line_width=1.5)
        fig.axis.visible = False
        fig.grid.visible = False
        # One legend entry per cluster in cluster order, "no cluster" last (Bokeh's grouping follows the data).
        first = {label: i for i, label in reversed(list(enumerate(pts["cluster_label"])))}
        fig.add_layout(Legend(items=[LegendItem(label=f, renderers=[dots], index=first[f]) for f in factors
                                     if f in first], label_text_font_size="11px"), "right")
        source.selected.on_change("indices", self._on_indices)
        self.bokeh_source = source
        return fig

    def _on_indices(self, attr: str, old: list[int], new: list[int]) -> None:
        try:
            self.select(list(new))
        except Exception as e:  # noqa: BLE001 - a Bokeh callback's failure must reach the page
            self.messages.report(e)

    # -- selection -----------------------------------------------------------------------------------------
    def select(self, rows: list[int] | range) -> None:
        """Make these points (row positions of the map) the selection; the strip under the map follows."""
        n = len(self.data.points) if self.data is not None else 0
        self.selected_rows = sorted({int(r) for r in rows if 0 <= int(r) < n})

    def clear_selection(self) -> None:
        if self.data is not None and getattr(self, "bokeh_source", None) is not None:
            self.bokeh_source.selected.indices = []
        self.select([])

    def selected_items(self) -> pd.DataFrame:
        """The selected points' items (id, media_id, path, kind, person, cluster ...)."""
        if self.data is None or not self.selected_rows:
            return pd.DataFrame(columns=self.library.search.map_item_columns)
        return self.data.points.iloc[self.selected_rows].reset_index(drop=True)

    def selected_media(self) -> list[str]:
        """The media of the selection (for faces: the pictures they are in), each once, in map order."""
        return list(dict.fromkeys(self.selected_items()["media_id"]))

    @param.depends("selected_rows", watch=True)
    @guarded
    def _show_selection(self) -> None:
        """The selected points' thumbnails, how many there are, and what can be done with them."""
        items = self.selected_items()
        if items.empty:
            self.selection_title.object = ("Draw a lasso (or a box) around points to select them." if self.data
                                           is not None else "")
            self.strip.objects, self.actions.visible, self.links.object = [], False, ""
            return
        source = self.data.source
        media = self.selected_media()
        what = f"{len(items)} {self._unit(len(items), source)}"
        if source == "faces":
            what += f" in {len(media)} picture{'s' if len(media) != 1 else ''}"
        more = f" (the first {SELECTION_SHOWN} shown)" if len(items) > SELECTION_SHOWN else ""
        self.selection_title.object = f"**Selected: {what}**{more}"
        self.strip.objects = [self._strip_card(source, r) for r in items.head(SELECTION_SHOWN).to_dict("records")]
        links = [f'<a href="{html.escape(review_link(media))}" target="_blank">Open {len(media)} '
                 f'picture{"s" if len(media) != 1 else ""} in the duplicates &amp; quality review</a>']
        if source == "faces":
            links.append('<a href="../faces" target="_blank">Open the faces dashboard</a>')
        self.links.object = '<div style="font:13px system-ui,sans-serif">' + " · ".join(links) + "</div>"
        self.actions.visible = True

    def _strip_card(self, source: str, row: dict[str, Any]) -> pn.pane.HTML:
        key = (source, row["id"])
        if key not in self._strip_bytes:
            self._strip_bytes[key] = self._picture_bytes(source, row["id"], STRIP_THUMB_PX)[0]
        name = self._point_name(row, source)
        return pn.pane.HTML(picture_html(self._strip_bytes[key], width_px=STRIP_THUMB_PX, title=name),
                            width=STRIP_THUMB_PX, height=STRIP_THUMB_PX + 4, sizing_mode="fixed", margin=2,
                            css_classes=["wb-map-selected"])

    # -- actions -------------------------------------------------------------------------------------------
    def _refresh_albums(self) -> None:
        albums = self.library.albums()
        self.album_name.options = sorted(set(albums["name"])) if not albums.empty else []

    def tag_selection(self, tag: str) -> int:
        """Add ``tag`` by hand to every selected picture; returns how many were tagged."""
        tag = (tag or "").strip()
        if not tag:
            raise ValueError("Type a tag name first.")
        media = self.selected_media()
        if not media:
            raise ValueError("Select some points on the map first (lasso or box).")
        for mid in media:
            self.library.add_tag(mid, tag)
        return len(media)

    def add_selection_to_album(self, album: str) -> tuple[int, bool]:
        """Put the selected pictures in the album named ``album`` (made if no album has that name); returns
        (how many were new to it, whether the album was created)."""
        name = " ".join((album or "").split())
        if not name:
            raise ValueError("Type an album name first (an existing one, or a new one to create).")
        media = self.selected_media()
        if not media:
            raise ValueError("Select some points on the map first (lasso or box).")
        albums = self.library.albums()
        same = albums[albums["name"].str.lower() == name.lower()] if not albums.empty else albums
        created = same.empty
        target = self.library.create_album(name) if created else name
        return self.library.add_to_album(target, media), created

    async def _add_tag(self, event: Any) -> None:
        tag = self.tag_name.value_input or self.tag_name.value
        n = await self.busy.run("Tagging", self.tag_selection, tag)
        self.messages.success(f"Tagged {n} picture{'s' if n != 1 else ''} “{tag.strip()}”.")

    async def _add_to_album(self, event: Any) -> None:
        album = self.album_name.value_input or self.album_name.value
        n, created = await self.busy.run("Adding to the album", self.add_selection_to_album, album)
        self._refresh_albums()
        made = "new album" if created else "album"
        self.messages.success(f"Added {n} picture{'s' if n != 1 else ''} to the {made} “{album.strip()}”"
                              + (" (the others were already in it)." if n < len(self.selected_media()) else "."))
