"""Browser tests as a person uses the apps: Debian's Chromium driven by Playwright, against real servers.

``served(...)`` runs ``workbench dashboards`` (the real command) on a library; ``open_page`` loads a page and
collects console errors and failed requests; ``screenshot`` saves an artifact under ``$WORKBENCH_ARTIFACTS``
(default ``test-artifacts/`` in the repository, git-ignored).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google, and this network refuses it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(os.environ.get("WORKBENCH_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


def run_in_own_loop(coro):
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop running in the test thread
    once the session's browser has started, and asyncio.run refuses to nest."""
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout_s: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status < 500:
                    return
        except Exception:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


@contextlib.contextmanager
def served(library_root: Path, names: list[str] | None = None, log_path: Path | None = None) -> Iterator[str]:
    """Serve dashboards with ``workbench dashboards`` and yield the base URL; the server stops afterwards."""
    port = free_port()
    log_path = log_path or library_root.parent / f"dashboards-{port}.log"
    cmd = [sys.executable, "-m", "workbench", "--library", str(library_root), "dashboards", *(names or []),
           "--port", str(port), "--no-show"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            # A first page renders the dashboard (imports, a library read): minutes on a machine as loaded as CI's.
            wait_for_http(f"{base}/{names[0]}" if names and len(names) == 1 else base, proc=proc, timeout_s=240)
            yield base
        finally:
            # The whole session: `workbench dashboards` and the `panel serve` it started (terminating only the
            # former left every server running, orphaned).
            stop_group(proc)


def stop_group(proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """Stop a process started with ``start_new_session=True`` and every process of its session."""
    import signal
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class PageWatch:
    """A page plus what went wrong on it: console errors and failed requests."""

    def __init__(self, page):
        self.page = page
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed_requests.append(r.url))

    @property
    def problems(self) -> list[str]:
        return self.console_errors + [f"request failed: {u}" for u in self.failed_requests]


def open_page(browser, url: str, *, width: int = 1400, height: int = 900) -> PageWatch:
    """A fresh page (own context) at url, waited until Bokeh has rendered the document."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    watch = PageWatch(ctx.new_page())
    watch.page.goto(url, wait_until="networkidle", timeout=120_000)
    watch.page.wait_for_function("() => window.Bokeh && Bokeh.documents && Bokeh.documents.length > 0",
                                 timeout=60_000)
    return watch


def settle(page, ms: int = 800) -> None:
    """Let a server round trip finish (Panel updates arrive over the websocket)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(ms)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; docs/ links the committed copies."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # Templates scroll inside their own container, so "full page" alone stops at the viewport: grow the viewport
    # to the tallest scrolled content (capped) for the shot, then put it back.
    size = page.viewport_size
    tallest = page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...Array.from(document.querySelectorAll('*')).filter(e => e.scrollHeight > e.clientHeight + 4 &&
            ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)).map(e => e.scrollHeight + e.getBoundingClientRect().top))""")
    if size and tallest > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(min(tallest, 4000))})
        page.wait_for_timeout(300)
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if size:
            page.set_viewport_size(size)
    return path


@contextlib.contextmanager
def served_gallery(library_root: Path, log_path: Path | None = None,
                   extra_args: tuple[str, ...] = ()) -> Iterator[tuple[str, Path]]:
    """Serve the gallery with ``workbench gallery`` (the real command); yields (base URL, server log path)."""
    port = free_port()
    log_path = log_path or library_root.parent / f"gallery-{port}.log"
    cmd = [sys.executable, "-m", "workbench", "--library", str(library_root), "gallery", "--port", str(port),
           "--no-show", *extra_args]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/voila/static/voila.js", proc=proc)   # a static file: starts no kernel
            yield base, log_path
        finally:
            stop_group(proc, timeout_s=20)


def open_gallery(browser, url: str, ready: str = ".wb-app", *, width: int = 1400, height: int = 900) -> PageWatch:
    """A fresh page (own context: own cookies, like another person) at a gallery URL, waited until the app's
    ``ready`` selector is visible (Voilà runs the notebook in a new kernel first)."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    watch = PageWatch(ctx.new_page())
    watch.page.goto(url, timeout=120_000)
    watch.page.wait_for_selector(ready, state="visible", timeout=120_000)
    return watch


def wait_for(cond: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``cond`` until it returns something true; fail naming ``what`` after ``timeout_s``."""
    import pytest
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)
