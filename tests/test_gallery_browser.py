"""The gallery as a person uses it: Debian's Chromium against the real `workbench gallery` server on the demo
library. Log in, browse, search, open a photo, play a video, download, make an album, share it, open the link in
a fresh browser, revoke it, log out. Screenshots land in test-artifacts/gallery_*.png."""
from __future__ import annotations

import contextlib
import io
import re
import time
from pathlib import Path

import pytest

from browser import open_gallery, screenshot, served_gallery

USER, PASSWORD = "alice", "correct horse battery"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    from workbench.demo import build
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_browser")
    with contextlib.redirect_stdout(io.StringIO()):
        build(root / "library", root / "media")
    lib = Library.open(root / "library")
    lib.add_user(USER, PASSWORD, role="curator")
    # One person opens a page per test here, faster than closed tabs' kernels go: lift the per-person cap
    # (the cap itself is tested in test_gallery_attacks.py).
    lib.settings.gallery_kernels_per_user = 50
    lib.settings.save(root / "library")
    return root / "library"


@pytest.fixture(scope="module")
def gallery(library):
    with served_gallery(library) as (base, log):
        yield base, log


def sign_in(browser, base: str, pages: list, user: str = USER, password: str = PASSWORD):
    """The server's own sign-in page (no kernel yet): the app sends a stranger there, and back to the app after."""
    w = open_gallery(browser, base + "/app", "input[name=name]")
    pages.append(w)
    page = w.page
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", password)
    page.click(".wb-login-submit")
    return w


def signed_in(browser, base: str, pages: list):
    w = sign_in(browser, base, pages)
    w.page.wait_for_selector(".wb-tile", timeout=60_000)
    return w


def problems(w, page_status: int | None = None) -> list[str]:
    """What went wrong on a page, except the browser's note that the page itself came with ``page_status`` (the
    server's denial page is a 403, a refused password a 401: right answers, which Chromium logs as errors)."""
    note = f"status of {page_status}" if page_status else None
    # A tab's shutdown beacon on reload is reported as a cancelled request by the page it left.
    return [p for p in w.problems if not (note and note in p) and "/voila/api/shutdown/" not in p]


def tiles(page) -> int:
    return page.locator(".wb-grid .wb-tile").count()


def test_a_wrong_password_is_refused_with_a_message(browser, gallery, pages):
    base, log = gallery
    w = sign_in(browser, base, pages, password="not the password")
    w.page.wait_for_selector(".msg.error", timeout=30_000)
    assert "wrong user name or password" in w.page.inner_text(".msg.error").lower()
    assert w.page.locator(".wb-tile").count() == 0
    assert w.page.input_value("input[name=password]") == ""      # the typed password does not come back
    assert w.page.input_value("input[name=name]") == USER
    assert "not the password" not in log.read_text() and "not the password" not in w.page.content()
    screenshot(w.page, "gallery_login_refused")
    assert not problems(w, 401)


def test_signing_in_shows_the_timeline_of_the_library(browser, gallery, pages, library):
    from workbench.library import Library
    base, _ = gallery
    w = signed_in(browser, base, pages)
    page = w.page
    n = len(Library.open(library).media())
    page.wait_for_function(f"document.querySelectorAll('.wb-grid .wb-tile').length === {n}", timeout=30_000)
    assert page.locator(".wb-heading").count() >= 1                     # month headings of the timeline
    assert USER in page.inner_text(".wb-user")
    assert page.locator(".wb-tile img").first.evaluate("img => img.naturalWidth") > 0
    screenshot(page, "gallery_timeline")
    assert not w.problems


def test_the_sidebar_filters_to_videos_and_back(browser, gallery, pages):
    base, _ = gallery
    w = signed_in(browser, base, pages)
    page = w.page
    page.click(".wb-filter-kind button:has-text('Videos')")
    page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length === 1", timeout=30_000)
    assert "▶" in page.inner_text(".wb-tile .wb-open")
    page.click(".wb-reset")
    page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length > 1", timeout=30_000)
    assert not w.problems


def test_search_finds_photos_by_words(browser, gallery, pages):
    base, _ = gallery
    w = signed_in(browser, base, pages)
    page = w.page
    page.fill(".wb-search input", "astronaut")
    page.press(".wb-search input", "Enter")
    page.wait_for_selector(".wb-title:has-text('Results for')", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length === 2", timeout=30_000)
    names = [page.locator(".wb-tile .wb-open").nth(i).get_attribute("title") for i in range(2)]
    assert all("astronaut" in n for n in names)
    screenshot(page, "gallery_search")
    assert not w.problems


def test_a_photo_opens_full_size_with_its_details_and_arrow_keys_move(browser, gallery, pages):
    base, _ = gallery
    w = signed_in(browser, base, pages)
    page = w.page
    page.locator(".wb-tile .wb-open").nth(1).click()
    page.wait_for_selector(".wb-viewer", state="visible")
    page.wait_for_function("() => { const i = document.querySelector('.wb-stage img');"
                           " return i && i.naturalWidth > 300; }", timeout=30_000)
    first = page.inner_text(".wb-info-title")
    assert "2 of" in page.inner_text(".wb-info")
    assert "Taken" in page.inner_text(".wb-info table")
    screenshot(page, "gallery_viewer")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.querySelector('.wb-info-title').innerText !== {first!r}", timeout=30_000)
    assert "3 of" in page.inner_text(".wb-info")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"document.querySelector('.wb-info-title').innerText === {first!r}", timeout=30_000)
    page.keyboard.press("Escape")
    page.wait_for_selector(".wb-viewer", state="hidden", timeout=30_000)
    assert not w.problems


def test_the_original_downloads_byte_for_byte(browser, gallery, pages, library):
    from workbench.library import Library
    base, _ = gallery
    w = signed_in(browser, base, pages)
    page = w.page
    page.locator(".wb-tile .wb-open").nth(1).click()
    page.wait_for_selector("a.wb-download", state="visible")
    name = page.inner_text(".wb-info-title")
    with page.expect_download() as dl:
        page.click("a.wb-download")
    data = Path(dl.value.path()).read_bytes()
    assert dl.value.suggested_filename == name
    lib = Library.open(library)
    media = lib.media()
    mid = media.loc[media["name"] == name.lower(), "id"].iloc[0]
    assert data == lib.original_path(mid).read_bytes()
    assert not w.problems


def test_a_video_plays_in_the_viewer(browser, gallery, pages):
    base, _ = gallery
    w = signed_in(browser, base, pages)
    page = w.page
    page.click(".wb-filter-kind button:has-text('Videos')")
    page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length === 1", timeout=30_000)
    page.click(".wb-tile .wb-open")
    video = page.wait_for_selector("video.wb-video", timeout=30_000)
    page.wait_for_function("document.querySelector('video.wb-video').readyState >= 1", timeout=30_000)
    assert page.evaluate("document.querySelector('video.wb-video').duration") == pytest.approx(4.0, abs=0.3)
    page.evaluate("() => { const v = document.querySelector('video.wb-video'); v.muted = true; return v.play(); }")
    page.wait_for_function("document.querySelector('video.wb-video').currentTime > 1.0", timeout=30_000)
    assert video.evaluate("v => v.error") is None
    screenshot(page, "gallery_video")
    assert not w.problems


def test_the_people_page_shows_a_face_per_person_and_opens_their_photos(browser, gallery, pages, library):
    from workbench.library import Library
    base, _ = gallery
    person = Library.open(library).people().iloc[0]
    w = signed_in(browser, base, pages)
    page = w.page
    page.click(".wb-nav-people")
    page.wait_for_selector(".wb-people .wb-card img", timeout=30_000)
    assert page.locator(".wb-people .wb-card").count() == 1
    assert page.locator(".wb-people .wb-card img").first.evaluate("img => img.naturalWidth") > 0
    screenshot(page, "gallery_people")
    page.locator(".wb-people .wb-card .wb-open").first.click()
    page.wait_for_function(f"document.querySelectorAll('.wb-grid .wb-tile').length === {int(person.media_count)}",
                           timeout=30_000)
    assert page.locator(".wb-filter-person select").input_value() != "Any"
    assert not w.problems


def test_an_album_is_made_shared_by_link_opened_elsewhere_and_revoked(browser, gallery, pages):
    base, _ = gallery
    w = signed_in(browser, base, pages)
    page = w.page
    # a new album
    page.click(".wb-nav-albums")
    page.fill(".wb-new-album-name input", "Summer <b>2024</b>")
    page.click(".wb-create-album")
    page.wait_for_selector(".wb-album .wb-title:has-text('Summer <b>2024</b>')", timeout=30_000)  # shown as text
    # two photos into it
    page.click(".wb-nav-photos")
    page.wait_for_selector(".wb-tile")
    page.locator(".wb-tile .wb-select").nth(1).click()
    page.locator(".wb-tile .wb-select").nth(2).click()
    page.wait_for_selector(".wb-actionbar:has-text('2 items selected')", timeout=30_000)
    page.click(".wb-add-to-album")
    page.wait_for_selector(".wb-message.ok:has-text('Added 2 items')", timeout=30_000)
    # the album page, and a link to it
    page.click(".wb-nav-albums")
    page.locator(".wb-card .wb-open").first.click()
    page.wait_for_function("document.querySelectorAll('.wb-album .wb-grid .wb-tile').length === 2", timeout=30_000)
    page.click(".wb-create-share")
    link = page.wait_for_selector(".wb-new-link", timeout=30_000).inner_text().strip()
    assert re.fullmatch(re.escape(base) + r"/\?share=[A-Za-z0-9_\-]{40,}", link)
    page.wait_for_selector(".wb-revoke", timeout=30_000)
    screenshot(page, "gallery_album")
    # somebody else opens it: no account, only that album
    other = open_gallery(browser, link, ".wb-share-title")
    pages.append(other)
    other.page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length === 2", timeout=30_000)
    assert "Summer <b>2024</b>" in other.page.inner_text(".wb-share-title")
    assert other.page.locator(".wb-nav-photos, .wb-search, .wb-login-name").count() == 0
    screenshot(other.page, "gallery_share")
    other.page.locator(".wb-tile .wb-open").first.click()
    other.page.wait_for_selector(".wb-viewer", state="visible", timeout=30_000)
    other.page.keyboard.press("Escape")
    other.page.wait_for_selector(".wb-viewer", state="hidden", timeout=30_000)
    # the owner revokes it: the open page loses it at its next click, and a fresh visit is denied
    page.click(".wb-revoke")
    page.wait_for_selector(".wb-message.ok:has-text('revoked')", timeout=30_000)
    other.page.locator(".wb-tile .wb-open").first.click()
    other.page.wait_for_selector(".wb-denied-page", timeout=30_000)
    again = open_gallery(browser, link, ".wb-denied-page")
    pages.append(again)
    assert "revoked" in again.page.inner_text(".wb-denied-reason")
    screenshot(again.page, "gallery_share_revoked")
    assert not w.problems and not other.problems and not problems(again, 403)


def test_a_share_link_with_a_password_asks_for_it(browser, gallery, pages, library):
    from workbench.library import Library
    base, log = gallery
    lib = Library.open(library)
    album = lib.create_album("Locked", owner=USER)
    lib.add_to_album(album, lib.media()["id"][:3])
    token = lib.for_user(USER).share_album(album, password="open sesame 42")
    w = open_gallery(browser, f"{base}/?share={token}", "input[name=password]")    # the server's page: no kernel
    pages.append(w)
    page = w.page
    page.fill("input[name=password]", "wrong guess")
    page.click(".wb-share-open")
    page.wait_for_selector(".msg.error:has-text('wrong password')", timeout=30_000)
    page.fill("input[name=password]", "open sesame 42")
    page.click(".wb-share-open")
    page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length === 3", timeout=60_000)
    page.reload()      # the unlocked link is remembered by this browser (a signed, HttpOnly cookie)
    page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length === 3", timeout=60_000)
    assert not problems(w, 401)
    assert "Kernel shutdown" in log.read_text()     # the reloaded tab's kernel went with it (the beacon)


def test_a_guessed_share_token_is_denied(browser, gallery, pages):
    base, _ = gallery
    w = open_gallery(browser, f"{base}/?share=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ".wb-denied-page")
    pages.append(w)
    assert "not valid" in w.page.inner_text(".wb-denied-reason")
    assert w.page.locator(".wb-tile").count() == 0
    screenshot(w.page, "gallery_share_denied")
    assert not problems(w, 403)


def test_an_ended_session_empties_the_page_at_the_next_click(browser, gallery, pages, library):
    from workbench.library import Library
    base, _ = gallery
    w = signed_in(browser, base, pages)
    Library.open(library).set_password(USER, PASSWORD)      # a password change ends every open session
    w.page.click(".wb-nav-people")
    w.page.wait_for_selector(".wb-ended", timeout=30_000)
    assert "sign in again" in w.page.inner_text(".wb-ended").lower()
    assert w.page.locator(".wb-tile").count() == 0
    w.page.click(".wb-signin-link")
    w.page.wait_for_selector("input[name=name]", timeout=30_000)
    assert not problems(w)


def test_signing_out_returns_to_the_login_page(browser, gallery, pages):
    base, _ = gallery
    w = signed_in(browser, base, pages)
    w.page.click(".wb-logout")
    w.page.wait_for_selector("input[name=name]", timeout=30_000)
    assert "signed out" in w.page.inner_text(".msg.ok")
    assert w.page.locator(".wb-tile").count() == 0
    screenshot(w.page, "gallery_login")
    assert not problems(w)


def test_preheated_kernels_serve_sign_in_and_share_links(browser, library, pages):
    """With --preheat the kernel is started (library open) before anyone asks; it still learns from the server
    whom it acts for, and the next visitor gets a fresh kernel of their own."""
    with served_gallery(library, extra_args=("--preheat", "1")) as (base, log):
        w = open_gallery(browser, f"{base}/?share=not-a-real-token", ".wb-denied-page")
        pages.append(w)
        assert "not valid" in w.page.inner_text(".wb-denied-reason")
        deadline = time.monotonic() + 120     # the pool's kernel has opened the library and waits for a visitor
        while "is filled with 1 kernel" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        w2 = signed_in(browser, base, pages)
        assert tiles(w2.page) > 0
        assert "Using pre-heated kernel" in log.read_text()
        assert not problems(w, 403) and not w2.problems


def test_scrolling_to_the_end_of_the_timeline_loads_the_next_chunk(browser, tmp_path_factory, pages):
    """A library larger than one chunk: the grid shows 48 tiles, and scrolling down brings the rest without a
    click (the "load more" button is pressed by the page when it comes into view)."""
    from datetime import datetime, timedelta

    from factory import jpeg
    from workbench.gallery.grid import DEFAULT_CHUNK_SIZE
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_scroll")
    lib = Library.open(root / "library", create=True)
    n = DEFAULT_CHUNK_SIZE + 12
    lib.import_files([jpeg(root / "media" / f"p{i:03d}.jpg", 96, 64, seed=i, taken=datetime(2020, 1, 1)
                           + timedelta(days=9 * i)) for i in range(n)], owner=USER)
    lib.process(["thumbnails"])
    lib.add_user(USER, PASSWORD)
    with served_gallery(root / "library") as (base, _):
        w = signed_in(browser, base, pages)
        page = w.page
        page.wait_for_function(f"document.querySelectorAll('.wb-grid .wb-tile').length === {DEFAULT_CHUNK_SIZE}",
                               timeout=30_000)
        assert f"{n} items" in page.inner_text(".wb-photos")
        page.locator(".wb-main").evaluate("el => el.scrollTo(0, el.scrollHeight)")
        page.wait_for_function(f"document.querySelectorAll('.wb-grid .wb-tile').length === {n}", timeout=30_000)
        # the button hides in a widget update that may arrive just after the last tiles
        page.wait_for_selector(".wb-more", state="hidden", timeout=30_000)
        assert not w.problems
