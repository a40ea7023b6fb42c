"""Signed, expiring links to one media's original bytes, for the browser's <video> element and downloads.

The kernel decides who may see what (through the acting user's view of the library); the browser, though, fetches
a video or a download over plain HTTP, outside the kernel. So the kernel, after its permission check, signs a
ticket "media X, inline or as a download, for actor A, until time T" with a secret only the server and its
kernels know. The server's media handler serves it only to a request that still carries actor A (the same live
session cookie, or the same live share link) and only after checking again that A may read X: sign-out,
revocation, removal from an album and the trash take effect at once, not when the ticket expires. A ticket
cannot be widened (the signature covers every field); it carries no session token, so it can sit in a URL.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

from workbench.errors import WorkbenchError

#: The environment variable through which ``workbench gallery`` hands the signing secret to its kernels.
SECRET_ENV = "WORKBENCH_GALLERY_SECRET"
#: How long a link works: long enough to watch a long video (the browser keeps fetching ranges while it plays),
#: short enough that a link copied out of the page soon stops working.
DEFAULT_LINK_TTL_S = 3600
#: URL path (under Voilà's base URL) of the media handler.
ROUTE = "workbench/media"


class LinkError(WorkbenchError):
    """A media link is malformed, forged or expired."""


@dataclass(frozen=True)
class Ticket:
    media_id: str
    download: bool
    expires_at: float
    #: Whom the link was made for: ``session:<sha256>`` or ``share:<share id>`` ("" for links made outside the
    #: gallery server, which its media handler refuses).
    actor: str = ""


def new_secret() -> str:
    """A fresh 256-bit signing secret (one per server start: restarting the server voids every link)."""
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def sign(secret: str, media_id: str, *, download: bool = False, ttl_s: float = DEFAULT_LINK_TTL_S,
         now: float | None = None, actor: str = "") -> str:
    """A ticket string for one media (call it only after the acting user was allowed to read the media)."""
    if not secret:
        raise LinkError("the gallery has no signing secret: start it with `workbench gallery`")
    exp = (time.time() if now is None else now) + ttl_s
    payload = _b64(json.dumps({"m": media_id, "d": int(download), "e": round(exp), "a": actor},
                              separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, ticket: str, *, now: float | None = None) -> Ticket:
    """The ticket's content if its signature is right and it has not expired; else ``LinkError``."""
    if not secret:
        raise LinkError("the gallery server has no signing secret")
    payload, _, mac = ticket.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise LinkError("this media link is not valid")
    try:
        data = json.loads(_unb64(payload))
        t = Ticket(str(data["m"]), bool(data["d"]), float(data["e"]), str(data.get("a") or ""))
    except (ValueError, KeyError, TypeError) as e:
        raise LinkError("this media link is not valid") from e
    if t.expires_at < (time.time() if now is None else now):
        raise LinkError("this media link has expired: open the media again in the gallery")
    return t


def kernel_secret() -> str:
    """The secret in this kernel's environment (empty when the gallery runs outside ``workbench gallery``)."""
    return os.environ.get(SECRET_ENV, "")


def media_url(ticket: str, base_url: str | None = None) -> str:
    """The URL of the media handler for a ticket, under Voilà's base URL (from the kernel's environment)."""
    base = base_url if base_url is not None else os.environ.get("VOILA_BASE_URL", "/")
    return f"{base.rstrip('/')}/{ROUTE}/{ticket}"


def kernel_actor() -> str:
    """Whom this kernel acts for, as the gallery server told it (``session:<sha256>`` or ``share:<id>``)."""
    return os.environ.get("HTTP_X_WORKBENCH_ACTOR", "")


def request_info_key(secret: str | None = None) -> str:
    """The key a preheated kernel shows to get its page request from the server (derived from the secret both
    share, so nobody else can read whom a pool kernel is about to act for)."""
    secret = secret if secret is not None else os.environ.get(SECRET_ENV, "")
    return _mac(secret, "request-info") if secret else ""


#: URL path (under Voilà's base URL) of the zip handler.
ZIP_ROUTE = "workbench/zip"


@dataclass(frozen=True)
class ZipTicket:
    """A signed "these media (or this album), zipped, for actor A, until T"."""
    media_ids: tuple[str, ...]
    album_id: str
    name: str
    expires_at: float
    actor: str


def sign_zip(secret: str, *, media_ids: list[str] | None = None, album_id: str = "", name: str = "photos",
             ttl_s: float = DEFAULT_LINK_TTL_S, now: float | None = None, actor: str = "") -> str:
    """A ticket for a zip of media (a selection) or of an album as it is when downloaded. Like ``sign``, call it
    only after the view allowed them; the zip handler asks the view again and leaves out what it no longer
    allows. A zip ticket is never a media ticket, nor the reverse (``verify`` needs "m", this needs "z")."""
    if not secret:
        raise LinkError("the gallery has no signing secret: start it with `workbench gallery`")
    exp = (time.time() if now is None else now) + ttl_s
    payload = _b64(json.dumps({"z": list(media_ids or []), "al": album_id, "n": name, "e": round(exp), "a": actor},
                              separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify_zip(secret: str, ticket: str, *, now: float | None = None) -> ZipTicket:
    """The zip ticket's content if its signature is right and it has not expired; else ``LinkError``."""
    if not secret:
        raise LinkError("the gallery server has no signing secret")
    payload, _, mac = str(ticket).partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise LinkError("this download link is not valid")
    try:
        data = json.loads(_unb64(payload))
        t = ZipTicket(tuple(str(m) for m in data["z"]), str(data.get("al") or ""), str(data.get("n") or "photos"),
                      float(data["e"]), str(data.get("a") or ""))
    except (ValueError, KeyError, TypeError) as e:
        raise LinkError("this download link is not valid") from e
    if t.expires_at < (time.time() if now is None else now):
        raise LinkError("this download link has expired: ask for the download again in the gallery")
    return t


def zip_url(base_url: str | None = None) -> str:
    """Where the page posts a zip ticket (a selection's ids do not fit in a URL)."""
    base = base_url if base_url is not None else os.environ.get("VOILA_BASE_URL", "/")
    return f"{base.rstrip('/')}/{ZIP_ROUTE}"
