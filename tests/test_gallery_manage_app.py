"""The gallery's management buttons, driven the way the browser drives them (widget values and clicks), on a real
library: the viewer's ☆ and trash, the Favourites and Trash pages, the timeline's selection bar, arranging an
album and choosing its cover, the people tools (curators only), and the zip download form the page posts."""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from factory import jpeg
from workbench.gallery import links
from workbench.gallery.app import Gallery
from workbench.gallery.manage import download_form, moved
from workbench.library import Library

PASSWORDS = {"bob": "bob's long password", "carol": "carol's long password"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gallery_manage_app")
    lib = Library.open(root / "library", create=True)
    bob = [jpeg(root / "bob" / f"b{i}.jpg", 96, 64, seed=i, taken=datetime(2023, 5, i + 1)) for i in range(3)]
    lib.import_files(bob, owner="bob")
    lib.process(["thumbnails"])
    lib.add_user("bob", PASSWORDS["bob"])
    lib.add_user("carol", PASSWORDS["carol"], role="curator")
    return root / "library"


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def sign_in(lib: Library, user: str) -> Gallery:
    return Gallery(lib, lib.for_session(lib.login(user, PASSWORDS[user])), full_page=True, xsrf="x")


def test_the_viewers_star_marks_a_favourite_and_the_favourites_page_lists_it(lib):
    app = sign_in(lib, "bob")
    shell = app.page
    grid = shell.pages["Photos"].grid
    app.open_viewer(shell.view, grid.ids, 0)
    first = grid.ids[0]
    star = next(w for w in app.viewer.info.children[1].children if "wb-favourite" in w._dom_classes)
    assert star.description.startswith("☆")
    star.click()
    assert star.description.startswith("★") and shell.view.favourite_ids() == {first}
    app.viewer.hide()
    shell.nav["Favourites"].click()
    assert shell.pages["Favourites"].grid.ids == [first]


def test_trash_from_the_viewer_moves_on_and_the_trash_page_restores(lib):
    app = sign_in(lib, "bob")
    shell = app.page
    ids = shell.pages["Photos"].grid.ids
    app.open_viewer(shell.view, ids, 0)
    trash = next(w for w in app.viewer.info.children[1].children if "wb-trash" in w._dom_classes)
    trash.click()
    assert app.viewer.is_open and app.viewer.ids == ids[1:] and app.viewer.index == 0
    assert shell.pages["Photos"].grid.ids == ids[1:]          # the timeline behind it was refreshed
    shell.nav["Trash"].click()
    page = shell.pages["Trash"]
    assert page.grid.ids == [ids[0]]
    page.grid.select([ids[0]])
    page.restore.click()
    assert page.grid.ids == [] and set(lib.for_user("bob").media()["id"]) == set(ids)


def test_the_selection_bar_selects_all_and_marks_favourites(lib):
    app = sign_in(lib, "bob")
    photos = app.page.pages["Photos"]
    photos.grid.select(photos.grid.ids[:1])
    assert photos.bar.layout.display == ""
    photos.tools.all.click()
    assert list(photos.grid.selected) == photos.grid.ids
    photos.tools.favourite.click()
    assert app.page.view.favourite_ids() == set(photos.grid.ids)
    assert "3 items added to your favourites" in app.page.message.value


def test_an_album_is_arranged_with_the_move_buttons_and_gets_a_cover(lib):
    app = sign_in(lib, "bob")
    shell = app.page
    view = shell.view
    album = view.create_album("Trip")
    view.add_to_album(album, view.media()["id"])
    shell.goto("Albums", album=album)
    detail = shell.pages["Albums"].detail
    newest_first = detail.grid.ids
    detail.grid.select([newest_first[2]])
    detail.moves["start"].click()
    assert detail.grid.ids == [newest_first[2], newest_first[0], newest_first[1]]
    assert list(detail.grid.selected) == [newest_first[2]]          # still selected, to move on
    detail.moves["later"].click()
    assert detail.grid.ids == [newest_first[0], newest_first[2], newest_first[1]]
    detail.cover.click()
    assert view.album_cover(album) == newest_first[2]
    assert detail.arrange.layout.display == ""


def test_a_viewer_member_of_an_album_sees_no_arranging_buttons(lib):
    lib.add_user("dan", "dan's long password")
    bob = lib.for_user("bob")
    album = bob.create_album("Seen")
    bob.add_to_album(album, bob.media()["id"])
    bob.add_member(album, "dan", "viewer")
    app = Gallery(lib, lib.for_session(lib.login("dan", "dan's long password")), full_page=True, xsrf="x")
    app.page.goto("Albums", album=album)
    detail = app.page.pages["Albums"].detail
    detail.grid.select(detail.grid.ids[:1])
    assert detail.arrange.layout.display == "none" and detail.remove.layout.display == "none"
    app.open_viewer(app.page.view, detail.grid.ids, 0)           # bob's photo: dan may look, not trash it
    trash = next(w for w in app.viewer.info.children[1].children if "wb-trash" in w._dom_classes)
    assert trash.layout.display == "none"


FR = "faces/face_recognition"
FACES = ["tests/test_images/obama.jpg", "tests/test_images/obama2.jpg", "examples/knn_examples/train/biden/biden.jpg",
         "examples/knn_examples/train/biden/biden2.jpg"]


@pytest.mark.slow
def test_a_curator_names_and_merges_people_on_the_people_page_and_a_viewer_is_refused(corpus, tmp_path):
    lib = Library.create(tmp_path / "lib")
    folder = tmp_path / "bob"
    folder.mkdir()
    for rel in FACES:
        shutil.copy(corpus / FR / rel, folder / rel.replace("/", "_"))
    lib.import_files([folder], owner="bob", progress=False)
    lib.process(["thumbnails", "face_scans"], progress=False)
    lib.add_user("bob", PASSWORDS["bob"])
    lib.add_user("carol", PASSWORDS["carol"], role="curator")
    people = lib.people()
    assert len(people) == 2

    bob = sign_in(lib, "bob")                     # bob owns every photo, so he sees both people
    bob.page.nav["People"].click()
    assert bob.page.pages["People"].tools.layout.display == "none"
    from workbench.errors import AccessDenied
    with pytest.raises(AccessDenied):             # the page hid the tools; the access layer refuses anyway
        bob.page.view.merge_people(*people["person_id"])
    with pytest.raises(AccessDenied):
        bob.page.view.name_person(people["person_id"].iloc[0], "Mallory")

    app = sign_in(lib, "carol")
    app.page.nav["People"].click()
    tools = app.page.pages["People"].tools
    assert tools.layout.display == ""
    keep, other = people["person_id"]
    tools.person.value = keep
    tools.name.value = "Barack"
    tools.save.click()
    assert "Named Barack" in tools.message.value
    assert lib.people().set_index("person_id").loc[keep, "name"] == "Barack"
    tools.keep.value, tools.other.value = keep, other
    tools.merge.click()
    assert list(lib.people()["person_id"]) == [keep]
    assert len(app.page.pages["People"].cards.children) == 1
    assert int(lib.people()["face_count"].iloc[0]) == int(people["face_count"].sum())


def test_moving_a_selection_keeps_its_own_order():
    order = list("abcdef")
    assert moved(order, ["c", "e"], "start") == list("ceabdf")
    assert moved(order, ["c", "e"], "end") == list("abdfce")
    assert moved(order, ["c", "e"], "earlier") == list("aceb" "df")
    assert moved(order, ["c", "e"], "later") == list("abdce" "f")
    assert moved(order, ["a"], "earlier") == order and moved(order, ["f"], "later") == order


def test_the_download_form_posts_a_ticket_for_this_visitor_and_these_media(lib, monkeypatch):
    app = sign_in(lib, "bob")
    ids = app.page.pages["Photos"].grid.ids[:2]
    assert download_form(app, "Download", media_ids=ids) == ""      # outside `workbench gallery`: no button
    monkeypatch.setenv(links.SECRET_ENV, "s3cret")
    monkeypatch.setenv("HTTP_X_WORKBENCH_ACTOR", "session:abc")
    html = download_form(app, "Download", media_ids=ids, name="Trip")
    assert "name='_xsrf' value='x'" in html and "/workbench/zip" in html
    ticket = html.split("name='ticket' value='")[1].split("'")[0]
    t = links.verify_zip("s3cret", ticket)
    assert t.media_ids == tuple(ids) and t.actor == "session:abc" and t.name == "Trip"
    with pytest.raises(links.LinkError):
        links.verify("s3cret", ticket)                              # a zip ticket is no media ticket
    with pytest.raises(links.LinkError):
        links.verify_zip("s3cret", links.sign("s3cret", ids[0], actor="session:abc"))
    with pytest.raises(links.LinkError):
        links.verify_zip("another secret", ticket)
