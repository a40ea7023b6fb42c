"""From the last byte of a 12 MP JPEG to its thumbnail in the timeline, with `workbench serve` idle otherwise.

    python benchmarks/serve_latency.py [--rounds 3] [--work DIR]

Two libraries, each served by a real `workbench serve --no-dashboards` on a free port of 127.0.0.1:

* **serve**: with the background processor (what issue 19 asks for);
* **manual** (the baseline): `--no-processor`, and `workbench process --stage thumbnails` started by hand the
  moment the upload is decided: what an admin had to do before, done at once.

Each round sends one new 12 MP JPEG (4000x3000, quality 92, ~2-4 MB) to each server through the gallery's own tus
endpoint (`/upload/files/`, signed in with a session cookie, the page's 64 MiB PATCHes), the two in alternating
order, and times from the answer to the last PATCH (the last byte is in and hashed) until the thumbnail is
readable through `Library.thumbnails`, the call the gallery's grid makes (and, on the way, until the
upload's media row exists: the upload decided by the gallery's background thread). The serve library also takes one photo
per round by `workbench import` from another process (timed from the command's start and from its end). Before
each measurement the processor is idle (state `idle` in its status) and the other server is quiet.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from upload import PASSWORD, Conn, sign_in, tus_outcome, tus_upload  # noqa: E402  (the upload benchmark's client)

WB = [sys.executable, "-m", "workbench"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout_s: float, what: str, every_s: float = 0.02):
    deadline = time.monotonic() + timeout_s
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:g} s for {what}")
        time.sleep(every_s)


def up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def media_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class Served:
    """One library behind `workbench serve`."""

    def __init__(self, work: Path, name: str, processor: bool):
        from workbench.library import Library
        self.root = work / name
        self.lib = Library.create(self.root)
        self.lib.add_user("bench", PASSWORD, role="admin")
        self.port = free_port()
        self.processor = processor
        self.log = (work / f"{name}.log").open("wb")
        self.proc = subprocess.Popen([*WB, "--library", str(self.root), "serve", "--port", str(self.port),
                                      "--no-dashboards", "--processor" if processor else "--no-processor"],
                                     cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: up(self.port), 300, f"{name}'s gallery", every_s=0.5)
        self.idle()
        self.conn = Conn(self.port, *sign_in(self.port, self.root))

    def idle(self) -> None:
        """The processor has nothing to do (or there is none)."""
        if not self.processor:
            return
        from workbench.serve.status import read_status

        def quiet() -> bool:
            st = read_status(self.root)
            skipped = st.get("skipped") or {}
            return st.get("state") == "idle" and not any(v for k, v in st["queue"].items() if k not in skipped)
        wait_for(quiet, 600, "the processor to be idle", every_s=0.2)

    def thumbnail(self, mid: str) -> bool:
        return self.lib.thumbnails([mid])[mid] is not None

    def in_catalog(self, mid: str) -> bool:
        from workbench.errors import NotFoundError
        try:
            return self.lib.resolve_id(mid) == mid
        except NotFoundError:
            return False

    def upload(self, photo: Path) -> tuple[float, float]:
        """Seconds from the last PATCH's answer to the upload's media row (the upload decided), and to the
        thumbnail being readable."""
        mid = media_id(photo)
        location = tus_upload(self.conn, photo)
        t_last_byte = time.perf_counter()
        wait_for(lambda: self.in_catalog(mid), 300, "the upload to be decided")
        t_decided = time.perf_counter()
        if not self.processor:
            result = tus_outcome(self.conn, location)
            assert not result.startswith("refused"), result
            subprocess.run([*WB, "--library", str(self.root), "process", "--stage", "thumbnails", "--json"],
                           cwd=ROOT, check=True, capture_output=True)
        wait_for(lambda: self.thumbnail(mid), 300, "the thumbnail")
        return t_decided - t_last_byte, time.perf_counter() - t_last_byte

    def import_cli(self, photo: Path) -> tuple[float, float]:
        """Seconds from `workbench import`'s start, and from its end, to the thumbnail."""
        mid = media_id(photo)
        t0 = time.perf_counter()
        subprocess.run([*WB, "--library", str(self.root), "import", str(photo), "--json"], cwd=ROOT, check=True,
                       capture_output=True)
        t1 = time.perf_counter()
        wait_for(lambda: self.thumbnail(mid), 300, "the thumbnail")
        t2 = time.perf_counter()
        return t2 - t0, t2 - t1

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temp folder, removed)")
    a = ap.parse_args()
    from factory import jpeg
    work = a.work or Path(tempfile.mkdtemp(prefix="serve_latency_"))
    work.mkdir(parents=True, exist_ok=True)
    photos = [jpeg(work / "photos" / f"IMG_{i:04d}.jpg", 4000, 3000, seed=1000 + i, quality=92)
              for i in range(3 * a.rounds)]
    print(f"{len(photos)} photos of {statistics.mean(p.stat().st_size for p in photos) / 1e6:.1f} MB on average")
    serve = manual = None
    try:
        serve = Served(work, "serve", processor=True)
        manual = Served(work, "manual", processor=False)
        res: dict[str, list[float]] = {"serve upload": [], "serve upload decided": [], "manual upload": [],
                                       "manual upload decided": [], "serve import (from start)": [],
                                       "serve import (from end)": []}
        it = iter(photos)
        for r in range(a.rounds):
            order = [serve, manual] if r % 2 == 0 else [manual, serve]
            for s in order:
                serve.idle()
                decided, dt = s.upload(next(it))
                name = "serve" if s is serve else "manual"
                res[f"{name} upload"].append(dt)
                res[f"{name} upload decided"].append(decided)
                print(f"round {r + 1}: {name} upload -> decided {decided:.2f} s, thumbnail {dt:.2f} s", flush=True)
            serve.idle()
            t_start, t_end = serve.import_cli(next(it))
            res["serve import (from start)"].append(t_start)
            res["serve import (from end)"].append(t_end)
            print(f"round {r + 1}: serve import -> thumbnail {t_start:.2f} s from the command's start, "
                  f"{t_end:.2f} s from its end", flush=True)
        print("\nmedian (min-max) over rounds:")
        for k, v in res.items():
            print(f"  {k:28s} {statistics.median(v):6.2f} s  ({min(v):.2f}-{max(v):.2f})")
        print(f"  serve / manual (upload): {statistics.median(res['serve upload']) / statistics.median(res['manual upload']):.2f}")
        with open("/proc/loadavg") as f:
            print(f"load average: {f.read().split()[:3]}")
    finally:
        for s in (serve, manual):
            if s:
                s.stop()
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
