"""The upload page as a person uses it: Debian's Chromium against the real `workbench gallery` server. Sign in,
open Upload from the gallery's menu, pick two photos, watch them finish, find them in the library; on a phone
(390x844) drop one more onto the page. Screenshots land in test-artifacts/upload_*.png."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from browser import open_gallery, screenshot, served_gallery
from test_gallery_upload import jpeg_bytes

USER, PASSWORD = "ann", "ann-password"


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_upload_browser")
    lib = Library.open(root / "library", create=True)
    lib.add_user(USER, PASSWORD, "viewer")
    lib.settings.gallery_kernels_per_user = 50
    lib.settings.save(root / "library")
    # INFO: the log a failure shows has each request with its time, and each upload's steps.
    with served_gallery(root / "library", extra_args=("--log-level", "INFO")) as (base, log):
        yield base, root, log


def sign_in(browser, base: str, pages: list, next_path: str = "/", **size):
    w = open_gallery(browser, base + "/login?next=" + next_path, "input[name=name]", **size)
    pages.append(w)
    w.page.fill("input[name=name]", USER)
    w.page.fill("input[name=password]", PASSWORD)
    w.page.click(".wb-login-submit")
    return w


def wait_decided(page, log: Path, count: int, timeout_ms: int, selector: str = ".wb-file.done") -> None:
    """Wait until ``count`` files match ``selector``; on a timeout, fail with what the page shows for each file
    and the end of the gallery's log (a CI failure must say where an upload stopped)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function(f"() => document.querySelectorAll({selector!r}).length === {count}",
                               timeout=timeout_ms)
    except PlaywrightTimeout:
        states = page.evaluate("() => Array.from(document.querySelectorAll('.wb-file'), li => li.className + ': ' +"
                               " li.querySelector('.name').textContent + ' - ' + li.querySelector('.state').textContent)")
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:]) if log.exists() else "(no log)"
        pytest.fail(f"after {timeout_ms / 1000:g} s, {selector} != {count}; files: {states}\n"
                    f"total: {page.locator('#wb-total-text').inner_text()}\ngallery log tail:\n{tail}")


def media_ids(root: Path) -> set[str]:
    from workbench.library import Library
    return set(Library.open(root / "library").for_user(USER).media()["id"])


def test_two_photos_picked_on_the_upload_page_arrive_in_the_library(browser, gallery, pages, tmp_path):
    base, root, log = gallery
    files = []
    for i in (11, 12):
        p = tmp_path / f"beach-{i}.jpg"
        p.write_bytes(jpeg_bytes(i, (800, 600)))
        files.append(p)
    w = sign_in(browser, base, pages)
    page = w.page
    page.wait_for_selector(".wb-upload-link", timeout=120_000)     # the gallery's menu links to Upload
    page.click(".wb-upload-link")
    page.wait_for_selector("#wb-upload[data-ready]")    # upload.js has run
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url.split('/upload/', 1)[1].split('/')[0]}")
            if "/upload/" in r.url and r.method in ("POST", "PATCH") else None)
    page.set_input_files("#wb-files", [str(p) for p in files])
    wait_decided(page, log, 2, 150_000)        # seconds idle; a CI machine running two test files can take tens
    assert page.locator(".wb-file.failed").count() == 0
    # Hashed and asked about together, then each new photo in one request (its creation carries its bytes).
    assert sorted(sent) == ["POST files", "POST files", "POST known"]
    assert page.locator("#wb-total-text").inner_text().startswith("2 of 2 done")
    screenshot(page, "upload_done")
    import hashlib
    assert {hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in files} <= media_ids(root)
    # Back in the gallery, the timeline shows them.
    page.click(".wb-back")
    page.wait_for_function("() => document.querySelectorAll('.wb-grid .wb-tile').length >= 2", timeout=120_000)
    assert not [p for p in w.problems if "/voila/api/shutdown/" not in p]


def test_photos_picked_before_the_page_script_has_loaded_are_still_uploaded(browser, gallery, pages, tmp_path):
    """On a slow connection a person can pick files while ``upload.js`` is still on its way: the input's change
    event then fires before any listener exists. The script takes the files it finds picked when it starts. The
    race is replayed by holding back ``upload.js`` until the files are picked."""
    base, root, log = gallery
    photo = tmp_path / "early-14.jpg"
    photo.write_bytes(jpeg_bytes(14, (800, 600)))
    held: list = []
    w = sign_in(browser, base, pages)
    page = w.page
    page.wait_for_selector(".wb-upload-link", timeout=120_000)
    page.route("**/upload.js", lambda route: held.append(route))
    page.click(".wb-upload-link")
    page.wait_for_selector("#wb-files", state="attached")
    page.wait_for_function("() => true")          # lets the held request reach the route handler
    assert held and page.get_attribute("#wb-upload", "data-ready") is None   # the script has not run
    page.set_input_files("#wb-files", [str(photo)])
    held[0].continue_()
    page.wait_for_selector("#wb-upload[data-ready]")
    wait_decided(page, log, 1, 150_000)
    assert page.locator(".wb-file.failed").count() == 0


def test_on_a_phone_a_dropped_photo_uploads_and_a_refusal_says_why(browser, gallery, pages):
    base, root, log = gallery
    w = sign_in(browser, base, pages, "/upload", width=390, height=844)
    page = w.page
    page.wait_for_selector("#wb-upload[data-ready]")    # upload.js has run
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390       # no sideways scrolling
    photo = base64.b64encode(jpeg_bytes(13)).decode()
    page.evaluate("""([photo]) => {
        const bytes = Uint8Array.from(atob(photo), c => c.charCodeAt(0))
        const dt = new DataTransfer()
        dt.items.add(new File([bytes], 'dropped.jpg', {type: 'image/jpeg'}))
        dt.items.add(new File(['just some words'], 'notes.jpg', {type: 'image/jpeg'}))
        document.getElementById('wb-drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}))
    }""", [photo])
    # Both decided (a CI machine running two test files at once can take tens of seconds for this).
    wait_decided(page, log, 2, 150_000, ".wb-file.done, .wb-file.failed")
    done = page.locator(".wb-file.done .name").all_inner_texts()
    failed = page.locator(".wb-file.failed .state").all_inner_texts()
    assert done == ["dropped.jpg"]
    assert len(failed) == 1 and "not an image or video" in failed[0].lower()
    screenshot(page, "upload_phone")
    import hashlib
    assert hashlib.sha256(jpeg_bytes(13)).hexdigest()[:16] in media_ids(root)


def test_a_paused_upload_keeps_its_bytes_and_resumes_where_it_stopped(browser, gallery, pages, tmp_path):
    """On a slow link (Chromium's throttling: 1 MB/s up), Pause stops the transfer with part of the file on the
    server; Resume asks the server where it stopped and sends only the rest."""
    import os
    base, root, log = gallery
    w = sign_in(browser, base, pages, "/upload")
    page = w.page
    page.wait_for_selector("#wb-upload[data-ready]")    # upload.js has run
    big = tmp_path / "slow.jpg"
    # Above the size the page sends in one request: created first, then PATCHed, so a pause keeps what arrived.
    from workbench.gallery.upload import PAGE_ONE_REQUEST_MAX_BYTES
    big.write_bytes(jpeg_bytes(14) + os.urandom(PAGE_ONE_REQUEST_MAX_BYTES + 2 ** 20))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                   "uploadThroughput": 1_000_000})
    page.set_input_files("#wb-files", [str(big)])
    page.wait_for_function("() => document.querySelector('.wb-file.sending .state') && "
                           "/Sending · [0-9.]+ MB/.test(document.querySelector('.wb-file .state').textContent)",
                           timeout=60_000)
    page.click("#wb-pause")
    page.wait_for_selector(".wb-file.paused")
    assert page.locator("#wb-total-text").inner_text().endswith("paused")
    page.wait_for_timeout(1500)

    from workbench.library import Library
    lib = Library.open(root / "library")
    staged = [n for n in lib.storage.staging_names() if ".data" in n]
    assert len(staged) == 1
    kept = lib.storage.staging_file(staged[0]).stat().st_size
    assert 0 < kept < big.stat().st_size            # part of the file is on the server, none in the library
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                   "uploadThroughput": -1})
    offsets: list[int] = []
    page.on("request", lambda r: offsets.append(int(r.headers.get("upload-offset", -1)))
            if r.method == "PATCH" else None)
    page.click("#wb-resume")
    page.wait_for_selector(".wb-file.done", timeout=60_000)
    assert offsets and offsets[0] == kept              # the rest only, from where the server's bytes end
    import hashlib
    assert hashlib.sha256(big.read_bytes()).hexdigest()[:16] in media_ids(root)
