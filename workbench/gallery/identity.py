"""Who is asking: the gallery server's answer for every request, decided from its cookies and nothing else.

Two kinds of visitor reach a kernel (anonymous ones never do):

* a signed-in person: cookie ``wb_session`` holds the session token (HttpOnly, SameSite=Strict; only its sha256
  is in the catalog); the kernel acts as ``session:<sha256>``;
* a share-link visitor: once the server has checked a link (and its password, if it has one) it lists the link's
  id in the signed cookie ``wb_shares``; the kernel acts as ``share:<share id>``.

These "actors" are what a kernel is bound to (``kernels.KernelBudget``): a kernel's websocket, its API, its
shutdown and the media links it signs only work for a request that carries the same actor. Jupyter's own
handlers learn the visitor through ``GalleryIdentityProvider`` and ``GalleryAuthorizer``; the gallery's handlers
call ``actors_of`` directly.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User

from workbench.errors import AuthError

SESSION_COOKIE = "wb_session"
SHARES_COOKIE = "wb_shares"
#: Links one browser keeps unlocked at once (the oldest is forgotten first).
MAX_SHARES_PER_BROWSER = 8
#: Static files under a signed-in page (JupyterLab extensions) may reuse a session check this recent; pages,
#: kernels, websockets and media are always checked afresh, so sign-out and revocation apply at once there.
SESSION_CHECK_CACHE_S = 2.0
#: The header through which the server tells a kernel whom it acts for (never taken from the browser).
ACTOR_HEADER = "X-Workbench-Actor"
#: The header that hands the page's XSRF token to the kernel (for the sign-out form it draws).
XSRF_HEADER = "X-Workbench-Xsrf"
#: Request headers the browser may not set: the server sets them itself after its checks.
SERVER_HEADERS = (ACTOR_HEADER, XSRF_HEADER)


def token_hash(token: str) -> str:
    return hashlib.sha256(str(token).encode()).hexdigest()


@dataclass
class Visitor:
    """What a request proved: at most one signed-in user and any number of unlocked share links."""
    user: str | None = None
    session_hash: str | None = None
    share_ids: list[str] = field(default_factory=list)

    @property
    def actors(self) -> set[str]:
        out = {f"share:{s}" for s in self.share_ids}
        if self.session_hash:
            out.add(f"session:{self.session_hash}")
        return out

    @property
    def known(self) -> bool:
        return bool(self.user or self.share_ids)


def library_of(handler: Any) -> Any:
    """The server's own ``Library`` (opened once by ``server.py``)."""
    return handler.settings["workbench_library"]


_session_cache: dict[str, tuple[float, str]] = {}


def session_user(library: Any, hashed: str, *, fresh: bool) -> str | None:
    """The user of a live session, or None (ended, expired, unknown, or the user was removed)."""
    now = time.monotonic()
    if not fresh:
        hit = _session_cache.get(hashed)
        if hit is not None and now - hit[0] < SESSION_CHECK_CACHE_S:
            return hit[1]
    try:
        user = library.session_user(hashed)
    except AuthError:
        _session_cache.pop(hashed, None)
        return None
    if len(_session_cache) > 10_000:
        _session_cache.clear()
    _session_cache[hashed] = (now, user)
    return user


def forget_session(hashed: str) -> None:
    _session_cache.pop(hashed, None)


def shares_in_cookie(handler: Any) -> list[str]:
    raw = handler.get_signed_cookie(SHARES_COOKIE, max_age_days=31)
    if not raw:
        return []
    try:
        ids = json.loads(raw)
    except ValueError:
        return []
    return [str(s) for s in ids if isinstance(s, str)][:MAX_SHARES_PER_BROWSER] if isinstance(ids, list) else []


def live_shares(library: Any, share_ids: list[str]) -> list[str]:
    out = []
    for s in share_ids:
        try:
            library.share_still_live(s)
        except AuthError:
            continue
        out.append(s)
    return out


def actors_of(handler: Any, *, fresh: bool = True) -> Visitor:
    """The visitor behind a request, checked against the catalog (``fresh``) or a check at most
    ``SESSION_CHECK_CACHE_S`` old. Remembered on the handler for the rest of the request."""
    cached = getattr(handler, "_wb_visitor", None)
    if cached is not None:
        return cached
    library = library_of(handler)
    v = Visitor()
    token = handler.get_cookie(SESSION_COOKIE)
    if token:
        hashed = token_hash(token)
        user = session_user(library, hashed, fresh=fresh)
        if user is not None:
            v.user, v.session_hash = user, hashed
    ids = shares_in_cookie(handler)
    if ids:
        v.share_ids = live_shares(library, ids) if fresh else ids
    handler._wb_visitor = v
    return v


def claimed_actors(handler: Any) -> set[str]:
    """The actors a request's cookies name, live or not: proof enough to shut down one's own kernel."""
    out = {f"share:{s}" for s in shares_in_cookie(handler)}
    token = handler.get_cookie(SESSION_COOKIE)
    if token:
        out.add(f"session:{token_hash(token)}")
    return out


def _among(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(str(net).strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def from_trusted_proxy(handler: Any) -> bool:
    """Whether the connection comes from a reverse proxy named in ``gallery_trusted_proxies``."""
    trusted = library_of(handler).settings.gallery_trusted_proxies
    return bool(trusted) and _among(str(handler.request.remote_ip or ""), trusted)


def client_address(handler: Any) -> str:
    """The visitor's address, as the throttle counts it: the connection's own, or, when that is a trusted
    reverse proxy, the nearest address in ``X-Forwarded-For`` that is not one (what the proxy saw). A header
    from anyone else is ignored, so nobody picks their own address to dodge the per-address limit."""
    remote = str(handler.request.remote_ip or "unknown")
    if not from_trusted_proxy(handler):
        return remote
    trusted = library_of(handler).settings.gallery_trusted_proxies
    hops = [h.strip() for h in handler.request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop.strip("[]"))
        except ValueError:
            return remote        # a malformed chain: count the proxy, not a made-up name
        if not _among(hop, trusted):
            return hop
    return remote


def over_https(handler: Any) -> bool:
    """The page came over HTTPS: directly, or through a trusted proxy that says so."""
    if handler.request.protocol == "https":
        return True
    return from_trusted_proxy(handler) and \
        handler.request.headers.get("X-Forwarded-Proto", "").strip().lower() == "https"


def cookie_options(handler: Any, max_age_s: float | None) -> dict[str, Any]:
    """HttpOnly, SameSite=Strict, Secure when the page came over HTTPS, scoped to the server's base URL."""
    opts: dict[str, Any] = {"httponly": True, "samesite": "Strict",
                            "path": handler.settings.get("base_url", "/") or "/"}
    if over_https(handler):
        opts["secure"] = True
    if max_age_s is not None:
        opts["expires_days"] = max_age_s / 86400
    return opts


def remember_share(handler: Any, share_id: str) -> None:
    ids = [s for s in shares_in_cookie(handler) if s != share_id]
    ids = [share_id, *ids][:MAX_SHARES_PER_BROWSER]
    handler.set_signed_cookie(SHARES_COOKIE, json.dumps(ids), **cookie_options(handler, 31 * 86400))
    if getattr(handler, "_wb_visitor", None) is not None and share_id not in handler._wb_visitor.share_ids:
        handler._wb_visitor.share_ids.append(share_id)


class GalleryIdentityProvider(IdentityProvider):
    """Jupyter's handlers (kernel API and websocket, the page, JupyterLab extension files) know a visitor only
    through this: a live session or an unlocked share link; anyone else is nobody (None: redirected to the sign-in
    page, or refused)."""

    def get_user(self, handler: Any) -> User | None:
        fresh = getattr(handler, "wb_fresh_auth", True)
        v = actors_of(handler, fresh=fresh)
        if v.user:
            return User(username=v.user)
        if v.share_ids:
            return User(username="share-visitor")
        return None

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True

    def get_handlers(self) -> list:
        return []    # the gallery adds its own /login and /logout (handlers.py)


class GalleryAuthorizer(Authorizer):
    """A kernel (its model, websocket, shutdown) belongs to the actor it was started for; nothing else in
    Jupyter's API is served by the gallery."""

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        if resource != "kernels":
            return user is not None
        kernel_id = (getattr(handler, "path_kwargs", None) or {}).get("kernel_id") or getattr(handler, "kernel_id",
                                                                                               None)
        budget = getattr(handler.kernel_manager, "budget", None)
        if not kernel_id or budget is None:
            return False
        owner = budget.owner(kernel_id)
        return owner is not None and owner.actor in actors_of(handler).actors
