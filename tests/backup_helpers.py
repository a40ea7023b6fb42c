"""Shared by the backup tests: libraries of real JPEGs, and the consistency a restored library must have."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.library import Library

PASSWORD = "correct horse battery staple"

needs_restic = pytest.mark.skipif(shutil.which("restic") is None,
                                  reason="restic is not installed (`make setup` as root installs Debian's restic)")


@pytest.fixture(autouse=True)
def _backup_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKBENCH_BACKUP_PASSWORD", PASSWORD)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))


def noise_jpegs(folder: Path, n: int, *, w: int = 480, h: int = 360, start: int = 0) -> list[Path]:
    """``n`` distinct JPEGs of noise (incompressible, so their size is what restic must write)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(start, start + n):
        arr = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
        p = folder / f"IMG_{i:04d}.jpg"
        Image.fromarray(arr).save(p, "JPEG", quality=95)
        out.append(p)
    return out


def library_with(tmp: Path, n: int, **kw) -> Library:
    lib = Library.create(tmp / "lib")
    lib.import_files([p for p in noise_jpegs(tmp / "in", n, **kw)], progress=False)
    return lib


def originals_on_disk(lib: Library) -> set[str]:
    """Blob paths (relative to originals/) of every stored original file."""
    base = lib.originals_dir
    return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file() and ".tmp" not in p.parts}


def assert_consistent(lib: Library) -> None:
    """No media row without its original, no original without its row, and every original intact."""
    rows = lib.catalog.read("media", ["id", "storage", "blob"]).to_pylist()
    blobs = {r["blob"] for r in rows if r["storage"] == "copy"}
    assert blobs == originals_on_disk(lib)
    report = lib.verify(progress=False)
    assert (report["status"] == "ok").all(), report[report["status"] != "ok"]


def snapshot_ids(repo: Path) -> list[str]:
    import json
    import subprocess
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo)}
    out = subprocess.run(["restic", "snapshots", "--json"], env=env, capture_output=True, text=True, check=True)
    return [s["id"] for s in json.loads(out.stdout or "[]") or []]
