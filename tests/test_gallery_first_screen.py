"""The gallery's first screen without a kernel (``/timeline``, ``workbench/gallery/first_screen.py``), against the
real `workbench gallery`: every request from a browser is hostile, so each test replays what a stranger, another
user, a signed-out visitor or a share-link visitor would try, and checks what they get (issue 15).

On a phone (390x844) in Debian's Chromium: the page fits, scrolling fetches more tiles, a photo opens its preview,
names full of markup stay text."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import psutil
import pytest

from browser import served_gallery
from factory import jpeg
from gallery_client import kernels_of, server_pid, Visitor

pytestmark = pytest.mark.slow

PASSWORD = {"ann": "ann-password", "bob": "bob-password"}
#: A file name and an album name that would run script if put into the page as markup.
EVIL_FILE = "<img src=x onerror=alert(1)>'\"&.jpg"
EVIL_ALBUM = "<script>alert('album')</script><b>Trip</b>"
#: More than one screen of tiles (48), so the page has to fetch the rest.
ANN_PHOTOS = 52


def secret_of(pid: int) -> str:
    """The server's signing secret, as its fork server inherited it (what a forger would need)."""
    from workbench.gallery.links import SECRET_ENV
    for p in psutil.Process(pid).children(recursive=True):
        env = p.environ()
        if env.get(SECRET_ENV):
            return env[SECRET_ENV]
    raise AssertionError("no child process with the secret")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from workbench.library import Library
    root = tmp_path_factory.mktemp("gallery_first_screen")
    lib = Library.open(root / "library", create=True)
    files = [jpeg(root / "ann" / f"a{i:02d}.jpg", w=320, h=240, seed=i) for i in range(ANN_PHOTOS - 1)]
    files.append(jpeg(root / "ann" / EVIL_FILE, w=320, h=240, seed=99))
    lib.import_files(files, owner="ann")
    lib.import_files([jpeg(root / "bob" / "b0.jpg", w=320, h=240, seed=1000)], owner="bob")
    lib.process(["thumbnails"])
    for name, pw in PASSWORD.items():
        lib.add_user(name, pw, "viewer")
    with served_gallery(root / "library") as (base, log):
        yield base, log, root / "library"


def signed_in(base: str, name: str = "ann") -> Visitor:
    v = Visitor(base)
    assert v.sign_in(name, PASSWORD[name]).status_code == 302
    return v


def media_of(library: Path, owner: str) -> list[str]:
    from workbench.library import Library
    return [r["id"] for r in Library.open(library).media().to_dict("records") if r["owner"] == owner]


def tiles(html: str) -> list[str]:
    """The tiles' pictures in a page: data: URLs (``gallery_first_screen_inline``) or signed links."""
    return [u.replace("&amp;", "&") for u in re.findall(r"<img src='([^']+)'", html)]


def pictures(html: str) -> list[str]:
    """The signed thumbnail links of a page's tiles (a tile's preview link names the same ticket)."""
    return [u.replace("&amp;", "&").replace("/workbench/preview/", "/workbench/thumb/")
            for u in re.findall(r"data-preview='([^']+)'", html)]


def inline_bytes(url: str) -> bytes:
    import base64
    assert url.startswith("data:image/webp;base64,")
    return base64.b64decode(url.split(",", 1)[1])


def ticket_of(url: str) -> dict:
    """What a picture's signed ticket says (its payload, without checking it)."""
    import base64
    import json
    payload = url.rsplit("/", 1)[1].split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_stranger_is_sent_to_sign_in_and_no_kernel_starts(server):
    base, log, _ = server
    before = len(kernels_of(server_pid(log)))
    stranger = Visitor(base)
    r = stranger.get("/timeline", allow_redirects=False)
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    j = stranger.get("/timeline/items?offset=0")
    assert j.status_code == 403 and j.headers["Content-Type"].startswith("application/json")
    assert "items" not in j.json()
    assert len(kernels_of(server_pid(log))) == before


def test_a_signed_in_visitor_lands_on_the_first_screen_with_the_app_one_click_away(server):
    base, log, _ = server
    before = len(kernels_of(server_pid(log)))
    ann = Visitor(base)
    r = ann.post("/login", {"name": "ann", "password": PASSWORD["ann"]})           # the form's own next: none
    assert r.status_code == 200 and r.url == base + "/timeline" and f"{ANN_PHOTOS} items" in r.text
    assert [h.headers["Location"] for h in r.history] == ["/", "/timeline"]
    again = ann.get("/", allow_redirects=False)                                     # the gallery's address
    assert again.status_code == 302 and again.headers["Location"] == "/timeline"
    assert ann.get("/login", allow_redirects=False).headers["Location"] == "/"      # already signed in
    assert len(kernels_of(server_pid(log))) == before                               # no kernel so far
    app = re.search(r"<a href='([^']+)' class='wb-full'>Search, albums &amp; people</a>", r.text)
    assert app and app.group(1) == "/app"
    page, kid = ann.page()                                                           # one click: the app
    assert page.status_code == 200 and kid
    ann.sign_out()
    stranger = Visitor(base).get("/")
    assert stranger.url.startswith(base + "/login") and "kernelId" not in stranger.text


def test_the_first_screen_is_plain_html_of_the_visitors_own_media_and_starts_no_kernel(server):
    from workbench.library import Library
    base, log, library = server
    before = len(kernels_of(server_pid(log)))
    ann = signed_in(base)
    r = ann.get("/timeline")
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and r.headers["X-Frame-Options"] == "DENY"
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) == []          # no inline script at all
    urls = pictures(r.text)
    assert len(urls) == 48 and f"{ANN_PHOTOS} items" in r.text
    assert ann.get("/timeline/static/first_screen.js").status_code == 200
    lib = Library.open(library)
    thumbs = {m: lib.thumbnail(m) for m in media_of(library, "ann")}
    # The first screen's thumbnails are in the page itself, read through ann's view with it.
    assert all(inline_bytes(u) in thumbs.values() for u in tiles(r.text))
    for u in urls[:5]:
        got = ann.get(u)
        assert got.status_code == 200 and got.headers["Content-Type"] == "image/webp"
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.content in thumbs.values()
    # The rest arrives as JSON, a page at a time, until there is no next page.
    page = ann.get("/timeline/items?offset=48").json()
    assert page["total"] == ANN_PHOTOS and len(page["items"]) == ANN_PHOTOS - 48 and page["next"] is None
    assert all(inline_bytes(it["thumb"]) in thumbs.values() for it in page["items"])
    assert all(set(it) >= {"name", "thumb", "preview", "download"} for it in page["items"])
    assert "id" not in page["items"][0]                                     # no media ids, only signed links
    preview = ann.get(page["items"][0]["preview"])
    assert preview.status_code == 200 and preview.content in {lib.thumbnail(m, "preview") for m in thumbs}
    assert ann.get(page["items"][0]["download"]).status_code == 200        # the original, by the media handler
    # bob's photo is on no page of ann's, and its picture never comes back to her.
    bob_thumb = lib.thumbnail(media_of(library, "bob")[0])
    all_urls = urls + [it["preview"].replace("/preview/", "/thumb/") for it in page["items"]]
    assert all(ann.get(u).content != bob_thumb for u in all_urls)
    assert bob_thumb not in [inline_bytes(u) for u in tiles(r.text)]
    assert len(kernels_of(server_pid(log))) == before


def test_sign_out_ends_the_page_its_json_and_its_pictures_at_once(server):
    base, _, _ = server
    ann = signed_in(base)
    urls = pictures(ann.get("/timeline").text)
    more = ann.get("/timeline/items?offset=48").json()["items"]
    assert ann.get(urls[0]).status_code == 200 and ann.get(more[0]["preview"]).status_code == 200
    ann.sign_out()
    assert ann.get(urls[0]).status_code == 403
    assert ann.get(more[0]["preview"]).status_code == 403
    assert ann.get(more[0]["download"]).status_code == 403
    assert ann.get("/timeline/items?offset=48").status_code == 403
    assert "/login" in ann.get("/timeline", allow_redirects=False).headers["Location"]


def test_a_pictures_link_works_only_for_the_visit_it_was_made_for(server):
    base, log, library = server
    ann = signed_in(base)
    url = pictures(ann.get("/timeline").text)[0]
    assert ann.get(url).status_code == 200
    assert Visitor(base).get(url).status_code == 403                      # copied out of the page
    assert signed_in(base, "bob").get(url).status_code == 403             # another user
    assert signed_in(base, "ann").get(url).status_code == 403             # ann, but another session
    # A forged ticket for bob's photo, signed with the server's own secret for ann's session: her view does
    # not list it, so nothing is served.
    from workbench.gallery import first_screen, links
    actor = "session:" + hashlib.sha256(ann.http.cookies["wb_session"].encode()).hexdigest()
    bob_photo = media_of(library, "bob")[0]
    forged = links.sign(secret_of(server_pid(log)), bob_photo, actor=actor)
    assert ann.get(f"/{first_screen.THUMB_ROUTE}/{forged}").status_code == 403
    assert ann.get(f"/{first_screen.PREVIEW_ROUTE}/{forged}").status_code == 403
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert ann.get(tampered).status_code == 403


def test_the_trash_and_album_membership_take_effect_at_once(server):
    from workbench.library import Library
    base, _, library = server
    lib = Library.open(library)
    ann_view, victim = lib.for_user("ann"), media_of(library, "ann")[0]
    album = ann_view.create_album("family")
    ann_view.add_to_album(album, [victim])
    ann_view.add_member(album, "bob")
    bob = signed_in(base, "bob")
    first = bob.get("/timeline").text
    assert "2 items" in first
    urls = pictures(first)
    assert all(bob.get(u).status_code == 200 for u in urls)
    ann_view.remove_member(album, "bob")
    assert sorted(bob.get(u).status_code for u in urls) == [200, 403]     # his own photo stays
    assert "1 item<" in bob.get("/timeline").text
    ann = signed_in(base)
    mine = [u for u in pictures(ann.get("/timeline").text)]
    assert all(ann.get(u).status_code == 200 for u in mine[:3])
    trashed = ticket_of(mine[0])["m"]
    lib.trash([trashed])
    try:
        assert ann.get(mine[0]).status_code == 403
        assert ann.get(mine[1]).status_code == 200
        assert f"{ANN_PHOTOS - 1} items" in ann.get("/timeline").text
    finally:
        lib.restore([trashed])
    assert ann.get(mine[0]).status_code == 200


def test_viewers_who_see_the_same_media_share_a_listing_yet_each_loses_access_alone(server):
    """Two members of one album see the same media, and the server lists them once for both (docs/benchmarks.md,
    "a listing shared between viewers"); leaving the album, or a session ended by another process (the CLI),
    still applies to that viewer alone, at once, to the page, its JSON and every picture."""
    from workbench.library import Library
    base, _, library = server
    lib = Library.open(library)
    ann_view = lib.for_user("ann")
    album = ann_view.create_album("club")
    ann_view.add_to_album(album, media_of(library, "ann")[:3])
    visitors = {}
    for name in ("cy", "dee"):
        lib.add_user(name, f"{name}-password", "viewer")
        ann_view.add_member(album, name)
        visitors[name] = v = Visitor(base)
        assert v.sign_in(name, f"{name}-password").status_code == 302
    cy, dee = visitors["cy"], visitors["dee"]
    cy_page, dee_page = cy.get("/timeline").text, dee.get("/timeline").text
    assert "3 items<" in cy_page and "3 items<" in dee_page
    assert all(dee.get(u).status_code == 200 for u in pictures(dee_page))
    ann_view.remove_member(album, "dee")
    assert "0 items<" in dee.get("/timeline").text
    assert dee.get("/timeline/items?offset=0").json()["items"] == []
    assert all(dee.get(u).status_code == 403 for u in pictures(dee_page))
    assert "3 items<" in cy.get("/timeline").text                                    # cy is still a member
    assert all(cy.get(u).status_code == 200 for u in pictures(cy_page))
    lib.logout(cy.http.cookies["wb_session"])                                        # not through the server
    assert cy.get("/timeline/items?offset=0").status_code == 403
    assert all(cy.get(u).status_code == 403 for u in pictures(cy_page))
    assert "/login" in cy.get("/timeline", allow_redirects=False).headers["Location"]


def test_a_share_link_shows_its_album_only_and_dies_when_revoked(server):
    from workbench.gallery import first_screen, links
    from workbench.library import Library
    base, log, library = server
    lib = Library.open(library)
    ann_view = lib.for_user("ann")
    mine = media_of(library, "ann")
    album = ann_view.create_album("shared")
    ann_view.add_to_album(album, mine[:2])
    token = ann_view.share_album(album)
    share_id = lib.share_link_status(token)["share_id"]
    guest = Visitor(base)
    r = guest.get("/timeline?share=" + token)
    assert r.status_code == 200 and "2 items shared by ann" in r.text
    urls = pictures(r.text)
    assert len(urls) == 2 and all(guest.get(u).status_code == 200 for u in urls)
    assert guest.get(f"/timeline/items?offset=0&share={share_id}").json()["total"] == 2
    assert guest.get("/timeline/items?offset=0").status_code == 403       # not a signed-in visitor
    assert guest.get(f"/timeline/items?offset=0&share={'0' * len(share_id)}").status_code == 403
    outside = links.sign(secret_of(server_pid(log)), mine[5], actor=f"share:{share_id}")
    assert guest.get(f"/{first_screen.THUMB_ROUTE}/{outside}").status_code == 403   # a ticket cannot widen it
    ann_view.revoke_share(share_id)
    assert all(guest.get(u).status_code == 403 for u in urls)
    assert guest.get(f"/timeline/items?offset=0&share={share_id}").status_code == 403
    assert guest.get("/timeline?share=" + token).status_code == 403


def test_a_protected_share_link_asks_for_its_password_first(server):
    from workbench.library import Library
    base, log, library = server
    lib = Library.open(library)
    ann_view = lib.for_user("ann")
    album = ann_view.create_album("locked")
    ann_view.add_to_album(album, media_of(library, "ann")[:1])
    token = ann_view.share_album(album, password="open sesame 123")
    before = len(kernels_of(server_pid(log)))
    guest = Visitor(base)
    r = guest.get("/timeline?share=" + token)
    assert r.status_code == 200 and "wb-share-form" in r.text and "<img src=" not in r.text
    wrong = guest.post("/timeline/share", {"share": token, "password": "nope"}, allow_redirects=False)
    assert wrong.status_code == 401
    right = guest.post("/timeline/share", {"share": token, "password": "open sesame 123"}, allow_redirects=False)
    assert right.status_code == 302 and right.headers["Location"].startswith("/timeline?share=")
    page = guest.get(right.headers["Location"])
    assert page.status_code == 200 and len(pictures(page.text)) == 1
    assert len(kernels_of(server_pid(log))) == before


def test_markup_in_file_and_album_names_is_shown_as_text(server):
    from workbench.library import Library
    base, _, library = server
    lib = Library.open(library)
    ann_view = lib.for_user("ann")
    album = ann_view.create_album(EVIL_ALBUM)
    evil = [r["id"] for r in lib.media().to_dict("records") if r["path"].endswith(EVIL_FILE)]
    ann_view.add_to_album(album, evil)
    token = ann_view.share_album(album)
    ann = signed_in(base)
    html = ann.get("/timeline").text + Visitor(base).get("/timeline?share=" + token).text
    assert "<img src=x" not in html and "<script>alert" not in html and "<b>Trip" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;alert(" in html
    items = ann.get("/timeline/items?offset=0&count=200")
    assert items.headers["Content-Type"].startswith("application/json")
    assert items.headers["X-Content-Type-Options"] == "nosniff"
    assert EVIL_FILE in [it["name"] for it in items.json()["items"]]        # data, set as text by the script


# -- in a browser, on a phone ------------------------------------------------------------------------------------

def test_on_a_phone_the_first_screen_fits_scrolls_and_opens_a_photo(server, browser):
    from test_gallery_devices import assert_fits
    base, log, _ = server
    before = len(kernels_of(server_pid(log)))
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = ctx.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(base + "/timeline", timeout=60_000)
        page.wait_for_selector("input[name=name]")
        page.fill("input[name=name]", "ann")
        page.fill("input[name=password]", PASSWORD["ann"])
        page.click(".wb-login-submit")
        page.wait_for_url("**/timeline")
        page.wait_for_function("() => document.querySelectorAll('.wb-tile img').length === 48 && "
                               "Array.from(document.querySelectorAll('.wb-tile img')).slice(0, 9)"
                               ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        assert_fits(page)
        tile = page.locator(".wb-tile").first.bounding_box()
        assert 100 <= tile["width"] <= 140                                # three tiles a row on a phone
        assert page.locator("a.wb-full").is_visible() and page.locator(".wb-logout").is_visible()
        # Scrolling to the end fetches the rest of the timeline.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(f"() => document.querySelectorAll('.wb-tile').length === {ANN_PHOTOS}",
                               timeout=30_000)
        assert page.locator("#wb-more").is_hidden()
        # Opening a photo shows its preview on the whole screen; the name with markup in it is text.
        page.locator(".wb-tile[title*='onerror']").click()
        page.wait_for_function("() => { const i = document.getElementById('wb-view-img');"
                               " return !document.getElementById('wb-view').hidden && i.complete &&"
                               " i.naturalWidth > 0 }", timeout=30_000)
        assert page.locator("#wb-view-name").text_content() == EVIL_FILE
        box = page.locator("#wb-view-img").bounding_box()
        assert box["width"] <= 390 and box["height"] <= 844
        assert_fits(page)
        page.locator("#wb-next").click() if page.locator("#wb-next").is_enabled() else None
        page.keyboard.press("Escape")
        assert page.locator("#wb-view").is_hidden()
        assert dialogs == [] and errors == []
        assert len(kernels_of(server_pid(log))) == before                 # no kernel for any of it
        # Sign-out from the page ends it: the next screen is the sign-in page, and the old pictures are refused.
        first = page.locator(".wb-tile").first.get_attribute("data-preview")
        assert page.request.get(base + first).status == 200
        page.click(".wb-logout")
        page.wait_for_selector("input[name=name]")
        assert page.request.get(base + first).status == 403
    finally:
        ctx.close()
