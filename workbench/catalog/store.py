"""The LanceDB catalog: table creation, idempotent writes and reads. Only ``Library`` uses this module."""
from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa

from workbench.catalog.filters import Filter, In, render
from workbench.storage.errors import object_store_errors

#: What ``where=`` takes: a ``Filter`` (``workbench.catalog.filters``); a Lance SQL string still passes while the
#: callers move to filters.
Where = Filter | str

# LanceDB's merge_insert counts a null vector as a "bad" one and by default refuses the whole write, so a stage
# result row for a failed media (no vector) would abort the commit of its batch. Rows reach LanceDB already cast
# to the table's fixed-size vector type (``_as_table``), so a wrong-length vector fails there and the only "bad"
# vectors left are nulls, which we keep as nulls.
NULL_VECTORS = "null"


#: How often a write that lost a commit race to another process is tried again. Two writers of the same table
#: (two importers of a library on object storage) race for each version; Lance refuses the loser with a
#: "Retryable commit conflict" and nothing of it is committed, so trying again is safe: every write here is a
#: keyed merge, a predicate or an index built if still missing, idempotent. Seen with two importers of a library
#: in a bucket: at most one conflict per run, on a write or on the first full-text index.
COMMIT_RETRIES = 8

#: Lance's field metadata that declares a column the table's (unenforced) primary key. Two processes whose keyed
#: merges insert the same new key at once (two importers finding the same photo) both commit without it, since
#: each only adds a fragment: the media would get two rows. With it, Lance records the inserted keys with each
#: commit and refuses the second as a conflict, and its retry finds the row (lance #5633; the race reproduced here
#: gave 1 duplicate in 20 without it, none with it).
PRIMARY_KEY_METADATA = "lance-schema:unenforced-primary-key"


def _retrying(write: Any, remote: str | None = None, tbl: Any = None) -> Any:
    """``write()``, tried again after a short random pause when another process committed first. For a catalog in
    a bucket (``remote``), the store's failures become one-line errors (``storage.errors.object_store_errors``),
    and the table handle ``tbl`` is brought to the newest version before trying again (``Catalog.table``)."""
    with object_store_errors(remote):
        for attempt in range(COMMIT_RETRIES):
            try:
                return write()
            except (RuntimeError, OSError) as e:
                if "commit conflict" not in str(e).lower() or attempt == COMMIT_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
                if remote is not None and tbl is not None:
                    tbl.checkout_latest()
    return None


class Catalog:
    """A folder of Lance tables; every write is a merge keyed by the table's key, so repeating it is harmless."""

    def __init__(self, folder: Path, uri: str | None = None, storage_options: dict[str, str] | None = None,
                 compact_min_fragments: int = 0):
        """``folder``: the catalog's local folder (the tables, or for a catalog in a bucket the place local
        snapshots are kept next to); ``uri``: where the tables are when not there (``s3://bucket/prefix/catalog``,
        reached with LanceDB ``storage_options``; see docs/storage.md). ``compact_min_fragments``: ``compact``
        leaves a table with fewer small fragments than this alone (the setting
        ``catalog_bucket_compact_min_fragments`` for a catalog in a bucket)."""
        self.folder = Path(folder)
        self.compact_min_fragments = int(compact_min_fragments)
        self.uri = uri or str(self.folder)
        self._remote = self.uri if "://" in self.uri else None     # a catalog in a bucket: see _retrying
        # Check for newer table versions on every read: a long-lived reader (a dashboard, the gallery, a notebook)
        # must see what the CLI or another process committed since it opened the table. LanceDB does that before
        # each of its calls, which for a catalog in a bucket is a listing of ``_versions/`` each, six per keyed merge
        # before it writes anything; there the handle is instead brought up to date once per operation of this
        # class (``table``), which sees the same commits (docs/benchmarks.md, object storage).
        interval = None if self._remote else timedelta(0)
        self.db = lancedb.connect(self.uri, read_consistency_interval=interval, storage_options=storage_options)
        self._tables: dict[str, Any] = {}
        self._written: set[str] = set()   # tables this object wrote since its last ``compact``
        self._seen: set[str] = set()      # tables known to exist (never dropped), so ``ensure`` lists once
        self._keyed: set[str] = set()     # tables whose primary key is declared (``_declare_key``)

    @property
    def remote(self) -> bool:
        """Whether the tables are in a bucket (where every open, listing and version check is a request)."""
        return self._remote is not None

    # -- tables ---------------------------------------------------------------------------------------------
    def table_names(self) -> set[str]:
        names: set[str] = set()
        token = None
        while True:
            with object_store_errors(self._remote):
                resp = self.db.list_tables(page_token=token) if token else self.db.list_tables()
            names.update(resp.tables)
            token = resp.page_token
            if not token:
                self._seen |= names
                return names

    def ensure(self, name: str, schema: pa.Schema, key: str | None = None) -> None:
        """Create the table empty with ``schema`` when it does not exist yet, with ``key`` (the column its writes
        merge on) declared its primary key from the start (``PRIMARY_KEY_METADATA``), which spares its first write
        the commit that declares it (``_declare_key``: a commit is ~8 requests in a bucket). One that exists is
        opened when first used, not here: in a bucket, opening costs a few requests per table, and
        ``Library.open`` ensures two dozen tables that one command mostly never touches (docs/benchmarks.md,
        object storage)."""
        if name in self._tables or name in self._seen or name in self.table_names():   # a listing: one request
            return
        if key is not None and key in schema.names and not schema.field(key).nullable:
            field = schema.field(key)
            schema = schema.set(schema.get_field_index(key), field.with_metadata(
                {**(field.metadata or {}), PRIMARY_KEY_METADATA.encode(): b"true"}))
        self._tables[name] = self.db.create_table(name, schema=schema, exist_ok=True)
        self._seen.add(name)

    def table(self, name: str) -> Any:
        """The table's handle at its newest version (every call on a catalog in a bucket asks for it: one listing;
        elsewhere LanceDB checks on each of its own calls)."""
        with object_store_errors(self._remote):
            if name not in self._tables:
                self._tables[name] = self.db.open_table(name)
            elif self._remote is not None:
                self._tables[name].checkout_latest()
        return self._tables[name]

    def has(self, name: str) -> bool:
        return name in self._tables or name in self._seen or name in self.table_names()

    def version(self, name: str) -> int:
        """The table's version: it grows with every commit, by any process (a read of its manifest, ~0.1 ms),
        so a reader learns of new rows without reading them."""
        with object_store_errors(self._remote):
            return int(self.table(name).version)

    def schema(self, name: str) -> pa.Schema:
        """The table's columns as stored."""
        with object_store_errors(self._remote):
            return self.table(name).schema

    # -- writes ---------------------------------------------------------------------------------------------
    @staticmethod
    def _as_table(rows: Sequence[dict] | pa.Table | pa.RecordBatch, schema: pa.Schema, key: str) -> pa.Table:
        if isinstance(rows, pa.RecordBatch):
            rows = pa.Table.from_batches([rows])
        if isinstance(rows, pa.Table):
            data = rows.select(schema.names).cast(schema)
        else:
            # Keep the first row per key: a batch may hold the same content found twice, and the first path
            # in scan order is the one a person expects to see.
            dedup: dict[Any, dict] = {}
            for r in rows:
                dedup.setdefault(r[key], r)
            data = pa.Table.from_pylist(list(dedup.values()), schema=schema)
        return data

    def _declare_key(self, name: str, key: str, tbl: Any) -> pa.Schema:
        """The table's schema, once ``key`` is declared its primary key (``PRIMARY_KEY_METADATA``; once per table
        and process, a metadata-only commit the first time): concurrent keyed merges then cannot both insert the
        same new key. A table that declares another key, or whose key may be null, is left as it is."""
        with object_store_errors(self._remote):
            schema = tbl.schema
        if name in self._keyed:
            return schema
        declared = [f.name for f in schema if f.metadata and PRIMARY_KEY_METADATA.encode() in f.metadata]
        if not declared and key in schema.names and not schema.field(key).nullable:
            try:
                _retrying(lambda: tbl.to_lance().update_field_metadata({key: {PRIMARY_KEY_METADATA: "true"}}),
                          self._remote, tbl)
            except (RuntimeError, OSError, ValueError):
                pass        # another process declared it first (a conflict): the next check sees it
            with object_store_errors(self._remote):
                if self._remote is not None:     # committed through Lance, past the handle: look again
                    tbl.checkout_latest()
                schema = tbl.schema
        self._keyed.add(name)
        return schema

    def insert_new(self, name: str, rows: Sequence[dict] | pa.Table, key: str) -> int:
        """Insert rows whose ``key`` is not in the table yet; existing rows are left exactly as they were, also
        when another process inserts the same keys at the same moment (``_declare_key``)."""
        tbl = self.table(name)
        data = self._as_table(rows, self._declare_key(name, key, tbl), key)
        if data.num_rows == 0:
            return 0
        res = _retrying(lambda: tbl.merge_insert(key).when_not_matched_insert_all().execute(
            data, on_bad_vectors=NULL_VECTORS), self._remote, tbl)
        self._written.add(name)
        return int(getattr(res, "num_inserted_rows", data.num_rows))

    def upsert(self, name: str, rows: Sequence[dict] | pa.Table, key: str) -> None:
        """Insert or replace rows by ``key``."""
        tbl = self.table(name)
        data = self._as_table(rows, self._declare_key(name, key, tbl), key)
        if data.num_rows:
            _retrying(lambda: tbl.merge_insert(key).when_matched_update_all().when_not_matched_insert_all().execute(
                data, on_bad_vectors=NULL_VECTORS), self._remote, tbl)
            self._written.add(name)

    def delete(self, name: str, where: Where) -> None:
        sql = render(where) or "true"
        tbl = self.table(name)
        _retrying(lambda: tbl.delete(sql), self._remote, tbl)
        self._written.add(name)

    def delete_matching(self, name: str, where: Where) -> int:
        """Delete the rows matching ``where`` and say how many there were (no write, no new table version, when
        none match)."""
        n = self.count(name, where)
        if n:
            self.delete(name, where)
        return n

    def update(self, name: str, where: Where, values: dict[str, Any]) -> None:
        sql = render(where)
        tbl = self.table(name)
        _retrying(lambda: tbl.update(where=sql, values=values), self._remote, tbl)
        self._written.add(name)

    # -- reads ----------------------------------------------------------------------------------------------
    def read(self, name: str, columns: list[str] | None = None, where: Where | None = None) -> pa.Table:
        with object_store_errors(self._remote):
            return self._read(name, columns, render(where))

    def _read(self, name: str, columns: list[str] | None, where: str | None) -> pa.Table:
        tbl = self.table(name)
        n = tbl.count_rows()
        if n == 0:
            schema = tbl.schema
            if columns:
                schema = pa.schema([schema.field(c) for c in columns])
            return schema.empty_table()
        q = tbl.search()
        if where:
            q = q.where(where)
        if columns:
            q = q.select(columns)
        return q.limit(n).to_arrow()

    def count(self, name: str, where: Where | None = None) -> int:
        where = render(where)
        with object_store_errors(self._remote):
            tbl = self.table(name)
            return int(tbl.count_rows(where) if where else tbl.count_rows())

    def existing_keys(self, name: str, column: str, values: Iterable[str]) -> set[str]:
        """Which of ``values`` are present in ``column`` (chunked, so large batches stay cheap)."""
        values = list(values)
        found: set[str] = set()
        for i in range(0, len(values), 1000):
            chunk = values[i:i + 1000]
            t = self.read(name, [column], In(column, chunk))
            found.update(t.column(column).to_pylist())
        return found

    def text_search(self, name: str, column: str, words: str, where: Where | None = None,
                    columns: list[str] | None = None) -> pa.Table | None:
        """Rows whose ``column`` matches ``words`` in its full-text index, best first (``_score`` can be asked
        for in ``columns``), ``where`` applied first; None while the column has no index (``ensure_text_index``)."""
        with object_store_errors(self._remote):
            return self._text_search(name, column, words, where, columns)

    def _text_search(self, name: str, column: str, words: str, where: Where | None,
                     columns: list[str] | None) -> pa.Table | None:
        tbl = self.table(name)
        if f"{column}_idx" not in {ix.name for ix in tbl.list_indices()}:
            return None
        q = tbl.search(words, query_type="fts", fts_columns=column)
        sql = render(where)
        if sql:
            q = q.where(sql, prefilter=True)
        if columns:   # ``_score`` named: LanceDB adds it anyway, with a deprecation warning per query
            q = q.select([*dict.fromkeys([*columns, "_score"])])
        return q.limit(max(1, tbl.count_rows())).to_arrow()

    def ensure_text_index(self, name: str, column: str) -> None:
        """A full-text index on ``column`` once the table has rows (LanceDB cannot index an empty table); rows
        written later are merged into it by ``compact``. Here, so callers never touch LanceDB's index types."""
        from lancedb.index import FTS
        tbl = self.table(name)

        def create_if_missing() -> None:     # looked at again after a lost race: the winner may have built it
            if f"{column}_idx" not in {ix.name for ix in tbl.list_indices()} and tbl.count_rows():
                tbl.create_index(column, config=FTS(with_position=False))
        _retrying(create_if_missing, self._remote, tbl)

    def compact(self, only: Iterable[str] | None = None) -> None:
        """Merge the small fragments many commits leave behind and refresh indexes. A catalog in a bucket only
        compacts the tables this object wrote: optimizing an unchanged table still costs a dozen requests each
        (4.9 of 10 s of a small ingest on moto, benchmarks/s3_ingest.py); on local disk that is noise, so all.
        ``only``: just these tables (one that grows fast between runs compacts itself, the sign-in throttle)."""
        if only is not None:
            names = set(only)
        else:
            names = self.table_names()
            if "://" in self.uri:
                names &= self._written
            self._written = set()
        for name in sorted(names):
            try:
                tbl = self.table(name)
                if only is None and self.compact_min_fragments > 1:
                    # In a bucket an optimize costs ~15 requests even with nothing to merge (its clean-up lists
                    # every folder of the table), so only once enough small fragments have piled up.
                    if tbl.stats()["fragment_stats"]["num_small_fragments"] < self.compact_min_fragments:
                        continue
                tbl.optimize()
            except Exception:  # optimisation is an optimisation: never let it fail a user's command
                pass
