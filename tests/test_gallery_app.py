"""The gallery app's behaviour, driven the way the browser drives it (widget values and clicks), on a real
library with two viewers who own different photos. The browser tests show the same in Chromium; these pin the
rules: who sees what, sessions, share links, and that nothing typed becomes markup."""
from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from factory import jpeg
from workbench.gallery.app import Gallery
from workbench.gallery.login import LoginPage
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


def sign_in(lib: Library, user: str, password: str | None = None) -> Gallery:
    app = Gallery(lib, "", full_page=True)
    assert isinstance(app.page, LoginPage)
    app.page.name.value = user
    app.page.password.value = PASSWORDS[user] if password is None else password
    app.page.submit.click()
    return app


def owned(lib: Library, owner: str) -> set[str]:
    return set(lib.media(owner=owner)["id"])


def test_the_app_starts_at_the_login_form(lib):
    app = Gallery(lib, "", full_page=True)
    assert isinstance(app.page, LoginPage)
    assert app.session_token is None


def test_a_wrong_password_is_refused_and_forgotten(lib):
    app = sign_in(lib, "bob", "guessing")
    assert isinstance(app.page, LoginPage)
    assert "wrong user name or password" in app.page.message.value.lower()
    assert app.page.password.value == "" and "guessing" not in app.page.message.value


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


def test_an_expired_session_goes_back_to_the_login_page_with_a_message(lib):
    lib.settings.session_lifetime_s = 1.0
    app = sign_in(lib, "bob")
    assert isinstance(app.page, Shell)
    time.sleep(1.5)
    app.page.nav["Albums"].click()
    assert isinstance(app.page, LoginPage)
    assert "sign in again" in app.page.message.value


def test_signing_out_ends_the_session(lib):
    app = sign_in(lib, "bob")
    token = app.session_token
    app.page.logout.click()
    assert isinstance(app.page, LoginPage) and "signed out" in app.page.message.value
    with pytest.raises(Exception, match="session"):
        lib.for_session(token).media()


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
    visitor = Gallery(lib, url.split("?", 1)[1], full_page=True)
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
        app = Gallery(lib, f"share={token}", full_page=True)
        reason = app.page.children[1].children[0].value if app.page.children else ""
        assert words in reason
        assert "wb-denied-page" in app.page._dom_classes


def test_a_link_revoked_while_open_is_denied_at_the_next_click(lib):
    view = lib.for_user("bob")
    album = view.create_album("Open page")
    view.add_to_album(album, sorted(owned(lib, "bob")))
    token = view.share_album(album)
    app = Gallery(lib, f"share={token}", full_page=True)
    assert len(app.page.grid.ids) == 3
    view.revoke_share(token)
    app.page.grid._tiles[0].opener.click()
    assert "wb-denied-page" in app.page._dom_classes


def test_a_share_link_with_a_password_asks_for_it(lib):
    view = lib.for_user("bob")
    album = view.create_album("Locked")
    view.add_to_album(album, sorted(owned(lib, "bob"))[:2])
    token = view.share_album(album, password="letmein-please")
    app = Gallery(lib, f"share={token}", full_page=True)
    page = app.page
    page.password.value = "nope nope"
    page.unlock.click()
    assert "wrong password" in page.password_message.value.lower()
    assert page.password.value == ""
    page.password.value = "letmein-please"
    page.unlock.click()
    assert len(page.grid.ids) == 2
