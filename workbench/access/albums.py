"""Albums: named sets of media with an owner and members. Plain catalog operations; who may call them is decided
in ``policy`` and ``views``, so these functions trust their caller."""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timezone

import pandas as pd

from workbench.catalog.filters import Eq, In
from workbench.catalog.store import Catalog
from workbench.errors import NotFoundError

ALBUMS, ITEMS, MEMBERS = "albums", "album_items", "album_members"
MEMBER_ROLES = ("viewer", "contributor")
ALBUM_COLUMNS = ["id", "name", "owner", "items", "created_at"]
MAX_NAME_CHARS = 200


def _now() -> datetime:
    return datetime.now(timezone.utc)


def clean_name(name: str) -> str:
    """An album name with surrounding blanks removed; refuses empty and overlong names."""
    n = " ".join(str(name).split())
    if not n:
        raise ValueError("an album needs a name")
    if len(n) > MAX_NAME_CHARS:
        raise ValueError(f"an album name has at most {MAX_NAME_CHARS} characters")
    return n


def create(catalog: Catalog, name: str, owner: str) -> str:
    """A new empty album; returns its id (names need not be unique: two people may both have "Holiday")."""
    album_id = secrets.token_hex(8)
    now = _now()
    catalog.insert_new(ALBUMS, [{"album_id": album_id, "name": clean_name(name), "owner": owner,
                                 "created_at": now, "updated_at": now}], "album_id")
    return album_id


def rows(catalog: Catalog, album_ids: Iterable[str] | None = None) -> list[dict]:
    """Album rows (all, or these ids)."""
    where = None if album_ids is None else In("album_id", album_ids)
    return catalog.read(ALBUMS, None, where).to_pylist()


def resolve(catalog: Catalog, album: str, among: set[str] | None = None) -> dict:
    """An album row from its id, a unique id prefix (4+ hex digits) or its name (case-insensitive), looking only
    at albums in ``among`` when given: an album outside it is reported exactly like one that does not exist."""
    a = str(album).strip()
    candidates = [r for r in rows(catalog) if among is None or r["album_id"] in among]
    for match in ([r for r in candidates if r["album_id"] == a.lower()],
                  [r for r in candidates if r["name"].lower() == a.lower()],
                  [r for r in candidates if len(a) >= 4 and r["album_id"].startswith(a.lower())]):
        if len(match) == 1:
            return match[0]
        if len(match) > 1:
            listing = ", ".join(f"{r['album_id']} (owner {r['owner']})" for r in match)
            raise NotFoundError(f"{album!r} matches {len(match)} albums: {listing}; use the album id")
    raise NotFoundError(f"no album {album!r}: see `workbench albums`")


def item_ids(catalog: Catalog, album_id: str) -> list[str]:
    """Media ids in an album, in the order they were added."""
    t = catalog.read(ITEMS, ["media_id", "added_at"], Eq("album_id", album_id)).to_pandas()
    return t.sort_values("added_at", kind="stable")["media_id"].tolist()


def items(catalog: Catalog, album_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """[album_id, media_id, added_by, added_at] of these albums (or all)."""
    where = None if album_ids is None else In("album_id", album_ids)
    return catalog.read(ITEMS, ["album_id", "media_id", "added_by", "added_at"], where).to_pandas()


def add_items(catalog: Catalog, album_id: str, media_ids: Iterable[str], added_by: str | None) -> int:
    """Put media in an album; returns how many were not in it yet."""
    now = _now()
    recs = [{"key": f"{album_id}\0{m}", "album_id": album_id, "media_id": m, "added_by": added_by, "added_at": now}
            for m in dict.fromkeys(media_ids)]
    n = catalog.insert_new(ITEMS, recs, "key") if recs else 0
    if n:
        catalog.update(ALBUMS, Eq("album_id", album_id), {"updated_at": now})
    return n


def remove_items(catalog: Catalog, album_id: str, media_ids: Iterable[str]) -> int:
    """Take media out of an album (the media themselves stay); returns how many were in it."""
    keys = [f"{album_id}\0{m}" for m in dict.fromkeys(media_ids)]
    if not keys:
        return 0
    n = catalog.delete_matching(ITEMS, In("key", keys))
    if n:
        catalog.update(ALBUMS, Eq("album_id", album_id), {"updated_at": _now()})
    return n


def positions(catalog: Catalog, album_id: str) -> dict[str, float]:
    """media id -> its place in the album's own order, for the items its managers have arranged."""
    t = catalog.read(ITEMS, ["media_id", "position"], Eq("album_id", album_id)).to_pylist()
    return {r["media_id"]: r["position"] for r in t if r["position"] is not None}


def set_order(catalog: Catalog, album_id: str, media_ids: Iterable[str]) -> int:
    """Arrange an album: ``media_ids`` (items of the album) come first, in this order; every other item loses its
    place and follows, newest first. Returns how many items were placed. One merge: repeating it is harmless."""
    order = list(dict.fromkeys(media_ids))
    current = catalog.read(ITEMS, None, Eq("album_id", album_id)).to_pylist()
    place = {m: float(i) for i, m in enumerate(order)}
    rows = [{**r, "position": place.get(r["media_id"])} for r in current
            if r["media_id"] in place or r["position"] is not None]
    if rows:
        catalog.upsert(ITEMS, rows, "key")
        catalog.update(ALBUMS, Eq("album_id", album_id), {"updated_at": _now()})
    return sum(1 for r in current if r["media_id"] in place)


def set_cover(catalog: Catalog, album_id: str, media_id: str | None) -> None:
    """The album's cover (None: the newest photo again)."""
    catalog.update(ALBUMS, Eq("album_id", album_id), {"cover_media_id": media_id, "updated_at": _now()})


def rename(catalog: Catalog, album_id: str, name: str) -> None:
    catalog.update(ALBUMS, Eq("album_id", album_id), {"name": clean_name(name), "updated_at": _now()})


def delete(catalog: Catalog, album_id: str) -> None:
    """Forget an album, its members and its share links. Its media are not touched."""
    where = Eq("album_id", album_id)
    for table in (ITEMS, MEMBERS, "shares", ALBUMS):
        catalog.delete(table, where)


def members(catalog: Catalog, album_id: str | None = None) -> pd.DataFrame:
    """[album_id, user, role, added_at] of one album's members (or every album's)."""
    where = None if album_id is None else Eq("album_id", album_id)
    df = catalog.read(MEMBERS, ["album_id", "user", "role", "added_at"], where).to_pandas()
    return df.sort_values(["album_id", "user"]).reset_index(drop=True)


def set_member(catalog: Catalog, album_id: str, user: str, role: str) -> None:
    """Make ``user`` a viewer or contributor of an album (replacing an earlier role)."""
    if role not in MEMBER_ROLES:
        raise ValueError(f"an album member is a {' or a '.join(MEMBER_ROLES)}, not {role!r}")
    catalog.upsert(MEMBERS, [{"key": f"{album_id}\0{user}", "album_id": album_id, "user": user, "role": role,
                              "added_at": _now()}], "key")


def cannot_add(user: str, album_name: str) -> str:
    """The one answer for every name that cannot become a member, whether or not an account has that name, so
    a gallery user cannot learn which names exist by trying them."""
    return (f"{user!r} cannot be added to album {album_name!r}: check the exact user name with that person "
            f"(the album's owner always sees it and is not added as a member)")


def add_member(catalog: Catalog, album: dict, user: str, role: str) -> None:
    """Make ``user`` a member of ``album`` (a row from ``resolve``) for someone who manages it through a view.
    An unknown name and a name that cannot be a member (the album's owner) get the same ``NotFoundError``;
    the admin's ``Library.add_member`` says "no user named" instead (admins list accounts anyway)."""
    from workbench.access import users
    if role not in MEMBER_ROLES:
        raise ValueError(f"an album member is a {' or a '.join(MEMBER_ROLES)}, not {role!r}")
    r = users.row(catalog, user)
    if r is None or r["name"] == album["owner"]:
        raise NotFoundError(cannot_add(str(user), album["name"]))
    set_member(catalog, album["album_id"], r["name"], role)


def remove_member(catalog: Catalog, album_id: str, user: str) -> bool:
    where = Eq("key", f"{album_id}\0{user}")
    return bool(catalog.delete_matching(MEMBERS, where))


def forget_user(catalog: Catalog, user: str) -> None:
    """A removed user stops being a member anywhere (albums they own stay, for an admin to hand on)."""
    catalog.delete(MEMBERS, Eq("user", user))


def frame(catalog: Catalog, album_ids: Iterable[str] | None, hidden_media: set[str]) -> pd.DataFrame:
    """[id, name, owner, items, created_at] of these albums (or all), newest first. ``items`` leaves out
    ``hidden_media`` (the trash), so it matches what ``album_media`` shows."""
    recs = rows(catalog, album_ids)
    if not recs:
        return pd.DataFrame(columns=ALBUM_COLUMNS)
    it = items(catalog, [r["album_id"] for r in recs])
    it = it[~it["media_id"].isin(hidden_media)]
    counts = it.groupby("album_id").size().to_dict()
    df = pd.DataFrame([{"id": r["album_id"], "name": r["name"], "owner": r["owner"],
                        "items": int(counts.get(r["album_id"], 0)), "created_at": r["created_at"]} for r in recs],
                      columns=ALBUM_COLUMNS)
    return df.sort_values(["created_at", "id"], ascending=[False, True]).reset_index(drop=True)
