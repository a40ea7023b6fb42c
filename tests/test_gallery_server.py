"""The gallery server as an attacker meets it: the real `workbench gallery` command, plain HTTP and websockets.

The page's kernel websocket is open to whoever loads the page; these tests send it what a browser console could,
and check that no code runs, no output leaks, and no notebook source or file is served.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
import uuid

import pytest

from browser import run_in_own_loop, served_gallery

MARK = "from workbench.gallery.app import Gallery"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_server")
    Library.open(root / "library", create=True)
    with served_gallery(root / "library") as (base, log):
        yield base, log, root


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def kernel_of_page(base: str) -> tuple[str, str]:
    """Load the page as a browser does (this starts its kernel); return (kernel id, page HTML)."""
    status, html = get(f"{base}/")
    assert status == 200
    return re.search(r'"kernelId": "([0-9a-f-]+)"', html).group(1), html


def message(msg_type: str, content: dict, channel: str = "shell") -> dict:
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "attacker", "session": "s",
                       "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": []}


def execute(code: str) -> dict:
    return message("execute_request", {"code": code, "silent": False, "store_history": False,
                                       "user_expressions": {}, "allow_stdin": False})


def v1_frame(msg: dict) -> bytes:
    """A message in the v1 binary websocket protocol (what JupyterLab-based frontends speak)."""
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
    pack = lambda o: json.dumps(o).encode()  # noqa: E731
    return serialize_msg_to_ws_v1(msg, msg["channel"], pack)


def talk(base: str, kernel_id: str, msgs: list, *, v1: bool = False, listen_s: float = 6.0) -> list[dict]:
    """Open the page's kernel websocket, send ``msgs``, and return every message received meanwhile."""
    from tornado.websocket import websocket_connect

    async def run() -> list[dict]:
        url = f"ws{base[4:]}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        ws = await websocket_connect(url, subprotocols=["v1.kernel.websocket.jupyter.org"] if v1 else None)
        for m in msgs:
            await ws.write_message(v1_frame(m) if v1 else json.dumps(m), binary=v1)
        got: list[dict] = []
        deadline = time.monotonic() + listen_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.read_message(), left)
            except asyncio.TimeoutError:
                break
            if raw is None:
                break
            if isinstance(raw, bytes):
                from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
                channel, parts = deserialize_msg_from_ws_v1(raw)
                got.append({"msg_type": json.loads(parts[0])["msg_type"], "channel": channel})
            else:
                d = json.loads(raw)
                got.append({"msg_type": d["header"]["msg_type"], "channel": d.get("channel"), "raw": raw})
        ws.close()
        return got

    return run_in_own_loop(run())


def test_the_browser_cannot_run_code_in_the_gallery_kernel(server, tmp_path):
    base, log, _ = server
    kid, _ = kernel_of_page(base)
    marker = tmp_path / "pwned.txt"
    got = talk(base, kid, [message("kernel_info_request", {}), execute(f"open({str(marker)!r}, 'w').write('x')")])
    # The channel is live: an allowed request was answered by the kernel ...
    assert "kernel_info_reply" in [m["msg_type"] for m in got]
    # ... but the code did not run, nothing acknowledged it, and the guard says it dropped it.
    assert not marker.exists()
    assert "execute_reply" not in [m["msg_type"] for m in got]
    assert "gallery guard: dropped a execute_request on shell message" in log.read_text()


def test_the_guard_also_drops_code_sent_in_the_binary_protocol_and_on_other_channels(server, tmp_path):
    base, log, _ = server
    kid, _ = kernel_of_page(base)
    m1, m2 = tmp_path / "v1.txt", tmp_path / "control.txt"
    talk(base, kid, [execute(f"open({str(m1)!r}, 'w').write('x')")], v1=True, listen_s=3)
    talk(base, kid, [{**execute(f"open({str(m2)!r}, 'w').write('x')"), "channel": "control"},
                     message("shutdown_request", {"restart": False}, "control")], listen_s=3)
    assert not m1.exists() and not m2.exists()
    text = log.read_text()
    assert "dropped a execute_request on control" in text
    assert "dropped a shutdown_request on control" in text
    assert get(f"{base}/")[0] == 200   # the server (and new kernels) still work


def test_the_same_message_runs_code_when_sent_to_an_unguarded_kernel(tmp_path):
    """Control: the execute_request above is a real one; sent straight to a kernel it does write the file."""
    from jupyter_client.manager import start_new_kernel
    marker = tmp_path / "ran.txt"
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive(f"open({str(marker)!r}, 'w').write('x')", timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert marker.read_text() == "x"


def test_only_widget_messages_reach_the_browser(server):
    from workbench.gallery.guard import ALLOWED_OUTGOING
    base, _, _ = server
    kid, _ = kernel_of_page(base)
    # comm_info_request is what the widget manager sends first; the replayed buffer of the notebook's run
    # (its execute_result, stream output) must not come back.
    got = talk(base, kid, [message("comm_info_request", {"target_name": "jupyter.widget"})])
    types = {m["msg_type"] for m in got}
    assert "comm_info_reply" in types
    assert types <= ALLOWED_OUTGOING
    assert not any("Traceback" in m.get("raw", "") for m in got)


def test_the_page_carries_no_notebook_source(server):
    base, _, _ = server
    _, html = kernel_of_page(base)
    assert "wb-app" in html or "application/vnd.jupyter.widget-view+json" in html
    assert MARK not in html and "Gallery.from_environment" not in html


@pytest.mark.parametrize("path", ["/voila/files/gallery.ipynb", "/gallery.ipynb", "/voila/tree", "/voila/tree/",
                                  "/api/contents", "/voila/api/contents/", "/voila/render/gallery.ipynb",
                                  "/voila/files/../workbench/gallery/app.py", "/api/kernels"])
def test_no_file_tree_or_source_is_served(server, path):
    base, _, _ = server
    status, body = get(base + path)
    assert status in (403, 404)
    assert MARK not in body and "gallery.ipynb" not in body.replace(path, "")


def test_media_links_need_the_servers_signature(server):
    from workbench.gallery import links
    base, _, _ = server
    forged = links.sign(links.new_secret(), "0123456789abcdef")
    for ticket in (forged, "abc.def", forged.split(".")[0] + ".x"):
        status, body = get(f"{base}/{links.ROUTE}/{ticket}")
        assert status == 403
        assert "Traceback" not in body


def test_a_template_asked_for_in_the_url_is_ignored(server):
    base, _, _ = server
    status, html = get(base + "/?template=lab")
    assert status == 200
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html    # the stock lab template's CDN links
    assert MARK not in html
