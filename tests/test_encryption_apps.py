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
