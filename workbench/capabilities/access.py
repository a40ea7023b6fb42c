"""``lib.access``: accounts, sessions and share links, and the views (``UserView``, ``AlbumView``) through which the
gallery acts as one user or one link (``access/views.py`` checks every read and write there).

Account and link changes take the library's write lock. Signing in and out do not: the gallery's server signs
visitors in on its event loop, and the password checks are already one step across processes under their own
locks (``.auth-locks/``, docs/access.md); waiting there for a processing chunk would stall every page."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from workbench.capabilities.context import Capability


class Access(Capability):
    """``lib.access``: ``users``, ``add_user``, ``login``, ``for_session``, ``share_album``, ``for_share``, ..."""

    # -- users and sessions (passwords are only ever hashed with argon2id) ------------------------------------
    def users(self) -> pd.DataFrame:
        """Accounts: [name, role, created_at, updated_at] (never a password hash)."""
        from workbench.access import users
        return users.frame(self.catalog)

    def add_user(self, name: str, password: str, role: str = "viewer") -> None:
        """A new account: ``role`` is admin, curator or viewer. Media whose owner is ``name`` are theirs."""
        from workbench.access import users
        with self.lock:
            users.add(self.catalog, name, password, role, self.settings.password_min_length)

    def set_password(self, name: str, password: str) -> None:
        """Change a password; the user's open sessions end (log in again everywhere) and any sign-in lock on the
        name is lifted (an admin reset is how a locked-out owner gets back in)."""
        from workbench.access import sessions, users
        with self.lock:
            users.set_password(self.catalog, name, password, self.settings.password_min_length)
            sessions.end_all(self.catalog, name)
        sessions.lift_lock(self.catalog, name, self.settings, library_root=self.root)

    def set_role(self, name: str, role: str) -> None:
        """Make a user admin, curator or viewer; applies at once, also to open sessions."""
        from workbench.access import users
        with self.lock:
            users.set_role(self.catalog, name, role)

    def remove_user(self, name: str) -> None:
        """Remove an account: its sessions and album memberships end. Their media and albums stay."""
        from workbench.access import albums, favourites, sessions, users
        with self.lock:
            users.remove(self.catalog, name)
            sessions.end_all(self.catalog, name)
            albums.forget_user(self.catalog, name)
            favourites.forget_user(self.catalog, name)

    def login(self, name: str, password: str, *, client: str | None = None) -> str:
        """A session token for the gallery. Raises ``AuthError`` on a wrong name or password (without saying
        which) and while throttled: failures count per (name, ``client`` address), per address over all names
        and per name over all addresses (``login_*`` settings), atomically across processes. Pass the
        visitor's address as ``client``; callers without one share a single bucket."""
        from workbench.access import sessions
        return sessions.login(self.catalog, name, password, self.settings, client, library_root=self.root)

    def logout(self, token: str) -> None:
        """End a session: the token stops working at once."""
        from workbench.access import sessions
        sessions.end(self.catalog, token)

    def session_user(self, token_hash: str) -> str:
        """The user of a live session given by its token's sha256; ``AuthError`` if ended or expired."""
        from workbench.access import sessions
        return sessions.user_of(self.catalog, token_hash)

    # -- the views apps act through -------------------------------------------------------------------------
    def for_session(self, token: str):
        """A ``UserView`` acting as the session's user; raises ``AuthError`` if the session is unknown, ended or
        expired (checked again on every call of the view)."""
        from workbench.access import sessions
        from workbench.access.views import UserView
        hashed = sessions.token_hash(token)
        return UserView(self.lib, sessions.user_of(self.catalog, hashed), hashed)

    def for_user(self, name: str):
        """A ``UserView`` acting as ``name`` (for notebooks and tests; the gallery uses ``for_session``)."""
        from workbench.access import users
        from workbench.access.views import UserView
        return UserView(self.lib, users.require(self.catalog, name)["name"])

    def for_session_hash(self, token_hash: str):
        """Like ``for_session``, from the token's sha256 (all a gallery kernel is told by its server)."""
        from workbench.access.views import UserView
        return UserView(self.lib, self.session_user(token_hash), token_hash)

    def for_share(self, token: str, password: str | None = None, *, client: str | None = None):
        """What a share link shows: an ``AlbumView`` of its one album, read-only. Raises ``AuthError`` for an
        unknown, expired or revoked token and a missing or wrong password (wrong passwords are throttled per
        link, per ``client`` address and per both; see ``login``)."""
        from workbench.access import shares
        from workbench.access.views import AlbumView
        r = shares.open_link(self.catalog, token, password, self.settings, client, library_root=self.root)
        return AlbumView(self.lib, r["share_id"], r["album_id"])

    def for_share_id(self, share_id: str):
        """The ``AlbumView`` of a link the gallery server has already opened (its password checked there)."""
        from workbench.access import shares
        from workbench.access.views import AlbumView
        return AlbumView(self.lib, share_id, shares.still_live(self.catalog, share_id)["album_id"])

    def for_actor(self, actor: str):
        """The view a gallery kernel acts through: ``session:<sha256>`` or ``share:<share id>``."""
        kind, _, value = str(actor).partition(":")
        if kind == "session" and value:
            return self.for_session_hash(value)
        if kind == "share" and value:
            return self.for_share_id(value)
        from workbench.errors import AuthError
        raise AuthError("not signed in: sign in first")

    # -- share links ----------------------------------------------------------------------------------------
    def share_album(self, album: str, *, expires: datetime | timedelta | float | None = None,
                    password: str | None = None, created_by: str | None = None) -> str:
        """A link token showing this album read-only to anyone holding it (and ``password``, if given), until
        ``expires`` (a datetime, a timedelta or seconds) or until revoked. Only its hash is stored: keep it."""
        from workbench.access import albums, shares
        row = albums.resolve(self.catalog, album)
        with self.lock:
            return shares.create(self.catalog, row["album_id"], created_by, shares.expiry(expires), password,
                                 self.settings.password_min_length)

    def set_share_uploads(self, share: str, accepts: bool = True) -> None:
        """Let a share link's visitors upload into its album (their media belong to the album's owner), or stop
        them. Links do not accept uploads until this is called."""
        from workbench.access import shares, uploads
        share_id = shares.find(self.catalog, share)["share_id"]
        with self.lock:
            uploads.set_share_uploads(self.catalog, share_id, accepts)

    def shares(self, album: str | None = None) -> pd.DataFrame:
        """Share links (of one album, or all): [share_id, album_id, created_by, created_at, expires_at,
        revoked_at, has_password, accepts_uploads, active]. Tokens cannot be listed: only their hashes are kept."""
        from workbench.access import albums, shares
        ids = None if album is None else [albums.resolve(self.catalog, album)["album_id"]]
        return shares.frame(self.catalog, ids)

    def revoke_share(self, share: str) -> None:
        """Stop a share link (by its share id or the token) at once, also for pages already open."""
        from workbench.access import shares
        share_id = shares.find(self.catalog, share)["share_id"]
        with self.lock:
            shares.revoke(self.catalog, share_id)

    def share_link_status(self, token: str) -> dict[str, Any]:
        """{"share_id", "needs_password"} of a live link, without checking any password; ``AuthError`` for an
        unknown, expired or revoked one."""
        from workbench.access import shares
        r = shares.live_by_token(self.catalog, token)
        return {"share_id": r["share_id"], "needs_password": r["password_hash"] is not None}

    def share_still_live(self, share_id: str) -> None:
        """``AuthError`` unless the link is live (not revoked, not expired)."""
        from workbench.access import shares
        shares.still_live(self.catalog, share_id)

    def access_mark(self) -> tuple:
        """One cheap value (~1 ms: table versions, no rows read) that changes whenever any view's answer about
        who sees what could change: sessions, accounts, share links and the tables visibility is computed from.
        While it stays the same a server may reuse a view's answer (the gallery's first screen does, for its
        thumbnails); sessions and links that run out by the clock are not in it."""
        from workbench.access import policy, sessions, shares, users
        return tuple(self.catalog.version(name)
                     for name in (sessions.TABLE, users.TABLE, shares.TABLE, *policy.VISIBILITY_TABLES))
