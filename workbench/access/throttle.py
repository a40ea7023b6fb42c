"""Throttling password guesses (sign-in, share-link passwords), atomic across processes.

Each failed guess at a *target* (an account name, or one share link) from a *client* (the visitor's address) is
counted three ways, each with its own limit within ``window_s``, and any one over its limit locks for
``lockout_s`` after its last failure (see the settings ``login_*``):

- the pair (target, client): a person mistyping, or a guesser at one account from one address;
- the client over every target: one address spraying a few passwords at many names or links;
- the target over every client: a guesser spread over many addresses, with a limit high enough that a stranger
  cannot keep an account locked for its owner cheaply.

A guess is judged inside one critical section, held across processes (gallery servers, the CLI, notebooks on the
same library) with OS file locks: read the counts, refuse if locked, verify the password (argon2, the slow part),
record the failure or clear the pair. So N simultaneous guesses get at most the limit judged; the rest are refused
as locked without a password check. The locks are ``flock``s on a few files under ``<library>/.auth-locks/``
(the target's and the client's, by hash, so unrelated sign-ins do not wait on each other); the OS drops them
when a holder dies, even by kill -9.

Subjects are stored as sha256s, so whatever a person typed into a name field (perhaps their password) never
lands in the catalog; a pair is stored as ``<target hash>/<client hash>`` so an admin reset can clear them all.
"""
from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from workbench.catalog.filters import Eq, In, Lt, StartsWith
from workbench.catalog.store import Catalog

TABLE = "login_failures"
LOCK_DIR = ".auth-locks"
# Subjects map onto this many lock files: few enough that an attacker inventing names cannot fill the folder,
# enough that two unrelated sign-ins rarely wait on each other.
STRIPES = 64
# The lock taken (last, so never in a cycle) around writes to the failures table.
TABLE_STRIPE = "table"
# Where an IPv6 client's limit applies: one household or host usually gets a whole /64, so counting single
# addresses would give it 2**64 fresh allowances.
IPV6_CLIENT_PREFIX = 64
UNKNOWN_CLIENT = "unknown"
# Each failure is a small commit; every this many table versions the failures table is compacted, since every
# lock check reads all the small fragments (benchmarks/throttle.py: after 600 sprayed failures a lock check took
# 59.7 ms never compacted, 7.8 ms compacted every 50; docs/benchmarks.md).
COMPACT_EVERY_VERSIONS = 50


@dataclass(frozen=True)
class Limits:
    pair_max_failures: int
    client_max_failures: int
    target_max_failures: int
    window_s: float
    lockout_s: float
    lock_wait_s: float

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        return cls(settings.login_max_failures, settings.login_client_max_failures,
                   settings.login_account_max_failures, settings.login_failure_window_s, settings.login_lockout_s,
                   settings.login_lock_wait_s)


class Locked(Exception):
    """Refused without judging: too many recent failures. ``scope`` (pair, client or target) is for logs only;
    messages to the visitor should not depend on it."""

    def __init__(self, seconds: float, scope: str):
        super().__init__(f"locked ({scope}) for {seconds:.0f} s")
        self.seconds = seconds
        self.scope = scope


class Busy(Exception):
    """The critical section stayed taken for ``lock_wait_s`` (a flood of guesses, or a stopped process)."""


def subject(kind: str, value: str) -> str:
    """The stored form of "what was tried": a sha256, never the text itself."""
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()


def client_key(client: str | None) -> str:
    """The address a client is counted under: IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as IPv4; callers
    that do not know the address (CLI, notebooks) share one bucket, so they are not exempt."""
    if not client:
        return UNKNOWN_CLIENT
    text = str(client).strip()
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def client_subject(client: str | None) -> str:
    return subject("client", client_key(client))


def pair_subject(target: str, client_subj: str) -> str:
    return f"{target}/{client_subj}"


def counters(target: str, client: str | None, limits: Limits) -> dict[str, tuple[str, int]]:
    """subject -> (scope, limit) for one guess at ``target`` from ``client``."""
    c = client_subject(client)
    return {pair_subject(target, c): ("pair", limits.pair_max_failures),
            c: ("client", limits.client_max_failures),
            target: ("target", limits.target_max_failures)}


# -- the cross-process lock -----------------------------------------------------------------------------------
def _stripe(subj: str) -> str:
    return f"{int(hashlib.sha256(subj.encode()).hexdigest()[:8], 16) % STRIPES:02d}"


@contextmanager
def critical(library_root: Path, names: Iterable[str], wait_s: float) -> Iterator[None]:
    """Hold the locks ``names`` (stripe names, taken in sorted order so two holders never wait on each other in
    a cycle) across processes and threads: each take opens its own file, and ``flock`` excludes other open
    files even in the same process. Raises ``Busy`` after ``wait_s``."""
    folder = Path(library_root) / LOCK_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with ExitStack() as stack:
        for name in sorted(set(names), key=lambda n: (n == TABLE_STRIPE, n)):
            fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            stack.callback(os.close, fd)
            delay = 0.002
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Busy("too many sign-in attempts are being checked at once: try again in a moment") \
                            from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            stack.callback(fcntl.flock, fd, fcntl.LOCK_UN)
        yield


# -- counting -------------------------------------------------------------------------------------------------
def _failures(catalog: Catalog, subjects: list[str]) -> dict[str, list[datetime]]:
    t = catalog.read(TABLE, ["subject", "at"], In("subject", subjects)).to_pylist()
    out: dict[str, list[datetime]] = {s: [] for s in subjects}
    for r in t:
        out[r["subject"]].append(r["at"])
    return out


def lock_state(catalog: Catalog, limits_by_subject: dict[str, tuple[str, int]], limits: Limits,
               now: datetime | None = None) -> tuple[float, str | None]:
    """(seconds the most-locked subject stays locked, its scope); (0, None) when free to try."""
    now = now or datetime.now(timezone.utc)
    left, scope = 0.0, None
    for subj, times in _failures(catalog, list(limits_by_subject)).items():
        name, max_failures = limits_by_subject[subj]
        recent = [t for t in times if (now - t).total_seconds() <= limits.window_s]
        if len(recent) >= max_failures:
            s = limits.lockout_s - (now - max(recent)).total_seconds()
            if s > left:
                left, scope = s, name
    return max(0.0, left), scope


def _record_failure(catalog: Catalog, subjects: list[str], limits: Limits, now: datetime) -> None:
    """Count one failure against each subject; forget failures too old to matter; keep the table compact (called
    under the table lock)."""
    before = catalog.version(TABLE)
    catalog.insert_new(TABLE, [{"key": secrets.token_hex(12), "subject": s, "at": now} for s in subjects], "key")
    horizon = now - timedelta(seconds=max(limits.window_s, limits.lockout_s))
    # Failures too old to matter, of any subject: names tried once by a sprayer are forgotten too.
    catalog.delete_matching(TABLE, Lt("at", horizon))
    if catalog.version(TABLE) // COMPACT_EVERY_VERSIONS > before // COMPACT_EVERY_VERSIONS:
        catalog.compact(only=[TABLE])   # an optimisation: a failed one never turns a wrong password into an error


def judge(catalog: Catalog, library_root: Path, limits: Limits, target: str, client: str | None,
          verify: Callable[[], bool]) -> bool:
    """Whether ``verify()`` (the password check) says yes, with throttling made atomic: under the target's and
    the client's locks, refuse with ``Locked`` (``verify`` not called) while any count is over its limit, else
    call ``verify`` and record a failure (all three counts) or clear the pair's count. A success does not clear
    the client's or the target's counts, so a guesser with one account of their own cannot wipe their slate."""
    limits_by_subject = counters(target, client, limits)
    pair, client_subj = list(limits_by_subject)[:2]
    with critical(library_root, [_stripe(target), _stripe(client_subj)], limits.lock_wait_s):
        left, scope = lock_state(catalog, limits_by_subject, limits)
        if left > 0:
            raise Locked(left, scope or "target")
        ok = bool(verify())
        with critical(library_root, [TABLE_STRIPE], limits.lock_wait_s):
            if ok:
                if catalog.count(TABLE, Eq("subject", pair)):
                    catalog.delete(TABLE, Eq("subject", pair))
            else:
                _record_failure(catalog, list(limits_by_subject), limits, datetime.now(timezone.utc))
    return ok


def forget_target(catalog: Catalog, library_root: Path, target: str, wait_s: float) -> None:
    """Lift every lock on ``target``: its own count and its pairs with every client (an admin reset)."""
    with critical(library_root, [_stripe(target), TABLE_STRIPE], wait_s):
        catalog.delete_matching(TABLE, Eq("subject", target) | StartsWith("subject", target + "/"))
