"""``workbench users``, ``workbench albums`` and ``workbench share``: accounts, albums and share links.

Passwords are read with hidden input (asked twice when set) or, with ``--password-stdin``, as one line from
standard input for scripts; never from a visible command-line argument, which would end up in shell history
and in every user's ``ps`` listing.
"""
from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Iterator, Optional

import typer

from workbench.cli.common import JsonOpt, fail, open_library, print_records
from workbench.cli.output import console, emit_json, ls_record

StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password as one line from standard "
                                                                 "input instead of asking for it.")]


class Role(str, Enum):
    admin = "admin"
    curator = "curator"
    viewer = "viewer"


class MemberRole(str, Enum):
    viewer = "viewer"
    contributor = "contributor"


@contextmanager
def _plain_errors() -> Iterator[None]:
    """Invalid values (a short password, an unknown role) become one-line errors, not tracebacks."""
    try:
        yield
    except (ValueError, TypeError) as e:
        fail(str(e))


def read_password(from_stdin: bool, confirm: bool, prompt: str = "Password") -> str:
    """A password from hidden input (typed twice when ``confirm``) or one line of standard input."""
    if from_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
        if not pw:
            fail("no password on standard input")
        return pw
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_expiry(text: Optional[str]) -> Optional[timedelta | datetime]:
    """``7d``, ``12h``, ``30m``, ``2w`` (from now) or a local date/time like ``2025-06-30`` or
    ``2025-06-30T18:00``; None for no expiry."""
    if not text:
        return None
    m = _DURATION.match(text)
    if m:
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--expires takes a duration like 7d, 12h, 30m or a date like 2025-06-30, not {text!r}")
    return None


# -- users ----------------------------------------------------------------------------------------------------
users_app = typer.Typer(help="Gallery accounts: add, change password or role, remove, list. Roles: admin (everything), "
                             "curator (sees and curates everything), viewer (own media and shared albums).",
                        no_args_is_help=True)


@users_app.command("list")
def users_list(json_out: JsonOpt = False) -> None:
    """List accounts with their roles."""
    print_records(open_library().users().to_dict("records"), json_out=json_out, title="{n} users",
                  columns=["name", "role", "created"],
                  row=lambda r: [r["name"], r["role"], r["created_at"].strftime("%Y-%m-%d %H:%M")])


@users_app.command("add")
def users_add(name: Annotated[str, typer.Argument(help="Login name (also the owner name of their imports).")],
              role: Annotated[Role, typer.Option(help="admin, curator or viewer.")] = Role.viewer,
              password_stdin: StdinOpt = False) -> None:
    """Add an account; the password is asked for (hidden, twice)."""
    lib = open_library()
    password = read_password(password_stdin, confirm=True)
    with _plain_errors():
        lib.add_user(name, password, role.value)
    console.print(f"Added {role.value} {name!r}. Media imported with --owner {name} are theirs.")


@users_app.command("passwd")
def users_passwd(name: Annotated[str, typer.Argument(help="Login name.")], password_stdin: StdinOpt = False) -> None:
    """Set a new password (asked for, hidden); the user's open sessions end."""
    lib = open_library()
    password = read_password(password_stdin, confirm=True, prompt="New password")
    with _plain_errors():
        lib.set_password(name, password)
    console.print(f"Changed the password of {name!r}; their sessions were ended.")


@users_app.command("role")
def users_role(name: Annotated[str, typer.Argument(help="Login name.")],
               role: Annotated[Role, typer.Argument(help="admin, curator or viewer.")]) -> None:
    """Change a user's role (applies at once, also to open sessions)."""
    with _plain_errors():
        open_library().set_role(name, role.value)
    console.print(f"{name!r} is now a {role.value}.")


@users_app.command("rm")
def users_rm(name: Annotated[str, typer.Argument(help="Login name.")],
             yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Remove an account. Their media and albums stay in the library."""
    lib = open_library()
    if not yes and not typer.confirm(f"Remove user {name!r}? Their media and albums stay.", default=False):
        raise typer.Exit(1)
    lib.remove_user(name)
    console.print(f"Removed {name!r}.")


# -- albums ---------------------------------------------------------------------------------------------------
albums_app = typer.Typer(help="Albums: create, add or remove media, members who may see (viewer) or add "
                              "(contributor). Share one with a link: `workbench share`.",
                         invoke_without_command=True)


@albums_app.callback()
def albums_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List albums (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    print_records(open_library().albums().to_dict("records"), json_out=json_out, title="{n} albums",
                  columns=["album", "name", "owner", "items", "created"],
                  row=lambda r: [r["id"], r["name"], r["owner"], r["items"],
                                 r["created_at"].strftime("%Y-%m-%d %H:%M")])


@albums_app.command("create")
def albums_create(name: Annotated[str, typer.Argument(help="Album name.")],
                  owner: Annotated[Optional[str], typer.Option(help="User who owns it (default: your login "
                                                                    "name).")] = None,
                  json_out: JsonOpt = False) -> None:
    """Create an empty album."""
    with _plain_errors():
        album_id = open_library().create_album(name, owner=owner)
    if json_out:
        emit_json({"id": album_id, "name": name})
    else:
        console.print(f"Created album {name!r} ({album_id}).")


@albums_app.command("add")
def albums_add(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
               ids: Annotated[list[str], typer.Argument(help="Media ids or prefixes.")]) -> None:
    """Put media in an album."""
    n = open_library().add_to_album(album, ids)
    console.print(f"Added {n} media ({len(ids) - n} were already in it).")


@albums_app.command("remove")
def albums_remove(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                  ids: Annotated[list[str], typer.Argument(help="Media ids or prefixes.")]) -> None:
    """Take media out of an album (they stay in the library)."""
    n = open_library().remove_from_album(album, ids)
    console.print(f"Removed {n} media from the album.")


@albums_app.command("show")
def albums_show(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                json_out: JsonOpt = False) -> None:
    """List the media in an album."""
    print_records(open_library().album_media(album).to_dict("records"), json_out=json_out, title="{n} media",
                  columns=["id", "kind", "taken", "name"], as_json=ls_record,
                  row=lambda r: [r["id"], r["kind"], "" if r["taken_at"] is None or r["taken_at"] != r["taken_at"]
                                 else str(r["taken_at"])[:16], r["name"]])


@albums_app.command("rename")
def albums_rename(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                  name: Annotated[str, typer.Argument(help="New name.")]) -> None:
    """Rename an album."""
    with _plain_errors():
        open_library().rename_album(album, name)
    console.print(f"Renamed to {name!r}.")


@albums_app.command("delete")
def albums_delete(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                  yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Forget an album, its members and share links. Its media stay in the library."""
    lib = open_library()
    if not yes and not typer.confirm(f"Delete album {album!r}? Its media stay in the library.", default=False):
        raise typer.Exit(1)
    lib.delete_album(album)
    console.print(f"Deleted album {album!r}.")


@albums_app.command("members")
def albums_members(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                   json_out: JsonOpt = False) -> None:
    """Who may see or add to an album besides its owner."""
    print_records(open_library().album_members(album).to_dict("records"), json_out=json_out, title="{n} members",
                  columns=["user", "role"], row=lambda r: [r["user"], r["role"]])


@albums_app.command("member-add")
def albums_member_add(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                      user: Annotated[str, typer.Argument(help="User name.")],
                      role: Annotated[MemberRole, typer.Option(help="viewer (sees it) or contributor (also "
                                                                    "adds media).")] = MemberRole.viewer) -> None:
    """Let a user see (or add to) an album."""
    with _plain_errors():
        open_library().add_member(album, user, role.value)
    console.print(f"{user!r} is now a {role.value} of the album.")


@albums_app.command("member-rm")
def albums_member_rm(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                     user: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Stop sharing an album with a user."""
    open_library().remove_member(album, user)
    console.print(f"{user!r} is no longer a member of the album.")


# -- share links ----------------------------------------------------------------------------------------------
share_app = typer.Typer(help="Share links: anyone holding one sees that album, read-only, without an account.",
                        no_args_is_help=True)


@share_app.command("create")
def share_create(album: Annotated[str, typer.Argument(help="Album id, id prefix or name.")],
                 expires: Annotated[Optional[str], typer.Option(help="When the link stops working: 7d, 12h, 30m, "
                                                                     "2w or a date like 2025-06-30.")] = None,
                 password: Annotated[bool, typer.Option("--password", help="Ask for a password the link will "
                                                                           "need (hidden input).")] = False,
                 accept_uploads: Annotated[bool, typer.Option("--accept-uploads", help="Let the link's visitors "
                                                              "upload into the album (off unless given).")] = False,
                 password_stdin: StdinOpt = False, json_out: JsonOpt = False) -> None:
    """Make a share link for an album and print its token (shown once: only a hash is kept)."""
    lib = open_library()
    pw = read_password(password_stdin, confirm=True, prompt="Link password") if (password or password_stdin) \
        else None
    with _plain_errors():
        token = lib.share_album(album, expires=parse_expiry(expires), password=pw)
        if accept_uploads:
            lib.set_share_uploads(token)
    row = lib.shares(album).iloc[0]
    if json_out:
        emit_json({"token": token, "share_id": row["share_id"], "album_id": row["album_id"],
                   "expires_at": row["expires_at"], "has_password": bool(row["has_password"])})
        return
    console.print(f"Share link token (keep it: it cannot be shown again):\n{token}", highlight=False)
    console.print(f"share id {row['share_id']}" + (f", expires {row['expires_at']}" if row["expires_at"] is not None
                                                  and row["expires_at"] == row["expires_at"] else "")
                  + (", needs a password" if pw else "") + f". Revoke with `workbench share revoke {row['share_id']}`.",
                  highlight=False)


@share_app.command("list")
def share_list(album: Annotated[Optional[str], typer.Argument(help="Only this album.")] = None,
               json_out: JsonOpt = False) -> None:
    """List share links (tokens cannot be listed; use the share id to revoke)."""
    def when(v) -> str:
        return "" if v is None or v != v else str(v)[:16]
    print_records(open_library().shares(album).to_dict("records"), json_out=json_out, title="{n} share links",
                  columns=["share", "album", "created", "expires", "password", "uploads", "state"],
                  row=lambda r: [r["share_id"], r["album_id"], when(r["created_at"]), when(r["expires_at"]),
                                 "yes" if r["has_password"] else "", "yes" if r.get("accepts_uploads") else "",
                                 "active" if r["active"] else
                                 ("revoked" if when(r["revoked_at"]) else "expired")])


@share_app.command("uploads")
def share_uploads(share: Annotated[str, typer.Argument(help="Share id (see `workbench share list`) or the token.")],
                  on: Annotated[bool, typer.Option("--on/--off", help="Accept uploads through this link, or stop.")]
                  = True) -> None:
    """Let a share link's visitors upload into its album (/upload?share=TOKEN; their media belong to the album's
    owner), or stop them. Links accept no uploads until this is turned on."""
    with _plain_errors():
        open_library().set_share_uploads(share, on)
    console.print("The link now accepts uploads into its album." if on else "The link no longer accepts uploads.")


@share_app.command("revoke")
def share_revoke(share: Annotated[str, typer.Argument(help="Share id (see `workbench share list`) or the "
                                                           "token.")]) -> None:
    """Stop a share link at once."""
    open_library().revoke_share(share)
    console.print("Revoked: the link no longer opens the album.")
