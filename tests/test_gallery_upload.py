"""Uploading through the gallery: the tus 1.0 endpoint of the real `workbench gallery` server, spoken as
tus-js-client speaks it (plain HTTP with the visitor's cookies), and the library underneath.

Every request is hostile until checked: strangers, cross-site pages, someone else's upload, a wrong offset, a
file too big or over quota, content that is not media. A paused or dropped upload resumes where it stopped
from a new client; a file the library already has is recognised from its hash before any byte is sent; nothing
half-received ever reaches the library, and abandoned uploads expire.
"""
from __future__ import annotations

import base64
import hashlib
import io
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from browser import free_port, stop_group, wait_for, wait_for_http
from gallery_client import Visitor

TUS = "1.0.0"
QUOTA_BYTES = 3_000_000
MAX_FILE_BYTES = 400 * 2 ** 20


def jpeg_bytes(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A small real JPEG, different for every seed."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    img = Image.fromarray(pixels).resize(size)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


class Tus:
    """A tus 1.0 client as the upload page is: the visitor's cookies, the XSRF header, ``Tus-Resumable``."""

    def __init__(self, visitor: Visitor):
        self.v = visitor
        self.base = visitor.base

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Tus-Resumable": TUS, "X-XSRFToken": self.v.xsrf(), **extra}

    def create(self, length: int, name: str = "photo.jpg", query: str = "", **meta: str):
        fields = {"filename": name, **meta}
        encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())
        return self.v.http.post(f"{self.base}/upload/files/{query}", timeout=60,
                                headers=self.headers(**{"Upload-Length": str(length), "Upload-Metadata": encoded}))

    def create_with(self, data: bytes, length: int | None = None, name: str = "photo.jpg", query: str = "",
                    content_type: str = "application/offset+octet-stream", **meta: str):
        """Creation with upload: the POST carries ``data``, the file's first bytes or all of them."""
        fields = {"filename": name, **meta}
        encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())
        return self.v.http.post(f"{self.base}/upload/files/{query}", data=data, timeout=300, headers=self.headers(
            **{"Upload-Length": str(len(data) if length is None else length), "Upload-Metadata": encoded,
               "Content-Type": content_type}))

    def head(self, location: str):
        return self.v.http.head(self.base + location, headers=self.headers(), timeout=60)

    def patch(self, location: str, offset: int, data: bytes, **extra: str):
        return self.v.http.patch(self.base + location, data=data, timeout=300, headers=self.headers(
            **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **extra}))

    def delete(self, location: str):
        return self.v.http.delete(self.base + location, headers=self.headers(), timeout=60)

    def status(self, location: str):
        return self.v.http.get(self.base + location, headers=self.headers(), timeout=60)

    def outcome(self, location: str, timeout_s: float = 60.0) -> dict:
        """How an upload ended, once the server has decided it (the page asks the same after the last byte)."""
        deadline = time.monotonic() + timeout_s
        while True:
            r = self.status(location)
            assert r.status_code == 200, r.text
            s = r.json()
            if s["state"] in ("done", "refused") or time.monotonic() > deadline:
                return s
            time.sleep(0.2)

    def upload(self, data: bytes, name: str = "photo.jpg", query: str = "", **meta: str) -> dict:
        """Create, send in one PATCH, and wait for the outcome."""
        r = self.create(len(data), name, query, **meta)
        assert r.status_code == 201, r.text
        if r.headers.get("Workbench-Upload-Result") != "known":
            p = self.patch(r.headers["Location"], 0, data)
            assert p.status_code == 204, p.text
            assert p.headers["Workbench-Upload-Result"] == "checking"
        return self.outcome(r.headers["Location"])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real gallery server on a library with ann (viewer), bob (viewer), root (admin); a quota of 3 MB,
    a 400 MiB file limit. Yields (base URL, library root, server process id)."""
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_upload")
    lib = Library.open(root / "library", create=True)
    for name, role in (("ann", "viewer"), ("bob", "viewer"), ("root", "admin"), ("cat", "curator"),
                       ("eve", "viewer")):
        lib.add_user(name, f"{name}-password", role)
    lib.settings.upload_quota_bytes = QUOTA_BYTES
    lib.settings.upload_max_file_bytes = MAX_FILE_BYTES
    lib.settings.upload_roles = ["admin", "curator", "viewer"]
    lib.settings.save(root / "library")
    port = free_port()
    cmd = [sys.executable, "-m", "workbench", "--library", str(root / "library"), "gallery", "--port", str(port),
           "--no-show", "--log-level", "info"]
    with open(root / "gallery.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/voila/static/voila.js", proc=proc)
            yield base, root / "library", proc.pid
        finally:
            stop_group(proc, timeout_s=20)


def signed_in(base: str, name: str) -> Tus:
    v = Visitor(base)
    assert v.sign_in(name, f"{name}-password").status_code == 302
    return Tus(v)


def library(root: Path):
    from workbench.library import Library
    return Library.open(root)


# ------------------------------------------------------------------------------------------- who may upload

def test_a_stranger_cannot_start_an_upload(server):
    base, _, _ = server
    stranger = Tus(Visitor(base))
    r = stranger.create(1000)
    assert r.status_code == 403
    assert "sign in" in r.text.lower()


def test_a_request_without_the_xsrf_token_is_refused(server):
    base, _, _ = server
    t = signed_in(base, "ann")
    r = t.v.http.post(f"{base}/upload/files/", headers={"Tus-Resumable": TUS, "Upload-Length": "10"})
    assert r.status_code == 403


def test_a_request_without_tus_resumable_is_refused_as_tus_says(server):
    base, _, _ = server
    t = signed_in(base, "ann")
    r = t.v.http.post(f"{base}/upload/files/", headers={"X-XSRFToken": t.v.xsrf(), "Upload-Length": "10"})
    assert r.status_code == 412
    assert r.headers["Tus-Version"] == TUS


def test_a_page_of_another_site_cannot_upload_with_the_visitors_cookie(server):
    base, _, _ = server
    t = signed_in(base, "ann")
    r = t.v.http.post(f"{base}/upload/files/", headers=t.headers(**{
        "Upload-Length": "10", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}))
    assert r.status_code == 403
    assert "own pages" in r.text


def test_options_says_what_the_server_speaks(server):
    base, _, _ = server
    r = Visitor(base).http.options(f"{base}/upload/files/")
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == TUS
    assert set(r.headers["Tus-Extension"].split(",")) >= {"creation", "creation-with-upload", "termination",
                                                          "expiration"}
    assert int(r.headers["Tus-Max-Size"]) == MAX_FILE_BYTES


def test_a_file_over_the_size_limit_is_refused_before_any_byte_is_sent(server):
    base, _, _ = server
    r = signed_in(base, "root").create(MAX_FILE_BYTES + 1, "huge.mov")
    assert r.status_code == 413
    assert "upload_max_file_bytes" in r.text


def test_uploads_started_at_the_same_moment_cannot_share_the_room_left_in_the_quota(server):
    base, _, _ = server
    visitors = [signed_in(base, "eve") for _ in range(8)]
    for _burst in range(3):                                    # a race shows in some bursts, not every one
        start = threading.Barrier(len(visitors))

        def create(t: Tus):
            start.wait()
            return t.create(QUOTA_BYTES // 3, "third.jpg")      # three fit, the fourth would not

        with ThreadPoolExecutor(len(visitors)) as pool:
            answers = list(pool.map(create, visitors))
        assert sorted(r.status_code for r in answers) == [201] * 3 + [403] * 5
        for t, r in zip(visitors, answers):                    # give the room back
            if r.status_code == 201:
                assert t.v.http.delete(base + r.headers["Location"], headers=t.headers(),
                                       timeout=60).status_code == 204


def test_a_viewer_over_the_quota_is_refused_with_the_reason_and_it_is_recorded(server):
    base, root, _ = server
    r = signed_in(base, "bob").create(QUOTA_BYTES + 1, "big.jpg")
    assert r.status_code == 403
    assert "quota" in r.text and "MB" in r.text
    errors = library(root).errors()
    assert any(p == "uploads/bob/big.jpg" and "quota" in reason
               for p, reason in zip(errors["path"], errors["reason"]))


def test_viewers_cannot_upload_when_an_admin_says_so(tmp_path):
    from workbench.errors import AccessDenied
    from workbench.library import Library
    lib = Library.open(tmp_path / "lib", create=True)
    lib.add_user("vic", "vic-password", "viewer")
    lib.settings.upload_roles = ["admin", "curator"]
    with pytest.raises(AccessDenied, match="turned off for viewers"):
        lib.for_user("vic").begin_upload(100, "a.jpg")


# ------------------------------------------------------------------------------------- resumable and owned

def test_an_upload_sent_in_halves_resumes_from_a_new_client_and_belongs_to_the_uploader(server):
    base, root, _ = server
    data = jpeg_bytes(1)
    first = signed_in(base, "ann")
    r = first.create(len(data), "Holiday/first.jpg")
    assert r.status_code == 201
    location = r.headers["Location"]
    half = len(data) // 2
    r = first.patch(location, 0, data[:half])
    assert r.status_code == 204 and int(r.headers["Upload-Offset"]) == half
    # The laptop was closed: a new client (same session cookie) asks where to go on.
    later = Tus(Visitor(base))
    later.v.http.cookies.update(first.v.http.cookies)
    r = later.head(location)
    assert r.status_code == 200
    assert int(r.headers["Upload-Offset"]) == half and int(r.headers["Upload-Length"]) == len(data)
    assert "Upload-Expires" in r.headers
    assert not any(library(root).originals_dir.rglob("*.jpg"))      # nothing half-received in the library
    r = later.patch(location, half, data[half:])
    assert r.status_code == 204, r.text
    assert int(r.headers["Upload-Offset"]) == len(data)
    done = later.outcome(location)
    assert done["state"] == "done" and done["result"] == "added"
    media_id = done["media_id"]
    assert media_id == hashlib.sha256(data).hexdigest()[:16]
    lib = library(root)
    row = lib.get(media_id)
    assert row["owner"] == "ann" and row["kind"] == "image" and row["mime"] == "image/jpeg"
    assert media_id in set(lib.for_user("ann").media()["id"])
    assert media_id not in set(lib.for_user("bob").media()["id"])


def test_a_dropped_connection_keeps_what_arrived_and_resumes_there(server):
    base, root, _ = server
    data = jpeg_bytes(2, (1600, 1200)) + b""
    t = signed_in(base, "ann")
    location = t.create(len(data), "dropped.jpg").headers["Location"]
    sent = len(data) // 3
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    head = (f"PATCH {location} HTTP/1.1\r\nHost: {host}:{port}\r\nTus-Resumable: {TUS}\r\n"
            f"X-XSRFToken: {t.v.xsrf()}\r\nCookie: {t.v.cookie_header}\r\nUpload-Offset: 0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n\r\n")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head.encode() + data[:sent])
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while True:
        r = t.head(location)
        if r.status_code == 200 and int(r.headers["Upload-Offset"]) == sent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert int(r.headers["Upload-Offset"]) == sent
    r = t.patch(location, sent, data[sent:])
    assert r.status_code == 204, r.text
    done = t.outcome(location)
    assert done["result"] == "added"
    assert done["media_id"] == hashlib.sha256(data).hexdigest()[:16]      # hashed again from the staged bytes


def test_a_wrong_offset_is_a_conflict_and_changes_nothing(server):
    base, _, _ = server
    data = jpeg_bytes(3)
    t = signed_in(base, "ann")
    location = t.create(len(data)).headers["Location"]
    assert t.patch(location, 0, data[:100]).status_code == 204
    r = t.patch(location, 50, data[50:])
    assert r.status_code == 409
    assert "100 bytes" in r.text
    assert int(t.head(location).headers["Upload-Offset"]) == 100
    assert t.delete(location).status_code == 204
    assert t.head(location).status_code == 404


def test_more_bytes_than_announced_are_refused(server):
    base, _, _ = server
    t = signed_in(base, "ann")
    location = t.create(10, "ten.jpg").headers["Location"]
    r = t.patch(location, 0, b"x" * 11)
    assert r.status_code == 413
    assert int(t.head(location).headers["Upload-Offset"]) == 0


def test_someone_elses_upload_does_not_exist_for_you(server):
    base, _, _ = server
    ann, bob = signed_in(base, "ann"), signed_in(base, "bob")
    location = ann.create(1000).headers["Location"]
    assert bob.head(location).status_code == 404
    r = bob.patch(location, 0, b"x" * 10)
    assert r.status_code == 404
    # Refused before its body was read, so the server closes the connection: it says so, and the client's
    # next request goes on a new one (CI once saw a keep-alive DELETE sent into the closing socket).
    assert r.headers["Connection"] == "close"
    assert bob.delete(location).status_code == 404
    assert Tus(Visitor(base)).head(location).status_code == 403      # a stranger: sign in first
    assert ann.head(location).status_code == 200


# ------------------------------------------------------------------------------- decided by content, once

def test_content_that_is_not_media_is_refused_with_the_reason_and_leaves_nothing(server):
    base, root, _ = server
    t = signed_in(base, "ann")
    data = b"%PDF-1.7\n not a photo at all\n" * 100
    location = t.create(len(data), "invoice.jpg").headers["Location"]
    assert t.patch(location, 0, data).status_code == 204
    end = t.outcome(location)
    assert end["state"] == "refused"
    assert "not an image or video" in end["reason"].lower()
    assert t.head(location).headers["Workbench-Upload-Result"] == "refused"
    lib = library(root)
    errors = lib.errors()
    assert any(p == "uploads/ann/invoice.jpg" and "not an image or video" in reason
               for p, reason in zip(errors["path"], errors["reason"]))
    upload_id = location.rsplit("/", 1)[1]
    assert not [n for n in lib.storage.staging_names() if n.startswith(upload_id) and ".data" in n]


def test_content_the_visitor_already_sees_costs_only_its_hash_and_becomes_theirs_too(server):
    base, root, _ = server
    data = jpeg_bytes(4)
    assert signed_in(base, "cat").upload(data, "cat.jpg")["result"] == "added"
    media_id = hashlib.sha256(data).hexdigest()[:16]
    lib = library(root)
    album = lib.create_album("Seen by bob", owner="cat")
    lib.add_to_album(album, [media_id])
    lib.add_member(album, "bob", "viewer")
    bob = signed_in(base, "bob")
    r = bob.create(len(data), "mine-too.jpg", sha256=hashlib.sha256(data).hexdigest())
    assert r.status_code == 201
    assert r.headers["Workbench-Upload-Result"] == "known"
    assert int(r.headers["Upload-Offset"]) == len(data)            # nothing to send: tus clients are done
    assert int(bob.head(r.headers["Location"]).headers["Upload-Offset"]) == len(data)
    assert r.headers["Workbench-Media-Id"] == media_id
    lib.remove_member(album, "bob")
    assert media_id in set(library(root).for_user("bob").media()["id"])    # his own now, not only seen


def test_a_hash_alone_never_hands_over_someone_elses_content(server):
    """Knowing a photo's SHA-256 (from an ETag, a log, a leak) is not having it: the bytes are asked for, and the
    question "which of these do you have" says nothing about content only others can see."""
    base, root, _ = server
    data = jpeg_bytes(40)
    assert signed_in(base, "cat").upload(data, "private.jpg")["result"] == "added"
    sha = hashlib.sha256(data).hexdigest()
    bob = signed_in(base, "bob")
    asked = bob.v.http.post(f"{base}/upload/known", json={"sha256": [sha]}, headers=bob.headers())
    assert asked.status_code == 200 and asked.json() == {"known": []}
    r = bob.create(len(data), "stolen.jpg", sha256=sha)
    assert r.status_code == 201
    assert r.headers.get("Workbench-Upload-Result") != "known"
    assert int(r.headers["Upload-Offset"]) == 0                     # the bytes are wanted
    assert sha[:16] not in set(library(root).for_user("bob").media()["id"])
    bob.delete(r.headers["Location"])
    # Nor through a share link that accepts uploads: it sees its album, nothing else.
    lib = library(root)
    album = lib.create_album("Open for guests", owner="cat")
    token = lib.share_album(album)
    lib.set_share_uploads(token, True)
    share_id = lib.shares(album)["share_id"][0]
    guest = Visitor(base)
    assert guest.get("/upload?share=" + token).status_code == 200
    asked = guest.http.post(f"{base}/upload/known?share={share_id}", json={"sha256": [sha]},
                            headers=Tus(guest).headers())
    assert asked.status_code == 200 and asked.json() == {"known": []}
    r = Tus(guest).create(len(data), "stolen.jpg", query=f"?share={share_id}", sha256=sha)
    assert r.status_code == 201 and int(r.headers["Upload-Offset"]) == 0
    assert sha[:16] not in set(lib.album_media(album)["id"])


def test_the_same_bytes_uploaded_without_a_hash_are_stored_once(server):
    base, root, _ = server
    data = jpeg_bytes(5)
    assert signed_in(base, "cat").upload(data, "one.jpg")["result"] == "added"
    assert signed_in(base, "ann").upload(data, "two.jpg")["result"] == "known"
    lib = library(root)
    sha = hashlib.sha256(data).hexdigest()
    assert len([p for p in lib.originals_dir.rglob(f"{sha}*")]) == 1
    assert sha[:16] in set(lib.for_user("ann").media()["id"])


def test_a_claimed_hash_that_does_not_match_the_bytes_is_refused(server):
    base, _, _ = server
    data = jpeg_bytes(6)
    end = signed_in(base, "ann").upload(data, "x.jpg", sha256="0" * 64)
    assert end["state"] == "refused"
    assert "changed on the way" in end["reason"].lower()


# --------------------------------------------------------------------------------------- albums and links

def test_an_albums_contributor_uploads_straight_into_it_and_a_viewer_member_cannot(server):
    base, root, _ = server
    lib = library(root)
    album = lib.create_album("Party", owner="cat")
    lib.add_member(album, "ann", "contributor")
    lib.add_member(album, "bob", "viewer")
    data = jpeg_bytes(7)
    end = signed_in(base, "ann").upload(data, "party.jpg", album=album)
    assert end["result"] == "added"
    assert end["media_id"] in set(lib.album_media(album)["id"])
    r = signed_in(base, "bob").create(1000, "nope.jpg", album=album)
    assert r.status_code == 403
    assert "contributor" in r.text


def test_share_links_accept_uploads_only_when_turned_on(server):
    base, root, _ = server
    lib = library(root)
    album = lib.create_album("Wedding", owner="cat")
    token = lib.share_album(album)
    guest = Visitor(base)
    assert guest.get("/upload?share=" + token).status_code == 403           # off by default
    share_id = lib.shares(album)["share_id"][0]
    lib.set_share_uploads(token, True)
    page = guest.get("/upload?share=" + token)
    assert page.status_code == 200 and "Wedding" in page.text
    data = jpeg_bytes(8)
    end = Tus(guest).upload(data, "guest.jpg", query=f"?share={share_id}")
    assert end["result"] == "added"
    media_id = end["media_id"]
    assert media_id in set(lib.album_media(album)["id"])
    assert lib.get(media_id)["owner"] == "cat"                       # the album's owner's, in their quota
    lib.set_share_uploads(token, False)
    r = Tus(guest).create(100, "late.jpg", query=f"?share={share_id}")
    assert r.status_code == 403 and "does not accept uploads" in r.text
    # Another visitor cannot name a link they never opened.
    assert Tus(signed_in(base, "bob").v).create(100, "x.jpg", query=f"?share={share_id}").status_code == 403


# ------------------------------------------------------- creation with upload: one request for a photo

def staged(root: Path) -> set[str]:
    return set(library(root).storage.staging_names())


def in_library(root: Path, media_id: str) -> bool:
    from workbench.errors import NotFoundError
    try:
        library(root).get(media_id)
    except NotFoundError:
        return False
    return True


def test_a_photo_sent_with_its_creation_takes_one_request_and_arrives(server):
    base, root, _ = server
    data = jpeg_bytes(21)
    t = signed_in(base, "ann")
    r = t.create_with(data, name="Trip/one-request.jpg")
    assert r.status_code == 201, r.text
    assert int(r.headers["Upload-Offset"]) == len(data)
    assert r.headers["Workbench-Upload-Result"] == "checking"
    done = t.outcome(r.headers["Location"])
    assert done["state"] == "done" and done["result"] == "added"
    assert done["media_id"] == hashlib.sha256(data).hexdigest()[:16]
    assert library(root).get(done["media_id"])["owner"] == "ann"


def test_with_log_level_info_the_server_log_tells_each_uploads_steps_and_their_times(server):
    """What an admin reads when an upload seems stuck: when its bytes were in, and how long the check and the
    catalog rows took."""
    base, root, _ = server
    t = signed_in(base, "ann")
    r = t.create_with(jpeg_bytes(29), name="logged.jpg")
    assert r.status_code == 201, r.text
    assert t.outcome(r.headers["Location"])["state"] == "done"
    upload_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[1]

    def log_lines() -> list[str]:
        return (root.parent / "gallery.log").read_text(errors="replace").splitlines()

    # The batch's line is written just after the upload's record says done.
    wait_for(lambda: any(upload_id[:8] in line and "checked in" in line and "catalog rows in" in line
                         for line in log_lines()), 30, "the upload's check and catalog times in the log")
    lines = log_lines()
    assert any(f"upload {upload_id}: all " in line and "bytes in" in line for line in lines), lines[-20:]
    assert any("upload checker ready after" in line for line in lines)


def test_the_worker_that_decodes_uploads_holds_no_secret_of_the_server(server):
    """A decoder exploit in the process that checks uploaded files must not find the key that signs media links
    (nor a passphrase or cloud key): those workers fork from a server started before the secret existed."""
    import psutil

    from workbench.gallery.server import WORKER_HIDDEN_ENV
    base, _, pid = server
    t = signed_in(base, "ann")
    r = t.create_with(jpeg_bytes(30), name="checked.jpg")
    assert t.outcome(r.headers["Location"])["state"] == "done"        # the check ran in a worker
    def names(p: psutil.Process) -> set[str]:
        return {v.split("=", 1)[0] for v in open(f"/proc/{p.pid}/environ", "rb").read().decode(errors="replace")
                .split("\0")}

    children = psutil.Process(pid).children(recursive=True)
    # The kernels' fork server is given the secret (kernels sign the links they show): this is how it shows.
    kernels = [p for p in children if "workbench.gallery.forkserver" in " ".join(p.cmdline())]
    assert kernels and "WORKBENCH_GALLERY_SECRET" in names(kernels[0])
    forkservers = [p for p in children if "multiprocessing.forkserver" in " ".join(p.cmdline())]
    workers = [c for f in forkservers for c in f.children(recursive=True)]
    assert forkservers and workers
    for p in forkservers + workers:
        assert not names(p) & set(WORKER_HIDDEN_ENV), p.cmdline()


def test_a_gallery_log_level_other_than_warn_info_debug_is_one_clear_line():
    r = subprocess.run([sys.executable, "-m", "workbench", "gallery", "--log-level", "loud"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0
    assert "WARN, INFO or DEBUG" in r.stdout + r.stderr


def test_a_creation_carrying_the_first_part_goes_on_with_patch(server):
    base, _, _ = server
    data = jpeg_bytes(22, (1600, 1200))
    t = signed_in(base, "ann")
    half = len(data) // 2
    r = t.create_with(data[:half], length=len(data), name="halves.jpg")
    assert r.status_code == 201 and int(r.headers["Upload-Offset"]) == half
    assert "Workbench-Upload-Result" not in r.headers                  # not complete: nothing to decide yet
    location = r.headers["Location"]
    assert int(t.head(location).headers["Upload-Offset"]) == half
    assert t.patch(location, half, data[half:]).status_code == 204
    assert t.outcome(location)["result"] == "added"


def test_a_creation_carrying_more_than_the_upload_is_refused_before_anything_is_made(server):
    base, root, _ = server
    t = signed_in(base, "ann")
    before = staged(root)
    r = t.create_with(b"x" * 2000, length=1000, name="longer.jpg")
    assert r.status_code == 413 and "1000 bytes" in r.text
    assert r.headers["Connection"] == "close"                   # its body was never read
    assert staged(root) == before


def test_a_creation_cut_off_mid_body_leaves_nothing_behind(server):
    """The client never got the new upload's address, so nothing could resume it: it goes at once instead of
    counting against the quota for a day."""
    base, root, _ = server
    data = jpeg_bytes(23, (1600, 1200))
    t = signed_in(base, "ann")
    before = staged(root)
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    meta = "filename " + base64.b64encode(b"cut.jpg").decode()
    head = (f"POST /upload/files/ HTTP/1.1\r\nHost: {host}:{port}\r\nTus-Resumable: {TUS}\r\n"
            f"X-XSRFToken: {t.v.xsrf()}\r\nCookie: {t.v.cookie_header}\r\nUpload-Length: {len(data)}\r\n"
            f"Upload-Metadata: {meta}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head.encode() + data[:len(data) // 3])
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while staged(root) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert staged(root) == before


def test_a_creation_with_a_body_checks_everything_first(server):
    """The same refusals as a bodiless creation, each before a byte of the body is read (and the connection
    then closed, as it says): strangers, cross-site pages, no XSRF token, no Tus-Resumable, a wrong body type,
    over the quota."""
    base, root, _ = server
    data = jpeg_bytes(24)
    before = staged(root)
    stranger = Tus(Visitor(base)).create_with(data)
    assert stranger.status_code == 403 and "sign in" in stranger.text.lower()
    t = signed_in(base, "ann")
    cross = t.v.http.post(f"{base}/upload/files/", data=data, headers=t.headers(**{
        "Upload-Length": str(len(data)), "Content-Type": "application/offset+octet-stream",
        "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}))
    assert cross.status_code == 403 and "own pages" in cross.text
    no_xsrf = t.v.http.post(f"{base}/upload/files/", data=data, headers={
        "Tus-Resumable": TUS, "Upload-Length": str(len(data)), "Content-Type": "application/offset+octet-stream"})
    assert no_xsrf.status_code == 403
    no_tus = t.v.http.post(f"{base}/upload/files/", data=data, headers={
        "X-XSRFToken": t.v.xsrf(), "Upload-Length": str(len(data)),
        "Content-Type": "application/offset+octet-stream"})
    assert no_tus.status_code == 412
    form = t.create_with(data, content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    over = signed_in(base, "bob").create_with(b"\xff\xd8" + b"x" * 1000, length=QUOTA_BYTES + 1, name="over.jpg")
    assert over.status_code == 403 and "quota" in over.text
    for r in (stranger, cross, form, over):
        assert r.headers["Connection"] == "close"
    assert staged(root) == before
    errors = library(root).errors()
    assert any(p == "uploads/bob/over.jpg" and "quota" in reason
               for p, reason in zip(errors["path"], errors["reason"]))


def test_content_sent_with_its_creation_that_is_not_media_is_refused_with_the_reason(server):
    base, root, _ = server
    t = signed_in(base, "ann")
    r = t.create_with(b"#!/bin/sh\necho not a photo\n" * 50, name="script.jpg")
    assert r.status_code == 201
    end = t.outcome(r.headers["Location"])
    assert end["state"] == "refused" and "not an image or video" in end["reason"].lower()
    upload_id = r.headers["Location"].rsplit("/", 1)[1]
    assert not [n for n in library(root).storage.staging_names() if n.startswith(upload_id) and ".data" in n]


def test_known_content_sent_with_its_creation_is_not_stored_again(server):
    base, root, _ = server
    data = jpeg_bytes(25)
    bob = signed_in(base, "bob")
    assert bob.upload(data, "first.jpg")["result"] == "added"
    r = bob.create_with(data, name="again.jpg", sha256=hashlib.sha256(data).hexdigest())
    assert r.status_code == 201 and r.headers["Workbench-Upload-Result"] == "known"
    assert r.headers["Workbench-Media-Id"] == hashlib.sha256(data).hexdigest()[:16]
    assert bob.create(10, "next.jpg").status_code == 201          # the connection goes on
    sha = hashlib.sha256(data).hexdigest()
    assert len(list(library(root).originals_dir.rglob(f"{sha}*"))) == 1


def test_the_page_asks_which_of_its_hashes_the_library_has_in_one_request(server):
    """So a known file then costs a creation without bytes and a new one a single creation with them."""
    base, _, _ = server
    data = jpeg_bytes(28)
    t = signed_in(base, "ann")
    assert t.upload(data, "asked.jpg")["result"] == "added"
    have, new = hashlib.sha256(data).hexdigest(), hashlib.sha256(b"never uploaded").hexdigest()
    r = t.v.http.post(f"{base}/upload/known", json={"sha256": [have, new, "not a hash"]}, headers=t.headers())
    assert r.status_code == 200, r.text
    assert r.json() == {"known": [have]}
    assert Tus(Visitor(base)).v.http.post(f"{base}/upload/known", json={"sha256": [have]}, headers={
        "Tus-Resumable": TUS}).status_code == 403                                  # a stranger
    assert t.v.http.post(f"{base}/upload/known", json={"sha256": [have]}, headers=t.headers(**{
        "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})).status_code == 403
    no_xsrf = t.v.http.post(f"{base}/upload/known", json={"sha256": [have]}, headers={"Tus-Resumable": TUS})
    assert no_xsrf.status_code == 403 and no_xsrf.headers["Connection"] == "close"   # its body was never read
    too_many = t.v.http.post(f"{base}/upload/known", json={"sha256": [new] * 1001}, headers=t.headers())
    assert too_many.status_code == 400 and "1000" in too_many.text


def test_an_album_taken_away_during_the_transfer_keeps_the_file_out(server):
    """The album is checked again, afresh, once the last byte is in."""
    base, root, _ = server
    lib = library(root)
    album = lib.create_album("Reunion", owner="cat")
    lib.add_member(album, "ann", "contributor")
    data = jpeg_bytes(26, (1600, 1200))
    t = signed_in(base, "ann")
    half = len(data) // 2
    r = t.create_with(data[:half], length=len(data), name="reunion.jpg", album=album)
    assert r.status_code == 201
    lib.remove_member(album, "ann")
    assert t.patch(r.headers["Location"], half, data[half:]).status_code == 204
    end = t.outcome(r.headers["Location"])
    assert end["state"] == "refused" and "album" in end["reason"]
    assert not in_library(root, hashlib.sha256(data).hexdigest()[:16])


def test_a_passed_check_is_reused_for_two_seconds_at_most(server):
    """A stream of photos costs one fresh check every 2 s, not one each; a revocation then applies to every
    file that finishes later than that."""
    base, root, _ = server
    lib = library(root)
    album = lib.create_album("Camp", owner="cat")
    lib.add_member(album, "ann", "contributor")
    t = signed_in(base, "ann")
    started = {}
    for seed, name in ((29, "first.jpg"), (30, "second.jpg")):
        data = jpeg_bytes(seed, (1200, 900))
        r = t.create_with(data[:1000], length=len(data), name=name, album=album)
        assert r.status_code == 201, r.text
        started[name] = (r.headers["Location"], data)
    location, data = started["first.jpg"]
    assert t.patch(location, 1000, data[1000:]).status_code == 204
    assert t.outcome(location)["result"] == "added"                   # checked afresh, and passed
    lib.remove_member(album, "ann")
    time.sleep(2.5)
    location, data = started["second.jpg"]
    assert t.patch(location, 1000, data[1000:]).status_code == 204
    end = t.outcome(location)
    assert end["state"] == "refused" and "album" in end["reason"]
    assert not in_library(root, hashlib.sha256(data).hexdigest()[:16])


def test_signing_out_during_the_transfer_keeps_the_file_out(server):
    """The next PATCH may ride on the session check of the last two seconds; the decision reads the session
    afresh, so the file never enters the library."""
    base, root, _ = server
    lib = library(root)
    lib.add_user("dan", "dan-password", "viewer")
    data = jpeg_bytes(27, (1600, 1200))
    t = signed_in(base, "dan")
    half = len(data) // 2
    r = t.create_with(data[:half], length=len(data), name="late.jpg")
    assert r.status_code == 201
    upload_id = r.headers["Location"].rsplit("/", 1)[1]
    lib.logout(t.v.http.cookies["wb_session"])           # ended elsewhere: the server's cache does not know
    p = t.patch(r.headers["Location"], half, data[half:])
    if p.status_code == 204:                              # within the 2 s: taken in, then refused at the decision
        deadline = time.monotonic() + 30
        while library(root).uploads.get(upload_id).state == "receiving" and time.monotonic() < deadline:
            time.sleep(0.2)
        u = library(root).uploads.get(upload_id)
        assert u.state == "refused" and "log in" in u.reason
    else:
        assert p.status_code == 403
    assert not in_library(root, hashlib.sha256(data).hexdigest()[:16])


# ------------------------------------------------------------------------------------------------- memory

def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _Stream:
    """``size_bytes`` of pseudo-random bytes, read in 1 MiB blocks (never held whole), hashed as they go."""

    def __init__(self, size_bytes: int, head: bytes):
        self.size = size_bytes
        self.left = size_bytes
        self.head = head
        self.block = hashlib.sha256(b"seed").digest() * (1 << 15)     # 1 MiB, the same every time

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        chunk = self.head if self.left == self.size else self.block
        chunk = chunk[:min(self.left, len(chunk) if n is None or n < 0 else max(1, min(n, len(chunk))))]
        self.left -= len(chunk)
        return chunk

    def sha256(self) -> str:
        h = hashlib.sha256()
        copy = _Stream(self.size, self.head)
        while chunk := copy.read(1 << 20):
            h.update(chunk)
        return h.hexdigest()


def test_a_big_upload_streams_with_flat_server_memory(server):
    """300 MB through the real server: its memory grows by far less than the file (staged, hashed as it
    arrives), and the hash it computed is the hash of what was sent."""
    base, root, pid = server
    size = 300 * 2 ** 20
    t = signed_in(base, "root")
    # Bytes that are not media: the server streams them in, hashes them, then refuses them by content; had its
    # hash differed from the one announced, the reason would be that the file changed on the way.
    body = _Stream(size, b"\x00\x01not a video" * 1000)
    location = t.create(size, "long.mp4", sha256=body.sha256()).headers["Location"]
    idle = _rss_mb(pid)
    peak = [idle]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak.append(_rss_mb(pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        r = t.v.http.patch(base + location, data=body, timeout=600, headers=t.headers(
            **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
    finally:
        done.set()
        watcher.join()
    assert r.status_code == 204
    end = t.outcome(location)
    assert end["state"] == "refused" and "not an image or video" in end["reason"].lower()
    assert max(peak) - idle < 64, f"server memory grew {max(peak) - idle:.0f} MB during a 300 MB upload"
    upload_id = location.rsplit("/", 1)[1]
    assert not [n for n in library(root).storage.staging_names() if n.startswith(upload_id) and ".data" in n]


# ----------------------------------------------------------------------------------- the library underneath

def test_abandoned_uploads_expire_with_their_bytes(tmp_path):
    from workbench.library import Library
    lib = Library.open(tmp_path / "lib", create=True)
    lib.add_user("ann", "ann-password", "viewer")
    view = lib.for_user("ann")
    u = view.begin_upload(1000, "later.jpg")
    with view.receive_upload(u.id, 0) as r:
        r.write(b"x" * 400)
    assert lib.uploads.expire() == 0
    assert lib.uploads.expire(now=time.time() + lib.settings.upload_expire_s + 1) == 1
    assert lib.storage.staging_names() == []
    from workbench.errors import NotFoundError
    with pytest.raises(NotFoundError):
        view.upload(u.id)


def test_uploaded_names_cannot_climb_out_of_their_folder():
    from workbench.ingest.upload import clean_name
    assert clean_name("../../etc/passwd") == "etc/passwd"
    assert clean_name("/abs/x.jpg") == "abs/x.jpg"
    assert clean_name("a\\..\\b\x00.jpg") == "a/b.jpg"
    assert clean_name("") == "upload"


def test_an_encrypted_library_takes_uploads_and_stores_them_encrypted(tmp_path, monkeypatch):
    """Staging lives beside the backend's private cache there, and the file goes in through the encrypted
    storage: the stored original is not the uploaded bytes, reading it back is."""
    from workbench.library import Library
    from workbench.storage.encrypted import init_encryption
    from workbench.storage.keyring import KdfParams, forget_unlocked
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "lib"
    Library.create(root)
    init_encryption(root, "correct horse battery staple", KdfParams(time_cost=1, memory_cost_kib=8192,
                                                                    parallelism=1))
    forget_unlocked()
    try:
        lib = Library.open(root, passphrase="correct horse battery staple")
        lib.add_user("ann", "ann-password", "viewer")
        view = lib.for_user("ann")
        data = jpeg_bytes(31)
        u = view.begin_upload(len(data), "secret.jpg")
        with view.receive_upload(u.id, 0) as r:
            r.write(data)
        done = view.finish_upload(u.id)
        assert done.result == "added"
        assert lib.storage.read_bytes("originals/" + lib.get(done.media_id)["blob"]) == data
        assert not any(p.read_bytes() == data for p in root.rglob("*") if p.is_file())
        assert not [n for n in lib.storage.staging_names() if ".data" in n]
    finally:
        forget_unlocked()


# ------------------------------------------------------------------------- what a photo costs the server

def test_a_creation_reads_the_account_once_and_still_sees_a_role_change_at_once(tmp_path, monkeypatch):
    """The gallery reuses a signed-in uploader's view while the session check it rests on holds (2 s), and the
    account is read once while the accounts table keeps its version (``access/users.py``), so a stream of photos
    costs no catalog read a creation; the view holds nothing but the name and a write moves the version, so a
    role taken away or an account removed a moment ago still stops the next creation."""
    from workbench.errors import AccessDenied, AuthError
    from workbench.gallery.upload import user_view
    from workbench.library import Library
    lib = Library.open(tmp_path / "lib", create=True)
    lib.add_user("ann", "ann-password", "curator")
    lib.settings.upload_roles = ["admin", "curator"]
    reads: list[str] = []
    read = lib.catalog.read
    monkeypatch.setattr(lib.catalog, "read", lambda table, *a, **k: reads.append(table) or read(table, *a, **k))
    for i in range(3):
        user_view(lib, "ann").begin_upload(10, f"p{i}.jpg")
    assert reads == ["users"]                     # the view made once, the account read once for all
    lib.set_role("ann", "viewer")
    with pytest.raises(AccessDenied):
        user_view(lib, "ann").begin_upload(10, "after-the-role-change.jpg")
    lib.remove_user("ann")
    with pytest.raises(AuthError):
        user_view(lib, "ann").begin_upload(10, "after-the-removal.jpg")


def test_receiving_starts_no_thread_per_request(tmp_path):
    """A request's writer thread is handed to the next one: starting a thread for every photo made the
    server's event loop wait for it to run."""
    from workbench.library import Library
    lib = Library.open(tmp_path / "lib", create=True)
    lib.add_user("ann", "ann-password", "viewer")
    view = lib.for_user("ann")
    before = {t.ident for t in threading.enumerate()}
    for i in range(3):
        data = jpeg_bytes(40 + i)
        u = view.begin_upload(len(data), f"p{i}.jpg")
        with view.receive_upload(u.id, 0) as r:
            r.write(data[:1000])
            r.write(data[1000:])
        assert r.complete and lib.uploads.offset(lib.uploads.get(u.id)) == len(data)
    new = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("upload-write")]
    assert len(new) == 1
    lib.uploads.close()
    assert not [t for t in new if t.is_alive()]


def test_uploads_decided_together_each_get_their_own_outcome(tmp_path):
    """The decision thread takes the uploads waiting together in one go (one catalog read says which the
    library has): content that is not media, content already there and a new photo each end as alone."""
    from workbench.library import Library
    lib = Library.open(tmp_path / "lib", create=True)
    lib.add_user("ann", "ann-password", "viewer")
    view = lib.for_user("ann")
    old, new = jpeg_bytes(50), jpeg_bytes(51)
    first = view.begin_upload(len(old), "old.jpg")
    with view.receive_upload(first.id, 0) as r:
        r.write(old)
    assert view.finish_upload(first.id).result == "added"
    ids = {}
    for name, data in (("notes.jpg", b"not a picture at all " * 50), ("again.jpg", old), ("new.jpg", new)):
        u = view.begin_upload(len(data), name)
        with view.receive_upload(u.id, 0) as r:
            r.write(data)
        ids[name] = u.id
    for upload_id in ids.values():
        view.finish_upload(upload_id, background=True)
    lib.uploads.wait_finished()
    ends = {name: lib.uploads.get(upload_id) for name, upload_id in ids.items()}
    assert ends["notes.jpg"].state == "refused" and ends["notes.jpg"].reason
    assert (ends["again.jpg"].state, ends["again.jpg"].result) == ("done", "known")
    assert (ends["new.jpg"].state, ends["new.jpg"].result) == ("done", "added")
    assert ends["again.jpg"].media_id == hashlib.sha256(old).hexdigest()[:16]
    assert lib.get(ends["new.jpg"].media_id)["owner"] == "ann"
    assert not [n for n in lib.storage.staging_names() if ".data" in n]
    lib.uploads.close()


def _start_gallery(root: Path, log_path: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    cmd = [sys.executable, "-m", "workbench", "--library", str(root), "gallery", "--port", str(port), "--no-show"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/voila/static/voila.js", proc=proc)
    return base, proc


@pytest.mark.slow
def test_a_server_killed_9_mid_upload_loses_no_byte_it_answered_for_and_the_upload_finishes_after(tmp_path):
    """kill -9 of the whole gallery (server, workers, kernels) after the first half was answered: a new server
    on the same library reports that half at the next HEAD, takes the rest, and the photo enters the library
    once, whole; nothing half-written is left in it."""
    import os
    import signal
    from workbench.library import Library
    root = tmp_path / "library"
    lib = Library.open(root, create=True)
    lib.add_user("ann", "ann-password", "viewer")
    lib.settings.upload_roles = ["admin", "curator", "viewer"]
    lib.settings.save(root)
    data = jpeg_bytes(41, (1600, 1200))
    half = len(data) // 2
    base, proc = _start_gallery(root, tmp_path / "gallery.log")
    try:
        t = Tus(Visitor(base))
        assert t.v.sign_in("ann", "ann-password").status_code == 302
        r = t.create_with(data[:half], length=len(data), name="killed.jpg")
        assert r.status_code == 201 and int(r.headers["Upload-Offset"]) == half
        location = r.headers["Location"]                              # relative to the server
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    base, proc = _start_gallery(root, tmp_path / "gallery.log")
    try:
        t = Tus(Visitor(base))
        assert t.v.sign_in("ann", "ann-password").status_code == 302
        assert int(t.head(location).headers["Upload-Offset"]) == half        # every answered byte is there
        assert t.patch(location, half, data[half:]).status_code == 204
        assert t.outcome(location)["result"] == "added"
        mid = hashlib.sha256(data).hexdigest()[:16]
        assert in_library(root, mid)
        stored = list(library(root).originals_dir.rglob(f"{hashlib.sha256(data).hexdigest()}*"))
        assert len(stored) == 1 and stored[0].read_bytes() == data
    finally:
        stop_group(proc, timeout_s=20)


def test_the_probing_worker_can_start_before_the_first_upload_and_checks_every_upload_after(tmp_path):
    """The gallery starts the worker that checks uploads' content when it starts (``Uploads.warm_up``), so the
    first photo sent to a fresh server does not wait for a fork server to import the decoders; that same worker
    checks the uploads that follow."""
    import os

    from workbench.library import Library
    lib = Library.open(tmp_path / "lib", create=True)
    lib.add_user("ann", "ann-password", "viewer")
    try:
        worker = lib.uploads.warm_up().result(timeout=120)
        assert worker != os.getpid()
        view = lib.for_user("ann")
        data = jpeg_bytes(51)
        u = view.begin_upload(len(data), "first.jpg")
        with view.receive_upload(u.id, 0) as r:
            r.write(data)
        assert view.finish_upload(u.id).result == "added"
        assert lib.uploads.warm_up().result(timeout=120) == worker
    finally:
        lib.uploads.close()
