"""``Library``: the one door to an archive. The CLI, notebooks, dashboards and gallery all go through it."""
from __future__ import annotations

import json
import os
from contextlib import nullcontext
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.catalog.lock import WriteLock
from workbench.catalog.migrations import check_not_newer, migrate
from workbench.catalog.queries import MediaFilter, list_media
from workbench.catalog.schema import CORE_TABLES, SCHEMA_VERSION
from workbench.catalog.store import Catalog, sql_in, sql_quote
from workbench.compress.policy import Policy
from workbench.errors import LibraryError, NotFoundError, WorkbenchError
from workbench.ingest.importer import ImportReport, import_paths
from workbench.parallel import Failure, run_isolated
from workbench.progress import bar
from workbench.settings import Settings
from workbench.stages.base import StageContext
from workbench.stages.registry import all_stages, stage_schemas
from workbench.stages.runner import StageReport, pending_media, run_stage
from workbench.storage import DERIVED, ORIGINALS, Storage, derived_key, open_storage, original_key
from workbench.storage.location import is_remote, local_home, normalize

if TYPE_CHECKING:
    from workbench.replicas import Replicas, ScrubReport

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


class Library:
    """A library folder: ``originals/`` (content-addressed, read-only), ``derived/`` and ``catalog/``.

    Open one with ``Library.open(path)`` (or ``Library.create``); every method returns plain Python or pandas
    objects, so a notebook can explore the archive directly.
    """

    def __init__(self, root: Path, catalog: Catalog, settings: Settings, location: str | None = None):
        #: The library's local folder: the library itself, or for one on object storage its local home (lock,
        #: settings, caches; see docs/storage.md). ``location`` is where its files are (a folder or ``s3://``).
        self.root = root
        self.location = location or str(root)
        self.catalog = catalog
        self.settings = settings
        #: Every read and write of originals, renditions, versions, the file trash and caches goes through it.
        self.storage: Storage = open_storage(self.location, settings)
        if is_remote(self.location):
            from workbench.parallel import also_preload
            also_preload("workbench.storage.s3")
        self._lock = WriteLock(root, settings.write_lock_wait_s)

    # -- opening --------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike | None = None, *, catalog_location: str | None = None) -> "Library":
        """Create an empty library (or open it if it already exists): a folder, or ``s3://bucket/prefix`` whose
        catalog is in the bucket or local (``catalog_location``, default the setting of that name)."""
        loc = resolve_location(path)
        if is_remote(loc):
            return cls._create_remote(str(loc), catalog_location)
        root = Path(loc)
        if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
            raise LibraryError(f"{root} is a non-empty folder that is not a workbench library; choose an empty "
                               f"or new folder")
        for sub in ("originals", "derived", "catalog"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        if not (root / MARKER).exists():
            meta = {"format": "workbench-library", "schema_version": SCHEMA_VERSION,
                    "created_at": datetime.now(timezone.utc).isoformat()}
            (root / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
        return cls.open(root)

    @classmethod
    def _create_remote(cls, url: str, catalog_location: str | None) -> "Library":
        """A library on object storage: its library.json goes in the bucket (written once, if absent, so two
        machines running init at once agree); its local home is made on first open."""
        home = local_home(url)
        settings = Settings.load(home)
        where = catalog_location or settings.catalog_location
        if where not in ("bucket", "local"):
            raise LibraryError(f"catalog_location must be 'bucket' or 'local', not {where!r}")
        storage = open_storage(url, settings)
        meta = {"format": "workbench-library", "schema_version": SCHEMA_VERSION,
                "created_at": datetime.now(timezone.utc).isoformat(), "catalog": where}
        if not storage.exists(MARKER):
            if any(True for _ in storage.list("originals")):
                raise LibraryError(f"{url} holds files but no library.json: not a workbench library; choose an "
                                   f"empty prefix")
            storage.put_if_absent(MARKER, (json.dumps(meta, indent=2) + "\n").encode())
        return cls.open(url)

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, create: bool = False, *,
             passphrase: str | None = None) -> "Library":
        """Open an existing library (a folder or ``s3://bucket/prefix``), migrating its catalog if it was made by
        an older version."""
        loc = resolve_location(path)
        remote = is_remote(loc)
        root = local_home(loc)
        settings = Settings.load(root)
        storage = open_storage(str(loc), settings) if remote else None
        try:
            meta = json.loads(storage.read_bytes(MARKER) if storage else (root / MARKER).read_text())
        except (FileNotFoundError, NotADirectoryError):
            if create:
                return cls.create(loc)
            raise LibraryError(f"no library at {loc}: run `workbench init` (or `workbench --library PATH init`) "
                               f"first, or point --library / WORKBENCH_LIBRARY at an existing one") from None
        check_not_newer(int(meta.get("schema_version", 0)))
        if storage:
            from workbench.storage.s3 import lance_storage_options
            root.mkdir(parents=True, exist_ok=True)
            pointer = json.dumps({"format": "workbench-library", "location": str(loc)}, indent=2) + "\n"
            if not (root / MARKER).exists() or (root / MARKER).read_text() != pointer:
                (root / MARKER).write_text(pointer)   # the home opens the same library (gallery, dashboards)
            catalog = (Catalog(root / "catalog") if meta.get("catalog") == "local" else
                       Catalog(root / "catalog", uri=f"{loc}/catalog",
                               storage_options=lance_storage_options(settings.s3_endpoint_url or None,
                                                                     settings.s3_region or None)))
        else:
            catalog = Catalog(root / "catalog")
        lib = cls(root, catalog, settings, location=str(loc))
        # An encrypted library reads and writes through its keys (passphrase, WORKBENCH_PASSPHRASE[_FILE], a prompt).
        from workbench.storage.encrypted import open_encrypted
        lib.storage = open_encrypted(root, lib.storage, settings, passphrase)
        schemas = lib._schemas()
        for name, schema in CORE_TABLES.items():
            catalog.ensure(name, schema)  # stage tables are created when their stage first runs
        if meta.get("schema_version", 0) < SCHEMA_VERSION or lib._needs_columns(schemas):
            with lib._lock:
                migrate(catalog, int(meta.get("schema_version", 0)), schemas)
                meta["schema_version"] = SCHEMA_VERSION
                if storage:
                    storage.write(MARKER, (json.dumps(meta, indent=2) + "\n").encode())
                else:
                    (root / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
        return lib

    def _schemas(self) -> dict[str, Any]:
        return {**CORE_TABLES, **stage_schemas(self.settings, self.root)}

    def _needs_columns(self, schemas: dict[str, Any]) -> bool:
        have = self.catalog.table_names()
        return any(set(s.names) - set(self.catalog.table(n).schema.names) for n, s in schemas.items() if n in have)

    def __repr__(self) -> str:
        return f"Library({self.location!r})"

    # -- paths ----------------------------------------------------------------------------------------------
    @property
    def originals_dir(self) -> Path:
        """The folder of a local library's originals, for people and tests looking at it; code reads and writes
        through ``self.storage``."""
        return self.storage.local_file(ORIGINALS)

    @property
    def derived_dir(self) -> Path:
        """The folder of a local library's derived files (see ``originals_dir``)."""
        return self.storage.local_file(DERIVED)

    def _context(self) -> StageContext:
        from workbench.storage.encrypted import EncryptedStorage
        # An encrypted storage travels to the workers with its keys; any other is opened again there from its root.
        # So does one on S3: it carries the endpoint and keys read here (a worker's environment is the
        # forkserver's, which may predate them).
        return StageContext(self.location, self.settings,
                            self.storage if isinstance(self.storage, EncryptedStorage) or is_remote(self.location)
                            else None)

    # -- import and processing ------------------------------------------------------------------------------
    def import_files(self, paths: Iterable[str | os.PathLike], *, mode: str = "copy", owner: str | None = None,
                     progress: bool | None = None) -> ImportReport:
        """Add files and folders; identical content is stored once and remembers every path it was found at."""
        paths = [Path(p) for p in paths]
        with self._lock:
            self.storage.clean_tmp()
            with bar(None, "import", progress) as pb:
                report = import_paths(self.catalog, self.root, paths, mode=mode, owner=owner,
                                      settings=self.settings, storage=self.storage, on_progress=pb.update,
                                      set_total=lambda n: setattr(pb, "total", n) or pb.refresh())
            self._refresh_indexes()
        return report

    def writers_waiting(self) -> bool:
        """Whether another process waits for this library's write lock (``workbench serve``'s processor then
        steps aside between chunks, so an import or a rename runs after the current chunk)."""
        return self._lock.someone_waiting()

    def engine(self, name: str = "local", address: str | None = None, *,
               keep_workers_s: float | None = None) -> Any:
        """The engine ``process`` runs stages on: "local" (worker processes) or "ray" (connects to, or starts, a
        Ray cluster now, so a wrong address fails before any work); ``describe()`` says where it runs. A local
        engine with ``keep_workers_s`` keeps each stage's workers (and the models they loaded) between
        ``process`` calls until unused that long: ``workbench serve``'s processor runs many small ones."""
        from workbench.stages.engines import make_engine
        return make_engine(name, address=address, settings=self.settings, keep_workers_s=keep_workers_s)

    def process(self, stages: Iterable[str] | None = None, *, retry_failed: bool = False,
                progress: bool | None = None, max_media: int | None = None, engine: Any = "local",
                address: str | None = None) -> list[StageReport]:
        """Run every pending stage (or the named ones); safe to interrupt and rerun. ``max_media`` caps the media
        each stage takes this time (``workbench serve`` works in chunks so new photos get thumbnails first).
        ``engine="ray"`` runs the stages' batches on a Ray cluster (``address``, else ``ray_address``, else a new
        local one); the rows are the same and are committed here either way."""
        from concurrent.futures import ThreadPoolExecutor

        runner_engine = self.engine(engine, address) if isinstance(engine, str) else engine

        from workbench.people.assign import update_people
        from workbench.stages.faces import FaceStage
        wanted = set(stages) if stages else None
        reports = []
        chosen = [s for s in all_stages(self.settings, self.root) if wanted is None or s.name in wanted]
        with self._lock, ThreadPoolExecutor(1) as prefetch:
            self.storage.clean_tmp()
            # Whether later stages can run (loading CLIP takes seconds) is found out while the first stage's
            # workers are busy, instead of after them.
            ready = {id(s): prefetch.submit(s.unavailable_reason) for s in chosen[1:]}
            for stage in chosen:
                reason = ready[id(stage)].result() if id(stage) in ready else stage.unavailable_reason()
                if reason:
                    reports.append(StageReport(stage.name, stage.version, skipped=reason))
                    continue
                self.catalog.ensure(stage.name, stage.schema)
                for name, schema in stage.side_schemas().items():
                    self.catalog.ensure(name, schema)
                with bar(None, stage.name, progress) as pb:
                    rep = run_stage(self.catalog, stage, self._context(), retry_failed=retry_failed,
                                    on_progress=pb.update,
                                    set_total=lambda n: setattr(pb, "total", n) or pb.refresh(),
                                    limit=max_media, engine=runner_engine)
                reports.append(rep)
                if rep.done or rep.failed:
                    stage.after_run(self.catalog)
                    if isinstance(stage, FaceStage):
                        # New faces join known people or form new ones (user decisions are kept).
                        update_people(self.catalog, self.settings, stage.version)
            self.catalog.compact()
            if self.settings.replica_sync_after_process:
                # New imports reach every replica without anyone running `replicas sync` (docs/archive.md).
                for r in self.replicas.sync(progress=progress):
                    reports.append(StageReport(f"replica {r.replica}", "sync", done=r.copied,
                                               failed=len(r.failures), failures=r.failures))
        return reports

    @property
    def replicas(self) -> "Replicas":
        """The library's replica stores: ``add``, ``list``, ``remove``, ``status``, ``sync`` (docs/archive.md)."""
        from workbench.replicas import Replicas
        if getattr(self, "_replicas", None) is None:
            self._replicas = Replicas(self.catalog, self.storage, self.settings, self._lock, self.root)
        return self._replicas

    def scrub(self, *, sample_percent: float = 100.0, budget_s: float | None = None,
              progress: bool | None = None) -> "ScrubReport":
        """Re-read originals, their replica copies and renditions, check their hashes and repair what is wrong
        from a verified copy (events in ``repair_events()``). A sample or a time budget continues where the last
        scrub stopped, so repeated runs cover everything."""
        from workbench.replicas import Scrubber
        from workbench.stages.thumbnails import ThumbnailStage
        thumbs = next(s for s in all_stages(self.settings, self.root) if isinstance(s, ThumbnailStage))
        with self._lock:
            self.storage.clean_tmp()
            return Scrubber(self.catalog, self.storage, self.replicas, self._context(), thumbs).run(
                sample_percent=sample_percent, budget_s=budget_s, progress=progress)

    def repair_events(self) -> pd.DataFrame:
        """What scrub found wrong and did (repaired from which replica, re-sent, rebuilt, or no good copy)."""
        from workbench.replicas import repair_events
        return repair_events(self.catalog)

    def _refresh_indexes(self) -> None:
        if self.catalog.count("media") == 0:
            return
        self.catalog.ensure_text_index("media", "search_text")
        self.catalog.compact()

    # -- reading --------------------------------------------------------------------------------------------
    def status(self) -> pd.DataFrame:
        """Per stage: done, pending and failed counts for its current version."""
        rows = []
        n_media = self.catalog.count("media")
        for stage in all_stages(self.settings, self.root):
            v = sql_quote(stage.version)
            exists = self.catalog.has(stage.name)
            done = self.catalog.count(stage.name, f"version = {v} AND status = 'ok'") if exists else 0
            failed = self.catalog.count(stage.name, f"version = {v} AND status = 'failed'") if exists else 0
            pending = pending_media(self.catalog, stage, ready_only=False).num_rows
            rows.append({"stage": stage.name, "version": stage.version, "done": done, "pending": pending,
                         "failed": failed})
        df = pd.DataFrame(rows, columns=["stage", "version", "done", "pending", "failed"])
        df.attrs["media"] = n_media
        return df

    def media_version(self) -> int:
        """A number that grows whenever media are added or changed, by any process: a background processor
        (``workbench serve``) polls it to learn of new work (a read of the table's manifest, ~0.1 ms)."""
        return int(self.catalog.table("media").version)

    def counts(self) -> dict[str, int]:
        """How many images, videos, errors and source paths the library holds."""
        return {"images": self.catalog.count("media", "kind = 'image'"),
                "videos": self.catalog.count("media", "kind = 'video'"),
                "sources": self.catalog.count("sources"),
                "errors": self.catalog.count("errors")}

    def media(self, *, kind: str | None = None, since: date | datetime | None = None,
              until: date | datetime | None = None, camera: str | None = None, place: str | None = None,
              query: str | None = None, owner: str | None = None, tag: str | None = None,
              person: str | None = None, sort: str = "date", desc: bool = False,
              limit: int | None = None, include_trashed: bool = False,
              has_text: bool | None = None) -> pd.DataFrame:
        """Media as a DataFrame: filter by kind, capture date range, camera, place, tag, person, words and
        whether text was read in them (``has_text``). Media in the trash are left out unless ``include_trashed``."""
        flt = MediaFilter(kind=kind, since=since, until=until, camera=camera, place=place, query=query, owner=owner,
                          ids=self._restricted(tag, person, has_text))
        df = list_media(self.catalog, flt, sort=sort, desc=desc, limit=None)
        if not include_trashed:
            df = df[~df["id"].isin(self.trashed_ids())]
        return (df.head(limit) if limit is not None else df).reset_index(drop=True)

    def resolve_id(self, id_or_prefix: str) -> str:
        """A full media id from a unique prefix (at least 4 hex digits), like git."""
        p = id_or_prefix.strip().lower()
        if len(p) < 4 or any(c not in "0123456789abcdef" for c in p):
            raise NotFoundError(f"{id_or_prefix!r} is not a media id: use at least 4 hex digits from `workbench ls`")
        t = self.catalog.read("media", ["id"], f"id LIKE {sql_quote(p + '%')}")
        ids = t.column("id").to_pylist()
        if not ids:
            raise NotFoundError(f"no media with id {id_or_prefix!r}")
        if len(ids) > 1:
            raise NotFoundError(f"id prefix {id_or_prefix!r} is ambiguous: it matches {len(ids)} media; type more digits")
        return ids[0]

    def _resolve_ids(self, ids: Iterable[str]) -> list[str]:
        """Many ids at once (adding a thousand media to an album): full ids are checked in one query, prefixes
        one by one."""
        wanted = [str(i).strip().lower() for i in ids]
        known = self.catalog.existing_keys("media", "id", [i for i in wanted if len(i) == 16])
        return [i if i in known else self.resolve_id(i) for i in wanted]

    def get(self, id_or_prefix: str) -> dict[str, Any]:
        """Everything about one media: its row, every source path, stage results and errors."""
        mid = self.resolve_id(id_or_prefix)
        row = self.catalog.read("media", None, f"id = {sql_quote(mid)}").to_pylist()[0]
        row["sources"] = sorted(self.catalog.read("sources", ["path"], f"media_id = {sql_quote(mid)}")
                                .column("path").to_pylist())
        row["stages"] = {}
        for stage in all_stages(self.settings, self.root):
            r = (self.catalog.read(stage.name, None, f"media_id = {sql_quote(mid)} AND version = "
                                   f"{sql_quote(stage.version)}").to_pylist() if self.catalog.has(stage.name) else [])
            if r:
                r[0] = {k: v for k, v in r[0].items() if k not in stage.bulky_columns}
            row["stages"][stage.name] = r[0] if r else {"status": "pending"}
        row["errors"] = self.catalog.read("errors", ["stage", "reason"], f"media_id = {sql_quote(mid)}").to_pylist()
        return row

    def sources(self) -> pd.DataFrame:
        """Every path each media was found at (exact duplicates are media with several)."""
        return self.catalog.read("sources", ["media_id", "path", "mode", "owner", "found_at"]).to_pandas()

    def errors(self) -> pd.DataFrame:
        """Files and stages that failed, with the reason, newest first."""
        df = self.catalog.read("errors", ["path", "stage", "reason", "media_id", "at"]).to_pandas()
        return df.sort_values(["at", "path"], ascending=[False, True]).reset_index(drop=True)

    def original_path(self, id_or_prefix: str) -> Path:
        """A local file with the original bytes (the stored original, or the referenced file). For a JPEG stored as
        JPEG XL this writes: the exact JPEG is rebuilt into the storage's cache (``Storage.materialize``)."""
        row = self.get(id_or_prefix)
        return self._context().local_source(row)

    def stored_original_key(self, id_or_prefix: str) -> str | None:
        """The storage key of a media's original when its bytes are served as stored, so a player can read it by
        ranges through ``self.storage`` (an encrypted library decrypts only the chunks asked for, a bucket sends
        only that range); None when the bytes come from a local file instead (``original_path``: a file imported
        by reference, or a JPEG rebuilt from its JPEG XL)."""
        from workbench.compress.replace import RECONSTRUCTIBLE
        row = self.get(id_or_prefix)
        if row.get("storage") == "copy" and row.get("blob") and row.get("stored_as") != RECONSTRUCTIBLE:
            return original_key(row["blob"])
        return None

    def download_files(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """[{"id", "path", "name", "mime", "size_bytes"}] of the bytes a download of these media (full ids, in this
        order; unknown ones left out) serves, from one catalog read: a zip of an album asks for hundreds. ``path``
        is a local file (``original_path``'s), ``name`` the file name it was imported under; an original replaced
        by a pixel-lossless or lossy version is that version, so its name takes the version's extension."""
        from workbench.compress.replace import RECONSTRUCTIBLE
        wanted = list(dict.fromkeys(ids))
        rows = {r["id"]: r for r in self.catalog.read("media", None, sql_in("id", wanted)).to_pylist()} if wanted \
            else {}
        ctx = self._context()
        out = []
        for mid in wanted:
            row = rows.get(mid)
            if row is None:
                continue
            path = ctx.local_source(row)
            name = Path(row["path"]).name
            if row.get("stored_as") and row["stored_as"] != RECONSTRUCTIBLE:
                name = Path(name).stem + path.suffix
            out.append({"id": mid, "path": path, "name": name, "mime": row["mime"], "size_bytes": path.stat().st_size})
        return out

    def rendition_path(self, id_or_prefix: str, which: str = "thumb") -> Path | None:
        """The thumbnail (``thumb``) or ``preview`` WebP of a media, None until processed."""
        if which not in ("thumb", "preview"):
            raise ValueError("which must be 'thumb' or 'preview'")
        from workbench.stages.thumbnails import ThumbnailStage
        # Only the thumbnails row is read (not every stage, as ``get`` does): a gallery grid asks this per cell.
        mid = self.resolve_id(id_or_prefix)
        if not self.catalog.has(ThumbnailStage.name):
            return None
        rows = self.catalog.read(ThumbnailStage.name, [which, "status"], f"media_id = {sql_quote(mid)} AND version = "
                                 f"{sql_quote(ThumbnailStage(self.settings).version)}").to_pylist()
        return self.storage.local_file(derived_key(rows[0][which])) if rows and rows[0]["status"] == "ok" else None

    def thumbnail(self, id_or_prefix: str, which: str = "thumb") -> bytes | None:
        """The WebP bytes of a media's thumbnail or preview (None until processed): the one way apps show a
        picture, so the gallery's permission checks have a single place to live."""
        if which not in ("thumb", "preview"):
            raise ValueError("which must be 'thumb' or 'preview'")
        mid = self.resolve_id(id_or_prefix)
        return self.thumbnails([mid], which)[mid]

    def thumbnails(self, ids: Iterable[str], which: str = "thumb") -> dict[str, bytes | None]:
        """WebP bytes of many media's thumbnails (or previews) in one catalog read, None where not processed:
        the gallery's grid shows dozens per scroll, and ``thumbnail`` pays a full ``get`` for each."""
        if which not in ("thumb", "preview"):
            raise ValueError("which must be 'thumb' or 'preview'")
        out: dict[str, bytes | None] = dict.fromkeys(ids)
        if not out or not self.catalog.has("thumbnails"):
            return out
        rows = self.catalog.read("thumbnails", ["media_id", which], f"version = {sql_quote(self.thumbnail_version())} "
                                 f"AND status = 'ok' AND {sql_in('media_id', list(out))}").to_pylist()
        for r in rows:
            try:
                out[r["media_id"]] = self.storage.read_bytes(derived_key(r[which])) if r[which] else None
            except FileNotFoundError:
                pass
        return out

    # -- semantic search ------------------------------------------------------------------------------------
    def _embedding_stage(self):
        from workbench.stages.embeddings import EmbeddingStage
        return next(s for s in all_stages(self.settings, self.root) if isinstance(s, EmbeddingStage))

    def _search_tables(self):
        from workbench.semantic.search import SearchTables
        st = self._embedding_stage()
        return SearchTables(st.name, st.frames_table, st.version)

    def _has_vectors(self) -> bool:
        """Whether any media has an embedding of the current CLIP model (so a text query is worth embedding)."""
        t = self._search_tables()
        return self.catalog.has(t.media_table) and self.catalog.count(
            t.media_table, f"version = {sql_quote(t.model_id)} AND status = 'ok'") > 0

    def search(self, text: str, *, limit: int = 20, kind: str | None = None, since: date | datetime | None = None,
               until: date | datetime | None = None, camera: str | None = None, place: str | None = None,
               owner: str | None = None, tag: str | None = None, person: str | None = None,
               within: set[str] | None = None, words: list[str] | None = None,
               has_text: bool | None = None) -> pd.DataFrame:
        """Media matching a description: CLIP text-to-image (videos by their best frame, with its time) fused
        with words in names, folders, camera and place. Without CLIP weights only the words are used.
        ``within`` limits hits to these media ids and ``words`` replaces the word ranking: how a user's view
        applies permissions inside the search (words of other people's folders must not find anything).
        Words read in the pictures (the ``ocr`` stage) are ranked too, and win ties."""
        from workbench.semantic.clip import WeightsUnavailable, load_embedder
        from workbench.semantic.search import search_text
        from workbench.stages.ocr import text_hits
        ids = self._restricted(tag, person, has_text)
        if within is not None:
            ids = set(within) if ids is None else ids & set(within)
        flt = MediaFilter(kind=kind, since=since, until=until, camera=camera, place=place, owner=owner, ids=ids)
        qvec = None
        # With no stored vector of this model a query vector has nothing to match: CLIP is not loaded (torch and
        # open_clip cost a gallery viewer's kernel ~250 MB; docs/benchmarks.md, gallery load).
        if self._has_vectors():
            try:
                qvec = load_embedder(self.settings).embed_texts([text])[0]
            except WeightsUnavailable:
                pass
        # Effective tags cost a pass over every stored score: compute them only when the query names a tag.
        tags = self.tags() if self._mentions_a_tag(text) else None
        trashed = self.trashed_ids()
        hits = search_text(self.catalog, self._search_tables(), qvec, text, flt, limit + len(trashed), tags=tags,
                           word_ids=words, text_ids=text_hits(self.catalog, self._ocr_version(), text))
        out = self._with_media(hits[~hits["id"].isin(trashed)].head(limit))
        out.attrs["by_meaning"] = qvec is not None   # False: words only (no CLIP vectors or weights), say so
        return out

    def similar(self, id_or_prefix: str, *, limit: int = 20, kind: str | None = None,
                within: set[str] | None = None) -> pd.DataFrame:
        """Media that look like this one (its CLIP vector against every other image and video frame); ``within``
        limits hits to these media ids (a user's view)."""
        import numpy as np

        from workbench.errors import WorkbenchError
        from workbench.semantic.search import pushdown, vector_hits
        mid = self.resolve_id(id_or_prefix)
        tables = self._search_tables()
        rows = (self.catalog.read(tables.media_table, ["vector"], f"media_id = {sql_quote(mid)} AND version = "
                                  f"{sql_quote(tables.model_id)} AND status = 'ok'").to_pylist()
                if self.catalog.has(tables.media_table) else [])
        if not rows:
            raise WorkbenchError(f"media {mid} has no {tables.model_id} embedding yet: run `workbench process` "
                                 f"(CLIP weights are needed; see `workbench status`)")
        trashed = self.trashed_ids()
        hits = vector_hits(self.catalog, tables, np.asarray(rows[0]["vector"], np.float32), limit + len(trashed),
                           None if within is None else set(within), exclude=mid,
                           where=pushdown(MediaFilter(kind=kind)))
        return self._with_media(hits[~hits["id"].isin(trashed)].head(limit))

    def _with_media(self, hits: pd.DataFrame) -> pd.DataFrame:
        """Search hits joined with their media rows, in hit order."""
        if hits.empty:
            return hits.assign(path=pd.Series(dtype=str), kind=pd.Series(dtype=str))
        media = self.catalog.read("media", None, sql_in("id", list(hits["id"]))).to_pandas()
        return hits.merge(media, on="id", how="left")

    def map_vectors(self, source: str = "clip"):
        """The raw vectors an embedding map lays out (``MapVectors``: items + float32 matrix): ``clip``, one
        CLIP vector per media (videos: the mean of their frames), or ``faces``, one per recognisable face.
        Trashed media are left out. Why: search returns scores, but a map needs the vectors themselves."""
        from workbench.semantic.map_vectors import SOURCES, clip_vectors, face_vectors
        if source not in SOURCES:
            raise ValueError(f"unknown map source {source!r}: use one of {', '.join(SOURCES)}")
        if source == "faces":
            return face_vectors(self.catalog, self.settings, self.face_model_id(), self.trashed_ids())
        tables = self._search_tables()
        return clip_vectors(self.catalog, tables.media_table, tables.model_id, self.trashed_ids())

    # -- tags -----------------------------------------------------------------------------------------------
    def _tag_stage(self):
        from workbench.stages.tags import TagStage
        return next(s for s in all_stages(self.settings, self.root) if isinstance(s, TagStage))

    def vocabulary(self):
        """The tag vocabulary in use: the shipped one plus labels added with ``add_label``."""
        return self._tag_stage().vocabulary

    def add_label(self, name: str, category: str = "custom", prompts: list[str] | None = None) -> None:
        """Add a tag to the vocabulary; the next ``process`` scores every media for it from stored vectors."""
        from workbench.semantic.vocabulary import normalize_name
        vocab = self.vocabulary().add(name, category, prompts)  # validates (empty, duplicate, ...)
        f = self.root / "vocabulary.json"
        data = json.loads(f.read_text()) if f.exists() else {"labels": []}
        data["labels"].append({"name": normalize_name(name), "category": category, "prompts": prompts})
        f.write_text(json.dumps(data, indent=2) + "\n")
        del vocab

    def tag_scores(self):
        """Every stored (media, tag) score for the current model and vocabulary, as a dense ``ScoreMatrix``."""
        import numpy as np

        from workbench.semantic.tagging import ScoreMatrix
        st = self._tag_stage()
        names = tuple(st.vocabulary.names)
        if not self.catalog.has(st.name):
            return ScoreMatrix(np.array([], dtype=object), names, np.zeros((0, len(names)), np.float32))
        t = self.catalog.read(st.name, ["media_id", "scores"],
                              f"version = {sql_quote(st.version)} AND status = 'ok'")
        # Arrow's flat buffer, not Python lists: 9x faster (0.07 s instead of 0.65 s for 20k media x 430 labels).
        flat = t.column("scores").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        values = flat.astype(np.float32, copy=False).reshape(t.num_rows, len(names))
        return ScoreMatrix(np.asarray(t.column("media_id").to_pylist(), dtype=object), names, values)

    def tag_thresholds(self) -> dict[str, float]:
        """Per-tag threshold overrides (the global one is ``settings.tag_threshold``)."""
        t = self.catalog.read("tag_thresholds", ["tag", "threshold"]).to_pylist()
        return {r["tag"]: r["threshold"] for r in t}

    def set_tag_threshold(self, threshold: float, tag: str | None = None) -> None:
        """Set the global threshold, or one tag's override; tags follow at once, nothing is re-embedded."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"a tag threshold is a score between 0 and 1, not {threshold}")
        if tag is None:
            self.settings.tag_threshold = float(threshold)
            self.settings.save(self.root)
            return
        from workbench.semantic.vocabulary import normalize_name
        self.catalog.upsert("tag_thresholds", [{"tag": normalize_name(tag), "threshold": float(threshold),
                                                "at": datetime.now(timezone.utc)}], "tag")

    def clear_tag_threshold(self, tag: str) -> None:
        """Drop a tag's override so the global threshold applies to it again."""
        from workbench.semantic.vocabulary import normalize_name
        self.catalog.delete("tag_thresholds", f"tag = {sql_quote(normalize_name(tag))}")

    def _manual(self, id_or_prefix: str, tag: str, action: str, user: str | None) -> None:
        from workbench.semantic.vocabulary import normalize_name
        mid, tag = self.resolve_id(id_or_prefix), normalize_name(tag)
        if not tag:
            raise ValueError("a tag needs a name")
        self.catalog.upsert("manual_tags", [{"key": f"{mid}\0{tag}", "media_id": mid, "tag": tag,
                                             "action": action, "user": user, "at": datetime.now(timezone.utc)}],
                            "key")

    def add_tag(self, id_or_prefix: str, tag: str, user: str | None = None) -> None:
        """Tag a media by hand; wins over automatic tagging and survives re-tagging."""
        self._manual(id_or_prefix, tag, "add", user)

    def remove_tag(self, id_or_prefix: str, tag: str, user: str | None = None) -> None:
        """Remove a tag from a media by hand (also an automatic one); it stays removed after re-tagging."""
        self._manual(id_or_prefix, tag, "remove", user)

    def _mentions_a_tag(self, text: str) -> bool:
        """Whether the words of ``text`` contain a vocabulary label or a tag someone added by hand."""
        q = f" {' '.join(text.lower().split())} "
        manual = self.catalog.read("manual_tags", ["tag"]).column("tag").to_pylist()
        return any(f" {t} " in q for t in {*self.vocabulary().names, *manual})

    def _restricted(self, tag: str | None, person: str | None, has_text: bool | None = None) -> set[str] | None:
        """Media ids allowed by the tag, person and has-text filters (None: no restriction)."""
        sets = [x for x in (self._tagged(tag), self._with_person(person), self._with_text(has_text))
                if x is not None]
        return set.intersection(*sets) if sets else None

    # -- text read in pictures (the ``ocr`` stage) ----------------------------------------------------------
    def _ocr_version(self) -> str:
        from workbench.stages.ocr import OcrStage
        return next(s for s in all_stages(self.settings, self.root) if isinstance(s, OcrStage)).version

    def _with_text(self, has_text: bool | None) -> set[str] | None:
        """Media in which text was read (True), or all others (False); None: no restriction."""
        if has_text is None:
            return None
        from workbench.stages.ocr import OCR_TABLE
        found: set[str] = set()
        if self.catalog.has(OCR_TABLE):
            found = set(self.catalog.read(OCR_TABLE, ["media_id"], f"version = {sql_quote(self._ocr_version())} "
                                          f"AND status = 'ok' AND line_count > 0").column("media_id").to_pylist())
        if has_text:
            return found
        return set(self.catalog.read("media", ["id"]).column("id").to_pylist()) - found

    def text(self, id_or_prefix: str) -> pd.DataFrame:
        """The lines of text read in a media [text, confidence, box, t_s], in reading order (for a video, by the
        time of the frame they were read in): ``box`` is four corners [[x, y], ...] clockwise from top-left in
        pixels of the upright original. Empty until the ``ocr`` stage has run, or when there is no text."""
        from workbench.stages.ocr import OCR_TABLE
        mid = self.resolve_id(id_or_prefix)
        cols = ["text", "confidence", "box", "t_s"]
        rows = (self.catalog.read(OCR_TABLE, ["lines"], f"media_id = {sql_quote(mid)} AND version = "
                                  f"{sql_quote(self._ocr_version())} AND status = 'ok'").to_pylist()
                if self.catalog.has(OCR_TABLE) else [])
        lines = (rows[0]["lines"] or []) if rows else []
        return pd.DataFrame([{"text": ln["text"], "confidence": ln["confidence"],
                              "box": [ln["box"][i:i + 2] for i in range(0, len(ln["box"]), 2)], "t_s": ln["t_s"]}
                             for ln in lines], columns=cols)

    def _tagged(self, tag: str | None) -> set[str] | None:
        if tag is None:
            return None
        from workbench.semantic.vocabulary import normalize_name
        t = self.tags()
        return set(t.loc[t["tag"] == normalize_name(tag), "media_id"])

    def tags(self, id_or_prefix: str | None = None, *, threshold: float | None = None) -> pd.DataFrame:
        """Effective tags [media_id, tag, score, source] under the current (or a trial) global threshold."""
        from workbench.semantic.tagging import effective_tags
        manual = self.catalog.read("manual_tags", ["media_id", "tag", "action", "at"]).to_pandas()
        manual = manual.sort_values("at")[["media_id", "tag", "action"]]
        df = effective_tags(self.tag_scores(), self.settings.tag_threshold if threshold is None else threshold,
                            self.tag_thresholds(), manual)
        if id_or_prefix is not None:
            df = df[df["media_id"] == self.resolve_id(id_or_prefix)]
        return df.sort_values(["media_id", "score"], ascending=[True, False], na_position="first").reset_index(drop=True)

    def manual_tags(self, tag: str | None = None) -> pd.DataFrame:
        """Hand decisions [media_id, tag, action, user, at], the latest per (media, tag): they win at every
        threshold, so a review shows them apart from automatic tags."""
        from workbench.semantic.vocabulary import normalize_name
        df = self.catalog.read("manual_tags", ["media_id", "tag", "action", "user", "at"]).to_pandas()
        df = df.sort_values("at", kind="stable").drop_duplicates(["media_id", "tag"], keep="last")
        if tag is not None:
            df = df[df["tag"] == normalize_name(tag)]
        return df.reset_index(drop=True)

    def tag_threshold(self, tag: str | None = None) -> float:
        """The threshold in force for ``tag``: its override, else the global ``settings.tag_threshold``."""
        from workbench.semantic.vocabulary import normalize_name
        glob = float(self.settings.tag_threshold)
        return glob if tag is None else float(self.tag_thresholds().get(normalize_name(tag), glob))

    def tag_review(self, tag: str, threshold: float, *, scores: Any = None) -> pd.DataFrame:
        """One tag's media ranked by score, each marked enters / leaves / stays / out / manual at a trial
        ``threshold``, to see a change before ``set_tag_threshold`` applies it (trashed media left out).
        ``scores``: a ``tag_scores()`` result to reuse, so a slider does not re-read every score per move."""
        from workbench.semantic.tag_review import review_tag, without_media
        trashed = self.trashed_ids()
        manual = self.manual_tags(tag)
        scores = without_media(self.tag_scores() if scores is None else scores, trashed)
        return review_tag(scores, tag, self.tag_threshold(tag), threshold, manual[~manual["media_id"].isin(trashed)])

    def tag_overview(self, threshold: float | None = None, *, scores: Any = None) -> pd.DataFrame:
        """Per tag: media tagged now and at a trial global ``threshold`` (per-tag overrides kept), how many
        enter and leave, most-tagged first: which tags fire on everything (trashed media left out).
        ``scores``: a ``tag_scores()`` result to reuse."""
        from workbench.semantic.tag_review import threshold_overview, without_media
        from workbench.semantic.tagging import Thresholds
        trashed, overrides = self.trashed_ids(), self.tag_thresholds()
        manual = self.manual_tags()
        now = Thresholds(self.tag_threshold(), overrides)
        trial = now if threshold is None else Thresholds(float(threshold), overrides)
        scores = without_media(self.tag_scores() if scores is None else scores, trashed)
        return threshold_overview(scores, now, trial, manual[~manual["media_id"].isin(trashed)])

    # -- faces and people -----------------------------------------------------------------------------------
    def face_model_id(self) -> str:
        """The face stage's current version: faces and people belong to one face model."""
        from workbench.stages.faces import FaceStage
        return next(s for s in all_stages(self.settings, self.root) if isinstance(s, FaceStage)).version

    def faces(self, id_or_prefix: str | None = None, *, person: str | None = None) -> pd.DataFrame:
        """Faces of the current face model: [face_id, media_id, path, bbox, frame, t_s, person_id, person,
        source, score, quality, skipped]. ``bbox`` is [x, y, w, h] in pixels of the upright image; ``skipped``
        says why a face is not recognised (too small, too blurry), or is empty."""
        from workbench.people.faces_view import faces_frame
        mid = self.resolve_id(id_or_prefix) if id_or_prefix else None
        pid = self.resolve_person(person) if person else None
        return faces_frame(self.catalog, self.settings, self.face_model_id(), media_id=mid, person_id=pid)

    def people(self, *, include_hidden: bool = False) -> pd.DataFrame:
        """People of the current face model: [person_id, name, face_count, media_count, hidden, cover_face_id],
        named first, then by how often they appear."""
        from workbench.people.faces_view import people_frame
        return people_frame(self.catalog, self.face_model_id(), include_hidden=include_hidden)

    def resolve_person(self, person: str) -> str:
        """A person id from an id, a unique id prefix, or a name (case-insensitive)."""
        from workbench.people.faces_view import resolve_person
        return resolve_person(self.catalog, self.face_model_id(), person)

    def name_person(self, person: str, name: str | None) -> None:
        """Give a person a name (None clears it); names are unique per library, so a clash suggests a merge."""
        from workbench.people.decisions import name_person
        with self._lock:
            name_person(self.catalog, self.resolve_person(person), name)

    def merge_people(self, target: str, *others: str, user: str | None = None) -> str:
        """The others are the same person as ``target``: their faces move to it, confirmed. Returns its id."""
        from workbench.people.decisions import merge_people
        from workbench.people.assign import refresh_persons
        with self._lock:
            pid = merge_people(self.catalog, self.resolve_person(target), [self.resolve_person(o) for o in others],
                               user)
            refresh_persons(self.catalog, self.settings, self.face_model_id())
        return pid

    def move_faces(self, face_ids: Iterable[str], person: str, user: str | None = None) -> None:
        """These faces are ``person`` (confirmed), and not the person they were put with."""
        from workbench.people.decisions import move_faces
        from workbench.people.assign import refresh_persons
        with self._lock:
            move_faces(self.catalog, list(face_ids), self.resolve_person(person), user)
            refresh_persons(self.catalog, self.settings, self.face_model_id())

    def split_person(self, person: str, face_ids: Iterable[str], *, name: str | None = None,
                     user: str | None = None) -> str:
        """These faces of ``person`` are somebody else: a new person (returned), never put back."""
        from workbench.people.decisions import split_person
        from workbench.people.assign import refresh_persons
        with self._lock:
            pid = split_person(self.catalog, self.resolve_person(person), list(face_ids), user, name)
            refresh_persons(self.catalog, self.settings, self.face_model_id())
        return pid

    def reject_faces(self, face_ids: Iterable[str], *, person: str | None = None, user: str | None = None) -> None:
        """"Not this person": the faces leave their person (or ``person``) and are never assigned to it again."""
        from workbench.people.decisions import reject_faces
        from workbench.people.assign import refresh_persons
        with self._lock:
            reject_faces(self.catalog, list(face_ids), user, self.resolve_person(person) if person else None)
            refresh_persons(self.catalog, self.settings, self.face_model_id())

    def hide_person(self, person: str, hidden: bool = True) -> None:
        """Hide a person from people lists (their faces stay theirs, so they are not found again as new)."""
        from workbench.people.decisions import hide_person
        with self._lock:
            hide_person(self.catalog, self.resolve_person(person), hidden)

    def update_people(self, *, redo_auto: bool = False) -> dict[str, int]:
        """Assign faces to people now (``process`` does this after finding faces). With ``redo_auto``, automatic
        assignments are recomputed under the current thresholds; user decisions are kept."""
        from workbench.people.assign import update_people
        with self._lock:
            return update_people(self.catalog, self.settings, self.face_model_id(), redo_auto=redo_auto)

    def face_suggestions(self, *, max_distance: float | None = None, include_hidden: bool = False) -> pd.DataFrame:
        """Faces with no person, each with the nearest person within ``max_distance`` (default the
        ``face_suggest_max_distance`` setting, 0.6): [face_id, media_id, path, person_id, person,
        distance], closest first. Why: automatic assignment stops at face_match_distance to avoid wrong merges;
        a user can confirm the near misses (``move_faces``) or refuse them (``reject_faces(person=...)``)."""
        from workbench.people.suggest import suggest_people
        return suggest_people(self.catalog, self.settings, self.face_model_id(), max_distance=max_distance,
                              include_hidden=include_hidden, exclude_media=self.trashed_ids())

    def face_crop(self, face_id: str, size_px: int = 160, margin: float = 0.25):
        """A square PIL image of one face (from the preview), for notebooks, dashboards and the gallery."""
        from workbench.people.faces_view import face_crop
        return face_crop(self, face_id, size_px, margin)

    def _with_person(self, person: str | None) -> set[str] | None:
        if person is None:
            return None
        from workbench.people.faces_view import media_of_person
        return media_of_person(self.catalog, self.face_model_id(), self.resolve_person(person))

    # -- quality --------------------------------------------------------------------------------------------
    def quality_thresholds(self):
        """The flag thresholds in force: the defaults of ``QualityThresholds`` with the library's overrides."""
        from workbench.quality.measures import QualityThresholds
        return QualityThresholds.from_overrides(self.settings.quality_thresholds)

    def set_quality_threshold(self, name: str, value: float) -> None:
        """Change one flag threshold for this library (flags follow at once; nothing is re-measured)."""
        from workbench.quality.measures import QualityThresholds
        new = {**self.settings.quality_thresholds, name: value}
        QualityThresholds.from_overrides(new)  # refuses an unknown name before anything changes
        self.settings.quality_thresholds = new
        self.settings.save(self.root)

    def quality(self, *, flag: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """Per measured media: [id, path, kind, score (0-100), flags, and every measurement], worst first;
        ``flag`` keeps only media carrying it. Trashed media are left out."""
        from workbench.quality.measures import FLAG_NAMES, VIDEO_FLAG_NAMES
        from workbench.quality.report import quality_frame
        if flag is not None and flag not in (*FLAG_NAMES, *VIDEO_FLAG_NAMES):
            raise ValueError(f"unknown quality flag {flag!r}; flags are {sorted({*FLAG_NAMES, *VIDEO_FLAG_NAMES})}")
        df = quality_frame(self.catalog, self.quality_thresholds(), kind=kind, exclude=self.trashed_ids())
        if flag is not None:
            df = df[df["flags"].map(lambda f: flag in f)]
        return df.reset_index(drop=True)

    # -- duplicates -----------------------------------------------------------------------------------------
    def duplicates(self, kind: str | None = None) -> pd.DataFrame:
        """Duplicate groups: [kind, members ([{id, path}], keeper first), keep, reason, key]. ``kind``: exact,
        same or similar (bursts, RAW+JPEG, live photos). Suggestions only: nothing is ever deleted here."""
        from workbench.duplicates.report import duplicate_groups
        return duplicate_groups(self.catalog, self.settings, kind, exclude=self.trashed_ids())

    def dismiss_duplicates(self, ids: Iterable[str], *, user: str | None = None) -> None:
        """"Not duplicates": these media are never suggested as a group again (no pair among them links)."""
        from workbench.duplicates.groups import group_key
        full = sorted({self.resolve_id(i) for i in ids})
        if len(full) < 2:
            raise ValueError("give at least two media that are not duplicates of each other")
        with self._lock:
            self.catalog.upsert("duplicate_decisions", [{"key": group_key(full), "members": full,
                                                         "decision": "not_duplicates", "user": user,
                                                         "at": datetime.now(timezone.utc)}], "key")

    # -- conversion -----------------------------------------------------------------------------------------
    def convert(self, items: Iterable[str | os.PathLike], to: str, *, out: str | os.PathLike = "converted",
                quality: int | None = None, progress: bool | None = None) -> pd.DataFrame:
        """Convert media (ids or id prefixes) or files (paths) to another format into ``out``; originals are only
        read. Returns one row per item: [source, output, to, bytes_before, bytes_after, width, height, error]."""
        from workbench.compress.convert import TARGETS, convert_file
        from workbench.formats.sniff import sniff
        if to not in TARGETS:
            raise ValueError(f"cannot convert to {to!r}; targets are {', '.join(TARGETS)}")
        rows = []
        items = list(items)
        with bar(len(items), "convert", progress) as pb:
            for item in items:
                try:
                    p = Path(item)
                    if p.exists():
                        ft = sniff(p)
                        src, kind, mime, stem = p, ft.kind, ft.mime, p.stem
                    else:
                        m = self.get(str(item))
                        src, kind, mime, stem = self.original_path(m["id"]), m["kind"], m["mime"], Path(m["path"]).stem
                    rows.append({**convert_file(src, kind, mime, to, Path(out), quality=quality,
                                                settings=self.settings, stem=stem).__dict__, "error": None})
                except (WorkbenchError, ValueError, OSError) as e:
                    rows.append({"source": str(item), "output": None, "to": to, "bytes_before": None,
                                 "bytes_after": None, "width": None, "height": None, "error": str(e)})
                pb.update(1)
        return pd.DataFrame(rows, columns=["source", "output", "to", "bytes_before", "bytes_after", "width",
                                           "height", "error"])

    def compress(self, policy: str = "lossless", *, dry_run: bool = False, sample: int = 50,
                 kind: str | None = None, album: str | None = None, progress: bool | None = None) -> pd.DataFrame:
        """Apply a compression policy (a built-in name, one saved in this library by ``save_policy``, or a JSON
        file; see ``compress.policy``) to the library, or only to one ``album`` and/or one ``kind`` (so an album of
        finished work can get a different policy than the rest). Rows: id, path,
        codec, quality, bytes_before, bytes_after, metric, value, verified. ``dry_run`` encodes a sample of up to
        ``sample`` media per kind in memory, writes nothing, and puts the predicted savings for the whole library in
        ``df.attrs["prediction"]``. A real run writes new versions under ``derived/versions/<policy>/`` and records
        them; originals are kept (``replace_originals`` then lets verified versions replace them). Media already done for this policy are skipped (rerun resumes)."""
        from workbench.compress.job import ROW_KEYS, compress_one, predict
        from workbench.compress.policy import load_policy
        pol = load_policy(policy, self.policies_dir)
        scope = self._compress_scope(kind, album)
        media = scope
        if dry_run:
            media = pd.concat([g.sample(n=min(sample, len(g)), random_state=0) for _, g in media.groupby("kind")]) \
                if len(media) else media
        else:
            done = set(self.catalog.read("versions", ["media_id"], f"policy = {sql_quote(pol.name)}")
                       .column("media_id").to_pylist())
            media = media[~media["id"].isin(done)]
        rows, records = [], []
        with (self._lock if not dry_run else nullcontext()), bar(len(media), f"compress ({pol.name})", progress) as pb:
            for m in media.to_dict("records"):
                base = {"id": m["id"], "path": m["path"]}
                try:
                    row, data, ext = compress_one(self.original_path(m["id"]), m["kind"], m["mime"], pol)
                except (WorkbenchError, OSError, ValueError) as e:
                    from workbench.catalog.errors_log import record_errors
                    if not dry_run:
                        record_errors(self.catalog, [(m["path"], m["id"], "compress", str(e))])
                    pb.update(1)
                    continue
                rows.append({**base, **row})
                records.append({**row, "kind": m["kind"], "new": data is not None})
                if not dry_run:
                    rel = None
                    if data is not None:
                        rel = f"versions/{pol.name}/{m['id'][:2]}/{m['id']}{ext}"
                        self.storage.write(derived_key(rel), data)
                    self.catalog.upsert("versions", [{"key": f"{m['id']}@{pol.name}", "media_id": m["id"],
                                                      "policy": pol.name, "path": rel, **row,
                                                      "created_at": datetime.now(timezone.utc)}], "key")
                pb.update(1)
        df = pd.DataFrame(rows, columns=ROW_KEYS)
        if dry_run:
            totals = scope.groupby("kind")["size_bytes"].sum().to_dict()
            df.attrs["prediction"] = {"policy": pol.describe(), **predict(records, totals)}
        return df

    def _compress_scope(self, kind: str | None, album: str | None) -> pd.DataFrame:
        if album is None:
            return self.media(kind=kind)
        media = self.album_media(album)
        return media[media["kind"] == kind].reset_index(drop=True) if kind else media

    @property
    def policies_dir(self) -> Path:
        """Where named compression policies of this library are saved (``policies/NAME.json``)."""
        return self.root / "policies"

    def policies(self) -> pd.DataFrame:
        """Compression policies usable by name here: [name, saved (False for built-ins), policy (as a dict, None
        when the saved file is broken), problem (what is wrong with a broken file, else None)]."""
        from workbench.compress.policy import BUILT_IN, load_policy, saved_policies
        rows = [{"name": n, "saved": False, "policy": p.describe(), "problem": None} for n, p in BUILT_IN.items()]
        for n in saved_policies(self.policies_dir):
            try:
                rows.append({"name": n, "saved": True, "policy": load_policy(n, self.policies_dir).describe(),
                             "problem": None})
            except WorkbenchError as e:  # one hand-edited file must not hide the others
                rows.append({"name": n, "saved": True, "policy": None, "problem": str(e)})
        return pd.DataFrame(rows, columns=["name", "saved", "policy", "problem"])

    def save_policy(self, policy: Policy) -> Path:
        """Save a ``compress.policy.Policy`` under its name, so ``compress(policy=NAME)`` and ``workbench compress
        --policy NAME`` apply it (the compression tuner saves what was tried this way). Names are never reused."""
        from workbench.compress.policy import save_policy
        return save_policy(policy, self.policies_dir)

    def versions(self, policy: str | None = None) -> pd.DataFrame:
        """Versions written by compression policies: [media_id, policy, codec, quality, path (under derived/, None
        when nothing smaller was found), bytes_before, bytes_after, metric, value, verified, created_at]."""
        cols = ["media_id", "policy", "codec", "quality", "path", "bytes_before", "bytes_after", "metric", "value",
                "verified", "created_at"]
        where = f"policy = {sql_quote(policy)}" if policy is not None else None
        df = self.catalog.read("versions", cols, where).to_pandas()
        return df.sort_values(["policy", "media_id"]).reset_index(drop=True)

    def replace_originals(self, policy: str = "lossless", *, allow_lossy: bool = False,
                          ids: Iterable[str] | None = None, progress: bool | None = None) -> pd.DataFrame:
        """Let a policy's versions take the originals' place, to actually free the space. Only versions verified
        lossless qualify (a JPEG XL that rebuilds the JPEG exactly, or identical pixels and metadata) unless
        ``allow_lossy``; each is verified again, written into originals/ and recorded before the old original moves
        to the trash (restorable with ``restore_original`` until ``empty_trash``). Media indexed in place are never
        touched; the id never changes and ``original_path`` still gives the exact JPEG of a JPEG XL. Rows: id, path,
        status (replaced | skipped | refused), stored_as, reason, bytes_before, bytes_after, bytes_saved;
        ``df.attrs["bytes_saved"]`` is the total. Rerunning skips media already replaced."""
        from workbench.compress.policy import load_policy
        from workbench.compress.replace import RESULT_KEYS, replace_one
        name = load_policy(policy, self.policies_dir).name
        where = sql_in("id", self._resolve_ids(ids)) if ids is not None else None
        media = self.catalog.read("media", ["id", "path", "sha256", "storage", "blob", "size_bytes", "stored_as",
                                            "stored_bytes", "original_blob", "orientation"], where).to_pylist()
        versions = {v["media_id"]: v for v in self.catalog.read("versions", None, f"policy = {sql_quote(name)}")
                    .to_pylist()}
        trashed = self.trashed_ids()
        rows = []
        with self._lock, bar(len(media), f"replace originals ({name})", progress) as pb:
            for m in sorted(media, key=lambda r: r["path"]):
                if m["id"] in trashed:
                    rows.append({"id": m["id"], "path": m["path"], "status": "skipped", "stored_as": m["stored_as"],
                                 "reason": "in the trash", "bytes_before": m["size_bytes"], "bytes_after": None,
                                 "bytes_saved": 0})
                else:
                    rows.append(replace_one(self.catalog, self.storage, m, versions.get(m["id"]), allow_lossy))
                pb.update(1)
        df = pd.DataFrame(rows, columns=RESULT_KEYS)
        df.attrs["bytes_saved"] = int(df["bytes_saved"].sum()) if len(df) else 0
        return df

    def replaced_originals(self) -> pd.DataFrame:
        """Media whose original was replaced: [id, path, stored_as, size_bytes (the original's), stored_bytes,
        in_trash (the original can still be restored; ``empty_trash`` deletes it)]."""
        from workbench.compress.replace import trashed_original
        rows = self.catalog.read("media", ["id", "path", "stored_as", "size_bytes", "stored_bytes", "blob",
                                           "original_blob"], "stored_as IS NOT NULL").to_pylist()
        out = [{**{k: r[k] for k in ("id", "path", "stored_as", "size_bytes", "stored_bytes")},
                "in_trash": trashed_original(self.storage, r) is not None} for r in rows]
        return pd.DataFrame(out, columns=["id", "path", "stored_as", "size_bytes", "stored_bytes", "in_trash"])

    def restore_original(self, id_or_prefix: str) -> None:
        """Undo ``replace_originals`` for one media while its original is still in the trash: the original is
        stored again and the compressed file goes to the trash instead."""
        from workbench.compress.replace import restore_original
        mid = self.resolve_id(id_or_prefix)
        with self._lock:
            row = self.catalog.read("media", None, f"id = {sql_quote(mid)}").to_pylist()[0]
            restore_original(self.catalog, self.storage, row)

    # -- trash ----------------------------------------------------------------------------------------------
    def trashed_ids(self) -> set[str]:
        """Ids of the media in the trash, which every listing leaves out."""
        from workbench.catalog.trash import trashed_ids
        return trashed_ids(self.catalog)

    def trash(self, ids: Iterable[str], *, user: str | None = None, reason: str | None = None) -> int:
        """Put media in the trash: hidden from listings and search, nothing deleted. Returns how many were added."""
        from workbench.catalog.trash import put as put_in_trash
        full = [self.resolve_id(i) for i in ids]
        with self._lock:
            return put_in_trash(self.catalog, full, user, reason)

    def restore(self, ids: Iterable[str]) -> int:
        """Take media out of the trash. Returns how many were in it."""
        from workbench.catalog.trash import take_back as take_out_of_trash
        full = [self.resolve_id(i) for i in ids]
        with self._lock:
            return take_out_of_trash(self.catalog, full)

    def trashed(self) -> pd.DataFrame:
        """What is in the trash: [id, path, kind, size_bytes, reason, at]."""
        t = self.catalog.read("trash", ["media_id", "reason", "at"]).to_pandas().rename(columns={"media_id": "id"})
        if t.empty:
            return pd.DataFrame(columns=["id", "path", "kind", "size_bytes", "reason", "at"])
        m = self.catalog.read("media", ["id", "path", "kind", "size_bytes"], sql_in("id", list(t["id"]))).to_pandas()
        return m.merge(t, on="id").sort_values("at").reset_index(drop=True)

    def empty_trash(self) -> dict[str, int]:
        """Delete everything in the trash for good: catalog rows, stored originals, renditions, and originals
        replaced by compressed versions (``replace_originals``). Files indexed in place (``--mode reference``) are
        forgotten, never deleted. This is the only deletion there is."""
        from workbench.catalog.trash import empty
        tables = ["sources", "errors", "manual_tags", "favourites"]
        for stage in all_stages(self.settings, self.root):
            tables.append(stage.name)
            tables.extend(stage.side_schemas())
        from workbench.people.assign import refresh_persons
        from workbench.compress.replace import drop_cached, empty_file_trash
        with self._lock:
            drop_cached(self.storage, sorted(self.trashed_ids()))
            res = empty(self.catalog, self.storage, list(dict.fromkeys(tables)), "faces")
            res.update(empty_file_trash(self.storage))   # originals replaced by compressed versions
            if res["media"]:
                refresh_persons(self.catalog, self.settings, self.face_model_id())
                self.catalog.compact()
            return res

    # -- albums (here the local owner acts as admin; apps act as a user through for_user / for_session) ------
    def create_album(self, name: str, *, owner: str | None = None) -> str:
        """A new empty album owned by ``owner`` (default: your login name, as for import); returns its id."""
        from workbench.access import albums
        from workbench.ingest.importer import default_owner
        return albums.create(self.catalog, name, owner or default_owner())

    def albums(self) -> pd.DataFrame:
        """Every album: [id, name, owner, items, created_at], newest first (``items`` leaves out the trash)."""
        from workbench.access import albums
        return albums.frame(self.catalog, None, self.trashed_ids())

    def add_to_album(self, album: str, ids: Iterable[str], *, user: str | None = None) -> int:
        """Put media (ids or prefixes) in an album (id, id prefix or name); returns how many were new to it."""
        from workbench.access import albums
        row = albums.resolve(self.catalog, album)
        return albums.add_items(self.catalog, row["album_id"], self._resolve_ids(ids), user)

    def remove_from_album(self, album: str, ids: Iterable[str]) -> int:
        """Take media out of an album (they stay in the library); returns how many were in it."""
        from workbench.access import albums
        row = albums.resolve(self.catalog, album)
        return albums.remove_items(self.catalog, row["album_id"], self._resolve_ids(ids))

    def album_media(self, album: str, *, sort: str = "date", desc: bool = False,
                    limit: int | None = None) -> pd.DataFrame:
        """The media in an album, with the columns of ``media()``; trashed media are left out. ``sort="album"`` is
        the album's own order: the media its managers arranged (``arrange_album``) first, the rest newest first."""
        from workbench.access import albums
        album_id = albums.resolve(self.catalog, album)["album_id"]
        ids = set(albums.item_ids(self.catalog, album_id)) - self.trashed_ids()
        if sort == "album":
            df = list_media(self.catalog, MediaFilter(ids=ids), sort="date", desc=True) if ids else \
                list_media(self.catalog, MediaFilter(ids=set()), limit=0)
            place = albums.positions(self.catalog, album_id)
            df = df.assign(_place=df["id"].map(place)).sort_values("_place", na_position="last", kind="stable")
            df = df.drop(columns="_place")
            return (df.head(limit) if limit is not None else df).reset_index(drop=True)
        df = list_media(self.catalog, MediaFilter(ids=ids), sort=sort, desc=desc, limit=limit) if ids else \
            list_media(self.catalog, MediaFilter(ids=set()), limit=0)
        return df.reset_index(drop=True)

    def arrange_album(self, album: str, ids: Iterable[str]) -> int:
        """Put an album's media in this order (the rest follow, newest first); returns how many were placed."""
        from workbench.access import albums
        return albums.set_order(self.catalog, albums.resolve(self.catalog, album)["album_id"], self._resolve_ids(ids))

    def set_album_cover(self, album: str, id_or_prefix: str | None) -> None:
        """Choose the photo an album's card shows (None: its first photo again)."""
        from workbench.access import albums
        albums.set_cover(self.catalog, albums.resolve(self.catalog, album)["album_id"],
                         None if id_or_prefix is None else self.resolve_id(id_or_prefix))

    def rename_album(self, album: str, name: str) -> None:
        """Give an album another name."""
        from workbench.access import albums
        albums.rename(self.catalog, albums.resolve(self.catalog, album)["album_id"], name)

    def delete_album(self, album: str) -> None:
        """Forget an album with its members and share links; its media stay in the library untouched."""
        from workbench.access import albums
        albums.delete(self.catalog, albums.resolve(self.catalog, album)["album_id"])

    def album_members(self, album: str) -> pd.DataFrame:
        """[user, role, added_at] of an album's members (its owner is not listed: they always see it)."""
        from workbench.access import albums
        return albums.members(self.catalog, albums.resolve(self.catalog, album)["album_id"])[["user", "role",
                                                                                               "added_at"]]

    def add_member(self, album: str, user: str, role: str = "viewer") -> None:
        """Let a user see an album (``viewer``) or also add media to it (``contributor``)."""
        from workbench.access import albums, users
        row = albums.resolve(self.catalog, album)
        users.require(self.catalog, user)
        albums.set_member(self.catalog, row["album_id"], user, role)

    def remove_member(self, album: str, user: str) -> None:
        """The user no longer sees the album (unless it holds media they own)."""
        from workbench.access import albums
        row = albums.resolve(self.catalog, album)
        if not albums.remove_member(self.catalog, row["album_id"], user):
            raise NotFoundError(f"{user!r} is not a member of album {row['name']!r}")

    # -- share links ----------------------------------------------------------------------------------------
    def share_album(self, album: str, *, expires: datetime | timedelta | float | None = None,
                    password: str | None = None, created_by: str | None = None) -> str:
        """A link token showing this album read-only to anyone holding it (and ``password``, if given), until
        ``expires`` (a datetime, a timedelta or seconds) or until revoked. Only its hash is stored: keep it."""
        from workbench.access import albums, shares
        row = albums.resolve(self.catalog, album)
        return shares.create(self.catalog, row["album_id"], created_by, shares.expiry(expires), password,
                             self.settings.password_min_length)

    def set_share_uploads(self, share: str, accepts: bool = True) -> None:
        """Let a share link's visitors upload into its album (their media belong to the album's owner), or stop
        them. Links do not accept uploads until this is called."""
        from workbench.access import shares, uploads
        uploads.set_share_uploads(self.catalog, shares.find(self.catalog, share)["share_id"], accepts)

    @property
    def uploads(self):
        """Uploads being received through the gallery (``workbench.ingest.upload.Uploads``): staged, hashed while
        they arrive, imported when complete. The gallery reaches it through a view, which checks who asks."""
        if getattr(self, "_uploads", None) is None:
            from workbench.ingest.upload import Uploads
            self._uploads = Uploads(self.catalog, self.storage, self.settings, self.root)
        return self._uploads

    def shares(self, album: str | None = None) -> pd.DataFrame:
        """Share links (of one album, or all): [share_id, album_id, created_by, created_at, expires_at,
        revoked_at, has_password, accepts_uploads, active]. Tokens cannot be listed: only their hashes are kept."""
        from workbench.access import albums, shares
        ids = None if album is None else [albums.resolve(self.catalog, album)["album_id"]]
        return shares.frame(self.catalog, ids)

    def revoke_share(self, share: str) -> None:
        """Stop a share link (by its share id or the token) at once, also for pages already open."""
        from workbench.access import shares
        shares.revoke(self.catalog, shares.find(self.catalog, share)["share_id"])

    def for_share(self, token: str, password: str | None = None, *, client: str | None = None):
        """What a share link shows: an ``AlbumView`` of its one album, read-only. Raises ``AuthError`` for an
        unknown, expired or revoked token and a missing or wrong password (wrong passwords are throttled per
        link, per ``client`` address and per both; see ``login``)."""
        from workbench.access import shares
        from workbench.access.views import AlbumView
        r = shares.open_link(self.catalog, token, password, self.settings, client, library_root=self.root)
        return AlbumView(self, r["share_id"], r["album_id"])

    # -- users and sessions (the gallery logs in here; passwords are only ever hashed with argon2id) ---------
    def add_user(self, name: str, password: str, role: str = "viewer") -> None:
        """A new account: ``role`` is admin, curator or viewer. Media whose owner is ``name`` are theirs."""
        from workbench.access import users
        users.add(self.catalog, name, password, role, self.settings.password_min_length)

    def set_password(self, name: str, password: str) -> None:
        """Change a password; the user's open sessions end (log in again everywhere) and any sign-in lock on the
        name is lifted (an admin reset is how a locked-out owner gets back in)."""
        from workbench.access import sessions, users
        users.set_password(self.catalog, name, password, self.settings.password_min_length)
        sessions.end_all(self.catalog, name)
        sessions.lift_lock(self.catalog, name, self.settings, library_root=self.root)

    def set_role(self, name: str, role: str) -> None:
        """Make a user admin, curator or viewer; applies at once, also to open sessions."""
        from workbench.access import users
        users.set_role(self.catalog, name, role)

    def remove_user(self, name: str) -> None:
        """Remove an account: its sessions and album memberships end. Their media and albums stay."""
        from workbench.access import albums, favourites, sessions, users
        users.remove(self.catalog, name)
        sessions.end_all(self.catalog, name)
        albums.forget_user(self.catalog, name)
        favourites.forget_user(self.catalog, name)

    def users(self) -> pd.DataFrame:
        """Accounts: [name, role, created_at, updated_at] (never a password hash)."""
        from workbench.access import users
        return users.frame(self.catalog)

    def login(self, name: str, password: str, *, client: str | None = None) -> str:
        """A session token for the gallery. Raises ``AuthError`` on a wrong name or password (without saying
        which) and while throttled: failures count per (name, ``client`` address), per address over all names
        and per name over all addresses (``login_*`` settings), atomically across processes. Pass the
        visitor's address as ``client``; callers without one share a single bucket."""
        from workbench.access import sessions
        return sessions.login(self.catalog, name, password, self.settings, client, library_root=self.root)

    def logout(self, token: str) -> None:
        """End a session: the token stops working at once."""
        from workbench.access import sessions
        sessions.end(self.catalog, token)

    def for_session(self, token: str):
        """A ``UserView`` acting as the session's user; raises ``AuthError`` if the session is unknown, ended or
        expired (checked again on every call of the view)."""
        from workbench.access import sessions
        from workbench.access.views import UserView
        hashed = sessions.token_hash(token)
        return UserView(self, sessions.user_of(self.catalog, hashed), hashed)

    def for_user(self, name: str):
        """A ``UserView`` acting as ``name`` (for notebooks and tests; the gallery uses ``for_session``)."""
        from workbench.access import users
        from workbench.access.views import UserView
        return UserView(self, users.require(self.catalog, name)["name"])

    # -- what the gallery server asks (it checks cookies; its kernels act for what it checked) ---------------
    def session_user(self, token_hash: str) -> str:
        """The user of a live session given by its token's sha256; ``AuthError`` if ended or expired."""
        from workbench.access import sessions
        return sessions.user_of(self.catalog, token_hash)

    def for_session_hash(self, token_hash: str):
        """Like ``for_session``, from the token's sha256 (all a gallery kernel is told by its server)."""
        from workbench.access.views import UserView
        return UserView(self, self.session_user(token_hash), token_hash)

    def share_link_status(self, token: str) -> dict[str, Any]:
        """{"share_id", "needs_password"} of a live link, without checking any password; ``AuthError`` for an
        unknown, expired or revoked one."""
        from workbench.access import shares
        r = shares.live_by_token(self.catalog, token)
        return {"share_id": r["share_id"], "needs_password": r["password_hash"] is not None}

    def share_still_live(self, share_id: str) -> None:
        """``AuthError`` unless the link is live (not revoked, not expired)."""
        from workbench.access import shares
        shares.still_live(self.catalog, share_id)

    def for_share_id(self, share_id: str):
        """The ``AlbumView`` of a link the gallery server has already opened (its password checked there)."""
        from workbench.access import shares
        from workbench.access.views import AlbumView
        return AlbumView(self, share_id, shares.still_live(self.catalog, share_id)["album_id"])

    def for_actor(self, actor: str):
        """The view a gallery kernel acts through: ``session:<sha256>`` or ``share:<share id>``."""
        kind, _, value = str(actor).partition(":")
        if kind == "session" and value:
            return self.for_session_hash(value)
        if kind == "share" and value:
            return self.for_share_id(value)
        from workbench.errors import AuthError
        raise AuthError("not signed in: sign in first")

    # -- housekeeping ---------------------------------------------------------------------------------------
    def prune(self) -> dict[str, int]:
        """Delete stage rows (old vectors, old tag scores, old thumbnails) of versions other than the current
        ones, e.g. after switching CLIP models; returns rows removed per table. Originals are never touched."""
        removed: dict[str, int] = {}
        with self._lock:
            for stage in all_stages(self.settings, self.root):
                if not self.catalog.has(stage.name):
                    continue
                where = f"version != {sql_quote(stage.version)}"
                n = self.catalog.count(stage.name, where)
                if n:
                    self.catalog.delete(stage.name, where)
                    removed[stage.name] = n
                for side in stage.side_schemas():
                    if self.catalog.has(side) and "model_id" in self.catalog.table(side).schema.names:
                        w = f"model_id != {sql_quote(stage.version)}"
                        k = self.catalog.count(side, w)
                        if k:
                            self.catalog.delete(side, w)
                            removed[side] = k
            removed.update(self._prune_people())
            current = self.thumbnail_version()
            old = {k.split("/")[2] for k in self.storage.list(derived_key("thumbnails"))} - {current}
            for version in sorted(old):
                self.storage.purge(derived_key(f"thumbnails/{version}"))
            self.catalog.compact()
        return removed

    def _prune_people(self) -> dict[str, int]:
        """People of other face models, and assignments of faces that no longer exist."""
        removed: dict[str, int] = {}
        where = f"model_id != {sql_quote(self.face_model_id())}"
        n = self.catalog.count("persons", where)
        if n:
            self.catalog.delete("persons", where)
            removed["persons"] = n
        faces = (set(self.catalog.read("faces", ["face_id"]).column("face_id").to_pylist())
                 if self.catalog.has("faces") else set())
        gone = [k for k, f in zip(*[self.catalog.read("face_assignments", ["key", "face_id"]).column(c).to_pylist()
                                    for c in ("key", "face_id")]) if f not in faces]
        if gone:
            self.catalog.delete("face_assignments", sql_in("key", gone))
            removed["face_assignments"] = len(gone)
        return removed

    def thumbnail_version(self) -> str:
        """The thumbnail stage's current version: the renditions to read are the rows of this version."""
        from workbench.stages.thumbnails import ThumbnailStage
        return next(s for s in all_stages(self.settings, self.root) if isinstance(s, ThumbnailStage)).version

    # -- backups (workbench/backup/: restic) -----------------------------------------------------------------
    def _backup_repo(self, target: str | None, password_file: str | os.PathLike | None):
        from workbench.backup import open_repository
        return open_repository(target, self.settings, password_file)

    def backup(self, target: str | None = None, *, password_file: str | os.PathLike | None = None
               ) -> dict[str, Any]:
        """A consistent point-in-time backup (each table at one committed version, plus the originals those rows
        name, plus thumbnails) into ``target`` (default: the ``backup_target`` setting), encrypted, deduplicated
        and incremental; then the retention settings are applied. Works while an import runs."""
        from workbench.backup import take_backup
        # A backup never waits for a writer: if one is busy it pins the versions already committed (snapshot.py).
        return take_backup(self.root, self.catalog, self.storage, WriteLock(self.root, wait_s=0),
                           self._backup_repo(target, password_file), self.settings).as_dict()

    def backups(self, target: str | None = None, *, password_file: str | os.PathLike | None = None
                ) -> pd.DataFrame:
        """The backups in ``target``, oldest first: id, short_id, time, media, originals."""
        from workbench.backup import list_backups
        rows = list_backups(self._backup_repo(target, password_file))
        return pd.DataFrame(rows, columns=["id", "short_id", "time", "media", "originals", "path"])

    def verify_backups(self, target: str | None = None, *, read_data_percent: float | None = None,
                       password_file: str | os.PathLike | None = None) -> dict[str, Any]:
        """Check the backup repository (``restic check``) and re-read ``read_data_percent`` % of its data; raises
        ``BackupError`` when anything is damaged."""
        from workbench.backup import verify_backups
        return verify_backups(self._backup_repo(target, password_file), read_data_percent)

    def forget_backups(self, target: str | None = None, *, password_file: str | os.PathLike | None = None
                       ) -> list[str]:
        """Apply the retention settings (keep last/daily/weekly/monthly) and free the space; returns the ids of
        the backups removed. ``backup`` does this after every run too."""
        from workbench.backup import apply_retention
        return apply_retention(self._backup_repo(target, password_file), self.settings)

    def restore_from_backup(self, ids: Iterable[str], target: str | None = None, *,
                            at: datetime | str | None = None, password_file: str | os.PathLike | None = None
                            ) -> pd.DataFrame:
        """Bring a few media back from a backup (the latest, or the one at/before ``at``) into this library: the
        original (hash-checked first) and its rows if they are gone. Rows: id, original, row."""
        from workbench.backup import find_snapshot, restore_media
        repo = self._backup_repo(target, password_file)
        rows = restore_media(repo, find_snapshot(repo, at), list(ids), self.root, self.catalog, self.storage,
                             self._lock)
        return pd.DataFrame(rows, columns=["id", "original", "row"])

    @staticmethod
    def restore_library(dest: str | os.PathLike, target: str | None = None, *, at: datetime | str | None = None,
                        password_file: str | os.PathLike | None = None,
                        settings_from: str | os.PathLike | None = None) -> dict[str, Any]:
        """Restore a whole library from a backup into the new or empty folder ``dest``: it opens and passes
        ``verify``. Needs no live library (it may be the one lost); ``settings_from`` names a library whose
        backup settings (target, password file) to use."""
        from workbench.backup import find_snapshot, open_repository, restore_library
        src = Path(settings_from) if settings_from else None
        settings = Settings.load(src) if src is not None and (src / MARKER).exists() else Settings()
        repo = open_repository(target, settings, password_file)
        return restore_library(repo, find_snapshot(repo, at), Path(dest))

    # -- integrity ------------------------------------------------------------------------------------------
    def verify(self, progress: bool | None = None) -> pd.DataFrame:
        """Re-hash every original; returns one row per media with status ok, changed, missing, unreadable or (an
        encrypted library, where every stored file is authenticated) tampered, plus a row per other tampered file;
        and ``stored_as`` (original, or how a replaced original is stored: its stored file must match its recorded
        hash, and a JPEG XL must rebuild the original JPEG byte for byte)."""
        from workbench.compress.replace import check_media
        t = self.catalog.read("media", ["id", "sha256", "storage", "blob", "path", "stored_as",
                                        "stored_sha256"]).to_pylist()
        ctx = self._context()
        from workbench.storage.encrypted import EncryptedStorage
        settled: list[dict] = []
        if isinstance(self.storage, EncryptedStorage):   # every object authenticated; tampered ones listed
            from workbench.ingest.verify import check_encrypted
            settled, done = check_encrypted(self.storage, t)
            t = [r for r in t if r["id"] not in done]
        # A replaced original is checked through its stored file (never the rebuilt cache): see compress.replace.
        tasks = [(r["id"], str(self.storage.local_file(original_key(r["blob"])) if r["stored_as"] else
                               ctx.local_source(r)), r["sha256"],
                  r["stored_as"], r["stored_sha256"]) for r in t]
        rows = list(settled)
        with bar(len(tasks), "verify", progress) as pb:
            for task, res in run_isolated(check_media, tasks, workers=self.settings.worker_count(),
                                          timeout_s=self.settings.per_file_timeout_s * 10):
                if isinstance(res, Failure):
                    res = {"id": task[0], "path": task[1], "status": "unreadable", "detail": res.reason,
                           "stored_as": task[3] or "original"}
                rows.append(res)
                pb.update(1)
        df = pd.DataFrame(rows, columns=["id", "path", "status", "detail", "stored_as"])
        return df.sort_values(["status", "path"]).reset_index(drop=True)

    # -- encryption at rest (workbench/storage/encrypted.py, docs/storage.md) -----------------------------------
    @property
    def encrypted(self) -> bool:
        """Whether this library's files are stored as ciphertext (it was unlocked to open it)."""
        from workbench.storage.encrypted import EncryptedStorage
        return isinstance(self.storage, EncryptedStorage)

    def start_encryption(self, passphrase: str | None = None) -> str:
        """Encrypt a library that holds no files yet (``workbench init --encrypt``); returns the recovery key, to be
        shown once. ``passphrase`` None: WORKBENCH_PASSPHRASE, --passphrase-file, or asked twice."""
        from workbench.storage.encrypted import encrypt_empty
        with self._lock:
            key, self.storage = encrypt_empty(self.root, self.storage, self.settings, passphrase)
        return key

    @classmethod
    def encrypt(cls, path: str | os.PathLike | None = None, passphrase: str | None = None, *,
                progress: bool | None = None) -> tuple[str | None, dict[str, int]]:
        """Encrypt an existing library in place (``workbench encrypt``); a rerun finishes an interrupted one.
        Returns the recovery key (when this call made the keyring, else None) and counts of files."""
        from workbench.storage.encrypted import convert_in_place
        loc = resolve_location(path)
        root = local_home(loc)
        if not (root / MARKER).exists():
            cls.open(loc)                                    # the usual "no library here" message
        settings = Settings.load(root)
        storage = open_storage(str(loc), settings) if is_remote(loc) else open_storage(root)
        with WriteLock(root), bar(None, "encrypt", progress) as pb:
            return convert_in_place(root, storage, settings, passphrase, on_progress=pb.update)

    @staticmethod
    def change_passphrase(path: str | os.PathLike | None = None, new_passphrase: str | None = None, *,
                          passphrase: str | None = None, recovery_key: str | None = None) -> None:
        """Seal an encrypted library's keys under a new passphrase, unlocking with the current one or the recovery
        key; no stored file is rewritten."""
        from workbench.storage.keyring import change_passphrase_at
        loc = resolve_location(path)      # a folder's keyring is a file in it; a bucket's is an object in it
        place = open_storage(str(loc), Settings.load(local_home(loc))) if is_remote(loc) else Path(loc)
        change_passphrase_at(place, new_passphrase, passphrase=passphrase, recovery_key=recovery_key)

    def rotate_key(self, passphrase: str | None = None, *, progress: bool | None = None) -> tuple[str | None, int]:
        """Replace the master key: file keys are re-wrapped (headers rewritten, data untouched). Returns the new
        recovery key (None when finishing an interrupted rotation) and how many files were re-wrapped."""
        from workbench.storage.encrypted import rotate_master_key
        if not self.encrypted:
            raise LibraryError(f"{self.location} is not encrypted (`workbench encrypt` encrypts it)")
        with self._lock, bar(None, "rotate", progress) as pb:
            return rotate_master_key(self.root, self.storage, passphrase, on_progress=pb.update)
