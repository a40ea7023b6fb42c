"""``lib.backups``: point-in-time backups with restic (``workbench/backup/``): take, list, verify, apply retention,
bring media back, or restore a whole library (which needs no live one)."""
from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.capabilities.context import Capability
from workbench.catalog.lock import WriteLock
from workbench.settings import Settings


class Backups(Capability):
    """``lib.backups(target)`` lists backups; ``take``, ``verify``, ``forget``, ``restore_media``."""

    def _repo(self, target: str | None, password_file: str | os.PathLike | None):
        from workbench.backup import open_repository
        return open_repository(target, self.settings, password_file)

    def __call__(self, target: str | None = None, *, password_file: str | os.PathLike | None = None
                 ) -> pd.DataFrame:
        """The backups in ``target``, oldest first: id, short_id, time, media, originals."""
        from workbench.backup import list_backups
        rows = list_backups(self._repo(target, password_file))
        return pd.DataFrame(rows, columns=["id", "short_id", "time", "media", "originals", "path"])

    def take(self, target: str | None = None, *, password_file: str | os.PathLike | None = None) -> dict[str, Any]:
        """A consistent point-in-time backup (each table at one committed version, plus the originals those rows
        name, plus thumbnails) into ``target`` (default: the ``backup_target`` setting), encrypted, deduplicated
        and incremental; then the retention settings are applied. Works while an import runs."""
        from workbench.backup import take_backup
        # A backup never waits for a writer: if one is busy it pins the versions already committed (snapshot.py).
        return take_backup(self.root, self.catalog, self.storage, WriteLock(self.root, wait_s=0),
                           self._repo(target, password_file), self.settings).as_dict()

    def verify(self, target: str | None = None, *, read_data_percent: float | None = None,
               password_file: str | os.PathLike | None = None) -> dict[str, Any]:
        """Check the backup repository (``restic check``) and re-read ``read_data_percent`` % of its data; raises
        ``BackupError`` when anything is damaged."""
        from workbench.backup import verify_backups
        return verify_backups(self._repo(target, password_file), read_data_percent)

    def forget(self, target: str | None = None, *, password_file: str | os.PathLike | None = None) -> list[str]:
        """Apply the retention settings (keep last/daily/weekly/monthly) and free the space; returns the ids of
        the backups removed. ``backup`` does this after every run too."""
        from workbench.backup import apply_retention
        return apply_retention(self._repo(target, password_file), self.settings)

    def restore_media(self, ids: Iterable[str], target: str | None = None, *, at: datetime | str | None = None,
                      password_file: str | os.PathLike | None = None) -> pd.DataFrame:
        """Bring a few media back from a backup (the latest, or the one at/before ``at``) into this library: the
        original (hash-checked first) and its rows if they are gone. Rows: id, original, row."""
        from workbench.backup import find_snapshot, restore_media
        repo = self._repo(target, password_file)
        rows = restore_media(repo, find_snapshot(repo, at), list(ids), self.root, self.catalog, self.storage,
                             self.lock)
        return pd.DataFrame(rows, columns=["id", "original", "row"])


def restore_library(dest: str | os.PathLike, target: str | None = None, *, at: datetime | str | None = None,
                    password_file: str | os.PathLike | None = None,
                    settings_from: str | os.PathLike | None = None) -> dict[str, Any]:
    """Restore a whole library from a backup into the new or empty folder ``dest``: it opens and passes
    ``verify``. Needs no live library (it may be the one lost); ``settings_from`` names a library whose
    backup settings (target, password file) to use."""
    from workbench.backup import find_snapshot, open_repository, restore_library as restore
    src = Path(settings_from) if settings_from else None
    settings = Settings.load(src) if src is not None and (src / "library.json").exists() else Settings()
    repo = open_repository(target, settings, password_file)
    return restore(repo, find_snapshot(repo, at), Path(dest))
