"""Password hashing with argon2id. A password is only ever hashed or verified here; it is never stored, logged or
put in an exception message."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# RFC 9106's second recommended setting ("low memory"): argon2id, 3 passes over 64 MiB with 4 lanes. About 0.3 s
# per hash on a shared 2-core machine: slow for a guesser with a stolen catalog, unnoticeable at a login. The
# parameters travel inside each stored hash, so changing them later only makes new hashes stronger; old ones
# are upgraded at their owner's next successful login (``needs_rehash``).
PROFILE = profiles.RFC_9106_LOW_MEMORY


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(PROFILE)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verifying against this when a name is unknown makes a wrong name cost as much time as a wrong password.
    return _hasher().hash("workbench: no such user")


def check_acceptable(password: object, min_length: int) -> str:
    """The password if it can be used; refuses non-strings and short ones (the message never quotes it)."""
    if not isinstance(password, str):
        raise TypeError("a password must be a string")
    if len(password) < min_length:
        raise ValueError(f"a password needs at least {min_length} characters")
    if "\n" in password or "\r" in password:
        raise ValueError("a password cannot contain a line break")
    return password


def hash_password(password: str) -> str:
    """The argon2id encoded hash (algorithm, parameters, random salt and digest) to store."""
    return _hasher().hash(password)


def verify(encoded: str | None, password: str) -> bool:
    """Whether ``password`` matches ``encoded``; with ``encoded`` None (unknown user) it spends the same time
    and says no."""
    if not isinstance(password, str):
        return False
    try:
        ok = _hasher().verify(encoded or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(ok) and encoded is not None


def needs_rehash(encoded: str) -> bool:
    """Whether a stored hash was made with weaker parameters than ``PROFILE``."""
    return _hasher().check_needs_rehash(encoded)
