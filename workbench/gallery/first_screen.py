"""The gallery's first screen without a kernel: the timeline as plain HTML from the gallery's own server.

A Voilà page costs its visitor a kernel that draws ~400 widgets before anything shows (~1.3 CPU-s per viewer,
docs/benchmarks.md, gallery load). Most visits start by looking at the latest photos, so that screen is served
here by Tornado handlers beside Voilà, like the sign-in and upload pages. It is where a signed-in visitor lands
(sign-in and ``/`` lead here, ``handlers.LandingHandler``); a kernel starts only when the visitor clicks something
that needs one (search, albums, people, favourites, managing: the links lead to the Voilà app at ``/app``).

Routes (added by ``server.py``):

* ``/timeline`` (``TimelinePage``): a signed-in visitor's timeline (newest first, month headings, the first
  ``FIRST_SCREEN_ITEMS`` tiles in the HTML); ``/timeline?share=TOKEN``: a share link's album (its password
  page first when it has one; ``/timeline/share`` takes that form and comes back here). Strangers are sent to
  the sign-in page; nobody gets a kernel here.
* ``/timeline/items?offset=N[&share=<share id>]`` (``TimelineItems``): the next tiles as JSON, for scrolling.
* ``/workbench/thumb/<ticket>`` and ``/workbench/preview/<ticket>`` (``RenditionHandler``): a tile's thumbnail
  and the preview shown when a photo is opened, for the same signed tickets the media handler serves
  originals for (``links.py``: bound to the visitor, the server's secret).
* ``/timeline/static/first_screen.js``: the page's one script (scrolling, the photo overlay, keyboard).

Every request is checked as the rest of the gallery checks it: the ``Host`` allow-list (the application), the
session cookie or unlocked share link read afresh from the catalog (``identity.actors_of``), then the visitor's
own view (``Library.for_actor``: ``UserView`` or ``AlbumView``) for what is listed or served; sign-out,
revocation, album membership and the trash apply at once to the page, its JSON and every picture. Names from
the library are escaped in the HTML and set as text by the script (never as markup). The page has no inline
script and a strict Content-Security-Policy.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import threading
import time
import urllib.parse
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePath
from typing import Any

import pandas as pd
from tornado import web

from workbench.errors import AuthError
from workbench.gallery import identity, pages
from workbench.gallery.handlers import APP_PATH, ShareUnlockHandler
from workbench.gallery.links import ROUTE as MEDIA_ROUTE
from workbench.gallery.links import DEFAULT_LINK_TTL_S, LinkError, sign, verify

log = logging.getLogger("workbench.gallery.first_screen")

STATIC = Path(__file__).resolve().parent / "static"
#: Tiles in the page itself and per JSON page: two screens of tiles on a laptop, as the Voilà grid's chunk.
FIRST_SCREEN_ITEMS = 48
#: Largest page of tiles the JSON route gives at once (a script asking for more gets this many).
MAX_ITEMS_PER_REQUEST = 200
THUMB_ROUTE = "workbench/thumb"
PREVIEW_ROUTE = "workbench/preview"
#: Thumbnail and preview bytes the server keeps (most recently used; a scrolling visitor asks for each once, and
#: 40 viewers of one album ask for the same ones). Bytes are only handed out after the access check.
PICTURE_CACHE_BYTES = 64 * 1024 * 1024
#: Threads reading thumbnails and previews (a read is one catalog query and files; two overlap their waits).
PICTURE_READERS = 2
#: Video types browsers play in a <video> element (others are offered as a download).
PLAYABLE_VIDEO = frozenset({"video/mp4", "video/webm", "video/ogg"})
#: The pages' policy: scripts only from this server (no inline script), pictures and videos from this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _base(handler: web.RequestHandler) -> str:
    b = handler.settings.get("base_url", "/") or "/"
    return b if b.endswith("/") else b + "/"


def _duration(seconds: Any) -> str:
    if seconds is None or pd.isna(seconds) or not seconds:
        return ""
    s = int(round(float(seconds)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class PictureCache:
    """Thumbnail and preview bytes (or their data: URLs) by (media id, which), bounded by size. Only consulted
    after the visitor's view allowed the media, so it never decides who sees what."""

    def __init__(self, max_bytes: int = PICTURE_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, str]) -> Any:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, key: tuple[str, str], data: bytes | str) -> None:
        if key in self._items or len(data) > self.max_bytes // 4:
            return
        self._items[key] = data
        self._bytes += len(data)
        while self._bytes > self.max_bytes and self._items:
            _, old = self._items.popitem(last=False)
            self._bytes -= len(old)


class Pictures:
    """Thumbnails and previews, read through a visit's view a timeline page at a time (everybody asking for the
    same page at once shares one read) and kept in a ``PictureCache``. Asked only after the visit's sight
    allowed the media."""

    def __init__(self, max_bytes: int = PICTURE_CACHE_BYTES):
        self.cache = PictureCache(max_bytes)
        # Thumbnails as data: URLs, encoded once (base64 of ~17 KB, 48 per page, for every visitor)
        self.urls = PictureCache(max_bytes // 2)
        self._reading: dict[tuple[str, tuple[str, ...]], asyncio.Future] = {}
        # Threads of their own: a page whose listing is done must not wait for the picture read behind the
        # listings of every visitor who arrived after it (the default pool is first come, first served).
        self._pool = ThreadPoolExecutor(PICTURE_READERS, thread_name_prefix="first-screen-pictures")

    async def read(self, sight: "Sight", ids: list[str], which: str = "thumb") -> dict[str, bytes | None]:
        out = {m: self.cache.get((m, which)) for m in ids}
        missing = tuple(m for m, b in out.items() if b is None)
        if not missing:
            return out
        key = (which, missing)
        fut = self._reading.get(key)
        if fut is None:
            fut = asyncio.get_running_loop().run_in_executor(self._pool, sight.view.thumbnails, list(missing), which)
            self._reading[key] = fut

            def done(f: asyncio.Future) -> None:
                self._reading.pop(key, None)
                if not f.cancelled() and f.exception() is None:
                    for m, b in f.result().items():
                        if b:
                            self.cache.put((m, which), b)
            fut.add_done_callback(done)
        out.update(await asyncio.shield(fut))
        return out

    async def page_of(self, sight: "Sight", start: int, stop: int) -> dict[str, str]:
        """The thumbnails of the tiles ``start..stop`` of a sight as data: URLs ("" where there is none yet)."""
        ids = [t[0] for t in sight.tiles[start:stop]]
        out = {m: self.urls.get((m, "thumb")) for m in ids}
        missing = [m for m, u in out.items() if u is None]
        if missing:
            for m, picture in (await self.read(sight, missing, "thumb")).items():
                out[m] = data_url(picture)
                if picture:
                    self.urls.put((m, "thumb"), out[m])
        return out


def data_url(picture: bytes | None) -> str:
    return "data:image/webp;base64," + base64.b64encode(picture).decode() if picture else ""


#: A visitor's timeline (and so what they may see) is remembered while ``Library.access.access_mark()`` stays the
#: same, for at most this long: sessions and links that run out by the clock are not in the mark. The page and
#: its JSON check the session or link afresh on every request anyway; this bounds only how long pictures are
#: still served after a session or link *expired* without anybody ending it (sign-out, revocation, membership
#: and the trash change the mark, so they apply at once).
SIGHT_MAX_AGE_S = 30.0
#: Visitors whose timeline is remembered (least recently used forgotten first).
SIGHT_ENTRIES = 2000


#: Timelines kept for sharing between visits that see the same media (the 40 viewers of one album list it once).
LISTINGS = 64


@dataclass
class Listing:
    """A timeline's tiles in order, as a view listed them: the same for every visit whose view sees the same
    media (a tile's text comes from the media's own row, never from who looks), so visits share it."""
    tiles: list[tuple[str, str, str, str, str, str, bool]]
    position: dict[str, int]


@dataclass
class Sight:
    """One visit's timeline as its view listed it, and the access mark it was listed under."""
    actor: str
    mark: tuple
    at: float
    view: Any
    listing: Listing
    user: str | None = None
    info: dict[str, Any] | None = None

    @property
    def tiles(self) -> list[tuple[str, str, str, str, str, str, bool]]:
        return self.listing.tiles

    @property
    def position(self) -> dict[str, int]:
        return self.listing.position

    @property
    def total(self) -> int:
        return len(self.listing.tiles)

    @property
    def share_id(self) -> str | None:
        kind, _, value = self.actor.partition(":")
        return value if kind == "share" else None


class Sights:
    """The timelines of the visits being served, asked of their views (``Library.for_actor``) and reused while
    nothing that decides access has changed. Lives on the server's event loop; the library is only read in
    worker threads, and requests that arrive together share one read of the mark and one listing per visit."""

    def __init__(self, library: Any):
        self.library = library
        self._entries: OrderedDict[str, Sight] = OrderedDict()
        # (media table version, the media a view sees) -> that view's listing; read and written in worker threads
        self._listings: OrderedDict[tuple, Listing] = OrderedDict()
        self._listings_lock = threading.Lock()
        self._computing: dict[str, tuple[float, asyncio.Future]] = {}
        self._mark: asyncio.Future | None = None
        self._mark_started = float("-inf")

    async def mark(self, since: float) -> tuple:
        """The access mark, read after ``since`` (when the request arrived): a read already started after that
        moment is shared, so a burst of requests costs one read, and a change before a request is always seen."""
        if self._mark is None or self._mark_started < since:
            self._mark_started = time.monotonic()
            self._mark = asyncio.get_running_loop().run_in_executor(None, self.library.access.access_mark)
        return await asyncio.shield(self._mark)

    async def of(self, actor: str, since: float) -> Sight:
        """The visit's timeline as of a moment after ``since``; ``AuthError`` once the session or link ended."""
        hit = self._entries.get(actor)
        if hit is not None and time.monotonic() - hit.at < SIGHT_MAX_AGE_S and hit.mark == await self.mark(since):
            self._entries.move_to_end(actor)
            return hit
        running = self._computing.get(actor)
        if running is None or running[0] < since:       # a listing started before this request may miss a change
            fut = asyncio.get_running_loop().run_in_executor(None, self._list, actor)
            running = self._computing[actor] = (time.monotonic(), fut)
            fut.add_done_callback(lambda f: self._computing.pop(actor, None)
                                  if self._computing.get(actor, (0, None))[1] is f else None)
        try:
            sight = await asyncio.shield(running[1])
        except AuthError:
            self._entries.pop(actor, None)
            raise
        self._entries[actor] = sight
        self._entries.move_to_end(actor)
        while len(self._entries) > SIGHT_ENTRIES:
            self._entries.popitem(last=False)
        return sight

    def _list(self, actor: str) -> Sight:
        """The mark, then the listing (in that order: a change meanwhile moves the mark past this one). The view
        says what this visit sees (its session or link checked); visits that see the same media, at the same
        version of the media table, share one listing (made by the first of them through its own view)."""
        mark = self.library.access.access_mark()
        media_version = self.library.media.version()
        view = self.library.for_actor(actor)          # AuthError: the session or link has ended
        key = (media_version, view.scope().ids())     # what this visitor may see, now
        with self._listings_lock:
            listing = self._listings.get(key)
            if listing is not None:
                self._listings.move_to_end(key)
        if listing is None:
            rows = view.media(sort="date", desc=True)     # newest first, only what this visitor may see
            ids = rows["id"].astype(str).tolist()
            listing = Listing(tile_texts(rows), {m: i for i, m in enumerate(ids)})
            if self.library.access.access_mark() == mark:    # nothing changed since the key: it is this set's
                with self._listings_lock:
                    self._listings[key] = listing
                    while len(self._listings) > LISTINGS:
                        self._listings.popitem(last=False)
        share = actor.startswith("share:")
        return Sight(actor, mark, time.monotonic(), view, listing, user=None if share else view.name,
                     info=view.info() if share else None)


def sights_of(handler: web.RequestHandler) -> Sights:
    s = handler.settings.get("workbench_first_screen_sights")
    if s is None:
        s = handler.settings["workbench_first_screen_sights"] = Sights(identity.library_of(handler))
    return s


def pictures_of(handler: web.RequestHandler) -> Pictures:
    p = handler.settings.get("workbench_first_screen_pictures")
    if p is None:
        p = handler.settings["workbench_first_screen_pictures"] = Pictures()
    return p


def claims(handler: web.RequestHandler, actor: str) -> bool:
    """Whether a request's cookies name this visit (whether the visit is still live is the sight's question): the
    session cookie's hash, or a link in the signed cookie of unlocked links."""
    kind, _, value = actor.partition(":")
    if kind == "session" and value:
        token = handler.get_cookie(identity.SESSION_COOKIE)
        return bool(token) and hmac.compare_digest(identity.token_hash(token), value)
    return kind == "share" and bool(value) and value in identity.shares_in_cookie(handler)


def inline(handler: web.RequestHandler) -> bool:
    """Whether thumbnails travel in the page and its JSON (``gallery_first_screen_inline``)."""
    return bool(identity.library_of(handler).settings.gallery_first_screen_inline)


def tile_texts(rows: pd.DataFrame) -> list[tuple[str, str, str, str, str, str, bool]]:
    """(media id, name, kind, month, when, duration, playable video) of every row, worked out once per listing
    (the JSON pages of a timeline then only sign links)."""
    n = len(rows)

    def col(name: str) -> list[Any]:
        return rows[name].tolist() if name in rows.columns else [None] * n
    taken = pd.to_datetime(rows["taken_at"], errors="coerce") if "taken_at" in rows.columns else pd.Series([pd.NaT] * n)
    months = taken.dt.strftime("%B %Y").fillna("Date unknown").tolist()
    whens = taken.dt.strftime("%-d %B %Y, %H:%M").fillna("").tolist()
    out = []
    for mid, name, path, kind, mime, dur, month, when in zip(col("id"), col("name"), col("path"), col("kind"),
                                                             col("mime"), col("duration_s"), months, whens):
        kind = str(kind or "")
        name = str(name) if isinstance(name, str) and name else PurePath(str(path or "")).name
        out.append((str(mid), name, kind, month, when, _duration(dur) if kind == "video" else "",
                    kind == "video" and str(mime or "") in PLAYABLE_VIDEO))
    return out


def items_of(sight: Sight, start: int, stop: int, secret: str, base: str,
             pictures: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The tiles ``start..stop`` of a timeline: text to show and signed links (made after the view listed the
    media, bound to this visitor), no media ids. With ``pictures`` (data: URLs) the thumbnails are in the tiles."""
    out = []
    ttl, actor = DEFAULT_LINK_TTL_S, sight.actor
    for i, (mid, name, kind, month, when, duration, playable) in enumerate(sight.tiles[start:stop], start=start):
        ticket = sign(secret, mid, ttl_s=ttl, actor=actor)
        out.append({
            "i": i, "name": name, "kind": kind, "month": month, "when": when, "duration": duration,
            "thumb": pictures.get(mid, "") if pictures is not None else f"{base}{THUMB_ROUTE}/{ticket}",
            "preview": f"{base}{PREVIEW_ROUTE}/{ticket}",
            "video": f"{base}{MEDIA_ROUTE}/{ticket}" if playable else "",
            "download": f"{base}{MEDIA_ROUTE}/{sign(secret, mid, download=True, ttl_s=ttl, actor=actor)}",
        })
    return out


class _Plain(web.RequestHandler):
    """Headers of every first-screen answer: never cached, never framed, never sniffed."""

    def set_default_headers(self) -> None:
        pages.plain_page_headers(self, CSP)

    def initialize(self, secret: str) -> None:  # type: ignore[override]
        self.secret = secret
        self.arrived = time.monotonic()

    def _show(self, html: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)

    def compute_etag(self) -> str | None:
        return None     # never cached (no-store): hashing ~1 MB of page with its thumbnails would be wasted

    async def _visitor(self) -> identity.Visitor:
        """The visitor, checked afresh against the catalog (off the event loop)."""
        return await asyncio.get_running_loop().run_in_executor(None, identity.actors_of, self)

    async def _sight(self, share_id: str | None, *, named: bool = False) -> Sight:
        """The timeline of the visit this request's cookies name: the share link ``share_id`` if this browser
        unlocked it (or ``named``: the request carries the link's token, just checked), else the signed-in
        session. Whether that visit is still live is the sight's question (asked of the library when listed, and
        listed again as soon as the access mark moves: sign-out, revocation); ``AuthError`` otherwise."""
        if share_id:
            actor = f"share:{share_id}"
        else:
            token = self.get_cookie(identity.SESSION_COOKIE)
            if not token:
                raise AuthError("not signed in: sign in first")
            actor = f"session:{identity.token_hash(token)}"
        if not (named or claims(self, actor)):
            raise AuthError("this share link is no longer valid: ask for a new one")
        return await sights_of(self).of(actor, self.arrived)


class TimelinePage(_Plain):
    """``/timeline``: the first screen of a signed-in visitor or of an unlocked share link."""

    async def get(self) -> None:
        lib = identity.library_of(self)
        base = _base(self)
        token = self.get_query_argument("share", None)
        loop = asyncio.get_running_loop()
        share_id = None
        if token:
            try:
                status = await loop.run_in_executor(None, lib.share_link_status, token)
            except AuthError as e:
                return self._show(pages.denied(str(e)), 403)
            share_id = status["share_id"]
            if status["needs_password"] and share_id not in (await self._visitor()).share_ids:
                return self._show(pages.share_password(action=base + "timeline/share",
                                                       xsrf_html=self.xsrf_form_html(), token=token))
            identity.remember_share(self, share_id)
        try:
            sight = await self._sight(share_id, named=bool(token))
        except AuthError as e:
            if share_id:
                return self._show(pages.denied(str(e)), 403)
            return self.redirect(base + "login?" + urllib.parse.urlencode({"next": self.request.uri or
                                                                           base + "timeline"}))
        pics = await pictures_of(self).page_of(sight, 0, FIRST_SCREEN_ITEMS) if inline(self) else None
        self._show(self._render(sight, token, pics))

    def _render(self, sight: Sight, token: str | None, pics: dict[str, bytes | None] | None) -> str:
        base = _base(self)
        items = items_of(sight, 0, FIRST_SCREEN_ITEMS, self.secret, base, pics)
        n = f"{sight.total:,} item{'' if sight.total == 1 else 's'}"
        if sight.share_id:
            info = sight.info or {}
            q = urllib.parse.urlencode({"share": token})
            title, sub = str(info.get("name", "")), f"{n} shared by {info.get('owner', '')}"
            links = [(f"{base}{APP_PATH}?{q}", "Download and more", "wb-full")]
            if sight.view.accepts_uploads:
                links.append((f"{base}upload?{q}", "Upload", "wb-upload-link"))
            who, sign_out = "Shared album", ""
            feed = f"{base}timeline/items?" + urllib.parse.urlencode({"share": sight.share_id})
            empty = "This album is empty."
        else:
            title, sub = "Photos", n
            links = [(base + APP_PATH, "Search, albums & people", "wb-full"),
                     (f"{base}upload", "Upload", "wb-upload-link")]
            who = sight.user or ""
            sign_out = (f"<form method='post' action='{escape(base)}logout' class='wb-logout-form'>"
                        f"{self.xsrf_form_html()}<button type='submit' class='wb-logout'>Sign out</button></form>")
            feed = f"{base}timeline/items"
            empty = "No photos yet. Add yours with Upload."
        return timeline_html(title=title, sub=sub, who=who, links=links, sign_out=sign_out, items=items,
                             total=sight.total, feed=feed, static=f"{base}timeline/static/", empty=empty)


class TimelineItems(_Plain):
    """``/timeline/items?offset=N``: the next tiles as JSON (403 once the session or link has ended)."""

    async def get(self) -> None:
        try:
            offset = max(0, int(self.get_query_argument("offset", "0")))
            count = min(MAX_ITEMS_PER_REQUEST, max(1, int(self.get_query_argument("count",
                                                                                     str(FIRST_SCREEN_ITEMS)))))
        except ValueError:
            return self._json({"error": "offset and count are whole numbers"}, 400)
        try:
            sight = await self._sight(self.get_query_argument("share", None) or None)
        except AuthError as e:
            return self._json({"error": str(e)}, 403)
        total = sight.total
        stop = min(total, offset + count)
        pics = await pictures_of(self).page_of(sight, offset, stop) if inline(self) else None
        self._json(page_json(total, items_of(sight, offset, stop, self.secret, _base(self), pics),
                             stop if stop < total else None))

    def _json(self, body: dict[str, Any] | str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(body if isinstance(body, str) else json.dumps(body))


def page_json(total: int, items: list[dict[str, Any]], next_offset: int | None) -> str:
    """A JSON page of tiles. A thumbnail's data: URL (~17 KB of base64, nothing in it to escape) is put in as it
    is: ``json.dumps`` scanning ~0.8 MB of them per page was the largest CPU share of a scrolling viewer."""
    parts = []
    for it in items:
        thumb = it["thumb"]
        if thumb.startswith("data:image/webp;base64,") and '"' not in thumb and "\\" not in thumb:
            rest = json.dumps({k: v for k, v in it.items() if k != "thumb"})
            parts.append(f'{rest[:-1]}, "thumb": "{thumb}"}}')
        else:
            parts.append(json.dumps(it))
    return f'{{"total": {int(total)}, "items": [{", ".join(parts)}], "next": {json.dumps(next_offset)}}}'


class RenditionHandler(web.RequestHandler):
    """A thumbnail or preview for a signed media ticket, served only to the visitor it was signed for (the same
    session cookie or unlocked link), and only while that visit's view lists the media: its timeline is
    re-listed whenever the access mark moves, so sign-out, revocation, membership and the trash apply at once.
    Thumbnails are read a timeline page at a time (one read for the tiles a page shows) and kept in memory."""

    def initialize(self, secret: str, which: str) -> None:  # type: ignore[override]
        self.secret = secret
        self.which = which
        self.arrived = time.monotonic()

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, max-age=600")

    async def get(self, ticket: str) -> None:
        try:
            t = verify(self.secret, ticket)
            if not claims(self, t.actor):
                raise LinkError("this picture belongs to another visit: open the gallery again")
            sight = await sights_of(self).of(t.actor, self.arrived)
            if t.media_id not in sight.position:
                raise AuthError("this media is no longer available to you")
        except (LinkError, AuthError) as e:
            raise web.HTTPError(403, reason=str(e)[:200].encode("ascii", "replace").decode()) from None
        mid = t.media_id
        if self.which == "thumb":      # the thumbnails of the timeline page it is on: one read for them all
            start = sight.position[mid] // FIRST_SCREEN_ITEMS * FIRST_SCREEN_ITEMS
            ids = [tile[0] for tile in sight.tiles[start:start + FIRST_SCREEN_ITEMS]]
        else:
            ids = [mid]
        try:
            data = (await pictures_of(self).read(sight, ids, self.which)).get(mid)
        except AuthError as e:
            raise web.HTTPError(403, reason=str(e)[:200].encode("ascii", "replace").decode()) from None
        if not data:
            raise web.HTTPError(404, reason="no picture yet")
        self.set_header("Content-Type", "image/webp")
        self.finish(data)

    def compute_etag(self) -> str | None:
        return None          # a ticket is new at every page; the bytes need no hash

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(f"{status_code}: {self._reason}")


class TimelineShareUnlock(ShareUnlockHandler):
    """The share password form of ``/timeline?share=TOKEN``: the same check as ``/share``, back to the timeline."""

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        base = _base(self)
        if url.startswith(f"{base}{APP_PATH}?"):
            url = base + "timeline" + url[len(base + APP_PATH):]
        super().redirect(url, permanent, status)


class FirstScreenStatic(web.StaticFileHandler):
    """The page's script only (no directory listing, nothing else from the folder)."""

    FILES = {"first_screen.js"}

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if Path(absolute_path).name not in self.FILES:
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")


def routes(base_url: str, secret: str) -> list[tuple]:
    """The first screen's routes under the server's base URL (``server.py`` adds them)."""
    b = base_url.rstrip("/")
    return [(rf"{b}/timeline", TimelinePage, {"secret": secret}),
            (rf"{b}/timeline/items", TimelineItems, {"secret": secret}),
            (rf"{b}/timeline/share", TimelineShareUnlock),
            (rf"{b}/timeline/static/(.*)", FirstScreenStatic, {"path": str(STATIC)}),
            (rf"{b}/{THUMB_ROUTE}/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", RenditionHandler,
             {"secret": secret, "which": "thumb"}),
            (rf"{b}/{PREVIEW_ROUTE}/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", RenditionHandler,
             {"secret": secret, "which": "preview"})]


TIMELINE_CSS = """
body { background:var(--bg); }
header.wb-top { display:flex; flex-wrap:wrap; align-items:center; gap:4px 14px; padding:10px 16px; }
header.wb-top .wb-brand { font-weight:650; margin-right:auto; }
header.wb-top a, header.wb-top .wb-who { color:#cfd4dc; text-decoration:none; font-weight:500; font-size:14px;
        white-space:nowrap; padding:6px 0; }
header.wb-top a:hover { color:#fff; }
header.wb-top form { margin:0; }
header.wb-top button { width:auto; height:32px; margin:0; padding:0 12px; font-size:14px; background:#2a3344; }
main.wb-timeline { display:block; padding:12px 16px 40px; max-width:1400px; margin:0 auto; }
.wb-title { font-size:22px; font-weight:650; margin:4px 0 0; }
.wb-sub { color:var(--muted); font-size:14px; margin:0 0 6px; }
.wb-grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(170px, 1fr)); gap:6px; }
.wb-month { grid-column:1 / -1; font-size:15px; font-weight:600; margin:14px 0 2px; }
.wb-tile { position:relative; display:block; aspect-ratio:1 / 1; border-radius:6px; overflow:hidden;
           background:#e4e7ec; min-width:0; }
.wb-tile img { width:100%; height:100%; object-fit:cover; display:block; }
.wb-tile .wb-badge { position:absolute; right:6px; bottom:6px; background:rgba(0,0,0,.6); color:#fff;
           font-size:12px; border-radius:4px; padding:1px 6px; }
.wb-more { display:block; width:auto; margin:18px auto 0; padding:0 22px; }
.wb-more[hidden], .wb-view[hidden] { display:none; }
.wb-note { color:var(--muted); text-align:center; margin:16px 0; }
.wb-view { position:fixed; inset:0; z-index:50; background:rgba(10,12,16,.94); color:#f2f4f7; display:flex;
           flex-direction:column; }
.wb-view .wb-stage { flex:1; min-height:0; display:flex; align-items:center; justify-content:center;
           position:relative; }
.wb-view img, .wb-view video { max-width:100%; max-height:100%; object-fit:contain; }
.wb-view .wb-bar { display:flex; align-items:center; gap:10px; padding:10px 14px; flex-wrap:wrap; }
.wb-view .wb-bar .wb-name { font-weight:600; overflow-wrap:anywhere; margin-right:auto; min-width:0; }
.wb-view .wb-bar a { color:#cfd4dc; }
.wb-view button { width:auto; height:40px; margin:0; padding:0 14px; background:#2a3344; }
.wb-view .wb-nav { position:absolute; top:50%; transform:translateY(-50%); width:48px; height:64px;
           font-size:28px; background:rgba(0,0,0,.35); }
.wb-view .wb-prev { left:6px; } .wb-view .wb-next { right:6px; }
@media (max-width: 600px) {
  main.wb-timeline { padding:8px 6px 32px; }
  .wb-grid { grid-template-columns:repeat(3, minmax(0, 1fr)); gap:3px; }
  .wb-tile { border-radius:3px; }
  .wb-title { font-size:19px; }
  header.wb-top { padding:8px 10px; gap:2px 12px; }
}
"""


def _src(url: str) -> str:
    """An <img> source for an attribute: a data: URL of ours is base64 (nothing to escape in ~17 KB, which
    ``escape`` would scan five times); anything else is escaped."""
    return url if url.startswith("data:image/webp;base64,") and "'" not in url else escape(url)


def _tile(it: dict[str, Any]) -> str:
    badge = f"<span class='wb-badge'>▶ {escape(it['duration'])}</span>" if it["kind"] == "video" else ""
    return (f"<a class='wb-tile' href='{escape(it['preview'])}' data-i='{int(it['i'])}' "
            f"data-name='{escape(it['name'])}' data-kind='{escape(it['kind'])}' data-when='{escape(it['when'])}' "
            f"data-preview='{escape(it['preview'])}' data-video='{escape(it['video'])}' "
            f"data-download='{escape(it['download'])}' title='{escape(it['name'])}'>"
            f"<img src='{_src(it['thumb'])}' alt='{escape(it['name'])}' decoding='async'>{badge}</a>")


def timeline_html(*, title: str, sub: str, who: str, links: list[tuple[str, str, str]], sign_out: str,
                  items: list[dict[str, Any]], total: int, feed: str, static: str, empty: str) -> str:
    """The page: header, the first tiles with month headings, the photo overlay; behaviour in
    ``static/first_screen.js``. Every value from the library is escaped here."""
    tiles, last = [], None
    for it in items:
        if it["month"] != last:
            tiles.append(f"<h2 class='wb-month'>{escape(it['month'])}</h2>")
            last = it["month"]
        tiles.append(_tile(it))
    nav = "".join(f"<a href='{escape(href)}' class='{escape(cls)}'>{escape(text)}</a>" for href, text, cls in links)
    more = len(items) < total
    body = (
        f"<div id='wb-timeline' data-feed='{escape(feed)}' data-next='{len(items) if more else ''}' "
        f"data-total='{int(total)}'>"
        f"<h1 class='wb-title'>{escape(title)}</h1><p class='sub wb-sub'>{escape(sub)}</p>"
        + ("" if items else f"<p class='wb-note wb-empty'>{escape(empty)}</p>") +
        f"<div class='wb-grid' id='wb-grid'>{''.join(tiles)}</div>"
        f"<button type='button' class='wb-more' id='wb-more'{'' if more else ' hidden'}>Load more</button>"
        "<p class='wb-note' id='wb-status' role='status'></p></div>"
        "<div class='wb-view' id='wb-view' hidden role='dialog' aria-label='Photo'>"
        "<div class='wb-stage'><img id='wb-view-img' alt=''><video id='wb-view-video' controls playsinline "
        "preload='metadata' hidden></video>"
        "<button type='button' class='wb-nav wb-prev' id='wb-prev' aria-label='Previous'>‹</button>"
        "<button type='button' class='wb-nav wb-next' id='wb-next' aria-label='Next'>›</button></div>"
        "<div class='wb-bar'><span class='wb-name' id='wb-view-name'></span>"
        "<span class='wb-when' id='wb-view-when'></span><span id='wb-view-pos'></span>"
        "<a id='wb-view-download' href='#' download>Download</a>"
        "<button type='button' class='wb-close' id='wb-close'>✕ Close</button></div></div>"
        f"<script src='{escape(static)}first_screen.js'></script>")
    html = pages.page(title, body, "wb-timeline-page")
    header = (f"<header class='wb-top'><span class='wb-brand'>▣ Workbench</span>{nav}"
              f"<span class='wb-who'>{escape(who)}</span>{sign_out}</header><main class='wb-timeline'>")
    html = html.replace("<header>▣ Workbench</header><main><div class='card'>", header, 1)
    html = html.replace("</div></main></body>", "</main></body>", 1)
    return html.replace("</style>", TIMELINE_CSS + "</style>", 1)
