"""Login sessions: a random token for the client, only its sha256 in the catalog, an expiry, and throttling of
repeated failures."""
from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

from workbench.access import passwords, throttle, users
from workbench.catalog.filters import Eq, In
from workbench.catalog.store import Catalog
from workbench.catalog.versioned import AtVersions
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


def _locked_message(seconds: float, scope: str) -> str:
    """The same for every name, known or not; an address's own lock says so, since a reset would not lift it."""
    minutes = max(1, math.ceil(seconds / 60))
    wait = f"try again in {minutes} minute{'s' if minutes != 1 else ''}"
    if scope == "client":
        return f"too many failed attempts from this address: {wait}"
    return f"too many failed attempts: {wait} (an admin can reset the password with `workbench users passwd`)"


def login(catalog: Catalog, name: str, password: str, settings, client: str | None = None, *,
          library_root: Path) -> str:
    """A new session token for ``name``. Every refusal is an ``AuthError`` that never says whether the name or the
    password was wrong; unknown names are throttled like known ones, so nobody can list accounts. The lock check,
    the password check and the failure count are one step across processes (``throttle.judge``), counted per
    name, per ``client`` address and per (name, address)."""
    limits = throttle.Limits.from_settings(settings)
    found: dict[str, dict | None] = {}

    def verify() -> bool:
        r = found["row"] = users.row(catalog, name)
        return passwords.verify(r["password_hash"] if r else None, password)

    try:
        ok = throttle.judge(catalog, library_root, limits, throttle.subject("user", str(name)), client, verify)
    except throttle.Locked as e:
        raise AuthError(_locked_message(e.seconds, e.scope)) from None
    except throttle.Busy as e:
        raise AuthError(str(e)) from None
    if not ok:
        raise AuthError(BAD_LOGIN)
    r = found["row"]
    if passwords.needs_rehash(r["password_hash"]):
        users.store_rehash(catalog, r["name"], password)
    return start(catalog, r["name"], settings.session_lifetime_s)


def lift_lock(catalog: Catalog, name: str, settings, *, library_root: Path) -> None:
    """Forget the failed sign-ins of ``name`` from every address (an admin reset the password)."""
    throttle.forget_target(catalog, library_root, throttle.subject("user", str(name)), settings.login_lock_wait_s)


#: Each sign-in is a small commit, and a gallery that stays up (plain ``workbench gallery`` has no upkeep) would
#: collect a fragment per sign-in: after ~600 a session check cost 45 ms of CPU instead of 15 (docs/benchmarks.md,
#: gallery load). Every this many table versions the sign-in compacts the table, as the throttle does its own.
COMPACT_EVERY_VERSIONS = 50


def start(catalog: Catalog, user: str, lifetime_s: float) -> str:
    now = datetime.now(timezone.utc)
    token = new_token()
    before = catalog.version(TABLE)
    catalog.insert_new(TABLE, [{"token_hash": token_hash(token), "user": user, "created_at": now,
                                "expires_at": now + timedelta(seconds=lifetime_s)}], "token_hash")
    prune(catalog, now)
    if catalog.version(TABLE) // COMPACT_EVERY_VERSIONS > before // COMPACT_EVERY_VERSIONS:
        try:
            catalog.compact(only=[TABLE])
        except Exception:               # an optimisation: a compaction that loses a race never fails a sign-in
            pass
    return token


#: Every session (token hash -> user, expiry) as read at one version of the sessions table, per catalog. The
#: gallery checks the session on every request and a view on every call; reading the one row scanned the table
#: each time (~10 ms of CPU, docs/benchmarks.md, gallery load). While the table's version stays the same (a
#: manifest read, ~0.1 ms; a sign-in, sign-out or password change by any process moves it) the rows read at it
#: answer; expiry is checked against the clock at every call.
def _read_sessions(catalog: Catalog) -> dict[str, tuple[str, datetime]]:
    t = catalog.read(TABLE, ["token_hash", "user", "expires_at"])
    return dict(zip(t.column("token_hash").to_pylist(),
                    zip(t.column("user").to_pylist(), t.column("expires_at").to_pylist())))


_sessions_now: AtVersions[dict[str, tuple[str, datetime]]] = AtVersions([TABLE], _read_sessions)


def user_of(catalog: Catalog, hashed: str) -> str:
    """The user a session (given by its token hash) belongs to, if it is still valid."""
    hit = _sessions_now(catalog).get(hashed)
    if hit is None:
        raise AuthError("not logged in, or the session was ended: log in again")
    user, expires_at = hit
    if expires_at <= datetime.now(timezone.utc):
        raise AuthError("the session has expired: log in again")
    if not users.exists(catalog, user):
        raise AuthError("not logged in, or the session was ended: log in again")
    return user


def end(catalog: Catalog, token: str) -> bool:
    """Log out: the token stops working at once. Returns whether it was a live session."""
    where = Eq("token_hash", token_hash(token))
    return bool(catalog.delete_matching(TABLE, where))


def end_all(catalog: Catalog, user: str) -> None:
    """Every session of a user ends (their password changed, or they were removed)."""
    catalog.delete(TABLE, Eq("user", user))


def prune(catalog: Catalog, now: datetime) -> None:
    """Forget expired sessions (they no longer work anyway)."""
    old = [r["token_hash"] for r in catalog.read(TABLE, ["token_hash", "expires_at"]).to_pylist()
           if r["expires_at"] <= now]
    if old:
        catalog.delete(TABLE, In("token_hash", old))
