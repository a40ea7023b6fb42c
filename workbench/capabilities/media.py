"""``lib.media``: reading the archive: listing and filtering media, one media's everything, ids, originals and
renditions. Nothing here writes, except the one cache ``original_path`` may fill (``Storage.materialize``)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any

import pandas as pd

from workbench.access.scope import EVERYTHING, Scope
from workbench.capabilities.context import Capability
from workbench.catalog.queries import MediaFilter, list_media
from workbench.catalog.filters import Eq, In, StartsWith, where
from workbench.errors import NotFoundError
from workbench.storage import derived_key, original_key

RENDITIONS = ("thumb", "preview")


def _check_which(which: str) -> None:
    if which not in RENDITIONS:
        raise ValueError("which must be 'thumb' or 'preview'")


class Media(Capability):
    """``lib.media(...)`` lists media; ``get``, ``resolve_id``, ``thumbnails``, ``original_path``, ..."""

    def __call__(self, *, kind: str | None = None, since: date | datetime | None = None,
                 until: date | datetime | None = None, camera: str | None = None, place: str | None = None,
                 query: str | None = None, owner: str | None = None, tag: str | None = None,
                 person: str | None = None, sort: str = "date", desc: bool = False,
                 limit: int | None = None, include_trashed: bool = False,
                 has_text: bool | None = None, scope: Scope = EVERYTHING) -> pd.DataFrame:
        """Media as a DataFrame: filter by kind, capture date range, camera, place, tag, person, words and
        whether text was read in them (``has_text``). Media in the trash are left out unless ``include_trashed``.
        ``scope``: only the media a viewer may see, matched by the words they may see, paths as they may see them
        (``person`` among the people they see)."""
        words = query if scope.sees_all else None
        flt = MediaFilter(kind=kind, since=since, until=until, camera=camera, place=place, query=words, owner=owner,
                          ids=self.matching(tag, person, has_text, scope=scope))
        df = list_media(self.catalog, flt, sort=sort, desc=desc, limit=None)
        if not include_trashed:
            df = self.lib.trash.hide(df)
        df = scope.keep(df)
        if query and words is None:
            df = df[df["id"].isin(set(scope.word_hits(self.catalog, df, query) or ()))]
        return scope.redact((df.head(limit) if limit is not None else df).reset_index(drop=True))

    def matching(self, tag: str | None = None, person: str | None = None,
                 has_text: bool | None = None, *, scope: Scope = EVERYTHING) -> set[str] | None:
        """Media ids allowed by the tag, person and has-text filters (None: no restriction); ``person`` is one
        of the people ``scope`` sees. The scope's own limit is not applied here."""
        pid = person if person is None or scope.sees_all else self.lib.people.resolve(person, scope=scope)
        sets = [x for x in (self.lib.tags.media_with(tag), self.lib.people.media_of(pid),
                            self.lib.search.media_with_text(has_text)) if x is not None]
        return set.intersection(*sets) if sets else None

    def version(self) -> int:
        """A number that grows whenever media are added or changed, by any process: a background processor
        (``workbench serve``) polls it to learn of new work (a read of the table's manifest, ~0.1 ms)."""
        return self.catalog.version("media")

    def counts(self) -> dict[str, int]:
        """How many images, videos, errors and source paths the library holds."""
        return {"images": self.catalog.count("media", Eq("kind", "image")),
                "videos": self.catalog.count("media", Eq("kind", "video")),
                "sources": self.catalog.count("sources"),
                "errors": self.catalog.count("errors")}

    def resolve_id(self, id_or_prefix: str) -> str:
        """A full media id from a unique prefix (at least 4 hex digits), like git."""
        p = id_or_prefix.strip().lower()
        if len(p) < 4 or any(c not in "0123456789abcdef" for c in p):
            raise NotFoundError(f"{id_or_prefix!r} is not a media id: use at least 4 hex digits from `workbench ls`")
        t = self.catalog.read("media", ["id"], StartsWith("id", p))
        ids = t.column("id").to_pylist()
        if not ids:
            raise NotFoundError(f"no media with id {id_or_prefix!r}")
        if len(ids) > 1:
            raise NotFoundError(f"id prefix {id_or_prefix!r} is ambiguous: it matches {len(ids)} media; type more digits")
        return ids[0]

    def resolve_ids(self, ids: Iterable[str]) -> list[str]:
        """Many ids at once (adding a thousand media to an album): full ids are checked in one query, prefixes
        one by one."""
        wanted = [str(i).strip().lower() for i in ids]
        known = self.catalog.existing_keys("media", "id", [i for i in wanted if len(i) == 16])
        return [i if i in known else self.resolve_id(i) for i in wanted]

    def get(self, id_or_prefix: str, *, scope: Scope = EVERYTHING) -> dict[str, Any]:
        """Everything about one media: its row, every source path, stage results and errors (of a media in
        ``scope``, as its viewer may see them)."""
        mid = scope.resolve_id(self.lib, id_or_prefix)
        row = self.catalog.read("media", None, Eq("id", mid)).to_pylist()[0]
        row["sources"] = sorted(self.catalog.read("sources", ["path"], Eq("media_id", mid))
                                .column("path").to_pylist())
        row["stages"] = {}
        for stage in self.stages.all():
            r = (self.catalog.read(stage.name, None, where(media_id=mid, version=stage.version)).to_pylist()
                 if self.catalog.has(stage.name) else [])
            if r:
                r[0] = {k: v for k, v in r[0].items() if k not in stage.bulky_columns}
            row["stages"][stage.name] = r[0] if r else {"status": "pending"}
        row["errors"] = self.catalog.read("errors", ["stage", "reason"], Eq("media_id", mid)).to_pylist()
        return scope.redact_row(row)

    def sources(self) -> pd.DataFrame:
        """Every path each media was found at (exact duplicates are media with several)."""
        return self.catalog.read("sources", ["media_id", "path", "mode", "owner", "found_at"]).to_pandas()

    def errors(self) -> pd.DataFrame:
        """Files and stages that failed, with the reason, newest first."""
        df = self.catalog.read("errors", ["path", "stage", "reason", "media_id", "at"]).to_pandas()
        return df.sort_values(["at", "path"], ascending=[False, True]).reset_index(drop=True)

    def original_path(self, id_or_prefix: str, *, scope: Scope = EVERYTHING) -> Path:
        """A local file with the original bytes (the stored original, or the referenced file) of a media in
        ``scope``. For a JPEG stored as JPEG XL this writes: the exact JPEG is rebuilt into the storage's cache
        (``Storage.materialize``)."""
        row = self.get(scope.resolve_id(self.lib, id_or_prefix))
        return self.context.stage_context().materialize_source(row)

    def stored_original_key(self, id_or_prefix: str) -> str | None:
        """The storage key of a media's original when its bytes are served as stored, so a player can read it by
        ranges through ``self.storage`` (an encrypted library decrypts only the chunks asked for, a bucket sends
        only that range); None when the bytes come from a local file instead (``original_path``: a file imported
        by reference, or a JPEG rebuilt from its JPEG XL)."""
        from workbench.compress.reconstruct import RECONSTRUCTIBLE
        row = self.get(id_or_prefix)
        if row.get("storage") == "copy" and row.get("blob") and row.get("stored_as") != RECONSTRUCTIBLE:
            return original_key(row["blob"])
        return None

    @staticmethod
    def download_name(row: dict[str, Any], served: str | PurePath) -> str:
        """The file name a download of a media (its catalog ``row``) gets when ``served`` (a path or storage key)
        is the file sent: the name it was imported under. A JPEG stored as JPEG XL is rebuilt byte-exactly on
        download, so it stays ``photo.jpg``; an original replaced by a pixel-lossless or lossy version no longer
        exists as such, so the name takes the served version's extension (``hopper.png`` kept as JPEG XL downloads
        as ``hopper.jxl``) and opens as what it is. One rule for the gallery's player and the zip of an album."""
        from workbench.compress.reconstruct import RECONSTRUCTIBLE
        name = PurePath(row.get("path") or served).name
        if row.get("stored_as") and row["stored_as"] != RECONSTRUCTIBLE:
            name = PurePath(name).stem + PurePath(served).suffix
        return name

    def download_files(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """[{"id", "path", "name", "mime", "size_bytes"}] of the bytes a download of these media (full ids, in this
        order; unknown ones left out) serves, from one catalog read: a zip of an album asks for hundreds. ``path``
        is a local file (``original_path``'s), ``name`` the file name it was imported under; an original replaced
        by a pixel-lossless or lossy version is that version, so its name takes the version's extension."""
        wanted = list(dict.fromkeys(ids))
        rows = {r["id"]: r for r in self.catalog.read("media", None, In("id", wanted)).to_pylist()} if wanted \
            else {}
        ctx = self.context.stage_context()
        out = []
        for mid in wanted:
            row = rows.get(mid)
            if row is None:
                continue
            path = ctx.materialize_source(row)   # a JPEG stored as JPEG XL is rebuilt into the cache
            name = self.download_name(row, path)
            out.append({"id": mid, "path": path, "name": name, "mime": row["mime"], "size_bytes": path.stat().st_size})
        return out

    def rendition_path(self, id_or_prefix: str, which: str = "thumb") -> Path | None:
        """The thumbnail (``thumb``) or ``preview`` WebP of a media, None until processed."""
        _check_which(which)
        # Only the thumbnails row is read (not every stage, as ``get`` does): a gallery grid asks this per cell.
        mid = self.resolve_id(id_or_prefix)
        stage = self.stages.thumbnails()
        if not self.catalog.has(stage.name):
            return None
        rows = self.catalog.read(stage.name, [which, "status"], where(media_id=mid, version=stage.version)).to_pylist()
        return self.storage.local_file(derived_key(rows[0][which])) if rows and rows[0]["status"] == "ok" else None

    def thumbnail(self, id_or_prefix: str, which: str = "thumb", *, scope: Scope = EVERYTHING) -> bytes | None:
        """The WebP bytes of a media's thumbnail or preview (None until processed): the one way apps show a
        picture, so the gallery's permission checks have a single place to live."""
        _check_which(which)
        mid = scope.resolve_id(self.lib, id_or_prefix)
        return self.thumbnails([mid], which)[mid]

    def thumbnails(self, ids: Iterable[str], which: str = "thumb", *,
                   scope: Scope = EVERYTHING) -> dict[str, bytes | None]:
        """WebP bytes of many media's thumbnails (or previews) in one catalog read, None where not processed:
        the gallery's grid shows dozens per scroll, and ``thumbnail`` pays a full ``get`` for each. Ids outside
        ``scope`` come back as None, exactly like media that do not exist."""
        _check_which(which)
        out: dict[str, bytes | None] = dict.fromkeys(ids)
        wanted = [i for i in out if scope.contains(i)]
        stage = self.stages.thumbnails()
        if not wanted or not self.catalog.has(stage.name):
            return out
        rows = self.catalog.read(stage.name, ["media_id", which],
                                 where(version=stage.version, status="ok") & In("media_id", wanted)).to_pylist()
        for r in rows:
            try:
                out[r["media_id"]] = self.storage.read_bytes(derived_key(r[which])) if r[which] else None
            except FileNotFoundError:
                pass
        return out
