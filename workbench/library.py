"""``Library``: the one door to an archive. The CLI, notebooks, dashboards and gallery all go through it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.capabilities.access import Access
from workbench.capabilities.albums import Albums
from workbench.capabilities.backups import Backups, restore_library as restore_whole_library
from workbench.capabilities.compression import Compression
from workbench.capabilities.context import LibraryContext, Stages, forward
from workbench.capabilities.duplicates import Duplicates
from workbench.capabilities.encryption import Encryption, change_passphrase as change_passphrase_at, encrypt_in_place
from workbench.capabilities.integrity import Integrity
from workbench.capabilities.media import Media
from workbench.capabilities.opening import (DEFAULT_LIBRARY, MARKER, create_folder, create_remote,  # noqa: F401
                                            migrate_if_needed, open_catalog, read_marker, resolve_location,
                                            resolve_root)
from workbench.capabilities.people import People
from workbench.capabilities.processing import Processing
from workbench.capabilities.quality import Quality
from workbench.capabilities.search import Search
from workbench.capabilities.tags import Tags
from workbench.capabilities.trash import Trash
from workbench.catalog.lock import WriteLock
from workbench.catalog.store import Catalog
from workbench.errors import LibraryError
from workbench.settings import Settings
from workbench.storage import DERIVED, ORIGINALS, Storage, open_storage
from workbench.storage.location import is_remote, local_home

if TYPE_CHECKING:
    from workbench.replicas import Replicas


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
        #: What every capability shares: one catalog, settings, storage, write lock and stage lookup.
        self.context = LibraryContext(root, self.location, catalog, settings, open_storage(self.location, settings),
                                      WriteLock(root, settings.write_lock_wait_s), Stages(settings, root))
        if is_remote(self.location):
            from workbench.parallel import also_preload
            also_preload("workbench.storage.s3")
        self._build_capabilities()

    # -- opening (capabilities/opening.py) -------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike | None = None, *, catalog_location: str | None = None) -> "Library":
        """Create an empty library (or open it if it already exists): a folder, or ``s3://bucket/prefix`` whose
        catalog is in the bucket or local (``catalog_location``, default the setting of that name)."""
        loc = resolve_location(path)
        if is_remote(loc):
            create_remote(str(loc), catalog_location)
        else:
            create_folder(Path(loc))
        return cls.open(loc)

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, create: bool = False, *,
             passphrase: str | None = None) -> "Library":
        """Open an existing library (a folder or ``s3://bucket/prefix``), migrating its catalog if it was made by
        an older version."""
        loc = resolve_location(path)
        root = local_home(loc)
        settings = Settings.load(root)
        try:
            meta, storage = read_marker(loc, settings)
        except (FileNotFoundError, NotADirectoryError):
            if create:
                return cls.create(loc)
            raise LibraryError(f"no library at {loc}: run `workbench init` (or `workbench --library PATH init`) "
                               f"first, or point --library / WORKBENCH_LIBRARY at an existing one") from None
        lib = cls(root, open_catalog(loc, settings, meta, storage), settings, location=str(loc))
        # An encrypted library reads and writes through its keys (passphrase, WORKBENCH_PASSPHRASE[_FILE], a prompt).
        from workbench.storage.encrypted import open_encrypted
        lib.storage = open_encrypted(root, lib.storage, settings, passphrase)
        migrate_if_needed(lib.catalog, settings, root, lib._lock, meta, storage)
        return lib

    def __repr__(self) -> str:
        return f"Library({self.location!r})"

    @staticmethod
    def start_workers_server(hide_env: tuple[str, ...] = ()) -> None:
        """Start the process this process's worker processes fork from now, without the environment variables
        in ``hide_env``: a server calls it before it puts a secret in its environment, so workers that decode
        what strangers send never hold it (``workbench.parallel.start_forkserver``; one thread only)."""
        from workbench.parallel import start_forkserver
        start_forkserver(hide_env)

    # -- import and processing ------------------------------------------------------------------------------
    import_files = forward("processing", "import_files")

    @property
    def stages(self) -> Stages:
        """The library's stages, looked up in one place (``lib.stages.all()``, ``lib.stages.thumbnail_version()``)."""
        return self.context.stages

    # -- the rooms (workbench/capabilities/): one object per concern, all on ``self.context`` ---------------
    def _build_capabilities(self) -> None:
        self.media = Media(self)                # lib.media(...), .get, .resolve_id, .thumbnails, .original_path
        self.processing = Processing(self)      # import, process, status, prune
        self.search = Search(self)              # lib.search(text), .similar, .map_vectors, .text
        self.tags = Tags(self)                  # lib.tags(...), .add, .remove, thresholds, vocabulary, review
        self.people = People(self)              # lib.people(), .faces, .merge, .split, ...
        self.quality = Quality(self)            # lib.quality(flag=...), .thresholds
        self.duplicates = Duplicates(self)      # lib.duplicates(kind), .dismiss
        self.compression = Compression(self)    # convert, compress, policies, replace originals
        self.trash = Trash(self)                # lib.trash(ids), .ids, .hide, .restore, .list, .empty
        self.albums = Albums(self)              # lib.albums(), .create, .add, .media, members
        self.access = Access(self)              # users, sessions, share links, views (UserView, AlbumView)
        self.integrity = Integrity(self)        # verify, scrub, repair events
        self.backups = Backups(self)            # lib.backups(target), .take, .verify, .forget, .restore_media
        self.encryption = Encryption(self)      # encrypted, start, rotate_key

    @property
    def storage(self) -> Storage:
        """Every read and write of originals, renditions, versions, the file trash and caches goes through it."""
        return self.context.storage

    @storage.setter
    def storage(self, storage: Storage) -> None:    # an encrypted library is unlocked after it is opened
        self.context.storage = storage

    @property
    def _lock(self) -> WriteLock:
        return self.context.lock

    @property
    def replicas(self) -> "Replicas":
        """The library's replica stores: ``add``, ``list``, ``remove``, ``status``, ``sync`` (docs/archive.md)."""
        from workbench.replicas import Replicas
        if getattr(self, "_replicas", None) is None:
            self._replicas = Replicas(self.catalog, self.storage, self.settings, self._lock, self.root)
        return self._replicas

    @property
    def uploads(self):
        """Uploads being received through the gallery (``workbench.ingest.upload.Uploads``): staged, hashed while
        they arrive, imported when complete. The gallery reaches it through a view, which checks who asks."""
        if getattr(self, "_uploads", None) is None:
            from workbench.ingest.upload import Uploads
            self._uploads = Uploads(self.catalog, self.storage, self.settings, self.root)
        return self._uploads

    @property
    def originals_dir(self) -> Path:
        """The folder of a local library's originals, for people and tests looking at it; code reads and writes
        through ``self.storage``."""
        return self.storage.local_file(ORIGINALS)

    @property
    def derived_dir(self) -> Path:
        """The folder of a local library's derived files (see ``originals_dir``)."""
        return self.storage.local_file(DERIVED)

    # -- the old method names, each answered by its room (help(lib.x) shows the real signature) -------------
    # import and processing
    writers_waiting = forward("processing", "writers_waiting")
    engine = forward("processing", "engine")
    process = forward("processing", "process")
    upkeep = forward("processing", "upkeep")
    status = forward("processing", "status")
    prune = forward("processing", "prune")
    # reading
    media_version = forward("media", "version")
    counts = forward("media", "counts")
    resolve_id = forward("media", "resolve_id")
    get = forward("media", "get")
    sources = forward("media", "sources")
    errors = forward("media", "errors")
    original_path = forward("media", "original_path")
    stored_original_key = forward("media", "stored_original_key")
    download_files = forward("media", "download_files")
    rendition_path = forward("media", "rendition_path")
    thumbnail = forward("media", "thumbnail")
    thumbnails = forward("media", "thumbnails")
    thumbnail_version = forward("stages", "thumbnail_version")
    # search and text read in pictures
    similar = forward("search", "similar")
    map_vectors = forward("search", "map_vectors")
    text = forward("search", "text")
    _search_tables = forward("search", "tables")    # tests and benchmarks read the current CLIP tables
    # tags
    vocabulary = forward("tags", "vocabulary")
    add_label = forward("tags", "add_label")
    tag_scores = forward("tags", "scores")
    tag_thresholds = forward("tags", "thresholds")
    tag_threshold = forward("tags", "threshold")
    set_tag_threshold = forward("tags", "set_threshold")
    clear_tag_threshold = forward("tags", "clear_threshold")
    add_tag = forward("tags", "add")
    remove_tag = forward("tags", "remove")
    manual_tags = forward("tags", "manual")
    tag_review = forward("tags", "review")
    tag_overview = forward("tags", "overview")
    # faces and people
    face_model_id = forward("people", "model_id")
    faces = forward("people", "faces")
    resolve_person = forward("people", "resolve")
    name_person = forward("people", "name")
    merge_people = forward("people", "merge")
    move_faces = forward("people", "move_faces")
    split_person = forward("people", "split")
    reject_faces = forward("people", "reject_faces")
    hide_person = forward("people", "hide")
    update_people = forward("people", "update")
    face_suggestions = forward("people", "suggestions")
    face_crop = forward("people", "crop")
    # quality and duplicates
    quality_thresholds = forward("quality", "thresholds")
    set_quality_threshold = forward("quality", "set_threshold")
    dismiss_duplicates = forward("duplicates", "dismiss")
    # compression
    convert = forward("compression", "convert")
    compress = forward("compression", "compress")
    policies_dir = forward("compression", "policies_dir")
    policies = forward("compression", "policies")
    save_policy = forward("compression", "save_policy")
    versions = forward("compression", "versions")
    replace_originals = forward("compression", "replace_originals")
    replaced_originals = forward("compression", "replaced_originals")
    restore_original = forward("compression", "restore_original")
    # trash
    trashed_ids = forward("trash", "ids")
    restore = forward("trash", "restore")
    trashed = forward("trash", "list")
    empty_trash = forward("trash", "empty")
    # albums (here the local owner acts as admin; apps act as a user through for_user / for_session)
    create_album = forward("albums", "create")
    add_to_album = forward("albums", "add")
    remove_from_album = forward("albums", "remove")
    album_media = forward("albums", "media")
    arrange_album = forward("albums", "arrange")
    set_album_cover = forward("albums", "set_cover")
    rename_album = forward("albums", "rename")
    delete_album = forward("albums", "delete")
    album_members = forward("albums", "members")
    add_member = forward("albums", "add_member")
    remove_member = forward("albums", "remove_member")
    # users, sessions, share links and the views apps act through
    users = forward("access", "users")
    add_user = forward("access", "add_user")
    set_password = forward("access", "set_password")
    set_role = forward("access", "set_role")
    remove_user = forward("access", "remove_user")
    login = forward("access", "login")
    logout = forward("access", "logout")
    session_user = forward("access", "session_user")
    for_session = forward("access", "for_session")
    for_session_hash = forward("access", "for_session_hash")
    for_user = forward("access", "for_user")
    for_share = forward("access", "for_share")
    for_share_id = forward("access", "for_share_id")
    for_actor = forward("access", "for_actor")
    share_album = forward("access", "share_album")
    set_share_uploads = forward("access", "set_share_uploads")
    shares = forward("access", "shares")
    revoke_share = forward("access", "revoke_share")
    share_link_status = forward("access", "share_link_status")
    share_still_live = forward("access", "share_still_live")
    # integrity, backups, encryption
    verify = forward("integrity", "verify")
    scrub = forward("integrity", "scrub")
    repair_events = forward("integrity", "repair_events")
    backup = forward("backups", "take")
    verify_backups = forward("backups", "verify")
    forget_backups = forward("backups", "forget")
    restore_from_backup = forward("backups", "restore_media")
    restore_library = staticmethod(restore_whole_library)
    encrypted = forward("encryption", "encrypted")
    start_encryption = forward("encryption", "start")
    rotate_key = forward("encryption", "rotate_key")

    @classmethod
    def encrypt(cls, path: str | os.PathLike | None = None, passphrase: str | None = None, *,
                progress: bool | None = None) -> tuple[str | None, dict[str, int]]:
        """Encrypt an existing library in place (``workbench encrypt``); a rerun finishes an interrupted one.
        Returns the recovery key (when this call made the keyring, else None) and counts of files."""
        loc = resolve_location(path)
        if not (local_home(loc) / MARKER).exists():
            cls.open(loc)                                    # the usual "no library here" message
        return encrypt_in_place(loc, passphrase, progress=progress)

    @staticmethod
    def change_passphrase(path: str | os.PathLike | None = None, new_passphrase: str | None = None, *,
                          passphrase: str | None = None, recovery_key: str | None = None) -> None:
        """Seal an encrypted library's keys under a new passphrase, unlocking with the current one or the recovery
        key; no stored file is rewritten."""
        change_passphrase_at(resolve_location(path), new_passphrase, passphrase=passphrase, recovery_key=recovery_key)
