"""Re-hash every original and report the ones that changed or vanished since import."""
from __future__ import annotations

from pathlib import Path

from workbench.ingest.blobstore import sha256_file


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
