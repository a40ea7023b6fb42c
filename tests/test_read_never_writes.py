"""A read never writes: a JPEG stored as its JPEG XL (replace-originals) is rebuilt into the storage's cache only by
the operation named for it (``StageContext.materialize_source``), never by ``local_source``, the read."""
from __future__ import annotations

from pathlib import Path

import pytest

from factory import jpeg
from workbench import Library
from workbench.errors import WorkbenchError


def test_local_source_refuses_a_jpeg_stored_as_jxl_and_materialize_source_rebuilds_it(tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "in" / "p.jpg", 320, 240, seed=4)
    lib = Library.create(tmp_path / "lib")
    lib.import_files([tmp_path / "in"], progress=False)
    lib.compress("lossless", progress=False)
    done = lib.replace_originals(progress=False).iloc[0].to_dict()
    assert done["status"] == "replaced" and done["stored_as"] == "jxl-reconstructible", done
    row = lib.get(done["id"])
    ctx = lib.context.stage_context()
    cache = lib.root / "derived" / "reconstructed"
    with pytest.raises(WorkbenchError, match="materialize_source"):
        ctx.local_source(row)
    assert not cache.exists() or not any(cache.rglob("*.jpg"))          # the read wrote nothing
    rebuilt = ctx.materialize_source(row)
    assert rebuilt.read_bytes() == photo.read_bytes() and cache in rebuilt.parents
    assert ctx.materialize_source(row) == rebuilt                        # found in the cache the next time
    assert lib.original_path(row["id"]).read_bytes() == photo.read_bytes()
