"""Finding, creating and opening a library: where it is (a folder, ``s3://bucket/prefix``, or a local home that
points at a bucket), its ``library.json`` marker, its catalog, and migrating a catalog an older version made.
``Library.create`` and ``Library.open`` are built from these."""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.catalog.lock import WriteLock
from workbench.catalog.migrations import check_not_newer, migrate
from workbench.catalog.schema import CORE_KEYS, CORE_TABLES, SCHEMA_VERSION
from workbench.catalog.store import Catalog
from workbench.errors import LibraryError
from workbench.settings import Settings
from workbench.stages.registry import stage_schemas
from workbench.storage import Storage, open_storage
from workbench.storage.errors import StorageError
from workbench.storage.location import is_remote, local_home, normalize

MARKER = "library.json"

DEFAULT_LIBRARY = Path("data") / "library"


def resolve_root(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``$WORKBENCH_LIBRARY``, else ``data/library`` under the current folder."""
    if path:
        return Path(path).expanduser().absolute()
    env = os.environ.get("WORKBENCH_LIBRARY")
    if env:
        return Path(env).expanduser().absolute()
    return (Path.cwd() / DEFAULT_LIBRARY).absolute()


def resolve_location(path: str | os.PathLike | None = None) -> str | Path:
    """Like ``resolve_root``, but an ``s3://bucket/prefix`` URL stays a URL, and a local folder whose
    library.json points at a bucket (the home of a library on object storage) resolves to that URL."""
    value = path if path else os.environ.get("WORKBENCH_LIBRARY")
    if value and is_remote(str(value)):
        return normalize(str(value))
    root = resolve_root(path)
    try:
        return json.loads((root / MARKER).read_text()).get("location") or root
    except (OSError, ValueError):
        return root


def _meta(**extra: Any) -> dict[str, Any]:
    return {"format": "workbench-library", "schema_version": SCHEMA_VERSION,
            "created_at": datetime.now(timezone.utc).isoformat(), **extra}


def _dump(meta: dict[str, Any]) -> str:
    return json.dumps(meta, indent=2) + "\n"


def create_folder(root: Path) -> None:
    """Make an empty library in the folder ``root`` (nothing happens to an existing library)."""
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise LibraryError(f"{root} is a non-empty folder that is not a workbench library; choose an empty "
                           f"or new folder")
    for sub in ("originals", "derived", "catalog"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if not (root / MARKER).exists():
        (root / MARKER).write_text(_dump(_meta()))


def create_remote(url: str, catalog_location: str | None) -> None:
    """A library on object storage: its library.json goes in the bucket (written once, if absent, so two
    machines running init at once agree); its local home is made on first open."""
    settings = Settings.load(local_home(url))
    where = catalog_location or settings.catalog_location
    if where not in ("bucket", "local"):
        raise LibraryError(f"catalog_location must be 'bucket' or 'local', not {where!r}")
    storage = open_storage(url, settings)
    if not storage.exists(MARKER):
        if any(True for _ in storage.list("originals")):
            raise LibraryError(f"{url} holds files but no library.json: not a workbench library; choose an "
                               f"empty prefix")
        storage.put_if_absent(MARKER, _dump(_meta(catalog=where)).encode())


def read_marker(loc: str | Path, settings: Settings) -> tuple[dict[str, Any], Storage | None]:
    """The library's library.json (``FileNotFoundError`` when there is none) and, for a library on object
    storage, the storage it was read from."""
    storage = open_storage(str(loc), settings) if is_remote(loc) else None
    root = local_home(loc)
    meta = json.loads(storage.read_bytes(MARKER) if storage else (root / MARKER).read_text())
    check_not_newer(int(meta.get("schema_version", 0)))
    return meta, storage


def open_catalog(loc: str | Path, settings: Settings, meta: dict[str, Any], storage: Storage | None) -> Catalog:
    """The library's catalog: in its folder, or for a library on object storage in the bucket (or local, as
    ``library.json`` says); the local home of a bucket library gets a pointer to it."""
    root = local_home(loc)
    if not storage:
        return Catalog(root / "catalog")
    from workbench.storage.s3 import lance_storage_options
    root.mkdir(parents=True, exist_ok=True)
    pointer = json.dumps({"format": "workbench-library", "location": str(loc)}, indent=2) + "\n"
    if not (root / MARKER).exists() or (root / MARKER).read_text() != pointer:
        (root / MARKER).write_text(pointer)   # the home opens the same library (gallery, dashboards)
    if meta.get("catalog") == "local":
        return Catalog(root / "catalog")
    return Catalog(root / "catalog", uri=f"{loc}/catalog",
                   storage_options=lance_storage_options(settings.s3_endpoint_url or None, settings.s3_region or None),
                   compact_min_fragments=settings.catalog_bucket_compact_min_fragments)


def migrate_if_needed(catalog: Catalog, settings: Settings, root: Path, lock: WriteLock, meta: dict[str, Any],
                      storage: Storage | None) -> None:
    """Make the core tables, and migrate a catalog an older version made (or one missing newer columns)."""
    schemas = {**CORE_TABLES, **stage_schemas(settings, root)}
    have = catalog.table_names()
    for name, schema in CORE_TABLES.items():
        catalog.ensure(name, schema, CORE_KEYS.get(name))  # stage tables are created when their stage first runs
    have |= set(CORE_TABLES)
    # Reading a table's columns in a bucket costs a few requests (about 90 for the two dozen tables, the better part
    # of a second against a local server: docs/benchmarks.md, object storage), so a catalog in a bucket remembers in
    # library.json which tables it found complete under which expected columns and reads only the others (a table
    # made since, say by another workbench version, or all of them once the expected columns change).
    fingerprint = _columns_fingerprint(schemas)
    stamp = meta.get(COLUMNS_CHECKED) or {}
    trusted = set(stamp.get("tables", ())) if catalog.remote and stamp.get("columns") == fingerprint else set()
    to_check = [n for n in schemas if n in have and n not in trusted]
    needs_columns = any(set(schemas[n].names) - set(catalog.schema(n).names) for n in to_check)
    if catalog.remote:
        meta[COLUMNS_CHECKED] = {"columns": fingerprint, "tables": sorted(n for n in schemas if n in have)}
    if meta.get("schema_version", 0) < SCHEMA_VERSION or needs_columns:
        with lock:
            migrate(catalog, int(meta.get("schema_version", 0)), schemas)
            meta["schema_version"] = SCHEMA_VERSION
            if storage:
                storage.write(MARKER, _dump(meta).encode())
            else:
                (root / MARKER).write_text(_dump(meta))
    elif catalog.remote and to_check and storage:
        # Only a record that saves requests next time: skipped when another process is writing, or the key may
        # not write, since the next open simply checks those tables again.
        try:
            with WriteLock(lock.path.parent):
                storage.write(MARKER, _dump(meta).encode())
        except (LibraryError, StorageError, OSError):
            pass


#: The ``library.json`` key of a catalog in a bucket that says which tables had every expected column (``columns``:
#: a digest of the expected column names), so opening the library does not read their columns again.
COLUMNS_CHECKED = "columns_checked"


def _columns_fingerprint(schemas: dict[str, Any]) -> str:
    names = {name: sorted(schema.names) for name, schema in sorted(schemas.items())}
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()[:16]
