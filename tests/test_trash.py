"""The trash: nothing is deleted without an explicit action, and deletion goes through the trash first."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from factory import jpeg
from workbench import Library
from workbench.cli.main import app


@pytest.fixture
def lib(tmp_path) -> Library:
    for i in range(3):
        jpeg(tmp_path / "in" / f"p{i}.jpg", 320, 240, seed=i)
    lib = Library.create(tmp_path / "lib")
    lib.import_files([tmp_path / "in"], progress=False)
    lib.process(["thumbnails"], progress=False)
    return lib


def an_id(lib: Library, name: str) -> str:
    m = lib.media()
    return m[m["path"].str.endswith(name)].iloc[0]["id"]


def test_trashed_media_leave_listings_but_nothing_is_deleted(lib):
    mid = an_id(lib, "p0.jpg")
    original = lib.original_path(mid)
    lib.trash([mid])
    assert mid not in set(lib.media()["id"])
    assert mid in set(lib.media(include_trashed=True)["id"])
    assert original.exists() and lib.rendition_path(mid).exists()


def test_trashed_media_leave_search_results(lib):
    mid = an_id(lib, "p1.jpg")
    assert mid in set(lib.search("p1")["id"])
    lib.trash([mid])
    assert mid not in set(lib.search("p1")["id"])


def test_restore_brings_media_back(lib):
    mid = an_id(lib, "p0.jpg")
    lib.trash([mid])
    assert lib.restore([mid]) == 1
    assert mid in set(lib.media()["id"])


def test_emptying_deletes_originals_renditions_and_rows_of_trashed_media_only(lib):
    gone, kept = an_id(lib, "p0.jpg"), an_id(lib, "p1.jpg")
    original, preview = lib.original_path(gone), lib.rendition_path(gone, "preview")
    lib.trash([gone])
    res = lib.empty_trash()
    assert res["media"] == 1 and res["files_deleted"] == 3     # original, thumbnail, preview
    assert not original.exists() and not preview.exists()
    assert gone not in set(lib.media(include_trashed=True)["id"])
    assert lib.catalog.count("sources", f"media_id = '{gone}'") == 0
    assert lib.catalog.count("thumbnails", f"media_id = '{gone}'") == 0
    assert lib.original_path(kept).exists() and len(lib.media()) == 2
    assert lib.verify()["status"].eq("ok").all()


def test_emptying_forgets_but_never_deletes_a_referenced_file(tmp_path):
    src = jpeg(tmp_path / "mine" / "keep.jpg", 320, 240, seed=5)
    lib = Library.create(tmp_path / "lib")
    lib.import_files([src], mode="reference", progress=False)
    lib.trash([lib.media().iloc[0]["id"]])
    res = lib.empty_trash()
    assert res == {"media": 1, "files_deleted": 0, "referenced_files_kept": 1, "replaced_originals_deleted": 0,
                   "replaced_bytes_freed": 0}
    assert src.exists() and lib.media(include_trashed=True).empty


def test_cli_empty_asks_for_confirmation_and_stops_on_no(lib):
    mid = an_id(lib, "p2.jpg")
    runner = CliRunner()
    assert runner.invoke(app, ["--library", str(lib.root), "trash", mid]).exit_code == 0
    out = runner.invoke(app, ["--library", str(lib.root), "trash", "--empty"], input="n\n")
    assert out.exit_code != 0
    assert lib.original_path(mid).exists()
    out = runner.invoke(app, ["--library", str(lib.root), "trash", "--empty"], input="y\n")
    assert out.exit_code == 0 and not lib.catalog.count("media", f"id = '{mid}'")


def test_cli_trash_list_and_restore_json(lib):
    mid = an_id(lib, "p2.jpg")
    runner = CliRunner()
    runner.invoke(app, ["--library", str(lib.root), "trash", mid[:8]])
    rows = [json.loads(x) for x in runner.invoke(app, ["--library", str(lib.root), "trash", "--list", "--json"])
            .stdout.splitlines()]
    assert [r["id"] for r in rows] == [mid]
    out = runner.invoke(app, ["--library", str(lib.root), "restore", mid[:8], "--json"])
    assert json.loads(out.stdout) == {"restored": 1}
