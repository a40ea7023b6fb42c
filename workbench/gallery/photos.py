"""The photos section: the timeline of everything the user can see, filtered by the sidebar or found by the
search box, with a selection bar to put media into an album. The timeline shows new media by itself: every
``gallery_refresh_interval_s`` the page compares a cheap mark of the library (the media table's version and the
thumbnails the background processor has made) with the one it last showed, and reloads when it moved."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from workbench.gallery.grid import Grid
from workbench.gallery.ui import classes, esc, plural

if TYPE_CHECKING:
    from workbench.gallery.shell import Shell

#: At most this many search hits are ranked and shown (search ranks; it does not list everything).
DEFAULT_SEARCH_LIMIT = 500


def empty_library_text(role: str) -> str:
    """What an empty timeline says: everyone can upload from the web; only an admin can also import on the server
    (a viewer cannot run ``workbench import``)."""
    text = "No photos yet. Add yours with Upload (at the top of the page; in the ☰ menu on a phone)."
    if role == "admin":
        text += " On the server, `workbench import --owner NAME FOLDER` adds whole folders."
    return text


class PhotosPage(W.VBox):
    def __init__(self, shell: "Shell", *, search_limit: int = DEFAULT_SEARCH_LIMIT):
        self.shell = shell
        self.search_limit = search_limit
        self.title = W.HTML("")
        self.grid = Grid(shell.thumbnails, self._open, on_selection=self._selection)
        self.count = W.HTML("")
        self.album = W.Dropdown(options=[], layout=W.Layout(width="220px"))
        self.album.add_class("wb-album-choice")
        self.add = classes(W.Button(description="Add to album", button_style="primary"), "wb-add-to-album")
        self.clear = classes(W.Button(description="Clear selection"), "wb-clear-selection")
        self.add.on_click(lambda _b: shell.run(self.add_selected))
        self.clear.on_click(lambda _b: shell.run(self.grid.clear_selection))
        from workbench.gallery.manage import SelectionTools
        self.tools = SelectionTools(shell, self.grid, self.reload)   # favourite, trash, download as zip
        self.bar = classes(W.HBox([self.count, self.album, self.add, self.tools, self.clear]), "wb-actionbar")
        self.bar.layout.display = "none"
        self._semantic: bool | None = None
        self._shown_mark: Any = None
        super().__init__([self.title, self.bar, self.grid])
        self.add_class("wb-photos")
        self.schedule_refresh(float(shell.app.library.settings.gallery_refresh_interval_s))

    # -- new media show up by themselves ----------------------------------------------------------------------
    def library_mark(self) -> Any:
        """What changes when media arrive or get their thumbnails: the media table's version (~0.1 ms to read)
        and the thumbnails the background processor reports done (its status file)."""
        from workbench.serve.status import read_status
        library = self.shell.app.library
        return library.media_version(), (read_status(library.root).get("done") or {}).get("thumbnails")

    def check_for_new_media(self) -> bool:
        """Reload the timeline when the library moved since it was shown, unless the person is busy with it (a
        selection, a search, the viewer open); True when it reloaded."""
        mark = self.library_mark()
        if mark == self._shown_mark:
            return False
        if self.grid.selected or self.shell.search.value or self.shell.app.viewer.is_open:
            return False
        self.reload()
        return True

    def schedule_refresh(self, interval_s: float) -> None:
        """Check for new media every ``interval_s`` on the kernel's event loop (none outside a kernel or a running
        loop, and 0 turns it off); a session that ended stops it (the page is replaced)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if interval_s <= 0:
            return

        def tick() -> None:
            if self.shell.app.view is None or self.shell.app.page is not self.shell:
                return                           # signed out or replaced: stop checking
            if self.shell.section == "Photos":
                self.shell.run(self.check_for_new_media)
            loop.call_later(interval_s, tick)
        loop.call_later(interval_s, tick)

    def enter(self) -> None:
        self.reload()

    def reload(self) -> None:
        view = self.shell.view
        self._shown_mark = self.library_mark()
        q = self.shell.sidebar.query(self.shell.search.value)
        if q.text:
            rows = view.search(q.text, limit=self.search_limit, **q.filters())
            how = ("by meaning and by words" if self.semantic() else
                   "by words in file names, folders, camera, place and the photos themselves"
                   + (" (search by meaning needs CLIP embeddings: run `workbench process`)"
                      if self.shell.user["role"] in ("admin", "curator") else ""))
            self.title.value = (f"<div class='wb-title'>Results for “{esc(q.text)}”</div>"
                                f"<div class='wb-sub'>Best matches first, found {esc(how)}.</div>")
            self.grid.show(rows, empty_text="No matches. Try other words, or clear the filters.", timeline=False)
        else:
            rows = view.media(sort=q.sort, desc=q.desc, **q.filters())
            self.title.value = ("<div class='wb-title'>Photos</div>" if not q.active else
                                "<div class='wb-title'>Photos</div><div class='wb-sub'>Filtered</div>"
                                ) + self.processing_note()
            empty = ("Nothing matches these filters." if q.active else empty_library_text(self.shell.user["role"]))
            self.grid.show(rows, empty_text=empty, timeline=q.sort == "date")
        self._selection(list(self.grid.selected))

    def processing_note(self) -> str:
        """For admins, while media wait: what the background processor (`workbench serve`) is doing, so a photo
        without its thumbnail yet is explained. Nothing for others, or when nothing waits."""
        if self.shell.user["role"] != "admin":
            return ""
        from workbench.serve.status import describe, read_status
        st = read_status(self.shell.app.library.root)
        skipped = st.get("skipped") or {}
        if not st["running"] or not any(v for k, v in st["queue"].items() if k not in skipped):
            return ""
        return f"<div class='wb-sub wb-processing'>{esc(describe(st))}</div>"

    def semantic(self) -> bool:
        """Whether CLIP embeddings exist, so search understands meaning (else it matches words only)."""
        if self._semantic is None:
            st = self.shell.app.library.status()
            self._semantic = bool((st["stage"].str.startswith("embeddings") & (st["done"] > 0)).any())
        return self._semantic

    def _open(self, index: int) -> None:
        self.shell.open_viewer(self.grid.ids, index)

    def _selection(self, ids: list[str]) -> None:
        self.tools.update(ids)
        if not ids:
            self.bar.layout.display = "none"
            return
        albums = self.shell.view.albums()
        usable = albums[albums["access"].isin(["contribute", "manage"])] if len(albums) else albums
        options = [(str(r["name"]), str(r["id"])) for r in usable.to_dict("records")]
        current = self.album.value
        self.album.options = options
        values = [v for _, v in options]
        if values:
            self.album.value = current if current in values else values[0]
        self.count.value = f"<b>{esc(plural(len(ids), 'item'))} selected</b>"
        self.add.disabled = not options
        self.add.tooltip = "" if options else "Create an album on the Albums page first"
        self.bar.layout.display = ""

    def add_selected(self) -> None:
        ids = list(self.grid.selected)
        if not ids or not self.album.value:
            return
        n = self.shell.view.add_to_album(self.album.value, ids)
        label = dict((v, k) for k, v in self.album.options).get(self.album.value, "the album")
        self.shell.message.ok(f"Added {plural(n, 'item')} to “{label}”"
                              + (f" ({len(ids) - n} were already in it)." if n < len(ids) else "."))
        self.grid.clear_selection()
