"""Re-hash every original and report the ones that changed or vanished since import."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.ingest.blobstore import sha256_file

if TYPE_CHECKING:
    from workbench.storage.encrypted import EncryptedStorage


def check_one(task: tuple[str, str, str]) -> dict[str, str]:
    """``task`` is (media id, file path, expected sha256); returns the status of that file."""
    mid, path, expected = task
    p = Path(path)
    if not p.exists():
        return {"id": mid, "path": path, "status": "missing", "detail": "the file is gone"}
    try:
        actual = sha256_file(p)
    except OSError as e:
        return {"id": mid, "path": path, "status": "unreadable", "detail": e.strerror or str(e)}
    if actual != expected:
        return {"id": mid, "path": path, "status": "changed",
                "detail": f"sha256 is now {actual[:16]}..., was {expected[:16]}..."}
    return {"id": mid, "path": path, "status": "ok", "detail": ""}


def check_encrypted(storage: "EncryptedStorage", media: list[dict]) -> tuple[list[dict], set[str]]:
    """For an encrypted library: authenticate every stored object end to end (originals, renditions, versions,
    trash) and compare each original's plaintext hash with the catalog's. Returns the rows for the media it settled
    (ok, changed, missing, or tampered: refused by authentication) plus one row per other tampered object, and the
    ids settled; originals kept as another version (``stored_as``) are left to the usual check."""
    from workbench.storage import original_key
    by_name = {storage.name_of(original_key(r["blob"])): r for r in media
               if r.get("storage") == "copy" and r.get("blob")}
    seen: set[str] = set()
    rows: list[dict] = []
    for name, _key, sha, problem in storage.audit():
        r = by_name.get(name)
        if problem is not None:
            rows.append({"id": r["id"] if r else "", "path": original_key(r["blob"]) if r else name,
                         "status": "tampered", "detail": problem,
                         "stored_as": (r.get("stored_as") or "original") if r else ""})
            if r:
                seen.add(r["id"])
            continue
        if r is None or r.get("stored_as"):
            continue
        seen.add(r["id"])
        status, detail = ("ok", "") if sha == r["sha256"] else (
            "changed", f"sha256 is now {sha[:16]}..., was {r['sha256'][:16]}...")
        rows.append({"id": r["id"], "path": original_key(r["blob"]), "status": status, "detail": detail,
                     "stored_as": "original"})
    for name, r in by_name.items():
        if r["id"] not in seen and not r.get("stored_as"):
            rows.append({"id": r["id"], "path": original_key(r["blob"]), "status": "missing",
                         "detail": "the file is gone", "stored_as": "original"})
            seen.add(r["id"])
    return rows, seen
