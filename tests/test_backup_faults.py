"""Faults a backup must survive: kill -9 during a backup and during a restore, a deleted catalog, a full target
disk, and a backup taken while an import is writing. Real restic, real processes, real kills."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backup_helpers import (PASSWORD, _backup_password, assert_consistent, library_with, needs_restic,  # noqa: F401
                            noise_jpegs, originals_on_disk, snapshot_ids)
from workbench.backup import BackupError
from workbench.library import Library

pytestmark = needs_restic


def _cli(lib_root: Path, *args: str) -> subprocess.Popen:
    """``workbench --library LIB ARGS`` in its own process (the one we kill)."""
    return subprocess.Popen([sys.executable, "-m", "workbench", "--library", str(lib_root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})


def _kill_when(proc: subprocess.Popen, ready, timeout_s: float = 120) -> None:
    """SIGKILL ``proc`` (only it: its restic child must die with it) as soon as ``ready()`` is true."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read().decode()[-500:]}"
        assert time.monotonic() < deadline, "never reached the point to kill it at"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _repo_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / "data").rglob("*") if p.is_file())


@pytest.mark.slow
def test_kill_9_during_a_backup_then_rerun_completes_with_nothing_lost_or_duplicated(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 12, w=2000, h=1500)                  # ~70 MB of incompressible originals
    repo = tmp_path / "repo"
    proc = _cli(lib.root, "backup", str(repo))
    _kill_when(proc, lambda: (repo / "data").is_dir() and sum(1 for p in (repo / "data").rglob("*")
                                                               if p.is_file()) >= 2)
    time.sleep(1.0)                                                   # restic, if it had survived, would go on
    assert snapshot_ids(repo) == []                                   # no half backup is listed as one

    r = lib.backup(str(repo))
    assert [s[:8] for s in snapshot_ids(repo)] == [r["snapshot_id"]]
    assert lib.verify_backups(str(repo), read_data_percent=100)["ok"]
    originals = r["original_bytes"]
    packs = sorted(p.stat().st_size for p in (repo / "data").rglob("*") if p.is_file())
    assert _repo_bytes(repo) < 1.15 * originals, (originals, packs)  # the killed run's packs were pruned
    back = Library.open(Library.restore_library(tmp_path / "restored", str(repo))["library"])
    assert_consistent(back)
    assert sorted(back.media()["id"]) == sorted(lib.media()["id"])


@pytest.mark.slow
def test_kill_9_during_a_restore_then_rerun_completes(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 12, w=2000, h=1500)
    repo, dest = tmp_path / "repo", tmp_path / "restored"
    lib.backup(str(repo))
    partial = tmp_path / ".restored.restoring"
    proc = _cli(lib.root, "restore", "--from", str(repo), "--to", str(dest))
    _kill_when(proc, lambda: partial.is_dir() and sum(1 for p in partial.rglob("*.jpg")) >= 2)
    assert not dest.exists()                                          # nothing half-restored under the real name

    out = Library.restore_library(dest, str(repo))
    assert not out["already_restored"] and not partial.exists()
    back = Library.open(dest)
    assert_consistent(back)
    assert sorted(back.media()["id"]) == sorted(lib.media()["id"])
    assert Library.restore_library(dest, str(repo))["already_restored"]   # a third run has nothing to do


@pytest.mark.slow  # 10-20 s: thumbnails made, backed up, every table compared
def test_with_the_catalog_folder_deleted_restore_brings_back_every_row_and_original(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 5)
    lib.process(["thumbnails"], progress=False)
    trashed = lib.media()["id"].iloc[0]
    lib.trash([trashed])
    repo = str(tmp_path / "repo")
    lib.backup(repo)
    tables = {n: _rows(lib, n) for n in lib.catalog.table_names()}
    originals = {b: (lib.originals_dir / b).read_bytes() for b in originals_on_disk(lib)}
    assert {"media", "sources", "trash", "thumbnails"} <= set(tables) and len(originals) == 5
    shutil.rmtree(lib.root / "catalog")

    back = Library.open(Library.restore_library(tmp_path / "restored", repo, settings_from=lib.root)["library"])
    assert set(back.catalog.table_names()) == set(tables)
    for name, rows in tables.items():                     # every row of every table, as it was
        assert _rows(back, name) == rows, name
    assert {b: (back.originals_dir / b).read_bytes() for b in originals_on_disk(back)} == originals
    assert_consistent(back)
    assert back.trashed_ids() == {trashed}


def _rows(lib: Library, table: str) -> list[str]:
    """A table's rows in a comparable, order-free form."""
    return sorted(repr(sorted(r.items())) for r in lib.catalog.read(table).to_pylist())


def _mount_tmpfs(folder: Path, size_mb: int) -> None:
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root to mount")
    folder.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): {r.stderr.strip()}")


@pytest.mark.slow
def test_a_full_target_disk_is_one_clear_error_and_earlier_backups_stay_intact(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, 12)
    try:
        lib = library_with(tmp_path, 2)
        repo = str(disk / "repo")
        first = lib.backup(repo)["snapshot_id"]
        lib.import_files(noise_jpegs(tmp_path / "big", 8, w=1600, h=1200, start=500), progress=False)  # ~20 MB
        with pytest.raises(BackupError, match="the backup target is full") as err:
            lib.backup(repo)
        assert "\n" not in str(err.value)
        assert [s[:8] for s in snapshot_ids(Path(repo))] == [first]
        assert lib.verify_backups(repo, read_data_percent=100)["ok"]
        back = Library.open(Library.restore_library(tmp_path / "restored", repo)["library"])
        assert len(back.media()) == 2
        assert_consistent(back)
        assert not (lib.root / ".backup-staging").exists()
        assert (lib.root / ".backup-failed").exists()                 # the next backup prunes what this one wrote
    finally:
        _unmount(disk)


def _unmount(folder: Path) -> None:
    """A plain unmount first (a lazy one may leave the tmpfs attached while restic's files are still open)."""
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.slow
def test_a_backup_taken_while_an_import_runs_restores_to_a_consistent_library(tmp_path: Path) -> None:
    lib = Library.create(tmp_path / "lib")
    (lib.root / "settings.json").write_text(json.dumps({"commit_every_files": 1, "workers": 1,
                                                      "backup_keep_last": 1000}))
    inputs = noise_jpegs(tmp_path / "in", 150, w=320, h=240)     # one commit each: backups overlap the import
    repo = str(tmp_path / "repo")
    lib = Library.open(lib.root)
    lib.backup(repo)                                                  # the repository exists before the import
    importer = _cli(lib.root, "import", str(tmp_path / "in"))
    deadline = time.monotonic() + 120
    while lib.catalog.count("media") == 0 and importer.poll() is None:   # the import has begun committing
        assert time.monotonic() < deadline
        time.sleep(0.05)
    taken = []
    while importer.poll() is None or not taken:
        taken.append(lib.backup(repo))
    assert importer.wait() == 0, importer.stderr.read().decode()[-800:]
    during = [t for t in taken if t["write_lock"].startswith("busy")]
    assert during, "no backup overlapped the import; make the import longer"
    assert any(0 < t["media"] < len(inputs) for t in during), [t["media"] for t in taken]
    for i, t in enumerate(during[:3]):
        back = Library.open(Library.restore_library(tmp_path / f"r{i}", repo, at=t["snapshot_id"])["library"])
        assert len(back.media()) == t["media"]
        assert_consistent(back)                      # no row without its original, no original without its row
