"""The signed-in gallery: a header (sections, search box, user, sign out), the filter sidebar and one section
in the main area (photos, people, places, albums)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from workbench.errors import AuthError
from workbench.gallery.filters import Sidebar
from workbench.gallery.ui import Message, classes, esc, person_label

if TYPE_CHECKING:
    from workbench.gallery.app import Gallery

SECTIONS = ("Photos", "People", "Places", "Albums", "Favourites", "Trash")


class Pages(dict):
    """The sections' pages, each built the first time it is asked for: a page is dozens of widgets, and every
    widget is a message from the kernel through the server to the browser before the first screen is ready
    (People, Places, Albums, Favourites and Trash built up front were 219 of 709; docs/benchmarks.md, gallery
    load)."""

    def __init__(self, factories: dict[str, Any], shell: "Shell"):
        super().__init__()
        self._factories = factories
        self._shell = shell

    def __missing__(self, section: str) -> Any:
        page = self[section] = self._factories[section](self._shell)
        return page

    def get(self, section: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[section] if section in self._factories else default


class Shell(W.VBox):
    """Everything a signed-in person sees; ``view`` is their ``UserView``."""

    def __init__(self, app: "Gallery", view: Any):
        from workbench.gallery.albums import AlbumsPage
        from workbench.gallery.manage import FavouritesPage, TrashPage
        from workbench.gallery.people import PeoplePage
        from workbench.gallery.photos import PhotosPage
        from workbench.gallery.places import PlacesPage
        self.app = app
        self.view = view
        self.message = Message()
        me = view.whoami()
        self.user = me
        self.search = W.Text(placeholder="Search photos and videos…", continuous_update=False)
        self.search.add_class("wb-search")
        self._quiet_search = False
        self.search.observe(lambda _c: None if self._quiet_search else self.run(self.on_search), "value")
        self.nav = {s: classes(W.Button(description=s), f"wb-nav-{s.lower()}") for s in SECTIONS}
        for s, b in self.nav.items():
            b.on_click(lambda _b, s=s: self.run(lambda: self.goto(s)))
        self.logout = app.sign_out_form()    # a form posting to the server: the session and this kernel end
        # On a phone or tablet (style.py) the menu (sections, user, sign out) folds behind the ☰ button and the
        # sidebar becomes a drawer behind "Filters"; both open and close in the browser (the page script).
        self.nav_box = classes(W.HBox(list(self.nav.values())), "wb-nav")
        self.menu = classes(W.HBox([
            self.nav_box,
            classes(W.HTML(f"{esc(me['name'])} <span style='opacity:.6'>· {esc(me['role'])}</span>"), "wb-user"),
            self.logout]), "wb-menu")
        self.filters_button = classes(W.HTML("<button type='button' class='wb-filters-btn'>Filters</button>"),
                                      "wb-filters-toggle")
        header = classes(W.HBox([
            classes(W.HTML("<button type='button' class='wb-menu-btn' aria-label='Menu' title='Menu'>☰</button>"),
                    "wb-menu-toggle"),
            W.HTML("<div class='wb-brand'>▣ Workbench</div>"),
            self.menu, self.search, self.filters_button]), "wb-header")
        self.sidebar = Sidebar(lambda: self.run(self.on_filters))
        self.sidebar.children = (*self.sidebar.children, classes(
            W.HTML("<button type='button' class='wb-drawer-done'>Show photos</button>"), "wb-drawer-close"))
        self.main = classes(W.VBox([]), "wb-main")
        self.pages = Pages({"Photos": PhotosPage, "People": PeoplePage, "Places": PlacesPage, "Albums": AlbumsPage,
                            "Favourites": FavouritesPage, "Trash": TrashPage}, self)
        app.viewer.on_change = lambda: self.run(self.refresh)   # a favourite or trash click in the viewer
        body = classes(W.HBox([self.sidebar, classes(W.HTML(""), "wb-backdrop"), self.main]), "wb-body")
        super().__init__([header, body], layout=W.Layout(display="contents"))
        self.section = ""
        self.refresh_choices()
        self.goto("Photos")

    # -- helpers for the sections ----------------------------------------------------------------------------
    def run(self, fn, message: Message | None = None) -> Any:
        """Run an action; errors go to ``message`` (default: the section's message line)."""
        return self.app.run(fn, message or self.message)

    def thumbnails(self, ids: list[str], which: str = "thumb") -> dict[str, bytes | None]:
        return self.app.thumbnails(self.view, ids, which)

    def open_viewer(self, ids: list[str], index: int) -> None:
        self.app.open_viewer(self.view, ids, index)

    def refresh_choices(self) -> None:
        """Fill the sidebar's dropdowns from what this user can see (tags and people may not exist yet)."""
        media = self.view.media()
        try:
            tags = sorted(set(self.view.tags()["tag"]))
        except AuthError:
            raise
        except Exception:   # no tagging stage yet
            tags = []
        people = self.people_labels()
        self.sidebar.set_choices(media, tags, people)

    def people_labels(self) -> dict[str, str]:
        """Dropdown label -> person id, for the people this user can see."""
        try:
            df = self.view.people()
        except AuthError:
            raise
        except Exception:   # no face stage yet
            return {}
        return {person_label(r): r["person_id"] for r in df.to_dict("records")}

    # -- navigation -----------------------------------------------------------------------------------------
    def goto(self, section: str, **kwargs: Any) -> None:
        self.message.clear()
        for s, b in self.nav.items():
            (b.add_class if s == section else b.remove_class)("mod-active")
        page = self.pages[section]
        self.section = section
        self.sidebar.layout.display = "" if section == "Photos" else "none"
        self.filters_button.layout.display = "" if section == "Photos" else "none"
        self.main.children = [self.message, page]
        page.enter(**kwargs)

    def refresh(self) -> None:
        """Show the current section again after something in it changed (an album stays open)."""
        page = self.pages.get(self.section)
        if page is None:
            return
        album = getattr(page, "album_id", None)
        page.enter(album) if album else page.enter()

    def on_search(self) -> None:
        if self.section != "Photos":
            self.goto("Photos")
        else:
            self.pages["Photos"].reload()

    def on_filters(self) -> None:
        if self.section == "Photos":
            self.pages["Photos"].reload()

    def filter_by(self, *, person: str | None = None, place: str | None = None) -> None:
        """Show photos of one person or place (from the people and places pages)."""
        self.sidebar._quiet = True
        try:
            if person is not None:
                self.sidebar.set_person(person)
            if place is not None:
                self.sidebar.set_place(place)
        finally:
            self.sidebar._quiet = False
        self._quiet_search = True
        try:
            self.search.value = ""
        finally:
            self._quiet_search = False
        self.goto("Photos")
