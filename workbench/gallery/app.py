"""The gallery app: one widget that routes between the login page, the signed-in shell (photos, people,
places, albums) and the share-link page.

Who acts is decided once per page: ``?share=TOKEN`` in the page's address opens that album through
``Library.for_share`` (no account); anything else starts at the login form and, after ``Library.login``, acts
through ``Library.for_session(token)``. Every click runs through :meth:`Gallery.run`: an expired session or a
revoked link sends the person back to the login page or to the denial page with a message; any other error is a
one-line message in the page (the details go to the server's log, never a traceback to the browser).
"""
from __future__ import annotations

import logging
import os
import sys
import urllib.parse
from typing import Any, Callable

import ipywidgets as W

from workbench.errors import AuthError, WorkbenchError
from workbench.gallery import pictures
from workbench.gallery.login import LoginPage
from workbench.gallery.style import page_assets
from workbench.gallery.ui import Message, classes
from workbench.gallery.viewer import Viewer

log = logging.getLogger("workbench.gallery")


def _log_to_stderr() -> None:
    if not log.handlers:
        # The process's own stderr (the server's log); sys.stderr in a kernel would publish to the page.
        h = logging.StreamHandler(sys.__stderr__)
        h.setFormatter(logging.Formatter("[gallery] %(levelname)s %(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)


class Gallery(W.VBox):
    """The whole app. ``Gallery.from_environment()`` is what ``notebooks/gallery.ipynb`` shows."""

    def __init__(self, library: Any, query_string: str = "", *, page_url: str | None = None,
                 full_page: bool | None = None):
        _log_to_stderr()
        self.library = library
        self.page_url = page_url
        self.viewer = Viewer(self.run)
        self.root = classes(W.Box([]), "wb-app")
        if not (full_page if full_page is not None else "VOILA_BASE_URL" in os.environ):
            self.root.add_class("wb-inline")    # inside JupyterLab: a box in the notebook, not the whole window
        self.session_token: str | None = None
        self.page: Any = None
        super().__init__([page_assets(), self.root])
        self.add_class("wb-root")
        params = urllib.parse.parse_qs(query_string or "")
        share = (params.get("share") or [""])[0]
        if share:
            self.show_share(share)
        else:
            self.show_login()

    @classmethod
    def from_environment(cls) -> "Gallery":
        """The library of ``$WORKBENCH_LIBRARY`` and the page request Voilà passes to the kernel. In a pre-started
        kernel (``workbench gallery --preheat``) the library is opened first, then the kernel waits for the
        page request it will serve."""
        from workbench.library import Library
        library = Library.open()
        if os.environ.get("VOILA_PREHEAT") == "True":
            from voila.utils import wait_for_request
            wait_for_request()
        return cls(library, os.environ.get("QUERY_STRING", ""), page_url=request_url())

    # -- routing --------------------------------------------------------------------------------------------
    def _mount(self, page: W.Widget) -> None:
        if self.viewer.is_open:
            self.viewer.hide()
        self.page = page
        self.root.children = [page, self.viewer]

    def show_login(self, message: str = "", level: str = "info") -> None:
        self.session_token = None
        page = LoginPage(self.library.login, self._signed_in)
        if message:
            page.show_message(message, level)
        self._mount(page)

    def _signed_in(self, name: str, token: str) -> None:
        from workbench.gallery.shell import Shell
        self.session_token = token
        log.info("signed in: %s", name)
        self.run(lambda: self._mount(Shell(self, self.library.for_session(token))))

    def sign_out(self) -> None:
        token, self.session_token = self.session_token, None
        if token:
            try:
                self.library.logout(token)
            except WorkbenchError:
                pass
        self.show_login("You have signed out.", "ok")

    def show_share(self, token: str) -> None:
        from workbench.gallery.share import SharePage
        page = SharePage(self, token)
        self._mount(page)
        page.open_link(None)

    def deny(self, reason: str) -> None:
        from workbench.gallery.share import denied_page
        self._mount(denied_page(reason))

    # -- actions --------------------------------------------------------------------------------------------
    def run(self, fn: Callable[[], Any], message: Message | None = None) -> Any:
        """Run one user action: session or link refusals route away, other errors become a message."""
        target = message or getattr(self.page, "message", None)
        try:
            return fn()
        except AuthError as e:
            if self.session_token is not None or isinstance(self.page, LoginPage):
                self.session_token = None
                self.show_login(f"{_sentence(str(e))} Please sign in again.", "error")
            else:
                self.deny(str(e))
        except WorkbenchError as e:
            if target is not None:
                target.error(_sentence(str(e)))
        except Exception:
            log.exception("gallery action failed")
            if target is not None:
                target.error("Something went wrong; the server's log has the details.")
        return None

    def thumbnails(self, view: Any, ids: list[str], which: str = "thumb") -> dict[str, bytes | None]:
        return pictures.many(self.library, view, ids, which)

    def open_viewer(self, view: Any, ids: list[str], index: int) -> None:
        self.run(lambda: self.viewer.show_media(view, ids, index))

    def share_url(self, token: str) -> str:
        """The address of a share link on this server (the page's own address with ``?share=``)."""
        base = self.page_url or "http://localhost:8866/"
        parts = urllib.parse.urlsplit(base)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path or "/",
                                        urllib.parse.urlencode({"share": token}), ""))


def request_url() -> str | None:
    """The address of the page being served, from what Voilà put in the kernel's environment."""
    if os.environ.get("VOILA_REQUEST_URL"):
        return os.environ["VOILA_REQUEST_URL"]
    host, port = os.environ.get("SERVER_NAME"), os.environ.get("SERVER_PORT")
    if not host:
        return None
    return f"http://{host}{':' + port if port else ''}{os.environ.get('SCRIPT_NAME') or '/'}"


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."

