"""Originals stay safe: verify finds changes, kill -9 mid-import loses nothing and duplicates nothing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory import jpeg
from workbench import Library


def test_verify_reports_changed_and_missing_originals(tmp_path: Path):
    lib = Library.create(tmp_path / "lib")
    for i in range(3):
        jpeg(tmp_path / "in" / f"{i}.jpg", seed=i)
    lib.import_files([tmp_path / "in"], progress=False)
    rows = lib.media(sort="name")
    changed = lib.originals_dir / rows.iloc[0]["blob"]
    os.chmod(changed, 0o644)
    changed.write_bytes(changed.read_bytes() + b"tampered")
    (lib.originals_dir / rows.iloc[1]["blob"]).unlink()
    status = lib.verify(progress=False).set_index("id")["status"]
    assert status[rows.iloc[0]["id"]] == "changed"
    assert status[rows.iloc[1]["id"]] == "missing"
    assert status[rows.iloc[2]["id"]] == "ok"


def test_verify_checks_referenced_files_where_they_are(tmp_path: Path):
    lib = Library.create(tmp_path / "lib")
    src = jpeg(tmp_path / "in" / "r.jpg")
    lib.import_files([src], mode="reference", progress=False)
    src.unlink()
    assert list(lib.verify(progress=False)["status"]) == ["missing"]


IMPORT_SCRIPT = """
import sys
from workbench import Library
lib = Library.open(sys.argv[1], create=True)
lib.settings.commit_every_files = 5
lib.import_files([sys.argv[2]], progress=False)
"""


@pytest.mark.slow
def test_kill_9_during_import_then_rerun_completes_without_duplicates_or_leftovers(tmp_path: Path):
    n = 60
    for i in range(n):
        jpeg(tmp_path / "in" / f"{i:03d}.jpg", 900, 700, seed=i)
    root = tmp_path / "lib"
    proc = subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(root), str(tmp_path / "in")],
                            start_new_session=True)
    # Wait until some originals are stored, then kill the whole process group without warning.
    deadline = time.time() + 120
    while time.time() < deadline:
        if len(list((root / "originals").rglob("*.jpg"))) >= 10:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored_before = len(list((root / "originals").rglob("*.jpg")))
    assert 0 < stored_before < n, "the kill should land mid-import"

    lib = Library.open(root)
    rep = lib.import_files([tmp_path / "in"], progress=False)
    assert rep.failed == 0
    media = lib.media()
    assert len(media) == n and media["id"].is_unique
    srcs = lib.sources()
    assert len(srcs) == n and srcs["path"].is_unique
    assert len(list((root / "originals").rglob("*.jpg"))) == n
    assert not list((root / "originals" / ".tmp").glob("*"))
    assert set(lib.verify(progress=False)["status"]) == {"ok"}


PROCESS_SCRIPT = """
import sys
from workbench import Library
lib = Library.open(sys.argv[1])
lib.settings.commit_every_files = 4
lib.process(["thumbnails"], progress=False)
"""


@pytest.mark.slow
def test_kill_9_during_processing_then_rerun_finishes_every_thumbnail_once(tmp_path: Path):
    n = 40
    for i in range(n):
        jpeg(tmp_path / "in" / f"{i:03d}.jpg", 1600, 1200, seed=i)
    root = tmp_path / "lib"
    Library.create(root).import_files([tmp_path / "in"], progress=False)
    proc = subprocess.Popen([sys.executable, "-c", PROCESS_SCRIPT, str(root)], start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((root / "derived").rglob("*.preview.webp"))) < 8:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(list((root / "derived").rglob("*.preview.webp"))) < n, "the kill should land mid-run"

    lib = Library.open(root)
    lib.process(["thumbnails"], progress=False)
    st = lib.status().set_index("stage").loc["thumbnails"]
    assert (st["done"], st["pending"], st["failed"]) == (n, 0, 0)
    rows = lib.catalog.read("thumbnails", ["media_id"]).to_pandas()
    assert len(rows) == n and rows["media_id"].is_unique
    assert len(list((root / "derived").rglob("*.preview.webp"))) == n
    assert not list((root / "derived" / ".tmp").glob("*"))
