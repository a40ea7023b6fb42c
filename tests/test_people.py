"""People: clustering faces into persons incrementally, and user decisions that re-clustering never undoes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench import Library
from workbench.errors import WorkbenchError

FR = "faces/face_recognition"
STAGES = ["thumbnails", "face_scans"]
OBAMA = ["tests/test_images/obama.jpg", "tests/test_images/obama2.jpg", "tests/test_images/obama3.jpg",
         "examples/obama-720p.jpg"]
BIDEN = ["examples/knn_examples/train/biden/biden.jpg", "examples/knn_examples/train/biden/biden2.jpg"]
ROSE = ["examples/knn_examples/train/rose_leslie/img1.jpg", "examples/knn_examples/train/rose_leslie/img2.jpg"]


def add(lib: Library, corpus: Path, rels: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for rel in rels:
        shutil.copy(corpus / FR / rel, folder / rel.replace("/", "_"))
    lib.import_files([folder], progress=False)
    lib.process(STAGES, progress=False)


def person_of(lib: Library, file_part: str) -> str | None:
    f = lib.faces()
    rows = f[f["path"].str.contains(file_part, regex=False)]
    assert len(rows) == 1, rows
    pid = rows.iloc[0]["person_id"]
    return pid if isinstance(pid, str) else None


def face_of(lib: Library, file_part: str) -> str:
    f = lib.faces()
    return f[f["path"].str.contains(file_part, regex=False)].iloc[0]["face_id"]


@pytest.fixture(scope="module")
def base_library(corpus, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("people")
    add(Library.create(root / "lib"), corpus, OBAMA + BIDEN, root / "batch1")
    return root / "lib"


@pytest.fixture
def lib(base_library, tmp_path) -> Library:
    """A fresh copy of a processed library (four Obama photos, two of Biden) for each test."""
    shutil.copytree(base_library, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def test_photos_of_the_same_person_form_one_person(lib):
    ids = {person_of(lib, Path(r).name) for r in OBAMA}
    assert len(ids) == 1 and None not in ids


def test_different_people_are_different_persons(lib):
    assert person_of(lib, "obama2.jpg") != person_of(lib, "biden2.jpg")


def test_people_list_counts_faces_and_media(lib):
    p = lib.people().set_index("person_id")
    assert p.loc[person_of(lib, "obama2.jpg"), "face_count"] == 4
    assert p.loc[person_of(lib, "biden2.jpg"), "media_count"] == 2


def test_a_new_photo_joins_the_existing_person(lib, corpus, tmp_path):
    before = person_of(lib, "obama2.jpg")
    add(lib, corpus, ["examples/obama-1080p.jpg"], tmp_path / "batch2")
    assert person_of(lib, "obama-1080p.jpg") == before


def test_a_person_seen_once_is_found_when_more_photos_arrive(corpus, tmp_path):
    lib = Library.create(tmp_path / "lib")
    add(lib, corpus, OBAMA[:2] + ROSE[:1], tmp_path / "b1")
    assert person_of(lib, "rose_leslie_img1.jpg") is None     # one face is not yet a person
    add(lib, corpus, ROSE[1:], tmp_path / "b2")
    assert person_of(lib, "rose_leslie_img1.jpg") is not None
    assert person_of(lib, "rose_leslie_img1.jpg") == person_of(lib, "rose_leslie_img2.jpg")


def test_named_person_can_be_found_by_name_in_ls_and_search(lib):
    lib.name_person(person_of(lib, "biden.jpg"), "Joe Biden")
    assert len(lib.media(person="Joe Biden")) == 2
    assert len(lib.media(person="biden")) == 2                 # a unique part of the name works too
    assert set(lib.search("biden", person="joe biden")["path"]) <= set(lib.media(person="Joe Biden")["path"])


def test_a_name_already_taken_suggests_merging(lib):
    lib.name_person(person_of(lib, "biden.jpg"), "Joe")
    with pytest.raises(WorkbenchError, match="merge"):
        lib.name_person(person_of(lib, "obama2.jpg"), "joe")


def test_merge_moves_every_face_and_keeps_the_old_id_working(lib):
    a, b = person_of(lib, "obama2.jpg"), person_of(lib, "biden.jpg")
    lib.name_person(b, "Someone")
    assert lib.merge_people(a, b) == a
    assert person_of(lib, "biden2.jpg") == a
    assert lib.resolve_person(b) == a
    assert lib.people().set_index("person_id").loc[a, "name"] == "Someone"


def test_decisions_survive_reclustering(lib):
    obama = person_of(lib, "obama2.jpg")
    lib.name_person(obama, "Barack")
    moved = face_of(lib, "biden2.jpg")
    lib.move_faces([moved], obama)                               # a user says this face is Barack
    rejected = face_of(lib, "obama3.jpg")
    lib.reject_faces([rejected])                                 # and this one is not
    biden = person_of(lib, "biden.jpg")
    lib.hide_person(biden)
    lib.update_people(redo_auto=True)
    assert person_of(lib, "biden2.jpg") == obama
    assert person_of(lib, "obama3.jpg") != obama
    assert lib.people().set_index("person_id").loc[obama, "name"] == "Barack"
    assert person_of(lib, "biden.jpg") == biden
    assert biden not in set(lib.people()["person_id"])
    assert biden in set(lib.people(include_hidden=True)["person_id"])


def test_split_makes_a_new_person_that_clustering_does_not_merge_back(lib):
    obama = person_of(lib, "obama2.jpg")
    faces = [face_of(lib, "obama-720p.jpg"), face_of(lib, "obama3.jpg")]
    new = lib.split_person(obama, faces, name="Look-alike")
    lib.update_people(redo_auto=True)
    assert person_of(lib, "obama-720p.jpg") == new and person_of(lib, "obama3.jpg") == new
    assert person_of(lib, "obama2.jpg") == obama


def test_split_refuses_faces_of_someone_else(lib):
    with pytest.raises(WorkbenchError, match="is not a face of person"):
        lib.split_person(person_of(lib, "obama2.jpg"), [face_of(lib, "biden2.jpg")])


def test_cli_faces_and_people_json_rows_have_the_documented_keys(lib):
    from workbench.cli.main import app
    runner = CliRunner()
    out = runner.invoke(app, ["--library", str(lib.root), "faces", "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert rows and all(list(r) == ["face_id", "media_id", "path", "bbox", "frame", "person_id"] for r in rows)
    assert all(len(r["bbox"]) == 4 and r["frame"] is None for r in rows)
    out = runner.invoke(app, ["--library", str(lib.root), "people", "--json"])
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert rows and all(list(r) == ["person_id", "name", "face_count", "media_count"] for r in rows)


def test_cli_people_name_then_ls_by_person(lib):
    from workbench.cli.main import app
    runner = CliRunner()
    pid = person_of(lib, "biden.jpg")
    assert runner.invoke(app, ["--library", str(lib.root), "people", "name", pid, "Joe Biden"]).exit_code == 0
    out = runner.invoke(app, ["--library", str(lib.root), "ls", "--person", "Joe Biden", "--json"])
    assert len(out.stdout.splitlines()) == 2


def test_prune_after_switching_detector_drops_old_faces_people_and_assignments(lib):
    old_faces = lib.catalog.count("faces")
    lib.settings.face_detect_upsample = 0      # another face model id: everything is pending again
    lib.settings.save(lib.root)
    lib = Library.open(lib.root)
    lib.process(STAGES, progress=False)
    assert lib.catalog.count("faces") > old_faces
    removed = lib.prune()
    assert removed["faces"] == old_faces and removed["persons"] >= 2 and removed["face_assignments"] >= 6
    assert len(lib.people()) >= 2 and lib.catalog.count("faces") == len(lib.faces())
