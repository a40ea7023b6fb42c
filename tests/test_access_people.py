"""People across family accounts: one name per person for everyone, but a user sees a person, a face or a face
crop only through media that user may see. Real photos from the corpus, real face detection."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench import Library
from workbench.errors import AccessDenied, NotFoundError

pytestmark = pytest.mark.slow

FR = "faces/face_recognition"
ALICE = ["tests/test_images/obama.jpg", "tests/test_images/obama2.jpg",
         "examples/knn_examples/train/biden/biden.jpg", "examples/knn_examples/train/biden/biden2.jpg"]
BOB = ["tests/test_images/obama3.jpg", "examples/obama-720p.jpg"]
PW = "a-long-enough-password"


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("access_people")
    lib = Library.create(root / "lib")
    for owner, rels in (("alice", ALICE), ("bob", BOB)):
        folder = root / owner
        folder.mkdir()
        for rel in rels:
            shutil.copy(corpus / FR / rel, folder / rel.replace("/", "_"))
        lib.import_files([folder], owner=owner, progress=False)
    lib.process(["thumbnails", "face_scans"], progress=False)
    for name, role in (("alice", "viewer"), ("bob", "viewer"), ("carol", "curator")):
        lib.add_user(name, PW, role)
    lib.name_person(person_in(lib, "obama2.jpg"), "Barack")
    lib.name_person(person_in(lib, "biden2.jpg"), "Joe Secret")
    return lib.root


def person_in(lib: Library, file_part: str) -> str:
    f = lib.faces()
    return f.loc[f["path"].str.contains(file_part, regex=False), "person_id"].iloc[0]


def face_in(lib: Library, file_part: str) -> str:
    f = lib.faces()
    return f.loc[f["path"].str.contains(file_part, regex=False), "face_id"].iloc[0]


def media_of(lib: Library, file_part: str) -> str:
    m = lib.media()
    return m.loc[m["path"].str.contains(file_part, regex=False), "id"].iloc[0]


@pytest.fixture(scope="module")
def lib(built) -> Library:
    return Library.open(built)


@pytest.fixture
def fresh(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


@pytest.fixture(scope="module")
def bob(lib):
    return lib.for_user("bob")


def test_the_library_found_one_person_across_both_accounts(lib):
    assert person_in(lib, "obama3.jpg") == person_in(lib, "obama2.jpg") != person_in(lib, "biden2.jpg")


def test_a_viewer_sees_only_people_in_their_own_media(bob):
    assert list(bob.people()["name"]) == ["Barack"]


def test_a_shared_person_has_one_name_for_everyone(lib, bob):
    alice = lib.for_user("alice")
    pid = person_in(lib, "obama2.jpg")
    assert alice.people().set_index("person_id").loc[pid, "name"] == "Barack"
    assert bob.people().set_index("person_id").loc[pid, "name"] == "Barack"


def test_a_curators_new_name_reaches_every_account(fresh):
    fresh.for_user("carol").name_person("Barack", "Barack Obama")
    for user in ("alice", "bob"):
        assert "Barack Obama" in set(fresh.for_user(user).people()["name"])


def test_a_viewer_may_not_rename_people(fresh):
    with pytest.raises(AccessDenied, match="curator"):
        fresh.for_user("bob").name_person("Barack", "Someone")


def test_counts_and_cover_come_from_the_viewers_own_media(lib, bob):
    row = bob.people().iloc[0]
    assert (row["face_count"], row["media_count"]) == (2, 2)
    assert row["cover_face_id"] in set(bob.faces()["face_id"])
    assert lib.people().set_index("person_id").loc[row["person_id"], "face_count"] == 4


def test_faces_are_listed_only_from_visible_media(lib, bob):
    assert len(lib.faces()) == 6
    assert {Path(p).name for p in bob.faces()["path"]} == {"tests_test_images_obama3.jpg",
                                                          "examples_obama-720p.jpg"}


def test_a_person_only_in_another_users_media_is_not_found_by_name(bob):
    with pytest.raises(NotFoundError) as hidden:
        bob.faces(person="Joe Secret")
    with pytest.raises(NotFoundError) as missing:
        bob.faces(person="Nobody Here")
    assert str(hidden.value).replace(repr("Joe Secret"), "X") == str(missing.value).replace(repr("Nobody Here"), "X")


def test_a_hidden_persons_name_part_or_id_prefix_finds_nothing(lib, bob):
    for probe in ("joe", person_in(lib, "biden2.jpg")[:6], person_in(lib, "biden2.jpg")):
        with pytest.raises(NotFoundError):
            bob.resolve_person(probe)


def test_filtering_media_or_search_by_a_hidden_person_finds_nothing(bob):
    with pytest.raises(NotFoundError):
        bob.media(person="Joe Secret")
    with pytest.raises(NotFoundError):
        bob.search("photo", person="Joe Secret")


def test_a_viewer_filters_their_media_by_a_shared_person(lib, bob):
    assert set(bob.media(person="Barack")["id"]) == {media_of(lib, "obama3.jpg"), media_of(lib, "obama-720p.jpg")}


def test_another_users_face_crop_is_not_found(lib, bob):
    hidden = face_in(lib, "biden2.jpg")
    assert lib.face_crop(hidden).size == (160, 160)
    with pytest.raises(NotFoundError) as e:
        bob.face_crop(hidden)
    assert str(e.value) == f"no face with id {hidden!r}: see `workbench faces`"


def test_a_viewer_gets_a_crop_of_a_face_in_their_media(lib, bob):
    assert bob.face_crop(face_in(lib, "obama3.jpg"), size_px=96).size == (96, 96)


def test_a_person_becomes_visible_through_a_shared_album(fresh):
    alice = fresh.for_user("alice")
    album = alice.create_album("Work")
    alice.add_to_album(album, [media_of(fresh, "biden2.jpg")])
    alice.add_member(album, "bob")
    people = fresh.for_user("bob").people().set_index("name")
    assert people.loc["Joe Secret", "media_count"] == 1 and people.loc["Barack", "media_count"] == 2
