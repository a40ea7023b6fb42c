"""The gallery app's behaviour, driven the way the browser drives it (widget values and clicks), on a real
library with two viewers who own different photos. The browser tests show the same in Chromium; these pin the
rules: who sees what, sessions, share links, and that nothing typed becomes markup. (Signing in and share-link
passwords happen on the server's own pages before any kernel starts: tests/test_gallery_attacks.py.)"""
from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from factory import jpeg
from workbench.errors import AuthError, PasswordRequired
from workbench.gallery.app import Gallery
from workbench.gallery.shell import Shell
from workbench.library import Library

PASSWORDS = {"bob": "bob's long password", "carol": "carol's long password", "ann": "ann's long password"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gallery_app")
    lib = Library.open(root / "library", create=True)
    bob = [jpeg(root / "bob" / f"b{i}.jpg", seed=i, make="Canon", model="EOS 5D", taken=datetime(2023, 5, i + 1))
           for i in range(3)]
    carol = [jpeg(root / "carol" / f"c{i}.jpg", seed=10 + i, make="Nikon", model="Z6", taken=datetime(2024, 7, 1))
             for i in range(2)]
    lib.import_files(bob, owner="bob")
    lib.import_files(carol, owner="carol")
    lib.process(["thumbnails"])
    lib.add_user("bob", PASSWORDS["bob"])
    lib.add_user("carol", PASSWORDS["carol"])
    lib.add_user("ann", PASSWORDS["ann"], role="admin")
    return root / "library"


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def sign_in(lib: Library, user: str) -> Gallery:
    """What a kernel of the server shows after the server signed ``user`` in: the app acting for the session."""
    token = lib.login(user, PASSWORDS[user])
    app = Gallery(lib, lib.for_session(token), full_page=True, xsrf="x")
    app.session_token = token
    return app


def open_link(lib: Library, token: str) -> Gallery:
    """What a kernel shows for ``/?share=TOKEN`` once the server has opened the link."""
    return Gallery(lib, lib.for_share(token), full_page=True)


def ended(app: Gallery) -> str:
    """The text of the page shown when the session is gone ("" if the app is showing something else)."""
    return app.page.value if "wb-ended" in getattr(app.page, "_dom_classes", ()) else ""


def owned(lib: Library, owner: str) -> set[str]:
    return set(lib.media(owner=owner)["id"])


def test_without_a_visitor_the_app_shows_only_the_way_to_sign_in(lib):
    app = Gallery(lib, None, full_page=True)
    assert "Sign in" in ended(app) and "/login" in ended(app)
    assert not isinstance(app.page, Shell)


def test_a_viewer_sees_only_their_own_photos_and_cameras(lib):
    app = sign_in(lib, "bob")
    assert isinstance(app.page, Shell)
    grid = app.page.pages["Photos"].grid
    assert set(grid.ids) == owned(lib, "bob")
    assert "Nikon Z6" not in app.page.sidebar.camera.options
    assert "Canon EOS 5D" in app.page.sidebar.camera.options


def test_search_only_finds_the_viewers_photos(lib):
    app = sign_in(lib, "bob")
    app.page.search.value = "c0"           # carol's file name
    assert app.page.pages["Photos"].grid.ids == []
    app.page.search.value = "b1"
    assert app.page.pages["Photos"].grid.ids == list(owned(lib, "bob") & set(lib.search("b1")["id"]))


def test_the_viewer_refuses_media_of_somebody_else(lib):
    app = sign_in(lib, "bob")
    carols = sorted(owned(lib, "carol"))
    app.open_viewer(app.page.view, carols, 0)
    assert not app.viewer.is_open
    assert "no media with id" in app.page.message.value.lower()


def test_filters_narrow_the_timeline(lib):
    app = sign_in(lib, "ann")
    shell = app.page
    assert len(shell.pages["Photos"].grid.ids) == 5
    shell.sidebar.camera.value = "Nikon Z6"
    assert set(shell.pages["Photos"].grid.ids) == owned(lib, "carol")
    shell.sidebar.clear()
    shell.sidebar.since.value = datetime(2024, 1, 1).date()
    assert set(shell.pages["Photos"].grid.ids) == owned(lib, "carol")
    shell.sidebar.sort.value = "Name Z–A"
    assert shell.pages["Photos"].grid.rows["name"].tolist() == ["c1.jpg", "c0.jpg"]


def test_an_expired_session_empties_the_page_and_points_to_sign_in(lib):
    lib.settings.session_lifetime_s = 1.0
    app = sign_in(lib, "bob")
    assert isinstance(app.page, Shell)
    time.sleep(1.5)
    app.page.nav["Albums"].click()
    assert "sign in again" in ended(app) and "/login" in ended(app)
    assert app.view is None


def test_a_session_ended_elsewhere_stops_the_page_at_the_next_click(lib):
    app = sign_in(lib, "bob")
    lib.logout(app.session_token)
    app.page.nav["Places"].click()
    assert "sign in again" in ended(app)


def test_sign_out_is_a_form_posting_to_the_server_with_the_xsrf_token(lib):
    app = sign_in(lib, "bob")
    form = app.page.logout.value
    assert "method='post'" in form and "/logout'" in form and "name='_xsrf' value='x'" in form


def test_album_names_are_shown_as_text_never_as_markup(lib):
    app = sign_in(lib, "bob")
    shell = app.page
    shell.nav["Albums"].click()
    albums = shell.pages["Albums"]
    albums.new_name.value = "<img src=x onerror=alert(1)>"
    albums.create.click()
    assert "&lt;img src=x onerror=alert(1)&gt;" in albums.detail.heading.value
    assert "<img src=x" not in albums.detail.heading.value
    assert "<img src=x" not in shell.message.value


def test_selected_photos_go_into_an_album_that_a_link_then_shows(lib):
    app = sign_in(lib, "bob")
    shell = app.page
    shell.nav["Albums"].click()
    shell.pages["Albums"].new_name.value = "Holiday"
    shell.pages["Albums"].create.click()
    shell.nav["Photos"].click()
    photos = shell.pages["Photos"]
    photos.grid._tiles[0].toggle.value = True
    photos.grid._tiles[1].toggle.value = True
    photos.add.click()
    assert "Added 2 items" in shell.message.value
    shell.nav["Albums"].click()
    detail = shell.pages["Albums"].detail
    shell.pages["Albums"].open_album(lib.albums()["id"][0])
    detail.make_link.click()
    url = detail.new_link.value.split("wb-new-link'>")[1].split("<")[0]
    visitor = open_link(lib, url.split("share=", 1)[1])
    assert visitor.page.grid.ids and set(visitor.page.grid.ids) == set(photos.grid.ids[:2])


def test_a_revoked_or_expired_or_guessed_link_gets_the_denial_page(lib):
    view = lib.for_user("bob")
    album = view.create_album("Trip")
    view.add_to_album(album, list(owned(lib, "bob"))[:1])
    revoked = view.share_album(album)
    view.revoke_share(revoked)
    expired = view.share_album(album, expires=0.5)
    time.sleep(1.0)
    for token, words in ((revoked, "revoked"), (expired, "expired"), ("A" * 43, "not valid")):
        with pytest.raises(AuthError, match=words):      # the server shows its denial page; no kernel starts
            lib.share_link_status(token)


def test_a_link_revoked_while_open_is_denied_at_the_next_click(lib):
    view = lib.for_user("bob")
    album = view.create_album("Open page")
    view.add_to_album(album, sorted(owned(lib, "bob")))
    token = view.share_album(album)
    app = open_link(lib, token)
    assert len(app.page.grid.ids) == 3
    view.revoke_share(token)
    app.page.grid._tiles[0].opener.click()
    assert "wb-denied-page" in app.page._dom_classes


def test_a_share_link_with_a_password_opens_only_with_it(lib):
    view = lib.for_user("bob")
    album = view.create_album("Locked")
    view.add_to_album(album, sorted(owned(lib, "bob"))[:2])
    token = view.share_album(album, password="letmein-please")
    assert lib.share_link_status(token)["needs_password"]
    with pytest.raises(PasswordRequired, match="wrong password"):
        lib.for_share(token, "nope nope")
    page = open_link_with_password(lib, token, "letmein-please").page
    assert len(page.grid.ids) == 2


def open_link_with_password(lib: Library, token: str, password: str) -> Gallery:
    return Gallery(lib, lib.for_share(token, password), full_page=True)


def test_a_link_that_accepts_uploads_points_its_visitors_to_its_upload_page(lib):
    view = lib.for_user("bob")
    album = view.create_album("Party")
    view.add_to_album(album, sorted(owned(lib, "bob"))[:1])
    token = view.share_album(album)
    page_url = "http://photos.example.org/gallery/app?share=" + token   # the address the kernel was opened at

    def upload_link() -> str:
        app = Gallery(lib, lib.for_share(token), full_page=True, page_url=page_url, base_url="/gallery/")
        return app.page.upload.value

    assert upload_link() == ""                                          # off by default: no link
    lib.set_share_uploads(token, True)
    assert upload_link() == (f"<a class='jupyter-button wb-share-upload' href='/gallery/upload?share={token}'>"
                             f"Upload to this album</a>")
    app = Gallery(lib, lib.for_share(token), full_page=True, page_url=page_url, base_url="/gallery/")
    lib.set_share_uploads(token, False)                                 # turned off while the page is open
    app.page.sort.value = "Oldest first"                                # the next reload asks again
    assert app.page.upload.value == ""


def test_the_timeline_shows_media_that_arrive_while_it_is_open(lib, tmp_path):
    app = sign_in(lib, "bob")
    photos = app.page.pages["Photos"]
    before = list(photos.grid.ids)
    assert photos.check_for_new_media() is False                   # nothing arrived: no reload
    new = jpeg(tmp_path / "new" / "b9.jpg", seed=99, make="Canon", model="EOS 5D", taken=datetime(2023, 6, 1))
    Library.open(lib.root).import_files([new], owner="bob")       # another process's import or upload
    assert photos.check_for_new_media() is True
    assert len(photos.grid.ids) == len(before) + 1 and set(before) < set(photos.grid.ids)
    photos.grid.select([photos.grid.ids[0]])                        # busy with a selection: left alone
    Library.open(lib.root).import_files([jpeg(tmp_path / "new" / "b10.jpg", seed=98)], owner="bob")
    assert photos.check_for_new_media() is False


def test_the_open_timeline_checks_for_new_media_every_refresh_interval(lib, tmp_path):
    import asyncio
    import concurrent.futures
    import json
    (lib.root / "settings.json").write_text(json.dumps({"gallery_refresh_interval_s": 0.2}))

    async def page_open_while_a_photo_arrives() -> tuple[int, int]:
        app = sign_in(Library.open(lib.root), "bob")             # a kernel: its event loop runs the checks
        photos = app.page.pages["Photos"]
        shown = len(photos.grid.ids)
        new = jpeg(tmp_path / "new" / "b11.jpg", seed=97, taken=datetime(2023, 6, 2))
        Library.open(lib.root).import_files([new], owner="bob")
        for _ in range(50):                                       # up to 10 s on a loaded machine
            await asyncio.sleep(0.2)
            if len(photos.grid.ids) > shown:
                break
        return shown, len(photos.grid.ids)

    # On a thread of its own: in the full suite a browser test's sync Playwright may already run a loop here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        shown, later = pool.submit(asyncio.run, page_open_while_a_photo_arrives()).result(timeout=120)
    assert later == shown + 1


def test_a_viewer_without_photos_is_pointed_to_upload_not_to_the_server_command(lib):
    lib.add_user("dave", "dave's long password")          # a viewer who owns nothing yet
    PASSWORDS.setdefault("dave", "dave's long password")
    app = sign_in(lib, "dave")
    grid = app.page.pages["Photos"].grid
    assert grid.ids == []
    assert "Upload" in grid._empty.value
    assert "workbench import" not in grid._empty.value      # a viewer cannot run commands on the server
