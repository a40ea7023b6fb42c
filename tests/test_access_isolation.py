"""Trying to reach another user's media through a view: by id, id prefix, path, search, similar, tags,
thumbnails and originals. Each attempt must fail exactly like asking for something that does not exist."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory import jpeg
from workbench import Library
from workbench.errors import AccessDenied, NotFoundError

pytestmark = pytest.mark.slow

PW = "a-long-enough-password"


@pytest.fixture(scope="module")
def built(tiny_clip_checkpoint, tmp_path_factory) -> Path:
    cfg, ckpt = tiny_clip_checkpoint
    root = tmp_path_factory.mktemp("access_isolation")
    lib = Library.create(root / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = str(cfg), str(ckpt)
    lib.settings.save(lib.root)
    lib = Library.open(lib.root)
    alice = root / "home" / "alice" / "alice_private_holidays"
    jpeg(alice / "sunset_secret.jpg", 320, 240, seed=1)
    jpeg(alice / "beach_day.jpg", 320, 240, seed=2)
    bob = root / "home" / "bob" / "bob_stuff"
    jpeg(bob / "garden.jpg", 320, 240, seed=3)
    jpeg(bob / "kitchen.jpg", 320, 240, seed=4)
    lib.import_files([alice], owner="alice", progress=False)
    lib.import_files([bob], owner="bob", progress=False)
    shutil.copy(alice / "beach_day.jpg", bob / "copy_of_beach.jpg")  # the same photo, imported by both
    lib.import_files([bob / "copy_of_beach.jpg"], owner="bob", progress=False)
    # Thumbnails and CLIP vectors are what these tests need (scoring ~300 tag labels would take minutes).
    lib.process(["thumbnails"] + [s for s in lib.status()["stage"] if s.startswith("embeddings_")], progress=False)
    lib.add_tag(lib.media(query="sunset_secret")["id"].iloc[0], "sunset")
    for name, role in (("alice", "viewer"), ("bob", "viewer"), ("carol", "curator"), ("dave", "admin")):
        lib.add_user(name, PW, role)
    return lib.root


@pytest.fixture(scope="module")
def lib(built) -> Library:
    """Shared by the read-only tests below (tests that change the library use ``fresh``)."""
    return Library.open(built)


@pytest.fixture
def fresh(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def mid(lib: Library, name: str) -> str:
    df = lib.media()
    return df.loc[df["path"].str.endswith(name), "id"].iloc[0]


@pytest.fixture(scope="module")
def secret(lib) -> str:
    """Alice's photo that Bob must never reach."""
    return mid(lib, "sunset_secret.jpg")


@pytest.fixture(scope="module")
def bob(lib):
    return lib.for_session(lib.login("bob", PW))


def absent_id(lib: Library, like: str) -> str:
    """An id of the same shape that matches no media at all."""
    ids = set(lib.media()["id"])
    for c in "0123456789abcdef":
        cand = c * 4 + like[4:]
        if not any(i.startswith(cand[:4]) for i in ids):
            return cand
    raise AssertionError("no free prefix")


def message(call) -> str:
    with pytest.raises(NotFoundError) as e:
        call()
    return str(e.value)


# -- listing --------------------------------------------------------------------------------------------------
def test_a_viewer_lists_only_their_own_media(bob):
    assert sorted(Path(p).name for p in bob.media()["path"]) == ["copy_of_beach.jpg", "garden.jpg", "kitchen.jpg"]


def test_a_viewers_list_leaves_out_the_other_users_media(lib, bob, secret):
    assert secret in set(lib.media()["id"]) and secret not in set(bob.media()["id"])


def test_filtering_by_owner_does_not_reach_another_users_media(lib, bob, secret):
    assert secret in set(lib.media(owner="alice")["id"])
    assert secret not in set(bob.media(owner="alice")["id"])


# -- by id, id prefix and path --------------------------------------------------------------------------------
def test_another_users_media_by_full_id_is_reported_as_not_existing(lib, bob, secret):
    missing = absent_id(lib, secret)
    assert message(lambda: bob.get(secret)) == message(lambda: bob.get(missing)).replace(missing, secret)


def test_another_users_media_by_id_prefix_is_reported_as_not_existing(lib, bob, secret):
    missing = absent_id(lib, secret)[:5]
    assert message(lambda: bob.get(secret[:5])) == message(lambda: bob.get(missing)).replace(missing, secret[:5])


def test_another_users_media_by_file_path_is_not_found(lib, bob, secret):
    path = lib.get(secret)["path"]
    assert Path(path).exists()
    with pytest.raises(NotFoundError):
        bob.get(path)
    with pytest.raises(NotFoundError):
        bob.original_path(path)


def test_words_of_another_users_folders_find_nothing(lib, bob, secret):
    assert secret in set(lib.media(query="alice_private_holidays")["id"])
    assert bob.media(query="alice_private_holidays").empty


def test_a_viewer_finds_a_shared_photo_by_the_words_of_their_own_folder(lib, bob):
    beach = mid(lib, "beach_day.jpg")  # first imported by Alice: the catalog's words are hers
    assert beach in set(bob.media(query="bob_stuff")["id"])
    assert beach in set(bob.media(query="copy_of_beach")["id"])


# -- search ---------------------------------------------------------------------------------------------------
def test_without_clip_weights_words_of_another_users_folders_find_nothing(fresh, tmp_path):
    fresh.settings.clip_checkpoint = str(tmp_path / "no-such-checkpoint.pt")  # words only, no vectors
    beach = mid(fresh, "beach_day.jpg")
    assert beach in set(fresh.search("alice_private_holidays")["id"])
    bob = fresh.for_user("bob")
    assert bob.search("alice_private_holidays").empty
    assert list(bob.search("copy_of_beach")["id"]) == [beach]


def test_keyword_search_does_not_return_another_users_media(lib, bob, secret):
    assert secret in set(lib.search("sunset_secret", limit=50)["id"])
    assert secret not in set(bob.search("sunset_secret", limit=50)["id"])


def test_semantic_search_returns_only_visible_media_and_still_fills_its_results(lib, bob, secret):
    everyone = lib.search("a photo of the sea", limit=50)
    assert secret in set(everyone["id"])  # the tiny CLIP model ranks every embedded media
    mine = bob.search("a photo of the sea", limit=3)
    assert len(mine) == 3 and set(mine["id"]) <= set(bob.media()["id"])


def test_similar_returns_only_visible_media(lib, bob, secret):
    own = mid(lib, "garden.jpg")
    assert secret in set(lib.similar(own, limit=50)["id"])
    hits = bob.similar(own, limit=50)
    assert len(hits) >= 1 and set(hits["id"]) <= set(bob.media()["id"]) and secret not in set(hits["id"])


def test_similar_to_another_users_media_is_not_found(bob, secret):
    with pytest.raises(NotFoundError):
        bob.similar(secret)


def test_tags_of_another_users_media_are_not_listed(lib, bob, secret):
    assert secret in set(lib.tags()["media_id"])
    assert secret not in set(bob.tags()["media_id"])
    with pytest.raises(NotFoundError):
        bob.tags(secret)


# -- pictures and originals -----------------------------------------------------------------------------------
def test_a_viewer_gets_their_own_thumbnail(lib, bob):
    assert bob.thumbnail(mid(lib, "garden.jpg"))[:4] == b"RIFF"


def test_another_users_thumbnail_and_preview_are_not_found(lib, bob, secret):
    assert lib.thumbnail(secret)[:4] == b"RIFF"
    for which in ("thumb", "preview"):
        with pytest.raises(NotFoundError):
            bob.thumbnail(secret, which)


def test_many_thumbnails_at_once_leave_out_another_users_media(lib, bob, secret):
    mine = mid(lib, "garden.jpg")
    got = bob.thumbnails([mine, secret], "preview")
    assert got[mine][:4] == b"RIFF" and got[secret] is None


def test_another_users_original_is_not_found(bob, secret):
    with pytest.raises(NotFoundError):
        bob.original_path(secret)
    with pytest.raises(NotFoundError):
        bob.original_bytes(secret[:6])


def test_a_viewer_downloads_their_own_original(lib, bob):
    m = mid(lib, "kitchen.jpg")
    assert bob.original_bytes(m) == lib.original_path(m).read_bytes()


# -- shared content, paths, roles -----------------------------------------------------------------------------
def test_a_photo_both_imported_belongs_to_both_and_shows_each_their_own_path(lib, bob):
    m = mid(lib, "beach_day.jpg")
    row = bob.get(m)
    assert row["path"].endswith("bob/bob_stuff/copy_of_beach.jpg")
    assert row["sources"] == [row["path"]] and "alice" not in str(row["sources"]) + row["path"]
    assert lib.for_user("alice").get(m)["path"].endswith("alice_private_holidays/beach_day.jpg")


def test_a_curator_and_an_admin_see_everything(lib, secret):
    for name in ("carol", "dave"):
        v = lib.for_user(name)
        assert set(v.media()["id"]) == set(lib.media()["id"])
        assert v.get(secret)["path"] == lib.get(secret)["path"]


def test_a_viewer_may_not_tag_but_a_curator_may(fresh):
    m = mid(fresh, "garden.jpg")
    with pytest.raises(AccessDenied, match="curator"):
        fresh.for_user("bob").add_tag(m, "roses")
    fresh.for_user("carol").add_tag(m, "roses")
    assert "roses" in set(fresh.tags(m)["tag"])


def test_trashed_media_are_invisible_even_to_their_owner(fresh):
    m = mid(fresh, "garden.jpg")
    fresh.trash([m])
    bob = fresh.for_user("bob")
    assert m not in set(bob.media()["id"])
    with pytest.raises(NotFoundError):
        bob.get(m)
    with pytest.raises(NotFoundError):
        bob.thumbnail(m)
    assert m not in set(fresh.for_user("dave").media()["id"])


def test_a_change_made_by_another_process_applies_to_an_open_view_at_once(fresh):
    m = mid(fresh, "garden.jpg")
    bob = fresh.for_user("bob")
    assert m in set(bob.media()["id"])  # what bob sees is now remembered
    Library.open(fresh.root).trash([m])  # another Library object, as another process would be
    with pytest.raises(NotFoundError):
        bob.thumbnail(m)


def test_a_view_from_a_revoked_role_loses_everything_at_once(fresh, secret):
    carol = fresh.for_session(fresh.login("carol", PW))
    assert carol.get(secret)
    fresh.set_role("carol", "viewer")
    with pytest.raises(NotFoundError):
        carol.get(secret)
