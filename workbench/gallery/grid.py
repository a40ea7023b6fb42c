"""The timeline grid: thumbnails of a result list, shown a chunk at a time.

A result can be tens of thousands of media; the grid holds only their rows (a DataFrame) and turns the first
``chunk_size`` into tiles, then the next chunk when "Load more" is clicked (the page script clicks it when it
scrolls into view, which makes it an infinite scroll). Tiles are pooled: a new search reuses the widgets of the
last one, so the browser is not asked to create hundreds of widgets per click. A tile knows its position in the
result only on the Python side; the browser sends "tile 12 clicked", never a media id.
"""
from __future__ import annotations

from pathlib import PurePath
from typing import Callable

import ipywidgets as W
import pandas as pd
from ipywidgets.widgets.widget_bool import ToggleButtonStyle

from workbench.gallery.ui import classes, esc, human_duration, month_label, plural

#: Tiles added per "load more": about two screens of 184 px tiles on a laptop.
DEFAULT_CHUNK_SIZE = 48


def _badge(row: dict) -> str:
    return f"▶ {human_duration(row.get('duration_s'))}".strip() if row.get("kind") == "video" else ""


class _Tile:
    """One pooled tile: thumbnail, a transparent "open" button over it, and a select toggle. A new tile is built
    with its first picture, text and classes, so it reaches the browser as four ``comm_open`` messages and no
    updates (each message passes through the server: docs/benchmarks.md, gallery load)."""

    def __init__(self, grid: "Grid", layout: W.Layout, index: int, row: dict, picture: bytes | None,
                 selected: bool):
        self.index = index
        self.image = W.Image(value=picture or b"", format="webp", layout=layout)
        self.opener = W.Button(description=_badge(row), tooltip=str(row.get("name") or ""), layout=layout,
                               style=grid._button_style, _dom_classes=("wb-open",))
        self.toggle = W.ToggleButton(value=selected, description="✓", tooltip="Select", layout=layout,
                                     style=grid._toggle_style,
                                     _dom_classes=("wb-select", *(() if grid.selectable else ("wb-hidden",))))
        self.box = W.Box([self.image, self.opener, self.toggle], layout=layout,
                         _dom_classes=("wb-tile", *(("wb-selected",) if selected else ())))
        self._quiet = False
        self.opener.on_click(lambda _b: grid._open(self.index))
        self.toggle.observe(self._toggled, "value")
        self._grid = grid

    def _toggled(self, change) -> None:
        if not self._quiet:
            self._grid._select(self.index, bool(change["new"]))

    def show(self, index: int, row: dict, picture: bytes | None, selected: bool) -> None:
        """Show another media in this (reused) tile."""
        self.index = index
        self.image.value = picture or b""
        with self.opener.hold_sync():
            self.opener.description = _badge(row)
            self.opener.tooltip = str(row.get("name") or "")
        self.set_selected(selected)

    def set_selected(self, selected: bool) -> None:
        self._quiet = True
        try:
            self.toggle.value = selected
        finally:
            self._quiet = False
        (self.box.add_class if selected else self.box.remove_class)("wb-selected")


class Grid(W.VBox):
    """Tiles of ``rows`` (a media DataFrame: id, kind, name, taken_at, duration_s), a chunk at a time.

    ``thumbnails(ids)`` gives {media id: WebP bytes or None} for a chunk; ``on_open(index)`` opens the viewer at a position of
    ``rows``; ``on_selection(ids)`` hears about selection changes (when ``selectable``).
    """

    def __init__(self, thumbnails: Callable[[list[str]], dict[str, bytes | None]], on_open: Callable[[int], None], *,
                 on_selection: Callable[[list[str]], None] | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 selectable: bool = True):
        self.thumbnails = thumbnails
        self.on_open = on_open
        self.on_selection = on_selection
        self.chunk_size = chunk_size
        self.selectable = selectable
        self.rows = pd.DataFrame(columns=["id"])
        self.shown = 0
        self.timeline = True
        self.selected: dict[str, None] = {}     # ordered set of media ids
        self._layout = W.Layout()               # one layout model shared by every tile widget
        # and one style model per kind of button (each widget model is a message on the way to a ready page)
        self._button_style = W.ButtonStyle()
        self._toggle_style = ToggleButtonStyle()
        self._tiles: list[_Tile] = []
        self._headings: list[W.HTML] = []
        self._area = classes(W.Box([]), "wb-grid")
        self._empty = W.HTML("")
        self._count = W.HTML("")
        self._more = classes(W.Button(description="Load more"), "wb-more")
        self._more.on_click(lambda _b: self.load_more())
        super().__init__([self._count, self._empty, self._area, self._more])
        self.add_class("wb-grid-wrap")

    # -- data -----------------------------------------------------------------------------------------------
    def show(self, rows: pd.DataFrame, *, empty_text: str = "Nothing here yet.", timeline: bool = True) -> None:
        """Replace the result list and render its first chunk. ``timeline`` adds month headings (date order)."""
        rows = rows.reset_index(drop=True)
        if "name" not in rows.columns:      # search hits carry the path only
            rows = rows.assign(name=[PurePath(str(p)).name for p in rows["path"]] if "path" in rows else "")
        self.rows = rows
        self.timeline = timeline
        self.shown = 0
        self._empty.value = "" if len(rows) else f"<div class='wb-empty'>{esc(empty_text)}</div>"
        self._render(min(self.chunk_size, len(self.rows)))

    def load_more(self) -> None:
        """Render the next chunk (no-op at the end)."""
        if self.shown < len(self.rows):
            self._render(min(self.shown + self.chunk_size, len(self.rows)))

    @property
    def ids(self) -> list[str]:
        return self.rows["id"].tolist() if len(self.rows) else []

    # -- rendering ------------------------------------------------------------------------------------------
    def _render(self, upto: int) -> None:
        records = self.rows.iloc[self.shown:upto].to_dict("records")
        pictures = self.thumbnails([r["id"] for r in records])
        for i, row in enumerate(records, start=self.shown):
            picture, selected = pictures.get(row["id"]), row["id"] in self.selected
            if i < len(self._tiles):
                self._tiles[i].show(i, row, picture, selected)
            else:
                self._tiles.append(_Tile(self, self._layout, i, row, picture, selected))
        self.shown = upto
        self._area.children = self._children()
        n = len(self.rows)
        self._count.value = (f"<div class='wb-sub'>{esc(plural(n, 'item'))}"
                             f"{'' if self.shown >= n else f' · showing {self.shown:,}'}</div>" if n else "")
        self._more.layout.display = "" if self.shown < n else "none"

    def _children(self) -> list[W.Widget]:
        out: list[W.Widget] = []
        label_of = self.rows["taken_at"] if self.timeline and "taken_at" in self.rows else None
        last = None
        h = 0
        for i in range(self.shown):
            if label_of is not None:
                label = month_label(label_of.iloc[i])
                if label != last:
                    if h == len(self._headings):
                        self._headings.append(classes(W.HTML(), "wb-heading"))
                    self._headings[h].value = esc(label)
                    out.append(self._headings[h])
                    h += 1
                    last = label
            out.append(self._tiles[i].box)
        return out

    # -- events ---------------------------------------------------------------------------------------------
    def _open(self, index: int) -> None:
        if 0 <= index < len(self.rows):
            self.on_open(index)

    def _select(self, index: int, on: bool) -> None:
        if not (0 <= index < len(self.rows)) or not self.selectable:
            return
        mid = self.rows["id"].iloc[index]
        if on:
            self.selected[mid] = None
        else:
            self.selected.pop(mid, None)
        self._tiles[index].set_selected(on)
        if self.on_selection:
            self.on_selection(list(self.selected))

    def select(self, ids: list[str]) -> None:
        """Add these media (of the result) to the selection, shown tiles ticked, and tell ``on_selection`` once."""
        if not self.selectable:
            return
        wanted = set(ids)
        for i, mid in enumerate(self.ids):
            if mid in wanted:
                self.selected[mid] = None
                if i < self.shown:
                    self._tiles[i].set_selected(True)
        if self.on_selection:
            self.on_selection(list(self.selected))

    def select_all(self) -> None:
        """Select the whole result, also the tiles not loaded yet (to download, trash or add them at once)."""
        self.select(self.ids)

    def clear_selection(self) -> None:
        self.selected.clear()
        for t in self._tiles[:self.shown]:
            t.set_selected(False)
        if self.on_selection:
            self.on_selection([])

