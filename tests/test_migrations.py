"""An older library opens and is brought up to date; a newer one is refused with advice."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory import jpeg
from workbench import Library
from workbench.catalog.migrations import NewerLibraryError
from workbench.catalog.schema import SCHEMA_VERSION


def test_a_library_missing_newer_columns_gets_them_and_keeps_its_rows(tmp_path: Path):
    lib = Library.create(tmp_path / "lib")
    lib.import_files([jpeg(tmp_path / "a.jpg")], progress=False)
    # Make it look like a library written before `timezone` and `lens` existed.
    lib.catalog.table("media").drop_columns(["timezone", "lens"])
    meta = json.loads((lib.root / "library.json").read_text())
    meta["schema_version"] = 0
    (lib.root / "library.json").write_text(json.dumps(meta))

    again = Library.open(lib.root)
    assert {"timezone", "lens"} <= set(again.catalog.table("media").schema.names)
    assert len(again.media()) == 1 and again.get(again.media().iloc[0]["id"])["lens"] is None
    assert json.loads((lib.root / "library.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_a_library_from_a_newer_workbench_is_refused(tmp_path: Path):
    lib = Library.create(tmp_path / "lib")
    meta = json.loads((lib.root / "library.json").read_text())
    meta["schema_version"] = SCHEMA_VERSION + 1
    (lib.root / "library.json").write_text(json.dumps(meta))
    with pytest.raises(NewerLibraryError, match="upgrade workbench"):
        Library.open(lib.root)
