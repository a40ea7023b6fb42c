"""The bounded local caches behind ``materialize`` and ``local_file`` (a folder's rebuilt JPEGs, a bucket's local
copies, an encrypted library's decrypted copies) are trimmed the same way: least recently used first."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path


def trim_lru(files: Iterable[Path], max_bytes: int, keep: Path, *, grace_s: float = 0.0,
             on_remove: Callable[[Path], None] | None = None) -> None:
    """Delete the least recently used of ``files`` until they total at most ``max_bytes``; never ``keep`` (the
    entry just made) nor one touched in the last ``grace_s`` seconds (another process may be about to open it).
    Files another process removed meanwhile are skipped."""
    entries = []
    for p in files:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        entries.append((st.st_mtime, st.st_size, p))
    total = sum(s for _, s, _ in entries)
    now = time.time()
    for mtime, size, p in sorted(entries, key=lambda t: t[0]):
        if total <= max_bytes:
            break
        if p != keep and now - mtime >= grace_s:
            p.unlink(missing_ok=True)
            if on_remove:
                on_remove(p)
            total -= size
