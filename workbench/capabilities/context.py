"""What every capability of a library shares: one ``LibraryContext`` (root, catalog, settings, storage, write lock,
stages) and the ``Capability`` base class the rooms behind ``workbench.Library`` are built on.

A capability reaches another one through the door (``self.lib.trash.ids()``), never by importing it: the door
builds them all on the same context, so there is one catalog, one lock and one storage however a call travels.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.catalog.lock import WriteLock
from workbench.catalog.store import Catalog
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext
from workbench.stages.registry import all_stages
from workbench.storage import Storage
from workbench.storage.location import is_remote

if TYPE_CHECKING:
    from workbench.library import Library

S = TypeVar("S", bound=Stage)


class Stages:
    """The library's stages, looked up in one place. They are built afresh on every lookup, as before: a stage
    object caches what it found out once (whether CLIP or the face models load, the tag vocabulary), and a
    long-lived library (``workbench serve``, a gallery kernel) must see weights and labels added since."""

    def __init__(self, settings: Settings, root: Path):
        self.settings, self.root = settings, root

    def all(self) -> list[Stage]:
        """Every stage, in the order ``process`` runs them."""
        return all_stages(self.settings, self.root)

    def of(self, kind: type[S]) -> S:
        """The stage of this class (``stages.of(FaceStage)``)."""
        return next(s for s in self.all() if isinstance(s, kind))

    def thumbnails(self):
        from workbench.stages.thumbnails import ThumbnailStage
        return self.of(ThumbnailStage)

    def thumbnail_version(self) -> str:
        """The renditions to read are the thumbnails rows of this version."""
        return self.thumbnails().version

    def embeddings(self):
        from workbench.stages.embeddings import EmbeddingStage
        return self.of(EmbeddingStage)

    def tags(self):
        from workbench.stages.tags import TagStage
        return self.of(TagStage)

    def face_model_id(self) -> str:
        """The face stage's current version: faces and people belong to one face model."""
        from workbench.stages.faces import FaceStage
        return self.of(FaceStage).version

    def ocr_version(self) -> str:
        from workbench.stages.ocr import OcrStage
        return self.of(OcrStage).version


@dataclass(eq=False)
class LibraryContext:
    """One library's shared state. ``storage`` may be replaced once (an encrypted library is unlocked after it is
    opened, ``start_encryption`` wraps a new one): every capability reads it from here at each call."""
    root: Path
    location: str
    catalog: Catalog
    settings: Settings
    storage: Storage
    lock: WriteLock
    stages: Stages

    def stage_context(self) -> StageContext:
        """What stage workers get. An encrypted storage travels with its keys; so does one on S3 (it carries the
        endpoint and keys read here: a worker's environment is the forkserver's, which may predate them); any
        other is opened again in the worker from its root."""
        from workbench.storage.encrypted import EncryptedStorage
        travels = isinstance(self.storage, EncryptedStorage) or is_remote(self.location)
        return StageContext(self.location, self.settings, self.storage if travels else None)


class Capability:
    """One room behind the door: built by ``Library`` on its context; reaches the other rooms through ``lib``."""

    def __init__(self, lib: "Library"):
        self.lib = lib
        self.context: LibraryContext = lib.context

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.lib!r}>"

    @property
    def catalog(self) -> Catalog:
        return self.context.catalog

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def storage(self) -> Storage:
        return self.context.storage

    @property
    def root(self) -> Path:
        return self.context.root

    @property
    def lock(self) -> WriteLock:
        return self.context.lock

    @property
    def stages(self) -> Stages:
        return self.context.stages


class forward:
    """``Library.media = forward("media", "__call__")``: the old method name, answered by a capability. Reading
    it gives the capability's bound method, so ``help(lib.add_tag)`` shows the real signature and docstring."""

    def __init__(self, capability: str, method: str):
        self.capability, self.method = capability, method

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, lib: Any, owner: type | None = None) -> Any:
        if lib is None:
            return self
        return getattr(getattr(lib, self.capability), self.method)

    def __repr__(self) -> str:
        return f"<Library.{getattr(self, 'name', '?')} -> lib.{self.capability}.{self.method}>"

