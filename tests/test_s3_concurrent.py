"""Two machines importing into the same library on object storage at once never lose a commit: LanceDB commits each
table version with a conditional put (If-None-Match), which moto's server honours (test_s3_storage shows it), so a
writer that loses the race retries on top of the winner instead of overwriting it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from factory import jpeg
from workbench import Library
from workbench.catalog.filters import Eq

REPO = Path(__file__).resolve().parent.parent
#: Photos each importer finds besides the shared one: enough that the two runs overlap even when one process starts
#: a second later on a busy machine (with 6, and fewer requests per commit since, some runs under load did not
#: interleave: one import was done before the other began).
PER_IMPORTER = 10


@pytest.mark.slow
def test_two_importers_on_two_machines_lose_no_commit(s3_env, tmp_path):
    Library.create(s3_env.url)
    procs = []
    expected = set()
    for who in ("a", "b"):
        src = tmp_path / f"photos-{who}"
        for i in range(PER_IMPORTER):
            jpeg(src / f"{who}{i}.jpg", seed=100 + i + (50 if who == "b" else 0))
            expected.add(f"{who}{i}.jpg")
        jpeg(src / "shared.jpg", seed=7)                     # the same content found by both
        # Each "machine" has its own local home (lock, settings) and commits after every file: many small
        # commits of the media, sources and errors tables racing each other.
        home = tmp_path / f"state-{who}"
        lib_home = home / "s3" / s3_env.bucket / "lib"
        lib_home.mkdir(parents=True)
        (lib_home / "settings.json").write_text(json.dumps({"commit_every_files": 1, "workers": 1}))
        env = {**os.environ, **s3_env.env(), "WORKBENCH_STATE_HOME": str(home), "WORKBENCH_LIBRARY": s3_env.url}
        procs.append(subprocess.Popen([sys.executable, "-m", "workbench", "import", str(src)], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    lib = Library.open(s3_env.url)
    media = lib.media()
    names = {Path(p).name for p in media["path"]}
    assert expected <= names and len(media) == 2 * PER_IMPORTER + 1   # the distinct photos and the shared one once
    sources = lib.sources()
    assert len(sources[sources["path"].str.endswith("shared.jpg")]) == 2   # found at both paths
    assert len(s3_env.keys("lib/originals/")) == 2 * PER_IMPORTER + 1
    # The two really wrote at the same time: their commits interleave.
    order = [Path(p).parent.name for p in sources.sort_values("found_at")["path"]]
    switches = sum(1 for x, y in zip(order, order[1:]) if x != y)
    assert switches >= 2, order


def test_a_catalog_in_the_bucket_sees_what_another_writer_committed_since(s3_env, tmp_path):
    """A catalog in a bucket brings a table up to date once per operation (not before each LanceDB call, six
    listings per merge): a reader that opened the table earlier still sees rows, versions and keys another writer
    committed since, and a keyed insert of a key that writer added keeps the one row."""
    import pyarrow as pa

    from workbench.catalog.store import Catalog
    from workbench.storage.s3 import lance_storage_options

    schema = pa.schema([pa.field("id", pa.string(), False), ("text", pa.string())])
    uri = f"{s3_env.url}/catalog"
    first = Catalog(tmp_path / "a", uri=uri, storage_options=lance_storage_options())
    other = Catalog(tmp_path / "b", uri=uri, storage_options=lance_storage_options())
    first.ensure("media", schema, "id")
    assert first.count("media") == 0 and other.count("media") == 0      # both hold an open handle now
    version = first.version("media")
    other.insert_new("media", [{"id": "x", "text": "from the other writer"}], "id")
    assert first.version("media") == version + 1
    assert first.count("media") == 1 and first.read("media", ["text"]).column("text").to_pylist() == [
        "from the other writer"]
    assert first.insert_new("media", [{"id": "x", "text": "again"}, {"id": "y", "text": "new"}], "id") == 1
    other.upsert("media", [{"id": "y", "text": "changed by the other"}], "id")
    first.update("media", Eq("id", "x"), {"text": "updated here"})
    rows = {r["id"]: r["text"] for r in Catalog(tmp_path / "c", uri=uri, storage_options=lance_storage_options())
            .read("media").to_pylist()}
    assert rows == {"x": "updated here", "y": "changed by the other"}
