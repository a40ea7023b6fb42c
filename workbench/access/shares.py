"""Share links: a 256-bit random token that opens one album read-only without an account. Only the token's
sha256 is stored; a link may expire, need a password (argon2id) and be revoked."""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from workbench.access import passwords, throttle
from workbench.access.sessions import new_token, token_hash
from workbench.catalog.filters import Eq, Filter, In, IsNull
from workbench.catalog.store import Catalog
from workbench.errors import AuthError, NotFoundError, PasswordRequired

TABLE = "shares"
SHARE_COLUMNS = ["share_id", "album_id", "created_by", "created_at", "expires_at", "revoked_at", "has_password",
                 "accepts_uploads", "active"]
NOT_VALID = "this share link is not valid: ask whoever sent it for a new one"


def expiry(expires: datetime | timedelta | float | int | None, now: datetime | None = None) -> datetime | None:
    """When a link stops working: a moment (naive ones are local time), a duration from now, seconds from now,
    or None (never)."""
    now = now or datetime.now(timezone.utc)
    if expires is None:
        return None
    if isinstance(expires, timedelta):
        at = now + expires
    elif isinstance(expires, (int, float)) and not isinstance(expires, bool):
        at = now + timedelta(seconds=float(expires))
    elif isinstance(expires, datetime):
        at = (expires if expires.tzinfo else expires.astimezone()).astimezone(timezone.utc)
    else:
        raise TypeError("expires is a datetime, a timedelta, a number of seconds or None")
    if at <= now:
        raise ValueError("a share link's expiry must be in the future")
    return at


def create(catalog: Catalog, album_id: str, created_by: str | None, expires_at: datetime | None,
           password: str | None, min_length: int) -> str:
    """A new link to an album; returns the token (shown once: it cannot be recovered from the catalog)."""
    pw_hash = None
    if password is not None:
        pw_hash = passwords.hash_password(passwords.check_acceptable(password, min_length))
    token = new_token()
    catalog.insert_new(TABLE, [{"share_id": secrets.token_hex(8), "album_id": album_id,
                                "token_hash": token_hash(token), "password_hash": pw_hash, "expires_at": expires_at,
                                "revoked_at": None, "created_by": created_by,
                                "created_at": datetime.now(timezone.utc)}], "share_id")
    return token


def _row(catalog: Catalog, where: Filter) -> dict | None:
    r = catalog.read(TABLE, None, where).to_pylist()
    return r[0] if r else None


def _check_live(r: dict | None) -> dict:
    if r is None:
        raise AuthError(NOT_VALID)
    if r["revoked_at"] is not None:
        raise AuthError("this share link was revoked by the album's owner")
    if r["expires_at"] is not None and r["expires_at"] <= datetime.now(timezone.utc):
        raise AuthError("this share link has expired: ask whoever sent it for a new one")
    return r


def _locked(seconds: float, scope: str | None) -> PasswordRequired:
    minutes = max(1, math.ceil(seconds / 60))
    where = "from this address" if scope == "client" else "for this link"
    return PasswordRequired(f"too many wrong passwords {where}: try again in {minutes} "
                            f"minute{'s' if minutes != 1 else ''}")


def open_link(catalog: Catalog, token: str, password: str | None, settings, client: str | None = None, *,
              library_root: Path) -> dict:
    """The share row for a token, after checking it is live and, if it has one, its password. Wrong passwords
    are throttled like sign-ins (``throttle.judge``: one step across processes, counted per link, per ``client``
    address and per (link, address))."""
    if not isinstance(token, str) or not token:
        raise AuthError(NOT_VALID)
    r = _check_live(_row(catalog, Eq("token_hash", token_hash(token))))
    if r["password_hash"] is not None:
        limits = throttle.Limits.from_settings(settings)
        target = throttle.subject("share", r["share_id"])
        if password is None:
            left, scope = throttle.lock_state(catalog, throttle.counters(target, client, limits), limits)
            raise _locked(left, scope) if left > 0 else PasswordRequired("this share link needs a password")
        try:
            ok = throttle.judge(catalog, library_root, limits, target, client,
                                lambda: passwords.verify(r["password_hash"], password))
        except throttle.Locked as e:
            raise _locked(e.seconds, e.scope) from None
        except throttle.Busy as e:
            raise PasswordRequired(str(e)) from None
        if not ok:
            raise PasswordRequired("wrong password for this share link")
    return r


def still_live(catalog: Catalog, share_id: str) -> dict:
    """Re-check an opened link before each use, so revoking or expiry takes effect on open pages too."""
    return _check_live(_row(catalog, Eq("share_id", share_id)))


def find(catalog: Catalog, share: str) -> dict:
    """A share row from its id (see ``frame``) or from the token itself."""
    s = str(share).strip()
    r = _row(catalog, Eq("share_id", s.lower())) or _row(catalog, Eq("token_hash", token_hash(s)))
    if r is None:
        raise NotFoundError("no such share link (give a share id from `workbench share list`, or the token)")
    return r


def revoke(catalog: Catalog, share_id: str) -> None:
    catalog.update(TABLE, Eq("share_id", share_id) & IsNull("revoked_at"),
                   {"revoked_at": datetime.now(timezone.utc)})


def frame(catalog: Catalog, album_ids: list[str] | None = None) -> pd.DataFrame:
    """Links of these albums (or all): never the token or a hash, only whether a password is needed."""
    where = None if album_ids is None else In("album_id", album_ids)
    rows = catalog.read(TABLE, ["share_id", "album_id", "created_by", "created_at", "expires_at", "revoked_at",
                                "password_hash", "accepts_uploads"], where).to_pylist()
    now = datetime.now(timezone.utc)
    recs = [{**{k: r[k] for k in SHARE_COLUMNS[:6]}, "has_password": r["password_hash"] is not None,
             "accepts_uploads": bool(r["accepts_uploads"]),
             "active": r["revoked_at"] is None and (r["expires_at"] is None or r["expires_at"] > now)} for r in rows]
    df = pd.DataFrame(recs, columns=SHARE_COLUMNS)
    return df.sort_values(["created_at", "share_id"], ascending=[False, True]).reset_index(drop=True)


def live_by_token(catalog: Catalog, token: str) -> dict:
    """The live share row of a token, its password not checked (the gallery server asks for it on a page of
    its own, through ``open_link``)."""
    if not isinstance(token, str) or not token:
        raise AuthError(NOT_VALID)
    return _check_live(_row(catalog, Eq("token_hash", token_hash(token))))
