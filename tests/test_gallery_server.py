"""The gallery server as a signed-in visitor's browser console meets it: the real `workbench gallery` command,
plain HTTP and websockets.

A signed-in page's kernel websocket is open to its visitor; these tests send it what a browser console could,
and check that no code runs, no output leaks, and no notebook source or file is served. (What strangers, other
users and malformed frames meet is in ``test_gallery_attacks.py``.)
"""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from browser import served_gallery
from gallery_client import Visitor, execute, message

MARK = "from workbench.gallery.app import Gallery"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_server")
    lib = Library.open(root / "library", create=True)
    lib.add_user("ann", "ann-password", "viewer")
    lib.settings.gallery_kernels_per_user = 50    # every test opens pages as ann (the cap: test_gallery_attacks)
    lib.settings.save(root / "library")
    with served_gallery(root / "library") as (base, log):
        yield base, log, root


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def signed_in(base: str) -> Visitor:
    v = Visitor(base)
    assert v.sign_in("ann", "ann-password").status_code == 302
    return v


def kernel_of_page(base: str) -> tuple[Visitor, str, str]:
    """Sign in and load the page as a browser does (this starts its kernel); (visitor, kernel id, page HTML)."""
    v = signed_in(base)
    r, kid = v.page()
    assert r.status_code == 200 and kid
    return v, kid, r.text


def test_the_browser_cannot_run_code_in_the_gallery_kernel(server, tmp_path):
    base, log, _ = server
    v, kid, _ = kernel_of_page(base)
    marker = tmp_path / "pwned.txt"
    got = v.talk(kid, [message("kernel_info_request", {}), execute(f"open({str(marker)!r}, 'w').write('x')")])
    # The channel is live: an allowed request was answered by the kernel ...
    assert "kernel_info_reply" in [m["msg_type"] for m in got]
    # ... but the code did not run, nothing acknowledged it, and the guard says it dropped it.
    assert not marker.exists()
    assert "execute_reply" not in [m["msg_type"] for m in got]
    assert "gallery guard: dropped a execute_request on shell message" in log.read_text()


def test_the_guard_also_drops_code_sent_on_other_channels(server, tmp_path):
    base, log, _ = server
    v, kid, _ = kernel_of_page(base)
    m2 = tmp_path / "control.txt"
    v.talk(kid, [{**execute(f"open({str(m2)!r}, 'w').write('x')"), "channel": "control"},
                 message("shutdown_request", {"restart": False}, "control")], listen_s=3)
    assert not m2.exists()
    text = log.read_text()
    assert "dropped a execute_request on control" in text
    assert "dropped a shutdown_request on control" in text
    assert signed_in(base).page()[0].status_code == 200   # the server (and new kernels) still work


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
    v, kid, _ = kernel_of_page(base)
    # comm_info_request is what the widget manager sends first; the replayed buffer of the notebook's run
    # (its execute_result, stream output) must not come back.
    got = v.talk(kid, [message("comm_info_request", {"target_name": "jupyter.widget"})])
    types = {m["msg_type"] for m in got}
    assert "comm_info_reply" in types
    assert types <= ALLOWED_OUTGOING
    assert not any("Traceback" in m.get("raw", "") for m in got)


def test_the_page_carries_no_notebook_source(server):
    base, _, _ = server
    _, _, html = kernel_of_page(base)
    assert "wb-app" in html or "application/vnd.jupyter.widget-view+json" in html
    assert MARK not in html and "Gallery.from_environment" not in html


@pytest.mark.parametrize("path", ["/voila/files/gallery.ipynb", "/gallery.ipynb", "/voila/tree", "/voila/tree/",
                                  "/api/contents", "/voila/api/contents/", "/voila/render/gallery.ipynb",
                                  "/voila/files/../workbench/gallery/app.py", "/api/kernels"])
def test_no_file_tree_or_source_is_served(server, path):
    base, _, _ = server
    r = signed_in(base).get(path)
    assert r.status_code in (403, 404)
    assert MARK not in r.text and "gallery.ipynb" not in r.text.replace(path, "")
    stranger = Visitor(base).get(path, allow_redirects=False)     # no kernel, no file: at most the sign-in page
    assert stranger.status_code in (302, 403, 404) and MARK not in stranger.text


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
    r, _ = signed_in(base).page("?template=lab")
    status, html = r.status_code, r.text
    assert status == 200
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html    # the stock lab template's CDN links
    assert MARK not in html
