"""`workbench serve`: the gallery, the dashboards and a background processor that picks up new media by itself.

Real processes on a real library: the processor and `workbench serve` run as subprocesses on random free ports on
127.0.0.1, `workbench import` runs from another process, and every wait is for a condition, with a deadline.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from workbench import Library
from workbench.serve.processor import EXIT_BUSY
from workbench.serve.status import processor_pid, read_status

from browser import wait_for

REPO = Path(__file__).resolve().parents[1]
WB = [sys.executable, "-m", "workbench"]


# ------------------------------------------------------------------------------------------------------ helpers



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def photos(folder: Path, n: int, start: int = 0) -> list[Path]:
    """Distinct small JPEGs (noise over a gradient, a different seed each)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(start, start + n):
        rng = np.random.default_rng(i)
        base = np.linspace(0, 255, 320, dtype=np.float32)[None, :, None]
        arr = np.clip(base + rng.normal(0, 40, (240, 320, 3)), 0, 255).astype(np.uint8)
        p = folder / f"photo_{i:03d}.jpg"
        Image.fromarray(arr).save(p, quality=85)
        out.append(p)
    return out


def make_library(root: Path, n: int, chunk_media: int | None = None) -> Library:
    lib = Library.create(root)
    if chunk_media:
        (root / "settings.json").write_text(json.dumps({"serve_chunk_media": chunk_media}))
        lib = Library.open(root)
    if n:
        lib.import_files(photos(root.parent / "incoming", n), owner="ana")
    return lib


def start_processor(root: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "workbench.serve.processor", "--library", str(root)],
                            cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def start_serve(root: Path, log: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([*WB, "--library", str(root), "serve", "--port", str(port), "--no-dashboards", *extra],
                            cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def everything_done(root: Path) -> dict | None:
    """The processor's status once it is idle with nothing waiting for a stage that can run here."""
    st = read_status(root)
    skipped = st.get("skipped") or {}
    if st.get("state") == "idle" and all(v == 0 for k, v in st["queue"].items() if k not in skipped):
        return st
    return None


def stage_keys(lib: Library) -> dict[str, list[str]]:
    """Every stage table's keys (and the faces side table's), to look for rows written twice."""
    out = {}
    for name in lib.status()["stage"]:
        if lib.catalog.has(name):
            out[name] = lib.catalog.read(name, ["key"]).column("key").to_pylist()
    if lib.catalog.has("faces"):
        out["faces"] = lib.catalog.read("faces", ["face_id"]).column("face_id").to_pylist()
    return out


# -------------------------------------------------------------------------------------------------------- tests

@pytest.mark.slow  # one photo through every stage: the face and OCR models load (~20 s on an idle 2-core machine)
def test_imported_media_get_thumbnails_first_then_the_other_stages_by_themselves(tmp_path: Path):
    lib = make_library(tmp_path / "lib", 0)
    proc = start_processor(lib.root, tmp_path / "processor.log")
    try:
        wait_for(lambda: everything_done(lib.root), 60, "the processor to be idle on an empty library")
        # A photo imported by another process, as `workbench import` (or an upload) does.
        src = photos(tmp_path / "later", 1, start=50)[0]
        subprocess.run([*WB, "--library", str(lib.root), "import", str(src), "--owner", "ana", "--json"],
                       cwd=REPO, check=True, capture_output=True)
        mid = lib.media().iloc[0]["id"]
        wait_for(lambda: lib.thumbnails([mid])[mid], 60, "the new photo's thumbnail")
        st = wait_for(lambda: everything_done(lib.root), 120, "every stage that can run here")
        assert st["running"] and st["pid"] == proc.pid and st["last_error"] is None
        done = lib.status().set_index("stage")
        for stage in ("thumbnails", "fingerprints", "face_scans", "quality", "ocr"):
            assert (done.loc[stage, "done"], done.loc[stage, "pending"]) == (1, 0), stage
        # Thumbnails came first: every other stage's row is younger.
        made = {s: lib.catalog.read(s, ["created_at"]).column("created_at").to_pylist()[0]
                for s in ("thumbnails", "fingerprints", "face_scans", "quality", "ocr")}
        assert made["thumbnails"] == min(made.values())
        out = subprocess.run([*WB, "--library", str(lib.root), "status"], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout
        assert "processor: idle (nothing waiting" in out and str(proc.pid) in out
    finally:
        stop(proc)
    assert proc.returncode == 0
    assert read_status(lib.root)["state"] == "stopped" and processor_pid(lib.root) is None


def test_one_processor_per_library_a_second_one_says_so_in_one_line_and_stops(tmp_path: Path):
    lib = make_library(tmp_path / "lib", 0)
    first = start_processor(lib.root, tmp_path / "first.log")
    try:
        wait_for(lambda: processor_pid(lib.root) == first.pid, 60, "the first processor to hold the lock")
        second = subprocess.run([sys.executable, "-m", "workbench.serve.processor", "--library", str(lib.root)],
                                cwd=REPO, capture_output=True, text=True, timeout=120)
        assert second.returncode == EXIT_BUSY
        lines = second.stderr.strip().splitlines()
        assert lines[-1] == f"processor: not started: process {first.pid} already processes {lib.root}; one " \
                            f"processor per library (stop that one to process from here)"
        assert processor_pid(lib.root) == first.pid
    finally:
        stop(first)


@pytest.mark.slow  # the gallery server starts (Voilà): ~10 s
def test_a_second_serve_on_the_same_library_serves_the_gallery_without_processing(tmp_path: Path):
    lib = make_library(tmp_path / "lib", 0)
    first = start_processor(lib.root, tmp_path / "processor.log")
    serve = None
    try:
        wait_for(lambda: processor_pid(lib.root) == first.pid, 60, "the first processor to hold the lock")
        log = tmp_path / "serve.log"
        serve, port = start_serve(lib.root, log)
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/login") == 200, 120, "the gallery's sign-in page")
        text = log.read_text()
        assert (f"processor: process {first.pid} already processes this library; this server serves without "
                f"processing") in text
        assert "Processor:  off" in text
        assert processor_pid(lib.root) == first.pid
    finally:
        if serve:
            stop(serve)
        stop(first)
    assert serve.returncode == 0


@pytest.mark.slow  # two servers, six photos through every stage
def test_kill_9_of_serve_mid_processing_then_a_restart_finishes_the_work_without_duplicate_rows(tmp_path: Path):
    n = 6
    lib = make_library(tmp_path / "lib", n, chunk_media=1)   # one media per chunk: the kill lands mid-way
    serve, _ = start_serve(lib.root, tmp_path / "serve1.log")
    try:
        def left_over() -> list[str]:
            """Stages that can run here and still wait for media (not those skipped for want of weights)."""
            skipped = read_status(lib.root).get("skipped") or {}
            return [s for s, p in lib.status().set_index("stage")["pending"].items() if p > 0 and s not in skipped]

        def part_way() -> bool:
            # Part-way through the whole work: thumbnails are quick (on an idle machine all six can land between
            # two polls), the later stages (faces, OCR, one media per chunk) keep it busy well after.
            return lib.status().set_index("stage").loc["thumbnails", "done"] >= 2 and bool(left_over())
        wait_for(part_way, 300, "the processor to be part-way through the work")
        children = psutil.Process(serve.pid).children()
        assert {" ".join(c.cmdline()).split(" workbench")[-1].split()[0] for c in children} >= {".serve.processor"}
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        # Its processor and gallery die with it: nothing keeps the processor lock or a port.
        wait_for(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), 30,
                 "the killed server's children to go")
        assert processor_pid(lib.root) is None
        assert left_over()                                                       # work was left over

        # The restart takes whole stages at once (the chunk size is read when the processor starts).
        (lib.root / "settings.json").write_text(json.dumps({"serve_chunk_media": 64}))
        serve, _ = start_serve(lib.root, tmp_path / "serve2.log")
        # Up to 225 s were measured for the restart's work at load average 40 on 2 cores (faces and OCR models load).
        wait_for(lambda: everything_done(lib.root), 480, "the restarted processor to finish")
    finally:
        stop(serve)
    st = Library.open(lib.root).status().set_index("stage")
    said = read_status(lib.root)
    for stage in ("thumbnails", "fingerprints", "face_scans", "quality", "ocr"):
        assert (st.loc[stage, "done"] + st.loc[stage, "failed"], st.loc[stage, "pending"]) == (n, 0), \
            f"{stage}: skipped {said.get('skipped')}, last error {said.get('last_error')}"
    for table, keys in stage_keys(lib).items():
        assert len(keys) == len(set(keys)), f"{table} has rows written twice"
    media = list(lib.media()["id"])
    assert len(media) == n and all(lib.thumbnails(media).values())


@pytest.mark.slow  # two photos through every stage one chunk at a time (~20-40 s with the face and OCR models)
def test_compaction_and_replica_sync_wait_for_the_queue_to_empty_instead_of_following_every_chunk(tmp_path: Path):
    from workbench.serve.processor import Processor
    lib = make_library(tmp_path / "lib", 2, chunk_media=1)
    lib.replicas.add(str(tmp_path / "replica"))

    def fragments(table: str) -> int:
        return Library.open(lib.root).catalog.table(table).stats()["fragment_stats"]["num_fragments"]

    def safe_on_replica() -> int:
        return int(Library.open(lib.root).replicas.status()["safe"].iloc[0])

    proc = Processor(lib.root, log=lambda _msg: None)
    try:
        chunks = 0
        while proc.step():                      # one chunk of one stage per step while anything waits
            chunks += 1
            st = lib.status().set_index("stage")
            if st["pending"].drop(list(proc.skipped)).sum() == 0:
                break                            # the last chunk: the next step finds the queue empty
            assert safe_on_replica() == 0        # no replica sync after a chunk ...
            if st.loc["thumbnails", "done"] == 2:
                assert fragments("thumbnails") == 2    # ... and no compaction: one fragment per chunk's commit
        assert chunks >= 8                       # 2 photos x thumbnails, fingerprints, faces, quality, OCR
        assert "upkeep_at" not in read_status(lib.root)
        assert proc.step() is False              # the queue is empty: now the upkeep runs, once
        assert safe_on_replica() == 2
        assert fragments("thumbnails") == fragments("quality") == 1
        assert read_status(lib.root)["upkeep_at"]
    finally:
        proc.engine.close()


def test_admins_see_what_the_processor_does_on_the_photos_page_while_media_wait(tmp_path: Path):
    from workbench.gallery.app import Gallery
    from workbench.serve.status import ProcessorLock, write_status
    lib = make_library(tmp_path / "lib", 1)
    lib.add_user("ann", "ann's long password", role="admin")
    lib.add_user("bob", "bob's long password")
    lock = ProcessorLock(lib.root)
    lock.acquire()          # this test plays the processor
    try:
        write_status(lib.root, {"state": "processing", "stage": "thumbnails", "queue": {"thumbnails": 1, "ocr": 1},
                                "skipped": {}, "done": {}, "last_error": None, "pid": os.getpid()})
        titles = {}
        for user in ("ann", "bob"):
            app = Gallery(lib, lib.for_session(lib.login(user, f"{user}'s long password")), full_page=True, xsrf="x")
            titles[user] = app.page.pages["Photos"].title.value
        assert "processor: processing thumbnails (thumbnails 1, ocr 1 waiting)" in titles["ann"]
        assert "processor" not in titles["bob"]
        write_status(lib.root, {"state": "idle", "stage": None, "queue": {"thumbnails": 0}, "skipped": {}})
        app = Gallery(lib, lib.for_session(lib.login("ann", "ann's long password")), full_page=True, xsrf="x")
        assert "processor" not in app.page.pages["Photos"].title.value
    finally:
        lock.release()


def test_kept_workers_serve_several_runs_and_stop_once_unused_for_their_idle_time():
    """The processor's engine keeps each stage's workers (and the models they loaded) from one chunk to the next;
    unused for `keep_workers_s`, they are stopped and their memory goes back."""
    from workbench.parallel import KeptPools, run_isolated

    def pids(n: int) -> set[int]:
        return {r for _, r in run_isolated(worker_pid, range(n), workers=1, timeout_s=60, pools=pools,
                                           pool_key="face_scans")}
    pools = KeptPools(idle_s=0.5)
    try:
        first, second = pids(4), pids(4)
        assert len(first) == 1 and first == second and os.getpid() not in first
        assert pools.trim() == 0                                   # just used: kept
        wait_for(lambda: pools.trim() == 1, 10, "the unused pool to be stopped")
        assert len(pools) == 0
        (pid,) = first
        wait_for(lambda: not psutil.pid_exists(pid), 10, "the stopped worker to exit")
        third = pids(2)
        assert len(third) == 1 and third != first                  # a new worker once the old one was stopped
    finally:
        pools.close()


def worker_pid(_item: int) -> int:
    return os.getpid()
