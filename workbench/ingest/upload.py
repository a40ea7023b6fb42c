"""Receiving a file in pieces (the gallery's tus endpoint): staged, hashed while it arrives, then imported.

An upload is two files in the storage's staging area: ``<id>.json`` (who, how long, what name, which album,
until when) and ``<id>.data<ext>`` (the bytes so far; its size is the upload's offset, so a restarted server
resumes where the bytes stopped). The sha256 is computed as the bytes arrive (kept in memory per upload; after a
restart or a dropped connection it is recomputed from the staged bytes). When the last byte is in:

* content the library already has is not stored again: the uploader is recorded as one more owner (a ``sources``
  row, like importing the same file from one's own folder) and the staged bytes are deleted;
* otherwise the file is decided by content in an isolated worker process (the same sniffing, metadata and
  decompression-bomb check as import: ``probe.probe_staged``), put in place with ``Storage.put_staged`` (a link,
  not a copy) and written as rows by the importer's ``commit_media``, owned by the uploader.

Refusals (not media, too big, over quota, the file changed on the way) are ``UploadRefused`` with a reason the
uploader is shown, also recorded in the ``errors`` table under stage ``upload``. Nothing half-received ever
reaches ``originals/``; uploads untouched for ``upload_expire_s`` are deleted by ``expire``.

Who may upload, and into which album, is decided by ``access`` (``UserView.begin_upload`` and friends): this
module trusts its caller.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.catalog.errors_log import clear_errors, record_errors
from workbench.catalog.filters import In, where
from workbench.catalog.store import Catalog
from workbench.errors import MediaError, UploadRefused
from workbench.ingest.blobstore import blob_relpath
from workbench.ingest.importer import ImportReport, commit_media, source_key
from workbench.ingest.probe import StagedProbe, media_id_for, probe_staged
from workbench.settings import Settings
from workbench.storage import Storage, original_key
from workbench.storage.base import CHUNK_BYTES

#: Where uploaded files are said to come from (``sources.path``): ``uploads/<owner>/<the name or folder path>``.
SOURCE_PREFIX = "uploads"
#: How long a finished upload's record stays, so a client that lost the last answer can ask (HEAD) how it ended.
DONE_KEEP_S = 3600.0
#: Abandoned uploads are looked for at most this often (at a creation), not at every one.
EXPIRE_EVERY_S = 60.0
#: Decided uploads whose catalog rows are written together (a batch forms only while uploads wait).
FINISH_BATCH = 64
#: Idle receiver threads kept for the next requests (the page sends two files at a time).
MAX_IDLE_WRITERS = 4
MAX_NAME_CHARS = 500
_ID = re.compile(r"^[0-9a-f]{32}$")
log = logging.getLogger(__name__)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Upload:
    """One upload's record (``<id>.json``); ``offset`` is read from the staged file's size."""
    id: str
    owner: str                 # whose media it becomes (the uploader; a share link's album owner)
    actor: str                 # who may continue, see or cancel it: "user:<name>" or "share:<share id>"
    length: int
    name: str                  # the file name, or its path inside an uploaded folder ("Trip/IMG_1.jpg")
    ext: str                   # the name's extension (lower case, for the sniffer's RAW vendor check)
    album_id: str | None
    sha256_claimed: str | None  # what the client computed, checked at the end
    created_at: float
    touched_at: float
    state: str = "receiving"   # receiving | checking (all bytes in, being decided) | done | refused
    media_id: str | None = None
    result: str | None = None  # added | known
    reason: str | None = None  # why it was refused

    @property
    def source_path(self) -> str:
        return f"{SOURCE_PREFIX}/{self.owner}/{self.name}"


def clean_name(name: str) -> str:
    """The uploaded file's name or folder path as a relative path: no ``..``, no leading ``/``, no control
    characters; what the uploader's browser says is only a label."""
    text = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/")
    parts = []
    for p in text.split("/"):
        p = "".join(c for c in p if c.isprintable()).strip()
        if p and p not in (".", ".."):
            parts.append(p[:255])
    out = "/".join(parts)[-MAX_NAME_CHARS:].lstrip("/")
    return out or "upload"


def name_ext(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


class Uploads:
    """The uploads of one library. One instance per server process (it keeps the running hashes); every
    method may be called from a worker thread except ``receiver``'s writes, which are the caller's."""

    def __init__(self, catalog: Catalog, storage: Storage, settings: Settings, root: Path):
        self.catalog = catalog
        self.storage = storage
        self.settings = settings
        self.root = root
        self._hash: dict[str, tuple[int, Any]] = {}    # upload id -> (bytes hashed, sha256 object)
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._finisher: Any = None     # one thread deciding complete uploads, in arrival order
        self._pool: Any = None         # one worker process probing them (kept: starting one costs ~0.3 s)
        self._pool_lock = threading.Lock()
        self._writers: list[Any] = []  # idle receiver threads, reused (``writer``)
        self._expired_at = float("-inf")

    # -- records --------------------------------------------------------------------------------------------
    def _meta(self, upload_id: str) -> Path:
        return self.storage.staging_file(f"{upload_id}.json")

    def _data_name(self, u: Upload) -> str:
        return f"{u.id}.data{u.ext}"

    def data_file(self, u: Upload) -> Path:
        return self.storage.staging_file(self._data_name(u))

    def _save(self, u: Upload) -> None:
        tmp = self.storage.staging_file(f"{u.id}.json-new")
        tmp.write_text(json.dumps(asdict(u)))
        tmp.replace(self._meta(u.id))

    def get(self, upload_id: str) -> Upload:
        """The record of an upload; ``KeyError`` if there is none (never was, finished long ago, expired)."""
        if not _ID.match(str(upload_id)):
            raise KeyError(upload_id)
        try:
            data = json.loads(self._meta(upload_id).read_text())
        except (FileNotFoundError, ValueError):
            raise KeyError(upload_id) from None
        return Upload(**data)

    def offset(self, u: Upload) -> int:
        if u.state != "receiving":
            return u.length
        try:
            return self.data_file(u).stat().st_size
        except FileNotFoundError:
            return 0

    def expires_at(self, u: Upload) -> float:
        return u.touched_at + (DONE_KEEP_S if u.state in ("done", "refused") else self.settings.upload_expire_s)

    def pending_bytes(self, owner: str) -> int:
        """Bytes announced by ``owner``'s uploads still arriving (they count against the quota)."""
        total = 0
        for u in self._records():
            if u.owner == owner and u.state in ("receiving", "checking"):
                total += u.length
        return total

    def _records(self) -> list[Upload]:
        out = []
        for name in self.storage.staging_names():
            if name.endswith(".json"):
                try:
                    out.append(self.get(name[:-5]))
                except KeyError:
                    continue
        return out

    # -- starting -------------------------------------------------------------------------------------------
    def known_media(self, sha256: str) -> str | None:
        """The media id of content already in the library, or None."""
        mid = media_id_for(sha256)
        t = self.catalog.read("media", ["id"], where(id=mid, sha256=sha256))
        return mid if t.num_rows else None

    def known_of(self, sha256s: list[str]) -> set[str]:
        """Which of these SHA-256s (64 hex digits; others are ignored) the library has: one read for a batch of
        files the upload page hashed, so each new one then takes one request (creation with its bytes)."""
        shas = sorted({str(h).strip().lower() for h in sha256s if _HEX64.match(str(h).strip().lower())})
        found: set[str] = set()
        for i in range(0, len(shas), 1000):
            chunk = shas[i:i + 1000]
            t = self.catalog.read("media", ["sha256"],
                                  In("id", [media_id_for(h) for h in chunk]) & In("sha256", chunk))
            found.update(t.column("sha256").to_pylist())
        return found

    def begin(self, *, owner: str, actor: str, length: int, name: str, album_id: str | None = None,
              sha256: str | None = None, added_by: str | None = None, known_by_hash: bool = False) -> Upload:
        """A new upload (checks already done by the caller: role, size, quota, album). With ``known_by_hash``
        (the caller found the client's ``sha256`` is content this visitor already sees) it is finished at once
        ("known"): nothing is sent or stored. Otherwise a ``sha256`` is only checked against the bytes."""
        if time.monotonic() - self._expired_at > EXPIRE_EVERY_S:
            self.expire()
            self._expired_at = time.monotonic()
        name = clean_name(name)
        claimed = str(sha256).strip().lower() if sha256 else None
        if claimed is not None and not _HEX64.match(claimed):
            raise UploadRefused("the sha256 metadata is not 64 hex digits", 400)
        now = time.time()
        u = Upload(id=secrets.token_hex(16), owner=owner, actor=actor, length=int(length), name=name,
                   ext=name_ext(name), album_id=album_id, sha256_claimed=claimed, created_at=now, touched_at=now)
        if claimed is not None and known_by_hash:
            mid = self.known_media(claimed)
            if mid is not None:
                self._commit([{"upload": u, "media_id": mid, "row": None, "added_by": added_by,
                               "stored": False}])
                return u
        self.data_file(u).touch()
        self._save(u)
        return u

    # -- receiving ------------------------------------------------------------------------------------------
    def receiver(self, u: Upload, offset: int) -> "Receiver":
        """Append to an upload from ``offset``, which must be where its bytes end (else ``UploadRefused`` 409);
        one writer per upload at a time (423 for a second one)."""
        if u.state != "receiving":
            raise UploadRefused("this upload is already complete", 409)
        have = self.offset(u)
        if offset != have:
            raise UploadRefused(f"this upload has {have} bytes, not {offset}: ask for its offset (HEAD) and "
                                f"resume from there", 409)
        with self._lock:
            if u.id in self._busy:
                raise UploadRefused("this upload is receiving on another connection; retry in a moment", 423)
            self._busy.add(u.id)
        hashed = self._hash.get(u.id)
        hasher = hashed[1] if hashed is not None and hashed[0] == have else None
        if hasher is None and have == 0:
            hasher = hashlib.sha256()
        return Receiver(self, u, have, hasher)

    def writer(self) -> Any:
        """A one-thread executor for a ``Receiver``'s writes: an idle one if there is one. Starting a thread
        for every request made the event loop wait for the new thread to run, per photo."""
        from concurrent.futures import ThreadPoolExecutor
        with self._lock:
            if self._writers:
                return self._writers.pop()
        return ThreadPoolExecutor(1, thread_name_prefix="upload-write")

    def writer_done(self, executor: Any) -> None:
        """A ``Receiver`` is through with ``executor`` (every piece it gave it is done): kept for the next."""
        with self._lock:
            if len(self._writers) < MAX_IDLE_WRITERS:
                self._writers.append(executor)
                return
        executor.shutdown(wait=False)

    def _received(self, r: "Receiver", handed_on: bool = False) -> None:
        with self._lock:
            self._busy.discard(r.upload.id)
            if r.hasher is not None:
                self._hash[r.upload.id] = (r.offset, r.hasher)
            else:
                self._hash.pop(r.upload.id, None)
        r.upload.touched_at = time.time()
        if handed_on and r.complete:
            return        # finish_later (or refuse) writes the record in a moment: one write a file, not two
        if self._meta(r.upload.id).exists():
            self._save(r.upload)

    # -- finishing ------------------------------------------------------------------------------------------
    def finish(self, u: Upload, *, added_by: str | None = None) -> Upload:
        """Turn a complete upload into media (or recognise it as known); refusals raise ``UploadRefused``
        after recording the reason and deleting the staged bytes."""
        item = self._decide(u, added_by)
        self._commit([item])
        return u

    def _decide(self, u: Upload, added_by: str | None) -> dict[str, Any]:
        """The per-file half of finishing: hash, known or not, content check, file put in place. Refusals are
        recorded and raised (bytes missing are a conflict, as before any check: the upload may still go on)."""
        self._check_complete(u)
        try:
            sha = self._checked_sha256(u)
            mid = self.known_media(sha)
            if mid is not None:
                return self._known_item(u, mid, added_by)
            return self._stored_item(u, sha, self._probe_wait(self._probe_submit(self.data_file(u))), added_by)
        except UploadRefused as e:
            self.refuse(u, e.reason)
            raise
        except MediaError as e:
            self.refuse(u, e.reason)
            raise UploadRefused(f"not added: {e.reason}", 415) from None

    def _decide_many(self, entries: list[tuple[Upload, str | None]]) -> list[dict[str, Any]]:
        """``_decide`` for the uploads waiting together (``_finish_loop``): one catalog read says which of them
        the library has (not one each), and their content checks are queued to the worker at once (each still
        a task of its own: a decoder crash or hang costs that upload alone). Refusals are recorded and left
        out; the decided items come back in arrival order."""
        checked: list[tuple[Upload, str | None, str]] = []
        for u, added_by in entries:
            try:
                self._check_complete(u)
                checked.append((u, added_by, self._checked_sha256(u)))
            except Exception as e:
                self._refused(u, e)
        known = self.known_of([sha for _, _, sha in checked]) if checked else set()
        waiting = []
        for u, added_by, sha in checked:
            if sha in known:
                waiting.append((u, added_by, sha, None))
                continue
            try:
                waiting.append((u, added_by, sha, self._probe_submit(self.data_file(u))))
            except Exception as e:
                self._refused(u, e)
        items = []
        for u, added_by, sha, probing in waiting:
            try:
                items.append(self._known_item(u, media_id_for(sha), added_by) if probing is None else
                             self._stored_item(u, sha, self._probe_wait(probing), added_by))
            except Exception as e:
                self._refused(u, e)
        return items

    def _refused(self, u: Upload, e: BaseException) -> None:
        """An upload that could not be decided: recorded with its reason (never lost silently)."""
        self.refuse(u, e.reason if isinstance(e, (UploadRefused, MediaError)) else
                    f"could not add it: {type(e).__name__}: {e}")

    def _check_complete(self, u: Upload) -> None:
        size = self.data_file(u).stat().st_size
        if size != u.length:
            raise UploadRefused(f"this upload has {size} of {u.length} bytes", 409)

    def _checked_sha256(self, u: Upload) -> str:
        """The upload's SHA-256 once every byte is in, checked against the one the client computed."""
        sha = self._sha256(u)
        if u.sha256_claimed and sha != u.sha256_claimed:
            raise UploadRefused("the file changed on the way: its SHA-256 is not the one computed before "
                                "sending; upload it again", 460)
        return sha

    def _known_item(self, u: Upload, media_id: str, added_by: str | None) -> dict[str, Any]:
        self._discard(u, keep_record=True)
        return {"upload": u, "media_id": media_id, "row": None, "added_by": added_by, "stored": False}

    def _stored_item(self, u: Upload, sha: str, probe: dict[str, Any], added_by: str | None) -> dict[str, Any]:
        ext = probe["ext"]
        stored = self.storage.put_staged(self._data_name(u), original_key(blob_relpath(sha, ext)))
        row = {**probe["row"], "id": media_id_for(sha), "sha256": sha, "path": u.source_path,
               "size_bytes": u.length, "blob": blob_relpath(sha, ext)}
        return {"upload": u, "media_id": row["id"], "row": row, "warnings": probe["warnings"],
                "added_by": added_by, "stored": stored}

    def _commit(self, items: list[dict[str, Any]]) -> None:
        """The catalog half, for many decided uploads at once (a few writes per batch, not per file): media
        rows by the importer's ``commit_media`` (per owner), sources for known content, album items."""
        from datetime import datetime, timezone
        from workbench.access import albums
        if not items:
            return
        at = datetime.now(timezone.utc)
        by_owner: dict[str, list] = {}
        known = []
        for it in items:
            u = it["upload"]
            if it["row"] is not None:
                by_owner.setdefault(u.owner, []).append((it["row"], it["warnings"], (u.length, None)))
            else:   # content already stored: the uploader becomes one more owner (as import does for a copy)
                known.append({"key": source_key(it["media_id"], u.source_path), "media_id": it["media_id"],
                              "path": u.source_path, "mode": "copy", "owner": u.owner, "size_bytes": u.length,
                              "mtime_ns": None, "found_at": at})
        for owner, rows in by_owner.items():
            commit_media(self.catalog, self.root, rows, "copy", owner, ImportReport())
        if known:
            self.catalog.upsert("sources", known, "key")
        for album_id in {it["upload"].album_id for it in items if it["upload"].album_id}:
            mine = [it for it in items if it["upload"].album_id == album_id]
            for added_by in {it["added_by"] or it["upload"].owner for it in mine}:
                albums.add_items(self.catalog, album_id, [it["media_id"] for it in mine
                                                          if (it["added_by"] or it["upload"].owner) == added_by],
                                 added_by)
        clear_errors(self.catalog, [it["upload"].source_path for it in items if it["row"] is not None], "upload")
        now = time.time()
        for it in items:
            u = it["upload"]
            u.state, u.media_id, u.touched_at = "done", it["media_id"], now
            u.result = "added" if it["stored"] else "known"
            self._save(u)
            self._hash.pop(u.id, None)

    def finish_later(self, u: Upload, *, added_by: str | None = None) -> Upload:
        """``finish`` in the background: the last PATCH is answered as soon as the bytes are in, and the next
        file's bytes flow while this one is decided. One thread decides uploads in arrival order and writes the
        catalog rows of all that are waiting in one go (like import's batched commits). ``get`` tells how it
        ended (state ``checking``, then ``done`` or ``refused`` with the reason)."""
        import queue
        with self._lock:
            # Once only: a GET asking about a complete upload may race the request that brought its last byte.
            if u.id in self._busy or u.state in ("done", "refused"):
                return u
            self._busy.add(u.id)
        u.state, u.touched_at = "checking", time.time()
        self._save(u)
        with self._lock:
            if self._finisher is None:
                self._queue: queue.Queue = queue.Queue()
                self._finisher = threading.Thread(target=self._finish_loop, name="upload-finish", daemon=True)
                self._finisher.start()
        self._queue.put((u, added_by))
        log.info("upload %s: all %d bytes in, queued to be checked", u.id, u.length)
        return u

    def _finish_loop(self) -> None:
        import queue
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < FINISH_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            items = []
            started = time.monotonic()
            try:                              # refusals are recorded, and kept in the record for the uploader
                items = self._decide_many([entry for entry in batch if not callable(entry)])
            except Exception as e:            # never lose an upload's outcome silently
                for entry in batch:
                    if not callable(entry):
                        self.refuse(entry[0], f"could not add it: {type(e).__name__}: {e}")
            decided = time.monotonic()
            try:
                self._commit(items)
            except Exception as e:
                for it in items:
                    self.refuse(it["upload"], f"could not add it: {type(e).__name__}: {e}")
            finally:
                log.info("uploads %s: %d of %d added or known; checked in %.2f s, catalog rows in %.2f s",
                         ",".join(entry[0].id[:8] for entry in batch if not callable(entry)) or "-", len(items),
                         sum(1 for entry in batch if not callable(entry)), decided - started,
                         time.monotonic() - decided)
                with self._lock:
                    for entry in batch:
                        if callable(entry):
                            entry()
                        else:
                            self._busy.discard(entry[0].id)

    def resume_checking(self, u: Upload) -> Upload:
        """An upload left ``checking`` by a server that stopped before deciding it: decide it now."""
        with self._lock:
            orphan = u.state == "checking" and u.id not in self._busy
        return self.finish_later(u) if orphan else u

    def wait_finished(self) -> None:
        """Block until every upload handed to ``finish_later`` so far is decided (tests, benchmarks)."""
        if self._finisher is not None:
            done = threading.Event()
            self._queue.put(done.set)
            done.wait()

    def refuse(self, u: Upload, reason: str) -> None:
        """Record why an upload was refused (``workbench errors`` shows it) and delete its staged bytes; the
        record keeps the reason for the uploader for an hour."""
        record_errors(self.catalog, [(u.source_path, None, "upload", reason)])
        self._discard(u, keep_record=True)
        u.state, u.reason, u.touched_at = "refused", reason, time.time()
        if self._meta(u.id).exists():
            self._save(u)

    def record_refusal(self, owner: str, name: str, reason: str) -> None:
        """Record an upload refused before any byte arrived (too big, over quota, no such album)."""
        record_errors(self.catalog, [(f"{SOURCE_PREFIX}/{owner}/{clean_name(name)}", None, "upload", reason)])

    def _sha256(self, u: Upload) -> str:
        hashed = self._hash.get(u.id)
        if hashed is not None and hashed[0] == u.length:
            return hashed[1].hexdigest()
        h = hashlib.sha256()          # resumed after a restart or a lost connection: hash the staged bytes
        with open(self.data_file(u), "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                h.update(chunk)
        return h.hexdigest()

    def _probe_submit(self, data: Path) -> Any:
        """Sniff and read metadata in a worker process: a decoder crash or hang costs that upload, not the
        server (the same isolation as import, with the worker kept between uploads). Returns the task's future
        (``_probe_wait``), so a batch's checks queue up together."""
        return self._probe_pool().schedule(probe_staged, args=(StagedProbe(str(data), self.settings),),
                                           timeout=self.settings.per_file_timeout_s)

    def _probe_pool(self) -> Any:
        """The probing worker's pool, started on first use (or again after it stopped)."""
        import multiprocessing

        from pebble import ProcessPool

        from workbench.parallel import PRELOAD
        with self._pool_lock:
            if self._pool is None or not self._pool.active:
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(PRELOAD)
                self._pool = ProcessPool(max_workers=1, context=ctx)
            return self._pool

    def warm_up(self) -> Any:
        """Start the probing worker now, in the background, so the first upload after a server starts does not
        wait for a fork server to import the decoders (seconds on a busy machine). Returns the no-op task's
        future; a server need not wait for it."""
        started = time.monotonic()
        future = self._probe_pool().schedule(os.getpid)
        future.add_done_callback(lambda f: log.info("upload checker ready after %.1f s%s", time.monotonic() - started,
                                                    "" if f.exception() is None else f": {f.exception()}"))
        return future

    def _probe_wait(self, future: Any) -> dict[str, Any]:
        """The content check's answer, or ``MediaError`` saying why the file is not media."""
        from concurrent.futures import TimeoutError as FutureTimeout

        from pebble import ProcessExpired

        from workbench.parallel import describe_exit
        timeout = self.settings.per_file_timeout_s
        try:
            return future.result()
        except MediaError:
            raise
        except FutureTimeout:
            raise MediaError(f"timed out after {timeout:g} s (per_file_timeout_s); the file may be malformed or "
                             f"too large to decode") from None
        except ProcessExpired as e:
            raise MediaError(describe_exit(e.exitcode)) from None
        except MemoryError:
            raise MediaError("ran out of memory decoding this file") from None
        except Exception as e:
            raise MediaError(f"unexpected {type(e).__name__}: {e}") from None

    def close(self) -> None:
        """Stop the background thread, the idle receiver threads and the probing worker (a server shutting
        down)."""
        with self._lock:
            writers, self._writers = self._writers, []
        for w in writers:
            w.shutdown(wait=True)
        if self._finisher is not None:
            self._queue.put(None)
            self._finisher.join()
            self._finisher = None
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join()

    # -- ending ---------------------------------------------------------------------------------------------
    def _discard(self, u: Upload, keep_record: bool = False) -> None:
        self._hash.pop(u.id, None)
        self.data_file(u).unlink(missing_ok=True)
        if not keep_record:
            self._meta(u.id).unlink(missing_ok=True)

    def cancel(self, u: Upload) -> None:
        """The uploader stopped this upload (tus termination): its bytes go."""
        with self._lock:
            if u.id in self._busy:
                raise UploadRefused("this upload is receiving on another connection; retry in a moment", 423)
        self._discard(u)

    def expire(self, now: float | None = None) -> int:
        """Delete uploads untouched for ``upload_expire_s`` (finished ones after an hour) and staged bytes
        without a record; returns how many went."""
        now = time.time() if now is None else now
        n = 0
        names = set(self.storage.staging_names())
        live: set[str] = set()
        for u in self._records():
            if u.id in self._busy:
                live.add(u.id)
                continue
            if self.expires_at(u) <= now:
                self._discard(u)
                n += 1
            else:
                live.add(u.id)
        for name in names:        # data without a record: a record lost mid-write, or a crash before it
            uid = name.split(".", 1)[0]
            if uid not in live and not name.endswith(".json") and self.storage.staging_file(name).exists():
                if now - self.storage.staging_file(name).stat().st_mtime > 60:
                    self.storage.staging_file(name).unlink(missing_ok=True)
                    n += 1
        return n


class Receiver:
    """Appends one request's bytes to an upload, never past the announced length. The bytes are written and
    hashed by a thread of the receiver's own (``Uploads.writer``: kept between requests), in 1 MiB pieces, so
    hashing runs beside the network reads instead of between them; ``write`` returns a future to wait for when
    more than ``BACKLOG_BYTES`` are waiting (back-pressure: memory stays flat whatever the client sends). Close
    it (or use ``with``) when the request ends, however it ends: what arrived stays, and ``offset`` is then
    where the next request starts."""

    PIECE_BYTES = 1 << 20
    BACKLOG_BYTES = 8 << 20

    def __init__(self, uploads: Uploads, u: Upload, offset: int, hasher: Any):
        self.uploads = uploads
        self.upload = u
        self.offset = offset             # bytes accepted (written once the thread is through)
        self.hasher = hasher
        self._f = open(uploads.data_file(u), "r+b")
        self._f.seek(offset)
        self._closed = False
        self._piece: list[bytes] = []
        self._piece_bytes = 0
        self._thread = uploads.writer()
        self._pending: list[tuple[Any, int]] = []
        self._last: Any = None            # the latest piece's future: the thread takes pieces in order
        self._error: BaseException | None = None

    def _store(self, piece: list[bytes]) -> None:
        if self._error is not None:       # nothing after a failed write: the file ends where it failed
            return
        try:
            self._f.writelines(piece)
        except BaseException as e:
            self._error = e
            return
        if self.hasher is not None:
            for chunk in piece:
                self.hasher.update(chunk)

    def _submit(self) -> Any:
        piece, n = self._piece, self._piece_bytes      # the chunks as they came: no copying
        self._piece, self._piece_bytes = [], 0
        fut = self._last = self._thread.submit(self._store, piece)
        self._pending = [(f, k) for f, k in self._pending if not f.done()] + [(fut, n)]
        return fut

    def write(self, chunk: bytes) -> Any:
        """Accept ``chunk``; returns None, or a ``concurrent.futures.Future`` to wait for before sending more."""
        if self.offset + len(chunk) > self.upload.length:
            raise UploadRefused(f"more bytes than the {self.upload.length} announced", 413)
        self._piece.append(chunk)
        self._piece_bytes += len(chunk)
        self.offset += len(chunk)
        if self._piece_bytes < self.PIECE_BYTES:
            return None
        fut = self._submit()
        waiting = sum(n for f, n in self._pending if not f.done())
        return fut if waiting > self.BACKLOG_BYTES else None

    def flush(self) -> Any:
        """A future that is done when every accepted byte is written and hashed."""
        return self._submit() if self._piece else self._thread.submit(lambda: None)

    @property
    def complete(self) -> bool:
        return self.offset == self.upload.length

    def close(self, *, handed_on: bool = False) -> None:
        """Wait for the writes, record where the bytes end. ``handed_on``: the caller hands a complete upload to
        ``finish_later`` (or ``refuse``s it) at once, which writes its record; it is not written here too (a
        crash in between leaves it ``receiving`` with every byte in, which the next ``GET`` hands on)."""
        if self._closed:
            return
        self._closed = True
        if self._piece:
            self._submit()
        if self._last is not None:
            self._last.result()           # _store keeps its own errors: this only waits
        self.uploads.writer_done(self._thread)
        self._f.close()
        if self._error is not None:        # a failed write (disk full): the staged file is the truth
            self.hasher = None
            self.offset = self.uploads.data_file(self.upload).stat().st_size
        self.uploads._received(self, handed_on)
        if self._error is not None:
            raise UploadRefused(f"the server could not store the upload: {self._error}", 507)

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
