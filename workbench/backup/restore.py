"""Getting a library back from a backup: the whole of it into a new folder, or a few media into the live one."""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, ContextManager

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from workbench.backup.restic import BackupError, Restic
from workbench.backup.snapshot import CATALOG, MANIFEST, as_stored
from workbench.catalog.filters import Eq, In
from workbench.catalog.store import Catalog
from workbench.errors import WorkbenchError
from workbench.storage import Storage, original_key
from workbench.storage.base import CHUNK_BYTES

#: Written into a finished whole-library restore: a rerun of the same restore sees it is done.
RESTORED_MARK = ".restored-from.json"


def _sha256(f: BinaryIO) -> str:
    h = hashlib.sha256()
    while chunk := f.read(CHUNK_BYTES):
        h.update(chunk)
    return h.hexdigest()


def _live_sha256(storage: Storage, key: str) -> str | None:
    """The hash of the library's copy of ``key`` (None: missing, unreadable or failing authentication)."""
    try:
        with storage.open(key) as f:
            return _sha256(f)
    except (OSError, WorkbenchError):
        return None


def _put_back(storage: Storage, key: str, restored: Path, expected: str, mid: str) -> str:
    """Put the original ``key`` back from the restored tree unless the library's copy is intact; returns what
    happened (intact | restored). Nothing unverified ever replaces anything."""
    stored, name_of = as_stored(storage)
    name = name_of(key)
    got = restored.joinpath(*name.split("/"))
    if stored is storage:
        with open(got, "rb") as f:
            if _sha256(f) != expected:
                raise BackupError(f"media {mid}: the backed-up original does not match its recorded hash; run "
                                  f"`workbench backups verify --read-data 100` and try an older backup (--at)")
    if storage.exists(key) and _live_sha256(storage, key) == expected:
        return "intact"
    if storage.exists(key):
        storage.to_trash(key)  # keep the damaged copy for inspection; never silently drop it
    if stored is storage:
        with open(got, "rb") as f:
            storage.put_addressed(f, lambda _sha: key)
    else:  # ciphertext as stored: written back under its name, then it must decrypt to the recorded hash
        with open(got, "rb") as f:
            stored.write(name, iter(lambda: f.read(CHUNK_BYTES), b""), immutable=True)
        if _live_sha256(storage, key) != expected:
            stored.delete(name)
            raise BackupError(f"media {mid}: the backed-up original does not decrypt to its recorded hash (wrong "
                              f"keys, or damaged); try an older backup (--at)")
    return "restored"


def restore_library(repo: Restic, snapshot: dict[str, Any], dest: Path) -> dict[str, Any]:
    """Restore the whole library of ``snapshot`` into ``dest`` (a new or empty folder).

    restic writes into a hidden sibling folder first; only a complete restore is renamed to ``dest``, so a killed
    restore leaves ``dest`` untouched and a rerun starts clean (the sibling is wiped)."""
    dest = Path(dest).expanduser().absolute()
    mark = dest / RESTORED_MARK
    if mark.exists() and json.loads(mark.read_text()).get("snapshot") == snapshot["id"]:
        return {**json.loads(mark.read_text()), "already_restored": True}
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} is not empty: restore into a new or empty folder (the live library is never "
                          f"overwritten; `workbench backups restore ID...` brings single media back into it)")
    partial = dest.parent / f".{dest.name}.restoring"
    if partial.exists():
        shutil.rmtree(partial)  # a killed earlier restore
    dest.parent.mkdir(parents=True, exist_ok=True)
    repo.restore(snapshot["id"], partial)
    src = partial / snapshot["path"].lstrip("/")
    manifest_file = src / MANIFEST
    if not manifest_file.is_file() or not (src / "library.json").is_file():
        raise BackupError(f"snapshot {snapshot['short_id']} is not a workbench backup (no {MANIFEST})")
    manifest = json.loads(manifest_file.read_text())
    manifest_file.unlink()
    record = {"snapshot": snapshot["id"], "time": snapshot["time"], "tables": manifest["tables"],
              "media": manifest["media"], "originals": manifest["originals"]}
    (src / RESTORED_MARK).write_text(json.dumps(record, indent=2) + "\n")
    if dest.exists():
        dest.rmdir()
    src.rename(dest)
    shutil.rmtree(partial)
    return {**record, "already_restored": False, "library": str(dest)}


def _resolve(ids: list[str], known: list[str]) -> list[str]:
    out = []
    for i in ids:
        hits = [k for k in known if k.startswith(i)]
        if len(hits) != 1:
            raise BackupError(f"{i!r} matches {len(hits)} media in that backup; give more of the id")
        out.append(hits[0])
    return list(dict.fromkeys(out))


def restore_media(repo: Restic, snapshot: dict[str, Any], ids: list[str], root: Path, catalog: Catalog,
                  storage: Storage, write_lock: ContextManager[Any]) -> list[dict[str, Any]]:
    """Bring media ``ids`` (ids or prefixes) back from ``snapshot`` into the live library: each original (checked
    against its recorded hash before it replaces anything; a damaged live copy goes to the file trash) and its
    ``media`` and ``sources`` rows when they are gone. Stage rows are rebuilt by the next ``process``."""
    base = snapshot["path"].rstrip("/")
    with tempfile.TemporaryDirectory(dir=root, prefix=".backup-restore-") as tmp:
        tmp_dir = Path(tmp)
        repo.restore(snapshot["id"], tmp_dir, includes=[f"{base}/{CATALOG}/media.lance",
                                                        f"{base}/{CATALOG}/sources.lance"])
        old = Catalog(tmp_dir / base.lstrip("/") / CATALOG)
        wanted = _resolve(ids, old.read("media", ["id"]).column("id").to_pylist())
        rows = old.read("media", where=In("id", wanted))
        sources = old.read("sources", where=In("media_id", wanted))
        by_id = {r["id"]: r for r in rows.to_pylist()}
        copies = [r for r in by_id.values() if r["storage"] == "copy" and r["blob"]]
        if copies:
            repo.restore(snapshot["id"], tmp_dir,
                         includes=[f"{base}/{as_stored(storage)[1](original_key(r['blob']))}" for r in copies])
        report = []
        with write_lock:
            for mid in wanted:
                r = by_id[mid]
                outcome = {"id": mid, "original": "referenced (not in backups)", "row": "present"}
                if r in copies:
                    outcome["original"] = _put_back(storage, original_key(r["blob"]), tmp_dir / base.lstrip("/"),
                                                    r["stored_sha256"] if r.get("stored_as") else r["sha256"], mid)
                if catalog.count("media", Eq("id", mid)) == 0:
                    outcome["row"] = "restored"
                report.append(outcome)
            gone = [o["id"] for o in report if o["row"] == "restored"]
            if gone:  # rows still present are left exactly as they are (no new table version either)
                catalog.insert_new("media", _conform(rows.filter(pa.compute.is_in(rows.column("id"),
                                                                                 pa.array(gone))),
                                                     catalog.schema("media")), "id")
                srcs = sources.filter(pa.compute.is_in(sources.column("media_id"), pa.array(gone)))
                if srcs.num_rows:
                    catalog.insert_new("sources", _conform(srcs, catalog.schema("sources")), "key")
    return report


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows of an older backup in today's schema (columns added since are null)."""
    cols = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)
