"""The gallery under load: anonymous page loads and signed-in viewers against the real ``workbench gallery``.

    python benchmarks/gallery_load.py run [--viewers 40] [--anonymous 500] [--preheat 0 8] [--photos 300]
                                          [--arrival-s 0] [--commit SHA [.]] [--server cookie|legacy] [--json FILE]
                                          [--screen voila html] [--rounds N]
    python benchmarks/gallery_load.py kernel [--commit SHA]   # what one gallery kernel imports and costs, its floor

``run`` builds (once, cached under ``--work``) a library of generated photos with thumbnails and previews, shared
with ``--viewers`` accounts through an album, then for each ``--preheat`` value starts the real command
(``workbench gallery --preheat N``, like ``tests/browser.py``'s ``served_gallery``), a fresh server per phase:

* anonymous: ``--anonymous`` page loads of ``/`` without a session, ``--concurrency`` at a time, following redirects
  as a browser does. Measured: memory of the server and every process it started (sum of RSS, USS and PSS, via
  psutil) before and after, kernels started, HTTP statuses and latencies.
* viewers: every viewer signs in first (``POST /login``; argon2 makes this ~0.3 s of CPU each, so it is done before
  the clock starts and timed on its own), then all at once (or spread evenly over ``--arrival-s``) do what the
  browser's widget manager does: load the app, ``/app`` (``/`` before it moved; HTML complete), open the kernel websocket (v1 protocol, session cookie),
  open the ``jupyter.widget.control`` comm and send ``request_states``; the page is *ready* when the
  ``update_states`` reply with the photo tiles has arrived. Then each "scrolls and opens photos" with the grid's own
  messages: a click on "Load more" twice (``custom`` ``{"event": "click"}`` on the button model, as ipywidgets'
  protocol 2 defines), a click on a tile's open button, "next" twice, "close"; each action is timed until the kernel
  reports idle for it. Measured: ready time per viewer (p50/p95), action latencies, memory added per viewer (server +
  kernels, divided by the viewers that got ready), each kernel's RSS/USS/PSS.

``--screen html`` has the viewers load the plain first screen instead (``/timeline``, served by the gallery's own
server with no kernel, ``workbench/gallery/first_screen.py``): *ready* is the page HTML, its script and the first
screen's 48 thumbnails all arrived (fetched over at most 6 connections per viewer, as a browser does); then two
further pages of tiles (JSON and their thumbnails) and three previews (open, next, next) are timed.
``--screen voila html`` alternates both in one run.

Throughout both phases a separate process requests a page that starts no kernel every 0.5 s and records its
latency (``server answered``): the server must keep answering. The client is one Python process on the same
2-core machine as the server, so its own CPU is part of the load; figures are from one run each.
``--commit SHA`` serves the gallery of that commit from a ``git archive`` copy: the working tree is shared with
work in progress, and a figure should name the code it measured.

``--server legacy`` drives the gallery as it was before cookie sign-in (every ``GET /`` starts a kernel and
sign-in happens inside the page's widgets), for comparison; the anonymous phase then stops when the server has
grown by ``--anon-max-added-mb`` (without that cap 500 loads would start 500 kernels and exhaust the machine).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import psutil

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "load-test-password"
#: The command line of the gallery's fork server (workbench/gallery/forkserver.py), inherited by its kernels.
FORK_SERVER = "workbench.gallery.forkserver"
V1 = "v1.kernel.websocket.jupyter.org"
#: ipywidgets' protocol versions, sent as the browser's widget manager sends them (the kernel checks the major).
WIDGET_PROTOCOL, CONTROL_PROTOCOL = "2.1.0", "1.0.0"
#: Connections a browser opens to one server at once (Chromium and Firefox: 6 per host over HTTP/1.1).
BROWSER_CONNECTIONS = 6
#: Packages a viewer's kernel should never load (the heavy ones of processing); checked in the kernels' memory maps.
HEAVY = ("torch", "open_clip", "deepface", "cv2", "scipy", "numba", "sklearn", "matplotlib", "tensorflow", "dlib",
         "llvmlite", "skimage", "onnxruntime", "av", "rapidocr", "paddle", "jxl", "pillow_avif", "pillow_heif")


# -- the library ----------------------------------------------------------------------------------------------
def viewer_name(i: int) -> str:
    return f"viewer{i:02d}"


def build_library(root: Path, photos: int, viewers: int) -> Path:
    """A library of ``photos`` generated JPEGs (with EXIF dates over two years, so the timeline has month headings)
    owned by ``family``, thumbnails and previews made, all in one album that ``viewers`` viewer accounts belong to.
    Reused when it exists with the same sizes."""
    from PIL import Image

    from workbench.library import Library
    lib_dir = root / f"library-{photos}p-{viewers}v"
    done = lib_dir / ".load-benchmark-ready"
    if done.exists():
        return lib_dir
    if lib_dir.exists():
        shutil.rmtree(lib_dir)
    src = root / f"photos-{photos}"
    src.mkdir(parents=True, exist_ok=True)
    start = datetime(2024, 12, 31, 18, 0)
    for i in range(photos):
        p = src / f"img_{i:04d}.jpg"
        if p.exists():
            continue
        im = Image.effect_noise((640, 480), 30 + i % 40).convert("RGB")
        im = Image.merge("RGB", [im.getchannel(0).point(lambda v, k=i: (v + 37 * k) % 256),
                                 im.getchannel(1), im.getchannel(2).point(lambda v, k=i: (v * (1 + k % 3)) % 256)])
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = (start - timedelta(hours=53 * i)).strftime("%Y:%m:%d %H:%M:%S")
        im.save(p, "JPEG", quality=85, exif=exif.tobytes())
    lib = Library.create(lib_dir)
    lib.add_user("family", PASSWORD, "viewer")
    lib.import_files([src], owner="family", progress=False)
    lib.process(["thumbnails"], progress=False)
    album = lib.create_album("Family", owner="family")
    lib.add_to_album(album, lib.media()["id"].tolist())
    for i in range(1, viewers + 1):
        lib.add_user(viewer_name(i), PASSWORD, "viewer")
        lib.add_member(album, viewer_name(i))
    done.write_text(json.dumps({"photos": photos, "viewers": viewers}) + "\n")
    return lib_dir


def allow_kernels(lib_dir: Path, total: int, known_here: bool = True, fork: bool | None = None,
                  inline: bool | None = None) -> dict[str, Any]:
    """Raise the gallery's kernel caps to ``total`` in the library's settings.json (only the caps this version of
    workbench knows), so the benchmark measures the load rather than the "busy" page; ``fork`` sets
    ``gallery_kernel_fork`` (kernels forked from the warm fork server, or started anew), ``inline``
    ``gallery_first_screen_inline`` (the plain first screen's thumbnails in its page, or by signed links).
    Returns what was set."""
    from dataclasses import fields

    from workbench.settings import Settings
    known = {f.name for f in fields(Settings)}
    f = lib_dir / "settings.json"
    data = json.loads(f.read_text()) if f.exists() else {}
    for k in ("gallery_max_kernels", "gallery_kernels_per_user", "gallery_kernel_fork", "gallery_first_screen_inline"):
        data.pop(k, None)
    want: dict[str, Any] = {k: v for k, v in (("gallery_max_kernels", total), ("gallery_kernel_fork", fork),
                                              ("gallery_first_screen_inline", inline))
                            if k in known and known_here and v is not None}
    if "gallery_max_kernels" in want and want["gallery_max_kernels"] < Settings().gallery_max_kernels:
        want.pop("gallery_max_kernels")   # the default already allows more
    data.update(want)
    f.write_text(json.dumps(data, indent=2) + "\n")
    return want


# -- the server and its memory ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    log: Path
    #: Where the Voilà app is: ``/app`` since the timeline without a kernel became the landing page, ``/`` before.
    app_path: str = "/app"

    def processes(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def kernels(self) -> list[psutil.Process]:
        """Kernel processes: started as ``ipykernel_launcher``, or forked from the fork server (which carry its
        command line; the fork server itself is the server's child, its kernels are its children)."""
        out = []
        for p in self.processes()[1:]:
            with contextlib.suppress(psutil.Error):
                cmd = p.cmdline()
                if any("ipykernel" in a for a in cmd) or (FORK_SERVER in cmd and p.ppid() != self.proc.pid):
                    out.append(p)
        return out

    def memory(self) -> dict[str, float]:
        """MB summed over the server and all its descendants (kernels included), and the kernel count."""
        tot = {"rss_mb": 0.0, "uss_mb": 0.0, "pss_mb": 0.0}
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                m = p.memory_full_info()
                tot["rss_mb"] += m.rss / 2**20
                tot["uss_mb"] += m.uss / 2**20
                tot["pss_mb"] += m.pss / 2**20
        tot["kernels"] = len(self.kernels())
        with contextlib.suppress(psutil.Error):
            tot["server_uss_mb"] = psutil.Process(self.proc.pid).memory_full_info().uss / 2**20
        return tot

    def wait_quiet(self, kernels: int, timeout_s: float = 240.0) -> None:
        """Wait until ``kernels`` kernels run and the server and kernels are idle (a preheat pool is warm)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ks = self.kernels()
            if len(ks) >= kernels:
                procs = self.processes()
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        p.cpu_percent(None)
                time.sleep(2.0)
                busy = 0.0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        busy += p.cpu_percent(None)
                if busy < 15:
                    return
            else:
                time.sleep(1.0)
        raise TimeoutError(f"the server did not settle with {kernels} kernels within {timeout_s:.0f} s")


@contextlib.contextmanager
def served(lib_dir: Path, preheat: int, log_dir: Path, source: Path = REPO) -> Iterator[Server]:
    """The real ``workbench gallery`` on a free port, in its own session (stopped with everything it started),
    run from the checkout at ``source`` (the kernels inherit its PYTHONPATH)."""
    port = free_port()
    log = log_dir / f"gallery-{port}.log"
    cmd = [sys.executable, "-m", "workbench", "--library", str(lib_dir), "gallery", "--port", str(port), "--no-show",
           *(["--preheat", str(preheat)] if preheat else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), *filter(None, [os.environ.get("PYTHONPATH")])])}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=source,
                                env=env)
    handlers = source / "workbench" / "gallery" / "handlers.py"
    app_path = "/app" if handlers.exists() and 'APP_PATH = "app"' in handlers.read_text() else "/"
    server = Server(proc, f"http://127.0.0.1:{port}", log, app_path)
    try:
        deadline = time.monotonic() + 120
        import urllib.request
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the gallery exited with {proc.returncode}: see {log}")
            try:
                with urllib.request.urlopen(f"{server.base}/voila/static/voila.js", timeout=5):
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the gallery did not answer within 120 s: see {log}")
                time.sleep(0.5)
        server.wait_quiet(preheat)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


PROBE = r"""
import sys, time, urllib.request, urllib.error
url = sys.argv[1]
while True:
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read(); status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:
        status = 0
    print(f"{time.time():.3f} {time.monotonic() - t0:.4f} {status}", flush=True)
    time.sleep(max(0.0, 0.5 - (time.monotonic() - t0)))
"""


@contextlib.contextmanager
def probing(url: str) -> Iterator[list[tuple[float, float, int]]]:
    """A separate process that requests ``url`` every 0.5 s; yields the list its (time, latency s, status) fill
    when the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", PROBE, url], stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, float, int]] = []
    try:
        yield samples
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
        for line in out.splitlines():
            t, lat, st = line.split()
            samples.append((float(t), float(lat), int(st)))


def probe_summary(samples: list[tuple[float, float, int]]) -> dict[str, Any]:
    """Whether the server kept answering: answered/asked, p95 and max latency, longest time without an answer."""
    ok = [(t, lat) for t, lat, st in samples if 200 <= st < 500]
    lats = sorted(lat for _, lat in ok)
    gaps = [b - a for (a, _), (b, _) in zip(ok, ok[1:])]
    return {"asked": len(samples), "answered": len(ok),
            "p95_s": round(pct(lats, 95), 3) if lats else None, "max_s": round(max(lats), 3) if lats else None,
            "longest_gap_s": round(max(gaps), 2) if gaps else None}


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p95 of 40 viewers is the 38th fastest)."""
    v = sorted(values)
    return v[max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))]


# -- HTTP and the kernel websocket, as a browser's widget manager speaks them --------------------------------
def http():
    from tornado.httpclient import AsyncHTTPClient
    AsyncHTTPClient.configure(None, max_clients=200)
    return AsyncHTTPClient()


class Browser:
    """One visitor's cookies."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}

    def _take(self, response) -> None:
        for raw in response.headers.get_list("Set-Cookie"):
            c = SimpleCookie()
            c.load(raw)
            for k, m in c.items():
                self.cookies[k] = m.value

    def header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    async def get(self, path: str, *, follow: bool = True, timeout_s: float = 120):
        """GET with this visitor's cookies, following redirects like a browser (cookies kept at each hop)."""
        url = self.base + path
        for _ in range(5):
            r = await http().fetch(url, headers=self.header(), follow_redirects=False, raise_error=False,
                                   request_timeout=timeout_s)
            self._take(r)
            if follow and r.code in (301, 302, 303, 307) and r.headers.get("Location"):
                loc = r.headers["Location"]
                url = loc if loc.startswith("http") else self.base + loc
                continue
            return r
        return r

    async def post(self, path: str, form: dict[str, str], *, timeout_s: float = 60):
        r = await http().fetch(self.base + path, method="POST", body=urlencode(form), follow_redirects=False,
                               raise_error=False, request_timeout=timeout_s,
                               headers={**self.header(), "Content-Type": "application/x-www-form-urlencoded"})
        self._take(r)
        return r


def pack_v1(msg: dict) -> bytes:
    """A message in the v1 binary websocket protocol (offsets, channel, header, parent, metadata, content)."""
    parts = [json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
    channel = msg["channel"].encode()
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(channel))
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    return struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets) + channel + b"".join(parts)


def unpack_v1(frame: bytes) -> tuple[str, list[bytes]]:
    """(channel, [header, parent, metadata, content, *buffers]) of a v1 frame, with its offsets checked."""
    n = struct.unpack_from("<Q", frame)[0]
    if not 3 <= n <= 1024 or 8 * (n + 1) > len(frame):
        raise ValueError(f"bad v1 frame: {n} offsets in {len(frame)} bytes")
    offs = struct.unpack_from(f"<{n}Q", frame, 8)
    if list(offs) != sorted(offs) or offs[-1] > len(frame):
        raise ValueError("bad v1 frame offsets")
    return frame[offs[0]:offs[1]].decode(), [frame[offs[i]:offs[i + 1]] for i in range(1, n - 1)]


class KernelSocket:
    """The page's kernel websocket with the widget models it has learnt (state without binary buffers)."""

    def __init__(self, ws, session: str):
        self.ws = ws
        self.session = session
        self.models: dict[str, dict] = {}
        self.idle: dict[str, asyncio.Event] = {}
        self.states_received = asyncio.Event()
        self.changed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())
        self.bytes_in = 0

    @classmethod
    async def connect(cls, browser: Browser, kernel_id: str) -> "KernelSocket":
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect
        session = uuid.uuid4().hex
        url = f"ws{browser.base[4:]}/api/kernels/{kernel_id}/channels?session_id={session}"
        ws = await websocket_connect(HTTPRequest(url, headers=browser.header()), subprotocols=[V1],
                                     max_message_size=64 * 2**20)
        return cls(ws, session)

    def message(self, msg_type: str, content: dict, metadata: dict | None = None) -> dict:
        return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "", "session": self.session,
                           "date": datetime.now().isoformat(), "version": "5.3"},
                "parent_header": {}, "metadata": metadata or {}, "content": content, "channel": "shell"}

    async def send(self, msg: dict) -> asyncio.Event:
        ev = self.idle.setdefault(msg["header"]["msg_id"], asyncio.Event())
        await self.ws.write_message(pack_v1(msg), binary=True)
        return ev

    async def _read(self) -> None:
        while True:
            frame = await self.ws.read_message()
            if frame is None:
                return
            if isinstance(frame, str):
                d = json.loads(frame)
                self._handle(d["header"], d.get("parent_header") or {}, lambda d=d: d["content"])
                continue
            self.bytes_in += len(frame)
            _, parts = unpack_v1(frame)
            header, parent = json.loads(parts[0]), json.loads(parts[1])
            self._handle(header, parent, lambda p=parts: json.loads(p[3]))

    def _handle(self, header: dict, parent: dict, content) -> None:
        t = header.get("msg_type")
        if t == "status":
            if content().get("execution_state") == "idle" and parent.get("msg_id") in self.idle:
                self.idle[parent["msg_id"]].set()
        elif t == "comm_open":
            c = content()
            self.models[c["comm_id"]] = dict((c.get("data") or {}).get("state") or {})
            self.changed.set()
        elif t == "comm_msg":
            data = content().get("data") or {}
            if data.get("method") == "update_states":
                for mid, m in data.get("states", {}).items():
                    self.models[mid] = dict(m.get("state") or {})
                self.states_received.set()
            elif data.get("method") in ("update", "echo_update"):
                self.models.setdefault(content()["comm_id"], {}).update(data.get("state") or {})
            self.changed.set()
        elif t == "comm_close":
            self.models.pop(content().get("comm_id"), None)

    def find(self, css: str) -> list[str]:
        """Model ids of widgets carrying a CSS class of ours (``wb-more``, ``wb-open``, ...)."""
        return [m for m, s in self.models.items() if css in (s.get("_dom_classes") or ())]

    async def request_states(self, timeout_s: float) -> None:
        """What @jupyter-widgets/base does on page load: open the control comm, ask for every widget's state."""
        comm = uuid.uuid4().hex
        await self.send(self.message("comm_open", {"comm_id": comm, "target_name": "jupyter.widget.control",
                                                   "data": {}}, {"version": CONTROL_PROTOCOL}))
        await self.send(self.message("comm_msg", {"comm_id": comm, "data": {"method": "request_states"}},
                                     {"version": CONTROL_PROTOCOL}))
        await asyncio.wait_for(self.states_received.wait(), timeout_s)
        await self.send(self.message("comm_close", {"comm_id": comm, "data": {}}))

    async def until(self, css: str, timeout_s: float) -> list[str]:
        """Wait until a widget with class ``css`` is known (it may arrive in comm_open messages after a click)."""
        deadline = time.monotonic() + timeout_s
        while not (found := self.find(css)):
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.01, deadline - time.monotonic()))
        return found

    async def click(self, model_id: str, timeout_s: float) -> float:
        """A button click as ipywidgets sends it; seconds until the kernel is idle again after handling it."""
        t0 = time.monotonic()
        ev = await self.send(self.message("comm_msg", {"comm_id": model_id, "data": {
            "method": "custom", "content": {"event": "click"}}}, {"version": WIDGET_PROTOCOL}))
        await asyncio.wait_for(ev.wait(), timeout_s)
        return time.monotonic() - t0

    async def set_value(self, model_id: str, value: Any, timeout_s: float) -> None:
        ev = await self.send(self.message("comm_msg", {"comm_id": model_id, "data": {
            "method": "update", "state": {"value": value}, "buffer_paths": []}}, {"version": WIDGET_PROTOCOL}))
        await asyncio.wait_for(ev.wait(), timeout_s)

    async def close(self) -> None:
        self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(BaseException):
            await self.reader


def kernel_id_of(html: str) -> str | None:
    m = re.search(r'"kernelId": "([0-9a-f-]+)"', html)
    return m.group(1) if m else None


# -- how a visitor signs in: the one step that differs between the legacy server and cookie sign-in ----------
async def sign_in_cookie(browser: Browser, name: str) -> float:
    """Cookie sign-in: GET /login (sets ``_xsrf``), POST the form; the server answers with ``wb_session``."""
    t0 = time.monotonic()
    r = await browser.get("/login", follow=False)
    if r.code != 200 or "_xsrf" not in browser.cookies:
        raise RuntimeError(f"GET /login answered {r.code} without an _xsrf cookie")
    r = await browser.post("/login", {"name": name, "password": PASSWORD, "_xsrf": browser.cookies["_xsrf"]})
    if r.code not in (302, 303) or "wb_session" not in browser.cookies:
        raise RuntimeError(f"POST /login answered {r.code} without a wb_session cookie")
    return time.monotonic() - t0


async def sign_in_widgets(ks: KernelSocket, name: str, timeout_s: float) -> None:
    """Legacy sign-in inside the page: type name and password into the login widgets and click "Sign in"."""
    await ks.set_value((await ks.until("wb-login-name", timeout_s))[0], name, timeout_s)
    await ks.set_value(ks.find("wb-login-password")[0], PASSWORD, timeout_s)
    await ks.click(ks.find("wb-login-submit")[0], timeout_s)


# -- the phases ---------------------------------------------------------------------------------------------
async def anonymous_loads(server: Server, n: int, concurrency: int, max_added_mb: float) -> dict[str, Any]:
    """``n`` page loads of / without a session, ``concurrency`` at a time; stops early past ``max_added_mb``."""
    before = server.memory()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    stop = asyncio.Event()
    peak = dict(before)
    issued = 0

    async def watch() -> None:
        while not stop.is_set():
            m = await asyncio.get_running_loop().run_in_executor(None, server.memory)
            for k in ("rss_mb", "uss_mb", "pss_mb", "kernels"):
                peak[k] = max(peak[k], m[k])
            peak["server_uss_mb"] = max(peak.get("server_uss_mb", 0.0), m.get("server_uss_mb", 0.0))
            if m["uss_mb"] - before["uss_mb"] > max_added_mb:
                stop.set()
            await asyncio.sleep(1.0)

    async def one() -> None:
        nonlocal issued
        while not stop.is_set() and issued < n:
            issued += 1
            t0 = time.monotonic()
            try:
                r = await Browser(server.base).get("/", timeout_s=180)
                code = r.code
            except Exception:
                code = 0
            latencies.append(time.monotonic() - t0)
            statuses[code] = statuses.get(code, 0) + 1

    watcher = asyncio.ensure_future(watch())
    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    stopped_early = stop.is_set()
    stop.set()
    await watcher
    await asyncio.sleep(3.0)
    after = server.memory()
    return {"loads": len(latencies), "stopped_early": stopped_early, "wall_s": round(wall, 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "latency_p50_s": round(pct(latencies, 50), 3), "latency_p95_s": round(pct(latencies, 95), 3),
            "before": rounded(before), "after": rounded(after), "peak": rounded(peak),
            "added_uss_mb": round(after["uss_mb"] - before["uss_mb"], 1),
            "added_pss_mb": round(after["pss_mb"] - before["pss_mb"], 1),
            "added_rss_mb": round(after["rss_mb"] - before["rss_mb"], 1)}


@dataclass
class ViewerResult:
    name: str
    sign_in_s: float | None = None
    page_s: float | None = None
    ready_s: float | None = None
    tiles: int = 0
    actions: dict[str, float] = field(default_factory=dict)
    status: int | None = None
    error: str | None = None


async def viewer(server: Server, browser: Browser, res: ViewerResult, legacy: bool, timeout_s: float,
                 go: asyncio.Event, done: asyncio.Event, scripted: asyncio.Event, delay_s: float = 0.0) -> None:
    """One signed-in viewer: ready page, then scroll and open photos; keeps its websocket until ``done``.
    ``delay_s``: when it arrives after ``go``."""
    ks = None
    try:
        await go.wait()
        await asyncio.sleep(delay_s)
        t0 = time.monotonic()
        r = await browser.get(server.app_path, timeout_s=timeout_s)
        res.status = r.code
        res.page_s = time.monotonic() - t0
        kid = kernel_id_of(r.body.decode("utf-8", "replace")) if r.code == 200 else None
        if not kid:
            raise RuntimeError(f"GET / answered {r.code} without a kernel")
        ks = await KernelSocket.connect(browser, kid)
        await ks.request_states(timeout_s)
        if legacy:
            await sign_in_widgets(ks, res.name, timeout_s)
        res.tiles = len(await ks.until("wb-open", timeout_s))
        res.ready_s = time.monotonic() - t0
        more = ks.find("wb-more")
        for i in range(2):
            if more:
                res.actions[f"load_more_{i + 1}"] = await ks.click(more[0], timeout_s)
        res.tiles = len(ks.find("wb-open"))
        res.actions["open"] = await ks.click(ks.find("wb-open")[0], timeout_s)
        nxt = ks.find("wb-next")
        for i in range(2):
            res.actions[f"next_{i + 1}"] = await ks.click(nxt[0], timeout_s)
        res.actions["close"] = await ks.click(ks.find("wb-close")[0], timeout_s)
    except Exception as e:  # one viewer's failure is a result, not the end of the run
        res.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        scripted.set()
        await done.wait()
        if ks is not None:
            await ks.close()


async def first_screen_viewer(server: Server, browser: Browser, res: ViewerResult, timeout_s: float,
                              go: asyncio.Event, done: asyncio.Event, scripted: asyncio.Event,
                              delay_s: float = 0.0) -> None:
    """One signed-in viewer of the plain first screen (``/timeline``, no kernel), as a browser loads it: the page
    HTML, then its script and the first screen's thumbnails over at most ``BROWSER_CONNECTIONS`` connections at a
    time; *ready* when all of them have arrived. Then it scrolls (the next page of tiles as JSON and their
    thumbnails, twice) and opens a photo (its preview), "next" twice."""
    conns = asyncio.Semaphore(BROWSER_CONNECTIONS)

    async def fetch(url: str) -> int:
        async with conns:
            r = await browser.get(url[len(browser.base):] if url.startswith("http") else url, follow=False,
                                  timeout_s=timeout_s)
        if r.code != 200:
            raise RuntimeError(f"GET {url[:60]} answered {r.code}")
        return len(r.body or b"")

    try:
        await go.wait()
        await asyncio.sleep(delay_s)
        t0 = time.monotonic()
        r = await browser.get("/timeline", follow=False, timeout_s=timeout_s)
        res.status = r.code
        res.page_s = time.monotonic() - t0
        html = r.body.decode("utf-8", "replace") if r.code == 200 else ""
        tiles = [u.replace("&amp;", "&") for u in re.findall(r"<img src='([^']+)'", html)]
        thumbs = [u for u in tiles if not u.startswith("data:")]     # in the page already when inline
        script = re.search(r"<script src='([^']+)'", html)
        if not tiles or not script:
            raise RuntimeError(f"GET /timeline answered {r.code} without tiles")
        await asyncio.gather(fetch(script.group(1)), *(fetch(u) for u in thumbs))
        res.tiles = len(tiles)
        res.ready_s = time.monotonic() - t0
        offset, items = len(thumbs), []
        for i in range(2):
            t = time.monotonic()
            page = await browser.get(f"/timeline/items?offset={offset}", follow=False, timeout_s=timeout_s)
            body = json.loads(page.body)
            items += body["items"]
            await asyncio.gather(*(fetch(it["thumb"]) for it in body["items"] if not it["thumb"].startswith("data:")))
            res.actions[f"load_more_{i + 1}"] = time.monotonic() - t
            if body["next"] is None:
                break
            offset = body["next"]
        res.tiles += len(items)
        for k, name in enumerate(("open", "next_1", "next_2")):
            t = time.monotonic()
            await fetch(items[k]["preview"])
            res.actions[name] = time.monotonic() - t
    except Exception as e:  # one viewer's failure is a result, not the end of the run
        res.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        scripted.set()
        await done.wait()


async def signed_in_viewers(server: Server, n: int, legacy: bool, timeout_s: float,
                            arrival_s: float = 0.0, screen: str = "voila") -> dict[str, Any]:
    """``n`` viewers signed in, then all loading the page and scrolling at once (or arriving evenly spread over
    ``arrival_s`` seconds); ``screen``: the Voilà page (``voila``) or the plain first screen (``html``)."""
    results = [ViewerResult(viewer_name(i)) for i in range(1, n + 1)]
    browsers = [Browser(server.base) for _ in results]
    if not legacy:
        sem = asyncio.Semaphore(4)

        async def sign(b: Browser, r: ViewerResult) -> None:
            async with sem:
                try:
                    r.sign_in_s = await sign_in_cookie(b, r.name)
                except Exception as e:
                    r.error = f"sign-in: {e}"[:200]
        await asyncio.gather(*(sign(b, r) for b, r in zip(browsers, results)))
    await asyncio.sleep(2.0)
    before = server.memory()
    load_before = os.getloadavg()[0]     # the machine is shared: how busy it was before the viewers came
    go, done = asyncio.Event(), asyncio.Event()
    scripted = [asyncio.Event() for _ in results]
    tasks = [asyncio.ensure_future(
        first_screen_viewer(server, b, r, timeout_s, go, done, s, arrival_s * i / max(1, n)) if screen == "html"
        else viewer(server, b, r, legacy, timeout_s, go, done, s, arrival_s * i / max(1, n)))
        for i, (b, r, s) in enumerate(zip(browsers, results, scripted)) if r.error is None]
    server_cpu: list[float] = []
    server_proc = psutil.Process(server.proc.pid)
    cpu_before = sum(server_proc.cpu_times()[:2])
    sampling = asyncio.ensure_future(sample_cpu(server_proc, server_cpu))
    t0 = time.monotonic()
    go.set()
    await asyncio.gather(*(s.wait() for r, s in zip(results, scripted) if r.error is None or tasks))
    wall = time.monotonic() - t0
    server_cpu_s = sum(server_proc.cpu_times()[:2]) - cpu_before
    load_after = os.getloadavg()[0]
    sampling.cancel()
    await asyncio.sleep(3.0)
    during = server.memory()
    kernels = []
    for k in server.kernels():
        with contextlib.suppress(psutil.Error):
            m = k.memory_full_info()
            c = k.cpu_times()
            kernels.append({"rss_mb": m.rss / 2**20, "uss_mb": m.uss / 2**20, "pss_mb": m.pss / 2**20,
                            "cpu_s": c.user + c.system})
    heavy = heavy_libraries(server.kernels()[:1])
    breakdown = {}
    with contextlib.suppress(psutil.Error, IndexError):
        breakdown = memory_breakdown(server.kernels()[0])
    done.set()
    await asyncio.gather(*tasks)
    ready = [r for r in results if r.ready_s is not None]
    readies = [r.ready_s for r in ready]
    acts: dict[str, list[float]] = {}
    for r in results:
        for k, v in r.actions.items():
            acts.setdefault(k, []).append(v)
    k = len(ready) or 1
    return {
        "viewers": n, "screen": screen, "arrival_s": arrival_s, "ready": len(ready), "wall_s": round(wall, 1),
        "load_average_1min": round(load_before, 1),
        "load_average_1min_after": round(load_after, 1),
        # The server process's own CPU seconds while the viewers loaded and scrolled (page rendering, the kernels'
        # messages, websockets), divided by the viewers.
        "server_cpu_s_per_viewer": round(server_cpu_s / max(1, n), 3),
        # The server's own CPU (% of one core, sampled every 0.5 s): near 100 means its event loop was busy;
        # low while the probe waits means it was starved by the kernels.
        "server_cpu_p50_pct": round(pct(server_cpu, 50)) if server_cpu else None,
        "server_cpu_max_pct": round(max(server_cpu)) if server_cpu else None,
        "ready_sorted_s": [round(x, 1) for x in sorted(readies)],
        "errors": sorted({r.error for r in results if r.error})[:5],
        "statuses": {str(s): sum(1 for r in results if (r.status or 0) == s)
                     for s in sorted({r.status or 0 for r in results})},
        "sign_in_p50_s": round(pct([r.sign_in_s for r in results if r.sign_in_s], 50), 3) if not legacy else None,
        "page_p50_s": round(pct([r.page_s for r in results if r.page_s], 50), 3) if ready else None,
        "ready_p50_s": round(pct(readies, 50), 3) if ready else None,
        "ready_p95_s": round(pct(readies, 95), 3) if ready else None,
        "ready_max_s": round(max(readies), 3) if ready else None,
        "tiles_p50": int(statistics.median([r.tiles for r in ready])) if ready else 0,
        "actions_p50_s": {a: round(pct(v, 50), 3) for a, v in acts.items()},
        "actions_p95_s": {a: round(pct(v, 95), 3) for a, v in acts.items()},
        "before": rounded(before), "during": rounded(during),
        "added_per_viewer_uss_mb": round((during["uss_mb"] - before["uss_mb"]) / k, 1),
        "added_per_viewer_pss_mb": round((during["pss_mb"] - before["pss_mb"]) / k, 1),
        "added_per_viewer_rss_mb": round((during["rss_mb"] - before["rss_mb"]) / k, 1),
        "kernel_median": {m: round(statistics.median(x[m] for x in kernels), 1)
                          for m in ("rss_mb", "uss_mb", "pss_mb", "cpu_s")}
        if kernels else None,
        "heavy_libraries_in_a_kernel": heavy,
        "a_kernel_by_mapping": breakdown,
    }


async def sample_cpu(proc: psutil.Process, out: list[float]) -> None:
    """CPU % of one process every 0.5 s into ``out`` until cancelled."""
    with contextlib.suppress(psutil.Error):
        proc.cpu_percent(None)
        while True:
            await asyncio.sleep(0.5)
            out.append(proc.cpu_percent(None))


def heavy_libraries(procs: list[psutil.Process]) -> list[str]:
    """Heavy packages whose files a kernel has mapped (from /proc/PID/maps): proof of what it imported."""
    found: set[str] = set()
    for p in procs:
        with contextlib.suppress(psutil.Error):
            for m in p.memory_maps(grouped=True):
                parts = Path(m.path).parts
                if "site-packages" in parts:
                    pkg = parts[parts.index("site-packages") + 1].split(".")[0]
                    found.update(h for h in HEAVY if pkg.startswith(h))   # torch, torch-libs, scipy.libs, ...
    return sorted(found)


def memory_breakdown(proc: psutil.Process, top: int = 8) -> dict[str, dict[str, float]]:
    """Where one process's memory is, by mapping: Python heap and other anonymous memory, then the files of each
    site-packages package, the interpreter, other libraries. RSS and private (USS) MB, largest private first."""
    groups: dict[str, list[float]] = {}
    for m in proc.memory_maps(grouped=True):
        parts = Path(m.path).parts if m.path.startswith("/") else ()
        if not parts:
            key = "anonymous (heap, arenas, buffers)"
        elif "site-packages" in parts:
            key = parts[parts.index("site-packages") + 1].split(".")[0].removesuffix("-libs")
        elif "python3" in m.path or "libpython" in m.path:
            key = "python"
        else:
            key = "other files"
        g = groups.setdefault(key, [0.0, 0.0])
        g[0] += m.rss / 2**20
        g[1] += (m.private_clean + m.private_dirty) / 2**20
    ranked = sorted(groups.items(), key=lambda kv: -kv[1][1])[:top]
    return {k: {"rss_mb": round(r, 1), "uss_mb": round(u, 1)} for k, (r, u) in ranked}


def rounded(m: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in m.items()}


def checkout(commit: str, work: Path) -> Path:
    """The repository's files at ``commit`` (``git archive``, no git state touched), to serve an older gallery."""
    sha = subprocess.run(["git", "rev-parse", "--short", commit], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.strip()
    dest = work / f"source-{sha}"
    if not (dest / "workbench").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def run(a: argparse.Namespace) -> None:
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    lib_dir = build_library(work, a.photos, a.viewers)
    legacy = a.server == "legacy"
    commits = [None if c in (None, ".") else c for c in a.commit]
    sources = {c: checkout(c, work) if c else REPO for c in commits}
    probe_path = "/voila/static/voila.js" if legacy else "/login"
    out: dict[str, Any] = {"command": " ".join(sys.argv), "server": a.server, "commit": a.commit, "photos": a.photos,
                           "cpus": os.cpu_count(), "variants": []}
    plan = [(commit, fork, preheat, screen, inline) for _ in range(a.rounds) for screen in a.screen
            for inline in (a.inline if screen == "html" else ["default"]) for fork in a.fork for preheat in a.preheat
            for commit in commits]
    for commit, fork, preheat, screen, inline in plan:
        source = sources[commit]
        caps = allow_kernels(lib_dir, a.viewers_now, known_here=source == REPO,
                             fork=None if fork == "default" else fork == "on",
                             inline=None if inline == "default" else inline == "on")
        variant: dict[str, Any] = {"commit": commit or "this checkout", "preheat": preheat, "fork": fork,
                                   "screen": screen, "inline": inline, "settings": caps}
        # Every run signs 40 viewers in: one commit each to the sessions table, whose session checks then scan
        # every fragment (a check took 3x longer after ~600 sign-ins). Each variant starts from a compacted one.
        from workbench.library import Library
        Library.open(lib_dir).catalog.compact(["sessions", "login_failures"])
        if a.anonymous:
            with served(lib_dir, preheat, work, source) as server, probing(server.base + probe_path) as probe:
                variant["anonymous"] = asyncio.run(anonymous_loads(server, a.anonymous, a.concurrency,
                                                                   a.anon_max_added_mb))
            variant["anonymous"]["server_answered"] = probe_summary(probe)
            print(json.dumps({"preheat": preheat, "fork": fork, "anonymous": variant["anonymous"]}), flush=True)
        if a.viewers_now:
            with served(lib_dir, preheat, work, source) as server, probing(server.base + probe_path) as probe:
                variant["viewers"] = asyncio.run(signed_in_viewers(server, a.viewers_now, legacy, a.timeout,
                                                                   a.arrival_s, screen))
            variant["viewers"]["server_answered"] = probe_summary(probe)
            print(json.dumps({"commit": variant["commit"], "preheat": preheat, "fork": fork, "screen": screen,
                              "inline": inline, "viewers": variant["viewers"]}), flush=True)
        out["variants"].append(variant)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    print_table(out)


def print_table(out: dict[str, Any]) -> None:
    print(f"\nserver: {out['server']}, {out['photos']} photos, {out['cpus']} CPUs")
    for v in out["variants"]:
        an, vw = v.get("anonymous"), v.get("viewers")
        if an:
            capped = " (stopped at the memory cap)" if an["stopped_early"] else ""
            print(f"preheat {v['preheat']}: {an['loads']} anonymous loads{capped}"
                  f" in {an['wall_s']} s, statuses {an['statuses']}, p95 {an['latency_p95_s']} s; kernels "
                  f"{an['before']['kernels']} -> {an['after']['kernels']} (peak {an['peak']['kernels']}); added "
                  f"USS {an['added_uss_mb']} MB, PSS {an['added_pss_mb']} MB, RSS {an['added_rss_mb']} MB; "
                  f"server answered {an['server_answered']}")
        if vw:
            print(f"[{v.get('commit', 'this checkout')}] "
                  f"{vw.get('screen', 'voila')} first screen (inline {v.get('inline')}), fork {v.get('fork')}, "
                  f"preheat {v['preheat']}: "
                  f"{vw['ready']}/{vw['viewers']} viewers ready (arriving over "
                  f"{vw['arrival_s']:.0f} s, load average {vw['load_average_1min']} before, "
                  f"{vw.get('load_average_1min_after')} after), server CPU per viewer "
                  f"{vw.get('server_cpu_s_per_viewer')} s, p50 {vw['ready_p50_s']} s, "
                  f"p95 {vw['ready_p95_s']} s, max {vw['ready_max_s']} s (page HTML p50 {vw['page_p50_s']} s, "
                  f"sign-in p50 {vw['sign_in_p50_s']} s); per viewer USS {vw['added_per_viewer_uss_mb']} MB, PSS "
                  f"{vw['added_per_viewer_pss_mb']} MB, RSS {vw['added_per_viewer_rss_mb']} MB; a kernel "
                  f"{vw['kernel_median']}; actions p95 {vw['actions_p95_s']}; heavy libraries "
                  f"{vw['heavy_libraries_in_a_kernel']}; errors {vw['errors']}; server answered "
                  f"{vw['server_answered']}")


# -- one kernel: what the gallery path imports and what it costs --------------------------------------------
KERNEL_PROFILE = r"""
import json, os, sys, time
import psutil
def mem():
    m = psutil.Process().memory_full_info()
    return {"rss_mb": round(m.rss / 2**20, 1), "uss_mb": round(m.uss / 2**20, 1), "pss_mb": round(m.pss / 2**20, 1)}
steps = []
lib_dir, name, password, floor = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "floor"
steps.append(("python", mem()))
if floor:
    for mod in ["numpy", "pandas", "pyarrow", "lancedb", "ipykernel.kernelapp", "ipywidgets", "PIL.Image", "argon2"]:
        __import__(mod)
        steps.append(("+ " + mod, mem()))
else:
    from workbench.gallery.app import Gallery
    from workbench.library import Library
    steps.append(("imports", mem()))
    lib = Library.open(lib_dir)
    steps.append(("library open", mem()))
    import inspect
    if "view" in inspect.signature(Gallery).parameters:    # cookie sign-in: the server names the visitor
        app = Gallery(lib, lib.for_user(name), full_page=True)
    else:                                                  # sign-in inside the page
        app = Gallery(lib, "", full_page=True)
        app._signed_in(name, lib.login(name, password))
    photos = app.page.pages["Photos"]
    photos.grid.load_more(); photos.grid.load_more()
    steps.append(("signed in, 144 tiles", mem()))
    photos._open(0); app.viewer.step(1); app.viewer.step(1); app.viewer.hide()
    steps.append(("viewer opened", mem()))
    heavy = sys.argv[5].split(",")
    def loaded():
        return sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
    seen = {"timeline and viewer": loaded()}
    for section in ("People", "Places", "Albums", "Photos"):
        app.page.goto(section)
        seen[section] = loaded()
    app.page.search.value = "beach"
    seen["search"] = loaded()
    steps.append(("every section, a search", mem()))
roots = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"steps": steps, "modules": roots, "heavy_by_step": seen if not floor else {}}))
"""


def kernel(a: argparse.Namespace) -> None:
    """The gallery path in one process (what a kernel runs, without ipykernel): memory after each step, heavy
    packages it imported; and the floor: the memory of the packages any kernel of the gallery needs."""
    work = Path(a.work)
    lib_dir = build_library(work, a.photos, max(1, a.viewers))
    commit = None if a.commit[0] in (None, ".") else a.commit[0]
    source = checkout(commit, work) if commit else REPO
    env = {**os.environ, "WORKBENCH_LIBRARY": str(lib_dir),
           "PYTHONPATH": os.pathsep.join([str(source), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for mode in ("gallery", "floor"):
        r = subprocess.run([sys.executable, "-c", KERNEL_PROFILE, str(lib_dir), viewer_name(1), PASSWORD, mode,
                            ",".join(HEAVY)],
                           capture_output=True, text=True, env=env, cwd=source)
        if r.returncode:
            raise RuntimeError(r.stderr[-3000:])
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{mode}:")
        for step, m in d["steps"]:
            print(f"  {step:<24} RSS {m['rss_mb']:7.1f} MB  USS {m['uss_mb']:7.1f} MB  PSS {m['pss_mb']:7.1f} MB")
        if mode == "gallery":
            for step, found in d["heavy_by_step"].items():
                print(f"  heavy packages imported after {step}: {', '.join(found) or 'none'}")
            print("  top-level packages:", len(d["modules"]))
    imports = ("from workbench.gallery.app import Gallery; from workbench.library import Library; "
               "import workbench.gallery.shell, workbench.gallery.photos, workbench.gallery.albums, "
               "workbench.gallery.people, workbench.gallery.places, workbench.gallery.share")
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", imports], capture_output=True, text=True,
                       env=env, cwd=source)
    per_root: dict[str, int] = {}
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| +(\S+)", line)
        if m:
            per_root[m.group(2).split(".")[0]] = per_root.get(m.group(2).split(".")[0], 0) + int(m.group(1))
    top = sorted(per_root.items(), key=lambda kv: -kv[1])[:12]
    print("import time of the gallery modules by package (ms):", ", ".join(f"{k} {v / 1000:.0f}" for k, v in top))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "kernel"):
        p = sub.add_parser(name)
        p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "workbench-gallery-load"),
                       help="where the generated library is kept (reused across runs)")
        p.add_argument("--photos", type=int, default=300)
        p.add_argument("--viewers", type=int, default=40, help="viewer accounts (and viewers at once)")
    for p in sub.choices.values():
        p.add_argument("--commit", nargs="+", default=[None],
                       help="run the gallery of this commit (a `git archive` copy under --work), e.g. the last one "
                            "before cookie sign-in; '.' or none: this checkout. Several: each is a variant, "
                            "alternating within every round (``--commit <before> .`` measures a change against "
                            "its baseline in one run)")
    r = sub.choices["run"]
    r.add_argument("--viewers-now", type=int, default=None, help="viewers at once (default: --viewers)")
    r.add_argument("--anonymous", type=int, default=500)
    r.add_argument("--concurrency", type=int, default=20)
    r.add_argument("--preheat", type=int, nargs="+", default=[0, 8])
    r.add_argument("--fork", nargs="+", choices=["on", "off", "default"], default=["default"],
                   help="gallery_kernel_fork for each variant: kernels forked from the warm fork server (on) or "
                        "started anew (off); default: the library's setting")
    r.add_argument("--screen", nargs="+", choices=["voila", "html"], default=["voila"],
                   help="what signed-in viewers load: the Voilà page with its kernel (voila) or the plain first "
                        "screen, /timeline, with no kernel (html); both alternate in one run")
    r.add_argument("--inline", nargs="+", choices=["on", "off", "default"], default=["default"],
                   help="gallery_first_screen_inline for the html screen: thumbnails in the page and its JSON (on) "
                        "or one signed link each (off); default: the library's setting")
    r.add_argument("--rounds", type=int, default=1, help="repeat the variants in alternating rounds")
    r.add_argument("--server", choices=["cookie", "legacy"], default="cookie",
                   help="cookie: sign-in by POST /login (the current server); legacy: sign-in in the page")
    r.add_argument("--anon-max-added-mb", type=float, default=4000.0,
                   help="stop the anonymous loads once the server grew by this much (legacy servers)")
    r.add_argument("--arrival-s", type=float, default=0.0,
                   help="viewers arrive evenly spread over this many seconds (default 0: all at once)")
    r.add_argument("--timeout", type=float, default=120.0, help="seconds a viewer waits for any one step")
    r.add_argument("--json", help="write every figure to this file too")
    a = ap.parse_args()
    if a.cmd == "run" and a.viewers_now is None:
        a.viewers_now = a.viewers
    (run if a.cmd == "run" else kernel)(a)


if __name__ == "__main__":
    main()
