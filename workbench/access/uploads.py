"""Who may upload, how much, and where: the checks in front of ``ingest.upload`` (called by ``views``).

- a signed-in user may upload if their role is in ``upload_roles`` (viewers too, unless an admin removes them);
  what they upload is theirs; into an album only where they contribute or manage;
- a share link accepts uploads into its album only when its album's manager turned that on (off by default);
  the media belong to the album's owner, who sees them like anything in their album;
- one file is at most ``upload_max_file_bytes``; a person's new bytes (media they were first to store, plus
  their uploads still arriving) stay within ``upload_quota_bytes`` (0: no cap; admins have none);
- an upload is continued, read or cancelled only by the visitor who started it (same user, same link):
  anyone else is told it does not exist.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pyarrow.compute as pc

from workbench.access import shares
from workbench.access.policy import Actor
from workbench.access.throttle import LOCK_DIR
from workbench.catalog.filters import Eq
from workbench.catalog.store import Catalog
from workbench.errors import AccessDenied, NotFoundError, UploadRefused
from workbench.ingest.probe import media_id_for
from workbench.ingest.upload import Upload

if TYPE_CHECKING:
    from workbench.library import Library

NO_SUCH_UPLOAD = "no such upload: it finished, expired or belongs to someone else"


def owned_bytes(catalog: Catalog, owner: str) -> int:
    """Bytes of the media ``owner`` was the first to store (what their uploads and imports added)."""
    t = catalog.read("media", ["size_bytes"], Eq("owner", owner))
    return int(pc.sum(t.column("size_bytes")).as_py() or 0) if t.num_rows else 0


def check_role(actor: Actor, settings: Any) -> None:
    if actor.role not in settings.upload_roles:
        raise AccessDenied(f"uploading is turned off for {actor.role}s in this library: ask an admin")


def check_size(length: int, settings: Any) -> None:
    if length < 0:
        raise UploadRefused("Upload-Length must be a number of bytes", 400)
    if length > settings.upload_max_file_bytes:
        raise UploadRefused(f"this file is {length / 1e9:.2f} GB; the most one upload may be is "
                            f"{settings.upload_max_file_bytes / 1e9:.2f} GB (upload_max_file_bytes)", 413)


def check_quota(lib: "Library", owner: str, role: str, length: int) -> None:
    quota = lib.settings.upload_quota_bytes
    if quota <= 0 or role == "admin":
        return
    used = owned_bytes(lib.catalog, owner) + lib.uploads.pending_bytes(owner)
    if used + length > quota:
        raise UploadRefused(f"over the upload quota: {used / 1e6:.1f} MB of {quota / 1e6:.1f} MB used, and this "
                            f"file needs {length / 1e6:.1f} MB more; ask an admin for more room", 403)


def begin(lib: "Library", *, owner: str, role: str, actor_key: str, length: int, name: str,
          album_id: str | None, sha256: str | None, added_by: str, sees: Callable[[str], bool]) -> Upload:
    """Size and quota checked, then the upload starts, or is known at once by its sha256 when the visitor can
    already see that content (``sees(media_id)``). A hash is no proof of having the bytes: honoured for anyone
    else's content, it would hand a stranger's photo to whoever learnt its hash (an ETag, a log, a leak)."""
    check_size(length, lib.settings)
    claimed = str(sha256).strip().lower() if sha256 else ""
    known = bool(claimed) and lib.uploads.known_media(claimed) is not None and sees(media_id_for(claimed))
    if known:                      # known content costs no room: nothing new is stored
        return lib.uploads.begin(owner=owner, actor=actor_key, length=length, name=name, album_id=album_id,
                                 sha256=sha256, added_by=added_by, known_by_hash=True)
    with quota_held(lib, owner):   # check and record as one step: simultaneous uploads cannot share the room
        check_quota(lib, owner, role, length)
        return lib.uploads.begin(owner=owner, actor=actor_key, length=length, name=name, album_id=album_id,
                                 sha256=sha256, added_by=added_by, known_by_hash=False)


@contextmanager
def quota_held(lib: "Library", owner: str) -> Iterator[None]:
    """The owner's quota, held across threads and processes (an ``flock`` on a file per owner under
    ``<library>/.auth-locks/``; each holder opens its own file, so threads of one server exclude each other too)
    while an upload's room is checked and its record written: without it, eight uploads started at once each
    saw the room the others were about to take."""
    folder = Path(lib.root) / LOCK_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    name = hashlib.sha256(owner.encode()).hexdigest()[:16]
    fd = os.open(folder / f"quota-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)            # held for a catalog read and a small file write: milliseconds
        yield
    finally:
        os.close(fd)                              # closing the file releases the lock


def known_to(lib: "Library", sha256s: list[str], sees: Callable[[str], bool]) -> set[str]:
    """Which of these SHA-256s name content the visitor can already see (what the upload page may then send
    without its bytes). Content only others can see is not reported: the question is no way to learn what
    other people keep."""
    return {h for h in lib.uploads.known_of(sha256s) if sees(media_id_for(h))}


def mine(lib: "Library", upload_id: str, actor_key: str) -> Upload:
    """An upload started by this visitor; ``NotFoundError`` for anyone else's (as if it did not exist)."""
    try:
        u = lib.uploads.get(upload_id)
    except KeyError:
        raise NotFoundError(NO_SUCH_UPLOAD) from None
    if u.actor != actor_key:
        raise NotFoundError(NO_SUCH_UPLOAD)
    return u


def share_accepts(share_row: dict) -> None:
    if not share_row.get("accepts_uploads"):
        raise AccessDenied("this share link does not accept uploads: ask the album's owner")


def set_share_uploads(catalog: Catalog, share_id: str, accepts: bool) -> None:
    """Let a link's visitors upload into its album, or stop them (new links do not accept uploads)."""
    catalog.update(shares.TABLE, Eq("share_id", share_id), {"accepts_uploads": bool(accepts)})
