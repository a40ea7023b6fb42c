"""``POST /workbench/zip``: a selection or an album as one zip, streamed as it is read, never built in memory.

The page posts a ticket the kernel signed for its visitor (``links.sign_zip``: media ids or an album, the actor,
an expiry) together with Tornado's XSRF token. Like the media handler, this handler serves it only to a request
that still carries that visitor (the same live session cookie or unlocked share link), and asks the visitor's
view again which of the media it may read now: a media trashed, removed from the album, or never visible to this
visitor is left out, never included. Originals are stored as they came (JPEG, HEIC, MP4: already compressed), so
entries are ``ZIP_STORED``: the zip's size is known before its first byte (``Content-Length``, so the browser
shows progress) and each file is copied through in ``CHUNK_BYTES`` reads, handed to the connection ``WRITE_BYTES``
at a time; the next is read only after the connection took the last, so memory stays flat whatever the zip's size
(zipstream-ng writes the zip format to a non-seekable stream, with data descriptors and ZIP64 where needed).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Any

import zipstream
from tornado import iostream, web
from tornado.ioloop import IOLoop

from workbench.errors import AuthError, NotFoundError
from workbench.gallery import identity
from workbench.gallery.links import LinkError, ZipTicket, verify_zip
from workbench.gallery.media_handler import content_disposition

log = logging.getLogger("workbench.gallery")

#: Bytes read from an original per piece of the stream (zipstream-ng's read size, 64 KiB).
CHUNK_BYTES = zipstream.ng.READ_BUFFER
#: Bytes gathered (in a worker thread) before each write to the connection: handing over every 64 KiB piece
#: through the event loop ran at 0.44x the media handler's throughput (benchmarks/gallery_zip.py); a few of these
#: per download is all the memory a zip costs.
WRITE_BYTES = 1024 * 1024


def zip_entries(library: Any, media_ids: Iterable[str]) -> list[dict[str, Any]]:
    """[{"path", "name"}] for the media (full ids the caller's view allowed), in order, with distinct names:
    two files called ``IMG_0001.JPG`` become ``IMG_0001.JPG`` and ``IMG_0001 (2).JPG``."""
    taken: set[str] = set()
    out = []
    for f in library.download_files(media_ids):
        p = PurePath(f["name"] or f["id"])
        name, n = p.name, 1
        while name.lower() in taken:
            n += 1
            name = f"{p.stem} ({n}){p.suffix}"
        taken.add(name.lower())
        out.append({"path": str(f["path"]), "name": name})
    return out


def zip_stream(entries: list[dict[str, Any]]) -> zipstream.ZipStream:
    """A sized, uncompressed zip of the entries' files (nothing read until it is iterated)."""
    zs = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    for e in entries:
        zs.add_path(e["path"], e["name"])
    return zs


def zip_size(entries: list[dict[str, Any]]) -> int:
    """The exact byte size of the zip ``zip_chunks`` makes of these entries."""
    return len(zip_stream(entries))


def zip_chunks(entries: list[dict[str, Any]]) -> Iterator[bytes]:
    """The zip of the entries, piece by piece (headers, then each file in ``CHUNK_BYTES`` reads)."""
    yield from zip_stream(entries)


def gather(pieces: Iterator[bytes], size_bytes: int = WRITE_BYTES) -> bytes:
    """The next pieces joined up to about ``size_bytes`` (b"" at the end)."""
    out: list[bytes] = []
    n = 0
    for piece in pieces:
        out.append(piece)
        n += len(piece)
        if n >= size_bytes:
            break
    return b"".join(out)


def allowed_ids(view: Any, ticket: ZipTicket) -> list[str]:
    """What the ticket names that the visitor's view allows now: the album's media in its own order, or the
    selected media this visitor may read."""
    if ticket.album_id:
        if hasattr(view, "share_id"):      # a share link shows one album: its own
            return view.downloadable(view.media(sort="album")["id"].tolist())
        return view.album_media(ticket.album_id, sort="album")["id"].tolist()
    return view.downloadable(ticket.media_ids)


def zip_name(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in " -_." else "_" for c in name).strip(" .") or "photos"
    return f"{stem[:80]}.zip"


class ZipHandler(web.RequestHandler):
    """Stream a zip for a valid ticket posted by the visitor it was signed for."""

    def initialize(self, secret: str) -> None:  # type: ignore[override]
        self.secret = secret

    def _entries(self, ticket: ZipTicket) -> list[dict[str, Any]]:
        if not ticket.actor or ticket.actor not in identity.actors_of(self, fresh=True).actors:
            raise LinkError("this download belongs to another visit: ask for it again in the gallery")
        library = identity.library_of(self)
        return zip_entries(library, allowed_ids(library.for_actor(ticket.actor), ticket))

    async def post(self) -> None:
        # Tornado checks XSRF by itself only when the application says so (``xsrf_cookies``); Jupyter's handlers
        # check it their own way, so this plain handler asks for the check explicitly.
        self.check_xsrf_cookie()
        loop = IOLoop.current()
        try:
            ticket = verify_zip(self.secret, self.get_body_argument("ticket", ""))
            entries = await loop.run_in_executor(None, self._entries, ticket)
        except (LinkError, AuthError) as e:
            raise web.HTTPError(403, reason=str(e)) from None
        except NotFoundError:
            raise web.HTTPError(404, reason="this album is no longer available to you") from None
        if not entries:
            raise web.HTTPError(404, reason="nothing in this download is available to you any more")
        zs = zip_stream(entries)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Length", str(len(zs)))
        self.set_header("Content-Disposition", content_disposition(zip_name(ticket.name), True))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        pieces = iter(zs)
        started = time.monotonic()
        try:
            while True:
                piece = await loop.run_in_executor(None, gather, pieces)   # file reads off the event loop
                if not piece:
                    break
                self.write(piece)
                await self.flush()          # waits until the connection took it: back-pressure, flat memory
        except iostream.StreamClosedError:  # the visitor cancelled the download
            return
        self.finish()
        log.info("zip of %d files, %d bytes, streamed in %.1f s", len(entries), len(zs), time.monotonic() - started)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # A short plain message: never a traceback, whatever tornado's debug settings say.
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code}: {self._reason}")

