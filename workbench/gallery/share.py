"""The share-link page: ``/?share=TOKEN`` shows that one album, read-only, without an account; a link whose owner
turned uploads on (``Library.set_share_uploads``) also links to ``/upload?share=TOKEN``, the upload page for it.

The gallery server checks the link (and asks for its password, on a page of its own) before this kernel starts;
the album view checks it again on every click, so revoking a link closes pages that are already open. A link
that stops working gets the denial page, which says no more than the library's message (nothing about whether an
album exists).
"""
from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from workbench.gallery.grid import Grid
from workbench.gallery.ui import Message, classes, esc, plural, when

if TYPE_CHECKING:
    from workbench.gallery.app import Gallery

SORTS = {"Newest first": True, "Oldest first": False}


def _brand(extra: str = "") -> W.HTML:
    return W.HTML(f"<div class='wb-brand'>▣ Workbench</div>{extra}")


def denied_page(reason: str) -> W.Widget:
    """A clear refusal: the link does not work (the reason is the library's own, safe to show)."""
    text = reason.strip()
    text = (text[:1].upper() + text[1:]) if text else "This link does not work."
    body = classes(W.Box([W.HTML(f"<div class='wb-denied'><div class='wb-denied-icon'>⊘</div>"
                                 f"<div class='wb-title'>This link does not work</div>"
                                 f"<div class='wb-sub wb-denied-reason'>{esc(text)}</div>"
                                 f"<div class='wb-sub'>Share links can expire or be revoked by the album's owner. "
                                 f"Ask whoever sent it for a new one.</div></div>")]), "wb-center")
    page = W.VBox([classes(W.HBox([_brand()]), "wb-header"), body], layout=W.Layout(display="contents"))
    page.add_class("wb-denied-page")
    return page


class SharePage(W.VBox):
    def __init__(self, app: "Gallery", view: Any):
        self.app = app
        self.view = view
        self.message = Message()
        self.header = classes(W.HBox([_brand()]), "wb-header")
        self.main = classes(W.VBox([]), "wb-main")
        super().__init__([self.header, self.main], layout=W.Layout(display="contents"))
        self.add_class("wb-share-page")

    # -- the album ------------------------------------------------------------------------------------------
    def show_album(self) -> None:
        info = self.view.info()
        self.header.children = [_brand(), classes(W.HTML(f"Shared album · {esc(info['name'])}"), "wb-user")]
        self.sort = W.Dropdown(options=list(SORTS), value="Newest first", layout=W.Layout(width="160px"))
        self.sort.observe(lambda _c: self.app.run(self.reload, self.message), "value")
        self.grid = Grid(lambda ids: self.app.thumbnails(self.view, ids), self._open, selectable=False)
        self.title = W.HTML("")
        self.download = W.HTML("")
        self.upload = W.HTML("")
        self.main.children = [self.message, classes(W.HBox([self.title, self.sort, self.upload, self.download]),
                                                    "wb-row"), self.grid]
        self.reload()

    def reload(self) -> None:
        info = self.view.info()
        rows = self.view.media(sort="date", desc=SORTS[self.sort.value])
        self.title.value = (f"<div class='wb-title wb-share-title'>{esc(info['name'])}</div><div class='wb-sub'>"
                            f"{esc(plural(len(rows), 'item'))} shared by {esc(info['owner'])} · "
                            f"link {esc(when(info.get('expires_at')))}</div>")
        self.grid.show(rows, empty_text="This album is empty.")
        from workbench.gallery.manage import download_form
        # A link's zip holds the album as it is when downloaded (the zip handler asks the link's view again).
        self.download.value = download_form(self.app, "Download album (zip)", album_id="shared",
                                            name=str(info["name"])) if len(rows) else ""
        self.upload.value = self.upload_link()

    def upload_link(self) -> str:
        """HTML of a link to this share link's upload page when its owner lets visitors upload (asked again at
        every reload, so turning uploads off removes it); "" otherwise, or when the page's address, which holds
        the token (only its hash is stored), is unknown."""
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(self.app.page_url or "").query).get("share", [""])[0]
        if not token or not self.view.accepts_uploads:
            return ""
        href = f"{self.app.base_url.rstrip('/')}/upload?" + urllib.parse.urlencode({"share": token})
        return f"<a class='jupyter-button wb-share-upload' href='{esc(href)}'>Upload to this album</a>"

    def _open(self, index: int) -> None:
        self.app.open_viewer(self.view, self.grid.ids, index)
