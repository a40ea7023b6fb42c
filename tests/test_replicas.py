"""Replicas: every original reaches every replica store, verified by hash there; new imports follow on the next
``process``; a corrupt original is never replicated; a sync killed with SIGKILL resumes without duplicates."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory import jpeg
from workbench import Library
from workbench.cli.main import app

N_PHOTOS = 40


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder/originals`` (temporary files excluded), by its relative name."""
    base = folder / "originals"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in base.rglob("*")
            if p.is_file() and ".tmp" not in p.parts} if base.exists() else {}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A processed library of small JPEGs (thumbnails and previews made), built once per module."""
    root = tmp_path_factory.mktemp("replicas_template")
    for i in range(N_PHOTOS):
        jpeg(root / "in" / f"{i:03d}.jpg", 320, 240, seed=i)
    lib = Library.create(root / "lib")
    lib.import_files([root / "in"], progress=False)
    lib.process(["thumbnails"], progress=False)
    return root / "lib"


def make_library(template: Path, tmp_path: Path) -> Library:
    """A fresh copy of the template library for one test."""
    shutil.copytree(template, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def damage(path: Path, how: str) -> None:
    """Bit rot and accidents: flip one bit, cut the file short, or delete it (read-only files too)."""
    if how == "delete":
        os.chmod(path, 0o644)
        path.unlink()
        return
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x10
    else:
        data = data[: len(data) // 3]
    path.write_bytes(bytes(data))


def test_sync_puts_every_original_on_the_replica_verified_and_status_counts_them(template, tmp_path):
    lib = make_library(template, tmp_path)
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    st = lib.replicas.status().iloc[0]
    assert (st["replica"], st["safe"], st["pending"]) == ("usb", 0, N_PHOTOS)

    (rep,) = lib.replicas.sync(progress=False)
    assert (rep.copied, rep.already_there, rep.failures) == (N_PHOTOS, 0, [])
    assert stored_files(tmp_path / "usb") == stored_files(lib.root)        # same keys, byte for byte
    st = lib.replicas.status().iloc[0]
    assert (st["safe"], st["pending"]) == (N_PHOTOS, 0)
    # A second sync has nothing to send.
    (again,) = lib.replicas.sync(progress=False)
    assert (again.copied, again.already_there) == (0, 0)


def test_new_imports_reach_the_replicas_on_the_next_process(template, tmp_path):
    lib = make_library(template, tmp_path)
    lib.replicas.add(str(tmp_path / "a"))
    lib.replicas.add(str(tmp_path / "b"))
    lib.replicas.sync(progress=False)
    jpeg(tmp_path / "new" / "n1.jpg", 320, 240, seed=1001)
    jpeg(tmp_path / "new" / "n2.jpg", 320, 240, seed=1002)
    lib.import_files([tmp_path / "new"], progress=False)
    assert list(lib.replicas.status()["pending"]) == [2, 2]
    reports = lib.process(["thumbnails"], progress=False)
    synced = {r.stage: r.done for r in reports if r.stage.startswith("replica ")}
    assert synced == {"replica a": 2, "replica b": 2}
    assert list(lib.replicas.status()["pending"]) == [0, 0]
    assert stored_files(tmp_path / "a") == stored_files(tmp_path / "b") == stored_files(lib.root)


def test_a_damaged_original_is_never_replicated(template, tmp_path):
    lib = make_library(template, tmp_path)
    row = lib.media(sort="name").iloc[0]
    damage(lib.originals_dir / row["blob"], "flip")
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    (rep,) = lib.replicas.sync(progress=False)
    assert rep.copied == N_PHOTOS - 1
    assert [i for i, _ in rep.failures] == [row["id"]]
    assert "workbench scrub" in rep.failures[0][1]
    assert not (tmp_path / "usb" / "originals" / row["blob"]).exists()
    assert lib.replicas.status().iloc[0]["pending"] == 1


def test_a_replica_must_be_another_folder_and_named_once(template, tmp_path):
    lib = make_library(template, tmp_path)
    from workbench.replicas import ReplicaError
    with pytest.raises(ReplicaError, match="library folder"):
        lib.replicas.add(str(lib.root / "originals"))
    with pytest.raises(ReplicaError, match="library folder"):
        lib.replicas.add(str(lib.root))
    lib.replicas.add(str(tmp_path / "usb"))
    with pytest.raises(ReplicaError, match="exists already"):
        lib.replicas.add(str(tmp_path / "other" / "usb"))
    with pytest.raises(ReplicaError, match="already a replica"):
        lib.replicas.add(str(tmp_path / "usb"), name="again")


def test_cli_replicas_add_sync_status_and_workbench_status(template, tmp_path):
    lib = make_library(template, tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["-L", str(lib.root), "replicas", "add", str(tmp_path / "disk2")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["-L", str(lib.root), "status"])
    assert res.exit_code == 0 and "disk2" in res.output
    res = runner.invoke(app, ["-L", str(lib.root), "replicas", "sync", "--json"])
    assert res.exit_code == 0, res.output
    assert f'"copied": {N_PHOTOS}' in res.output
    res = runner.invoke(app, ["-L", str(lib.root), "replicas", "status", "--json"])
    assert f'"safe": {N_PHOTOS}, "pending": 0' in res.output


# The syncing process copies slowly (each chunk of each original is held back 30 ms), so the kill lands in the
# middle of the run and usually in the middle of a copy; the code under test is unchanged.
SYNC_SCRIPT = textwrap.dedent("""
    import sys, time
    import workbench.replicas.replicas as R
    from workbench import Library
    slow = R.chunks_of
    def chunks_of(storage, key):
        for c in slow(storage, key):
            time.sleep(0.03)
            yield c
    R.chunks_of = chunks_of
    if __name__ == "__main__":
        lib = Library.open(sys.argv[1])
        lib.settings.commit_every_files = 4
        lib.replicas.sync(progress=False)
""")


def test_kill_9_during_sync_then_rerun_completes_without_duplicates_or_partial_files(template, tmp_path):
    lib = make_library(template, tmp_path)
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    script = tmp_path / "sync.py"
    script.write_text(SYNC_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(lib.root)], start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(stored_files(tmp_path / "usb")) < N_PHOTOS // 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    there = stored_files(tmp_path / "usb")
    assert 0 < len(there) < N_PHOTOS, "the kill should land mid-sync"
    for key, data in there.items():     # nothing half-written under a real name: every file is whole
        assert hashlib.sha256(data).hexdigest() == Path(key).stem

    lib = Library.open(lib.root)
    recorded = lib.catalog.count("replica_copies")     # copies the killed run had verified and committed
    (rep,) = lib.replicas.sync(progress=False)
    assert rep.failures == []
    # Each original is handled once: committed before the kill, or found whole there (recorded, not re-sent),
    # or copied now.
    assert recorded + rep.already_there + rep.copied == N_PHOTOS
    assert rep.already_there == len(there) - recorded   # whole files the kill left unrecorded are not re-sent
    assert stored_files(tmp_path / "usb") == stored_files(lib.root)
    assert lib.catalog.count("replica_copies") == N_PHOTOS     # one row per original, none twice
    assert not any((tmp_path / "usb" / "originals" / ".tmp").iterdir())   # the killed copy's temp file is gone
    assert lib.replicas.status().iloc[0]["pending"] == 0


def test_a_replica_folder_that_vanished_is_reported_not_recreated_and_the_others_still_sync(template, tmp_path):
    lib = make_library(template, tmp_path)
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    lib.replicas.add(str(tmp_path / "nas"), name="nas")
    (tmp_path / "usb").rmdir()                                # the disk is not mounted
    usb, nas = lib.replicas.sync(progress=False)
    assert usb.copied == 0 and "not there" in usb.failures[0][1]
    assert nas.copied == N_PHOTOS
    assert not (tmp_path / "usb").exists()
    rep = lib.scrub(progress=False)
    assert [(e["location"], e["problem"], e["action"]) for e in rep.events] == [("usb", "unreachable", "unrepairable")]


def test_workbench_status_shows_per_replica_the_originals_safe_there_and_pending(template, tmp_path):
    lib = make_library(template, tmp_path)
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    lib.replicas.sync(progress=False)
    lib.replicas.add(str(tmp_path / "nas"), name="nas")             # added after the sync: nothing there yet
    jpeg(tmp_path / "new" / "n1.jpg", 320, 240, seed=2001)
    jpeg(tmp_path / "new" / "n2.jpg", 320, 240, seed=2002)
    lib.import_files([tmp_path / "new"], progress=False)            # imported, not yet processed nor synced

    res = CliRunner().invoke(app, ["-L", str(lib.root), "status"])
    assert res.exit_code == 0, res.output
    rows = [[c.strip() for c in line.split("\u2502")[1:-1]] for line in res.output.splitlines()]
    counts = {r[0]: (r[2], r[3]) for r in rows if len(r) == 4 and r[0] in ("usb", "nas")}
    # the replicas table: replica, target, originals safe, pending
    assert counts == {"usb": (str(N_PHOTOS), "2"), "nas": ("0", str(N_PHOTOS + 2))}, res.output


def test_a_sync_shows_its_progress_per_replica(template, tmp_path, capsys):
    lib = make_library(template, tmp_path)
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    lib.replicas.sync(progress=True)
    err = capsys.readouterr().err
    assert "sync usb" in err and f"{N_PHOTOS}/{N_PHOTOS}" in err
