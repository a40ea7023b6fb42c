"""Replacing originals by their compressed versions, only after the new file is written, verified and recorded.

Why: a policy's versions save space only once they take the originals' place. The rule (issue 6): an original is
replaced only by a verified lossless version, unless the user explicitly allows a lossy one. The order is what
makes it safe; each step finishes before the next begins, and a crash leaves a state the next run completes:

1. the version already exists under ``derived/versions/<policy>/`` (written by ``Library.compress``);
2. it is verified again now, against the original: a JPEG XL made from a JPEG must rebuild bytes whose sha256 is
   the media's own (its id is their first 16 hex digits); a pixel-lossless version must decode to the original's
   exact pixels with its metadata; a lossy version must at least decode;
3. it is written into ``originals/`` as ``<sha256>.stored<ext>`` (read-only, atomic; named by the media's hash so
   it never collides with another media's content-addressed original) and hashed again from disk;
4. the media row records it: ``blob`` (where the bytes now are), ``stored_as``, ``stored_sha256``,
   ``stored_bytes`` and ``original_blob`` (where the original was);
5. only then the old original moves to the library's file trash ``trash/originals/`` (not deleted): it stays there,
   restorable with ``restore``, until the user empties the trash.

The media id never changes. Reads keep going through the library: for ``jxl-reconstructible`` media the exact
original JPEG is rebuilt on demand into ``derived/reconstructed/`` (a bounded cache), so thumbnails, downloads and
every stage see the very bytes that were imported. For ``lossless-pixels`` and ``lossy`` media the stored file is
what remains and the media's ``mime`` becomes the stored file's (the original's bytes are gone once the trash is
emptied).
"""
from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.catalog.filters import Eq
from workbench.catalog.store import Catalog
from workbench.compress.reconstruct import RECONSTRUCTIBLE, drop_cached
from workbench.errors import WorkbenchError
from workbench.ingest.blobstore import blob_relpath
from workbench.storage import ORIGINALS, Storage, derived_key, original_key, trash_key
from workbench.storage.base import CHUNK_BYTES

#: How the bytes of a media are stored: None (the original as imported), ``RECONSTRUCTIBLE`` (JPEG XL holding the
#: JPEG reconstruction data: the original rebuilds exactly; defined in ``reconstruct.py``, which the stages read) or
#: one of these.
LOSSLESS_PIXELS = "lossless-pixels"       # identical pixels and metadata; the original file's bytes are not kept
LOSSY = "lossy"                           # a lossy version the user explicitly chose to keep instead

#: Replaced originals wait in the file trash (``trash/originals/<blob>``, see ``Storage.to_trash``) until emptied;
#: rebuilt original JPEGs of ``jxl-reconstructible`` media are read through ``compress/reconstruct.py``.

RESULT_KEYS = ["id", "path", "status", "stored_as", "reason", "bytes_before", "bytes_after", "bytes_saved"]


def stored_as_of(version: dict[str, Any]) -> str:
    """What a version would make of its media: reconstructible (JPEG -> JPEG XL), pixel-lossless or lossy."""
    if version["codec"] == "jxl-jpeg" and version.get("verified"):
        return RECONSTRUCTIBLE
    if version.get("metric") == "identical" and version.get("verified"):
        return LOSSLESS_PIXELS
    return LOSSY


# ------------------------------------------------------------------------------------------------ verifying

def reverify(stored_as: str, original: bytes | None, new: bytes, media_sha256: str) -> str | None:
    """Verify a version against its media right before it replaces the original: None when it passes, else the
    reason it is refused. ``original`` may be None for reconstructible versions (the id's hash is the check)."""
    from workbench.compress.lossless import jxl_to_jpeg, metadata_preserved, pixels_identical
    if stored_as == RECONSTRUCTIBLE:
        try:
            rebuilt = jxl_to_jpeg(new)
        except Exception as e:  # noqa: BLE001 - a damaged version must be refused, not crash the run
            return f"the JPEG XL version does not rebuild a JPEG ({e})"
        if hashlib.sha256(rebuilt).hexdigest() != media_sha256:
            return "the JPEG rebuilt from the JPEG XL version is not byte-identical to the original"
        return None
    if original is None:
        return "the original is needed to verify this version"
    if stored_as == LOSSLESS_PIXELS:
        if not pixels_identical(original, new):
            return "the version's pixels are not identical to the original's"
        if not metadata_preserved(original, new):
            return "the version lost metadata (EXIF, ICC or XMP) of the original"
        return None
    return _decodes(new)


def _decodes(data: bytes) -> str | None:
    """None if ``data`` opens as an image (fully decoded) or a video with a video stream."""
    import io
    import tempfile

    from workbench.formats.sniff import sniff
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        try:
            ft = sniff(Path(f.name))
        except Exception as e:  # noqa: BLE001
            return f"the version is not a readable media file ({e})"
        try:
            if ft.kind == "image":
                from PIL import Image

                from workbench.imaging.decode import register_plugins
                register_plugins()
                with Image.open(io.BytesIO(data)) as im:
                    im.load()
            else:
                import av
                with av.open(f.name) as c:
                    if not c.streams.video:
                        return "the version has no video stream"
                    next(c.decode(video=0))
        except Exception as e:  # noqa: BLE001
            return f"the version does not decode ({e})"
    return None


# ------------------------------------------------------------------------------------------------ writing

def trashed_original(storage: Storage, row: dict[str, Any]) -> str | None:
    """The key where a replaced media's original file still is (in the file trash, or not yet moved), else None."""
    rel = row.get("original_blob")
    if not rel or rel == row.get("blob"):
        return None
    for key in (trash_key(original_key(rel)), original_key(rel)):
        if storage.exists(key):
            return key
    return None


# ------------------------------------------------------------------------------------------------ replacing

def replace_one(catalog: Catalog, storage: Storage, media: dict[str, Any], version: dict[str, Any] | None,
                allow_lossy: bool) -> dict[str, Any]:
    """Replace one media's original by its version if every rule allows it; returns its result row."""
    out = {"id": media["id"], "path": media["path"], "status": "skipped", "stored_as": media.get("stored_as"),
           "reason": "", "bytes_before": media["size_bytes"], "bytes_after": None, "bytes_saved": 0}
    if media.get("stored_as"):
        left = trashed_original(storage, media)
        if left == original_key(media["original_blob"]):   # an interrupted run: finish it
            storage.to_trash(left)
        out.update(reason=f"already replaced ({media['stored_as']})", bytes_after=media.get("stored_bytes"))
        return out
    if media["storage"] != "copy" or not media.get("blob"):
        return {**out, "reason": "indexed in place (--mode reference): files outside the library are never touched"}
    if version is None:
        return {**out, "reason": "no version for this policy yet: run `workbench compress` with it first"}
    if not version.get("path"):
        return {**out, "reason": "the policy found nothing smaller: the original stays"}
    kind = stored_as_of(version)
    out["stored_as"] = kind
    if kind == LOSSY and not allow_lossy:
        return {**out, "stored_as": None,
                "reason": "the version is not verified lossless: the original stays (allow lossy versions "
                          "explicitly to replace it)"}
    new_key, orig_key = derived_key(version["path"]), original_key(media["blob"])
    try:
        new = storage.read_bytes(new_key)
        original = storage.read_bytes(orig_key)
    except OSError as e:
        return {**out, "status": "refused", "reason": f"cannot read {e.filename}: {e.strerror or e}"}
    if hashlib.sha256(original).hexdigest() != media["sha256"]:
        return {**out, "status": "refused",
                "reason": "the original changed since import: run `workbench verify` before replacing it"}
    if len(new) >= len(original):
        return {**out, "status": "skipped", "reason": "the version is not smaller than the original"}
    problem = reverify(kind, original, new, media["sha256"])
    if problem:
        return {**out, "status": "refused", "reason": f"{problem}; the original stays"}
    suffix = PurePosixPath(version["path"]).suffix
    if kind != RECONSTRUCTIBLE and suffix == ".jxl" and (media.get("orientation") or 1) != 1:
        return {**out, "status": "refused", "reason": "JPEG XL decoders ignore the EXIF orientation this image "
                                                      "needs, so it would show turned; the original stays"}
    rel = blob_relpath(media["sha256"], ".stored" + suffix)
    storage.write(original_key(rel), new, immutable=True)
    stored_sha = _sha256_of(storage, original_key(rel))      # read back from storage, not from memory
    if stored_sha != hashlib.sha256(new).hexdigest():
        return {**out, "status": "refused", "reason": "the stored copy did not read back identical; the original "
                                                      "stays"}
    values: dict[str, Any] = {"blob": rel, "stored_as": kind, "stored_sha256": stored_sha,
                              "stored_bytes": len(new), "original_blob": media["blob"]}
    if kind != RECONSTRUCTIBLE:
        values["mime"] = _sniff(storage, original_key(rel))
    catalog.update("media", Eq("id", media["id"]), values)
    storage.to_trash(orig_key)
    return {**out, "status": "replaced", "reason": "", "bytes_after": len(new),
            "bytes_saved": len(original) - len(new)}


def _sha256_of(storage: Storage, key: str) -> str:
    h = hashlib.sha256()
    with storage.open(key) as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def _sniff(storage: Storage, key: str) -> str:
    from workbench.formats.sniff import sniff
    with storage.local_copy(key) as path:
        return sniff(path).mime


def restore_original(catalog: Catalog, storage: Storage, media: dict[str, Any]) -> None:
    """Put a replaced original back while it is still in the file trash; the stored version goes to the trash."""
    if not media.get("stored_as"):
        raise WorkbenchError(f"media {media['id']} still has its original: nothing to restore")
    src = trashed_original(storage, media)
    if src is None:
        raise WorkbenchError(f"the original of media {media['id']} is no longer in the trash (it was emptied): "
                             f"it cannot be restored")
    if _sha256_of(storage, src) != media["sha256"]:
        raise WorkbenchError(f"the original of media {media['id']} in the trash changed since import; not restored")
    dest = original_key(media["original_blob"])
    if src != dest:
        storage.from_trash(dest)
    catalog.update("media", Eq("id", media["id"]),
                   {"blob": media["original_blob"], "mime": _sniff(storage, dest), "stored_as": None,
                    "stored_sha256": None, "stored_bytes": None, "original_blob": None})
    stored = original_key(media["blob"])
    if storage.exists(stored):
        storage.to_trash(stored)
    drop_cached(storage, [media["id"]])


def empty_file_trash(storage: Storage) -> dict[str, int]:
    """Delete the replaced originals (and restored-away versions) waiting in the file trash, for good."""
    n, size = storage.purge(trash_key(ORIGINALS))
    return {"replaced_originals_deleted": n, "replaced_bytes_freed": size}


def check_media(task: tuple[str, str, str, str | None, str | None]) -> dict[str, str]:
    """``verify`` for one media: (id, stored file, media sha256, stored_as, stored sha256). Untouched originals are
    re-hashed; replaced ones must match their recorded hash, and a reconstructible one must rebuild the id's bytes."""
    from workbench.ingest.verify import check_one
    mid, path, sha, stored_as, stored_sha = task
    if not stored_as:
        return {**check_one((mid, path, sha)), "stored_as": "original"}
    res = check_one((mid, path, stored_sha or ""))
    res["stored_as"] = stored_as
    if res["status"] != "ok":
        if res["status"] == "changed":
            res["detail"] = f"the stored {stored_as} file changed: {res['detail']}"
        return res
    if stored_as == RECONSTRUCTIBLE:
        from workbench.compress.lossless import jxl_to_jpeg
        try:
            rebuilt = hashlib.sha256(jxl_to_jpeg(Path(path).read_bytes())).hexdigest()
        except ValueError as e:
            return {**res, "status": "changed", "detail": f"the stored JPEG XL no longer rebuilds a JPEG: {e}"}
        if rebuilt != sha:
            return {**res, "status": "changed", "detail": "the JPEG rebuilt from the stored JPEG XL is not the "
                                                          "original"}
        res["detail"] = "stored as JPEG XL: the original JPEG rebuilds byte for byte"
    elif stored_as == LOSSLESS_PIXELS:
        res["detail"] = "stored losslessly (identical pixels and metadata); the original file was replaced"
    else:
        res["detail"] = "stored as a lossy version chosen by the user; the original file was replaced"
    return res
