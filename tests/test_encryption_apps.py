"""The apps work unchanged on an unlocked encrypted library: a curator's dashboard served by `workbench dashboards`
(a process of its own, unlocked by WORKBENCH_PASSPHRASE as a server would be) shows the library's pictures,
decrypted on the server, in a real browser."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser import open_page, served, settle
from factory import jpeg
from workbench import Library
from workbench.storage.encrypted import init_encryption
from workbench.storage.keyring import KdfParams, forget_unlocked

PASS = "correct horse battery staple"
CHEAP = KdfParams(time_cost=1, memory_cost_kib=8192, parallelism=1)


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory) -> Path:
    """An encrypted library holding a photo twice (an exact copy under another name) and a smaller copy."""
    root = tmp_path_factory.mktemp("enc_apps")
    Library.create(root / "lib")
    init_encryption(root / "lib", PASS, CHEAP)
    forget_unlocked()
    photo = jpeg(root / "in" / "harbour.jpg", 1200, 900, seed=3)
    (root / "in" / "harbour-copy.jpg").write_bytes(photo.read_bytes() + b"\0")  # same picture, other bytes
    lib = Library.open(root / "lib", passphrase=PASS)
    lib.import_files([root / "in"], progress=False)
    lib.process(["thumbnails", "fingerprints", "quality"], progress=False)
    assert len(lib.duplicates("same")) + len(lib.duplicates("exact")) >= 1
    forget_unlocked()
    return root / "lib"


def test_the_duplicates_dashboard_shows_an_encrypted_librarys_pictures(browser, encrypted, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASS)    # inherited by the server process, as on a real server
    with served(encrypted, ["duplicates"]) as base:
        w = open_page(browser, f"{base}/duplicates")
        settle(w.page)
        group = w.page.locator(".wb-dup-group").first
        expect(group).to_contain_text("harbour-copy.jpg", timeout=60_000)
        images = group.locator("img")
        expect(images.first).to_be_visible(timeout=60_000)
        # Every picture of the group decoded in the browser: thumbnails decrypted on the server, not ciphertext.
        w.page.wait_for_function("g => [...g.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)",
                                 arg=group.element_handle(), timeout=60_000)
        assert images.count() >= 2
        assert not w.problems, w.problems


@pytest.mark.slow
def test_the_gallery_serves_an_encrypted_librarys_pictures_and_videos_by_range_and_never_a_tampered_one(
        tmp_path, monkeypatch) -> None:
    """`workbench gallery` on an encrypted library (unlocked by WORKBENCH_PASSPHRASE, as on a server): the first
    screen's thumbnails, a preview, an original download and a Range request into a video are the plaintext; an
    original with a flipped bit is never sent, and one swapped for another object is refused with its reason."""
    import base64
    import re

    import requests

    from browser import served_gallery
    from factory import video
    from gallery_client import Visitor
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "lib"
    Library.create(root)
    init_encryption(root, PASS, CHEAP)
    forget_unlocked()
    photo = jpeg(tmp_path / "in" / "p.jpg", 1200, 900, seed=8).read_bytes()
    clip = video(tmp_path / "in" / "v.mp4", seconds=2.0).read_bytes()
    lib = Library.open(root, passphrase=PASS)
    lib.import_files([tmp_path / "in"], owner="ann", progress=False)
    lib.process(["thumbnails"], progress=False)
    lib.add_user("ann", "ann-password", "viewer")
    thumbs = {lib.thumbnail(m) for m in lib.media()["id"]}
    previews = {lib.thumbnail(m, "preview") for m in lib.media()["id"]}
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASS)
    with served_gallery(root) as (base, _log):
        ann = Visitor(base)
        assert ann.sign_in("ann", "ann-password").status_code == 302
        page = ann.get("/timeline")
        assert page.status_code == 200 and "2 items" in page.text
        tiles = [u for u in re.findall(r"<img src='([^']+)'", page.text)]
        assert {base64.b64decode(u.split(",", 1)[1]) for u in tiles} == thumbs          # decrypted on the server
        items = ann.get("/timeline/items?offset=0").json()["items"]
        assert {ann.get(it["preview"]).content for it in items} == previews
        downloads = {it["name"]: it["download"] for it in items}
        assert ann.get(downloads["p.jpg"]).content == photo
        ranged = ann.get(downloads["v.mp4"], headers={"Range": "bytes=1000-1999"})
        assert ranged.status_code == 206 and ranged.content == clip[1000:2000]

        # A flipped bit in the stored photo: the gallery never sends its bytes.
        key = "originals/" + lib.media().set_index("path").filter(like="p.jpg", axis=0).iloc[0]["blob"]
        stored = lib.storage.inner.root / lib.storage.name_of(key)
        raw = bytearray(stored.read_bytes())
        raw[len(raw) // 2] ^= 1
        stored.chmod(0o644)
        stored.write_bytes(bytes(raw))
        try:
            got = ann.get(downloads["p.jpg"])
            sent = got.content if got.status_code in (200, 206) else b""
        except requests.exceptions.RequestException:     # today: headers went out, then the connection is cut
            sent = b""
        assert sent != photo and photo[len(photo) // 2 - 32:len(photo) // 2 + 32] not in sent

        # The video's stored object copied over the photo's (a swap): refused before any status line promises
        # the photo, with a reason an admin can act on, and no byte of the video goes out under the photo's name.
        vkey = "originals/" + lib.media().set_index("path").filter(like="v.mp4", axis=0).iloc[0]["blob"]
        stored.write_bytes((lib.storage.inner.root / lib.storage.name_of(vkey)).read_bytes())
        got = ann.get(downloads["p.jpg"])
        assert got.status_code == 500 and "integrity check" in got.reason and clip[:4096] not in got.content
