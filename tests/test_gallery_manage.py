"""Managing one's photos from the web, at the door every gallery click goes through (``UserView``): favourites,
the trash, arranging albums, naming and merging people, and what a zip download may hold. Each rule is checked
on the access layer itself, so a page that forgot to hide a button still cannot do what it must not."""
from __future__ import annotations

import io
import shutil
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from factory import jpeg
from workbench import Library
from workbench.errors import AccessDenied, NotFoundError

PW = "a-long-enough-password"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gallery_manage")
    lib = Library.create(root / "lib")
    for i, name in enumerate(["a1", "a2", "a3"]):
        jpeg(root / "alice" / f"{name}.jpg", 160, 120, seed=i, taken=datetime(2024, 1, i + 1))
    for i, name in enumerate(["b1", "b2"]):
        jpeg(root / "bob" / f"{name}.jpg", 160, 120, seed=10 + i, taken=datetime(2024, 2, i + 1))
    lib.import_files([root / "alice"], owner="alice", progress=False)
    lib.import_files([root / "bob"], owner="bob", progress=False)
    for name, role in (("alice", "viewer"), ("bob", "viewer"), ("carol", "curator"), ("root", "admin")):
        lib.add_user(name, PW, role)
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def ids(lib: Library, *names: str) -> list[str]:
    df = lib.media(include_trashed=True)
    by_name = dict(zip(df["name"], df["id"]))
    return [by_name[f"{n}.jpg"] for n in names]


# -- favourites -----------------------------------------------------------------------------------------------
def test_favourites_are_each_users_own_and_marking_twice_is_one_mark(lib):
    alice, bob = lib.for_user("alice"), lib.for_user("bob")
    a1, a2 = ids(lib, "a1", "a2")
    assert alice.set_favourite([a1, a2]) == 2
    assert alice.set_favourite(a1) == 0                     # idempotent
    assert alice.favourite_ids() == {a1, a2} and alice.is_favourite(a1)
    assert set(alice.media(favourites=True)["id"]) == {a1, a2}
    assert bob.favourite_ids() == set() and len(bob.media(favourites=True)) == 0
    assert alice.set_favourite(a2, False) == 1 and alice.set_favourite(a2, False) == 0
    assert alice.favourite_ids() == {a1}


def test_nobody_can_mark_media_they_cannot_see(lib):
    (b1,) = ids(lib, "b1")
    with pytest.raises(NotFoundError, match="no media with id"):
        lib.for_user("alice").set_favourite(b1)


def test_a_favourite_in_the_trash_is_not_listed_and_comes_back_with_it(lib):
    alice = lib.for_user("alice")
    (a1,) = ids(lib, "a1")
    alice.set_favourite(a1)
    alice.trash([a1])
    assert alice.favourite_ids() == set()
    alice.restore([a1])
    assert alice.favourite_ids() == {a1}


# -- the trash ------------------------------------------------------------------------------------------------
def test_a_viewer_trashes_and_restores_their_own_media_in_the_libraries_trash(lib):
    alice = lib.for_user("alice")
    a1, a2 = ids(lib, "a1", "a2")
    assert alice.trash([a1, a2]) == 2
    assert {a1, a2} <= lib.trashed_ids()                    # the same trash as `workbench trash`
    assert a1 not in set(alice.media()["id"]) and a1 not in set(lib.media()["id"])
    listed = alice.trashed()
    assert set(listed["id"]) == {a1, a2} and set(listed["trashed_by"]) == {"alice"}
    assert alice.trash_thumbnails([a1])[a1] is None          # not processed here, but allowed (no error)
    assert alice.restore([a1]) == 1
    assert set(alice.trashed()["id"]) == {a2} and a1 in set(alice.media()["id"])


def test_a_viewer_cannot_trash_media_they_only_see_through_an_album(lib):
    bob = lib.for_user("bob")
    (a1,) = ids(lib, "a1")
    album = lib.for_user("alice").create_album("Trip")
    lib.for_user("alice").add_to_album(album, [a1])
    lib.for_user("alice").add_member(album, "bob", "contributor")
    assert a1 in set(bob.media()["id"])
    assert not bob.may_trash(a1) and lib.for_user("alice").may_trash(a1) and lib.for_user("root").may_trash(a1)
    with pytest.raises(AccessDenied, match="only trash your own"):
        bob.trash([a1])
    assert a1 not in lib.trashed_ids()


def test_nobody_sees_or_restores_somebody_elses_trash_except_an_admin(lib):
    a1, b1 = ids(lib, "a1", "b1")
    lib.for_user("alice").trash([a1])
    bob, carol, root = lib.for_user("bob"), lib.for_user("carol"), lib.for_user("root")
    assert list(bob.trashed()["id"]) == [] and list(carol.trashed()["id"]) == []
    with pytest.raises(NotFoundError):
        bob.restore([a1])
    with pytest.raises(NotFoundError):
        carol.restore([a1])                                  # curators curate; they do not handle others' trash
    with pytest.raises(AccessDenied):
        carol.trash([b1])
    assert set(root.trashed()["id"]) == {a1}
    assert root.trash([b1]) == 1 and root.restore([a1, b1]) == 2


def test_a_viewer_sees_only_their_own_paths_in_the_trash_listing(lib):
    (a1,) = ids(lib, "a1")
    lib.for_user("alice").trash([a1])
    assert lib.for_user("root").trashed()["path"].iloc[0].endswith("a1.jpg")
    assert "search_text" not in lib.for_user("alice").trashed().columns


# -- albums ---------------------------------------------------------------------------------------------------
def test_an_album_keeps_the_order_its_owner_gives_it_and_new_items_follow(lib):
    alice = lib.for_user("alice")
    a1, a2, a3 = ids(lib, "a1", "a2", "a3")
    album = alice.create_album("Ordered")
    alice.add_to_album(album, [a1, a2])
    assert list(alice.album_media(album, sort="album")["id"]) == [a2, a1]      # newest first until arranged
    assert alice.arrange_album(album, [a1, a2]) == 2
    assert alice.arrange_album(album, [a1, a2]) == 2                          # repeating it is harmless
    alice.add_to_album(album, [a3])
    assert list(alice.album_media(album, sort="album")["id"]) == [a1, a2, a3]
    alice.arrange_album(album, [a3, a1])
    assert list(lib.album_media(album, sort="album")["id"]) == [a3, a1, a2]


def test_the_cover_is_the_chosen_photo_while_it_stays_in_the_album(lib):
    alice = lib.for_user("alice")
    a1, a2, a3 = ids(lib, "a1", "a2", "a3")
    album = alice.create_album("Covered")
    alice.add_to_album(album, [a1, a2, a3])
    assert alice.album_cover(album) == a3                   # the newest
    alice.set_album_cover(album, a1)
    assert alice.album_cover(album) == a1
    alice.trash([a1])
    assert alice.album_cover(album) == a3
    alice.restore([a1])
    alice.remove_from_album(album, [a1])
    assert alice.album_cover(album) == a3
    alice.set_album_cover(album, None)
    assert alice.album_cover(album) == a3


def test_only_an_albums_managers_arrange_it_or_choose_its_cover(lib):
    alice, bob = lib.for_user("alice"), lib.for_user("bob")
    a1, b1 = ids(lib, "a1", "b1")
    album = alice.create_album("Shared")
    alice.add_to_album(album, [a1])
    alice.add_member(album, "bob", "contributor")
    assert bob.add_to_album(album, [b1]) == 1               # a contributor adds what they can see
    with pytest.raises(AccessDenied, match="may not manage"):
        bob.arrange_album(album, [b1, a1])
    with pytest.raises(AccessDenied, match="may not manage"):
        bob.set_album_cover(album, b1)
    with pytest.raises(AccessDenied, match="only remove media you added"):
        bob.remove_from_album(album, [a1])
    assert bob.remove_from_album(album, [b1]) == 1
    with pytest.raises(NotFoundError):                       # a cover must be one of the album's media
        alice.set_album_cover(album, b1)
    assert lib.for_user("carol").arrange_album(album, [a1]) == 1     # curators manage every album


# -- people ---------------------------------------------------------------------------------------------------
def test_a_viewers_call_to_name_or_merge_people_is_refused_by_the_access_layer(lib):
    bob = lib.for_user("bob")
    with pytest.raises(AccessDenied, match="only a curator or an admin may name people"):
        bob.name_person("anyone", "Mallory")
    with pytest.raises(AccessDenied, match="only a curator or an admin may merge people"):
        bob.merge_people("anyone", "someone else")


# -- downloads ------------------------------------------------------------------------------------------------
def test_a_download_holds_only_what_the_visitor_may_read(lib):
    from workbench.gallery.zip_handler import zip_entries
    a1, a2, b1 = ids(lib, "a1", "a2", "b1")
    alice = lib.for_user("alice")
    alice.trash([a2])
    assert alice.downloadable([b1, a1, a2, "not an id"]) == [a1]
    entries = zip_entries(lib, alice.downloadable([a1, b1]))
    assert [e["name"] for e in entries] == ["a1.jpg"]
    album = alice.create_album("Link")
    alice.add_to_album(album, [a1])
    shared = lib.for_share(alice.share_album(album))
    assert shared.downloadable([a1, b1]) == [a1]


def test_files_with_the_same_name_get_distinct_names_in_the_zip(tmp_path):
    from workbench.gallery.zip_handler import zip_entries
    lib = Library.create(tmp_path / "lib")
    for i, folder in enumerate(("x", "y")):
        jpeg(tmp_path / folder / "same.jpg", 64, 48, seed=i)
    lib.import_files([tmp_path / "x", tmp_path / "y"], owner="alice", progress=False)
    names = sorted(e["name"] for e in zip_entries(lib, list(lib.media()["id"])))
    assert names == ["same (2).jpg", "same.jpg"]


def noise_png(path: Path, side_px: int, seed: int) -> Path:
    """An incompressible PNG (random pixels, no compression): ~3 bytes per pixel on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (side_px, side_px, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, "PNG", compress_level=0)
    return path


def test_a_zip_larger_than_its_buffers_streams_in_flat_memory_and_holds_the_originals_byte_for_byte(tmp_path):
    from workbench.gallery.zip_handler import CHUNK_BYTES, zip_chunks, zip_entries
    lib = Library.create(tmp_path / "lib")
    files = [noise_png(tmp_path / "big" / f"noise{i}.png", 1600, i) for i in range(4)]   # ~7.7 MB each
    lib.import_files(files, owner="alice", progress=False)
    entries = zip_entries(lib, list(lib.media()["id"]))
    out = tmp_path / "out.zip"
    tracemalloc.start()
    try:
        chunks = zip_chunks(entries)
        total = 0
        with open(out, "wb") as f:
            for chunk in chunks:
                assert len(chunk) <= 2 * CHUNK_BYTES
                f.write(chunk)
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 30_000_000 and total == out.stat().st_size
    assert peak < 4 * CHUNK_BYTES + 2_000_000, f"peak {peak:,} bytes for a {total:,}-byte zip"
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        assert sorted(z.namelist()) == sorted(p.name for p in files)
        for p in files:
            info = z.getinfo(p.name)
            assert info.compress_type == zipfile.ZIP_STORED
            assert z.read(p.name) == p.read_bytes()


def test_the_zip_size_is_known_before_the_first_byte(tmp_path):
    from workbench.gallery.zip_handler import zip_chunks, zip_entries, zip_size
    lib = Library.create(tmp_path / "lib")
    jpeg(tmp_path / "in" / "one.jpg", 64, 48)
    lib.import_files([tmp_path / "in"], owner="alice", progress=False)
    entries = zip_entries(lib, list(lib.media()["id"]))
    data = b"".join(zip_chunks(entries))
    assert zip_size(entries) == len(data)
    assert zipfile.ZipFile(io.BytesIO(data)).read("one.jpg") == (tmp_path / "in" / "one.jpg").read_bytes()


def test_an_album_ticket_zips_the_album_as_the_visitor_sees_it_now(lib):
    from workbench.gallery.links import ZipTicket
    from workbench.gallery.zip_handler import allowed_ids
    a1, a2, a3 = ids(lib, "a1", "a2", "a3")
    alice = lib.for_user("alice")
    album = alice.create_album("Zipped")
    alice.add_to_album(album, [a1, a2, a3])
    alice.arrange_album(album, [a2, a1, a3])
    alice.trash([a3])
    ticket = ZipTicket((), album, "Zipped", 0.0, "")
    assert allowed_ids(alice, ticket) == [a2, a1]                               # its own order, no trash
    assert allowed_ids(lib.for_share(alice.share_album(album)), ticket) == [a2, a1]
    with pytest.raises(NotFoundError):                                          # bob cannot see the album
        allowed_ids(lib.for_user("bob"), ticket)
    assert allowed_ids(lib.for_user("bob"), ZipTicket((a1, a2), "", "x", 0.0, "")) == []
