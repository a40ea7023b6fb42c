"""Bring an older library's catalog up to the current ``SCHEMA_VERSION``.

Two mechanisms:
- additive changes need no code: any nullable column in the current schema that an existing table lacks is
  added (all nulls) when the library is opened for writing;
- anything else (renames, type changes, backfills) is a step registered in ``STEPS`` under the version it
  produces; steps run in order, once, and the version reached is recorded in ``library.json``.
"""
from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from workbench.catalog.schema import SCHEMA_VERSION
from workbench.catalog.store import Catalog
from workbench.errors import LibraryError

# version produced -> step. Version 1 is the first released schema, so there is nothing to do yet.
STEPS: dict[int, Callable[[Catalog], None]] = {}


class NewerLibraryError(LibraryError):
    """The library was written by a newer workbench whose schema this one does not know."""


def add_missing_columns(catalog: Catalog, schemas: dict[str, pa.Schema]) -> list[str]:
    """Add, as all-null columns, the fields a table lacks; returns what was added ("table.column")."""
    added: list[str] = []
    for name, schema in schemas.items():
        if not catalog.has(name):
            continue
        tbl = catalog.table(name)
        have = set(tbl.schema.names)
        missing = [f for f in schema if f.name not in have]
        for f in missing:
            if not f.nullable:
                raise RuntimeError(
                    f"table {name!r} lacks required column {f.name!r}; this needs a migration step in "
                    f"workbench/catalog/migrations.py, not an automatic column")
        if missing:
            tbl.add_columns([pa.field(f.name, f.type, nullable=True) for f in missing])
            added += [f"{name}.{f.name}" for f in missing]
    return added


def check_not_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise NewerLibraryError(
            f"this library has catalog schema version {version}, but this workbench only knows up to "
            f"{SCHEMA_VERSION}; upgrade workbench to open it")


def migrate(catalog: Catalog, from_version: int, schemas: dict[str, pa.Schema]) -> list[str]:
    """Run the steps after ``from_version`` and add missing columns; returns a log of what changed."""
    check_not_newer(from_version)
    log: list[str] = []
    for version in range(from_version + 1, SCHEMA_VERSION + 1):
        step = STEPS.get(version)
        if step is not None:
            step(catalog)
            log.append(f"ran migration step to schema version {version}")
    log += [f"added column {c}" for c in add_missing_columns(catalog, schemas)]
    return log
