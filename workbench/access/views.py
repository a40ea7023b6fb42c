"""The library as one user sees it (``UserView``) and as a share link shows it (``AlbumView``).

A view is a thin object that binds a ``Scope`` (``access/scope.py``) to the library's capabilities: each call checks
that the session or link is still valid, makes the scope of that moment, and passes it on
(``view.search(...)`` is ``lib.search(..., scope=view.scope())``). The capabilities cut reads to the scope and
report media, faces and people outside it exactly like ones that do not exist, so an id, an id prefix, a person's
name or an album name can never be used to learn that something is there; paths of media a viewer does not own
are cut to the file name. What only a view does (favourites, the trash, albums, share links, uploads) is written
out here, with its permission check.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from workbench.access import albums, favourites, policy, sessions, shares, users
from workbench.access.policy import Actor
from workbench.access.scope import EVERYTHING, Scope, ShareScope, UserScope, resolve_among
from workbench.errors import AuthError, NotFoundError

if TYPE_CHECKING:
    from workbench.library import Library


class scoped:
    """``search = scoped("search")`` on a view: ``view.search(...)`` calls ``lib.search(..., scope=view.scope())``
    (the capability method named by a dotted path under the library). ``help(view.search)`` shows the capability's
    signature and docstring; the scope is made at call time, so a session that ended or a link revoked a moment
    ago is refused."""

    def __init__(self, path: str):
        self.path = path

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, view: Any, owner: type | None = None) -> Any:
        if view is None:
            return self
        target: Callable[..., Any] = functools.reduce(getattr, self.path.split("."), view.library)

        @functools.wraps(target)
        def call(*args: Any, **kwargs: Any) -> Any:
            return target(*args, scope=view.scope(), **kwargs)
        return call

    def __repr__(self) -> str:
        return f"<view.{getattr(self, 'name', '?')} -> lib.{self.path}(..., scope=view.scope())>"


def _thumbnails_of(library: "Library", ids: Iterable[str], allowed: set[str] | frozenset[str],
                   which: str) -> dict[str, bytes | None]:
    """Thumbnails of the allowed ids in one read; every other id maps to None, as if it did not exist."""
    return library.thumbnails(ids, which, scope=EVERYTHING.narrow(allowed))


class UserView:
    """The library acting as one user: the gallery's door. Reads show only what the user may see; writes check
    what they may do (see ``workbench.access.policy``). Get one from ``Library.for_session(token)`` (checks the
    session on every call, so logout and expiry take effect at once) or ``Library.for_user(name)``."""

    def __init__(self, library: "Library", name: str, session_hash: str | None = None):
        self.library = library
        self._name = name
        self._session = session_hash

    def __repr__(self) -> str:
        return f"UserView(user={self._name!r})"

    # -- who is acting --------------------------------------------------------------------------------------
    @property
    def _catalog(self):
        return self.library.catalog

    def _actor(self) -> Actor:
        if self._session is not None:
            sessions.user_of(self._catalog, self._session)
        r = users.row(self._catalog, self._name)
        if r is None:
            raise AuthError(f"the account {self._name!r} no longer exists")
        return Actor(r["name"], r["role"])

    def scope(self) -> UserScope:
        """What this user may see and do now (the session checked, the role read afresh): pass it to any
        capability as ``scope=``. Its media ids are worked out once, when first needed."""
        return UserScope(self._catalog, self._actor())

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

    # -- what the capabilities answer within the scope ------------------------------------------------------
    get = scoped("media.get")
    thumbnail = scoped("media.thumbnail")
    thumbnails = scoped("media.thumbnails")
    original_path = scoped("media.original_path")
    search = scoped("search")
    similar = scoped("search.similar")
    text = scoped("search.text")
    tags = scoped("tags")
    add_tag = scoped("tags.add")
    remove_tag = scoped("tags.remove")
    faces = scoped("people.faces")
    people = scoped("people")
    resolve_person = scoped("people.resolve")
    name_person = scoped("people.name")
    face_crop = scoped("people.crop")
    duplicates = scoped("duplicates")

    def resolve_id(self, id_or_prefix: str) -> str:
        """A full media id from an id or unique prefix, among the media this user may see."""
        return resolve_among(id_or_prefix, self.scope().ids())

    def original_bytes(self, id_or_prefix: str) -> bytes:
        """The original file's bytes of a visible media (a download)."""
        return self.original_path(id_or_prefix).read_bytes()

    def media(self, *, kind: str | None = None, since: date | datetime | None = None,
              until: date | datetime | None = None, camera: str | None = None, place: str | None = None,
              query: str | None = None, owner: str | None = None, tag: str | None = None,
              person: str | None = None, album: str | None = None, sort: str = "date", desc: bool = False,
              limit: int | None = None, has_text: bool | None = None, favourites: bool = False) -> pd.DataFrame:
        """The media this user may see, filtered like ``Library.media`` (plus ``album``, and ``favourites``: only
        the media this user marked): the scope narrowed to those, then ``lib.media(..., scope=)``."""
        user = self.scope()
        scope: Scope = user
        if favourites:
            scope = scope.narrow(self._favourites(user.actor))
        if album is not None:
            row, _ = self._album(album, user.actor)
            scope = scope.narrow(albums.item_ids(self._catalog, row["album_id"]))
        return self.library.media(kind=kind, since=since, until=until, camera=camera, place=place, query=query,
                                  owner=owner, tag=tag, person=person, sort=sort, desc=desc, limit=limit,
                                  has_text=has_text, scope=scope)

    def merge_people(self, target: str, *others: str) -> str:
        """The others are the same person as ``target`` (curators and admins): their faces move to it, confirmed.
        Returns the person's id."""
        scope = self.scope()
        scope.require_curator("merge people")
        pid = self.library.people.resolve(target, scope=scope)
        rest = [self.library.people.resolve(o, scope=scope) for o in others]
        if not rest or pid in rest:
            raise ValueError("merge needs two different people: pick the person to keep and another one")
        return self.library.people.merge(pid, *rest, scope=scope)

    def _sight(self) -> tuple[Actor, frozenset[str]]:
        scope = self.scope()
        return scope.actor, scope.ids()

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
    @staticmethod
    def _trashable(ids: Iterable[str], allowed: set[str], visible: frozenset[str]) -> list[str]:
        """Full ids of ``ids`` among ``allowed``; media this user may not trash are refused by name, media they
        cannot see at all are reported like ones that do not exist."""
        out = []
        for i in ids:
            mid = resolve_among(i, allowed | visible)
            if mid not in allowed:
                from workbench.errors import AccessDenied
                raise AccessDenied(f"you may only trash your own photos and videos; {mid[:8]} belongs to "
                                   f"someone else (ask its owner or an admin)")
            out.append(mid)
        return out

    def trash(self, ids: Iterable[str], reason: str | None = None) -> int:
        """Put media this user owns (an admin: any media) in the library's trash: hidden everywhere, for everyone,
        until restored; deleted only when an admin empties the trash. Returns how many were added."""
        from workbench.catalog import trash
        scope = self.scope()
        visible = scope.ids()
        mids = self._trashable(ids, scope.trashable() & visible, visible)
        return trash.put(self._catalog, mids, scope.actor.name, reason or "trashed in the gallery")

    def may_trash(self, id_or_prefix: str) -> bool:
        """Whether this user may put this visible media in the trash (their own; an admin: any), so a page shows
        the button only where it works."""
        scope = self.scope()
        return resolve_among(id_or_prefix, scope.ids()) in scope.trashable()

    def _own_trash(self, actor: Actor) -> set[str]:
        return self.library.trashed_ids() & UserScope(self._catalog, actor).trashable()

    def trashed(self) -> pd.DataFrame:
        """This user's media in the trash (an admin: all), with the columns of ``media()`` plus ``reason``,
        ``trashed_by`` and ``trashed_at``, most recently trashed first."""
        actor = self._actor()
        mine = self._own_trash(actor)
        df = self.library.media(include_trashed=True)
        df = df[df["id"].isin(mine)]
        t = self._catalog.read("trash", ["media_id", "user", "reason", "at"]).to_pandas().rename(
            columns={"media_id": "id", "user": "trashed_by", "at": "trashed_at"})
        df = df.merge(t, on="id").sort_values(["trashed_at", "id"], ascending=[False, True])
        return UserScope(self._catalog, actor).redact(df)

    def trash_thumbnails(self, ids: Iterable[str], which: str = "thumb") -> dict[str, bytes | None]:
        """Thumbnails of this user's media in the trash (for the Trash page); any other id comes back as None."""
        return _thumbnails_of(self.library, ids, self._own_trash(self._actor()), which)

    def restore(self, ids: Iterable[str]) -> int:
        """Take media this user owns (an admin: any) out of the trash; returns how many were in it."""
        from workbench.catalog import trash
        actor = self._actor()
        mine = self._own_trash(actor)
        return trash.take_back(self._catalog, [resolve_among(i, mine) for i in ids])

    # -- downloads (what a zip of a selection or an album may hold) -----------------------------------------
    def downloadable(self, ids: Iterable[str]) -> list[str]:
        """The ids among ``ids`` (full ids) this user may read now, in the given order; the rest are left out
        silently, as if they did not exist."""
        visible = self._sight()[1]
        return [m for m in dict.fromkeys(str(i) for i in ids) if m in visible]

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
        df = albums.frame(self._catalog, list(acc), self.library.trashed_ids())
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
        first = self.library.album_media(row["album_id"], sort="album", limit=1)
        return first["id"].iloc[0] if len(first) and first["id"].iloc[0] in inside else None

    def album_media(self, album: str, *, sort: str = "date", desc: bool = False,
                    limit: int | None = None) -> pd.DataFrame:
        """The media of an album this user can see (columns of ``media()``); ``sort="album"`` is the album's own
        order (as its managers arranged it, the rest newest first)."""
        actor = self._actor()
        row, _ = self._album(album, actor)
        return UserScope(self._catalog, actor).redact(
            self.library.album_media(row["album_id"], sort=sort, desc=desc, limit=limit))

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
                             self.library.settings.password_min_length)

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
        uploads.check_role(actor, self.library.settings)
        album_id = None
        if album is not None:
            row, acc = self._album(album, actor)
            policy.require_access(acc, "contribute", row["name"])
            album_id = row["album_id"]
        return uploads.begin(self.library, owner=actor.name, role=actor.role, actor_key=f"user:{actor.name}",
                             length=size_bytes, name=name, album_id=album_id, sha256=sha256, added_by=actor.name,
                             sees=lambda media_id: media_id in policy.visible_media(self._catalog, actor))

    def known_uploads(self, sha256s: list[str]) -> set[str]:
        """Which of these SHA-256s are content this user already sees (the upload page sends those bodiless)."""
        from workbench.access import uploads
        actor = self._actor()
        visible = policy.visible_media(self._catalog, actor)
        return uploads.known_to(self.library, sha256s, visible.__contains__)

    def upload(self, upload_id: str):
        """One of this user's uploads (``NotFoundError`` for anyone else's)."""
        from workbench.access import uploads
        return uploads.mine(self.library, upload_id, f"user:{self._actor().name}")

    def receive_upload(self, upload_id: str, offset: int):
        """A ``Receiver`` appending to this user's upload from ``offset`` (where its bytes end, else 409)."""
        return self.library.uploads.receiver(self.upload(upload_id), offset)

    def finish_upload(self, upload_id: str, *, background: bool = False):
        """Make a complete upload this user's media (album access checked again: it may have been taken away
        while the bytes were arriving); with ``background``, decided by the library's upload thread (the
        upload's state says how it ended)."""
        from workbench.access import uploads
        actor = self._actor()
        u = uploads.mine(self.library, upload_id, f"user:{actor.name}")
        uploads.check_role(actor, self.library.settings)
        if u.album_id is not None:
            acc = policy.album_access(self._catalog, actor).get(u.album_id)
            if acc is None or policy.ACCESS.index(acc) < policy.ACCESS.index("contribute"):
                self.library.uploads.refuse(u, "you may no longer add to that album")
                raise uploads.UploadRefused("you may no longer add to that album: ask its owner", 403)
        if background:
            return self.library.uploads.finish_later(u, added_by=actor.name)
        return self.library.uploads.finish(u, added_by=actor.name)

    def cancel_upload(self, upload_id: str) -> None:
        """Stop one of this user's uploads; its bytes are deleted."""
        self.library.uploads.cancel(self.upload(upload_id))

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
        self.library = library
        self._share_id = share_id
        self._album_id = album_id

    def __repr__(self) -> str:
        return f"AlbumView(album={self._album_id!r})"

    @property
    def share_id(self) -> str:
        """The link this view was opened through (what the gallery server remembers in its cookie)."""
        return self._share_id

    def _check(self) -> dict:
        return ShareScope.checked(self.library.catalog, self._share_id, self._album_id)[1]

    def scope(self) -> ShareScope:
        """What this link shows now (``AuthError`` once revoked or expired): pass it to any capability as
        ``scope=``. Its media ids (the album's, not the trashed ones) are worked out once, when first needed."""
        return ShareScope.checked(self.library.catalog, self._share_id, self._album_id)[0]

    def _ids(self) -> frozenset[str]:
        return ShareScope(self.library.catalog, self._share_id, self._album_id).ids()

    @property
    def name(self) -> str:
        return self._check()["name"]

    def info(self) -> dict[str, Any]:
        """{"name", "owner", "items", "expires_at"} of the shared album."""
        r = self._check()
        return {"name": r["name"], "owner": r["owner"], "items": len(self._ids()), "expires_at": r["expires_at"]}

    # -- what the capabilities answer within the album --------------------------------------------------------
    get = scoped("media.get")
    thumbnail = scoped("media.thumbnail")
    thumbnails = scoped("media.thumbnails")
    original_path = scoped("media.original_path")
    text = scoped("search.text")

    def media(self, *, kind: str | None = None, sort: str = "date", desc: bool = False,
              limit: int | None = None) -> pd.DataFrame:
        """The album's media in the album's order or by ``sort`` (columns of ``Library.media``, paths cut to file
        names)."""
        scope = self.scope()
        df = scope.keep(self.library.album_media(self._album_id, sort=sort, desc=desc))
        if kind is not None:
            df = df[df["kind"] == kind]
        return scope.redact(df.head(limit) if limit is not None else df)

    def resolve_id(self, id_or_prefix: str) -> str:
        return resolve_among(id_or_prefix, self.scope().ids())

    def original_bytes(self, id_or_prefix: str) -> bytes:
        return self.original_path(id_or_prefix).read_bytes()

    def downloadable(self, ids: Iterable[str]) -> list[str]:
        """The ids among ``ids`` (full ids) that are in the album now, in the given order; others are left out."""
        inside = self.scope().ids()
        return [m for m in dict.fromkeys(str(i) for i in ids) if m in inside]

    # -- uploads into the album, when its manager let the link accept them (off by default) -------------------
    def _upload_check(self) -> dict:
        from workbench.access import uploads
        share = shares.still_live(self.library.catalog, self._share_id)
        uploads.share_accepts(share)
        rows = albums.rows(self.library.catalog, [self._album_id])
        if not rows:
            raise AuthError(shares.NOT_VALID)
        return rows[0]

    @property
    def accepts_uploads(self) -> bool:
        """Whether this link's visitors may upload into the album."""
        return bool(shares.still_live(self.library.catalog, self._share_id).get("accepts_uploads"))

    def begin_upload(self, size_bytes: int, name: str, *, album: str | None = None, sha256: str | None = None):
        """Start an upload into the shared album (owned by the album's owner, counted in their quota)."""
        from workbench.access import uploads
        album_row = self._upload_check()
        owner = users.row(self.library.catalog, album_row["owner"])
        role = owner["role"] if owner else "viewer"
        return uploads.begin(self.library, owner=album_row["owner"], role=role, actor_key=f"share:{self._share_id}",
                             length=size_bytes, name=name, album_id=self._album_id, sha256=sha256,
                             added_by=f"share:{self._share_id}", sees=lambda media_id: media_id in self._ids())

    def known_uploads(self, sha256s: list[str]) -> set[str]:
        """Which of these SHA-256s are already in the shared album (the only content this link sees)."""
        from workbench.access import uploads
        self._upload_check()
        return uploads.known_to(self.library, sha256s, self._ids().__contains__)

    def upload(self, upload_id: str):
        from workbench.access import uploads
        self._check()
        return uploads.mine(self.library, upload_id, f"share:{self._share_id}")

    def receive_upload(self, upload_id: str, offset: int):
        return self.library.uploads.receiver(self.upload(upload_id), offset)

    def finish_upload(self, upload_id: str, *, background: bool = False):
        u = self.upload(upload_id)
        try:
            self._upload_check()
        except Exception as e:
            self.library.uploads.refuse(u, str(e))
            raise
        if background:
            return self.library.uploads.finish_later(u, added_by=f"share:{self._share_id}")
        return self.library.uploads.finish(u, added_by=f"share:{self._share_id}")

    def cancel_upload(self, upload_id: str) -> None:
        self.library.uploads.cancel(self.upload(upload_id))
