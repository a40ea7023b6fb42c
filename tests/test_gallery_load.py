"""The gallery under a small load, as the load benchmark drives it (benchmarks/gallery_load.py, whose client this
reuses): the real `workbench gallery`, plain HTTP and the kernel websocket in the v1 protocol.

Anonymous visitors get the sign-in page and never a kernel; several signed-in viewers at once each get a ready
page (the widget state with their photo tiles) and can scroll and open a photo; a viewer's kernel loads none of
the heavy processing libraries. Kernels are forks of the server's warm fork server, each running with the
environment (whom it acts for) the server gave it. How fast and how much memory is measured in the benchmark,
not here.
"""
from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import psutil
import pytest

from browser import run_in_own_loop

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("gallery_load", REPO / "benchmarks" / "gallery_load.py")
load = sys.modules.setdefault("gallery_load", importlib.util.module_from_spec(SPEC))
SPEC.loader.exec_module(load)

VIEWERS = 4
PHOTOS = 60     # more than one chunk of tiles (48), so "Load more" has something to load


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("gallery_load")
    lib_dir = load.build_library(work, PHOTOS, VIEWERS)
    with load.served(lib_dir, 0, work) as server:
        yield server


def children(server) -> int:
    """Processes the server has started (kernels and anything else), but for the uploads' probing worker and its
    fork server, which the server starts for itself in the background when it starts (``Uploads.warm_up``)."""
    def probing(p) -> bool:
        try:
            return "multiprocessing.forkserver" in " ".join(p.cmdline())
        except psutil.Error:
            return True
    return len([p for p in server.processes()[1:] if not probing(p)])


def test_anonymous_page_loads_get_the_sign_in_page_and_start_no_kernel(server):
    before = children(server)

    async def visit():
        async def one():
            b = load.Browser(server.base)
            first = await b.get("/app", follow=False)      # the page that starts kernels
            final = await b.get("/")                        # the landing, on to the sign-in page
            return first, final
        return await asyncio.gather(*(one() for _ in range(8)))

    for first, final in run_in_own_loop(visit()):
        assert first.code == 302 and "/login" in first.headers["Location"]
        assert final.code == 200 and re.search(rb"""name=["']password["']""", final.body)    # the sign-in form
        assert load.kernel_id_of(final.body.decode()) is None
    time.sleep(2.0)      # a kernel would be a child process by now
    assert server.kernels() == []
    assert children(server) == before


def test_signed_in_viewers_at_once_each_get_a_ready_page_and_open_photos(server):
    with load.probing(server.base + "/login") as probe:
        results = run_in_own_loop(load.signed_in_viewers(server, VIEWERS, legacy=False, timeout_s=50))
    answered = load.probe_summary(probe)
    assert results["errors"] == []
    assert results["ready"] == VIEWERS
    assert results["statuses"] == {"200": VIEWERS}
    # Each had its photo tiles (a first chunk, then "Load more" added the rest) and opened a photo and walked on.
    assert results["tiles_p50"] == PHOTOS
    assert set(results["actions_p50_s"]) == {"load_more_1", "load_more_2", "open", "next_1", "next_2", "close"}
    # One kernel per viewer, and the server answered a plain page throughout.
    assert results["during"]["kernels"] == VIEWERS
    assert answered["answered"] == answered["asked"] > 0


def test_a_viewers_kernel_loads_none_of_the_processing_libraries(server):
    """torch and open_clip alone would add ~250 MB to every viewer's kernel; a search in a library without CLIP
    vectors must not load them."""
    async def one_viewer():
        b = load.Browser(server.base)
        await load.sign_in_cookie(b, load.viewer_name(1))
        r = await b.get(server.app_path)
        ks = await load.KernelSocket.connect(b, load.kernel_id_of(r.body.decode()))
        try:
            await ks.request_states(50)
            await ks.until("wb-open", 50)
            await ks.click(ks.find("wb-open")[0], 50)      # the viewer: preview, metadata, media link
            await ks.click(ks.find("wb-close")[0], 50)
            await ks.set_value(ks.find("wb-search")[0], "img_0001", 50)   # a search (no CLIP vectors here)
            return len(ks.find("wb-open"))
        finally:
            await ks.close()

    assert run_in_own_loop(one_viewer()) > 0
    kernels = server.kernels()
    assert kernels
    assert load.heavy_libraries(kernels) == []


def test_viewers_kernels_are_forks_of_the_servers_warm_fork_server(server):
    """Kernels are forked from one process that imported numpy, pandas, lancedb, ipykernel and the gallery once
    (workbench/gallery/forkserver.py), instead of each importing them anew."""
    kernels = server.kernels()
    assert kernels
    fork_servers = [p for p in server.processes()[1:] if load.FORK_SERVER in p.cmdline()
                    and p.ppid() == server.proc.pid]
    assert len(fork_servers) == 1
    assert {k.ppid() for k in kernels} == {fork_servers[0].pid}


def test_a_forked_kernel_runs_with_the_environment_the_server_gave_it_and_is_gone_after_shutdown(tmp_path):
    """The fork server holds no visitor: whom a kernel acts for comes with each fork request, from the server's
    page handler, and a kernel that is shut down leaves no process behind."""
    from jupyter_client.kernelspec import KernelSpecManager

    from workbench.gallery.forkserver import FORK_SERVER, ForkedKernelManager, ForkProvisioner, ForkServerError

    async def scenario():
        km = ForkedKernelManager(kernel_spec_manager=KernelSpecManager(), connection_file=str(tmp_path / "k.json"))
        await km.start_kernel(env={**os.environ, "HTTP_X_WORKBENCH_ACTOR": "session:abc"})
        assert isinstance(km.provisioner, ForkProvisioner)
        kernel = psutil.Process(km.provisioner.pid)
        assert kernel.ppid() == FORK_SERVER.proc.pid
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            seen: list[str] = []
            await kc.execute_interactive("import os, sys; print(os.environ['HTTP_X_WORKBENCH_ACTOR'], "
                                         "'lancedb' in sys.modules)", timeout=60,
                                         output_hook=lambda m: seen.append(m["content"].get("text", "")))
            assert "".join(seen).split() == ["session:abc", "True"]     # imported before the fork
        finally:
            kc.stop_channels()
        await km.shutdown_kernel()
        deadline = time.monotonic() + 10
        while psutil.pid_exists(kernel.pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not psutil.pid_exists(kernel.pid)       # exited and reaped: not even a zombie is left

    FORK_SERVER.start()
    try:
        run_in_own_loop(scenario())
        # It forks ipykernel and nothing else.
        with pytest.raises(ForkServerError, match="only ipykernel"):
            FORK_SERVER.fork([sys.executable, "-c", "print('hello')", "x", "y"], {}, str(tmp_path))
    finally:
        FORK_SERVER.stop()
