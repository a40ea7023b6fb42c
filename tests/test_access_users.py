"""Accounts, login and sessions: argon2id hashes, expiry, logout, throttling, and passwords that never leak."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from factory import jpeg
from workbench import Library
from workbench.errors import AuthError, NotFoundError, WorkbenchError

ALICE_PW = "alice-Secret-9137"
BOB_PW = "bob-Hidden-5521"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("access_users")
    lib = Library.create(root / "lib")
    lib.import_files([jpeg(root / "in" / "a.jpg")], owner="alice", progress=False)
    lib.add_user("alice", ALICE_PW, "viewer")
    lib.add_user("bob", BOB_PW, "curator")
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def quick_limits(lib: Library, failures: int = 3, lockout_s: float = 60.0, client_failures: int = 10,
                 account_failures: int = 20) -> None:
    lib.settings.login_max_failures = failures
    lib.settings.login_client_max_failures = client_failures
    lib.settings.login_account_max_failures = account_failures
    lib.settings.login_failure_window_s = 60.0
    lib.settings.login_lockout_s = lockout_s


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# -- accounts -------------------------------------------------------------------------------------------------
def test_users_lists_names_and_roles_but_no_hash(lib):
    df = lib.users()
    assert list(df["name"]) == ["alice", "bob"] and list(df["role"]) == ["viewer", "curator"]
    assert not any("hash" in c or "password" in c for c in df.columns)


def test_the_stored_hash_is_argon2id(lib):
    row = lib.catalog.read("users", ["password_hash"], "name = 'alice'").to_pylist()[0]
    assert row["password_hash"].startswith("$argon2id$")


def test_a_duplicate_user_name_is_refused(lib):
    with pytest.raises(ValueError, match="already a user named 'alice'"):
        lib.add_user("alice", "another-password", "viewer")


def test_an_unknown_role_is_refused(lib):
    with pytest.raises(ValueError, match="admin, curator, viewer"):
        lib.add_user("carol", "long-enough-pw", "superuser")


def test_a_short_password_is_refused_without_quoting_it(lib):
    with pytest.raises(ValueError) as e:
        lib.add_user("carol", "abc12", "viewer")
    assert "at least 8 characters" in str(e.value) and "abc12" not in str(e.value)


def test_a_user_name_with_spaces_or_quotes_is_refused(lib):
    with pytest.raises(ValueError, match="user name"):
        lib.add_user("o'brien x", "long-enough-pw")


def test_set_role_applies_to_a_view_already_open(lib):
    v = lib.for_user("alice")
    assert v.role == "viewer"
    lib.set_role("alice", "curator")
    assert v.role == "curator"


def test_for_user_of_an_unknown_name_says_so(lib):
    with pytest.raises(NotFoundError, match="no user named 'zed'"):
        lib.for_user("zed")


# -- login and sessions ---------------------------------------------------------------------------------------
def test_login_gives_a_session_acting_as_that_user(lib):
    token = lib.login("alice", ALICE_PW)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert lib.for_session(token).whoami() == {"name": "alice", "role": "viewer"}


def test_each_login_gets_a_different_token(lib):
    assert lib.login("alice", ALICE_PW) != lib.login("alice", ALICE_PW)


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(lib):
    with pytest.raises(AuthError) as wrong_pw:
        lib.login("alice", "not-her-password")
    with pytest.raises(AuthError) as no_user:
        lib.login("nobody", "not-her-password")
    assert str(wrong_pw.value) == str(no_user.value) == "wrong user name or password"


def test_another_users_password_does_not_open_an_account(lib):
    with pytest.raises(AuthError):
        lib.login("alice", BOB_PW)


def test_only_the_session_token_hash_is_stored(lib):
    token = lib.login("alice", ALICE_PW)
    assert token.encode() not in all_bytes(lib.root / "catalog")


def test_sign_ins_keep_the_sessions_table_compact_and_every_session_working(lib):
    """A gallery that stays up signs people in for months; each sign-in is a commit, and without compaction every
    session check read one more small fragment."""
    from workbench.access import sessions
    tokens = [sessions.start(lib.catalog, "alice", 3600) for _ in range(60)]
    fragments = lib.catalog.table(sessions.TABLE).stats()["fragment_stats"]["num_fragments"]
    assert fragments <= 20                         # one per sign-in since the last compaction, not 60
    assert all(lib.for_session(t).whoami()["name"] == "alice" for t in tokens[::7])


def test_logout_ends_the_session_at_once_also_for_an_open_view(lib):
    token = lib.login("alice", ALICE_PW)
    view = lib.for_session(token)
    assert len(view.media()) == 1
    lib.logout(token)
    with pytest.raises(AuthError, match="log in again"):
        view.media()
    with pytest.raises(AuthError):
        lib.for_session(token)


def test_a_session_expires_after_its_lifetime(lib):
    lib.settings.session_lifetime_s = 1.0
    token = lib.login("alice", ALICE_PW)
    view = lib.for_session(token)
    assert view.name == "alice" and len(view.media()) == 1
    time.sleep(1.2)
    with pytest.raises(AuthError, match="expired"):
        view.media()
    with pytest.raises(AuthError, match="expired"):
        lib.for_session(token)


def test_a_session_lifetime_setting_survives_reopening(lib):
    lib.settings.session_lifetime_s = 3600.0
    lib.settings.save(lib.root)
    assert Library.open(lib.root).settings.session_lifetime_s == 3600.0


def test_a_guessed_session_token_is_refused(lib):
    import secrets
    lib.login("alice", ALICE_PW)
    with pytest.raises(AuthError):
        lib.for_session(secrets.token_urlsafe(32))


def test_changing_a_password_ends_that_users_sessions(lib):
    token = lib.login("alice", ALICE_PW)
    lib.set_password("alice", "a-brand-new-password")
    with pytest.raises(AuthError):
        lib.for_session(token)
    with pytest.raises(AuthError):
        lib.login("alice", ALICE_PW)
    assert lib.for_session(lib.login("alice", "a-brand-new-password")).name == "alice"


def test_removing_a_user_ends_their_sessions_and_keeps_their_media(lib):
    token = lib.login("alice", ALICE_PW)
    lib.remove_user("alice")
    with pytest.raises(AuthError):
        lib.for_session(token)
    assert list(lib.users()["name"]) == ["bob"]
    assert list(lib.media()["owner"]) == ["alice"]


# -- throttling -----------------------------------------------------------------------------------------------
def test_repeated_failures_lock_the_name_even_for_the_right_password(lib):
    quick_limits(lib, failures=3)
    for _ in range(3):
        with pytest.raises(AuthError, match="wrong user name or password"):
            lib.login("alice", "guess-guess")
    with pytest.raises(AuthError, match="too many failed attempts"):
        lib.login("alice", ALICE_PW)


def test_failures_below_the_limit_do_not_lock(lib):
    quick_limits(lib, failures=3)
    for _ in range(2):
        with pytest.raises(AuthError):
            lib.login("alice", "guess-guess")
    assert lib.login("alice", ALICE_PW)


def test_the_lock_lifts_after_the_lockout(lib):
    quick_limits(lib, failures=2, lockout_s=1.0)
    for _ in range(2):
        with pytest.raises(AuthError):
            lib.login("alice", "guess-guess")
    with pytest.raises(AuthError, match="too many"):
        lib.login("alice", ALICE_PW)
    time.sleep(1.2)
    assert lib.login("alice", ALICE_PW)


def test_a_lock_on_one_name_leaves_other_names_alone(lib):
    quick_limits(lib, failures=2)
    for _ in range(2):
        with pytest.raises(AuthError):
            lib.login("alice", "guess-guess")
    assert lib.login("bob", BOB_PW)


def test_unknown_names_are_throttled_like_known_ones(lib):
    quick_limits(lib, failures=2)
    for _ in range(2):
        with pytest.raises(AuthError, match="wrong user name or password"):
            lib.login("ghost", "guess-guess")
    with pytest.raises(AuthError, match="too many failed attempts"):
        lib.login("ghost", "guess-guess")


def test_one_client_trying_many_names_is_throttled(lib):
    quick_limits(lib, failures=3, client_failures=3)
    for name in ("alice", "bob", "carol"):
        with pytest.raises(AuthError):
            lib.login(name, "guess-guess", client="10.0.0.7")
    with pytest.raises(AuthError, match="too many"):
        lib.login("bob", BOB_PW, client="10.0.0.7")
    assert lib.login("bob", BOB_PW, client="10.0.0.8")


# -- passwords never leak -------------------------------------------------------------------------------------
def test_no_password_appears_anywhere_in_the_library_folder(lib, tmp_path):
    lib.set_password("bob", "Bob-Second-Pw-77")
    lib.login("alice", ALICE_PW)
    with pytest.raises(AuthError):
        lib.login(ALICE_PW, "typed-the-password-as-name")  # a classic slip: the password in the name field
    with pytest.raises(AuthError):
        lib.login("alice", "Wrong-But-Secret-Guess")
    album = lib.create_album("Trip", owner="alice")
    lib.share_album(album, password="Share-Link-Pw-31")
    lib.catalog.compact()
    data = all_bytes(lib.root)
    assert b"$argon2id$" in data  # the hashes are there, so the search looks at the right files
    for secret in (ALICE_PW, BOB_PW, "Bob-Second-Pw-77", "typed-the-password-as-name", "Wrong-But-Secret-Guess",
                   "Share-Link-Pw-31"):
        assert secret.encode() not in data, secret
        assert secret.encode("utf-16-le") not in data, secret


def test_no_password_reaches_the_logs(lib, caplog):
    caplog.set_level(logging.DEBUG)
    lib.add_user("carol", "Carol-Log-Pw-44")
    lib.login("carol", "Carol-Log-Pw-44")
    with pytest.raises(AuthError):
        lib.login("carol", "Carol-Wrong-Pw-45")
    lib.set_password("carol", "Carol-New-Pw-46")
    text = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for secret in ("Carol-Log-Pw-44", "Carol-Wrong-Pw-45", "Carol-New-Pw-46"):
        assert secret not in text


def test_no_password_appears_in_exception_text_or_tracebacks(lib):
    secret, short = "-".join(["Exc", "Wrong", "Pw", "71"]), "sh" + "ort71"  # built so the source lines a
    failures = []                                                           # traceback quotes cannot hold them
    for call in (lambda: lib.login("alice", secret), lambda: lib.add_user("alice", secret),
                 lambda: lib.set_password("nobody", secret), lambda: lib.add_user("carol", short)):
        with pytest.raises((WorkbenchError, ValueError)) as e:
            call()
        failures.append("".join(traceback.format_exception(e.value)) + repr(e.value))
    assert len(failures) == 4 and not any(secret in f or short in f for f in failures)


def test_reprs_show_no_password_or_token(lib):
    token = lib.login("alice", ALICE_PW)
    view = lib.for_session(token)
    text = repr(view) + str(view) + repr(lib) + repr(vars(view)) + lib.users().to_string()
    assert "alice" in text and ALICE_PW not in text and token not in text


# -- command line ---------------------------------------------------------------------------------------------
class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def wb(lib_root: Path, *args: str, stdin: str = "") -> Ran:
    """The command in this process (fast); ``wb_process`` runs it as a real program."""
    from typer.testing import CliRunner

    from workbench.cli.main import app
    r = CliRunner().invoke(app, ["--library", str(lib_root), *args], input=stdin)
    return Ran(r.exit_code, r.stdout, r.stderr)


def wb_process(lib_root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_LIBRARY": str(lib_root)}
    return subprocess.run([sys.executable, "-m", "workbench", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_adds_a_user_with_the_password_from_stdin_and_never_prints_it(lib):
    p = wb(lib.root, "users", "add", "carol", "--role", "curator", "--password-stdin", stdin="Cli-Carol-Pw-88\n")
    assert p.returncode == 0, p.stderr
    assert "Cli-Carol-Pw-88" not in p.stdout + p.stderr
    again = Library.open(lib.root)
    assert again.for_session(again.login("carol", "Cli-Carol-Pw-88")).whoami()["role"] == "curator"


def test_cli_does_not_take_a_password_as_a_visible_argument(lib):
    p = wb(lib.root, "users", "add", "carol", "Cli-Visible-Pw-1")
    assert p.returncode != 0
    assert "carol" not in set(Library.open(lib.root).users()["name"])


def test_cli_asks_for_the_password_twice_with_hidden_input(lib):
    p = wb_process(lib.root, "users", "passwd", "alice", stdin="Typed-Twice-Pw-2\nTyped-Twice-Pw-2\n")
    assert p.returncode == 0, p.stderr
    assert "Typed-Twice-Pw-2" not in p.stdout + p.stderr  # hidden: not echoed
    assert Library.open(lib.root).login("alice", "Typed-Twice-Pw-2")


def test_cli_refuses_a_short_password_with_a_one_line_error(lib):
    p = wb(lib.root, "users", "passwd", "alice", "--password-stdin", stdin="tiny\n")
    assert p.returncode == 2 and "at least 8 characters" in p.stderr and "tiny" not in p.stderr
    assert "Traceback" not in p.stderr


def test_cli_changes_a_role_and_lists_users(lib):
    assert wb(lib.root, "users", "role", "alice", "admin").returncode == 0
    p = wb(lib.root, "users", "list", "--json")
    import json
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert {r["name"]: r["role"] for r in rows} == {"alice": "admin", "bob": "curator"}
    assert all("hash" not in k for r in rows for k in r)


def test_cli_removes_a_user(lib):
    assert wb(lib.root, "users", "rm", "bob", "--yes").returncode == 0
    assert list(Library.open(lib.root).users()["name"]) == ["alice"]


def test_a_library_made_before_accounts_existed_gets_the_tables(lib):
    for t in ("users", "sessions", "login_failures", "albums", "album_items", "album_members", "shares"):
        lib.catalog.db.drop_table(t)
    again = Library.open(lib.root)
    assert again.users().empty and again.albums().empty
    again.add_user("dora", "dora-password-1")
    assert again.for_session(again.login("dora", "dora-password-1")).name == "dora"
