"""The albums section: the albums a user can see, a new album, and one album's page with its media, its members
and its share links (create with an optional expiry and password, revoke)."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from workbench.gallery.grid import Grid
from workbench.gallery.manage import download_form, moved
from workbench.gallery.ui import Message, card, classes, esc, human_date, plural, when

if TYPE_CHECKING:
    from workbench.gallery.shell import Shell

#: Expiry choices for a new share link.
EXPIRIES: dict[str, timedelta | None] = {"Never expires": None, "Expires in 1 day": timedelta(days=1),
                                         "Expires in 7 days": timedelta(days=7),
                                         "Expires in 30 days": timedelta(days=30)}
ACCESS_LABEL = {"manage": "you manage it", "contribute": "you can add to it", "view": "shared with you"}


class AlbumsPage(W.VBox):
    def __init__(self, shell: "Shell"):
        self.shell = shell
        self.album_id: str | None = None
        self.title = W.HTML("")
        self.new_name = W.Text(placeholder="New album name", layout=W.Layout(width="260px"))
        self.new_name.add_class("wb-new-album-name")
        self.create = classes(W.Button(description="Create album", button_style="primary"), "wb-create-album",
                              "wb-submit")
        self.create.on_click(lambda _b: shell.run(self.create_album))
        self.creator = classes(W.HBox([self.new_name, self.create]), "wb-row", "wb-form")
        self.cards = classes(W.Box([]), "wb-cards")
        self.listing = W.VBox([self.creator, self.cards])
        self.detail = AlbumDetail(self)
        super().__init__([self.title, self.listing, self.detail])
        self.add_class("wb-albums")

    def enter(self, album: str | None = None) -> None:
        if album:
            self.open_album(album)
        else:
            self.show_list()

    def show_list(self) -> None:
        self.album_id = None
        self.detail.layout.display = "none"
        self.listing.layout.display = ""
        albums = self.shell.view.albums()
        self.title.value = (f"<div class='wb-title'>Albums</div><div class='wb-sub'>"
                            f"{esc(plural(len(albums), 'album'))}</div>")
        if not len(albums):
            self.cards.children = [W.HTML("<div class='wb-empty'>No albums yet: name one above, then select photos "
                                          "and add them to it.</div>")]
            return
        covers: dict[str, str] = {}
        for r in albums.to_dict("records"):
            if int(r["items"]):
                cover = self.shell.view.album_cover(r["id"])    # the chosen one, else the first in its order
                if cover:
                    covers[r["id"]] = cover
        pics = self.shell.thumbnails(list(covers.values()))
        self.cards.children = [
            card(pics.get(covers.get(r["id"], "")), str(r["name"]),
                 f"{plural(int(r['items']), 'item')} · {ACCESS_LABEL.get(r['access'], r['access'])}",
                 lambda a=r["id"]: self.shell.run(lambda: self.open_album(a)), tooltip=f"Open {r['name']}")
            for r in albums.to_dict("records")]

    def create_album(self) -> None:
        name = self.new_name.value.strip()
        if not name:
            self.shell.message.error("Give the new album a name.")
            return
        album_id = self.shell.view.create_album(name)
        self.new_name.value = ""
        self.shell.message.ok(f"Album “{name}” created. Select photos on the Photos page and add them to it.")
        self.open_album(album_id)

    def open_album(self, album: str) -> None:
        self.album_id = album
        self.title.value = ""
        self.listing.layout.display = "none"
        self.detail.layout.display = ""
        self.detail.show(album)


class AlbumDetail(W.VBox):
    """One album: its media (a grid), and for its managers its share links and members."""

    def __init__(self, page: AlbumsPage):
        self.page = page
        shell = page.shell
        self.shell = shell
        self.album: dict[str, Any] = {}
        self.back = classes(W.Button(description="← All albums"), "wb-back")
        self.back.on_click(lambda _b: shell.run(page.show_list))
        self.heading = W.HTML("")
        self.grid = Grid(shell.thumbnails, self._open, on_selection=self._selection)
        self.remove = classes(W.Button(description="Remove from album"), "wb-remove-from-album")
        self.remove.on_click(lambda _b: shell.run(self.remove_selected))
        # arranging (the album's managers): move the selection, or make one photo the cover
        self.moves = {where: classes(W.Button(description=label, tooltip=tip), f"wb-move-{where}")
                      for where, label, tip in (("start", "⇤", "Move to the start"), ("earlier", "←", "Move earlier"),
                                                ("later", "→", "Move later"), ("end", "⇥", "Move to the end"))}
        for where, b in self.moves.items():
            b.on_click(lambda _b, where=where: shell.run(lambda: self.move_selected(where)))
        self.cover = classes(W.Button(description="Set as cover"), "wb-set-cover")
        self.cover.on_click(lambda _b: shell.run(self.cover_selected))
        self.arrange = classes(W.HBox([*self.moves.values(), self.cover]), "wb-row", "wb-arrange")
        self.download_selected = W.HTML("")
        self.download_album = W.HTML("")
        self.bar = classes(W.HBox([self.remove, self.arrange, self.download_selected]), "wb-actionbar")
        self.bar.layout.display = "none"
        # share links
        self.expiry = W.Dropdown(options=list(EXPIRIES), value="Never expires", layout=W.Layout(width="180px"))
        self.expiry.add_class("wb-share-expiry")
        self.share_password = W.Password(placeholder="Password (optional)", layout=W.Layout(width="200px"))
        self.share_password.add_class("wb-share-password")
        self.make_link = classes(W.Button(description="Create share link", button_style="primary"),
                                 "wb-create-share")
        self.make_link.on_click(lambda _b: shell.run(self.create_share, self.share_message))
        self.share_message = Message()
        self.new_link = W.HTML("")
        self.links = W.VBox([])
        self.share_panel = classes(W.VBox([
            W.HTML("<b>Share with a link</b><div class='wb-sub'>Anyone with the link sees this album only, without "
                   "an account. Links can expire, need a password, and be revoked.</div>"),
            classes(W.HBox([self.expiry, self.share_password, self.make_link]), "wb-row"),
            self.share_message, self.new_link, self.links]), "wb-panel", "wb-share-panel")
        # members
        self.member = W.Text(placeholder="User name", layout=W.Layout(width="180px"))
        self.member_role = W.Dropdown(options=[("can view", "viewer"), ("can add", "contributor")],
                                      layout=W.Layout(width="130px"))
        self.add_member = classes(W.Button(description="Add member"), "wb-add-member")
        self.add_member.on_click(lambda _b: shell.run(self.add_member_now, self.share_message))
        self.members = W.HTML("")
        self.member_panel = classes(W.VBox([
            W.HTML("<b>Members</b><div class='wb-sub'>People with an account who see this album.</div>"),
            classes(W.HBox([self.member, self.member_role, self.add_member]), "wb-row"), self.members]),
            "wb-panel")
        super().__init__([self.back, self.heading, self.download_album, self.bar, self.share_panel, self.member_panel,
                          self.grid])
        self.add_class("wb-album")

    def _call(self, fn):
        return lambda: self.shell.run(fn, self.share_message)

    def show(self, album: str) -> None:
        view = self.shell.view
        albums = view.albums()
        match = albums[(albums["id"] == album) | (albums["name"] == album)] if len(albums) else albums
        if not len(match):
            self.shell.message.error("That album does not exist, or you cannot see it.")
            self.page.show_list()
            return
        self.album = match.iloc[0].to_dict()
        manage = self.album["access"] == "manage"
        rows = view.album_media(self.album["id"], sort="album")    # as its managers arranged it, else newest first
        owner = "" if self.album["owner"] == self.shell.user["name"] else f" · by {self.album['owner']}"
        self.heading.value = (f"<div class='wb-title'>{esc(self.album['name'])}</div><div class='wb-sub'>"
                              f"{esc(plural(len(rows), 'item'))}{esc(owner)} · "
                              f"{esc(ACCESS_LABEL.get(self.album['access'], ''))}</div>")
        self.grid.selectable = True     # any visitor may select to download; the bar shows what else they may do
        self.grid.selected.clear()
        self.grid.show(rows, empty_text="This album is empty: select photos on the Photos page and add them here.",
                       timeline=False)
        self.download_album.value = download_form(self.shell.app, "Download album (zip)", album_id=self.album["id"],
                                                  name=str(self.album["name"])) if len(rows) else ""
        self.share_panel.layout.display = "" if manage else "none"
        self.member_panel.layout.display = "" if manage else "none"
        self.new_link.value = ""
        self.share_message.clear()
        self.bar.layout.display = "none"
        if manage:
            self.show_links()
            self.show_members()

    # -- media ----------------------------------------------------------------------------------------------
    def _open(self, index: int) -> None:
        self.shell.open_viewer(self.grid.ids, index)

    def _selection(self, ids: list[str]) -> None:
        self.bar.layout.display = "" if ids else "none"
        self.remove.description = f"Remove {plural(len(ids), 'item')} from album"
        self.remove.layout.display = "" if self.album.get("access") in ("manage", "contribute") else "none"
        self.arrange.layout.display = "" if self.album.get("access") == "manage" else "none"
        self.cover.disabled = len(ids) != 1
        self.download_selected.value = download_form(self.shell.app, f"Download {plural(len(ids), 'item')} (zip)",
                                                     media_ids=ids, name=str(self.album.get("name") or "photos")
                                                     ) if ids else ""

    def move_selected(self, where: str) -> None:
        """Move the selected media to the start, the end, or one place earlier or later, and keep them selected."""
        selected = list(self.grid.selected)
        order = moved(self.grid.ids, selected, where)
        self.shell.view.arrange_album(self.album["id"], order)
        self.show(self.album["id"])
        self.grid.select(selected)

    def cover_selected(self) -> None:
        ids = list(self.grid.selected)
        if len(ids) != 1:
            return
        self.shell.view.set_album_cover(self.album["id"], ids[0])
        self.shell.message.ok(f"The cover of “{self.album['name']}” is now the selected photo.")
        self.grid.clear_selection()

    def remove_selected(self) -> None:
        ids = list(self.grid.selected)
        n = self.shell.view.remove_from_album(self.album["id"], ids)
        self.shell.message.ok(f"Removed {plural(n, 'item')} from “{self.album['name']}” (they stay in the library).")
        self.show(self.album["id"])

    # -- share links ----------------------------------------------------------------------------------------
    def create_share(self) -> None:
        password = self.share_password.value or None
        self.share_password.value = ""
        token = self.shell.view.share_album(self.album["id"], expires=EXPIRIES[self.expiry.value], password=password)
        url = self.shell.app.share_url(token)
        self.new_link.value = (f"<div class='wb-sub'>New link — copy it now, it is shown only once"
                               f"{' (it needs the password you set)' if password else ''}:</div>"
                               f"<div class='wb-link wb-new-link'>{esc(url)}</div>")
        self.share_message.clear()
        self.show_links()

    def show_links(self) -> None:
        df = self.shell.view.shares(self.album["id"])
        if not len(df):
            self.links.children = [W.HTML("<div class='wb-sub'>No links yet.</div>")]
            return
        out = []
        for r in df.sort_values("created_at", ascending=False).to_dict("records"):
            if r.get("active"):
                state = when(r.get("expires_at"))
            elif r.get("revoked_at") is not None and str(r.get("revoked_at")) not in ("NaT", "None"):
                state = "revoked"
            else:
                state = "expired"
            text = (f"Link {esc(str(r['share_id'])[:8])} · made {esc(human_date(r.get('created_at')))} · "
                    f"{esc(state)}{' · password' if r.get('has_password') else ''}")
            row: list[W.Widget] = [W.HTML(text)]
            if r.get("active"):
                b = classes(W.Button(description="Revoke", button_style="danger"), "wb-revoke")
                b.on_click(lambda _b, s=r["share_id"]: self.shell.run(lambda: self.revoke(s), self.share_message))
                row.append(b)
            out.append(classes(W.HBox(row), "wb-row"))
        self.links.children = out

    def revoke(self, share_id: str) -> None:
        self.shell.view.revoke_share(share_id)
        self.share_message.ok("Link revoked: it stops working at once, also in pages already open.")
        self.new_link.value = ""
        self.show_links()

    # -- members --------------------------------------------------------------------------------------------
    def show_members(self) -> None:
        df = self.shell.view.album_members(self.album["id"])
        self.members.value = ("<div class='wb-sub'>No members yet.</div>" if not len(df) else
                              "".join(f"<span class='wb-chip' style='background:#eef1f5;color:#1d2330'>"
                                      f"{esc(r['user'])} · {esc(r['role'])}</span>" for r in df.to_dict("records")))

    def add_member_now(self) -> None:
        user = self.member.value.strip()
        if not user:
            return
        self.shell.view.add_member(self.album["id"], user, self.member_role.value)
        self.member.value = ""
        self.share_message.ok(f"{user} can now see this album.")
        self.show_members()
