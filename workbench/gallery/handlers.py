"""The gallery server's own handlers: sign-in and sign-out, share links, the page, and the hardened kernel routes.

* ``/login`` (GET form, POST check) and ``/logout`` (POST): plain pages, no kernel. A good password sets the
  ``wb_session`` cookie; the password is checked in a worker thread (argon2 must not stall the event loop) by
  ``Library.login`` with the client's address, which throttles atomically (``access/throttle.py``).
* ``/`` (``LandingHandler``): where everyone arrives, and where sign-in leads: the timeline without a kernel
  (``/timeline``, ``first_screen.py``), which sends strangers on to sign in; ``/?share=TOKEN`` goes to the app.
* ``/app`` (``GalleryPageHandler``): the Voilà app (search, albums, people, managing). Only a signed-in visitor, or
  one with a live (and, if protected, unlocked) share link gets a kernel, within the kernel budget; the server
  tells the kernel whom it acts for.
* ``/app?share=TOKEN`` with a password: the password page posts to ``/share``; the right password adds the link
  to the signed ``wb_shares`` cookie.
* The kernel websocket (``GalleryKernelWebsocket``) speaks only the v1 protocol and checks every frame before
  anything parses it, both ways; the kernel API and Voilà's shutdown beacon work only for the kernel's owner.
* ``/voila/query/<kernel>`` (the preheat pool's request info) answers only a kernel of this server.
* ``HostCheckedApplication``: requests whose ``Host`` is not on the allow-list get a 400 page (DNS rebinding).
"""
from __future__ import annotations

import asyncio
import fnmatch
import hmac
import ipaddress
import logging
import urllib.parse
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from tornado.httputil import split_host_and_port
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from workbench.errors import AuthError, PasswordRequired, WorkbenchError, as_sentence
from workbench.gallery import identity, pages
from workbench.gallery.frames import outgoing_header
from workbench.gallery.kernels import CURRENT_RESERVATION, Busy, Owner

log = logging.getLogger("workbench.gallery")

V1 = "v1.kernel.websocket.jupyter.org"


def base_url(handler: Any) -> str:
    return handler.settings.get("base_url", "/") or "/"


def client_address(handler: Any) -> str:
    return identity.client_address(handler)


#: The Voilà app's path under the base URL (``/`` is the timeline without a kernel: ``LandingHandler``).
APP_PATH = "app"
#: Where a signed-in visitor lands (sign-in, ``/``): the first screen as plain HTML, no kernel (first_screen.py).
LANDING_PATH = "timeline"


def safe_next(handler: Any, value: str | None) -> str:
    """Where to go after signing in: a path on this server only (never another site)."""
    base = base_url(handler)
    v = (value or "").strip()
    parts = urllib.parse.urlsplit(v)
    if not v or parts.scheme or parts.netloc or not v.startswith(base) or v.startswith("//") or "\\" in v:
        return base
    return v


def app_url(handler: Any, share_token: str | None = None) -> str:
    """The Voilà app's address (with a share link's token: that link's album in the app)."""
    url = base_url(handler) + APP_PATH
    return url + "?" + urllib.parse.urlencode({"share": share_token}) if share_token else url


def clear_server_headers(request: Any) -> None:
    """A browser must not pose as the server: headers the server sets for its kernels are removed first."""
    for name in identity.SERVER_HEADERS:
        if name in request.headers:
            del request.headers[name]


class PlainPage(JupyterHandler):
    """A small page of the server's own (no kernel): HTML, no caching, no framing, no referrer."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", pages.CSP)

    def show(self, html: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never a traceback; the reason only when it is our own.
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.page("Error", f"<h1>{status_code}</h1><p class='sub'>{self._reason}</p>"))


class LoginHandler(PlainPage):
    @allow_unauthenticated
    def get(self) -> None:
        v = identity.actors_of(self)
        if v.user:
            self.redirect(safe_next(self, self.get_argument("next", None)))
            return
        note = "You have signed out." if self.get_argument("signed_out", None) else ""
        error = "Your session has ended. Please sign in again." if self.get_argument("ended", None) else ""
        self.show(pages.sign_in(action=self.request.path, xsrf_html=self.xsrf_form_html(),
                                next_url=safe_next(self, self.get_argument("next", None)), note=note, error=error))

    @allow_unauthenticated
    async def post(self) -> None:
        name = self.get_body_argument("name", "").strip()[:200]
        password = self.get_body_argument("password", "")
        next_url = safe_next(self, self.get_body_argument("next", None))
        if not name or not password:
            self.show(pages.sign_in(action=self.request.path, xsrf_html=self.xsrf_form_html(), next_url=next_url,
                                    error="Enter your user name and password.", name=name), 400)
            return
        library = identity.library_of(self)
        client = client_address(self)
        try:
            token = await asyncio.get_running_loop().run_in_executor(
                None, lambda: library.login(name, password, client=client))
        except AuthError as e:
            log.info("sign-in refused from %s", client)
            self.show(pages.sign_in(action=self.request.path, xsrf_html=self.xsrf_form_html(), next_url=next_url,
                                    error=as_sentence(str(e)), name=name), 401)
            return
        finally:
            password = ""
        lifetime = float(library.settings.session_lifetime_s)
        self.set_cookie(identity.SESSION_COOKIE, token, **identity.cookie_options(self, lifetime))
        log.info("signed in: %s from %s", name, client)
        self.redirect(next_url)


class LogoutHandler(PlainPage):
    """Sign-out ends the session, shuts down every kernel it had (their widgets die with them) and clears the
    cookie. POST only, with the XSRF token (a link elsewhere cannot sign anyone out)."""

    @allow_unauthenticated
    async def post(self) -> None:
        token = self.get_cookie(identity.SESSION_COOKIE)
        if token:
            hashed = identity.token_hash(token)
            library = identity.library_of(self)
            try:
                library.logout(token)
            except WorkbenchError:
                pass
            identity.forget_session(hashed)
            await self.kernel_manager.shut_down_actor(f"session:{hashed}")
        self.clear_cookie(identity.SESSION_COOKIE, path=base_url(self))
        self.redirect(base_url(self) + "login?signed_out=1")


class ShareUnlockHandler(PlainPage):
    """The password form of a protected share link posts here."""

    @allow_unauthenticated
    async def post(self) -> None:
        token = self.get_body_argument("share", "")
        password = self.get_body_argument("password", "")
        library = identity.library_of(self)
        client = client_address(self)
        try:
            view = await asyncio.get_running_loop().run_in_executor(
                None, lambda: library.for_share(token, password, client=client))
        except PasswordRequired as e:
            self.show(pages.share_password(action=self.request.path, xsrf_html=self.xsrf_form_html(), token=token,
                                           error=as_sentence(str(e))), 401)
            return
        except AuthError as e:
            self.show(pages.denied(str(e)), 403)
            return
        finally:
            password = ""
        identity.remember_share(self, view.share_id)
        self.redirect(app_url(self, token))


class LandingHandler(PlainPage):
    """``/``: a signed-in visitor (and whoever signs in) lands on the timeline without a kernel (``/timeline``,
    which sends a stranger on to the sign-in page); the app with its kernel is one click away (``/app``). A share
    link (``/?share=TOKEN``, the address links are given out with) goes on to its album in the app. Nothing is
    decided here: both pages check the visitor themselves."""

    @allow_unauthenticated
    def get(self) -> None:
        token = self.get_query_argument("share", None)
        self.redirect(app_url(self, token) if token else base_url(self) + LANDING_PATH)


class GalleryPageHandler(TornadoVoilaHandler):
    """The Voilà app (``/app``). Decides who the visitor is before Voilà may start a kernel, keeps the kernel
    budget, and tells the kernel (through a header only the server sets) whom it acts for."""

    async def prepare(self, **kwargs: Any) -> None:
        clear_server_headers(self.request)
        await super().prepare(**kwargs)

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "same-origin")

    @allow_unauthenticated
    async def get(self, path: str | None = None) -> None:
        if self.notebook_path and path:
            # Any other path is a file request: Voilà sends it to its file route (which serves nothing here);
            # it must not spend a kernel slot or depend on there being one.
            self.redirect_to_file(path)
            return
        owner = await self._owner()
        if owner is None:
            return
        manager = self.kernel_manager
        try:
            reservation = manager.budget.reserve(owner)
        except Busy:
            await manager.shut_down_abandoned(owner.key)   # tabs closed without their beacon reaching us
            try:
                reservation = manager.budget.reserve(owner)
            except Busy as e:
                log.warning("kernel budget: refused a page for %s (%s)", owner.key, e)
                self.set_header("Retry-After", "30")
                self._plain(pages.busy(str(e), self.request.uri or base_url(self)), 503)
                return
        self.request.headers[identity.ACTOR_HEADER] = owner.actor
        self.request.headers[identity.XSRF_HEADER] = self.xsrf_token.decode()   # also sets the _xsrf cookie
        context = CURRENT_RESERVATION.set(reservation)
        try:
            async for html in self.get_generator(path=path):
                self.write(html)
                self.flush()
        finally:
            CURRENT_RESERVATION.reset(context)
            if reservation.kernel_id is None:
                manager.budget.release(reservation)

    def _plain(self, html: str, status: int) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(html)

    async def _owner(self) -> Owner | None:
        """Who the kernel will act for, or None after answering (sign-in redirect, password page, denial)."""
        library = identity.library_of(self)
        token = self.get_query_argument("share", None)
        if token:
            try:
                status = library.share_link_status(token)
            except AuthError as e:
                self._plain(pages.denied(str(e)), 403)
                return None
            share_id = status["share_id"]
            if status["needs_password"] and share_id not in identity.actors_of(self).share_ids:
                self._plain(pages.share_password(action=base_url(self) + "share", xsrf_html=self.xsrf_form_html(),
                                                 token=token), 200)
                return None
            identity.remember_share(self, share_id)
            return Owner(f"share:{share_id}", f"share:{share_id}")
        v = identity.actors_of(self)
        if not v.user:
            self.redirect(base_url(self) + "login?" + urllib.parse.urlencode({"next": self.request.uri or "/"}))
            return None
        return Owner(f"user:{v.user}", f"session:{v.session_hash}")


class OwnKernelShutdown(JupyterHandler):
    """Voilà's shutdown beacon (sent when a tab closes), accepted only from the kernel's owner: the cookie that
    started it, even if its session has ended meanwhile (closing a page whose session ended must still free
    its kernel)."""

    @allow_unauthenticated   # checked below, against the kernel's owner
    async def post(self, kernel_id: str) -> None:
        owner = self.kernel_manager.budget.owner(kernel_id)
        if owner is None or owner.actor not in identity.actors_of(self).actors | identity.claimed_actors(self):
            raise web.HTTPError(403)
        if kernel_id in self.kernel_manager:
            await self.kernel_manager.shutdown_kernel(kernel_id)
        self.set_status(204)
        self.finish()


class GalleryKernelWebsocket(VoilaKernelWebsocketHandler):
    """The page's kernel websocket: v1 protocol only (the legacy protocol's binary frames are what Voilà's
    header reader misparses), the owner only (``GalleryAuthorizer``), every frame checked before it is parsed."""

    async def get(self, kernel_id: str) -> None:  # type: ignore[override]
        offered = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if V1 not in offered:
            log.warning("gallery guard: refused a kernel websocket without the v1 protocol")
            raise web.HTTPError(400, "this server speaks only the v1 kernel websocket protocol")
        await super().get(kernel_id)

    def write_message(self, message: Any, binary: bool = False):  # type: ignore[override]
        header = outgoing_header(message)
        if header is None:
            log.warning("gallery guard: dropped a malformed message to the browser (kernel %s)",
                        getattr(self, "kernel_id", "?"))
            return None
        if header.get("msg_type") == "execute_input":
            return None
        return super(VoilaKernelWebsocketHandler, self).write_message(message, binary)


class KernelOnlyRequestInfo(RequestInfoSocketHandler):
    """Hands a preheated kernel its page request (including whom it acts for): only to a kernel of this server,
    which proves it with a key derived from the secret in its environment."""

    key: str = ""

    def initialize(self, key: str) -> None:  # type: ignore[override]
        self.key = key

    async def get(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        given = self.get_query_argument("key", "")
        try:
            local = ipaddress.ip_address(self.request.remote_ip).is_loopback
        except ValueError:
            local = False
        if not (local and self.key and hmac.compare_digest(given, self.key)):
            raise web.HTTPError(403)
        await super().get(*args, **kwargs)


class NoFavicon(web.RequestHandler):
    """Browsers ask every page's server for /favicon.ico: an empty answer, not a file route's refusal."""

    def get(self) -> None:
        self.set_status(204)
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish()


class BadHost(web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(400)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.bad_host())


def host_allowed(host_header: str, allowed: list[str]) -> bool:
    """Whether a ``Host`` header names this server: an allowed name or pattern (``*.example.org``), with any
    port."""
    try:
        host, _ = split_host_and_port(host_header.strip().lower())
    except ValueError:
        return False
    host = host.strip("[]")
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed if pattern)


class HostCheckedApplication(web.Application):
    """Tornado's application with a ``Host`` allow-list in front of every route (pages, websockets, media): a
    DNS-rebinding page that makes a browser call this server under another name gets nothing."""

    allowed_hosts: list[str] = []

    def find_handler(self, request: Any, **kwargs: Any):  # type: ignore[override]
        if not host_allowed(request.host or "", self.allowed_hosts):
            log.warning("refused a request for host %r", (request.host or "")[:100])
            return self.get_handler_delegate(request, BadHost)
        return super().find_handler(request, **kwargs)
