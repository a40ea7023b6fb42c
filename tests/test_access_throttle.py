"""Throttling password guesses under attack: simultaneous guesses from separate processes get at most the limit
judged, failures count per (name, address), per address and per name, a stranger cannot lock an owner out, and an
admin's password reset lifts the lock. Sign-in and share-link passwords alike."""
from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory import jpeg
from workbench import Library
from workbench.access import throttle
from workbench.errors import AuthError

ALICE_PW = "alice-Secret-9137"
BOB_PW = "bob-Hidden-5521"
LINK_PW = "link-Password-4410"
BAD_LOGIN = "wrong user name or password"
BAD_LINK = "wrong password for this share link"
ATTACKER, OWNER, NEIGHBOUR = "203.0.113.9", "192.0.2.10", "198.51.100.77"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("access_throttle")
    lib = Library.create(root / "lib")
    lib.import_files([jpeg(root / "in" / "a.jpg")], owner="alice", progress=False)
    lib.add_user("alice", ALICE_PW, "viewer")
    lib.add_user("bob", BOB_PW, "viewer")
    album = lib.create_album("Party", owner="alice")
    lib.add_to_album(album, lib.media()["id"])
    (root / "token").write_text(lib.share_album(album, password=LINK_PW))
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


@pytest.fixture
def token(built) -> str:
    return (built.parent / "token").read_text()


def limits(lib: Library, *, pair: int = 5, client: int = 20, account: int = 100) -> None:
    lib.settings.login_max_failures = pair
    lib.settings.login_client_max_failures = client
    lib.settings.login_account_max_failures = account


def outcome(attempt) -> str:
    """What a visitor is told: "accepted" or the refusal's message."""
    try:
        attempt()
        return "accepted"
    except AuthError as e:
        return str(e)


# -- simultaneous guesses from separate processes -------------------------------------------------------------
def _guess_in_a_process(root: str, kind: str, target: str, password: str, client: str | None, barrier,
                        results) -> None:
    try:
        lib = Library.open(root)
        barrier.wait(timeout=120)
        if kind == "login":
            results.put(outcome(lambda: lib.login(target, password, client=client)))
        elif client is None:
            results.put(outcome(lambda: lib.for_share(target, password)))
        else:
            results.put(outcome(lambda: lib.for_share(target, password, client=client)))
    except Exception as e:  # reported to the test, which then fails with it
        results.put(f"error in the guessing process: {e!r}")


def guess_at_once(lib: Library, kind: str, target: str, password: str, client: str | None, n: int = 8) -> list[str]:
    """``n`` processes (as n gallery server processes or pages would) each open the library, wait for each
    other, then make one guess at the same moment."""
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: LanceDB does not survive a fork safely
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_guess_in_a_process, args=(str(lib.root), kind, target, password, client, barrier,
                                                             results)) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        return [results.get(timeout=300) for _ in range(n)]
    finally:
        for p in procs:
            p.join(timeout=60)


def pair_failures(lib: Library, target: str, client: str | None) -> int:
    pair = throttle.pair_subject(target, throttle.client_subject(client))
    return lib.catalog.count(throttle.TABLE, f"subject = '{pair}'")


@pytest.mark.slow  # eight fresh interpreters import the library: ~10 s on an idle 2-core machine
def test_eight_simultaneous_sign_in_guesses_get_at_most_five_judged(lib):
    told = guess_at_once(lib, "login", "alice", "guess-guess", ATTACKER)
    assert told.count(BAD_LOGIN) == 5, told
    assert sum(t.startswith("too many failed attempts") for t in told) == 3, told
    assert pair_failures(lib, throttle.subject("user", "alice"), ATTACKER) == 5


@pytest.mark.slow
def test_eight_simultaneous_link_password_guesses_get_at_most_five_judged(lib, token):
    told = guess_at_once(lib, "share", token, "guess-guess", None)  # a caller that knows no address
    assert told.count(BAD_LINK) == 5, told
    assert sum(t.startswith("too many wrong passwords") for t in told) == 3, told
    share_id = lib.shares().iloc[0]["share_id"]
    assert pair_failures(lib, throttle.subject("share", share_id), None) == 5


def test_eight_simultaneous_guesses_from_threads_of_one_server_get_at_most_five_judged(lib):
    """A gallery server judges sign-ins in a thread pool: one Library, many threads, the same limit."""
    import concurrent.futures
    import threading
    start = threading.Barrier(8)

    def guess(_i: int) -> str:
        start.wait(timeout=60)
        return outcome(lambda: lib.login("alice", "guess-guess", client=ATTACKER))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        told = list(pool.map(guess, range(8)))
    assert told.count(BAD_LOGIN) == 5, told
    assert sum(t.startswith("too many failed attempts") for t in told) == 3, told


# -- one address, many names ----------------------------------------------------------------------------------
def test_one_address_trying_four_passwords_on_every_name_is_stopped_by_the_address_limit(lib):
    limits(lib, pair=5, client=8)
    told = [outcome(lambda n=name: lib.login(n, "guess-guess", client=ATTACKER))
            for name in ("alice", "bob", "carol", "dave", "erin") for _ in range(4)]
    assert told[:8] == [BAD_LOGIN] * 8
    assert all(t.startswith("too many failed attempts") for t in told[8:]), told[8:]
    assert outcome(lambda: lib.login("bob", BOB_PW, client=ATTACKER)).startswith("too many failed attempts")
    assert outcome(lambda: lib.login("bob", BOB_PW, client=NEIGHBOUR)) == "accepted"


def test_signing_in_to_ones_own_account_does_not_wipe_the_address_count(lib):
    limits(lib, pair=5, client=8)
    for _ in range(4):
        assert outcome(lambda: lib.login("alice", "guess-guess", client=ATTACKER)) == BAD_LOGIN
    assert outcome(lambda: lib.login("bob", BOB_PW, client=ATTACKER)) == "accepted"  # the guesser's own account
    told = [outcome(lambda: lib.login("carol", "guess-guess", client=ATTACKER)) for _ in range(5)]
    assert told[:4] == [BAD_LOGIN] * 4 and told[4].startswith("too many failed attempts")


def test_an_ipv6_address_is_counted_by_its_64_prefix(lib):
    limits(lib, pair=5, client=3)
    for i, name in enumerate(("alice", "bob", "carol"), start=1):
        assert outcome(lambda: lib.login(name, "guess-guess", client=f"2001:db8::{i}")) == BAD_LOGIN
    assert outcome(lambda: lib.login("bob", BOB_PW, client="2001:db8::99")).startswith("too many")
    assert outcome(lambda: lib.login("bob", BOB_PW, client="2001:db8:0:1::1")) == "accepted"


def test_link_passwords_from_one_address_count_towards_its_limit_too(lib, token):
    limits(lib, pair=5, client=4)
    for _ in range(2):
        assert outcome(lambda: lib.login("alice", "guess-guess", client=ATTACKER)) == BAD_LOGIN
        assert outcome(lambda: lib.for_share(token, "guess-guess", client=ATTACKER)) == BAD_LINK
    assert outcome(lambda: lib.for_share(token, LINK_PW, client=ATTACKER)).startswith("too many wrong passwords")


# -- a stranger cannot lock an owner out ----------------------------------------------------------------------
def test_a_stranger_hammering_an_account_does_not_lock_its_owner_out(lib):
    for _ in range(5):
        assert outcome(lambda: lib.login("alice", "guess-guess", client=ATTACKER)) == BAD_LOGIN
    assert outcome(lambda: lib.login("alice", ALICE_PW, client=ATTACKER)).startswith("too many failed attempts")
    assert outcome(lambda: lib.login("alice", ALICE_PW, client=OWNER)) == "accepted"


def test_a_stranger_hammering_a_link_does_not_lock_out_its_visitors(lib, token):
    for _ in range(5):
        assert outcome(lambda: lib.for_share(token, "guess-guess", client=ATTACKER)) == BAD_LINK
    assert outcome(lambda: lib.for_share(token, LINK_PW, client=ATTACKER)).startswith("too many wrong passwords")
    assert outcome(lambda: lib.for_share(token, LINK_PW, client=OWNER)) == "accepted"


def test_guesses_spread_over_many_addresses_lock_the_account_at_the_account_limit(lib):
    limits(lib, pair=5, client=20, account=6)
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        for _ in range(2):
            assert outcome(lambda: lib.login("alice", "guess-guess", client=address)) == BAD_LOGIN
    assert outcome(lambda: lib.login("alice", ALICE_PW, client=OWNER)).startswith("too many failed attempts")
    assert outcome(lambda: lib.login("bob", BOB_PW, client=OWNER)) == "accepted"


def test_unknown_names_lock_exactly_like_known_ones(lib):
    limits(lib, pair=5, client=20, account=6)
    for name in ("alice", "nobody-here"):
        told = [outcome(lambda: lib.login(name, "guess-guess", client=f"203.0.113.{i // 2}")) for i in range(7)]
        assert told[:6] == [BAD_LOGIN] * 6 and told[6].startswith("too many failed attempts"), (name, told)


# -- an admin reset lifts the lock ----------------------------------------------------------------------------
def test_an_admin_password_reset_lifts_every_lock_on_the_name(lib):
    limits(lib, pair=5, client=20, account=8)
    for address in (OWNER, ATTACKER):
        for _ in range(5):
            outcome(lambda: lib.login("alice", "guess-guess", client=address))
    assert outcome(lambda: lib.login("alice", ALICE_PW, client=NEIGHBOUR)).startswith("too many failed attempts")
    r = CliRunner().invoke(__import__("workbench.cli.main", fromlist=["app"]).app,
                           ["--library", str(lib.root), "users", "passwd", "alice", "--password-stdin"],
                           input="alice-Reset-7788\n")
    assert r.exit_code == 0, r.output
    again = Library.open(lib.root)
    limits(again, pair=5, client=20, account=8)
    for address in (OWNER, NEIGHBOUR):
        assert outcome(lambda: again.login("alice", "alice-Reset-7788", client=address)) == "accepted"


def test_a_reset_of_one_name_leaves_the_locks_of_others(lib):
    for name in ("alice", "bob"):
        for _ in range(5):
            outcome(lambda: lib.login(name, "guess-guess", client=OWNER))
    lib.set_password("alice", "alice-Reset-7788")
    assert outcome(lambda: lib.login("alice", "alice-Reset-7788", client=OWNER)) == "accepted"
    assert outcome(lambda: lib.login("bob", BOB_PW, client=OWNER)).startswith("too many failed attempts")


# -- the machinery ----------------------------------------------------------------------------------------------
def test_a_guess_waits_for_the_check_ahead_of_it_only_so_long(lib):
    lib.settings.login_lock_wait_s = 0.3
    target = throttle.subject("user", "alice")
    with throttle.critical(lib.root, [throttle._stripe(target)], wait_s=1.0):  # another check holds the name
        told = outcome(lambda: lib.login("alice", ALICE_PW, client=OWNER))
    assert told.startswith("too many sign-in attempts are being checked at once"), told
    assert outcome(lambda: lib.login("alice", ALICE_PW, client=OWNER)) == "accepted"


def test_counts_survive_the_compaction_of_the_failures_table(lib):
    limits(lib, pair=1000, client=70, account=1000)
    lim = throttle.Limits.from_settings(lib.settings)
    n = throttle.COMPACT_EVERY_VERSIONS + 10   # each failure is one commit: this crosses a compaction
    for i in range(n):
        assert not throttle.judge(lib.catalog, lib.root, lim, throttle.subject("user", f"n{i}"), ATTACKER,
                                  lambda: False)
    assert lib.catalog.count(throttle.TABLE, f"subject = '{throttle.client_subject(ATTACKER)}'") == n
    assert lib.catalog.table(throttle.TABLE).stats()["fragment_stats"]["num_fragments"] < n / 2
    with pytest.raises(throttle.Locked):
        for _ in range(70 - n + 1):
            throttle.judge(lib.catalog, lib.root, lim, throttle.subject("user", "m"), ATTACKER, lambda: False)
