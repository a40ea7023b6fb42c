"""Upload throughput and server memory: the gallery's tus endpoint against a plain HTTP PUT of the same bytes to
the same server, over loopback, in alternating rounds.

    python benchmarks/upload.py [--photos-mb 1024] [--photo-mb 5] [--video-mb 2048] [--rounds 2] [--work DIR]
                                [--variants tus,tus-patch,put] [--parallel 1]

The server is one process (started by this script with ``--serve``): a Tornado application with the gallery's
own upload routes (``workbench.gallery.upload.routes``: the same handler classes ``workbench gallery`` serves,
with the session cookie and XSRF checks) and, beside them, ``PlainPut``: a streamed PUT that writes the body
to a file in the same staging folder and fsyncs it, as any upload handler that keeps what it received must.
Voilà's kernel machinery is left out: it plays no part in an upload. What tus adds on top of the PUT: the
creation request, hashing while receiving, the content check in a worker process (sniffing, metadata), putting
the file in place and writing its catalog rows. The client is a raw socket sending 1 MiB blocks, one PATCH of
up to 64 MiB at a time (the page's chunk size), so the client is not what is measured.

The photos are real JPEG headers (unique per file) followed by random bytes up to ``--photo-mb``; the video a
small real MP4 followed by random bytes up to ``--video-mb``. Memory: the server's RSS sampled every 50 ms,
the peak above its idle RSS before the round.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

CHUNK = 64 * 2 ** 20
BLOCK = 2 ** 20
PASSWORD = "bench-password"


# ------------------------------------------------------------------------------------------------ the server

def serve(library_root: str, port: int) -> None:
    """Run the upload routes and the plain PUT handler until killed."""
    import secrets

    from tornado import ioloop, web
    from tornado.httpserver import HTTPServer

    from workbench.gallery import identity
    from workbench.gallery.upload import routes
    from workbench.library import Library

    lib = Library.open(library_root)

    @web.stream_request_body
    class PlainPut(web.RequestHandler):
        async def prepare(self) -> None:
            # Authenticated like any real upload handler (the session cookie, checked against the catalog once:
            # the session row and its user's); then the body goes to a file as it arrives: no resuming, no
            # hashing, no content check.
            def who() -> str:
                v = identity.actors_of(self, fresh=True)
                if not v.user:
                    raise web.HTTPError(403)
                return v.user
            await asyncio.get_running_loop().run_in_executor(None, who)
            self.request.connection.set_max_body_size(16 * 2 ** 30)
            self.path_ = lib.storage.staging_file(f"put-{secrets.token_hex(8)}")
            self.f = open(self.path_, "wb")

        def data_received(self, chunk: bytes) -> None:
            self.f.write(chunk)

        def put(self, name: str) -> None:
            self.f.flush()
            os.fsync(self.f.fileno())
            self.f.close()
            size = self.path_.stat().st_size
            self.path_.unlink()
            self.set_status(201)
            self.finish(str(size))

    app = web.Application([*routes("/"), (r"/put/(.*)", PlainPut)], workbench_library=lib,
                          cookie_secret=secrets.token_bytes(32), xsrf_cookies=True)
    HTTPServer(app, max_body_size=16 * 2 ** 30).listen(port, "127.0.0.1")
    print("ready", flush=True)
    ioloop.IOLoop.current().start()


# ------------------------------------------------------------------------------------------------ the client

def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    def __init__(self, pid: int):
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.idle = rss_mb(pid)
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> "Sampler":
        self.t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.t.join()


class Conn:
    """HTTP/1.1 over one keep-alive socket: requests with a streamed file body, responses read whole."""

    def __init__(self, port: int, cookie: str, xsrf: str):
        self.port, self.cookie, self.xsrf = port, cookie, xsrf
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, method: str, path: str, headers: dict[str, str], body_file=None, offset: int = 0,
                length: int = 0) -> tuple[int, dict[str, str], bytes]:
        h = {"Host": f"127.0.0.1:{self.port}", "Cookie": self.cookie, "X-XSRFToken": self.xsrf,
             "Content-Length": str(length), **headers}
        self.s.sendall((f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
                        + "\r\n").encode())
        if body_file is not None:
            body_file.seek(offset)
            left = length
            while left:
                block = body_file.read(min(BLOCK, left))
                self.s.sendall(block)
                left -= len(block)
        return self._response()

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            got = self.s.recv(65536)
            if not got:
                raise ConnectionError("server closed the connection")
            self.buf += got
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


def sign_in(port: int, library_root: Path) -> tuple[str, str]:
    """A session cookie and an XSRF token, made the way the gallery makes them."""
    from workbench.library import Library
    token = Library.open(library_root).login("bench", PASSWORD)
    xsrf = os.urandom(16).hex()
    return f"wb_session={token}; _xsrf={xsrf}", xsrf


def tus_upload(conn: Conn, path: Path, with_creation: bool = True) -> str:
    """One file: with ``with_creation`` (creation-with-upload, as the page sends) the POST carries the first
    chunk, so a photo is one request; without it, the POST creates and PATCHes follow."""
    size = path.stat().st_size
    meta = "filename " + base64.b64encode(path.name.encode()).decode()
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": str(size), "Upload-Metadata": meta}
    first = min(CHUNK, size) if with_creation else 0
    with open(path, "rb") as f:
        if first:
            headers["Content-Type"] = "application/offset+octet-stream"
        status, h, body = conn.request("POST", "/upload/files/", headers, f if first else None, 0, first)
        assert status == 201, (status, body)
        location = h["location"]
        offset = int(h.get("upload-offset", "0"))
        while offset < size:
            n = min(CHUNK, size - offset)
            status, h, body = conn.request("PATCH", location, {
                "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream"}, f, offset, n)
            if status != 204:
                raise RuntimeError(f"refused {status}: {body.decode()[:120]}")
            offset = int(h["upload-offset"])
    return location


def tus_outcome(conn: Conn, location: str) -> str:
    """Wait until the server has decided an upload (content check, stored, catalog rows)."""
    import json
    while True:
        status, _, body = conn.request("GET", location, {"Tus-Resumable": "1.0.0"})
        s = json.loads(body)
        if s["state"] == "done":
            return s["result"]
        if s["state"] == "refused":
            return "refused: " + s["reason"][:80]
        time.sleep(0.05)


def put_upload(conn: Conn, path: Path) -> str:
    size = path.stat().st_size
    with open(path, "rb") as f:
        status, _, body = conn.request("PUT", "/put/" + urllib.parse.quote(path.name), {}, f, 0, size)
    assert status == 201 and int(body) == size, (status, body)
    return ""


# ------------------------------------------------------------------------------------------------ the data

def make_data(work: Path, photos_mb: int, photo_mb: int, video_mb: int) -> tuple[list[Path], Path]:
    import numpy as np
    from PIL import Image
    photos_dir = work / "photos"
    photos_dir.mkdir(parents=True, exist_ok=True)
    n = max(1, photos_mb // photo_mb)
    photos = []
    for i in range(n):
        p = photos_dir / f"IMG_{i:04d}.jpg"
        if not p.exists() or p.stat().st_size != photo_mb * 2 ** 20:
            rng = np.random.default_rng(i)
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).resize((640, 480)).save(buf, "JPEG")
            head = buf.getvalue()
            p.write_bytes(head + os.urandom(photo_mb * 2 ** 20 - len(head)))
        photos.append(p)
    video = work / "video.mp4"
    if not video.exists() or video.stat().st_size != video_mb * 2 ** 20:
        small = work / "small.mp4"
        tiny_video(small)
        with open(video, "wb") as out:
            out.write(small.read_bytes())
            left = video_mb * 2 ** 20 - small.stat().st_size
            while left > 0:
                block = os.urandom(min(64 * 2 ** 20, left))
                out.write(block)
                left -= len(block)
    return photos, video


def tiny_video(path: Path, seconds: int = 2, fps: int = 10) -> None:
    """A real 2 s H.264 MP4 (PyAV), its index first, so the bytes appended after it are just more of the file."""
    from fractions import Fraction

    import av
    import numpy as np
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = 320, 240, "yuv420p"
        st.time_base = Fraction(1, fps)
        for i in range(seconds * fps):
            arr = np.full((240, 320, 3), (i * 12) % 255, np.uint8)
            fr = av.VideoFrame.from_ndarray(arr, format="rgb24")
            fr.pts = i
            for p in st.encode(fr):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


# ------------------------------------------------------------------------------------------------ the run

def start_server(library_root: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(library_root), str(port)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def send_all(port: int, cookie: str, xsrf: str, method: str, files: list[Path], parallel: int) -> list[str]:
    """Send ``files`` over ``parallel`` keep-alive connections (the page sends two files at a time), each
    connection one file after another; returns the tus locations in the files' order."""
    send = {"tus": tus_upload, "tus-patch": lambda c, p: tus_upload(c, p, with_creation=False),
            "put": put_upload}[method]
    out: list[str] = [""] * len(files)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        conn = Conn(port, cookie, xsrf)
        try:
            for i in range(k, len(files), parallel):
                out[i] = send(conn, files[i])
        except BaseException as e:
            errors.append(e)
        finally:
            conn.s.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def one_round(work: Path, photos: list[Path], video: Path, order: list[str],
              parallel: int = 1) -> dict[str, dict[str, float]]:
    """Each of ``order`` ("tus:photos", "put:video", ...) into a new library on a new server process, so every
    variant stores new content (none finds the files a previous one added)."""
    from workbench.library import Library
    out: dict[str, dict[str, float]] = {}
    for what in order:
        lib_root = work / f"library-{time.time_ns()}"
        lib = Library.open(lib_root, create=True)
        lib.add_user("bench", PASSWORD, "admin")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = start_server(lib_root, port)
        try:
            cookie, xsrf = sign_in(port, lib_root)
            warm_up(work, port, cookie, xsrf, what.split(":")[0])
            out[what] = measure(proc, port, cookie, xsrf, what, photos, video, parallel)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            shutil.rmtree(lib_root, ignore_errors=True)
    return out


def warm_up(work: Path, port: int, cookie: str, xsrf: str, method: str) -> None:
    """One small new photo first, not timed: the server's lazy imports and its content-check worker start here,
    not in the measurement (nor in its memory peak)."""
    import numpy as np
    from PIL import Image
    p = work / "warm-up.jpg"
    Image.fromarray(np.random.default_rng(time.time_ns()).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(p)
    locations = send_all(port, cookie, xsrf, method, [p], 1)
    if method.startswith("tus"):
        conn = Conn(port, cookie, xsrf)
        tus_outcome(conn, locations[0])
        conn.s.close()


def measure(proc: subprocess.Popen, port: int, cookie: str, xsrf: str, what: str, photos: list[Path], video: Path,
            parallel: int) -> dict[str, float]:
    method, items = what.split(":")
    files = photos if items == "photos" else [video]
    total = sum(p.stat().st_size for p in files)
    results: list[str] = []
    time.sleep(0.5)
    load = os.getloadavg()[0]
    with Sampler(proc.pid) as mem:
        t0 = time.perf_counter()
        locations = send_all(port, cookie, xsrf, method, files, parallel if items == "photos" else 1)
        dt = time.perf_counter() - t0            # every byte received (tus: and hashed, staged)
        if method.startswith("tus"):
            conn = Conn(port, cookie, xsrf)
            results = [tus_outcome(conn, loc) for loc in locations]
            conn.s.close()
        dt_all = time.perf_counter() - t0        # tus: every file also decided and in the library
    kinds = {r: results.count(r) for r in set(results)}
    print(f"  {what:16s} {total / 1e9:.2f} GB received in {dt:6.1f} s = {total / dt / 1e6:5.0f} MB/s"
          + (f", all in the library after {dt_all:6.1f} s = {total / dt_all / 1e6:5.0f} MB/s {kinds}"
             if method.startswith("tus") else "")
          + f"; load {load:.1f}; server RSS {mem.idle:.0f} MB idle, +{max(0.0, mem.peak - mem.idle):.0f} MB peak",
          flush=True)
    return {"mb_s": total / dt / 1e6, "mb_s_in_library": total / dt_all / 1e6, "seconds": dt, "load": load,
            "rss_idle_mb": mem.idle, "rss_above_idle_mb": max(0.0, mem.peak - mem.idle)}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos-mb", type=int, default=1024)
    ap.add_argument("--photo-mb", type=int, default=5)
    ap.add_argument("--video-mb", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="folder for the test files and libraries")
    ap.add_argument("--variants", default="tus,put",
                    help="what to send, alternating: tus (creation-with-upload, as the page), tus-patch (creation, "
                         "then PATCH: two requests a photo), put (the baseline)")
    ap.add_argument("--parallel", type=int, default=1, help="photos sent at a time (the page sends 2)")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="upload-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    photos, video = make_data(work, a.photos_mb, a.photo_mb, a.video_mb)
    print(f"{len(photos)} photos of {a.photo_mb} MiB, one video of {a.video_mb} MiB, in {work}")
    block = os.urandom(256 * 2 ** 20)
    t0 = time.perf_counter()
    hashlib.sha256(block).digest()
    print(f"sha256 alone on this machine now: {256 * 2 ** 20 / (time.perf_counter() - t0) / 1e6:.0f} MB/s; load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    variants = a.variants.split(",")
    if "put" not in variants:
        raise SystemExit("--variants must include put (the baseline)")
    runs: dict[str, list[dict[str, float]]] = {}
    for r in range(a.rounds):
        # Alternate the order, so a warming page cache or a busy neighbour favours none of them.
        vs = variants if r % 2 == 0 else variants[::-1]
        order = [f"{v}:photos" for v in vs] + [f"{v}:video" for v in vs]
        print(f"round {r + 1}: {', '.join(order)}")
        for k, v in one_round(work, photos, video, order, a.parallel).items():
            runs.setdefault(k, []).append(v)
    print(f"\nmedian over {a.rounds} rounds (ratio: each round's tus against that round's PUT, then the median; "
          f"{a.parallel} photo(s) at a time):")
    for items in ("photos", "video"):
        put = statistics.median(x["mb_s"] for x in runs[f"put:{items}"])
        rss_put = max(x["rss_above_idle_mb"] for x in runs[f"put:{items}"])
        loads = [x["load"] for k, xs in runs.items() if k.endswith(items) for x in xs]
        print(f"  {items:6s}: PUT {put:5.0f} MB/s, server RSS above idle +{rss_put:.0f} MB; load average "
              f"{min(loads):.1f}-{max(loads):.1f}")
        for v in variants:
            if v == "put":
                continue
            xs, ps = runs[f"{v}:{items}"], runs[f"put:{items}"]
            ratio = statistics.median(x["mb_s"] / p["mb_s"] for x, p in zip(xs, ps))
            ratio_lib = statistics.median(x["mb_s_in_library"] / p["mb_s"] for x, p in zip(xs, ps))
            each = ", ".join(f"{x['mb_s'] / p['mb_s']:.2f}" for x, p in zip(xs, ps))
            print(f"          {v:9s} {statistics.median(x['mb_s'] for x in xs):5.0f} MB/s received "
                  f"({statistics.median(x['mb_s_in_library'] for x in xs):5.0f} MB/s until in the library); "
                  f"ratio {ratio:.2f}x ({ratio_lib:.2f}x) [rounds: {each}]; server RSS above idle "
                  f"+{max(x['rss_above_idle_mb'] for x in xs):.0f} MB")

if __name__ == "__main__":
    main()
