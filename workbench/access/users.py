"""User accounts: a name, a role and an argon2id password hash. Nothing here returns or prints the hash."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pandas as pd

from workbench.access import passwords
from workbench.catalog.filters import Eq
from workbench.catalog.store import Catalog
from workbench.catalog.versioned import AtVersions
from workbench.errors import NotFoundError

TABLE = "users"
ROLES = ("admin", "curator", "viewer")
USER_COLUMNS = ["name", "role", "created_at", "updated_at"]
# Letters, digits and . _ @ - (so a name works in a URL, a shell and as a media owner), 1 to 64 characters.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError("a user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or "
                         "digit")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return role


#: Every account as read at one version of the table, per catalog. A view checks its user's account on every
#: call (a role change or a removal applies at once); reading one row scanned the table each time (~5 ms of CPU,
#: the largest share of a gallery page's listing with the session check, docs/benchmarks.md). While the table's
#: version (a manifest read, ~0.1 ms; any process's write moves it) stays the same, the rows read at it answer.
_accounts_now: AtVersions[dict[str, dict]] = AtVersions(
    [TABLE], lambda catalog: {r["name"]: r for r in catalog.read(TABLE, None).to_pylist()})


def row(catalog: Catalog, name: str) -> dict | None:
    """The stored row (with the hash: for ``login`` only), or None."""
    if not isinstance(name, str):
        return None
    r = _accounts_now(catalog).get(name)
    return dict(r) if r is not None else None


def exists(catalog: Catalog, name: str) -> bool:
    """Whether an account of this name exists now."""
    return isinstance(name, str) and name in _accounts_now(catalog)


def require(catalog: Catalog, name: str) -> dict:
    r = row(catalog, name)
    if r is None:
        raise NotFoundError(f"no user named {name!r}: see `workbench users list`")
    return r


def add(catalog: Catalog, name: str, password: str, role: str, min_length: int) -> None:
    check_name(name)
    check_role(role)
    passwords.check_acceptable(password, min_length)
    if row(catalog, name) is not None:
        raise ValueError(f"there is already a user named {name!r}; change their password with "
                         f"`workbench users passwd {name}`")
    now = datetime.now(timezone.utc)
    catalog.insert_new(TABLE, [{"name": name, "password_hash": passwords.hash_password(password), "role": role,
                                "created_at": now, "updated_at": now}], "name")


def set_password(catalog: Catalog, name: str, password: str, min_length: int) -> None:
    require(catalog, name)
    passwords.check_acceptable(password, min_length)
    catalog.update(TABLE, Eq("name", name), {"password_hash": passwords.hash_password(password),
                                                        "updated_at": datetime.now(timezone.utc)})


def store_rehash(catalog: Catalog, name: str, password: str) -> None:
    """After a successful login with an outdated hash: store one made with the current parameters."""
    catalog.update(TABLE, Eq("name", name), {"password_hash": passwords.hash_password(password)})


def set_role(catalog: Catalog, name: str, role: str) -> None:
    require(catalog, name)
    check_role(role)
    catalog.update(TABLE, Eq("name", name), {"role": role, "updated_at": datetime.now(timezone.utc)})


def remove(catalog: Catalog, name: str) -> None:
    require(catalog, name)
    catalog.delete(TABLE, Eq("name", name))


def frame(catalog: Catalog) -> pd.DataFrame:
    """[name, role, created_at, updated_at], by name: never the password hash."""
    df = catalog.read(TABLE, USER_COLUMNS).to_pandas()
    return df.sort_values("name").reset_index(drop=True)
