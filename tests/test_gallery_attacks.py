"""Issue 15's attacks, replayed against the real `workbench gallery`: each test is one finding as an attacker
performed it (a stranger, a signed-in viewer, another user, a share-link visitor), and what must happen instead.

1. one malformed websocket frame froze the server          -> the frame closes that connection only
2. a legacy-protocol client froze it through a binary reply -> only the v1 protocol is spoken
3. every anonymous GET started a kernel                     -> strangers get the sign-in page and no kernel
4. sign-out left the user's widgets alive                  -> sign-out shuts the kernel down
5. throttles raced across kernels                          -> one judgement at a time, per account and client
6. media links outlived access                              -> links are bound to the visit and re-checked
7. (album member names: tests/test_access_*.py)
8. any Host header was accepted                             -> an allow-list
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import struct
import time
from pathlib import Path

import psutil
import pytest

from browser import served_gallery
from factory import jpeg
from gallery_client import kernels_of, server_pid, Visitor, message, request_states

pytestmark = pytest.mark.slow

PASSWORD = {"ann": "ann-password", "bob": "bob-password", "cat": "cat-password",   # cat: guessed at
            "dan": "dan-password"}                                                  # dan: behind a proxy


def build(root: Path, **settings) -> Path:
    from workbench.library import Library
    from workbench.settings import Settings
    lib = Library.open(root / "library", create=True)
    lib.import_files([jpeg(root / "ann" / f"a{i}.jpg", seed=i) for i in range(2)], owner="ann")
    lib.import_files([jpeg(root / "bob" / "b0.jpg", seed=9)], owner="bob")
    lib.process(["thumbnails"])
    for name, pw in PASSWORD.items():
        lib.add_user(name, pw, "viewer")
    s = Settings.load(root / "library")
    for k, v in settings.items():
        setattr(s, k, v)
    s.save(root / "library")
    return root / "library"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery_attacks")
    library = build(root, gallery_kernels_per_user=20, login_max_failures=5,
                    gallery_trusted_proxies=["127.0.0.1"])     # as if a reverse proxy on this machine
    with served_gallery(library) as (base, log):
        yield base, log, library


def signed_in(base: str, name: str = "ann") -> Visitor:
    v = Visitor(base)
    assert v.sign_in(name, PASSWORD[name]).status_code == 302
    return v


def answers_quickly(base: str, within_s: float = 3.0) -> bool:
    t = time.monotonic()
    r = Visitor(base).get("/login", timeout=within_s)
    return r.status_code == 200 and time.monotonic() - t < within_s


# -- 3. strangers get no kernel ----------------------------------------------------------------------------------

def test_a_stranger_gets_the_sign_in_page_and_no_kernel(server):
    base, log, _ = server
    pid = server_pid(log)
    before = len(kernels_of(pid))
    for _ in range(25):
        r = Visitor(base).get("/app", allow_redirects=False)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login")
        assert "kernelId" not in r.text
    page = Visitor(base).get("/")      # the landing: the timeline, which sends a stranger on to sign in
    assert page.status_code == 200 and "Sign in" in page.text and "kernelId" not in page.text
    assert len(kernels_of(pid)) == before


def test_the_sign_in_cookie_is_httponly_and_same_site_strict(server):
    base, _, _ = server
    r = Visitor(base).sign_in("ann", PASSWORD["ann"])
    cookie = r.headers["Set-Cookie"]
    assert "wb_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_wrong_password_says_the_same_for_unknown_names(server):
    base, _, _ = server
    a = Visitor(base).sign_in("ann", "not-her-password")
    b = Visitor(base).sign_in("nobody-by-this-name", "whatever-pass")
    assert a.status_code == b.status_code == 401
    assert "Wrong user name or password" in a.text and "Wrong user name or password" in b.text
    assert "wb_session" not in a.headers.get("Set-Cookie", "")


def test_sign_in_never_redirects_to_another_site(server):
    base, _, _ = server
    v = Visitor(base)
    r = v.post("/login", {"name": "ann", "password": PASSWORD["ann"], "next": "https://evil.example/x"},
               allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    r = v.post("/login", {"name": "ann", "password": PASSWORD["ann"], "next": "//evil.example/x"},
               allow_redirects=False)
    assert r.headers["Location"] == "/"


def test_sign_in_without_the_xsrf_token_is_refused(server):
    base, _, _ = server
    v = Visitor(base)
    r = v.http.post(base + "/login", data={"name": "ann", "password": PASSWORD["ann"]}, allow_redirects=False)
    assert r.status_code == 403 and "wb_session" not in r.headers.get("Set-Cookie", "")


# -- kernels belong to their visitor -----------------------------------------------------------------------------

def test_another_user_cannot_reach_a_kernel_by_its_id(server):
    from tornado.httpclient import HTTPClientError
    base, _, _ = server
    ann = signed_in(base, "ann")
    _, kid = ann.page()
    bob, stranger = signed_in(base, "bob"), Visitor(base)
    for v in (bob, stranger):
        with pytest.raises(HTTPClientError) as e:
            v.talk(kid, [message("kernel_info_request", {})], listen_s=2)
        assert e.value.code in (302, 403)
        assert v.get(f"/api/kernels/{kid}", allow_redirects=False).status_code in (302, 403)
        r = v.post(f"/voila/api/shutdown/{kid}", {}, allow_redirects=False)
        assert r.status_code in (302, 403)
    # ... while its owner still talks to it
    assert "kernel_info_reply" in [m["msg_type"] for m in ann.talk(kid, [message("kernel_info_request", {})],
                                                                     until="kernel_info_reply")]


def test_a_closed_tabs_beacon_shuts_its_kernel_down(server):
    """Voilà's page posts to /voila/api/shutdown/<kernel> with the _xsrf cookie's value when the tab closes; it
    used to get 403 (no _xsrf cookie was ever set), leaving the kernel for ten minutes."""
    base, log, _ = server
    pid = server_pid(log)
    ann = signed_in(base)
    r, kid = ann.page()
    assert r.status_code == 200 and ann.http.cookies.get("_xsrf")
    n = len(kernels_of(pid))
    assert ann.post(f"/voila/api/shutdown/{kid}", {}).status_code == 204
    deadline = time.monotonic() + 20
    while len(kernels_of(pid)) >= n and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(kernels_of(pid)) == n - 1


# -- 4. sign-out ----------------------------------------------------------------------------------------------------

def test_sign_out_shuts_the_kernel_down_with_everything_it_showed(server):
    from tornado.httpclient import HTTPClientError
    base, _, _ = server
    ann = signed_in(base)
    _, kid = ann.page()
    # The attack: after sign-out, ask the same page's kernel for its widgets' state (her thumbnails, names, links).
    states = ann.talk(kid, request_states("c1"), until="comm_msg", listen_s=20)
    assert any(m["msg_type"] == "comm_msg" for m in states)    # before: she sees her page
    r = ann.sign_out()
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    with pytest.raises(HTTPClientError):
        ann.talk(kid, request_states("c1"), listen_s=3)
    assert ann.get("/app", allow_redirects=False).status_code == 302   # and no new page without signing in
    assert ann.get("/timeline", allow_redirects=False).status_code == 302


# -- 1 and 2. frames --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frame", [
    struct.pack("<Q", 2**40),                                   # the finding: a trillion offsets
    struct.pack("<Q", 7) + struct.pack("<Q", 64) + b"\0" * 40,   # offsets past the frame's end
    struct.pack("<QQQQQQQ", 6, 56, 60, 58, 70, 80, 90) + b"x" * 40,   # offsets going backwards
    b"\xff" * 7,                                                 # shorter than its own count
], ids=["huge-count", "past-end", "backwards", "short"])
def test_a_malformed_frame_closes_that_connection_only(server, frame):
    base, log, _ = server
    pid = server_pid(log)
    rss_before = psutil.Process(pid).memory_info().rss
    ann = signed_in(base)
    _, kid = ann.page()
    got = ann.talk(kid, [], raw=[frame], listen_s=10, until="<closed>")
    assert got and got[-1]["msg_type"] == "<closed>"
    assert answers_quickly(base)
    assert psutil.Process(pid).memory_info().rss - rss_before < 100 * 2**20
    assert "closed a websocket that sent a malformed frame" in log.read_text()
    # The same visitor's next connection to the same kernel works.
    assert "kernel_info_reply" in [m["msg_type"] for m in ann.talk(kid, [message("kernel_info_request", {})],
                                                                     until="kernel_info_reply")]


def test_a_legacy_protocol_client_is_refused_at_the_handshake(server):
    from tornado.httpclient import HTTPClientError
    base, _, _ = server
    ann = signed_in(base)
    _, kid = ann.page()
    with pytest.raises(HTTPClientError) as e:
        ann.talk(kid, [message("kernel_info_request", {})], v1=False, listen_s=2)
    assert e.value.code == 400
    assert answers_quickly(base)


def test_binary_widget_state_reaches_a_v1_client_and_the_server_keeps_answering(server):
    """The legacy-client freeze came from the kernel's binary reply to request_states; in v1 it is parsed with
    checked offsets and arrives whole."""
    base, _, _ = server
    ann = signed_in(base)
    _, kid = ann.page()
    got = ann.talk(kid, request_states("c2"), until="comm_msg", listen_s=30)
    replies = [m for m in got if m["msg_type"] == "comm_msg"]
    assert replies and replies[0]["content"]["data"]["method"] == "update_states"
    assert replies[0]["buffers"]    # thumbnails travel as binary buffers
    assert answers_quickly(base)


# -- 5. throttling ------------------------------------------------------------------------------------------------

def test_simultaneous_guesses_are_judged_one_at_a_time(server):
    """8 sign-ins with wrong passwords at once: at most login_max_failures (5) are judged; the rest are told to
    wait, and the owner (from another address: here the lock is per address) is not locked out by them."""
    base, _, _ = server

    def guess(i: int) -> str:
        return Visitor(base).sign_in("cat", f"wrong-guess-{i}").text

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(guess, range(8)))
    judged = sum("Wrong user name or password" in a for a in answers)
    assert judged <= 5
    assert sum("too many failed attempts" in a.lower() for a in answers) >= 3


def sign_in_via(base: str, password: str, forwarded_for: str):
    """A sign-in as dan that arrives through a proxy which says it came from ``forwarded_for``."""
    return Visitor(base).post("/login", {"name": "dan", "password": password, "next": "/"},
                              headers={"X-Forwarded-For": forwarded_for}, allow_redirects=False)


def test_behind_a_trusted_proxy_each_visitor_is_counted_by_their_own_address(server):
    """Behind a reverse proxy everyone arrives from the proxy's address: counted by it, a stranger's wrong guesses
    would lock the owner out too. The proxy's X-Forwarded-For names the visitor (an address the visitor adds in
    front of it is ignored)."""
    base, _, _ = server
    stranger = "198.51.100.7, 203.0.113.5"       # the first hop is the stranger's own invention
    for i in range(5):
        assert "Wrong user name or password" in sign_in_via(base, f"guess-{i}", stranger).text
    assert "too many failed attempts" in sign_in_via(base, "guess-5", stranger).text.lower()
    assert "too many failed attempts" in sign_in_via(base, PASSWORD["dan"], stranger).text.lower()
    assert sign_in_via(base, PASSWORD["dan"], "203.0.113.6").status_code == 302    # the owner, elsewhere


def test_without_a_trusted_proxy_forwarded_addresses_are_ignored(tight):
    """A visitor cannot dodge the per-address count by naming another address in a header."""
    base, _, _ = tight
    for i in range(5):
        sign_in_via(base, f"guess-{i}", f"203.0.113.{10 + i}")
    assert "too many failed attempts" in sign_in_via(base, PASSWORD["dan"], "203.0.113.99").text.lower()


# -- 6. media links -------------------------------------------------------------------------------------------------

def kernel_secret(log: Path) -> str:
    """The signing secret a gallery kernel was given (what its viewer signs media links with)."""
    from workbench.gallery.links import SECRET_ENV
    for k in kernels_of(server_pid(log)):
        env = k.environ()
        if env.get(SECRET_ENV):
            return env[SECRET_ENV]
    raise AssertionError("no kernel with a secret")


def link_for(v: Visitor, log: Path, media_id: str) -> str:
    """The download link the kernel of ``v``'s page signs when it opens ``media_id`` (same secret, same actor)."""
    from workbench.gallery import links
    actor = "session:" + hashlib.sha256(v.http.cookies["wb_session"].encode()).hexdigest()
    return "/" + links.ROUTE + "/" + links.sign(kernel_secret(log), media_id, download=True, actor=actor)


def test_media_links_work_for_their_visitor_only_and_die_at_sign_out(server):
    from workbench.library import Library
    base, log, library = server
    ann = signed_in(base)
    ann.page()
    mine = [r["id"] for r in Library.open(library).media().to_dict("records") if r["owner"] == "ann"][0]
    url = link_for(ann, log, mine)
    whole = ann.get(url)
    assert whole.status_code == 200
    lib = Library.open(library)
    assert whole.content == lib.original_path(mine).read_bytes()
    # Read by ranges from the library's storage, as a video plays: exact bytes, the content hash as the ETag.
    part = ann.get(url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206 and part.content == whole.content[100:1124]
    assert part.headers["Content-Range"] == f"bytes 100-1123/{len(whole.content)}"
    assert part.headers["ETag"].strip('"').startswith(mine)   # the sha256 the id abbreviates
    assert Visitor(base).get(url).status_code == 403                 # copied out of the page: nobody else
    assert signed_in(base, "bob").get(url).status_code == 403
    ann.sign_out()
    assert ann.get(url).status_code == 403                             # sign-out takes effect at once


def test_media_links_die_when_the_media_is_trashed(server):
    from workbench.library import Library
    base, log, library = server
    ann = signed_in(base)
    ann.page()
    lib = Library.open(library)
    mine = [r["id"] for r in lib.media().to_dict("records") if r["owner"] == "ann"][-1]
    url = link_for(ann, log, mine)
    assert ann.get(url).status_code == 200
    lib.trash([mine])
    try:
        assert ann.get(url).status_code == 403
    finally:
        lib.restore([mine])


def test_share_links_media_die_when_the_link_is_revoked(server):
    from workbench.gallery import links
    from workbench.library import Library
    base, log, library = server
    lib = Library.open(library)
    mine = [r["id"] for r in lib.media().to_dict("records") if r["owner"] == "ann"]
    album = lib.for_user("ann").create_album("trip")
    lib.for_user("ann").add_to_album(album, mine[:1])
    token = lib.for_user("ann").share_album(album)
    guest = Visitor(base)
    r, kid = guest.page("?share=" + token)
    assert r.status_code == 200 and kid
    share_id = lib.share_link_status(token)["share_id"]
    url = "/" + links.ROUTE + "/" + links.sign(kernel_secret(log), mine[0], actor=f"share:{share_id}")
    assert guest.get(url).status_code == 200
    other = "/" + links.ROUTE + "/" + links.sign(kernel_secret(log), mine[1], actor=f"share:{share_id}")
    assert guest.get(other).status_code == 403       # not in the album: a ticket cannot widen the link
    lib.revoke_share(share_id)
    assert guest.get(url).status_code == 403
    assert guest.page("?share=" + token)[0].status_code == 403     # and the page is the denial, no kernel


# -- 8. Host header -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:8866", "127.0.0.1.evil.example"])
def test_requests_for_another_host_name_are_refused(server, host):
    base, _, _ = server
    for path in ("/login", "/", "/app", "/timeline", "/voila/static/voila.js"):
        r = Visitor(base).get(path, headers={"Host": host}, allow_redirects=False)
        assert r.status_code == 400, path
    assert Visitor(base).get("/login", headers={"Host": "localhost:1234"}).status_code == 200


# -- kernel budget (its own small server: caps of 2 per person, 3 in all, with a preheated pool) --------------

@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery_budget")
    library = build(root, gallery_kernels_per_user=2, gallery_max_kernels=3)
    with served_gallery(library, extra_args=("--preheat", "1")) as (base, log):
        yield base, log, library


def test_past_the_per_user_cap_a_visitor_gets_the_busy_page(tight):
    base, _, _ = tight
    ann = signed_in(base)
    assert ann.page()[1] and ann.page()[1]
    r, kid = ann.page()
    assert r.status_code == 503 and kid is None and "Busy, try again" in r.text
    assert r.headers.get("Retry-After")
    # others still get pages until the total cap
    bob = signed_in(base, "bob")
    assert bob.page()[1]
    r, kid = bob.page()
    assert r.status_code == 503 and "busy" in r.text.lower()


def test_a_preheated_kernel_acts_for_the_visitor_the_server_names(tight):
    """The pool kernel learns whom it serves from the server (over /voila/query, with a key only kernels have)."""
    base, _, _ = tight
    r = Visitor(base).get("/voila/query/00000000-0000-0000-0000-000000000000", allow_redirects=False)
    assert r.status_code in (400, 403)    # a stranger cannot listen for a pool kernel's visitor
