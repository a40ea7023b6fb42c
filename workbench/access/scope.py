"""What a viewer may see and do, as one value the capabilities take (in the spirit of fiftyone's ``use_view``).

A ``Scope`` is passed as ``scope=`` to the capabilities that read or decide about media (``lib.media``,
``lib.search``, ``lib.tags``, ``lib.people``, ``lib.duplicates``, ...). They ask it, rather than take id sets:

- ``EVERYTHING`` (the default): the owner at the CLI, a notebook or a dashboard. No limit, nothing redacted;
- ``UserScope``: one signed-in user: the media they own and those of albums they can see (``policy``), folder
  names of other people's media cut to the file name, curating for curators and admins only;
- ``ShareScope``: one share link: its album's media, file names only, no decisions at all.

A scope is made for one request (``UserView.scope()`` checks the session at that moment) and its media-id set is
computed lazily, once: a call that resolves a person, searches and cuts paths reads visibility once, and a scope
made after a change (a trash, an album shared) sees it. Media outside a scope are reported exactly like media
that do not exist, so an id, a prefix or a name never tells that something is there.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.access import albums, policy, shares
from workbench.access.policy import Actor
from workbench.catalog.filters import Eq
from workbench.catalog.store import Catalog
from workbench.errors import AccessDenied, AuthError, NotFoundError

if TYPE_CHECKING:
    from workbench.library import Library

HEX = set("0123456789abcdef")
WORD = re.compile(r"[^\W_]+", re.UNICODE)   # how the importer splits names into words
PRIVATE_COLUMNS = ("search_text",)   # words of folder names: an index, not something to show


def resolve_among(id_or_prefix: str, allowed: set[str] | frozenset[str]) -> str:
    """Like ``Library.resolve_id``, but only ``allowed`` ids exist (same messages, so nothing leaks)."""
    p = str(id_or_prefix).strip().lower()
    if len(p) < 4 or any(c not in HEX for c in p):
        raise NotFoundError(f"{id_or_prefix!r} is not a media id: use at least 4 hex digits from `workbench ls`")
    if p in allowed:
        return p
    found = [m for m in allowed if m.startswith(p)]
    if not found:
        raise NotFoundError(f"no media with id {id_or_prefix!r}")
    if len(found) > 1:
        raise NotFoundError(f"id prefix {id_or_prefix!r} is ambiguous: it matches {len(found)} media; type more digits")
    return found[0]


class Scope:
    """Everything: the owner's scope (CLI, notebooks, dashboards), and the base every narrower scope refines.

    ``sees_all``: names, paths and people are shown as stored (the owner, admins, curators); a scope that does
    not see all gets paths cut and people counted from its own media. ``user``: whom decisions are recorded
    under (None: the caller says)."""

    sees_all: bool = True
    user: str | None = None

    def __repr__(self) -> str:
        return "EVERYTHING"

    # -- what may be seen ------------------------------------------------------------------------------------
    def ids(self) -> frozenset[str] | None:
        """The media ids in the scope; None: every media (no limit)."""
        return None

    def limit(self, ids: set[str] | None) -> set[str] | None:
        """``ids`` (None: all media) cut to the scope."""
        mine = self.ids()
        if mine is None:
            return ids
        return set(mine) if ids is None else set(ids) & mine

    def contains(self, media_id: str) -> bool:
        mine = self.ids()
        return mine is None or media_id in mine

    def keep(self, df: pd.DataFrame, column: str = "id") -> pd.DataFrame:
        """The rows of ``df`` whose ``column`` holds a media id in the scope."""
        mine = self.ids()
        return df if mine is None else df[df[column].isin(mine)]

    def resolve_id(self, lib: "Library", id_or_prefix: str) -> str:
        """A full media id from an id or unique prefix, among the media in the scope."""
        mine = self.ids()
        return lib.resolve_id(id_or_prefix) if mine is None else resolve_among(id_or_prefix, mine)

    def narrow(self, ids: Iterable[str]) -> "Scope":
        """This scope, further limited to ``ids`` (an album, a user's favourites): same viewer, same rights."""
        return Narrowed(self, frozenset(ids))

    # -- what may be shown of it -----------------------------------------------------------------------------
    def redact(self, df: pd.DataFrame, path_columns: tuple[str, ...] = ("path",)) -> pd.DataFrame:
        """``df`` as this viewer may see it (the owner: as stored)."""
        return df

    def redact_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """One media's ``Library.get`` row as this viewer may see it."""
        return row

    def own_paths(self, catalog: Catalog, ids: set[str]) -> dict[str, list[str]]:
        """media id -> the paths this viewer imported it from (their own files; for the owner, every path)."""
        return {}

    def word_hits(self, catalog: Catalog, df: pd.DataFrame, text: str) -> list[str] | None:
        """Ids in ``df`` whose words *this viewer may see* include a word of ``text``, most words matched first;
        None: the catalog's full-text index may answer (it holds the folder words of whoever imported a photo
        first, which only a viewer who sees all may search by)."""
        if self.sees_all:
            return None
        from workbench.ingest.importer import search_text
        wanted = {w.lower() for w in WORD.findall(text)}
        if not wanted or df.empty:
            return []
        mine = self.own_paths(catalog, set(df["id"]))
        # Only rows holding a wanted word somewhere (a cheap substring test) need their words worked out.
        cols = ["id", "path", "camera_make", "camera_model", "place"]
        hay = pd.Series([" ".join(mine.get(m) or [os.path.basename(p)]) for m, p in zip(df["id"], df["path"])],
                        index=df.index, dtype=object)
        for c in cols[2:]:
            hay = hay + " " + df[c].fillna("").astype(str)
        hay = hay.str.lower()
        df = df[hay.map(lambda h: any(w in h for w in wanted))]
        scored = []
        for rank, r in enumerate(df[cols].astype(object).where(df[cols].notna(), None).to_dict("records")):
            words: set[str] = set()
            for path in mine.get(r["id"]) or [Path(r["path"]).name]:
                words |= set(search_text({**r, "path": path}).split())
            n = len(wanted & words)
            if n:
                scored.append((-n, rank, r["id"]))
        return [m for _, _, m in sorted(scored)]

    # -- what may be written ---------------------------------------------------------------------------------
    def require_curator(self, doing: str) -> None:
        """Refuse curating (tags, names of people, merges) to a scope that may not curate."""

    def acting_user(self, user: str | None) -> str | None:
        """Whom a decision is recorded under: the scope's user when it has one."""
        return self.user if self.user is not None else user

    def trashable(self) -> set[str] | None:
        """Media this scope may put in the trash or take out of it (None: any)."""
        return None


EVERYTHING = Scope()


class Narrowed(Scope):
    """A scope cut to some of its media (``Scope.narrow``): the inner scope's viewer, rights and redaction."""

    def __init__(self, inner: Scope, ids: frozenset[str]):
        self.inner, self._only = inner, ids
        self.sees_all, self.user = inner.sees_all, inner.user
        self._ids: frozenset[str] | None = None

    def __repr__(self) -> str:
        return f"{self.inner!r}.narrow({len(self._only)} media)"

    def ids(self) -> frozenset[str]:
        if self._ids is None:
            outer = self.inner.ids()
            self._ids = self._only if outer is None else self._only & outer
        return self._ids

    def redact(self, df: pd.DataFrame, path_columns: tuple[str, ...] = ("path",)) -> pd.DataFrame:
        return self.inner.redact(df, path_columns)

    def redact_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return self.inner.redact_row(row)

    def own_paths(self, catalog: Catalog, ids: set[str]) -> dict[str, list[str]]:
        return self.inner.own_paths(catalog, ids)

    def require_curator(self, doing: str) -> None:
        self.inner.require_curator(doing)

    def trashable(self) -> set[str] | None:
        return self.inner.trashable()


class UserScope(Scope):
    """What one user may see (``policy.visible_media``: their own media and their albums', never the trash) and
    do (curate: curators and admins). Admins and curators see every media as stored; a viewer sees other
    people's media by file name only."""

    def __init__(self, catalog: Catalog, actor: Actor):
        self.catalog, self.actor = catalog, actor
        self.sees_all, self.user = actor.sees_everything, actor.name
        self._ids: frozenset[str] | None = None
        self.computed = 0   # how many times the id set was worked out (once at most)

    def __repr__(self) -> str:
        return f"UserScope({self.actor.name!r}, {self.actor.role})"

    def ids(self) -> frozenset[str]:
        if self._ids is None:
            self._ids = policy.visible_media(self.catalog, self.actor)
            self.computed += 1
        return self._ids

    def own_paths(self, catalog: Catalog, ids: set[str]) -> dict[str, list[str]]:
        if not ids:
            return {}
        t = catalog.read("sources", ["media_id", "path"], Eq("owner", self.actor.name))
        out: dict[str, list[str]] = {}
        for m, path in sorted(zip(t.column("media_id").to_pylist(), t.column("path").to_pylist()),
                              key=lambda r: r[1]):
            if m in ids:
                out.setdefault(m, []).append(path)
        return out

    def redact(self, df: pd.DataFrame, path_columns: tuple[str, ...] = ("path",)) -> pd.DataFrame:
        """Without the search index's words; for a viewer, paths of media they did not import cut to the file
        name (another person's folder names stay private), their own shown as they imported them."""
        df = df.drop(columns=[c for c in PRIVATE_COLUMNS if c in df.columns])
        if self.sees_all or df.empty:
            return df.reset_index(drop=True)
        id_col = "id" if "id" in df.columns else "media_id"
        mine = self.own_paths(self.catalog, set(df[id_col]))
        df = df.copy()
        for col in path_columns:
            if col in df.columns:
                df[col] = [mine[m][0] if m in mine else (os.path.basename(p) if isinstance(p, str) else p)
                           for m, p in zip(df[id_col], df[col])]
        return df.reset_index(drop=True)

    def redact_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """``sources`` lists only the user's own paths; errors (whose reasons may quote the importer's paths) only
        for media they imported."""
        for c in PRIVATE_COLUMNS:
            row.pop(c, None)
        if not self.sees_all:
            mine = self.own_paths(self.catalog, {row["id"]}).get(row["id"], [])
            row["sources"] = mine
            if row["owner"] != self.actor.name or row["path"] not in mine:
                row["path"] = mine[0] if mine else Path(row["path"]).name
            if not mine:
                row["errors"] = []
        return row

    def require_curator(self, doing: str) -> None:
        policy.require_curator(self.actor, doing)

    def acting_user(self, user: str | None) -> str:
        return self.actor.name

    def trashable(self) -> set[str]:
        """Their own media (an admin: every media), in the trash or not: curators curate, they do not delete
        other people's photos."""
        return policy.trashable_media(self.catalog, self.actor)


class ShareScope(Scope):
    """What a share link shows: its album's media (not the trashed ones), by file name only; no decisions."""

    sees_all = False

    def __init__(self, catalog: Catalog, share_id: str, album_id: str):
        self.catalog, self.share_id, self.album_id = catalog, share_id, album_id
        self._ids: frozenset[str] | None = None
        self.computed = 0

    def __repr__(self) -> str:
        return f"ShareScope(album={self.album_id!r})"

    @classmethod
    def checked(cls, catalog: Catalog, share_id: str, album_id: str) -> tuple["ShareScope", dict]:
        """The scope of a link that is live now (``AuthError`` otherwise), with its album row and expiry."""
        share = shares.still_live(catalog, share_id)
        rows = albums.rows(catalog, [album_id])
        if not rows:
            raise AuthError(shares.NOT_VALID)
        return cls(catalog, share_id, album_id), {**rows[0], "expires_at": share["expires_at"], "share": share}

    def ids(self) -> frozenset[str]:
        if self._ids is None:
            from workbench.catalog.trash import trashed_ids
            self._ids = frozenset(set(albums.item_ids(self.catalog, self.album_id)) - trashed_ids(self.catalog))
            self.computed += 1
        return self._ids

    def redact(self, df: pd.DataFrame, path_columns: tuple[str, ...] = ("path",)) -> pd.DataFrame:
        df = df.drop(columns=[c for c in PRIVATE_COLUMNS if c in df.columns]).copy()
        for col in path_columns:
            if col in df.columns:
                df[col] = [Path(p).name if isinstance(p, str) else p for p in df[col]]
        return df.reset_index(drop=True)

    def redact_row(self, row: dict[str, Any]) -> dict[str, Any]:
        for c in PRIVATE_COLUMNS:
            row.pop(c, None)
        row["path"] = Path(row["path"]).name
        row["sources"], row["errors"] = [], []
        return row

    def require_curator(self, doing: str) -> None:
        raise AccessDenied(f"a share link only shows its album: it may not {doing}")

    def trashable(self) -> set[str]:
        return set()
