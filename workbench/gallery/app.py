"""The gallery app: one widget that shows what the server signed this visitor in to: the signed-in shell
(photos, people, places, albums) or one shared album.

The kernel never signs anyone in and never reads a token from the browser: the gallery server checked the
visitor's cookie before it started this kernel and told it, in its environment, whom it acts for
(``session:<sha256>`` or ``share:<share id>``, see ``workbench/gallery/identity.py``). ``Library.for_actor``
turns that into the view every click goes through. Every click runs through :meth:`Gallery.run`: an ended
session or a revoked link replaces the page with a message and a way back (sign in again, or ask for a new
link); any other error is a one-line message in the page (the details go to the server's log, never a traceback
to the browser). Signing out is a form that posts to the server's ``/logout``, which ends the session and shuts
this kernel down with everything it showed.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import urllib.parse
from html import escape
from typing import Any, Callable

import ipywidgets as W

from workbench.errors import AuthError, WorkbenchError, as_sentence
from workbench.gallery import links, pictures
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
    """The whole app for one visitor. ``view`` is a ``UserView`` (a signed-in person) or an ``AlbumView`` (a share
    link); None shows only a way to sign in. ``Gallery.from_environment()`` is what ``notebooks/gallery.ipynb``
    shows; in a notebook, ``Gallery(lib, lib.for_user("ann"))`` shows the gallery as ann sees it."""

    def __init__(self, library: Any, view: Any = None, *, page_url: str | None = None,
                 full_page: bool | None = None, xsrf: str = "", base_url: str | None = None):
        _log_to_stderr()
        self.library = library
        self.view = view
        self.page_url = page_url
        self.xsrf = xsrf
        self.base_url = base_url if base_url is not None else os.environ.get("VOILA_BASE_URL", "/")
        self.viewer = Viewer(self.run)
        self.root = classes(W.Box([]), "wb-app")
        if not (full_page if full_page is not None else "VOILA_BASE_URL" in os.environ):
            self.root.add_class("wb-inline")    # inside JupyterLab: a box in the notebook, not the whole window
        self.page: Any = None
        super().__init__([page_assets(), self.root])
        self.add_class("wb-root")
        if view is None:
            self.show_ended("Sign in to see your photos.", level="info")
        elif hasattr(view, "share_id"):
            self.show_share(view)
        else:
            self.show_shell(view)

    @classmethod
    def from_environment(cls) -> "Gallery":
        """The library of ``$WORKBENCH_LIBRARY`` as the server said this kernel's visitor sees it. In a pre-started
        kernel (``workbench gallery --preheat``) the library is opened first, then the kernel waits for the page
        request it will serve."""
        from workbench.library import Library
        library = Library.open()
        if os.environ.get("VOILA_PREHEAT") == "True":
            wait_for_page_request()
        actor = links.kernel_actor()
        try:
            view = library.for_actor(actor) if actor else None
        except AuthError:
            view = None
        return cls(library, view, page_url=request_url(), xsrf=os.environ.get("HTTP_X_WORKBENCH_XSRF", ""))

    # -- routing --------------------------------------------------------------------------------------------
    def _mount(self, page: W.Widget) -> None:
        if self.viewer.is_open:
            self.viewer.hide()
        self.page = page
        self.root.children = [page, self.viewer]

    def show_shell(self, view: Any) -> None:
        from workbench.gallery.shell import Shell
        self.run(lambda: self._mount(Shell(self, view)))

    def show_share(self, view: Any) -> None:
        from workbench.gallery.share import SharePage
        page = SharePage(self, view)
        self._mount(page)
        self.run(page.show_album, page.message)

    def show_ended(self, message: str, level: str = "error") -> None:
        """The session is gone (signed out elsewhere, expired, password changed): nothing of the library stays
        in the page, only the reason and the way back to the sign-in page."""
        self.view = None
        login = f"{self.base_url.rstrip('/')}/login"
        page = classes(W.HTML(
            f"<div class='wb-denied'><div class='wb-title'>Workbench</div>"
            f"<div class='wb-sub wb-ended-reason wb-msg-{escape(level)}'>{escape(message)}</div>"
            f"<a class='wb-signin-link' href='{escape(login)}'>Sign in</a></div>"), "wb-center", "wb-ended")
        self._mount(page)

    def deny(self, reason: str) -> None:
        from workbench.gallery.share import denied_page
        self.view = None
        self._mount(denied_page(reason))

    def sign_out_form(self) -> W.Widget:
        """Sign out: a form that posts to the server (which ends the session and this kernel); nothing when the
        gallery is shown in a notebook, outside the server."""
        if not self.xsrf:
            return W.HTML("")
        action = f"{self.base_url.rstrip('/')}/logout"
        return classes(W.HTML(f"<a class='wb-upload-link' href='{escape(action[:-len('logout')])}upload'>Upload</a>"
                              f"<form method='post' action='{escape(action)}' class='wb-logout-form'>"
                              f"<input type='hidden' name='_xsrf' value='{escape(self.xsrf)}'>"
                              f"<button type='submit' class='wb-logout' title='End this session'>Sign out</button>"
                              f"</form>"), "wb-logout-box")

    # -- actions --------------------------------------------------------------------------------------------
    def run(self, fn: Callable[[], Any], message: Message | None = None) -> Any:
        """Run one user action: session or link refusals replace the page, other errors become a message."""
        target = message or getattr(self.page, "message", None)
        try:
            return fn()
        except AuthError as e:
            if self.view is not None and hasattr(self.view, "share_id"):
                self.deny(str(e))
            else:
                self.show_ended(f"{as_sentence(str(e))} Please sign in again.")
        except WorkbenchError as e:
            if target is not None:
                target.error(as_sentence(str(e)))
        except Exception:
            log.exception("gallery action failed")
            if target is not None:
                target.error("Something went wrong; the server's log has the details.")
        return None

    def thumbnails(self, view: Any, ids: list[str], which: str = "thumb") -> dict[str, bytes | None]:
        return pictures.many(view, ids, which)

    def open_viewer(self, view: Any, ids: list[str], index: int) -> None:
        self.run(lambda: self.viewer.show_media(view, ids, index))

    def share_url(self, token: str) -> str:
        """The address of a share link on this server: the gallery's own address (the page's, without the app's
        ``app`` path) with ``?share=`` (the server sends it on to the app)."""
        base = self.page_url or "http://localhost:8866/"
        parts = urllib.parse.urlsplit(base)
        path = parts.path or "/"
        if path.endswith("/app"):
            path = path[:-len("app")]
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path,
                                        urllib.parse.urlencode({"share": token}), ""))


def wait_for_page_request() -> None:
    """In a preheated kernel, wait for the request this kernel will serve and put it in the environment (as
    ``voila.utils.wait_for_request`` does), asking the server with the key only its kernels know."""
    import asyncio
    import threading

    from tornado.websocket import websocket_connect

    # Voilà's variable names (voila.utils.ENV_VARIABLE), spelled out: importing voila.utils pulls jupyter_server
    # and jupyterlab_server into every pool kernel (+39 MB and seconds of CPU; docs/benchmarks.md, gallery load).
    ip = os.getenv("VOILA_APP_IP", "127.0.0.1")
    port = os.getenv("VOILA_APP_PORT", "8866")
    base = os.getenv("VOILA_WS_BASE_URL", os.getenv("VOILA_SERVER_URL", "/"))
    kernel_id = os.getenv("VOILA_KERNEL_ID", "")
    query = urllib.parse.urlencode({"key": links.request_info_key()})
    url = f"{os.getenv('VOILA_WS_PROTOCOL', 'ws')}://{ip}:{port}{base}voila/query/{kernel_id}?{query}"
    got: list[str] = []

    async def fetch() -> None:
        ws = await websocket_connect(url)
        msg = await ws.read_message()
        ws.close()
        if isinstance(msg, str):
            got.append(msg)

    t = threading.Thread(target=lambda: asyncio.run(fetch()), daemon=True)
    t.start()
    t.join()
    for k, v in (json.loads(got[0]).items() if got else ()):
        os.environ[k] = v


def request_url() -> str | None:
    """The address of the page being served, from what Voilà put in the kernel's environment."""
    if os.environ.get("VOILA_REQUEST_URL"):
        return os.environ["VOILA_REQUEST_URL"]
    host, port = os.environ.get("SERVER_NAME"), os.environ.get("SERVER_PORT")
    if not host:
        return None
    return f"http://{host}{':' + port if port else ''}{os.environ.get('SCRIPT_NAME') or '/'}"

