"""The server's one route to media bytes: ``/workbench/media/<ticket>`` serves the original a signed ticket names.

Videos need HTTP (the browser streams them with Range requests), so they cannot travel through the kernel's
websocket like thumbnails do. The kernel signs a ticket for its visitor after its permission check (see
``links.py``); this handler serves it only to the same visitor (the same live session cookie or unlocked share
link) and asks the library again, on every request, whether that visitor may still read the media, so sign-out,
revocation, album membership and the trash take effect at once. Then it streams the original with Range support,
the media's own MIME type and ``nosniff``.
"""
from __future__ import annotations

import asyncio
import mimetypes
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tornado import web

from workbench.errors import AuthError, MediaError, NotFoundError
from workbench.gallery import identity
from workbench.gallery.links import LinkError, Ticket, verify

#: Media whose location the handler remembers (oldest forgotten first).
MEDIA_CACHE_SIZE = 512
#: Bytes read from storage per write to the connection (one read per range of this size: a bucket GET, or the
#: chunks an encrypted library decrypts for it).
READ_BYTES = 1 << 20


def content_disposition(name: str, download: bool) -> str:
    """``attachment`` or ``inline`` with an ASCII fallback name and the UTF-8 name (RFC 6266 / 5987)."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name) or "media"
    kind = "attachment" if download else "inline"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


def served_file(lib: Any, media_id: str) -> dict[str, str]:
    """Path, MIME type and download name of the bytes the library keeps for a media. Usually the original under its
    own name; a JPEG replaced by its JPEG XL is rebuilt byte-exactly, so it stays ``photo.jpg``. An original replaced
    by a pixel-lossless or a chosen lossy version no longer exists as such: what is served is that version, so it
    gets the version's type and extension (``hopper.png`` kept as JPEG XL downloads as ``hopper.jxl``) and opens
    as what it is (``lib.media.download_name``)."""
    row = lib.get(media_id)
    key = lib.stored_original_key(media_id)
    stored = Path(key) if key else lib.original_path(media_id)
    # Replacing already set the row's mime to the stored file's; its blob is named with the stored extension.
    out = {"mime": row.get("mime") or "", "name": lib.media.download_name(row, stored)}
    # A stored original is read by ranges from the library's storage (never copied whole to a local file first:
    # on an encrypted library or a bucket that would mean a 4 GB video before the first frame).
    return {**out, "key": key} if key else {**out, "path": str(stored)}


class MediaHandler(web.StaticFileHandler):
    """Serve one original for a valid ticket (Range, ETag and HEAD come from tornado's StaticFileHandler).

    A stored original is read through the library's ``Storage`` by ranges (``read_range``): the overrides below
    give tornado its size, time, ETag and bytes from there instead of from a file path."""

    def initialize(self, library_root: str, secret: str) -> None:  # type: ignore[override]
        super().initialize(path="/")
        self.library_root = library_root
        self.secret = secret
        self._media: dict[str, Any] = {}
        self._ticket: Ticket | None = None

    def _library(self):
        lib = self.settings.get("workbench_library")
        if lib is None:
            from workbench.library import Library
            lib = Library.open(self.library_root)
            self.settings["workbench_library"] = lib
        return lib

    async def get(self, ticket: str, include_body: bool = True) -> None:  # type: ignore[override]
        # Everything that reads the catalog or the storage runs off the event loop: on a bucket each is a
        # request, and one slow visitor must not hold up every other one.
        loop = asyncio.get_running_loop()
        try:
            self._ticket = verify(self.secret, ticket)
            await loop.run_in_executor(None, self._check_access, self._ticket)   # reads cookies, then the catalog
            self._media = await self._lookup(self._ticket.media_id)
            if self._key():
                self._stored_size, self._stored_mtime = await loop.run_in_executor(None, self._stat, self._key())
        except (LinkError, AuthError) as e:
            raise web.HTTPError(403, reason=str(e)) from None
        except MediaError:                    # the stored object failed its check: nothing of it is sent
            raise web.HTTPError(500, reason="the stored file failed its integrity check (an admin can run "
                                            "`workbench scrub` to repair it)") from None
        except Exception:
            raise web.HTTPError(404, reason="media not found") from None
        await super().get(self._media.get("key") or self._media["path"], include_body)

    # -- bytes from the library's storage (a stored original) ---------------------------------------------------
    def _key(self) -> str | None:
        return self._media.get("key")

    def get_absolute_path(self, root: str, path: str) -> str:  # type: ignore[override]
        return path if self._key() else super().get_absolute_path(root, path)

    def _stat(self, key: str) -> tuple[int, float]:
        storage = self._library().storage
        return storage.checked_size(key), storage.modified_at(key)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        return absolute_path if self._key() else super().validate_absolute_path(root, absolute_path)

    def get_content_size(self) -> int:
        return self._stored_size if self._key() else super().get_content_size()

    def get_modified_time(self) -> datetime | None:
        if not self._key():
            return super().get_modified_time()
        return datetime.fromtimestamp(self._stored_mtime, timezone.utc)

    def compute_etag(self) -> str | None:
        # A stored original is named by the hash of its content: the name is the ETag (no whole-file hashing).
        return f'"{Path(self._key()).stem}"' if self._key() else super().compute_etag()

    def get_content(self, abspath: str, start: int | None = None,  # type: ignore[override]
                    end: int | None = None) -> Iterator[bytes]:
        if not self._key():
            return super().get_content(abspath, start, end)
        return self._ranges(abspath, start or 0, self._stored_size if end is None else end)

    def _ranges(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """The bytes ``start..end`` of a stored original, each range read off the event loop.

        Tornado writes what this yields and awaits ``flush()`` after each piece (``StaticFileHandler.get``), and
        a generator cannot await. So it yields an empty piece first, with the range it wants in ``_wanted``: the
        ``flush`` that follows reads it in a worker thread, and the next piece yielded is those bytes."""
        while start < end:
            self._wanted = (key, start, min(READ_BYTES, end - start))
            yield b""
            chunk, self._read = self._read, b""
            if not chunk:
                return
            start += len(chunk)
            yield chunk

    def flush(self, include_footers: bool = False) -> "asyncio.Future[None]":
        # A plain method returning a future, as tornado's: ``finish`` calls it without awaiting.
        wanted, self._wanted = getattr(self, "_wanted", None), None
        if wanted is None:
            return super().flush(include_footers)
        return asyncio.ensure_future(self._flush_then_read(include_footers, wanted))

    async def _flush_then_read(self, include_footers: bool, wanted: tuple[str, int, int]) -> None:
        await super().flush(include_footers)
        self._read = await asyncio.get_running_loop().run_in_executor(
            None, self._library().storage.read_range, *wanted)

    def _check_access(self, ticket: Ticket) -> None:
        """The request must come from the visitor the ticket was signed for, who must still see the media."""
        if not ticket.actor or ticket.actor not in identity.actors_of(self, fresh=True).actors:
            raise LinkError("this media link belongs to another visit: open the media again in the gallery")
        try:
            self._library().for_actor(ticket.actor).resolve_id(ticket.media_id)
        except NotFoundError:
            raise AuthError("this media is no longer available to you") from None

    async def _lookup(self, media_id: str) -> dict[str, str]:
        """Path, MIME type and file name of a media, remembered: a playing video asks for range after range."""
        cache: dict[str, dict[str, str]] = self.settings.setdefault("workbench_media_cache", {})
        if media_id not in cache:
            lib = self._library()
            found = await asyncio.get_running_loop().run_in_executor(None, served_file, lib, media_id)
            if len(cache) >= MEDIA_CACHE_SIZE:        # the cache is only touched here, on the event loop
                cache.pop(next(iter(cache)))
            cache[media_id] = found
        return cache[media_id]

    def get_content_type(self) -> str:
        mime = self._media.get("mime")
        return mime or mimetypes.guess_type(self._media.get("name", ""))[0] or "application/octet-stream"

    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, max-age=600")
        self.set_header("Content-Disposition", content_disposition(self._media.get("name", "media"),
                                                                   bool(self._ticket and self._ticket.download)))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # A short plain message: never a traceback, whatever tornado's debug settings say.
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code}: {self._reason}")
