"""What one backup holds: a point-in-time set of a library's files, gathered as hard links in a staging folder.

Why hard links: a committed Lance version is immutable (LanceDB writes new files and a new manifest; it never
changes a file in place), and so are stored originals. So the catalog is pinned by reading each table's current
version (briefly under the library's write lock when it is free; a running import holds it for its whole run, and
then the versions are simply read, each one a committed state), then the catalog folder is linked into the
staging folder and every manifest newer than the pinned version is dropped from the copy. What a writer commits
after the pin never reaches the backup; what the pinned versions need cannot change or vanish under us.

The originals backed up are exactly those the pinned ``media`` rows name (import stores an original before it
commits its row), so a backup holds no media row without its original and no original without its row. Derived
files (thumbnails, versions) go along so a restored library needs no reprocessing; the rebuilt-JPEG cache and the
search snapshots are rebuilt on demand and are left out.
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager

from workbench.backup.restic import BackupError
from workbench.catalog.store import Catalog
from workbench.errors import LibraryError
from workbench.storage import CACHE, DERIVED, TRASH, Storage, original_key

#: The staging folder inside the library root (the same file system, so hard links work), one per library.
STAGING = ".backup-staging"
#: The manifest at the top of every snapshot: the table versions, counts, and when.
MANIFEST = "workbench-backup.json"
#: The library's configuration files and folders that travel with it (copied: they are small and mutable);
#: ``encryption.json`` is an encrypted library's keyring (its keys, only wrapped by the passphrase).
CONFIG_FILES = ("library.json", "settings.json", "vocabulary.json", "encryption.json")
CONFIG_DIRS = ("policies",)
#: Derived areas rebuilt on demand, never backed up.
SKIP_DERIVED = (CACHE, f"{DERIVED}/search")
CATALOG = "catalog"
HINT = "latest_version_hint.json"
#: How often pinning is retried when a pinned version vanished before it was linked (an old version cleaned up
#: by a concurrent compaction in that instant: it needs a version unchanged for 7 days and a writer at the same
#: moment, so one retry is already rare).
PIN_ATTEMPTS = 5


@dataclass
class Staged:
    """A staging folder ready for restic, and what it holds."""

    folder: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    #: A staging folder was left behind: the previous backup was killed, and the packs it wrote are orphans.
    interrupted_before: bool = False


def manifest_version(stem: str) -> int:
    """A Lance manifest's version from its file name: ``<u64::MAX - v>`` (Lance's V2 naming) or ``<v>``."""
    n = int(stem)
    return (2 ** 64 - 1) - n if n >= 2 ** 63 else n


def pin_versions(catalog: Catalog) -> dict[str, int]:
    """Each table's latest committed version, read now."""
    return {name: catalog.version(name) for name in sorted(catalog.table_names())}


def _place(src: Path, dest: Path) -> None:
    """``dest`` becomes a hard link to ``src`` (a copy across file systems, e.g. a remote storage's cache)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except FileExistsError:
        pass
    except OSError:
        shutil.copy2(src, dest)


def link_tree(src: Path, dest: Path) -> None:
    """Hard-link every file under ``src`` into ``dest``; files that vanish meanwhile are skipped (a version the
    pin does not need, removed by a compaction)."""
    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        for name in files:
            if "#" in name:  # object_store's in-flight temporary files: never part of a committed version
                continue
            try:
                _place(Path(dirpath) / name, dest / rel / name)
            except FileNotFoundError:
                continue


def copy_catalog(stored: Storage, dest: Path) -> None:
    """Download every file of a catalog kept in the bucket (``catalog/...`` beside the library's objects) into
    ``dest``: committed Lance files never change, so what was there at the pin is what the pinned versions need,
    and ``trim_catalog`` then drops the manifests committed after it. Files that vanish meanwhile are skipped, as
    in ``link_tree``."""
    for key in list(stored.list(CATALOG)):
        rel = key[len(CATALOG) + 1:]
        if "#" in rel:  # object_store's in-flight temporary files
            continue
        target = dest.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with stored.open(key) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except FileNotFoundError:
            target.unlink(missing_ok=True)


def trim_catalog(folder: Path, versions: dict[str, int]) -> list[str]:
    """Make the pinned version each table's latest in the staged ``folder``: drop newer manifests, the version
    hint and tables created after the pin. Returns the tables whose pinned manifest is missing (retry)."""
    missing = []
    for table in folder.iterdir() if folder.is_dir() else []:
        name = table.name.removesuffix(".lance")
        if name not in versions:
            shutil.rmtree(table)
            continue
        found = False
        for f in (table / "_versions").iterdir() if (table / "_versions").is_dir() else []:
            if f.name == HINT:
                f.unlink()
            elif f.suffix == ".manifest" and f.stem.isdigit():
                v = manifest_version(f.stem)
                if v > versions[name]:
                    f.unlink()
                found |= v == versions[name]
        if not found:
            missing.append(name)
    missing += [n for n in versions if not (folder / f"{n}.lance").is_dir()]
    return sorted(set(missing))


def as_stored(storage: Storage) -> tuple[Storage, Callable[[str], str]]:
    """The storage holding the bytes as stored and the name a key has there: an encrypting layer's inner storage
    and keyed-hash names (a backup of an encrypted library holds its ciphertext only), else the storage itself."""
    inner, name_of = getattr(storage, "inner", None), getattr(storage, "name_of", None)
    if isinstance(inner, Storage) and callable(name_of):
        return inner, name_of
    return storage, lambda key: key


def _is_pointer(marker: Path) -> bool:
    """Whether ``marker`` is a local home's pointer to a library kept elsewhere (``{"location": "s3://..."}``)."""
    try:
        return bool(json.loads(marker.read_text()).get("location"))
    except (OSError, ValueError):
        return False


def stage(root: Path, catalog: Catalog, storage: Storage, lock: ContextManager[Any]) -> Staged:
    """Gather a consistent point-in-time copy of the library at ``root`` as hard links under ``STAGING``."""
    stored, name_of = as_stored(storage)
    in_bucket = "://" in str(getattr(catalog, "uri", ""))
    if not in_bucket and not Path(str(catalog.folder)).is_dir():
        raise BackupError(f"the catalog of this library is not a folder ({catalog.folder}): run `workbench "
                          f"verify` on it first")
    encrypted = stored is not storage
    folder = root / STAGING
    interrupted = folder.exists()
    if interrupted:
        shutil.rmtree(folder)  # left by a killed backup: start clean
    folder.mkdir()
    locked = "held"
    for _ in range(PIN_ATTEMPTS):
        try:
            ctx: ContextManager[Any] = lock
            ctx.__enter__()
        except LibraryError:
            ctx, locked = nullcontext(), "busy: versions pinned while a writer ran"
        try:
            versions = pin_versions(catalog)
            pinned_at = datetime.now(timezone.utc)
            if in_bucket:
                copy_catalog(stored, folder / CATALOG)
            else:
                link_tree(catalog.folder, folder / CATALOG)
        finally:
            ctx.__exit__(None, None, None)
        missing = trim_catalog(folder / CATALOG, versions)
        if not missing:
            break
        shutil.rmtree(folder / CATALOG)
    else:
        raise BackupError(f"could not pin a consistent catalog after {PIN_ATTEMPTS} tries (tables {missing} kept "
                          f"changing under a running compaction); run the backup again")

    staged = Catalog(folder / CATALOG)
    for name, v in versions.items():  # the staged catalog opens at exactly the pinned versions
        if staged.version(name) != v:
            raise BackupError(f"staged table {name} opened at version {staged.version(name)}, not the "
                              f"pinned {v}; run the backup again")
    media = staged.read("media", ["id", "storage", "blob"]).to_pylist() if "media" in versions else []
    n_orig = orig_bytes = 0
    for row in media:
        if row["storage"] != "copy" or not row["blob"]:
            continue  # referenced media: the file stays where the user keeps it
        key = original_key(row["blob"])
        try:
            name = name_of(key)
            src = stored.local_file(name)
            _place(src, folder.joinpath(*name.split("/")))
        except FileNotFoundError:
            raise BackupError(f"media {row['id']}: its original {key} is missing from the library; run "
                              f"`workbench verify` (and repair it) before backing up") from None
        n_orig += 1
        orig_bytes += src.stat().st_size
    n_derived = 0
    for area in (DERIVED, TRASH):
        for key in stored.list(area):
            if key.startswith(tuple(p + "/" for p in SKIP_DERIVED)) or (folder.joinpath(*key.split("/"))).exists():
                continue  # (an encrypted library's names say nothing: its caches go along, as ciphertext)
            try:
                _place(stored.local_file(key), folder.joinpath(*key.split("/")))
                n_derived += 1
            except FileNotFoundError:
                continue  # replaced or emptied while we listed: not part of what the pinned rows need
    for name in CONFIG_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, folder / name)
    if _is_pointer(folder / "library.json"):
        # A library in a bucket: the local home's library.json only points at it. The backup holds the library
        # itself (the bucket's library.json and, if encrypted, its keyring), so a restore is a whole folder library.
        for name in ("library.json", "encryption.json"):
            if stored.exists(name):
                (folder / name).write_bytes(stored.read_bytes(name))
    for name in CONFIG_DIRS:
        if (root / name).is_dir():
            shutil.copytree(root / name, folder / name)
    manifest = {"format": "workbench-backup", "format_version": 1, "created_at": pinned_at.isoformat(),
                "library": str(root), "write_lock": locked, "tables": versions, "media": len(media),
                "originals": n_orig, "original_bytes": orig_bytes, "other_files": n_derived,
                "encrypted": encrypted}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Staged(folder, manifest, interrupted)


def unstage(root: Path) -> None:
    """Remove the staging folder (its links would otherwise keep deleted files' space in use)."""
    shutil.rmtree(root / STAGING, ignore_errors=True)
