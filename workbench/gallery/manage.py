"""Managing one's photos from the gallery: favourites, the trash, zip downloads, arranging an album, and (for
curators and admins) naming and merging people.

Every button here only asks the visitor's view (``UserView`` / ``AlbumView``); the view decides. Buttons a user
cannot use are hidden as a courtesy, never as the protection: a viewer whose page still showed "Merge" would get
the access layer's refusal as a message.

A zip download is a small form in the page that posts a ticket the kernel signed for this visitor
(``links.sign_zip``) to the server's zip handler, into a hidden frame, so the page stays where it is while the
browser saves the file. The ticket is signed afresh whenever the selection changes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import ipywidgets as W

from workbench.gallery import links
from workbench.gallery.grid import Grid
from workbench.gallery.ui import Message, button, classes, esc, person_label, plural

if TYPE_CHECKING:
    from workbench.gallery.shell import Shell

#: The hidden frame zip downloads are posted into (one per page).
DOWNLOAD_FRAME = "wb-download-frame"


# -- zip downloads --------------------------------------------------------------------------------------------
def download_form(app: Any, label: str, *, media_ids: list[str] | None = None, album_id: str = "",
                  name: str = "photos", ttl_s: float = links.DEFAULT_LINK_TTL_S) -> str:
    """HTML of a button that downloads these media (or this album) as one zip; "" outside ``workbench gallery``
    (no signing secret) or with nothing to download."""
    secret = links.kernel_secret()
    if not secret or not app.xsrf or not (media_ids or album_id):
        return ""
    ticket = links.sign_zip(secret, media_ids=media_ids, album_id=album_id, name=name, ttl_s=ttl_s,
                            actor=links.kernel_actor())
    return (f"<form method='post' action='{esc(links.zip_url(app.base_url))}' target='{DOWNLOAD_FRAME}' "
            f"class='wb-zip-form'><input type='hidden' name='_xsrf' value='{esc(app.xsrf)}'>"
            f"<input type='hidden' name='ticket' value='{esc(ticket)}'>"
            f"<button type='submit' class='jupyter-button wb-zip'>{esc(label)}</button></form>"
            f"<iframe name='{DOWNLOAD_FRAME}' class='wb-hidden' style='display:none' title='downloads'></iframe>")


# -- album arrangement ----------------------------------------------------------------------------------------
def moved(order: list[str], selected: list[str], where: str) -> list[str]:
    """``order`` with the ``selected`` ids moved: to the "start", to the "end", one place "earlier" or "later"
    (as a block, keeping their own order)."""
    chosen = [m for m in order if m in set(selected)]
    rest = [m for m in order if m not in set(selected)]
    if not chosen:
        return list(order)
    if where == "start":
        return chosen + rest
    if where == "end":
        return rest + chosen
    first = order.index(chosen[0])
    before = sum(1 for m in order[:first] if m not in set(selected))   # unselected items ahead of the block
    at = max(0, before - 1) if where == "earlier" else min(len(rest), before + 1)
    return rest[:at] + chosen + rest[at:]


# -- the selection bar of the timeline ------------------------------------------------------------------------
class SelectionTools(W.HBox):
    """Favourite, trash and download buttons for the media ticked in a grid."""

    def __init__(self, shell: "Shell", grid: Grid, after_change: Callable[[], None]):
        self.shell = shell
        self.grid = grid
        self.after_change = after_change
        self.favourite = button("☆ Favourite", lambda: shell.run(lambda: self.mark(True)), css=("wb-favourite-sel",))
        self.trash = button("Move to trash", lambda: shell.run(self.to_trash), css=("wb-trash-sel",),
                            tooltip="Only your own photos; restore them from the Trash page")
        self.all = button("Select all", lambda: shell.run(grid.select_all), css=("wb-select-all",),
                          tooltip="Select the whole result, also what is not loaded yet")
        self.download = W.HTML("")
        for b in (self.all, self.favourite, self.trash):
            b.layout.width, b.layout.flex = "auto", "0 0 auto"     # the whole label, also on a phone
        super().__init__([self.all, self.favourite, self.trash, self.download],
                         layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.add_class("wb-selection-tools")

    def update(self, ids: list[str]) -> None:
        self.download.value = download_form(self.shell.app, f"Download {plural(len(ids), 'item')} (zip)",
                                            media_ids=ids, name="photos") if ids else ""

    def mark(self, on: bool) -> None:
        ids = list(self.grid.selected)
        n = self.shell.view.set_favourite(ids, on)
        self.shell.message.ok(f"{plural(n, 'item')} added to your favourites." if on else
                              f"{plural(n, 'item')} taken out of your favourites.")
        self.grid.clear_selection()
        self.after_change()

    def to_trash(self) -> None:
        ids = list(self.grid.selected)
        n = self.shell.view.trash(ids)
        self.shell.message.ok(f"Moved {plural(n, 'item')} to the trash. Restore them from the Trash page.")
        self.grid.clear_selection()
        self.after_change()


# -- favourites and trash pages -------------------------------------------------------------------------------
class FavouritesPage(W.VBox):
    """The media this user marked: the timeline filtered to favourites."""

    def __init__(self, shell: "Shell"):
        self.shell = shell
        self.title = W.HTML("")
        self.grid = Grid(shell.thumbnails, lambda i: shell.open_viewer(self.grid.ids, i), on_selection=self._selection)
        self.unmark = button("Remove from favourites", lambda: shell.run(lambda: self.tools.mark(False)),
                             css=("wb-unfavourite-sel",))
        self.tools = SelectionTools(shell, self.grid, self.enter)
        self.tools.favourite.layout.display = "none"
        self.bar = classes(W.HBox([self.unmark, self.tools]), "wb-actionbar")
        self.bar.layout.display = "none"
        super().__init__([self.title, self.bar, self.grid])
        self.add_class("wb-favourites")

    def enter(self) -> None:
        rows = self.shell.view.media(favourites=True, sort="date", desc=True)
        self.title.value = (f"<div class='wb-title'>Favourites</div><div class='wb-sub'>"
                            f"{esc(plural(len(rows), 'item'))} you marked with ☆</div>")
        self.grid.selected.clear()
        self.grid.show(rows, empty_text="No favourites yet: open a photo and click ☆, or select some and mark them.")
        self._selection([])

    def _selection(self, ids: list[str]) -> None:
        self.bar.layout.display = "" if ids else "none"
        self.tools.update(ids)


class TrashPage(W.VBox):
    """This user's media in the trash (an admin's: everyone's), newest first, with Restore."""

    def __init__(self, shell: "Shell"):
        self.shell = shell
        self.title = W.HTML("")
        self.grid = Grid(lambda ids: shell.view.trash_thumbnails(ids), self._open, on_selection=self._selection)
        self.restore = button("Restore", lambda: shell.run(self.restore_selected), css=("wb-restore",),
                              style="primary")
        self.bar = classes(W.HBox([self.restore]), "wb-actionbar")
        self.bar.layout.display = "none"
        super().__init__([self.title, self.bar, self.grid])
        self.add_class("wb-trash-page")

    def enter(self) -> None:
        rows = self.shell.view.trashed()
        self.title.value = (f"<div class='wb-title'>Trash</div><div class='wb-sub'>"
                            f"{esc(plural(len(rows), 'item'))} hidden from everyone until restored; an admin's "
                            f"<code>workbench trash empty</code> deletes them for good.</div>")
        self.grid.selected.clear()
        self.grid.show(rows, empty_text="The trash is empty.", timeline=False)
        self._selection([])

    def _open(self, index: int) -> None:
        self.shell.message.info("Restore it to open it: select it and click Restore.")

    def _selection(self, ids: list[str]) -> None:
        self.bar.layout.display = "" if ids else "none"
        self.restore.description = f"Restore {plural(len(ids), 'item')}"

    def restore_selected(self) -> None:
        n = self.shell.view.restore(list(self.grid.selected))
        self.shell.message.ok(f"Restored {plural(n, 'item')}: back in the timeline and their albums.")
        self.enter()


# -- the viewer's buttons -------------------------------------------------------------------------------------
def viewer_actions(viewer: Any, mid: str) -> W.Widget | None:
    """☆ / ★ and "Move to trash" for the media the viewer shows (a signed-in visitor only; a share link has
    neither). Trashing moves on to the next media."""
    view = viewer.view
    if not hasattr(view, "set_favourite"):
        return None
    on = view.is_favourite(mid)
    fav = button("★ Favourite" if on else "☆ Favourite", lambda: viewer._run(lambda: toggle()),
                 css=("wb-favourite", *(("mod-on",) if on else ())),
                 tooltip="Take out of your favourites" if on else "Add to your favourites")
    trash = button("Move to trash", lambda: viewer._run(lambda: to_trash()), css=("wb-trash",),
                   tooltip="Restore it from the Trash page")
    trash.layout.display = "" if view.may_trash(mid) else "none"     # only one's own (an admin: any)

    def toggle() -> None:
        now = not view.is_favourite(mid)
        view.set_favourite(mid, now)
        fav.description = "★ Favourite" if now else "☆ Favourite"
        (fav.add_class if now else fav.remove_class)("mod-on")
        if viewer.on_change:
            viewer.on_change()

    def to_trash() -> None:
        view.trash([mid])
        viewer.ids.pop(viewer.index)
        if viewer.on_change:
            viewer.on_change()
        if not viewer.ids:
            viewer.hide()
            return
        viewer.index = min(viewer.index, len(viewer.ids) - 1)
        viewer.step(0)

    for b in (fav, trash):
        b.layout.width, b.layout.flex = "auto", "0 0 auto"
    return classes(W.HBox([fav, trash]), "wb-row", "wb-viewer-actions")


# -- people (curators and admins) -----------------------------------------------------------------------------
class PeopleTools(W.VBox):
    """Name a person, or merge two into one: shown to curators and admins; the view refuses anyone else."""

    def __init__(self, shell: "Shell", after_change: Callable[[], None]):
        self.shell = shell
        self.after_change = after_change
        self.message = Message()
        self.person = classes(W.Dropdown(options=[], layout=W.Layout(width="220px")), "wb-name-person")
        self.name = classes(W.Text(placeholder="Name", layout=W.Layout(width="200px")), "wb-person-name")
        self.save = button("Save name", lambda: shell.run(self.save_name, self.message), css=("wb-save-name",),
                           style="primary")
        self.keep = classes(W.Dropdown(options=[], layout=W.Layout(width="220px")), "wb-merge-keep")
        self.other = classes(W.Dropdown(options=[], layout=W.Layout(width="220px")), "wb-merge-other")
        self.merge = button("Merge", lambda: shell.run(self.merge_now, self.message), css=("wb-merge",),
                            tooltip="The second person's faces become the first person's")
        super().__init__([
            W.HTML("<b>Name and merge people</b><div class='wb-sub'>A name is the library's, seen by everyone who "
                   "sees that person. Merging says two people are one: the second one's faces join the first.</div>"),
            classes(W.HBox([self.person, self.name, self.save]), "wb-row"),
            classes(W.HBox([self.keep, W.HTML("<span class='wb-sub'>is the same person as</span>"), self.other,
                            self.merge]), "wb-row"),
            self.message])
        self.add_class("wb-panel")
        self.add_class("wb-people-tools")

    def set_people(self, people: Any) -> None:
        options = [(person_label(r), r["person_id"]) for r in people.to_dict("records")]
        for dd in (self.person, self.keep, self.other):
            dd.options = options
        if len(options) > 1:
            self.other.value = options[1][1]

    def save_name(self) -> None:
        name = self.name.value.strip() or None
        self.shell.view.name_person(self.person.value, name)
        self.name.value = ""
        self.after_change()
        self.message.ok(f"Named {name}." if name else "Name cleared.")

    def merge_now(self) -> None:
        keep, other = self.keep.value, self.other.value
        labels = dict((v, k) for k, v in self.keep.options)
        self.shell.view.merge_people(keep, other)
        self.after_change()
        self.message.ok(f"Merged {labels.get(other, 'them')} into {labels.get(keep, 'one person')}.")
