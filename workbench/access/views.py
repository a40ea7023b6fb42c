"""The library as one user sees it (``UserView``) and as a share link shows it (``AlbumView``).

Every method checks, on every call, that the session or link is still valid and what the acting user may see
(``policy``). Media, faces, people and albums outside that are reported exactly like ones that do not exist, so
an id, an id prefix, a person's name or an album name can never be used to learn that something is there.
Paths of media a viewer does not own are cut to the file name: another person's folder names stay private.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.access import albums, favourites, policy, sessions, shares, users
from workbench.access.policy import Actor
from workbench.catalog.store import sql_quote
from workbench.errors import AuthError, NotFoundError

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


def thumbnails_within(library: "Library", ids: Iterable[str], allowed: set[str] | frozenset[str],
                      which: str) -> dict[str, bytes | None]:
    """Thumbnails of the allowed ids in one read; every other id maps to None, as if it did not exist."""
    ids = list(ids)
    out: dict[str, bytes | None] = dict.fromkeys(ids)
    out.update(library.thumbnails([i for i in ids if i in allowed], which))
    return out


class UserView:
    """The library acting as one user: the gallery's door. Reads show only what the user may see; writes check
    what they may do (see ``workbench.access.policy``). Get one from ``Library.for_session(token)`` (checks the
    session on every call, so logout and expiry take effect at once) or ``Library.for_user(name)``."""

    def __init__(self, library: "Library", name: str, session_hash: str | None = None):
        self._lib = library
        self._name = name
        self._session = session_hash

    def __repr__(self) -> str:
        return f"UserView(user={self._name!r})"

    # -- who is acting --------------------------------------------------------------------------------------
    @property
    def _catalog(self):
        return self._lib.catalog

    def _actor(self) -> Actor:
        if self._session is not None:
            sessions.user_of(self._catalog, self._session)
        r = users.row(self._catalog, self._name)
        if r is None:
            raise AuthError(f"the account {self._name!r} no longer exists")
        return Actor(r["name"], r["role"])

    def _sight(self) -> tuple[Actor, frozenset[str]]:
        actor = self._actor()
        return actor, policy.visible_media(self._catalog, actor)

    @property
    def name(self) -> str:
        return self._name

    @property
    def role(self) -> str:
        """admin, curator or viewer (read afresh: a role change applies at once)."""
        return self._actor().role

    def whoami(self) -> dict[str, str]:
        """{"name", "role"} of the acting user, for the gallery's header."""
        a = self._actor()
        return {"name": a.name, "role": a.role}

    # -- privacy of paths -----------------------------------------------------------------------------------
    def _redact(self, df: pd.DataFrame, actor: Actor, path_columns: tuple[str, ...] = ("path",)) -> pd.DataFrame:
        df = df.drop(columns=[c for c in PRIVATE_COLUMNS if c in df.columns])
        if actor.sees_everything or df.empty:
            return df.reset_index(drop=True)
        id_col = "id" if "id" in df.columns else "media_id"
        mine = self._my_paths(actor, set(df[id_col]))
        df = df.copy()
        for col in path_columns:
            if col in df.columns:
                df[col] = [mine[m][0] if m in mine else (os.path.basename(p) if isinstance(p, str) else p)
                           for m, p in zip(df[id_col], df[col])]
        return df.reset_index(drop=True)

    def _my_paths(self, actor: Actor, ids: set[str]) -> dict[str, list[str]]:
        """media id -> the paths this user imported it from (their own files)."""
        if not ids:
            return {}
        t = self._catalog.read("sources", ["media_id", "path"], f"owner = {sql_quote(actor.name)}")
        out: dict[str, list[str]] = {}
        for m, path in sorted(zip(t.column("media_id").to_pylist(), t.column("path").to_pylist()),
                              key=lambda r: r[1]):
            if m in ids:
                out.setdefault(m, []).append(path)
        return out

    def _word_hits(self, actor: Actor, df: pd.DataFrame, text: str) -> list[str]:
        """Ids in ``df`` whose words *this user may see* include a word of ``text``, most words matched first.
        The catalog's full-text index holds the folder words of whoever imported a photo first, so a viewer's
        words are matched here instead: their own paths for their media, the file name for anyone else's."""
        from workbench.ingest.importer import search_text
        wanted = {w.lower() for w in WORD.findall(text)}
        if not wanted or df.empty:
            return []
        mine = self._my_paths(actor, set(df["id"]))
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

    # -- media ----------------------------------------------------------------------------------------------
    def resolve_id(self, id_or_prefix: str) -> str:
        """A full media id from an id or unique prefix, among the media this user may see."""
        return resolve_among(id_or_prefix, self._sight()[1])

    def media(self, *, kind: str | None = None, since: date | datetime | None = None,
              until: date | datetime | None = None, camera: str | None = None, place: str | None = None,
              query: str | None = None, owner: str | None = None, tag: str | None = None,
              person: str | None = None, album: str | None = None, sort: str = "date", desc: bool = False,
              limit: int | None = None, has_text: bool | None = None, favourites: bool = False) -> pd.DataFrame:
        """The media this user may see, filtered like ``Library.media`` (plus ``album``, and ``favourites``: only
        the media this user marked)."""
        actor, visible = self._sight()
        if favourites:
            visible &= self._favourites(actor)
        if person is not None:
            person = self._person_id(person, actor, visible)
        if album is not None:
            row, _ = self._album(album, actor)
            visible &= set(albums.item_ids(self._catalog, row["album_id"]))
        words = query if actor.sees_everything else None
        df = self._lib.media(kind=kind, since=since, until=until, camera=camera, place=place, query=words,
                             owner=owner, tag=tag, person=person, sort=sort, desc=desc, has_text=has_text)
        df = df[df["id"].isin(visible)]
        if query and not actor.sees_everything:
            df = df[df["id"].isin(set(self._word_hits(actor, df, query)))]
        return self._redact(df.head(limit) if limit is not None else df, actor)

    def get(self, id_or_prefix: str) -> dict[str, Any]:
        """Everything about one visible media, like ``Library.get``; ``sources`` lists only the user's own paths."""
        actor, visible = self._sight()
        mid = resolve_among(id_or_prefix, visible)
        row = self._lib.get(mid)
        for c in PRIVATE_COLUMNS:
            row.pop(c, None)
        if not actor.sees_everything:
            mine = self._my_paths(actor, {mid}).get(mid, [])
            row["sources"] = mine
            if row["owner"] != actor.name or row["path"] not in mine:
                row["path"] = mine[0] if mine else Path(row["path"]).name
            if not mine:
                row["errors"] = []  # reasons may quote the importer's paths
        return row

    def thumbnail(self, id_or_prefix: str, which: str = "thumb") -> bytes | None:
        """WebP bytes of a visible media's thumbnail or preview (None until processed)."""
        return self._lib.thumbnail(self.resolve_id(id_or_prefix), which)

    def thumbnails(self, ids: Iterable[str], which: str = "thumb") -> dict[str, bytes | None]:
        """Many thumbnails in one read, for a grid; ids this user may not see come back as None, exactly like
        media that do not exist."""
        return thumbnails_within(self._lib, ids, self._sight()[1], which)

    def original_path(self, id_or_prefix: str) -> Path:
        """Where a visible media's original is, for the server to stream (videos) or send; not for display."""
        return self._lib.original_path(self.resolve_id(id_or_prefix))

    def original_bytes(self, id_or_prefix: str) -> bytes:
        """The original file's bytes of a visible media (a download)."""
        return self.original_path(id_or_prefix).read_bytes()

    def search(self, text: str, *, limit: int = 20, kind: str | None = None, since: date | datetime | None = None,
               until: date | datetime | None = None, camera: str | None = None, place: str | None = None,
               owner: str | None = None, tag: str | None = None, person: str | None = None,
               has_text: bool | None = None) -> pd.DataFrame:
        """``Library.search`` over the media this user may see (the permission is applied inside the search,
        so hits are not lost to other people's photos). Words read in a picture are no secret of its owner's:
        whoever may see the picture may find it by them."""
        actor, visible = self._sight()
        if person is not None:
            person = self._person_id(person, actor, visible)
        words = None
        if not actor.sees_everything:
            seen = self._catalog.read("media", ["id", "path", "camera_make", "camera_model", "place"]).to_pandas()
            words = self._word_hits(actor, seen[seen["id"].isin(visible)], text)
        hits = self._lib.search(text, limit=limit, kind=kind, since=since, until=until, camera=camera, place=place,
                                owner=owner, tag=tag, person=person, within=visible, words=words,
                                has_text=has_text)
        return self._redact(hits, actor)

    def similar(self, id_or_prefix: str, *, limit: int = 20, kind: str | None = None) -> pd.DataFrame:
        """Visible media that look like this visible one."""
        actor, visible = self._sight()
        mid = resolve_among(id_or_prefix, visible)
        return self._redact(self._lib.similar(mid, limit=limit, kind=kind, within=visible), actor)

    def text(self, id_or_prefix: str) -> pd.DataFrame:
        """``Library.text`` of a visible media (lines read in it, with boxes); others do not exist."""
        return self._lib.text(self.resolve_id(id_or_prefix))

    def tags(self, id_or_prefix: str | None = None) -> pd.DataFrame:
        """Effective tags [media_id, tag, score, source] of visible media (or of one)."""
        actor, visible = self._sight()
        if id_or_prefix is not None:
            return self._lib.tags(resolve_among(id_or_prefix, visible))
        df = self._lib.tags()
        return df[df["media_id"].isin(visible)].reset_index(drop=True)

    def add_tag(self, id_or_prefix: str, tag: str) -> None:
        """Tag a visible media by hand (curators and admins)."""
        actor, visible = self._sight()
        policy.require_curator(actor, "tag media")
        self._lib.add_tag(resolve_among(id_or_prefix, visible), tag, user=actor.name)

    def remove_tag(self, id_or_prefix: str, tag: str) -> None:
        """Remove a tag from a visible media by hand (curators and admins)."""
        actor, visible = self._sight()
        policy.require_curator(actor, "tag media")
        self._lib.remove_tag(resolve_among(id_or_prefix, visible), tag, user=actor.name)

    # -- favourites (each user's own marks) -----------------------------------------------------------------
    def _favourites(self, actor: Actor) -> set[str]:
        return favourites.ids(self._catalog, actor.name)

    def favourite_ids(self) -> set[str]:
        """The visible media this user marked as favourites."""
        actor, visible = self._sight()
        return self._favourites(actor) & visible

    def is_favourite(self, id_or_prefix: str) -> bool:
        actor, visible = self._sight()
        return resolve_among(id_or_prefix, visible) in self._favourites(actor)

    def set_favourite(self, ids: Iterable[str] | str, favourite: bool = True) -> int:
        """Mark (or unmark) visible media as this user's favourites; returns how many changed. Nobody else sees
        or changes these marks."""
        actor, visible = self._sight()
        mids = [resolve_among(i, visible) for i in ([ids] if isinstance(ids, str) else ids)]
        return (favourites.mark if favourite else favourites.unmark)(self._catalog, actor.name, mids)

    # -- the trash (the same trash as `workbench trash`) ---------------------------------------------------
    def _trashable(self, actor: Actor, ids: Iterable[str], within: set[str]) -> list[str]:
        """Full ids of ``ids`` among ``within``; media this user may not trash are refused by name, media they
        cannot see at all are reported like ones that do not exist."""
        out = []
        for i in ids:
            mid = resolve_among(i, within | policy.visible_media(self._catalog, actor))
            if mid not in within:
                from workbench.errors import AccessDenied
                raise AccessDenied(f"you may only trash your own photos and videos; {mid[:8]} belongs to "
                                   f"someone else (ask its owner or an admin)")
            out.append(mid)
        return out

    def trash(self, ids: Iterable[str], reason: str | None = None) -> int:
        """Put media this user owns (an admin: any media) in the library's trash: hidden everywhere, for everyone,
        until restored; deleted only when an admin empties the trash. Returns how many were added."""
        from workbench.catalog.trash import put
        actor, visible = self._sight()
        mids = self._trashable(actor, ids, policy.trashable_media(self._catalog, actor) & visible)
        return put(self._catalog, mids, actor.name, reason or "trashed in the gallery")

    def may_trash(self, id_or_prefix: str) -> bool:
        """Whether this user may put this visible media in the trash (their own; an admin: any), so a page shows
        the button only where it works."""
        actor, visible = self._sight()
        return resolve_among(id_or_prefix, visible) in policy.trashable_media(self._catalog, actor)

    def _own_trash(self, actor: Actor) -> set[str]:
        return self._lib.trashed_ids() & policy.trashable_media(self._catalog, actor)

    def trashed(self) -> pd.DataFrame:
        """This user's media in the trash (an admin: all), with the columns of ``media()`` plus ``reason``,
        ``trashed_by`` and ``trashed_at``, most recently trashed first."""
        actor = self._actor()
        mine = self._own_trash(actor)
        df = self._lib.media(include_trashed=True)
        df = df[df["id"].isin(mine)]
        t = self._catalog.read("trash", ["media_id", "user", "reason", "at"]).to_pandas().rename(
            columns={"media_id": "id", "user": "trashed_by", "at": "trashed_at"})
        df = df.merge(t, on="id").sort_values(["trashed_at", "id"], ascending=[False, True])
        return self._redact(df, actor)

    def trash_thumbnails(self, ids: Iterable[str], which: str = "thumb") -> dict[str, bytes | None]:
        """Thumbnails of this user's media in the trash (for the Trash page); any other id comes back as None."""
        return thumbnails_within(self._lib, ids, self._own_trash(self._actor()), which)

    def restore(self, ids: Iterable[str]) -> int:
        """Take media this user owns (an admin: any) out of the trash; returns how many were in it."""
        from workbench.catalog.trash import take_back
        actor = self._actor()
        mine = self._own_trash(actor)
        return take_back(self._catalog, [resolve_among(i, mine) for i in ids])

    # -- downloads (what a zip of a selection or an album may hold) -----------------------------------------
    def downloadable(self, ids: Iterable[str]) -> list[str]:
        """The ids among ``ids`` (full ids) this user may read now, in the given order; the rest are left out
        silently, as if they did not exist."""
        visible = self._sight()[1]
        return [m for m in dict.fromkeys(str(i) for i in ids) if m in visible]

    # -- faces and people -----------------------------------------------------------------------------------
    def _face_people(self, visible: frozenset[str]) -> pd.DataFrame:
        """[face_id, media_id, quality, person_id] of assigned faces in visible media (cheap: no embeddings)."""
        from workbench.people.assign import LIVE, load_assignments
        from workbench.stages.faces import FACES_TABLE
        cols = ["face_id", "media_id", "quality", "person_id"]
        if not self._catalog.has(FACES_TABLE):
            return pd.DataFrame(columns=cols)
        f = self._catalog.read(FACES_TABLE, ["face_id", "media_id", "quality"],
                               f"model_id = {sql_quote(self._lib.face_model_id())}").to_pandas()
        f = f[f["media_id"].isin(visible)]
        a = load_assignments(self._catalog)
        a = a[a["source"].isin(LIVE)][["face_id", "person_id"]]
        return f.merge(a, on="face_id")[cols]

    def _person_id(self, person: str, actor: Actor, visible: frozenset[str]) -> str:
        if actor.sees_everything:
            return self._lib.resolve_person(person)
        seen = set(self._face_people(visible)["person_id"])
        p = str(person).strip()
        low = p.lower()
        known = self._lib.people(include_hidden=True)
        known = known[known["person_id"].isin(seen)]
        named = known[known["name"].notna()]
        for match in (named[named["name"].str.lower() == low],
                      named[named["name"].str.lower().str.contains(low, regex=False)] if low else named.iloc[:0],
                      known[known["person_id"].str.startswith(low)] if len(low) >= 4 else known.iloc[:0]):
            if len(match) == 1:
                return match.iloc[0]["person_id"]
        try:  # an id of a person merged into a visible one
            pid = self._lib.resolve_person(p)
        except NotFoundError:
            pid = None
        if pid in seen:
            return pid
        raise NotFoundError(f"no person named or with id {person!r}: see `workbench people`")

    def resolve_person(self, person: str) -> str:
        """A person id from an id, prefix or name, among the people this user can see."""
        actor, visible = self._sight()
        return self._person_id(person, actor, visible)

    def faces(self, id_or_prefix: str | None = None, *, person: str | None = None) -> pd.DataFrame:
        """``Library.faces`` limited to faces in visible media."""
        actor, visible = self._sight()
        mid = resolve_among(id_or_prefix, visible) if id_or_prefix else None
        pid = self._person_id(person, actor, visible) if person else None
        df = self._lib.faces(mid, person=pid)
        return self._redact(df[df["media_id"].isin(visible)], actor)

    def people(self, *, include_hidden: bool = False) -> pd.DataFrame:
        """People this user can see: those with a face in a visible media. Names are the library's (one name for
        everyone); counts and the cover face come from visible media only."""
        actor, visible = self._sight()
        df = self._lib.people(include_hidden=include_hidden)
        if actor.sees_everything:
            return df
        f = self._face_people(visible)
        df = df[df["person_id"].isin(set(f["person_id"]))].copy()
        if df.empty:
            return df.reset_index(drop=True)
        g = f.groupby("person_id")
        df["face_count"] = df["person_id"].map(g.size()).astype(int)
        df["media_count"] = df["person_id"].map(g["media_id"].nunique()).astype(int)
        best = f.sort_values(["quality", "face_id"], ascending=[False, True]).drop_duplicates("person_id")
        best = best.set_index("person_id")["face_id"]
        visible_faces = set(f["face_id"])
        df["cover_face_id"] = [c if c in visible_faces else best[p] for p, c in zip(df["person_id"], df["cover_face_id"])]
        df = df.assign(_unnamed=df["name"].isna())
        return (df.sort_values(["_unnamed", "face_count", "name", "person_id"], ascending=[True, False, True, True])
                .drop(columns="_unnamed").reset_index(drop=True))

    def face_crop(self, face_id: str, size_px: int = 160, margin: float = 0.25):
        """A square PIL image of a face in a visible media."""
        from workbench.stages.faces import FACES_TABLE
        _, visible = self._sight()
        rows = (self._catalog.read(FACES_TABLE, ["media_id"], f"face_id = {sql_quote(str(face_id))}").to_pylist()
                if self._catalog.has(FACES_TABLE) else [])
        if not rows or rows[0]["media_id"] not in visible:
            raise NotFoundError(f"no face with id {face_id!r}: see `workbench faces`")
        return self._lib.face_crop(face_id, size_px, margin)

    def name_person(self, person: str, name: str | None) -> None:
        """Name a person (curators and admins): the name is the library's, seen by everyone who sees them."""
        actor, visible = self._sight()
        policy.require_curator(actor, "name people")
        self._lib.name_person(self._person_id(person, actor, visible), name)

    def merge_people(self, target: str, *others: str) -> str:
        """The others are the same person as ``target`` (curators and admins): their faces move to it, confirmed.
        Returns the person's id."""
        actor, visible = self._sight()
        policy.require_curator(actor, "merge people")
        pid = self._person_id(target, actor, visible)
        rest = [self._person_id(o, actor, visible) for o in others]
        if not rest or pid in rest:
            raise ValueError("merge needs two different people: pick the person to keep and another one")
        return self._lib.merge_people(pid, *rest, user=actor.name)

    # -- albums ---------------------------------------------------------------------------------------------
    def _album(self, album: str, actor: Actor) -> tuple[dict, str]:
        acc = policy.album_access(self._catalog, actor)
        row = albums.resolve(self._catalog, album, among=set(acc))
        return row, acc[row["album_id"]]

    def albums(self) -> pd.DataFrame:
        """Albums this user can see: [id, name, owner, items, created_at, access] where access is view,
        contribute or manage."""
        actor = self._actor()
        acc = policy.album_access(self._catalog, actor)
        df = albums.frame(self._catalog, list(acc), self._lib.trashed_ids())
        return df.assign(access=df["id"].map(acc)) if not df.empty else df.assign(access=pd.Series(dtype=str))

    def create_album(self, name: str) -> str:
        """A new album owned by this user; returns its id."""
        return albums.create(self._catalog, name, self._actor().name)

    def rename_album(self, album: str, name: str) -> None:
        row, acc = self._album(album, self._actor())
        policy.require_access(acc, "manage", row["name"])
        albums.rename(self._catalog, row["album_id"], name)

    def delete_album(self, album: str) -> None:
        """Forget an album (its media stay): its owner, curators and admins."""
        row, acc = self._album(album, self._actor())
        policy.require_access(acc, "manage", row["name"])
        albums.delete(self._catalog, row["album_id"])

    def add_to_album(self, album: str, ids: Iterable[str]) -> int:
        """Add media this user can see to an album they own or contribute to; returns how many were new."""
        actor, visible = self._sight()
        row, acc = self._album(album, actor)
        policy.require_access(acc, "contribute", row["name"])
        mids = [resolve_among(i, visible) for i in ids]
        return albums.add_items(self._catalog, row["album_id"], mids, actor.name)

    def remove_from_album(self, album: str, ids: Iterable[str]) -> int:
        """Take media out of an album: managers any, contributors only what they added."""
        actor, visible = self._sight()
        row, acc = self._album(album, actor)
        policy.require_access(acc, "contribute", row["name"])
        mids = [resolve_among(i, visible) for i in ids]
        if acc != "manage":
            it = albums.items(self._catalog, [row["album_id"]])
            theirs = set(it.loc[it["added_by"] != actor.name, "media_id"])
            if theirs & set(mids):
                from workbench.errors import AccessDenied
                raise AccessDenied(f"you may only remove media you added to album {row['name']!r}")
        return albums.remove_items(self._catalog, row["album_id"], mids)

    def arrange_album(self, album: str, ids: Iterable[str]) -> int:
        """Put an album's media in this order (its managers: owner, curators, admins); the album's items not
        listed follow, newest first. Returns how many were placed."""
        actor, visible = self._sight()
        row, acc = self._album(album, actor)
        policy.require_access(acc, "manage", row["name"])
        inside = set(albums.item_ids(self._catalog, row["album_id"])) & visible
        return albums.set_order(self._catalog, row["album_id"], [resolve_among(i, inside) for i in ids])

    def set_album_cover(self, album: str, id_or_prefix: str | None) -> None:
        """Choose an album's cover among its media (its managers); None goes back to the newest photo."""
        actor, visible = self._sight()
        row, acc = self._album(album, actor)
        policy.require_access(acc, "manage", row["name"])
        inside = set(albums.item_ids(self._catalog, row["album_id"])) & visible
        albums.set_cover(self._catalog, row["album_id"],
                         None if id_or_prefix is None else resolve_among(id_or_prefix, inside))

    def album_cover(self, album: str) -> str | None:
        """The media id an album's card shows: the chosen cover while it is in the album and visible, else the
        album's first media in its own order (newest first until arranged); None for an empty album."""
        actor, visible = self._sight()
        row, _ = self._album(album, actor)
        inside = set(albums.item_ids(self._catalog, row["album_id"])) & visible
        if row.get("cover_media_id") in inside:
            return row["cover_media_id"]
        first = self._lib.album_media(row["album_id"], sort="album", limit=1)
        return first["id"].iloc[0] if len(first) and first["id"].iloc[0] in inside else None

    def album_media(self, album: str, *, sort: str = "date", desc: bool = False,
                    limit: int | None = None) -> pd.DataFrame:
        """The media of an album this user can see (columns of ``media()``); ``sort="album"`` is the album's own
        order (as its managers arranged it, the rest newest first)."""
        actor = self._actor()
        row, _ = self._album(album, actor)
        return self._redact(self._lib.album_media(row["album_id"], sort=sort, desc=desc, limit=limit), actor)

    def album_members(self, album: str) -> pd.DataFrame:
        """[user, role, added_at] of an album this user manages."""
        row, acc = self._album(album, self._actor())
        policy.require_access(acc, "manage", row["name"])
        return albums.members(self._catalog, row["album_id"])[["user", "role", "added_at"]]

    def add_member(self, album: str, user: str, role: str = "viewer") -> None:
        """Let another user see (viewer) or also add to (contributor) an album this user manages."""
        row, acc = self._album(album, self._actor())
        policy.require_access(acc, "manage", row["name"])
        albums.add_member(self._catalog, row, user, role)

    def remove_member(self, album: str, user: str) -> None:
        row, acc = self._album(album, self._actor())
        policy.require_access(acc, "manage", row["name"])
        if not albums.remove_member(self._catalog, row["album_id"], user):
            raise NotFoundError(f"{user!r} is not a member of album {row['name']!r}")

    # -- share links ----------------------------------------------------------------------------------------
    def share_album(self, album: str, *, expires: datetime | timedelta | float | None = None,
                    password: str | None = None) -> str:
        """A link token that shows this album, read-only, to whoever holds it (and knows ``password``, if set),
        until ``expires`` (a moment, a duration, or seconds) or until revoked. Shown once: keep it."""
        actor = self._actor()
        row, acc = self._album(album, actor)
        policy.require_access(acc, "manage", row["name"])
        return shares.create(self._catalog, row["album_id"], actor.name, shares.expiry(expires), password,
                             self._lib.settings.password_min_length)

    def shares(self, album: str | None = None) -> pd.DataFrame:
        """Share links of the albums this user manages (or of one): [share_id, album_id, created_by,
        created_at, expires_at, revoked_at, has_password, active]."""
        actor = self._actor()
        acc = policy.album_access(self._catalog, actor)
        if album is not None:
            row, a = self._album(album, actor)
            policy.require_access(a, "manage", row["name"])
            return shares.frame(self._catalog, [row["album_id"]])
        return shares.frame(self._catalog, [a for a, x in acc.items() if x == "manage"])

    def revoke_share(self, share: str) -> None:
        """Revoke a link (by share id or token) of an album this user manages: it stops working at once."""
        actor = self._actor()
        try:
            r = shares.find(self._catalog, share)
        except NotFoundError:
            r = None
        if r is None or policy.album_access(self._catalog, actor).get(r["album_id"]) != "manage":
            raise NotFoundError("no such share link (give a share id from `shares()`, or the token)")
        shares.revoke(self._catalog, r["share_id"])


    # -- uploads (the gallery's tus endpoint; checks in access/uploads.py) ---------------------------------------
    def begin_upload(self, size_bytes: int, name: str, *, album: str | None = None, sha256: str | None = None):
        """Start an upload of ``size_bytes`` (into ``album`` if given: one this user contributes to). With the
        ``sha256`` of content the library has, it is done at once (``result == "known"``). Refusals:
        ``AccessDenied`` (role, album), ``UploadRefused`` (size, quota)."""
        from workbench.access import uploads
        actor = self._actor()
        uploads.check_role(actor, self._lib.settings)
        album_id = None
        if album is not None:
            row, acc = self._album(album, actor)
            policy.require_access(acc, "contribute", row["name"])
            album_id = row["album_id"]
        return uploads.begin(self._lib, owner=actor.name, role=actor.role, actor_key=f"user:{actor.name}",
                             length=size_bytes, name=name, album_id=album_id, sha256=sha256, added_by=actor.name,
                             sees=lambda media_id: media_id in policy.visible_media(self._catalog, actor))

    def known_uploads(self, sha256s: list[str]) -> set[str]:
        """Which of these SHA-256s are content this user already sees (the upload page sends those bodiless)."""
        from workbench.access import uploads
        actor = self._actor()
        visible = policy.visible_media(self._catalog, actor)
        return uploads.known_to(self._lib, sha256s, visible.__contains__)

    def upload(self, upload_id: str):
        """One of this user's uploads (``NotFoundError`` for anyone else's)."""
        from workbench.access import uploads
        return uploads.mine(self._lib, upload_id, f"user:{self._actor().name}")

    def receive_upload(self, upload_id: str, offset: int):
        """A ``Receiver`` appending to this user's upload from ``offset`` (where its bytes end, else 409)."""
        return self._lib.uploads.receiver(self.upload(upload_id), offset)

    def finish_upload(self, upload_id: str, *, background: bool = False):
        """Make a complete upload this user's media (album access checked again: it may have been taken away
        while the bytes were arriving); with ``background``, decided by the library's upload thread (the
        upload's state says how it ended)."""
        from workbench.access import uploads
        actor = self._actor()
        u = uploads.mine(self._lib, upload_id, f"user:{actor.name}")
        uploads.check_role(actor, self._lib.settings)
        if u.album_id is not None:
            acc = policy.album_access(self._catalog, actor).get(u.album_id)
            if acc is None or policy.ACCESS.index(acc) < policy.ACCESS.index("contribute"):
                self._lib.uploads.refuse(u, "you may no longer add to that album")
                raise uploads.UploadRefused("you may no longer add to that album: ask its owner", 403)
        if background:
            return self._lib.uploads.finish_later(u, added_by=actor.name)
        return self._lib.uploads.finish(u, added_by=actor.name)

    def cancel_upload(self, upload_id: str) -> None:
        """Stop one of this user's uploads; its bytes are deleted."""
        self._lib.uploads.cancel(self.upload(upload_id))

    def set_share_uploads(self, share: str, accepts: bool = True) -> None:
        """Let a link (of an album this user manages) accept uploads into its album, or stop it."""
        from workbench.access import uploads
        actor = self._actor()
        try:
            r = shares.find(self._catalog, share)
        except NotFoundError:
            r = None
        if r is None or policy.album_access(self._catalog, actor).get(r["album_id"]) != "manage":
            raise NotFoundError("no such share link (give a share id from `shares()`, or the token)")
        uploads.set_share_uploads(self._catalog, r["share_id"], accepts)


class AlbumView:
    """One album as a share link shows it: read-only, no account, nothing outside the album. Every call
    re-checks the link, so revoking it (or its expiry) closes pages that are already open."""

    def __init__(self, library: "Library", share_id: str, album_id: str):
        self._lib = library
        self._share_id = share_id
        self._album_id = album_id

    def __repr__(self) -> str:
        return f"AlbumView(album={self._album_id!r})"

    @property
    def share_id(self) -> str:
        """The link this view was opened through (what the gallery server remembers in its cookie)."""
        return self._share_id

    def _check(self) -> dict:
        share = shares.still_live(self._lib.catalog, self._share_id)
        rows = albums.rows(self._lib.catalog, [self._album_id])
        if not rows:
            raise AuthError(shares.NOT_VALID)
        return {**rows[0], "expires_at": share["expires_at"]}

    def _ids(self) -> set[str]:
        return set(albums.item_ids(self._lib.catalog, self._album_id)) - self._lib.trashed_ids()

    @property
    def name(self) -> str:
        return self._check()["name"]

    def info(self) -> dict[str, Any]:
        """{"name", "owner", "items", "expires_at"} of the shared album."""
        r = self._check()
        return {"name": r["name"], "owner": r["owner"], "items": len(self._ids()), "expires_at": r["expires_at"]}

    @staticmethod
    def _public(df: pd.DataFrame) -> pd.DataFrame:
        df = df.drop(columns=[c for c in PRIVATE_COLUMNS if c in df.columns]).copy()
        if "path" in df.columns:
            df["path"] = [Path(p).name for p in df["path"]]
        return df.reset_index(drop=True)

    def media(self, *, kind: str | None = None, sort: str = "date", desc: bool = False,
              limit: int | None = None) -> pd.DataFrame:
        """The album's media (columns of ``Library.media``, paths cut to file names)."""
        self._check()
        df = self._lib.album_media(self._album_id, sort=sort, desc=desc)
        if kind is not None:
            df = df[df["kind"] == kind]
        return self._public(df.head(limit) if limit is not None else df)

    def resolve_id(self, id_or_prefix: str) -> str:
        self._check()
        return resolve_among(id_or_prefix, self._ids())

    def get(self, id_or_prefix: str) -> dict[str, Any]:
        """One media of the album, like ``Library.get`` but without source paths."""
        row = self._lib.get(self.resolve_id(id_or_prefix))
        for c in PRIVATE_COLUMNS:
            row.pop(c, None)
        row["path"] = Path(row["path"]).name
        row["sources"], row["errors"] = [], []
        return row

    def thumbnail(self, id_or_prefix: str, which: str = "thumb") -> bytes | None:
        return self._lib.thumbnail(self.resolve_id(id_or_prefix), which)

    def text(self, id_or_prefix: str) -> pd.DataFrame:
        """``Library.text`` of a media of the album."""
        return self._lib.text(self.resolve_id(id_or_prefix))

    def thumbnails(self, ids: Iterable[str], which: str = "thumb") -> dict[str, bytes | None]:
        """Many thumbnails in one read; ids outside the album come back as None."""
        self._check()
        return thumbnails_within(self._lib, ids, self._ids(), which)

    def original_path(self, id_or_prefix: str) -> Path:
        """For the server to stream or send the original; not for display."""
        return self._lib.original_path(self.resolve_id(id_or_prefix))

    def original_bytes(self, id_or_prefix: str) -> bytes:
        return self.original_path(id_or_prefix).read_bytes()

    def downloadable(self, ids: Iterable[str]) -> list[str]:
        """The ids among ``ids`` (full ids) that are in the album now, in the given order; others are left out."""
        self._check()
        inside = self._ids()
        return [m for m in dict.fromkeys(str(i) for i in ids) if m in inside]


    # -- uploads into the album, when its manager let the link accept them (off by default) -------------------
    def _upload_check(self) -> dict:
        from workbench.access import uploads
        share = shares.still_live(self._lib.catalog, self._share_id)
        uploads.share_accepts(share)
        rows = albums.rows(self._lib.catalog, [self._album_id])
        if not rows:
            raise AuthError(shares.NOT_VALID)
        return rows[0]

    @property
    def accepts_uploads(self) -> bool:
        """Whether this link's visitors may upload into the album."""
        return bool(shares.still_live(self._lib.catalog, self._share_id).get("accepts_uploads"))

    def begin_upload(self, size_bytes: int, name: str, *, album: str | None = None, sha256: str | None = None):
        """Start an upload into the shared album (owned by the album's owner, counted in their quota)."""
        from workbench.access import uploads
        album_row = self._upload_check()
        owner = users.row(self._lib.catalog, album_row["owner"])
        role = owner["role"] if owner else "viewer"
        return uploads.begin(self._lib, owner=album_row["owner"], role=role, actor_key=f"share:{self._share_id}",
                             length=size_bytes, name=name, album_id=self._album_id, sha256=sha256,
                             added_by=f"share:{self._share_id}", sees=lambda media_id: media_id in self._ids())

    def known_uploads(self, sha256s: list[str]) -> set[str]:
        """Which of these SHA-256s are already in the shared album (the only content this link sees)."""
        from workbench.access import uploads
        self._upload_check()
        return uploads.known_to(self._lib, sha256s, self._ids().__contains__)

    def upload(self, upload_id: str):
        from workbench.access import uploads
        self._check()
        return uploads.mine(self._lib, upload_id, f"share:{self._share_id}")

    def receive_upload(self, upload_id: str, offset: int):
        return self._lib.uploads.receiver(self.upload(upload_id), offset)

    def finish_upload(self, upload_id: str, *, background: bool = False):
        u = self.upload(upload_id)
        try:
            self._upload_check()
        except Exception as e:
            self._lib.uploads.refuse(u, str(e))
            raise
        if background:
            return self._lib.uploads.finish_later(u, added_by=f"share:{self._share_id}")
        return self._lib.uploads.finish(u, added_by=f"share:{self._share_id}")

    def cancel_upload(self, upload_id: str) -> None:
        self._lib.uploads.cancel(self.upload(upload_id))
