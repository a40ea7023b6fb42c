"""The gallery on a phone (390x844), a tablet (768x1024) and a laptop (1280x800), in Debian's Chromium with touch,
against the real `workbench gallery` on the demo library; and the gallery as an installed web app (manifest,
icons, the offline page of its service worker). Screenshots: test-artifacts/gallery_{phone,tablet}_*.png
(docs/gallery.md shows copies)."""
from __future__ import annotations

import contextlib
import io
import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from browser import ARTIFACTS, PageWatch, served_gallery

USER, PASSWORD = "alice", "correct horse battery"
PHONE, TABLET, LAPTOP = (390, 844), (768, 1024), (1280, 800)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    from workbench.demo import build
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_devices")
    with contextlib.redirect_stdout(io.StringIO()):
        build(root / "library", root / "media")
    lib = Library.open(root / "library")
    lib.add_user(USER, PASSWORD, role="curator")
    lib.settings.gallery_kernels_per_user = 50     # one person, a page per test (the cap is tested elsewhere)
    lib.settings.save(root / "library")
    return root / "library"


@pytest.fixture(scope="module")
def gallery(library):
    with served_gallery(library) as (base, log):
        yield base


def on_device(browser, base: str, pages: list, size: tuple[int, int], *, touch: bool = True) -> PageWatch:
    """A fresh browser context the size of the device (a phone's touch screen unless ``touch`` is off), signed
    in, with the timeline shown."""
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, has_touch=touch, is_mobile=touch,
                              accept_downloads=True)
    w = PageWatch(ctx.new_page())
    pages.append(w)
    page = w.page
    page.goto(base + "/app", timeout=120_000)
    page.wait_for_selector("input[name=name]", timeout=60_000)
    assert_fits(page)                                   # the sign-in page too
    page.fill("input[name=name]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click(".wb-login-submit")
    page.wait_for_selector(".wb-tile img", timeout=120_000)
    page.wait_for_timeout(500)                         # layout settles once the thumbnails arrive
    return w


def shot(page, name: str) -> None:
    """The screen as the device shows it (not the full scroll height) as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def assert_fits(page) -> None:
    """No sideways scrolling: neither the document nor any visible element reaches past the screen's right edge
    (things parked off the left edge, like the closed filter drawer or a hidden file input, scroll nothing)."""
    width = page.evaluate("innerWidth")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    outside = page.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter((e) => {
        const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
        if (!r.width || !r.height || s.visibility === 'hidden' || e.closest('.wb-sidebar')) return false;
        return r.right > innerWidth + 1;
      }).map((e) => e.className + ' ' + Math.round(e.getBoundingClientRect().left) + '..' +
                     Math.round(e.getBoundingClientRect().right)).slice(0, 5)""")
    assert outside == [], f"past the edge of a {width} px screen: {outside}"
    assert page.evaluate("Array.from(document.querySelectorAll('.wb-main, .wb-header'))"
                         ".every((e) => e.scrollWidth <= e.clientWidth + 1)")


def grid_columns(page) -> tuple[int, float]:
    """(columns of the timeline's first row, how much of the grid's width its tiles span)."""
    return page.evaluate("""() => {
        const g = document.querySelector('.wb-grid'); const gr = g.getBoundingClientRect();
        const tiles = Array.from(g.querySelectorAll('.wb-tile')).map((t) => t.getBoundingClientRect());
        const row = tiles.filter((r) => Math.abs(r.top - tiles[0].top) < 2);
        return [row.length, (row[row.length - 1].right - row[0].left) / gr.width];
      }""")


def visible_in_screen(page, selector: str) -> bool:
    return page.evaluate("""(sel) => { const e = document.querySelector(sel); if (!e || e.offsetParent === null)
        return false; const r = e.getBoundingClientRect();
        return r.width > 0 && r.left >= 0 && r.right <= innerWidth + 1 && r.top >= 0 && r.bottom <= innerHeight; }""",
                         selector)


def touch(page, *steps: list[tuple[float, float]]) -> None:
    """Fingers on the screen through Chromium's own touch input (CDP): the first step puts them down, the last
    lifts them, the ones between move them."""
    cdp = page.context.new_cdp_session(page)
    kinds = ["touchStart"] + ["touchMove"] * (len(steps) - 1)
    for kind, points in zip(kinds, steps):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i}
                                                                          for i, (x, y) in enumerate(points)]})
        page.wait_for_timeout(30)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def swipe(page, x0: float, x1: float, y: float) -> None:
    touch(page, *[[(x0 + (x1 - x0) * k / 6, y)] for k in range(7)])


@pytest.mark.parametrize("size,name", [(PHONE, "phone"), (TABLET, "tablet")])
def test_on_a_phone_and_a_tablet_the_timeline_fills_the_screen_with_a_menu_and_a_filter_drawer(
        browser, gallery, pages, size, name):
    w = on_device(browser, gallery, pages, size)
    page = w.page
    assert_fits(page)
    columns, spanned = grid_columns(page)
    assert columns >= 3 and spanned > 0.97                  # at least 3 columns, edge to edge
    shot(page, f"gallery_{name}_timeline")

    # Sections, Upload and Sign out wait behind the menu button.
    for sel in (".wb-nav-people", ".wb-nav-places", ".wb-nav-albums", "a.wb-upload-link", "button.wb-logout"):
        assert not visible_in_screen(page, sel)
    page.tap(".wb-menu-btn")
    for sel in (".wb-nav-people", ".wb-nav-places", ".wb-nav-albums", "a.wb-upload-link", "button.wb-logout"):
        page.wait_for_selector(sel, state="visible", timeout=5_000)
        assert visible_in_screen(page, sel), sel
    assert page.get_attribute("a.wb-upload-link", "href").endswith("/upload")
    assert_fits(page)
    shot(page, f"gallery_{name}_menu")
    for i, section in enumerate(("albums", "people", "places")):
        if i:
            page.tap(".wb-menu-btn")
        page.tap(f".wb-nav-{section}")
        page.wait_for_selector(f".wb-nav-{section}", state="hidden", timeout=5_000)   # the menu closes behind it
        page.wait_for_selector(f".wb-nav-{section}.mod-active", state="attached", timeout=30_000)
        page.wait_for_timeout(300)
        assert_fits(page)
    page.tap(".wb-menu-btn")
    page.tap(".wb-nav-photos")
    page.wait_for_selector(".wb-filters-btn", state="visible", timeout=30_000)

    # The filters are a drawer, out of the way until asked for.
    assert page.evaluate("document.querySelector('.wb-sidebar').getBoundingClientRect().right") <= 0
    page.tap(".wb-filters-btn")
    page.wait_for_function("document.querySelector('.wb-sidebar').getBoundingClientRect().left >= 0", timeout=5_000)
    shot(page, f"gallery_{name}_filters")
    page.tap(".wb-filter-kind button:has-text('Videos')")
    page.wait_for_function("document.querySelectorAll('.wb-grid .wb-tile').length === 1", timeout=30_000)
    page.tap(".wb-drawer-done")
    page.wait_for_function("document.querySelector('.wb-sidebar').getBoundingClientRect().right <= 0", timeout=5_000)
    assert visible_in_screen(page, ".wb-tile")
    assert not w.problems


def test_the_viewer_on_a_phone_swipes_pinches_and_downloads(browser, gallery, pages, library):
    from workbench.library import Library
    w = on_device(browser, gallery, pages, PHONE)
    page = w.page
    page.locator(".wb-tile .wb-open").nth(1).tap()           # a photo (the newest item is the video)
    page.wait_for_function("() => { const i = document.querySelector('.wb-stage img');"
                           " return i && i.offsetParent !== null && i.naturalWidth > 100; }", timeout=30_000)
    assert "2 of" in page.inner_text(".wb-info")
    assert_fits(page)
    assert visible_in_screen(page, "a.wb-download-btn")      # without scrolling the facts
    shot(page, "gallery_phone_viewer")
    box = page.locator(".wb-stage img").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    swipe(page, 330, 60, cy)                                  # right to left: the next one
    page.wait_for_function("document.querySelector('.wb-info').innerText.includes('3 of')", timeout=30_000)
    swipe(page, 60, 330, cy)                                  # left to right: back
    page.wait_for_function("document.querySelector('.wb-info').innerText.includes('2 of')", timeout=30_000)
    page.wait_for_timeout(300)

    before = page.locator(".wb-stage img").bounding_box()["width"]
    touch(page, [(cx - 40, cy), (cx + 40, cy)], [(cx - 80, cy), (cx + 80, cy)], [(cx - 120, cy), (cx + 120, cy)])
    after = page.locator(".wb-stage img").bounding_box()["width"]
    assert after / before > 2.5                               # fingers 80 -> 240 px apart: three times as large
    swipe(page, 300, 100, cy)                                 # zoomed in, one finger moves the picture instead
    page.wait_for_timeout(800)
    assert "2 of" in page.inner_text(".wb-info")
    touch(page, [(cx - 120, cy), (cx + 120, cy)], [(cx - 60, cy), (cx + 60, cy)], [(cx - 20, cy), (cx + 20, cy)])
    assert page.locator(".wb-stage img").bounding_box()["width"] == pytest.approx(before, rel=0.02)

    name = page.inner_text(".wb-info-title")
    with page.expect_download() as dl:
        page.tap("a.wb-download-btn")
    lib = Library.open(library)
    media = lib.media()
    mid = media.loc[media["name"] == name.lower(), "id"].iloc[0]
    assert Path(dl.value.path()).read_bytes() == lib.original_path(mid).read_bytes()
    assert not w.problems


def test_a_shared_album_fits_a_phone(browser, gallery, pages, library):
    from workbench.library import Library
    lib = Library.open(library)
    album = lib.create_album("A summer by the sea, with a name longer than a phone is wide", owner=USER)
    lib.add_to_album(album, list(lib.media()["id"])[:6])
    token = lib.share_album(album)
    ctx = browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]}, has_touch=True, is_mobile=True)
    w = PageWatch(ctx.new_page())
    pages.append(w)
    w.page.goto(f"{gallery}/?share={token}", timeout=120_000)
    w.page.wait_for_selector(".wb-tile img", timeout=120_000)
    w.page.wait_for_timeout(500)
    assert_fits(w.page)
    assert grid_columns(w.page)[0] >= 3
    assert not w.problems


def test_on_a_laptop_every_section_name_shows_whole(browser, gallery, pages):
    w = on_device(browser, gallery, pages, LAPTOP, touch=False)
    page = w.page
    assert_fits(page)
    clipped = page.evaluate("Array.from(document.querySelectorAll('.wb-nav button'))"
                            ".filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.innerText)")
    assert clipped == []                                      # "Albums", not "Albu…"
    for sel in (".wb-nav-albums", "a.wb-upload-link", "button.wb-logout", ".wb-search input", ".wb-sidebar"):
        assert visible_in_screen(page, sel), sel
    assert not visible_in_screen(page, ".wb-menu-btn") and not visible_in_screen(page, ".wb-filters-btn")
    assert grid_columns(page)[0] >= 5
    assert not w.problems


def test_the_gallery_installs_as_a_web_app_and_shows_its_offline_page_without_a_network(browser, gallery, pages):
    w = on_device(browser, gallery, pages, PHONE)
    page = w.page
    href = page.evaluate("document.querySelector('link[rel=manifest]').href")
    with urllib.request.urlopen(href, timeout=30) as r:
        assert r.headers["Content-Type"].startswith("application/manifest+json")
        manifest = json.loads(r.read())
    assert manifest["display"] == "standalone" and manifest["name"] and manifest["start_url"]
    from PIL import Image
    sizes = set()
    for icon in manifest["icons"]:
        with urllib.request.urlopen(urllib.parse.urljoin(href, icon["src"]), timeout=30) as r:
            im = Image.open(io.BytesIO(r.read()))
            assert im.format == "PNG" and f"{im.width}x{im.height}" == icon["sizes"]
            sizes.add(im.width)
    assert {192, 512} <= sizes

    # The sign-in page links the same manifest, and its policy still allows no script.
    with urllib.request.urlopen(gallery + "/login", timeout=30) as r:
        csp = r.headers["Content-Security-Policy"]
        assert "manifest.webmanifest" in r.read().decode()
    assert "default-src 'none'" in csp and "script-src" not in csp and "manifest-src 'self'" in csp
    # What the worker and the offline page are served with: a stranger gets them (they name nothing of the
    # library), typed, never sniffed or framed; the offline page runs no script.
    with urllib.request.urlopen(gallery + "/sw.js", timeout=30) as r:
        assert r.headers["Content-Type"].startswith("text/javascript")
        assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
        assert "respondWith" in r.read().decode()
    with urllib.request.urlopen(gallery + "/offline", timeout=30) as r:
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert "script-src" not in r.headers["Content-Security-Policy"] and "<script" not in r.read().decode()

    # The service worker is installed with the first page and controls the next ...
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")
    page.reload()
    page.wait_for_selector(".wb-tile img", timeout=120_000)
    assert page.evaluate("!!navigator.serviceWorker.controller")
    # ... and without a network a page opens as the offline page instead of the browser's error.
    page.context.set_offline(True)
    try:
        page.goto(gallery + "/?from=offline", timeout=30_000)
        page.wait_for_selector(".wb-offline-reason", timeout=30_000)
        assert "offline" in page.inner_text("h1").lower()
        assert_fits(page)
        shot(page, "gallery_phone_offline")
    finally:
        page.context.set_offline(False)


def test_a_photo_uploads_from_the_phone_menu_through_the_file_picker(browser, gallery, pages, tmp_path):
    # Last in this module: the new photo joins the timeline the other tests count on.
    from factory import jpeg
    w = on_device(browser, gallery, pages, PHONE)
    page = w.page
    page.tap(".wb-menu-btn")
    page.tap("a.wb-upload-link")
    page.wait_for_url("**/upload", timeout=30_000)
    assert_fits(page)
    with page.expect_file_chooser() as chooser:              # the phone's own picker
        page.tap("label:has(.wb-pick-files)")
    chooser.value.set_files(str(jpeg(tmp_path / "from-the-phone.jpg", seed=42)))
    page.wait_for_selector(".wb-file.done", timeout=60_000)
    assert "from-the-phone.jpg" in page.inner_text(".wb-files") and "Added" in page.inner_text(".wb-file.done")
    assert_fits(page)
    # Leaving the gallery page sends its kernel's shutdown beacon, which the browser reports as cancelled.
    assert [p for p in w.problems if "/voila/api/shutdown/" not in p] == []
