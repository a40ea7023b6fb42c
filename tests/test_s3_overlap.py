"""On object storage a worker keeps a few uploads in flight while it goes on with its next file (import hashes the
next photo, the thumbnail stage decodes it: ``workbench.storage.inflight``), and still reports nothing before it is
stored: a batch is answered only once its uploads succeeded, a failed upload fails the batch, and an import killed
with SIGKILL mid-upload leaves no media row naming a missing original, while the rerun stores the rest.

The uploads go through a proxy that holds each PUT of the path in question (a slow link), so "in flight at once"
is what the server side sees, not a timing of ours."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory import jpeg
from s3server import FaultProxy
from workbench import Library
from workbench.storage.errors import StorageError

REPO = Path(__file__).resolve().parent.parent


def _photos(folder: Path, n: int, seed: int = 40) -> Path:
    for i in range(n):
        jpeg(folder / f"p{i}.jpg", seed=seed + i)
    return folder


def _stored_whole(s3_env, lib: Library) -> None:
    """Every media row names an original that is in the bucket, whole (its bytes hash to the row's sha256)."""
    media = lib.media()
    for blob, sha in zip(media["blob"], media["sha256"]):
        body = s3_env.client.get_object(Bucket=s3_env.bucket, Key=f"lib/originals/{blob}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha, blob


def test_import_keeps_two_originals_uploading_at_once_in_one_worker(s3_env, tmp_path, monkeypatch):
    """One worker process, each original's PUT held 0.3 s: two are at the server at once (the worker read and
    hashed the next photo meanwhile), and every row is committed with its original whole in the bucket."""
    with FaultProxy(s3_env.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lib = Library.create(s3_env.url, catalog_location="local")
        lib.settings.workers = 1
        proxy.hold_s = 0.3
        rep = lib.import_files([_photos(tmp_path / "in", 4)], progress=False)
        assert (rep.added, rep.failed, proxy.puts_started) == (4, 0, 4)
        assert proxy.most_in_flight == 2
        _stored_whole(s3_env, lib)


def test_a_bad_file_among_overlapped_uploads_fails_alone(s3_env, tmp_path):
    """A batch of files for one worker task: the file that cannot be read fails with its own reason, the others
    of its batch are imported."""
    lib = Library.create(s3_env.url, catalog_location="local")
    lib.settings.workers = 1
    src = _photos(tmp_path / "in", 3)
    (src / "p1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a whole jpeg")
    rep = lib.import_files([src], progress=False)
    assert (rep.added, rep.failed) == (2, 1)
    assert [Path(p).name for p, _ in rep.failures] == ["p1.jpg"]
    _stored_whole(s3_env, lib)


def test_the_thumbnail_stage_uploads_renditions_while_it_decodes_the_next_photo(s3_env, tmp_path, monkeypatch):
    """One worker, each rendition's PUT held 0.3 s: two are at the server at once, and every thumbnail row names
    objects that are there."""
    with FaultProxy(s3_env.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lib = Library.create(s3_env.url, catalog_location="local")
        lib.settings.workers = 1
        lib.import_files([_photos(tmp_path / "in", 4)], progress=False)
        proxy.hold_s, proxy.hold_path = 0.3, "/derived/"
        [report] = lib.process(["thumbnails"], progress=False)
        assert (report.done, report.failed, proxy.puts_started) == (4, 0, 8)
        assert proxy.most_in_flight == 2
    rows = lib.catalog.read("thumbnails", ["thumb", "preview"]).to_pylist()
    keys = set(s3_env.keys("lib/derived/"))
    assert len(rows) == 4 and all(f"lib/derived/{r[w]}" in keys for r in rows for w in ("thumb", "preview"))


def test_a_failed_rendition_upload_fails_its_batch_and_the_rerun_completes(s3_env, tmp_path, monkeypatch):
    """The store fills up after the first rendition went up, while the next ones are in flight: the run stops
    with the store's error, no thumbnail row is committed for a media whose renditions are not both stored, and
    the next run does them all."""
    with FaultProxy(s3_env.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lib = Library.create(s3_env.url, catalog_location="local")
        lib.settings.workers = 1
        lib.import_files([_photos(tmp_path / "in", 4)], progress=False)
        proxy.fault, proxy.fault_path, proxy.fault_after = "full", "/derived/", 1
        with pytest.raises(StorageError):
            lib.process(["thumbnails"], progress=False)
        proxy.fault = None
        keys = set(s3_env.keys("lib/derived/"))
        done = (lib.catalog.read("thumbnails", ["thumb", "preview"]).to_pylist()
                if lib.catalog.has("thumbnails") else [])
        assert all(f"lib/derived/{r[w]}" in keys for r in done for w in ("thumb", "preview"))
        assert len(done) == 0           # the one batch (4 media) failed whole: not one of its rows was reported
        [report] = lib.process(["thumbnails"], progress=False)
        assert (report.done, report.failed) == (4, 0)


_IMPORT = """
import sys
from workbench import Library
Library.open(sys.argv[1]).import_files([sys.argv[2]], progress=False)
"""


@pytest.mark.slow
def test_an_import_killed_9_mid_upload_leaves_no_row_without_its_original_and_the_rerun_finishes(s3_env, tmp_path):
    """kill -9 of the importing process (and its workers) while originals are in flight, held by a slow link, after
    some rows were committed (one commit per file): every media row names an original that is whole in the bucket,
    and the rerun imports the rest, each file once."""
    src = _photos(tmp_path / "in", 8)
    with FaultProxy(s3_env.endpoint) as proxy:
        lib = Library.create(s3_env.url, catalog_location="local")
        (lib.root / "settings.json").write_text(json.dumps({"commit_every_files": 1, "workers": 2}))
        proxy.hold_s = 0.5
        env = {**os.environ, **s3_env.env(), "AWS_ENDPOINT_URL": proxy.endpoint}
        proc = subprocess.Popen([sys.executable, "-c", _IMPORT, s3_env.url, str(src)], cwd=REPO, env=env,
                                start_new_session=True)
        deadline = time.monotonic() + 240
        while proxy.puts_started < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        in_flight = proxy._in_flight
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL and in_flight >= 1
        proxy.hold_s = 0.0
        lib = Library.open(s3_env.url)
        before = len(lib.media())
        assert before < 8
        _stored_whole(s3_env, lib)                       # no row names an original that did not arrive
        rep = lib.import_files([src], progress=False)
    assert rep.failed == 0 and rep.imported == 8 and rep.added == 8 - before
    assert len(lib.media()) == 8 and len(s3_env.keys("lib/originals/")) == 8
    _stored_whole(s3_env, lib)
