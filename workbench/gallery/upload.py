"""Uploads from the browser: the tus 1.0 protocol on the gallery's own server, and the page that speaks it.

Routes (added by ``server.py``):

* ``/upload`` (``UploadPage``): pick files or whole folders, or drop them; a bar per file and in total, pause and
  resume. It uses tus-js-client (``static/tus.min.js``, MIT, vendored) and ``static/upload.js``; a file whose
  SHA-256 the page can compute (``crypto.subtle``, files up to 512 MB) and the library already has is not sent
  (the page asks about a batch of hashes at once: ``/upload/known``, ``KnownHandler``); a new file up to
  ``PAGE_ONE_REQUEST_MAX_BYTES`` goes in one request, its creation carrying its bytes.
  ``/upload?album=<id>`` uploads into an album one contributes to; ``/upload?share=TOKEN`` into a share link's
  album when the link accepts uploads.
* ``/upload/files/`` (``TusPatchHandler``): POST creates an upload (``Upload-Length``, ``Upload-Metadata`` with
  ``filename``, optional ``sha256`` and ``album``), with the first bytes in its body if the client sends them
  (creation-with-upload); ``/upload/files/<id>``: HEAD tells its offset, PATCH appends at ``Upload-Offset``
  (streamed to the staging file: memory stays flat), DELETE ends it (termination); OPTIONS says what the server
  speaks. Extensions: creation, creation-with-upload, termination, expiration. The request that brings the
  last byte is answered at once (``Workbench-Upload-Result: checking``); the library decides the file in the
  background and ``GET /upload/files/<id>`` (ours, not tus) says how it ended: ``done`` (``added`` or ``known``,
  the media id) or ``refused`` with the reason.

Every request is hostile until checked, as everywhere in the gallery: the ``Host`` allow-list (the application);
Tornado's XSRF token (the ``X-XSRFToken`` header, from the page) on POST, PATCH and DELETE; ``Tus-Resumable``
(a header a cross-site form cannot send, and that makes a cross-site script's request need a CORS preflight this
server never grants); a same-origin ``Origin`` / ``Sec-Fetch-Site`` when the browser sends them; then the
session cookie or an unlocked share link and the library's own checks through the visitor's view
(``begin_upload``: role, album, size, quota; how fresh each read is: ``TusPatchHandler`` and ``finish_checked``).
Answers: 403 not signed in or not allowed, 404 somebody else's upload, 409 wrong offset, 412 no
``Tus-Resumable``, 413 too big, 415 a body of another type, 423 busy; content that is not media is refused after the transfer (``GET``); every refusal has a one-line reason
and is recorded (``workbench errors``, stage upload).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import logging
import threading
import time
import urllib.parse
from html import escape
from pathlib import Path
from typing import Any

from tornado import web

from workbench.errors import AccessDenied, AuthError, NotFoundError, UploadRefused, WorkbenchError, as_sentence
from workbench.gallery import identity, pages

log = logging.getLogger("workbench.gallery.upload")
NO_SUCH_UPLOAD = "no such upload: it finished, expired or belongs to someone else"

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,expiration"
STATIC = Path(__file__).resolve().parent / "static"
#: The page hashes files up to this size before sending (crypto.subtle digests a whole ArrayBuffer in memory).
PAGE_HASH_MAX_BYTES = 512 * 1024 * 1024
#: PATCH size the page sends (tus-js-client's chunkSize): big enough that requests cost nothing measurable,
#: small enough that a proxy's body limit or a dropped connection loses little.
PAGE_CHUNK_BYTES = 64 * 1024 * 1024
#: Files up to this size are sent by the page in one request, their creation carrying the bytes (tus
#: creation-with-upload): a photo, even a 50 MP JPEG or most RAWs, costs one request instead of two. Larger files
#: are created first and then PATCHed, so a pause or a dropped connection keeps what arrived: a creation cut off
#: loses its bytes (the client never learned the upload's address), so this is also the most a pause can lose.
PAGE_ONE_REQUEST_MAX_BYTES = 32 * 1024 * 1024
#: Bytes Tornado hands the upload handler at a time (its default is 64 KiB): one receiver piece.
BODY_CHUNK_BYTES = 1 << 20
RESULT_HEADER = "Workbench-Upload-Result"
MEDIA_HEADER = "Workbench-Media-Id"
REASON_HEADER = "Workbench-Upload-Reason"     # percent-encoded UTF-8


def parse_metadata(header: str) -> dict[str, str]:
    """tus ``Upload-Metadata``: comma-separated ``key base64(value)`` pairs."""
    out: dict[str, str] = {}
    for pair in (header or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            out[key.strip()] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise UploadRefused(f"Upload-Metadata value of {key[:40]!r} is not base64 UTF-8", 400) from None
    return out


def _same_origin(handler: web.RequestHandler) -> bool:
    """A browser's request from one of this server's own pages (headers a page cannot forge)."""
    site = handler.request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = handler.request.headers.get("Origin")
    if origin is None:
        return True             # not a browser's cross-origin request (browsers send Origin on POST/PATCH/DELETE)
    parts = urllib.parse.urlsplit(origin)
    return parts.netloc.lower() == (handler.request.host or "").lower()


class TusHandler(web.RequestHandler):
    """The tus 1.0 endpoint: ``/upload/files/`` and ``/upload/files/<id>``."""

    SUPPORTED_METHODS = ("OPTIONS", "HEAD", "GET", "POST", "PATCH", "DELETE")

    def initialize(self) -> None:
        self._receiver: Any = None
        self._view: Any = None
        self._failed: UploadRefused | None = None

    # -- common ---------------------------------------------------------------------------------------------
    def set_default_headers(self) -> None:
        self.set_header("Tus-Resumable", TUS_VERSION)
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")

    def check_xsrf_cookie(self) -> None:
        if self.request.method in ("POST", "PATCH", "DELETE"):
            super().check_xsrf_cookie()

    def _library(self) -> Any:
        return identity.library_of(self)

    def _refuse(self, status: int, reason: str) -> None:
        self._wb_reason = as_sentence(" ".join(str(reason).split()))
        raise web.HTTPError(status, reason=_reason_line(reason))

    def _check_request(self) -> None:
        if self.request.method == "OPTIONS":
            return
        if self.request.headers.get("Tus-Resumable") != TUS_VERSION:
            self._refuse(412, f"this server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}")
        if not _same_origin(self):
            self._refuse(403, "uploads are accepted only from this server's own pages")
        self.check_xsrf_cookie()

    def _acting(self, share_id: str | None) -> tuple[Any, str, str]:
        """The view of the visitor this request acts for: an unlocked share link it names, else the session
        (the cookie's check may be 2 s old). Returns the view, who (``user:<name>`` or ``share:<id>``) and the
        ``for_actor`` key of a view that reads the session or link afresh (``finish_checked``)."""
        v = identity.actors_of(self, fresh=False)
        lib = self._library()
        if share_id:
            if share_id not in v.share_ids:
                self._refuse(403, "open the share link first")
            return lib.for_actor(f"share:{share_id}"), f"share:{share_id}", f"share:{share_id}"
        if not v.user:
            self._refuse(403, "not signed in: sign in first")
        # The session as the gallery's cookie check saw it, at most SESSION_CHECK_CACHE_S (2 s) ago; the view
        # reads the role, the album and the quota afresh, and the session is read again before the decision.
        try:
            view = user_view(lib, v.user)
        except NotFoundError:
            self._refuse(403, "not signed in: sign in first")
        return view, f"user:{v.user}", f"session:{v.session_hash}"

    def _view_for(self, upload_id: str) -> tuple[Any, str]:
        """The view that may touch this upload (its starter's) and its ``for_actor`` key, or a refusal that says
        nothing about it: a stranger is told to sign in, anyone else that there is no such upload."""
        v = identity.actors_of(self, fresh=False)     # the view checks the session or link again
        if not v.known:
            self._refuse(403, "not signed in: sign in first")
        try:
            u = self._library().uploads.get(upload_id)
        except KeyError:
            self._refuse(404, NO_SUCH_UPLOAD)
        kind, _, who = u.actor.partition(":")
        key = f"share:{who}" if kind == "share" and who in v.share_ids else \
            f"session:{v.session_hash}" if kind == "user" and v.user == who else None
        if key is None:
            self._refuse(404, NO_SUCH_UPLOAD)
        return self._library().for_actor(key), key

    def _describe(self, u: Any) -> None:
        lib = self._library()
        self.set_header("Upload-Offset", str(lib.uploads.offset(u)))
        self.set_header("Upload-Length", str(u.length))
        self.set_header("Upload-Expires", _http_date(lib.uploads.expires_at(u)))
        if u.state == "done":
            self.set_header(RESULT_HEADER, u.result or "added")
            self.set_header(MEDIA_HEADER, u.media_id or "")
        elif u.state in ("checking", "refused"):
            self.set_header(RESULT_HEADER, u.state)
            if u.reason:
                self.set_header(REASON_HEADER, urllib.parse.quote(as_sentence(u.reason)))

    # Streaming handlers (``stream_request_body``) set _body_read False until their method runs; tornado has
    # read every other handler's body before it calls prepare.
    _body_read = True
    _has_body = False

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self._has_body and not self._body_read:
            # Refused before the body was read: tornado closes the connection rather than read the rest, so
            # say so, or a keep-alive client sends its next request into a socket that is about to close.
            self.set_header("Connection", "close")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if status_code == 412:
            self.set_header("Tus-Version", TUS_VERSION)
        self.finish(getattr(self, "_wb_reason", None) or as_sentence(self._reason or "refused"))

    def _fail(self, e: Exception) -> None:
        """Library refusals as HTTP answers with the library's own words."""
        if isinstance(e, UploadRefused):
            self._refuse(e.status, e.reason)
        if isinstance(e, AuthError):
            self._refuse(403, str(e))
        if isinstance(e, AccessDenied):
            self._refuse(403, str(e))
        if isinstance(e, NotFoundError):
            self._refuse(404, str(e))
        if isinstance(e, (ValueError, WorkbenchError)):
            self._refuse(400, str(e))
        raise e

    # -- OPTIONS --------------------------------------------------------------------------------------------
    def options(self, upload_id: str = "") -> None:
        self.clear_header("Tus-Resumable")
        self.set_header("Tus-Version", TUS_VERSION)
        self.set_header("Tus-Extension", TUS_EXTENSIONS)
        self.set_header("Tus-Max-Size", str(self._library().settings.upload_max_file_bytes))
        self.set_status(204)
        self.finish()

    def _metadata(self) -> dict[str, str]:
        try:
            return parse_metadata(self.request.headers.get("Upload-Metadata", ""))
        except UploadRefused as e:
            self._refuse(e.status, e.reason)
        return {}

    def _record_refusal(self, who: str, name: str, e: Exception) -> None:
        """Refusals at creation are recorded like the others (too big, over quota, no such album)."""
        if isinstance(e, (UploadRefused, AccessDenied)):
            log.info("upload refused for %s: %s", who, e)
            try:
                self._library().uploads.record_refusal(who.partition(":")[2], name, str(e))
            except Exception:
                log.exception("could not record an upload refusal")

    # -- HEAD: offset; GET: how it ended (not part of tus: the page asks it after the last byte) ------------
    async def _status(self, upload_id: str) -> Any:
        self._check_request()

        def look() -> Any:                            # catalog reads: off the event loop
            view, key = self._view_for(upload_id)
            try:
                u = self._library().uploads.resume_checking(view.upload(upload_id))
                if u.state == "receiving" and self._library().uploads.offset(u) == u.length:
                    # every byte is in but the request that brought the last one ended before handing it on
                    u = finish_checked(self._library(), key, u.id)
            except Exception as e:
                self._fail(e)
            return u

        u = await asyncio.get_running_loop().run_in_executor(None, look)
        self._describe(u)
        return u

    async def head(self, upload_id: str = "") -> None:
        await self._status(upload_id)
        self.set_status(200)
        self.finish()

    async def get(self, upload_id: str = "") -> None:
        u = await self._status(upload_id)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"state": u.state, "offset": self._library().uploads.offset(u), "length": u.length,
                                "result": u.result, "media_id": u.media_id,
                                "reason": as_sentence(u.reason) if u.reason else None}))

    # -- DELETE: termination --------------------------------------------------------------------------------
    def delete(self, upload_id: str = "") -> None:
        self._check_request()
        view, _ = self._view_for(upload_id)
        try:
            view.cancel_upload(upload_id)
        except Exception as e:
            self._fail(e)
        self.set_status(204)
        self.finish()


#: A signed-in uploader's view (``Library.for_user``, which reads the account to make it) for as long as the
#: session check it rests on (``identity.SESSION_CHECK_CACHE_S``): (library root, user) -> (time.monotonic(),
#: the library, view). A view holds nothing but the name: every call on it reads the account afresh (its role, or that it is
#: gone), so reusing it saves the read that made it, one of the two a photo's creation cost, and nothing else.
_user_views: dict[tuple[str, str], tuple[float, Any, Any]] = {}
_user_views_lock = threading.Lock()


def user_view(lib: Any, user: str) -> Any:
    """``lib.for_user(user)``, reused for ``identity.SESSION_CHECK_CACHE_S`` (bounded like the session cache)."""
    key, now = (str(lib.root), user), time.monotonic()
    with _user_views_lock:
        hit = _user_views.get(key)
    if hit is not None and hit[1] is lib and now - hit[0] < identity.SESSION_CHECK_CACHE_S:
        return hit[2]
    view = lib.for_user(user)
    with _user_views_lock:
        if len(_user_views) >= MAX_FINISH_PASSED:
            _user_views.clear()
        _user_views[key] = (now, lib, view)
    return view


#: When a visitor's uploads into one place (no album, or one album) last passed the view's finishing checks:
#: (library root, for_actor key, album id) -> time.monotonic(). Bounded like identity's session cache.
_finish_passed: dict[tuple[str, str, str | None], float] = {}
_finish_lock = threading.Lock()
MAX_FINISH_PASSED = 10_000


def finish_checked(lib: Any, actor: str, upload_id: str) -> Any:
    """Hand a complete upload to the library's decision once the view (``for_actor``: session or link, role,
    album) allows it: a session ended, a role or an album taken away, or a link revoked while the bytes arrived
    refuse it here, before anything enters the library. A pass of the same visitor into the same place less
    than ``identity.SESSION_CHECK_CACHE_S`` ago (the bound of the gallery's session check) is reused: a batch of
    photos costs one such check every 2 s, not five catalog reads each. Returns the upload's record."""
    try:
        u = lib.uploads.get(upload_id)
    except KeyError:
        raise NotFoundError(NO_SUCH_UPLOAD) from None
    key = (str(lib.root), actor, u.album_id)
    with _finish_lock:
        passed = _finish_passed.get(key)
    if passed is not None and time.monotonic() - passed < identity.SESSION_CHECK_CACHE_S and \
            u.state == "receiving" and lib.uploads.offset(u) == u.length:
        kind, _, who = u.actor.partition(":")
        return lib.uploads.finish_later(u, added_by=who if kind == "user" else u.actor)   # as the view would
    try:
        out = lib.for_actor(actor).finish_upload(upload_id, background=True)
    except (AuthError, AccessDenied, NotFoundError, UploadRefused) as e:
        with _finish_lock:
            _finish_passed.pop(key, None)
        try:
            u = lib.uploads.get(upload_id)
        except KeyError:
            raise e from None
        if u.state == "receiving":
            lib.uploads.refuse(u, f"not added: {e}")
            u = lib.uploads.get(upload_id)
        return u
    with _finish_lock:
        if len(_finish_passed) >= MAX_FINISH_PASSED:
            _finish_passed.clear()
        _finish_passed[key] = time.monotonic()
    return out


@web.stream_request_body
class TusPatchHandler(TusHandler):
    """The endpoint, with bodies (PATCH, and POST with creation-with-upload) streamed to the staging file as they
    arrive (never held).

    Checks per request: creation goes through the visitor's view, which reads the role, album, size and quota
    (or the share link) afresh, after the session check of the gallery's cookie check (at most
    ``identity.SESSION_CHECK_CACHE_S``, 2 s, old). A PATCH to one's own upload (``user:``) is checked against
    that same session check instead of reading the catalog again for every 64 MiB; share links' uploads read the
    link afresh. The view is read afresh once more when the last byte
    is in (``finish_checked``), after the answer, so a revocation during the transfer still keeps the file out.
    """

    _body_read = False
    _created: Any = None
    _actor: str = ""         # the for_actor key of the view that checked this request
    _who: str = ""           # user:<name> or share:<id>, for the log and refusals

    def _body_length(self) -> int | None:
        """Bytes the request's body declares (None: chunked, so unknown until read)."""
        if "Transfer-Encoding" in self.request.headers:
            return None
        try:
            return int(self.request.headers.get("Content-Length", "0") or 0)
        except ValueError:
            self._refuse(400, "Content-Length is not a number")
        return 0

    async def prepare(self) -> None:
        if self.request.method == "POST":
            return await self._prepare_creation()
        if self.request.method != "PATCH":
            self.request.connection.set_max_body_size(64 * 1024)   # HEAD/GET/DELETE/OPTIONS carry no body
            return
        self._check_request()
        self._has_body = True
        if self.request.headers.get("Content-Type") != "application/offset+octet-stream":
            self._refuse(415, "a PATCH body is Content-Type: application/offset+octet-stream")
        upload_id = self.path_args[0] if self.path_args else ""
        try:
            offset = int(self.request.headers.get("Upload-Offset", ""))
        except ValueError:
            self._refuse(400, "Upload-Offset is required")
        declared = self._body_length()

        def open_receiver() -> Any:                  # reads: off the event loop
            lib = self._library()
            v = identity.actors_of(self, fresh=False)
            if not v.known:
                self._refuse(403, "not signed in: sign in first")
            try:
                u = lib.uploads.get(upload_id)
            except KeyError:
                self._refuse(404, NO_SUCH_UPLOAD)
            kind, _, who = u.actor.partition(":")
            if kind == "user" and v.user == who:      # the session as last checked (at most 2 s ago)
                self._actor = f"session:{v.session_hash}"
                return lib.uploads.receiver(u, offset)
            if kind == "share" and who in v.share_ids:  # the link, read afresh
                self._actor = f"share:{who}"
                return lib.for_actor(self._actor).receive_upload(upload_id, offset)
            self._refuse(404, NO_SUCH_UPLOAD)

        try:
            self._receiver = await asyncio.get_running_loop().run_in_executor(None, open_receiver)
        except web.HTTPError:
            raise
        except Exception as e:
            self._fail(e)
        self._limit_body(declared)

    def _limit_body(self, declared: int | None) -> None:
        u = self._receiver.upload
        remaining = u.length - self._receiver.offset
        if declared is not None and declared > remaining:
            self._close_receiver()
            self._refuse(413, f"this request carries {declared} bytes but only {remaining} remain of the "
                              f"{u.length} announced")
        self.request.connection.set_max_body_size(max(remaining, 0))
        self._read_in_big_chunks()

    def _read_in_big_chunks(self) -> None:
        """Read this body in pieces of ``BODY_CHUNK_BYTES`` instead of Tornado's 64 KiB: a 5 MB photo was 80
        rounds of Python on the event loop (a socket read, two buffer copies, ``data_received``), a 2 GB video
        32,768. The socket is still read 64 KiB at a time (a bigger read size costs a zeroed buffer of that size
        per read, however little arrives: the video ran at half speed); Tornado joins what the reads found. Only
        once every check has passed, and for this request only (its own copy of the server's parameters); memory
        stays bounded by the chunk and the receiver's back-pressure."""
        conn = self.request.connection
        params = getattr(conn, "params", None)
        if params is None or getattr(params, "chunk_size", 0) >= BODY_CHUNK_BYTES:
            return
        mine = copy.copy(params)
        mine.chunk_size = BODY_CHUNK_BYTES
        conn.params = mine

    async def _prepare_creation(self) -> None:
        """Creation (tus ``creation``), with the file's first bytes in the same request when the client sends
        them (``creation-with-upload``: one request for a photo). Every check is made before a byte is read."""
        self._has_body = "Transfer-Encoding" in self.request.headers or \
            self.request.headers.get("Content-Length", "0") not in ("", "0")
        self._check_request()
        if self.path_args and self.path_args[0]:
            self._refuse(405, "create uploads at /upload/files/")
        declared = self._body_length()
        if self._has_body and self.request.headers.get("Content-Type") != "application/offset+octet-stream":
            self._refuse(415, "a body sent with the creation is Content-Type: application/offset+octet-stream")
        try:
            length = int(self.request.headers.get("Upload-Length", ""))
        except ValueError:
            self._refuse(400, "Upload-Length (the file's size in bytes) is required")
        if declared is not None and length >= 0 and declared > length:
            self._refuse(413, f"this request carries {declared} bytes but the upload is {length} bytes")
        meta = self._metadata()
        share = self.get_query_argument("share", None) or None
        name = meta.get("relativePath") or meta.get("filename") or meta.get("name") or "upload"
        def begin() -> Any:                           # catalog reads and writes: off the event loop
            view, self._who, self._actor = self._acting(share)
            u = view.begin_upload(length, name, album=meta.get("album") or None, sha256=meta.get("sha256") or None)
            if self._has_body and u.state == "receiving":
                self._receiver = self._library().uploads.receiver(u, 0)
            return u

        if not self._has_body:
            self.request.connection.set_max_body_size(64 * 1024)
        try:
            self._created = await asyncio.get_running_loop().run_in_executor(None, begin)
        except web.HTTPError:
            raise
        except Exception as e:
            self._record_refusal(self._who, name, e)
            self._fail(e)
        if self._receiver is not None:
            self._limit_body(declared)
        elif self._has_body:
            # Known content (its sha256 matched): nothing is stored; the body is read and dropped.
            self.request.connection.set_max_body_size(max(length, 0))

    def data_received(self, chunk: bytes) -> Any:
        if self._receiver is None or self._failed is not None:
            return None
        try:
            wait = self._receiver.write(chunk)
        except UploadRefused as e:
            self._failed = e
            return None
        # Back-pressure: while the writer thread is behind, tornado reads no more from the socket.
        return asyncio.wrap_future(wait) if wait is not None else None

    def _close_receiver(self) -> None:
        if self._receiver is not None:
            r, self._receiver = self._receiver, None
            try:
                r.close()
            except UploadRefused as e:
                log.warning("upload %s: %s", r.upload.id, e)

    def on_connection_close(self) -> None:
        # A dropped connection: what arrived stays, and the next HEAD says where to resume; but a creation cut
        # off before its answer leaves an upload whose address the client never learned (tus clients then
        # create anew): it goes now rather than counting against the quota until it expires.
        r = self._receiver
        self._close_receiver()
        if r is not None and self.request.method == "POST":
            try:
                self._library().uploads.cancel(r.upload)
            except Exception:
                log.exception("upload %s: could not drop a creation cut off", r.upload.id)

    def on_finish(self) -> None:
        self._close_receiver()

    async def _received(self) -> Any:
        """The request's bytes are in: written, hashed, the receiver closed. Returns the receiver, or None."""
        self._body_read = True                      # tornado calls the method once the whole body is in
        r = self._receiver
        if r is None:
            return None
        await asyncio.wrap_future(r.flush())       # every accepted byte written and hashed, off the event loop
        self._receiver = None
        try:
            # A complete upload's record is written by _hand_on's finish_later, right after the answer.
            r.close(handed_on=self._failed is None)
        except UploadRefused as e:
            self._refuse(e.status, e.reason)
        if self._failed is not None:
            self._refuse(self._failed.status, self._failed.reason)
        return r

    def _hand_on(self, r: Any) -> None:
        """After the answer: the fresh checks and the decision (``finish_checked``), while the client sends its
        next file. Until then the upload reads as receiving with every byte in; a GET hands it on itself."""
        if r is None or not r.complete:
            return
        log.info("upload %s received (%d bytes)", r.upload.id, r.upload.length)
        lib, actor, upload_id = self._library(), self._actor, r.upload.id

        def hand_on() -> None:
            try:
                finish_checked(lib, actor, upload_id)
            except Exception:
                log.exception("upload %s: could not hand it to the library", upload_id)

        asyncio.get_running_loop().run_in_executor(None, hand_on)

    def _answer_received(self, u: Any, r: Any) -> None:
        self._describe(u)
        if r is not None:
            self.set_header("Upload-Offset", str(r.offset))
            if r.complete:
                self.set_header(RESULT_HEADER, "checking")

    async def post(self, upload_id: str = "") -> None:
        r = await self._received()
        u = self._created
        log.info("upload %s started by %s (%d bytes)%s", u.id, self._who, u.length,
                 " known" if u.state == "done" else "")
        self.set_status(201)
        self.set_header("Location", f"{_base(self)}upload/files/{u.id}")
        self._answer_received(u, r)
        self.finish()
        self._hand_on(r)

    async def patch(self, upload_id: str = "") -> None:
        r = await self._received()
        self._answer_received(r.upload, r)
        self.set_status(204)
        self.finish()
        self._hand_on(r)


@web.stream_request_body
class KnownHandler(TusHandler):
    """``POST /upload/known`` (ours, not tus): which of the SHA-256s the page computed (JSON ``{"sha256": [...]}``,
    at most ``KNOWN_MAX`` of them) are content the visitor already sees, ``{"known": [...]}``: one request for a batch of
    files, so a known one then costs a bodiless creation (which makes the uploader one of its owners) and a new
    one a single creation with its bytes. The same checks as a creation: XSRF, ``Tus-Resumable``, same origin,
    signed in (or an unlocked share link that accepts uploads) and allowed to upload."""

    SUPPORTED_METHODS = ("POST",)
    KNOWN_MAX = 1000
    _body_read = False

    async def prepare(self) -> None:
        self._has_body = "Transfer-Encoding" in self.request.headers or \
            self.request.headers.get("Content-Length", "0") not in ("", "0")
        self.request.connection.set_max_body_size(self.KNOWN_MAX * 80 + 1024)
        self._check_request()
        self._body = bytearray()
        share = self.get_query_argument("share", None) or None

        def allowed() -> Any:                         # reads: off the event loop
            view, _, _ = self._acting(share)
            if share:
                if not view.accepts_uploads:
                    self._refuse(403, "this share link does not accept uploads: ask the album's owner")
            elif view.role not in self._library().settings.upload_roles:
                self._refuse(403, f"uploading is turned off for {view.role}s in this library: ask an admin")
            return view

        try:
            self._view = await asyncio.get_running_loop().run_in_executor(None, allowed)
        except web.HTTPError:
            raise
        except Exception as e:
            self._fail(e)

    def data_received(self, chunk: bytes) -> None:
        self._body += chunk

    async def post(self) -> None:
        self._body_read = True
        try:
            shas = json.loads(bytes(self._body))["sha256"]
            if not isinstance(shas, list) or len(shas) > self.KNOWN_MAX or not all(isinstance(h, str) for h in shas):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            self._refuse(400, f'send {{"sha256": [...]}}: a list of at most {self.KNOWN_MAX} SHA-256s in hex')
        known = await asyncio.get_running_loop().run_in_executor(None, self._view.known_uploads, shas)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"known": sorted(known)}))


class UploadPage(web.RequestHandler):
    """``/upload``: the page. Signed-in visitors upload as themselves; ``?share=TOKEN`` into a link's album."""

    def set_default_headers(self) -> None:
        pages.plain_page_headers(self, "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
                                 "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
                                 "frame-ancestors 'none'; base-uri 'none'")

    def get(self) -> None:
        lib = identity.library_of(self)
        base = _base(self)
        token = self.get_query_argument("share", None)
        if token:
            try:
                status = lib.share_link_status(token)
            except AuthError as e:
                return self._show(pages.denied(str(e)), 403)
            share_id = status["share_id"]
            if status["needs_password"] and share_id not in identity.actors_of(self).share_ids:
                return self.redirect(base + "?" + urllib.parse.urlencode({"share": token}))
            identity.remember_share(self, share_id)
            view = lib.for_share_id(share_id)
            if not view.accepts_uploads:
                return self._show(pages.page("Upload", "<h1>Upload</h1><p class='sub wb-upload-off'>This share "
                                                       "link does not accept uploads.</p>"), 403)
            back = base + "?" + urllib.parse.urlencode({"share": token})
            self._show(upload_page(endpoint=f"{base}upload/files/?share={share_id}", xsrf=self.xsrf_token.decode(),
                                   static=f"{base}upload/static/", back=back, who=f"album “{view.name}”",
                                   albums=[]))
            return
        v = identity.actors_of(self)
        if not v.user:
            return self.redirect(base + "login?" + urllib.parse.urlencode({"next": self.request.uri or "/upload"}))
        view = lib.for_actor(f"session:{v.session_hash}")
        if view.role not in lib.settings.upload_roles:
            return self._show(pages.page("Upload", "<h1>Upload</h1><p class='sub wb-upload-off'>Uploading is "
                                                   "turned off for your account: ask an admin.</p>"), 403)
        al = view.albums()
        choices = [(r["id"], r["name"]) for r in al.to_dict("records") if r.get("access") in ("contribute",
                                                                                                "manage")]
        self._show(upload_page(endpoint=f"{base}upload/files/", xsrf=self.xsrf_token.decode(),
                               static=f"{base}upload/static/", back=base, who=v.user, albums=choices,
                               album=self.get_query_argument("album", "")))

    def _show(self, html: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)


class UploadStatic(web.StaticFileHandler):
    """The page's two scripts (no directory listing, nothing else from the folder)."""

    FILES = {"tus.min.js", "upload.js"}

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if Path(absolute_path).name not in self.FILES:
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")


def routes(base_url: str) -> list[tuple]:
    """The upload routes under the server's base URL (``server.py`` adds them)."""
    b = base_url.rstrip("/")
    return [(rf"{b}/upload", UploadPage),
            (rf"{b}/upload/known", KnownHandler),
            (rf"{b}/upload/files/?([0-9a-f]*)", TusPatchHandler),
            (rf"{b}/upload/static/(.*)", UploadStatic, {"path": str(STATIC)})]


UPLOAD_CSS = """
main { padding:24px 16px; }
.card { max-width:760px; }
.wb-drop { border:2px dashed var(--line); border-radius:12px; padding:28px 16px; text-align:center;
           color:var(--muted); margin:12px 0; }
.wb-drop.over { border-color:var(--accent); background:#eef4ff; }
.wb-pick { display:flex; flex-wrap:wrap; gap:8px; justify-content:center; margin-top:10px; }
.wb-pick label { display:inline-block; margin:0; padding:10px 14px; border-radius:8px; background:var(--accent);
                 color:#fff; font-size:15px; cursor:pointer; }
.wb-pick input { position:absolute; left:-9999px; width:1px; height:1px; opacity:0; }
select { width:100%; height:40px; border:1px solid var(--line); border-radius:8px; padding:0 8px; font-size:15px;
         background:#fff; }
.wb-bar { height:8px; background:var(--line); border-radius:4px; overflow:hidden; }
.wb-bar > div { height:100%; width:0; background:var(--accent); transition:width .2s; }
.wb-total { margin:14px 0 6px; font-size:14px; color:var(--muted); }
.wb-files { list-style:none; padding:0; margin:8px 0 0; }
.wb-file { border-top:1px solid var(--line); padding:8px 0; }
.wb-file .row { display:flex; gap:8px; align-items:center; justify-content:space-between; font-size:14px; }
.wb-file .name { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; min-width:0; flex:1; }
.wb-file .state { font-size:13px; color:var(--muted); margin-top:4px; overflow-wrap:anywhere; }
.wb-file.done .state { color:var(--ok); }
.wb-file.failed .state { color:var(--danger); }
.wb-file.failed .wb-bar > div { background:var(--danger); }
button:disabled { opacity:.45; cursor:default; }
button.small { width:auto; height:32px; margin:0; padding:0 12px; font-size:14px; }
.wb-actions { display:flex; gap:8px; margin-top:8px; }
.wb-actions button { width:auto; margin-top:0; padding:0 16px; }
"""


def upload_page(*, endpoint: str, xsrf: str, static: str, back: str, who: str, albums: list[tuple[str, str]],
                album: str = "") -> str:
    """The upload page: everything it needs is in data attributes; the behaviour is in ``static/upload.js``."""
    options = "".join(f"<option value='{escape(a)}'{' selected' if a == album else ''}>{escape(n)}</option>"
                      for a, n in albums)
    select = (f"<label for='wb-album'>Into an album (optional)</label><select id='wb-album' class='wb-album'>"
              f"<option value=''>No album</option>{options}</select>") if albums else ""
    body = (
        "<h1>Upload</h1>"
        f"<p class='sub'>Photos and videos, added for {escape(who)}. "
        f"<a href='{escape(back)}' class='wb-back'>Back to the gallery</a></p>"
        f"<div id='wb-upload' data-endpoint='{escape(endpoint)}' data-xsrf='{escape(xsrf)}' "
        f"data-hash-max='{PAGE_HASH_MAX_BYTES}' data-chunk='{PAGE_CHUNK_BYTES}' "
        f"data-one-request-max='{PAGE_ONE_REQUEST_MAX_BYTES}'>"
        f"{select}"
        "<div class='wb-drop' id='wb-drop'>Drop photos, videos or folders here"
        "<div class='wb-pick'>"
        "<label>Choose files<input type='file' id='wb-files' class='wb-pick-files' multiple "
        "accept='image/*,video/*'></label>"
        "<label>Choose a folder<input type='file' id='wb-folder' class='wb-pick-folder' webkitdirectory "
        "multiple></label></div></div>"
        "<div class='wb-total'><span id='wb-total-text'>Nothing to upload yet.</span>"
        "<div class='wb-bar wb-total-bar'><div id='wb-total-bar'></div></div></div>"
        "<div class='wb-actions'><button type='button' id='wb-pause' class='small wb-pause-all' disabled>Pause"
        "</button><button type='button' id='wb-resume' class='small wb-resume-all' disabled>Resume</button></div>"
        "<ul class='wb-files' id='wb-list'></ul></div>"
        f"<script src='{escape(static)}tus.min.js'></script><script src='{escape(static)}upload.js'></script>")
    html = pages.page("Upload", body, "wb-upload-page")
    return html.replace("</style>", UPLOAD_CSS + "</style>", 1)


def _base(handler: Any) -> str:
    b = handler.settings.get("base_url", "/") or "/"
    return b if b.endswith("/") else b + "/"


def _reason_line(text: str) -> str:
    """An HTTP reason phrase: one line of ASCII (the body carries the reason in full)."""
    return " ".join(str(text).split()).encode("ascii", "replace").decode()[:200]


def _http_date(ts: float) -> str:
    from email.utils import formatdate
    return formatdate(ts, usegmt=True)
