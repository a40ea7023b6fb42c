"""Share links: one album, read-only, without an account; expired, revoked, guessed or wrongly-passworded links
show nothing."""
from __future__ import annotations

import json
import secrets
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory import jpeg
from workbench import Library
from workbench.errors import AccessDenied, AuthError, NotFoundError, PasswordRequired

PW = "a-long-enough-password"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("access_sharing")
    lib = Library.create(root / "lib")
    for i, name in enumerate(["in1", "in2", "out"]):
        jpeg(root / "alice" / "private_folder" / f"{name}.jpg", 160, 120, seed=i)
    lib.import_files([root / "alice"], owner="alice", progress=False)
    lib.process(["thumbnails"], progress=False)
    lib.add_user("alice", PW)
    lib.add_user("bob", PW)
    album = lib.create_album("Party", owner="alice")
    lib.add_to_album(album, [m for m, p in zip(lib.media()["id"], lib.media()["path"]) if "/in" in p])
    lib.add_member(album, "bob", "viewer")
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def mid(lib: Library, name: str) -> str:
    df = lib.media()
    return df.loc[df["path"].str.endswith(f"/{name}.jpg"), "id"].iloc[0]


# -- what a link shows ----------------------------------------------------------------------------------------
def test_a_link_shows_that_album_and_only_it(lib):
    view = lib.for_share(lib.share_album("Party"))
    assert set(view.media()["id"]) == {mid(lib, "in1"), mid(lib, "in2")}
    assert view.info()["name"] == "Party" and view.info()["items"] == 2


def test_media_outside_the_album_are_not_found_through_a_link(lib):
    view = lib.for_share(lib.share_album("Party"))
    out = mid(lib, "out")
    for call in (view.get, view.thumbnail, view.original_path, view.original_bytes):
        with pytest.raises(NotFoundError):
            call(out)


def test_a_link_gives_thumbnails_and_originals_of_the_album(lib):
    view = lib.for_share(lib.share_album("Party"))
    m = mid(lib, "in1")
    assert view.thumbnail(m, "preview")[:4] == b"RIFF"
    assert view.original_bytes(m) == lib.original_path(m).read_bytes()


def test_a_link_gives_many_thumbnails_at_once_but_none_from_outside_the_album(lib):
    view = lib.for_share(lib.share_album("Party"))
    inside, out = mid(lib, "in1"), mid(lib, "out")
    got = view.thumbnails([inside, out])
    assert got[inside][:4] == b"RIFF" and got[out] is None


def test_a_link_shows_file_names_but_no_folders(lib):
    view = lib.for_share(lib.share_album("Party"))
    row = view.get(mid(lib, "in1"))
    assert row["path"] == "in1.jpg" and row["sources"] == []
    assert "private_folder" not in view.media().to_string() + json.dumps(row, default=str)


def test_trashed_media_leave_a_shared_album(lib):
    view = lib.for_share(lib.share_album("Party"))
    in1, in2 = mid(lib, "in1"), mid(lib, "in2")
    lib.trash([in1])
    assert list(view.media()["id"]) == [in2]
    with pytest.raises(NotFoundError):
        view.thumbnail(in1)


# -- the token ------------------------------------------------------------------------------------------------
def test_a_token_carries_at_least_128_random_bits_and_only_its_hash_is_stored(lib):
    tokens = {lib.share_album("Party") for _ in range(3)}
    assert len(tokens) == 3 and all(len(t) >= 43 for t in tokens)  # 32 bytes, base64url: 256 bits
    lib.catalog.compact()
    data = b"".join(p.read_bytes() for p in (lib.root / "catalog").rglob("*") if p.is_file())
    assert not any(t.encode() in data for t in tokens)


def test_a_guessed_token_is_refused_without_asking_for_a_password(lib):
    lib.share_album("Party", password="link-password-1")
    with pytest.raises(AuthError) as refused:
        lib.for_share(secrets.token_urlsafe(32))
    assert not isinstance(refused.value, PasswordRequired)


def test_a_guessed_token_opens_nothing(lib):
    lib.share_album("Party")
    with pytest.raises(AuthError, match="not valid"):
        lib.for_share(secrets.token_urlsafe(32))


def test_a_token_one_character_off_opens_nothing(lib):
    token = lib.share_album("Party")
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthError, match="not valid"):
        lib.for_share(near)


def test_an_empty_token_opens_nothing(lib):
    lib.share_album("Party")
    with pytest.raises(AuthError):
        lib.for_share("")


# -- expiry and revocation ------------------------------------------------------------------------------------
def test_an_expired_link_opens_nothing(lib):
    token = lib.share_album("Party", expires=timedelta(seconds=1))
    assert len(lib.for_share(token).media()) == 2
    time.sleep(1.2)
    with pytest.raises(AuthError, match="expired"):
        lib.for_share(token)


def test_a_page_opened_before_expiry_stops_at_expiry(lib):
    view = lib.for_share(lib.share_album("Party", expires=1.0))
    time.sleep(1.2)
    with pytest.raises(AuthError, match="expired"):
        view.media()


def test_an_expiry_in_the_past_is_refused(lib):
    with pytest.raises(ValueError, match="future"):
        lib.share_album("Party", expires=datetime.now() - timedelta(hours=1))


def test_a_revoked_link_opens_nothing_even_on_a_page_already_open(lib):
    token = lib.share_album("Party")
    view = lib.for_share(token)
    m = mid(lib, "in1")
    assert view.thumbnail(m)
    lib.revoke_share(lib.shares("Party").iloc[0]["share_id"])
    with pytest.raises(AuthError, match="revoked"):
        lib.for_share(token)
    with pytest.raises(AuthError, match="revoked"):
        view.thumbnail(m)


def test_revoking_one_link_leaves_the_others_working(lib):
    first, second = lib.share_album("Party"), lib.share_album("Party")
    lib.revoke_share(first)  # by the token itself
    assert len(lib.for_share(second).media()) == 2
    with pytest.raises(AuthError):
        lib.for_share(first)


def test_deleting_the_album_closes_its_links(lib):
    token = lib.share_album("Party")
    lib.delete_album("Party")
    with pytest.raises(AuthError):
        lib.for_share(token)


def test_the_link_list_says_which_links_work(lib):
    lib.share_album("Party", password="link-password-1")
    gone = lib.share_album("Party")
    lib.revoke_share(gone)
    df = lib.shares("Party")
    assert sorted(zip(df["has_password"], df["active"])) == [(False, False), (True, True)]
    assert not any("hash" in c or "token" in c for c in df.columns)


# -- passwords on links ---------------------------------------------------------------------------------------
def test_a_link_with_a_password_needs_it(lib):
    token = lib.share_album("Party", password="link-password-1")
    with pytest.raises(PasswordRequired, match="needs a password"):
        lib.for_share(token)


def test_a_wrong_link_password_opens_nothing(lib):
    token = lib.share_album("Party", password="link-password-1")
    with pytest.raises(PasswordRequired, match="wrong password"):
        lib.for_share(token, "link-password-2")


def test_the_right_link_password_opens_the_album(lib):
    token = lib.share_album("Party", password="link-password-1")
    assert len(lib.for_share(token, "link-password-1").media()) == 2


def test_repeated_wrong_link_passwords_are_throttled(lib):
    lib.settings.login_max_failures, lib.settings.login_lockout_s = 2, 60.0
    token = lib.share_album("Party", password="link-password-1")
    for _ in range(2):
        with pytest.raises(AuthError, match="wrong password"):
            lib.for_share(token, "guess-guess-guess")
    with pytest.raises(AuthError, match="too many"):
        lib.for_share(token, "link-password-1")


# -- who may share --------------------------------------------------------------------------------------------
def test_the_album_owner_shares_from_their_view(lib):
    token = lib.for_user("alice").share_album("Party", expires=3600)
    assert len(lib.for_share(token).media()) == 2
    assert len(lib.for_user("alice").shares()) == 1


def test_a_viewer_member_may_not_share_the_album(lib):
    with pytest.raises(AccessDenied, match="manage"):
        lib.for_user("bob").share_album("Party")


def test_a_viewer_cannot_revoke_or_list_someone_elses_link(lib):
    token = lib.for_user("alice").share_album("Party")
    share_id = lib.shares().iloc[0]["share_id"]
    bob = lib.for_user("bob")
    assert bob.shares().empty
    for what in (share_id, token):
        with pytest.raises(NotFoundError):
            bob.revoke_share(what)
    assert len(lib.for_share(token).media()) == 2


# -- command line ---------------------------------------------------------------------------------------------
def cli(lib: Library, *args: str, stdin: str = ""):
    from workbench.cli.main import app
    r = CliRunner().invoke(app, ["--library", str(lib.root), *args], input=stdin)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_cli_makes_a_link_with_expiry_and_password_then_revokes_it(lib):
    out = json.loads(cli(lib, "share", "create", "Party", "--expires", "7d", "--password-stdin", "--json",
                         stdin="cli-link-pw-9\n"))
    assert out["has_password"] is True and "cli-link-pw-9" not in json.dumps(out)
    assert len(lib.for_share(out["token"], "cli-link-pw-9").media()) == 2
    listed = [json.loads(x) for x in cli(lib, "share", "list", "--json").splitlines()]
    assert [r["share_id"] for r in listed] == [out["share_id"]] and "token" not in listed[0]
    cli(lib, "share", "revoke", out["share_id"])
    with pytest.raises(AuthError, match="revoked"):
        lib.for_share(out["token"], "cli-link-pw-9")


def test_cli_turns_a_links_uploads_on_at_creation_and_off_again(lib):
    plain = json.loads(cli(lib, "share", "create", "Party", "--json"))
    assert not lib.for_share(plain["token"]).accepts_uploads            # off unless asked for
    out = json.loads(cli(lib, "share", "create", "Party", "--accept-uploads", "--json"))
    assert lib.for_share(out["token"]).accepts_uploads
    listed = {r["share_id"]: r for r in map(json.loads, cli(lib, "share", "list", "--json").splitlines())}
    assert listed[out["share_id"]]["accepts_uploads"] is True and not listed[plain["share_id"]]["accepts_uploads"]
    assert "uploads" in cli(lib, "share", "list")
    cli(lib, "share", "uploads", out["share_id"], "--off")
    assert not lib.for_share(out["token"]).accepts_uploads
    cli(lib, "share", "uploads", plain["share_id"])
    assert lib.for_share(plain["token"]).accepts_uploads
