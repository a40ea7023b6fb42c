"""Albums: the plain Library methods (the local owner acting as admin), and members who view or contribute."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory import jpeg
from workbench import Library
from workbench.errors import AccessDenied, NotFoundError

PW = "a-long-enough-password"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("access_albums")
    lib = Library.create(root / "lib")
    for i, name in enumerate(["a1", "a2", "a3"]):
        jpeg(root / "alice" / f"{name}.jpg", 160, 120, seed=i)
    for i, name in enumerate(["b1", "b2"]):
        jpeg(root / "bob" / f"{name}.jpg", 160, 120, seed=10 + i)
    lib.import_files([root / "alice"], owner="alice", progress=False)
    lib.import_files([root / "bob"], owner="bob", progress=False)
    for name, role in (("alice", "viewer"), ("bob", "viewer"), ("carol", "curator")):
        lib.add_user(name, PW, role)
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def ids(lib: Library, *names: str) -> list[str]:
    df = lib.media()
    return [df.loc[df["path"].str.endswith(f"/{n}.jpg"), "id"].iloc[0] for n in names]


# -- plain Library --------------------------------------------------------------------------------------------
def test_a_new_album_is_listed_empty_with_its_owner(lib):
    album = lib.create_album("Summer 2024", owner="alice")
    df = lib.albums()
    assert list(df.columns) == ["id", "name", "owner", "items", "created_at"]
    assert df.to_dict("records")[0] | {"created_at": None} == {"id": album, "name": "Summer 2024", "owner": "alice",
                                                               "items": 0, "created_at": None}


def test_an_album_without_an_owner_belongs_to_the_login_name(lib):
    from workbench.ingest.importer import default_owner
    lib.create_album("Mine")
    assert lib.albums().iloc[0]["owner"] == default_owner()


def test_adding_media_counts_only_new_ones(lib):
    album = lib.create_album("Trip")
    a1, a2 = ids(lib, "a1", "a2")
    assert lib.add_to_album(album, [a1, a2]) == 2
    assert lib.add_to_album(album, [a1[:6], a2]) == 0
    assert lib.albums().iloc[0]["items"] == 2


def test_album_media_has_the_columns_of_media(lib):
    album = lib.create_album("Trip")
    lib.add_to_album(album, ids(lib, "a1", "b1"))
    df = lib.album_media(album)
    assert list(df.columns) == list(lib.media().columns)
    assert set(df["id"]) == set(ids(lib, "a1", "b1"))


def test_an_album_is_found_by_name_or_id_prefix(lib):
    album = lib.create_album("Garden Party")
    lib.add_to_album("garden party", ids(lib, "b1"))
    assert len(lib.album_media(album[:6])) == 1


def test_two_albums_with_one_name_need_the_id(lib):
    lib.create_album("Holiday", owner="alice")
    lib.create_album("Holiday", owner="bob")
    with pytest.raises(NotFoundError, match="matches 2 albums.*use the album id"):
        lib.album_media("Holiday")


def test_an_unknown_album_says_how_to_list_albums(lib):
    with pytest.raises(NotFoundError, match="workbench albums"):
        lib.add_to_album("Nope", ids(lib, "a1"))


def test_removing_from_an_album_keeps_the_media(lib):
    album = lib.create_album("Trip")
    a1, a2 = ids(lib, "a1", "a2")
    lib.add_to_album(album, [a1, a2])
    assert lib.remove_from_album(album, [a1]) == 1
    assert list(lib.album_media(album)["id"]) == [a2] and a1 in set(lib.media()["id"])


def test_trashed_media_leave_the_album_listing_and_its_count(lib):
    album = lib.create_album("Trip")
    a1, a2 = ids(lib, "a1", "a2")
    lib.add_to_album(album, [a1, a2])
    lib.trash([a1])
    assert list(lib.album_media(album)["id"]) == [a2] and lib.albums().iloc[0]["items"] == 1
    lib.restore([a1])
    assert lib.albums().iloc[0]["items"] == 2


def test_renaming_an_album(lib):
    album = lib.create_album("Trip")
    lib.rename_album(album, "  Road   trip ")
    assert lib.albums().iloc[0]["name"] == "Road trip"


def test_an_empty_album_name_is_refused(lib):
    with pytest.raises(ValueError, match="needs a name"):
        lib.create_album("   ")


def test_deleting_an_album_keeps_its_media(lib):
    album = lib.create_album("Trip")
    lib.add_to_album(album, ids(lib, "a1"))
    n = len(lib.media())
    lib.delete_album(album)
    assert lib.albums().empty and len(lib.media()) == n


def test_a_member_must_be_an_existing_user(lib):
    album = lib.create_album("Trip")
    with pytest.raises(NotFoundError, match="no user named 'zed'"):
        lib.add_member(album, "zed")


def test_an_unknown_name_gets_the_same_answer_as_a_name_that_cannot_be_added(lib):
    alice = lib.for_user("alice")
    album = alice.create_album("Family")
    with pytest.raises(NotFoundError) as unknown:
        alice.add_member(album, "zed")
    with pytest.raises(NotFoundError) as owner:
        alice.add_member(album, "alice")   # exists, but the owner is not a member of their own album
    assert str(unknown.value).replace("'zed'", "X") == str(owner.value).replace("'alice'", "X")
    assert "no user" not in str(unknown.value).lower()
    assert alice.album_members(album).empty
    alice.add_member(album, "bob")
    assert list(alice.album_members(album)["user"]) == ["bob"]


# -- views: who sees and who adds -----------------------------------------------------------------------------
def test_a_viewer_sees_only_albums_they_own_or_belong_to(lib):
    own = lib.for_user("bob").create_album("Bob's")
    lib.create_album("Alice's", owner="alice")
    shared = lib.create_album("Alice shares", owner="alice")
    lib.add_member(shared, "bob")
    df = lib.for_user("bob").albums()
    assert set(df["id"]) == {own, shared}
    assert dict(zip(df["id"], df["access"])) == {own: "manage", shared: "view"}


def test_a_non_member_asking_for_an_album_gets_the_answer_for_a_missing_one(lib):
    lib.create_album("Alice's secret", owner="alice")
    bob = lib.for_user("bob")
    with pytest.raises(NotFoundError) as hidden:
        bob.album_media("Alice's secret")
    with pytest.raises(NotFoundError) as missing:
        bob.album_media("Nothing here")
    assert str(hidden.value).replace(repr("Alice's secret"), "X") == str(missing.value).replace(repr("Nothing here"),
                                                                                                  "X")


def test_membership_shows_the_albums_media_and_nothing_else_of_the_owner(lib):
    a1, a2, a3 = ids(lib, "a1", "a2", "a3")
    alice = lib.for_user("alice")
    album = alice.create_album("For Bob")
    alice.add_to_album(album, [a1])
    alice.add_member(album, "bob")
    bob = lib.for_user("bob")
    assert set(bob.album_media(album)["id"]) == {a1}
    assert a1 in set(bob.media()["id"]) and not {a2, a3} & set(bob.media()["id"])
    assert bob.get(a1)["path"] == "a1.jpg" and bob.get(a1)["sources"] == []


def test_the_album_filter_of_media_lists_one_album(lib):
    a1, a2 = ids(lib, "a1", "a2")
    alice = lib.for_user("alice")
    album = alice.create_album("One")
    alice.add_to_album(album, [a2])
    assert list(alice.media(album="One")["id"]) == [a2]


def test_a_viewer_member_may_not_add(lib):
    alice = lib.for_user("alice")
    album = alice.create_album("Look only")
    alice.add_member(album, "bob", "viewer")
    with pytest.raises(AccessDenied, match="contributor"):
        lib.for_user("bob").add_to_album(album, ids(lib, "b1"))


def test_a_contributor_adds_their_media_and_the_owner_sees_them(lib):
    b1 = ids(lib, "b1")[0]
    alice = lib.for_user("alice")
    album = alice.create_album("Together")
    alice.add_member(album, "bob", "contributor")
    assert lib.for_user("bob").add_to_album(album, [b1]) == 1
    assert b1 in set(alice.album_media(album)["id"]) and b1 in set(alice.media()["id"])


def test_nobody_can_add_media_they_cannot_see(lib):
    a3 = ids(lib, "a3")[0]
    bob = lib.for_user("bob")
    album = bob.create_album("Bob's")
    with pytest.raises(NotFoundError):
        bob.add_to_album(album, [a3])
    assert bob.album_media(album).empty and a3 not in set(bob.media()["id"])


def test_a_contributor_removes_only_what_they_added(lib):
    a1, b1 = ids(lib, "a1", "b1")
    alice = lib.for_user("alice")
    album = alice.create_album("Together")
    alice.add_to_album(album, [a1])
    alice.add_member(album, "bob", "contributor")
    bob = lib.for_user("bob")
    bob.add_to_album(album, [b1])
    with pytest.raises(AccessDenied, match="only remove media you added"):
        bob.remove_from_album(album, [a1])
    assert bob.remove_from_album(album, [b1]) == 1


def test_only_a_manager_changes_members(lib):
    alice = lib.for_user("alice")
    album = alice.create_album("Together")
    alice.add_member(album, "bob", "contributor")
    with pytest.raises(AccessDenied, match="manage"):
        lib.for_user("bob").add_member(album, "carol")
    with pytest.raises(AccessDenied, match="manage"):
        lib.for_user("bob").delete_album(album)


def test_removing_a_member_ends_their_sight(lib):
    a1 = ids(lib, "a1")[0]
    alice = lib.for_user("alice")
    album = alice.create_album("Brief")
    alice.add_to_album(album, [a1])
    alice.add_member(album, "bob")
    bob = lib.for_user("bob")
    assert a1 in set(bob.media()["id"])
    alice.remove_member(album, "bob")
    assert a1 not in set(bob.media()["id"]) and bob.albums().empty
    with pytest.raises(NotFoundError):
        bob.get(a1)


def test_a_removed_user_is_no_longer_a_member_anywhere(lib):
    album = lib.create_album("Family", owner="alice")
    lib.add_member(album, "bob")
    lib.remove_user("bob")
    assert lib.album_members(album).empty


def test_a_curator_manages_every_album(lib):
    album = lib.create_album("Alice's", owner="alice")
    carol = lib.for_user("carol")
    assert carol.albums().set_index("id").loc[album, "access"] == "manage"
    assert carol.add_to_album(album, ids(lib, "b2")) == 1


# -- command line ---------------------------------------------------------------------------------------------
def run(lib: Library, *args: str):
    from workbench.cli.main import app
    r = CliRunner().invoke(app, ["--library", str(lib.root), *args])
    assert r.exit_code == 0, r.output
    return r.stdout


def test_cli_creates_fills_and_shows_an_album(lib):
    made = json.loads(run(lib, "albums", "create", "Beach", "--owner", "alice", "--json"))
    a1, b2 = ids(lib, "a1", "b2")
    run(lib, "albums", "add", "Beach", a1[:6], b2)
    rows = [json.loads(x) for x in run(lib, "albums", "show", made["id"], "--json").splitlines()]
    assert {r["id"] for r in rows} == {a1, b2}
    listed = [json.loads(x) for x in run(lib, "albums", "--json").splitlines()]
    assert [(r["name"], r["owner"], r["items"]) for r in listed] == [("Beach", "alice", 2)]


def test_cli_adds_a_contributor(lib):
    run(lib, "albums", "create", "Beach", "--owner", "alice")
    run(lib, "albums", "member-add", "Beach", "bob", "--role", "contributor")
    assert json.loads(run(lib, "albums", "members", "Beach", "--json"))["role"] == "contributor"
