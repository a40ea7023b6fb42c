"""Login sessions: a random token for the client, only its sha256 in the catalog, an expiry, and throttling of
repeated failures."""
from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta, timezone

from workbench.access import passwords, throttle, users
from workbench.catalog.store import Catalog, sql_quote
from workbench.errors import AuthError

TABLE = "sessions"
# 32 random bytes: 256 bits, far beyond guessing; URL-safe so it fits a cookie or a link.
TOKEN_BYTES = 32
BAD_LOGIN = "wrong user name or password"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored instead of a token. A plain sha256 suffices: tokens are random, not guessable words."""
    return hashlib.sha256(str(token).encode()).hexdigest()


def _locked_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (f"too many failed attempts: try again in {minutes} minute{'s' if minutes != 1 else ''} "
            f"(an admin can reset the password with `workbench users passwd`)")


def login(catalog: Catalog, name: str, password: str, settings, client: str | None = None) -> str:
    """A new session token for ``name``. Every refusal is an ``AuthError`` that never says whether the name or the
    password was wrong; unknown names are throttled like known ones, so nobody can list accounts."""
    limits = throttle.Limits.from_settings(settings)
    subjects = [throttle.subject("user", str(name))] + ([throttle.subject("client", client)] if client else [])
    left = throttle.seconds_locked(catalog, subjects, limits)
    if left > 0:
        raise AuthError(_locked_message(left))
    r = users.row(catalog, name)
    if not passwords.verify(r["password_hash"] if r else None, password):
        throttle.record_failure(catalog, subjects, limits)
        raise AuthError(BAD_LOGIN)
    throttle.clear(catalog, subjects[:1])
    if passwords.needs_rehash(r["password_hash"]):
        users.store_rehash(catalog, r["name"], password)
    return start(catalog, r["name"], settings.session_lifetime_s)


def start(catalog: Catalog, user: str, lifetime_s: float) -> str:
    now = datetime.now(timezone.utc)
    token = new_token()
    catalog.insert_new(TABLE, [{"token_hash": token_hash(token), "user": user, "created_at": now,
                                "expires_at": now + timedelta(seconds=lifetime_s)}], "token_hash")
    prune(catalog, now)
    return token


def user_of(catalog: Catalog, hashed: str) -> str:
    """The user a session (given by its token hash) belongs to, if it is still valid."""
    rows = catalog.read(TABLE, ["user", "expires_at"], f"token_hash = {sql_quote(hashed)}").to_pylist()
    if not rows:
        raise AuthError("not logged in, or the session was ended: log in again")
    if rows[0]["expires_at"] <= datetime.now(timezone.utc):
        raise AuthError("the session has expired: log in again")
    if users.row(catalog, rows[0]["user"]) is None:
        raise AuthError("not logged in, or the session was ended: log in again")
    return rows[0]["user"]


def end(catalog: Catalog, token: str) -> bool:
    """Log out: the token stops working at once. Returns whether it was a live session."""
    where = f"token_hash = {sql_quote(token_hash(token))}"
    return bool(catalog.delete_matching(TABLE, where))


def end_all(catalog: Catalog, user: str) -> None:
    """Every session of a user ends (their password changed, or they were removed)."""
    catalog.delete(TABLE, f"user = {sql_quote(user)}")


def prune(catalog: Catalog, now: datetime) -> None:
    """Forget expired sessions (they no longer work anyway)."""
    old = [r["token_hash"] for r in catalog.read(TABLE, ["token_hash", "expires_at"]).to_pylist()
           if r["expires_at"] <= now]
    if old:
        from workbench.catalog.store import sql_in
        catalog.delete(TABLE, sql_in("token_hash", old))
