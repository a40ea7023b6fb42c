"""Taking, listing, checking and thinning backups of a library (``Library.backup`` and friends call these)."""
from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ContextManager

from workbench.backup.restic import BackupError, Restic, repository
from workbench.backup.snapshot import MANIFEST, stage, unstage
from workbench.catalog.store import Catalog
from workbench.settings import Settings
from workbench.storage import Storage

PASSWORD_ENV = "WORKBENCH_BACKUP_PASSWORD"
#: Left in the library root by a backup that failed (a full disk, a network error), like the staging folder a
#: killed one leaves: the next successful backup then prunes what the failed one wrote.
FAILED_MARK = ".backup-failed"


def open_repository(target: str | None, settings: Settings, password_file: str | os.PathLike | None = None) -> Restic:
    """The repository at ``target`` (else the ``backup_target`` setting), unlocked by ``password_file``, else
    ``$WORKBENCH_BACKUP_PASSWORD``, else the ``backup_password_file`` setting."""
    target = target or settings.backup_target
    if not target:
        raise BackupError("no backup target: name one (a folder, s3://bucket/prefix or a restic location like "
                          "sftp:host:/path), or set backup_target in the library's settings.json")
    if password_file:
        return Restic(repository(target), password_file=Path(password_file))
    if os.environ.get(PASSWORD_ENV):
        return Restic(repository(target), password=os.environ[PASSWORD_ENV])
    if settings.backup_password_file:
        return Restic(repository(target), password_file=Path(settings.backup_password_file))
    return Restic(repository(target))  # raises the "no password" error when used


@dataclass
class BackupResult:
    """One finished backup: restic's snapshot, what it holds, and what it cost."""

    snapshot_id: str
    created_at: str
    media: int
    originals: int
    original_bytes: int
    tables: dict[str, int]
    files_new: int
    files_changed: int
    files_unmodified: int
    bytes_processed: int
    data_added_bytes: int
    duration_s: float
    stage_s: float
    verify_s: float
    forgotten: list[str]
    write_lock: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _BackupLock:
    """One backup of a library at a time (they share the staging folder); the OS drops it on kill -9."""

    def __init__(self, root: Path):
        self.path = root / ".backup.lock"
        self.fd: int | None = None

    def __enter__(self) -> "_BackupLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise BackupError("another backup of this library is running; wait for it to finish") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def check_snapshot(repo: Restic, snapshot_id: str, folder: Path) -> None:
    """The snapshot lists every staged file at its size (restic's own record, read back after the write)."""
    proc = repo.run(["ls", "--json", snapshot_id])
    stored: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        try:
            node = json.loads(line)
        except ValueError:
            continue
        if node.get("type") == "file":
            stored[node["path"]] = int(node.get("size") or 0)
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(dirpath) / name
            if stored.get(str(p)) != p.stat().st_size:
                raise BackupError(f"snapshot {snapshot_id[:8]} lacks {p.relative_to(folder)} (or has it at another "
                                  f"size); run `workbench backups verify` and back up again")


def take_backup(root: Path, catalog: Catalog, storage: Storage, write_lock: ContextManager[Any], repo: Restic,
                settings: Settings) -> BackupResult:
    """A consistent point-in-time backup of the library at ``root`` into ``repo`` (created if new), checked
    against what was staged, then thinned by the retention settings."""
    t0, started_at = time.perf_counter(), time.time()
    with _BackupLock(root):
        repo.init_if_missing()
        failed = root / FAILED_MARK
        try:
            staged = stage(root, catalog, storage, write_lock)
            t1 = time.perf_counter()
            m = staged.manifest
            summary = repo.backup(staged.folder, tags=[f"media={m['media']}", f"originals={m['originals']}"],
                                  compression=settings.backup_compression)
            t2 = time.perf_counter()
            check_snapshot(repo, summary["snapshot_id"], staged.folder)
            t3 = time.perf_counter()
        except BackupError:
            failed.touch()  # restic may have written packs no snapshot uses: the next backup prunes them
            raise
        finally:
            unstage(root)
        forgotten = apply_retention(repo, settings)
        if staged.interrupted_before or failed.exists():
            # The killed run's packs are in no snapshot; this run wrote the same data again. Prune drops them, so
            # an interruption leaves nothing duplicated (a prune after a forget has done it already), and the
            # pack it was writing when killed is swept.
            if not forgotten:
                repo.run(["prune"])
            repo.sweep_tmp(older_than=started_at)
            failed.unlink(missing_ok=True)
    return BackupResult(
        snapshot_id=summary["snapshot_id"], created_at=m["created_at"], media=m["media"], originals=m["originals"],
        original_bytes=m["original_bytes"], tables=m["tables"], files_new=summary.get("files_new", 0),
        files_changed=summary.get("files_changed", 0), files_unmodified=summary.get("files_unmodified", 0),
        bytes_processed=summary.get("total_bytes_processed", 0), data_added_bytes=summary.get("data_added", 0),
        duration_s=time.perf_counter() - t0, stage_s=t1 - t0, verify_s=t3 - t2, forgotten=forgotten,
        write_lock=m["write_lock"])


def apply_retention(repo: Restic, settings: Settings, *, prune: bool = True) -> list[str]:
    """``restic forget`` with the library's keep-last/daily/weekly/monthly settings (and prune what it freed)."""
    return repo.forget(keep_last=settings.backup_keep_last, keep_daily=settings.backup_keep_daily,
                       keep_weekly=settings.backup_keep_weekly, keep_monthly=settings.backup_keep_monthly,
                       prune=prune)


def list_backups(repo: Restic) -> list[dict[str, Any]]:
    """The workbench snapshots in ``repo``, oldest first: id, time, media and originals counts."""
    if not repo.exists():
        raise BackupError(f"no backup repository at {repo.repo}: run `workbench backup TARGET` first")
    out = []
    for s in repo.snapshots():
        tags = dict(t.split("=", 1) for t in s.get("tags") or [] if "=" in t)
        out.append({"id": s["id"], "short_id": s["short_id"], "time": s["time"],
                    "media": int(tags.get("media", 0)), "originals": int(tags.get("originals", 0)),
                    "path": (s.get("paths") or [""])[0]})
    return out


def find_snapshot(repo: Restic, at: datetime | str | None = None) -> dict[str, Any]:
    """The snapshot to restore: the latest, the latest taken at or before ``at`` (a datetime), or the one whose
    id starts with ``at`` (a string)."""
    snaps = list_backups(repo)
    if not snaps:
        raise BackupError(f"the repository {repo.repo} holds no workbench backups yet")
    if at is None:
        return snaps[-1]
    if isinstance(at, str):
        hits = [s for s in snaps if s["id"].startswith(at)]
        if len(hits) != 1:
            raise BackupError(f"{len(hits)} backups have an id starting with {at!r}; see `workbench backups list`")
        return hits[0]
    when = at if at.tzinfo else at.astimezone()
    before = [s for s in snaps if _parse_time(s["time"]) <= when]
    if not before:
        raise BackupError(f"no backup was taken at or before {when.isoformat()}; the first is from "
                          f"{snaps[0]['time']}")
    return before[-1]


def _parse_time(text: str) -> datetime:
    """restic's RFC 3339 time with nanoseconds, as an aware datetime (Python parses microseconds only)."""
    head, _, rest = text.partition(".")
    frac, tz = rest, ""
    for i, ch in enumerate(rest):
        if not ch.isdigit():
            frac, tz = rest[:i], rest[i:]
            break
    tz = "+00:00" if tz in ("Z", "") else tz
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}{tz}")


def verify_backups(repo: Restic, read_data_percent: float | None = None) -> dict[str, Any]:
    """``restic check``: the repository's structure, and ``read_data_percent`` % of its data re-read and
    re-hashed (a different subset each run). Raises ``BackupError`` when anything is damaged."""
    t0 = time.perf_counter()
    report = repo.check(read_data_percent)
    return {"ok": True, "read_data_percent": read_data_percent or 0.0, "seconds": time.perf_counter() - t0,
            "snapshots": len(repo.snapshots()), "report": (report.strip().splitlines() or [""])[-1],
            "checked_at": datetime.now(timezone.utc).isoformat()}


__all__ = ["BackupResult", "MANIFEST", "open_repository", "take_backup", "list_backups", "find_snapshot",
           "verify_backups", "apply_retention"]
