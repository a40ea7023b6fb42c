"""``lib.albums``: albums as the library's owner (an admin) sees them: every album, its media, order, cover and
members. Users act on albums through their view (``access/views.py``), which checks what they may do. Every write
here takes the library's write lock."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from workbench.capabilities.context import Capability
from workbench.catalog.queries import MediaFilter, list_media
from workbench.errors import NotFoundError


class Albums(Capability):
    """``lib.albums()`` lists albums; ``create``, ``add``, ``remove``, ``media``, ``arrange``, ``members``, ..."""

    def __call__(self) -> pd.DataFrame:
        """Every album: [id, name, owner, items, created_at], newest first (``items`` leaves out the trash)."""
        from workbench.access import albums
        return albums.frame(self.catalog, None, self.lib.trash.ids())

    def _id(self, album: str) -> str:
        from workbench.access import albums
        return albums.resolve(self.catalog, album)["album_id"]

    def create(self, name: str, *, owner: str | None = None) -> str:
        """A new empty album owned by ``owner`` (default: your login name, as for import); returns its id."""
        from workbench.access import albums
        from workbench.ingest.importer import default_owner
        with self.lock:
            return albums.create(self.catalog, name, owner or default_owner())

    def add(self, album: str, ids: Iterable[str], *, user: str | None = None) -> int:
        """Put media (ids or prefixes) in an album (id, id prefix or name); returns how many were new to it."""
        from workbench.access import albums
        album_id = self._id(album)
        with self.lock:
            return albums.add_items(self.catalog, album_id, self.lib.media.resolve_ids(ids), user)

    def remove(self, album: str, ids: Iterable[str]) -> int:
        """Take media out of an album (they stay in the library); returns how many were in it."""
        from workbench.access import albums
        album_id = self._id(album)
        with self.lock:
            return albums.remove_items(self.catalog, album_id, self.lib.media.resolve_ids(ids))

    def media(self, album: str, *, sort: str = "date", desc: bool = False,
              limit: int | None = None) -> pd.DataFrame:
        """The media in an album, with the columns of ``media()``; trashed media are left out. ``sort="album"`` is
        the album's own order: the media its managers arranged (``arrange_album``) first, the rest newest first."""
        from workbench.access import albums
        album_id = self._id(album)
        ids = set(albums.item_ids(self.catalog, album_id)) - self.lib.trash.ids()
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

    def arrange(self, album: str, ids: Iterable[str]) -> int:
        """Put an album's media in this order (the rest follow, newest first); returns how many were placed."""
        from workbench.access import albums
        album_id = self._id(album)
        with self.lock:
            return albums.set_order(self.catalog, album_id, self.lib.media.resolve_ids(ids))

    def set_cover(self, album: str, id_or_prefix: str | None) -> None:
        """Choose the photo an album's card shows (None: its first photo again)."""
        from workbench.access import albums
        album_id = self._id(album)
        with self.lock:
            albums.set_cover(self.catalog, album_id, None if id_or_prefix is None else self.lib.resolve_id(id_or_prefix))

    def rename(self, album: str, name: str) -> None:
        """Give an album another name."""
        from workbench.access import albums
        album_id = self._id(album)
        with self.lock:
            albums.rename(self.catalog, album_id, name)

    def delete(self, album: str) -> None:
        """Forget an album with its members and share links; its media stay in the library untouched."""
        from workbench.access import albums
        album_id = self._id(album)
        with self.lock:
            albums.delete(self.catalog, album_id)

    def members(self, album: str) -> pd.DataFrame:
        """[user, role, added_at] of an album's members (its owner is not listed: they always see it)."""
        from workbench.access import albums
        return albums.members(self.catalog, self._id(album))[["user", "role", "added_at"]]

    def add_member(self, album: str, user: str, role: str = "viewer") -> None:
        """Let a user see an album (``viewer``) or also add media to it (``contributor``)."""
        from workbench.access import albums, users
        album_id = self._id(album)
        users.require(self.catalog, user)
        with self.lock:
            albums.set_member(self.catalog, album_id, user, role)

    def remove_member(self, album: str, user: str) -> None:
        """The user no longer sees the album (unless it holds media they own)."""
        from workbench.access import albums
        row = albums.resolve(self.catalog, album)
        with self.lock:
            if not albums.remove_member(self.catalog, row["album_id"], user):
                raise NotFoundError(f"{user!r} is not a member of album {row['name']!r}")
