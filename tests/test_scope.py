"""A scope says what a viewer may see and do, and every capability honours it (``workbench/access/scope.py``).

The owner's calls see everything (``EVERYTHING``, the default); a user's scope (``view.scope()``) sees their own
media and their albums'; a share link's scope sees its one album. The same capability call, given a scope,
answers within it: search, the timeline, people, duplicates, tags, thumbnails. A write outside the scope is
refused, and the scope's id set is worked out once however many capabilities one request asks.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory import jpeg
from workbench import Library
from workbench.access import policy
from workbench.access.scope import EVERYTHING
from workbench.errors import AccessDenied, AuthError, NotFoundError

PW = "a-long-enough-password"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Alice and Bob each import photos from folders named after them; each has a photo saved twice at two
    qualities (a duplicate pair of their own), and Bob has a re-saved copy of one of Alice's photos (a duplicate
    across accounts). Alice shares an album with a link; Carol is a curator."""
    root = tmp_path_factory.mktemp("scope")
    lib = Library.create(root / "lib")
    alice, bob = root / "alice_private_holidays", root / "bob_secret_garden"
    jpeg(alice / "sunset.jpg", 320, 240, seed=1)
    jpeg(alice / "sunset_small.jpg", 320, 240, seed=1, quality=60)
    jpeg(alice / "beach.jpg", 320, 240, seed=2)
    jpeg(bob / "kitchen.jpg", 320, 240, seed=3)
    jpeg(bob / "kitchen_small.jpg", 320, 240, seed=3, quality=60)
    jpeg(bob / "beach_from_alice.jpg", 320, 240, seed=2, quality=70)
    lib.import_files([alice], owner="alice", progress=False)
    lib.import_files([bob], owner="bob", progress=False)
    lib.process(["thumbnails", "fingerprints"], progress=False)
    for name, role in (("alice", "viewer"), ("bob", "viewer"), ("carol", "curator")):
        lib.add_user(name, PW, role)
    return lib.root


@pytest.fixture(scope="module")
def lib(built) -> Library:
    return Library.open(built)


@pytest.fixture
def fresh(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def ids_of(lib: Library, owner: str) -> set[str]:
    m = lib.media()
    return set(m.loc[m["owner"] == owner, "id"])


def mid(lib: Library, name: str) -> str:
    m = lib.media()
    return m.loc[m["path"].str.endswith("/" + name), "id"].iloc[0]


def test_the_owners_calls_see_everything_and_a_users_scope_only_their_own(lib):
    everything = set(lib.media()["id"])
    assert set(lib.media(scope=EVERYTHING)["id"]) == everything == ids_of(lib, "alice") | ids_of(lib, "bob")
    alice = lib.for_user("alice").scope()
    assert set(alice.ids()) == ids_of(lib, "alice")
    assert set(lib.media(scope=alice)["id"]) == ids_of(lib, "alice")


def test_a_users_timeline_never_shows_another_users_media(lib):
    alice = lib.for_user("alice")
    timeline = lib.media(sort="date", desc=True, scope=alice.scope())
    assert not set(timeline["id"]) & ids_of(lib, "bob")
    assert set(alice.media(sort="date", desc=True)["id"]) == set(timeline["id"])


def test_a_users_search_never_finds_another_users_media_not_even_by_their_folder_names(lib):
    alice = lib.for_user("alice").scope()
    assert lib.search("kitchen", scope=alice).empty
    assert lib.search("secret garden", scope=alice).empty
    assert not set(lib.search("beach", scope=alice)["id"]) & ids_of(lib, "bob")
    assert mid(lib, "beach.jpg") in set(lib.search("beach", scope=alice)["id"])
    # The owner finds Bob's kitchen by the same words.
    assert mid(lib, "kitchen.jpg") in set(lib.search("kitchen")["id"])


def test_a_users_paths_of_shared_media_are_cut_to_the_file_name(fresh):
    beach = mid(fresh, "beach.jpg")
    album = fresh.create_album("Holidays")
    fresh.add_to_album(album, [beach])
    fresh.add_member(album, "bob")
    rows = fresh.media(scope=fresh.for_user("bob").scope())
    assert rows.loc[rows["id"] == beach, "path"].iloc[0] == "beach.jpg"
    assert "search_text" not in rows.columns


def test_a_users_duplicates_are_only_groups_among_their_own_media(lib):
    everything = lib.duplicates()
    assert any(set(g) & ids_of(lib, "alice") and set(g) & ids_of(lib, "bob")
               for g in ([m["id"] for m in ms] for ms in everything["members"])), "the cross-account pair exists"
    for user in ("alice", "bob"):
        groups = lib.duplicates(scope=lib.for_user(user).scope())
        assert len(groups), f"{user}'s own pair is found"
        for members in groups["members"]:
            assert {m["id"] for m in members} <= ids_of(lib, user)
            assert all("/" not in m["path"] or user in m["path"] for m in members)


def test_a_share_scope_shows_only_its_album_in_every_capability(fresh):
    sunset, beach = mid(fresh, "sunset.jpg"), mid(fresh, "beach.jpg")
    album = fresh.create_album("Sunsets")
    fresh.add_to_album(album, [sunset])
    link = fresh.for_share(fresh.share_album(album))
    share = link.scope()
    assert set(share.ids()) == {sunset}
    assert set(fresh.media(scope=share)["id"]) == {sunset}
    assert set(fresh.search("sunset beach", scope=share)["id"]) <= {sunset}
    assert set(fresh.thumbnails([sunset, beach], scope=share)) == {sunset, beach}
    assert fresh.thumbnails([sunset, beach], scope=share)[beach] is None
    assert fresh.duplicates(scope=share).empty
    with pytest.raises(NotFoundError):
        fresh.get(beach, scope=share)
    assert fresh.get(sunset, scope=share)["sources"] == []


def test_a_share_scope_ends_with_its_link(fresh):
    album = fresh.create_album("Gone soon")
    fresh.add_to_album(album, [mid(fresh, "sunset.jpg")])
    token = fresh.share_album(album)
    link = fresh.for_share(token)
    assert len(link.media()) == 1
    fresh.revoke_share(token)
    with pytest.raises(AuthError):
        link.scope()
    with pytest.raises(AuthError):
        link.media()


def test_the_scopes_id_set_is_worked_out_once_per_request(lib, monkeypatch):
    calls = []
    real = policy.visible_media

    def counting(catalog, actor):
        calls.append(actor.name)
        return real(catalog, actor)
    monkeypatch.setattr(policy, "visible_media", counting)
    alice = lib.for_user("alice").scope()
    assert calls == [] and alice.computed == 0       # lazy: nothing read until a capability asks
    lib.media(scope=alice)
    lib.search("beach", scope=alice)
    lib.tags(scope=alice)
    lib.people(scope=alice)
    lib.thumbnails(list(lib.media()["id"]), scope=alice)
    lib.duplicates(scope=alice)
    assert calls == ["alice"] and alice.computed == 1
    lib.for_user("alice").media()                      # a new request is a new scope: it sees changes
    assert calls == ["alice", "alice"]


def test_a_narrowed_scope_keeps_its_viewer_and_cuts_further(lib):
    alice = lib.for_user("alice").scope()
    sunset, kitchen = mid(lib, "sunset.jpg"), mid(lib, "kitchen.jpg")
    narrow = alice.narrow({sunset, kitchen})
    assert set(narrow.ids()) == {sunset}               # Bob's kitchen stays out: narrowing never widens
    assert narrow.user == "alice" and not narrow.sees_all


def test_a_tag_outside_the_scope_is_refused_like_a_media_that_does_not_exist(fresh):
    kitchen = mid(fresh, "kitchen.jpg")
    carol = fresh.for_user("carol").scope()
    fresh.tags.add(kitchen, "food", scope=carol)       # a curator sees every media
    assert "food" in set(fresh.tags(kitchen)["tag"])
    alice = fresh.for_user("alice").scope()
    with pytest.raises(AccessDenied, match="curator"):
        fresh.tags.add(mid(fresh, "sunset.jpg"), "sky", scope=alice)   # viewers do not curate
    narrowed_carol = carol.narrow({mid(fresh, "sunset.jpg")})
    with pytest.raises(NotFoundError):
        fresh.tags.add(kitchen, "food", scope=narrowed_carol)         # outside the scope: does not exist


def test_a_share_scope_may_not_write_at_all(fresh):
    sunset = mid(fresh, "sunset.jpg")
    album = fresh.create_album("Look only")
    fresh.add_to_album(album, [sunset])
    share = fresh.for_share(fresh.share_album(album)).scope()
    with pytest.raises(AccessDenied, match="share link"):
        fresh.tags.add(sunset, "sky", scope=share)
    with pytest.raises(AccessDenied, match="share link"):
        fresh.people.name("anyone", "Someone", scope=share)


def test_trashing_media_outside_what_a_user_may_write_is_refused(fresh):
    alice = fresh.for_user("alice")
    with pytest.raises(NotFoundError):
        alice.trash([mid(fresh, "kitchen.jpg")])          # Bob's: not even there for Alice
    beach = mid(fresh, "beach.jpg")
    album = fresh.create_album("Shared")
    fresh.add_to_album(album, [beach])
    fresh.add_member(album, "bob")
    with pytest.raises(AccessDenied, match="your own"):
        fresh.for_user("bob").trash([beach])              # Bob sees Alice's beach, but may not trash it
    assert alice.trash([beach]) == 1
    assert beach not in set(fresh.for_user("alice").scope().ids())


@pytest.mark.slow
def test_a_users_people_are_only_those_in_their_media(corpus, tmp_path):
    fr = corpus / "faces/face_recognition"
    lib = Library.create(tmp_path / "lib")
    for owner, rels in (("alice", ["tests/test_images/obama.jpg", "tests/test_images/obama2.jpg"]),
                        ("bob", ["examples/knn_examples/train/biden/biden.jpg",
                                 "examples/knn_examples/train/biden/biden2.jpg"])):
        (tmp_path / owner).mkdir()
        for rel in rels:
            shutil.copy(fr / rel, tmp_path / owner / Path(rel).name)
        lib.import_files([tmp_path / owner], owner=owner, progress=False)
        lib.add_user(owner, PW, "viewer")
    lib.process(["thumbnails", "face_scans"], progress=False)
    everyone = lib.people()
    assert len(everyone) == 2
    alice = lib.for_user("alice").scope()
    seen = lib.people(scope=alice)
    assert len(seen) == 1
    assert set(lib.faces(scope=alice)["media_id"]) <= ids_of(lib, "alice")
    bobs = next(p for p in everyone["person_id"] if p not in set(seen["person_id"]))
    with pytest.raises(NotFoundError):
        lib.people.resolve(bobs, scope=alice)
    bobs_face = lib.faces(person=bobs)["face_id"].iloc[0]
    with pytest.raises(NotFoundError):
        lib.face_crop(bobs_face, scope=alice)



def test_what_a_scope_may_trash_is_part_of_it(fresh):
    assert EVERYTHING.trashable() is None                                  # the owner: anything
    assert fresh.for_user("alice").scope().trashable() == ids_of(fresh, "alice")
    assert fresh.for_user("carol").scope().trashable() == set()            # curators curate, they do not delete
    album = fresh.create_album("Anything")
    fresh.add_to_album(album, [mid(fresh, "sunset.jpg")])
    assert fresh.for_share(fresh.share_album(album)).scope().trashable() == set()
