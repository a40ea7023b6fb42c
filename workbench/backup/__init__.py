"""Point-in-time backups of a library with restic: ``snapshot`` decides what goes in (a consistent catalog and the
originals its rows name), ``restic`` drives the engine through its JSON output, ``run`` takes, lists, checks and
thins backups, ``restore`` brings a whole library or a few media back. ``Library.backup`` and friends call these."""
from __future__ import annotations

from workbench.backup.restic import BackupError, Restic, repository
from workbench.backup.restore import restore_library, restore_media
from workbench.backup.run import (BackupResult, apply_retention, find_snapshot, list_backups, open_repository,
                                  take_backup, verify_backups)

__all__ = ["BackupError", "Restic", "repository", "restore_library", "restore_media", "BackupResult",
           "apply_retention", "find_snapshot", "list_backups", "open_repository", "take_backup", "verify_backups"]
