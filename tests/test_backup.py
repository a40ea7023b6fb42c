"""Backups with restic: a point-in-time copy of the catalog and the originals, listed, verified, restored whole or
media by media, thinned by the retention settings. Real restic, real LanceDB, real JPEGs."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backup_helpers import (PASSWORD, _backup_password, assert_consistent, library_with, needs_restic,  # noqa: F401
                            noise_jpegs, originals_on_disk, snapshot_ids)
from workbench.backup import BackupError
from workbench.catalog.filters import Eq
from workbench.cli.main import app
from workbench.library import Library

pytestmark = needs_restic


@pytest.mark.slow
def test_a_restored_library_has_every_row_original_and_thumbnail_and_passes_verify(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 4)
    lib.process(["thumbnails"], progress=False)
    r = lib.backup(str(tmp_path / "repo"))
    assert (r["media"], r["originals"]) == (4, 4)
    assert r["tables"]["media"] == lib.catalog.table("media").version
    assert not (lib.root / ".backup-staging").exists()          # the staging links are gone after the run

    out = Library.restore_library(tmp_path / "restored", str(tmp_path / "repo"))
    back = Library.open(out["library"])
    assert_consistent(back)
    assert set(back.media()["id"]) == set(lib.media()["id"])
    assert back.sources().sort_values("path")["path"].tolist() == lib.sources().sort_values("path")["path"].tolist()
    for mid in lib.media()["id"]:
        assert back.thumbnail(mid) == lib.thumbnail(mid)
    assert back.status().set_index("stage").loc["thumbnails", "pending"] == 0


def test_an_incremental_backup_writes_only_what_is_new(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 6, w=900, h=700)
    first = lib.backup(str(tmp_path / "repo"))
    lib.import_files(noise_jpegs(tmp_path / "more", 1, w=900, h=700, start=100), progress=False)
    second = lib.backup(str(tmp_path / "repo"))
    assert second["media"] == 7
    assert second["data_added_bytes"] < first["data_added_bytes"] / 3
    assert second["files_unmodified"] >= 6                        # the six old originals were not read again


def test_the_repository_holds_no_plaintext_of_originals_or_catalog(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 2)
    repo = tmp_path / "repo"
    lib.backup(str(repo))
    needles = [p.read_bytes()[5000:5064] for p in (tmp_path / "in").glob("*.jpg")]   # pieces of each original
    needles += [mid.encode() for mid in lib.media()["id"]]                         # and of the catalog's rows
    stored = [p.read_bytes() for p in repo.rglob("*") if p.is_file()]
    assert stored and not [n for n in needles if any(n in data for data in stored)]


@pytest.mark.slow
def test_restore_at_a_time_brings_back_the_library_as_it_was_then(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 2)
    repo = str(tmp_path / "repo")
    lib.backup(repo)
    between = datetime.now(timezone.utc)
    lib.import_files(noise_jpegs(tmp_path / "more", 2, start=50), progress=False)
    lib.backup(repo)
    assert len(lib.backups(repo)) == 2
    old = Library.open(Library.restore_library(tmp_path / "then", repo, at=between)["library"])
    new = Library.open(Library.restore_library(tmp_path / "now", repo)["library"])
    assert (len(old.media()), len(new.media())) == (2, 4)
    assert_consistent(old)
    with pytest.raises(BackupError, match="no backup was taken at or before"):
        Library.restore_library(tmp_path / "never", repo, at=between - timedelta(days=1))


@pytest.mark.slow
def test_restore_ids_brings_a_lost_original_and_a_deleted_row_back_into_the_live_library(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 3)
    repo = str(tmp_path / "repo")
    lib.backup(repo)
    damaged, gone, fine = sorted(lib.media()["id"])
    path = lib.original_path(damaged)
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    path.write_bytes(b"bit rot")
    lib.catalog.delete("media", f"id = '{gone}'")
    before = lib.catalog.table("media").version

    report = lib.restore_from_backup([damaged[:8], gone], repo).set_index("id")
    assert report.loc[damaged, "original"] == "restored" and report.loc[damaged, "row"] == "present"
    assert report.loc[gone, "row"] == "restored"
    assert set(lib.media()["id"]) == {damaged, gone, fine}
    assert_consistent(lib)
    assert lib.catalog.table("media").version == before + 1        # one insert, the kept rows untouched
    assert any(k.startswith("trash/originals/") for k in lib.storage.list("trash"))  # damaged copy kept aside


def test_verify_finds_a_damaged_repository_and_says_so(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 2)
    repo = tmp_path / "repo"
    lib.backup(str(repo))
    assert lib.verify_backups(str(repo), read_data_percent=100)["ok"]
    pack = max((p for p in (repo / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    os.chmod(pack, 0o644)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="restic check failed"):
        lib.verify_backups(str(repo), read_data_percent=100)


def test_retention_keeps_the_last_n_backups(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 1)
    lib.settings.backup_keep_last = 2
    lib.settings.backup_keep_daily = lib.settings.backup_keep_weekly = lib.settings.backup_keep_monthly = 0
    repo = str(tmp_path / "repo")
    ids = [lib.backup(repo)["snapshot_id"] for _ in range(3)]
    kept = lib.backups(repo)
    assert [s[:8] for s in kept["id"]] == ids[1:]


def test_a_wrong_password_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = library_with(tmp_path, 1)
    lib.backup(str(tmp_path / "repo"))
    monkeypatch.setenv("WORKBENCH_BACKUP_PASSWORD", "not it")
    with pytest.raises(BackupError, match="wrong backup password"):
        lib.backups(str(tmp_path / "repo"))
    monkeypatch.delenv("WORKBENCH_BACKUP_PASSWORD")
    with pytest.raises(BackupError, match="no backup password"):
        lib.backups(str(tmp_path / "repo"))


@pytest.mark.slow
def test_the_cli_backs_up_lists_verifies_and_restores_with_a_password_file(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lib = library_with(tmp_path, 2)
    monkeypatch.delenv("WORKBENCH_BACKUP_PASSWORD")
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    lib.settings.backup_target, lib.settings.backup_password_file = str(tmp_path / "repo"), str(pw)
    lib.settings.save(lib.root)
    runner, base = CliRunner(), ["--library", str(lib.root)]
    r = runner.invoke(app, [*base, "backup", "--json"])
    assert r.exit_code == 0, r.output
    snap = json.loads(r.output)["snapshot_id"]
    r = runner.invoke(app, [*base, "backups", "list", "--json"])
    assert [json.loads(x)["short_id"] for x in r.output.splitlines()] == [snap]
    r = runner.invoke(app, [*base, "backups", "verify", "--read-data", "50"])
    assert r.exit_code == 0 and "Backups intact" in r.output, r.output
    r = runner.invoke(app, [*base, "restore", "--to", str(tmp_path / "copy")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["--library", str(tmp_path / "copy"), "verify"])
    assert r.exit_code == 0 and "2 of 2 originals verified intact" in r.output, r.output
    r = runner.invoke(app, [*base, "restore", "--to", str(lib.root)])     # never over a library
    assert r.exit_code == 2 and "is not empty" in " ".join(r.output.split())
    assert snapshot_ids(tmp_path / "repo")[0].startswith(snap)


@pytest.mark.slow
def test_an_encrypted_librarys_backup_holds_its_ciphertext_only_and_restores_through_its_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.storage.encrypted import init_encryption
    from workbench.storage.keyring import KdfParams, forget_unlocked
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("WORKBENCH_PASSPHRASE", "WORKBENCH_PASSPHRASE_FILE"):
        monkeypatch.delenv(var, raising=False)
    passphrase, cheap = "the library's own passphrase", KdfParams(time_cost=1, memory_cost_kib=8192, parallelism=1)
    forget_unlocked()
    Library.create(tmp_path / "lib")
    init_encryption(tmp_path / "lib", passphrase, cheap)
    forget_unlocked()
    lib = Library.open(tmp_path / "lib", passphrase=passphrase)
    lib.import_files(noise_jpegs(tmp_path / "in", 3), progress=False)
    repo = str(tmp_path / "repo")
    lib.backup(repo)

    out = Library.restore_library(tmp_path / "restored", repo)
    shas = set(lib.catalog.read("media", ["sha256"]).column("sha256").to_pylist())
    for p in Path(out["library"]).rglob("*"):
        if p.is_file() and "catalog" not in p.parts:
            assert not any(s in p.name for s in shas), p                       # no content hash in a name
            assert hashlib.sha256(p.read_bytes()).hexdigest() not in shas, p    # no plaintext original
    forget_unlocked()
    back = Library.open(out["library"], passphrase=passphrase)
    assert (back.verify(progress=False)["status"] == "ok").all()
    assert sorted(back.media()["id"]) == sorted(lib.media()["id"])

    mid = lib.media()["id"].iloc[0]
    key = f"originals/{lib.get(mid)['blob']}"
    lib.storage.delete(key)
    assert lib.restore_from_backup([mid], repo).set_index("id").loc[mid, "original"] == "restored"
    assert (lib.verify(progress=False)["status"] == "ok").all()
    forget_unlocked()


@pytest.mark.slow
def test_a_bucket_is_a_backup_target_like_a_folder(s3_env, tmp_path: Path) -> None:
    lib = library_with(tmp_path, 2)
    target = f"s3://{s3_env.bucket}/backups"
    lib.backup(target)
    assert any(k.startswith("backups/data/") for k in s3_env.keys("backups/"))
    assert len(lib.backups(target)) == 1
    assert lib.verify_backups(target, read_data_percent=100)["ok"]
    back = Library.open(Library.restore_library(tmp_path / "restored", target)["library"])
    assert_consistent(back)
    assert sorted(back.media()["id"]) == sorted(lib.media()["id"])


@pytest.mark.slow
def test_a_library_in_a_bucket_with_a_local_catalog_backs_up_and_restores_to_a_folder(s3_env, tmp_path: Path
                                                                                        ) -> None:
    lib = Library.create(s3_env.url, catalog_location="local")
    lib.import_files(noise_jpegs(tmp_path / "in", 3), progress=False)
    lib.process(["thumbnails"], progress=False)
    r = lib.backup(str(tmp_path / "repo"))
    assert (r["media"], r["originals"]) == (3, 3)
    back = Library.open(Library.restore_library(tmp_path / "restored", str(tmp_path / "repo"))["library"])
    assert str(back.root) == str(tmp_path / "restored") and not str(back.location).startswith("s3://")
    assert_consistent(back)                      # every original back as a file, every row, verify passes
    assert sorted(back.media()["id"]) == sorted(lib.media()["id"])
    for mid in lib.media()["id"]:
        assert back.thumbnail(mid) == lib.thumbnail(mid)


@pytest.mark.slow
def test_a_library_whose_catalog_is_in_the_bucket_too_backs_up_and_restores_to_a_folder(s3_env, tmp_path: Path
                                                                                         ) -> None:
    lib = Library.create(s3_env.url)                             # the catalog in the bucket as well
    lib.import_files(noise_jpegs(tmp_path / "in", 2), progress=False)
    first = lib.backup(str(tmp_path / "repo"))
    lib.import_files(noise_jpegs(tmp_path / "more", 1, start=40), progress=False)  # after the first backup
    assert first["media"] == 2
    out = Library.restore_library(tmp_path / "restored", str(tmp_path / "repo"))
    back = Library.open(out["library"])
    assert_consistent(back)
    assert len(back.media()) == 2                                # the catalog as pinned, not as it is now


# Eight backups at chosen times (restic's own --time, on the path and host `workbench backup` uses), and the reason
# each must stay or go under keep last 1, daily 2, weekly 2 (ISO weeks, from Monday), monthly 3.
RETENTION_CASES = [
    ("2026-12-02 18:00:00", True),    # the last; also the newest of its day, week (49) and month (December)
    ("2026-12-02 09:00:00", False),   # an older one of the same day
    ("2026-12-01 12:00:00", True),    # the second day: kept by keep_daily alone (week 49, December already kept)
    ("2026-11-30 12:00:00", True),    # newest of November: kept by keep_monthly alone (Monday of week 49)
    ("2026-11-28 12:00:00", True),    # newest of week 48: kept by keep_weekly alone (November already kept)
    ("2026-11-20 12:00:00", False),   # week 47: beyond keep_weekly 2
    ("2026-10-15 12:00:00", True),    # the third month: keep_monthly
    ("2026-09-10 12:00:00", False),   # the fourth month: beyond keep_monthly 3
]


def test_retention_keeps_one_backup_per_day_week_and_month_as_the_settings_say(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.backup.restic import HOST, TAG, Restic, repository
    from workbench.backup.snapshot import STAGING
    monkeypatch.setenv("TZ", "UTC")
    lib = library_with(tmp_path, 1)
    repo = str(tmp_path / "repo")
    restic = Restic(repository(repo), password=PASSWORD)
    restic.init_if_missing()
    folder = lib.root / STAGING                       # the path every `workbench backup` of this library has
    folder.mkdir()
    (folder / "library.json").write_text("{}")
    for when, _ in RETENTION_CASES:
        restic.run(["backup", "--host", HOST, "--tag", TAG, "--time", when, str(folder)])
    folder.joinpath("library.json").unlink()
    folder.rmdir()
    times = {s["id"]: s["time"][:19].replace("T", " ") for s in restic.snapshots()}
    assert sorted(times.values()) == sorted(w for w, _ in RETENTION_CASES)
    s = {"backup_keep_last": 1, "backup_keep_daily": 2, "backup_keep_weekly": 2, "backup_keep_monthly": 3}
    (lib.root / "settings.json").write_text(json.dumps(s))

    r = CliRunner().invoke(app, ["--library", str(lib.root), "backups", "forget", repo, "--json"])
    assert r.exit_code == 0, r.output
    removed = json.loads(r.output)["removed"]
    assert sorted(times[i] for i in removed) == sorted(w for w, keep in RETENTION_CASES if not keep)
    left = [t[:19].replace("T", " ") for t in Library.open(lib.root).backups(repo)["time"]]
    assert sorted(left) == sorted(w for w, keep in RETENTION_CASES if keep)
    restic.check()                                    # pruned, and what is left is whole


@pytest.mark.slow
def test_the_cli_restores_as_of_a_time_and_brings_single_media_back_from_a_backup(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 2)
    repo, runner, base = str(tmp_path / "repo"), CliRunner(), ["--library", str(lib.root)]
    assert runner.invoke(app, [*base, "backup", repo]).exit_code == 0
    between = datetime.now().astimezone().isoformat(timespec="seconds")
    time.sleep(1.1)                                               # restic's times are to the nanosecond; ours
    lib.import_files(noise_jpegs(tmp_path / "more", 2, start=60), progress=False)   # to the second
    assert runner.invoke(app, [*base, "backup", repo]).exit_code == 0

    r = runner.invoke(app, [*base, "restore", "--from", repo, "--to", str(tmp_path / "then"), "--at", between])
    assert r.exit_code == 0, r.output
    then = Library.open(tmp_path / "then")
    assert len(then.media()) == 2 and len(lib.media()) == 4       # the library as it was at that time
    assert_consistent(then)

    lost = max(lib.media()["id"])                          # an original deleted and its row gone
    path = lib.original_path(lost)
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    path.unlink()
    lib.catalog.delete("media", Eq("id", lost))
    r = runner.invoke(app, [*base, "restore", "--from", repo, lost[:10], "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.splitlines()[0]) == {"id": lost, "original": "restored", "row": "restored"}
    assert_consistent(Library.open(lib.root))
    assert len(Library.open(lib.root).media()) == 4


@pytest.mark.slow  # a backup and a restore through restic (~15 s idle)
def test_plain_restore_takes_media_out_of_the_trash_or_else_out_of_the_latest_backup(tmp_path: Path) -> None:
    lib = library_with(tmp_path, 3)
    lib.settings.backup_target = str(tmp_path / "repo")
    lib.settings.save(lib.root)
    runner, base = CliRunner(), ["--library", str(lib.root)]
    assert runner.invoke(app, [*base, "backup"]).exit_code == 0
    trashed, emptied, never = sorted(lib.media()["id"])
    lib.trash([emptied])
    lib.empty_trash()                                             # emptied: row and original gone for good
    lib.trash([trashed])
    assert emptied not in set(Library.open(lib.root).media()["id"])

    r = runner.invoke(app, [*base, "restore", trashed[:8], emptied[:10], "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines()]
    assert lines[0] == {"restored": 1}                            # the one in the trash: out of the trash
    assert lines[1] == {"id": emptied, "original": "restored", "row": "restored"}   # the other: from the backup
    back = Library.open(lib.root)
    assert {trashed, emptied, never} <= set(back.media()["id"]) and back.trashed().empty
    assert_consistent(back)

    lib.settings.backup_target = ""
    lib.settings.save(lib.root)
    lib.trash([emptied])
    Library.open(lib.root).empty_trash()
    r = runner.invoke(app, [*base, "restore", emptied[:10]])
    assert r.exit_code != 0 and "no backup_target" in " ".join(r.output.split())
