"""Expand the paths a user gives to ``import`` into candidate files."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Files that travel with photos but are not media: skipped quietly and counted, not reported as errors.
SIDECAR_SUFFIXES = {
    ".xmp", ".json", ".aae", ".thm", ".txt", ".md", ".rst", ".csv", ".xml", ".html", ".htm", ".pdf", ".ini",
    ".db", ".lrcat", ".pp3", ".dop", ".on1", ".out", ".yml", ".yaml", ".npy", ".npz", ".py", ".log", ".zip",
}
SKIP_NAMES = {"LICENSE", "COPYING", "README", "NOTICE", "Thumbs.db", ".DS_Store"}


def is_sidecar(path: Path) -> bool:
    name = path.name
    upper = name.upper()
    return (path.suffix.lower() in SIDECAR_SUFFIXES or name in SKIP_NAMES
            or upper.startswith(("LICENSE", "LICENCE", "COPYING", "README", "NOTICE")))


def iter_candidates(paths: list[Path], exclude: Path | None = None) -> Iterator[tuple[Path, bool]]:
    """Yield ``(absolute path, is_sidecar)`` for every regular file under ``paths``, sorted per folder.

    Hidden files and folders are skipped, and so is ``exclude`` (the library itself, when a user imports a
    folder that contains it).
    """
    excl = exclude.resolve() if exclude else None
    for p in paths:
        p = Path(p).expanduser().absolute()
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
        if p.is_file():
            yield p, is_sidecar(p)
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            d = Path(dirpath)
            if excl is not None and (d.resolve() == excl or excl in d.resolve().parents):
                dirnames[:] = []
                continue
            dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                f = d / name
                if f.is_file() and not f.is_symlink():
                    yield f, is_sidecar(f)
