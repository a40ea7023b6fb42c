"""A library's keys: a random master key and name key, kept in ``<library>/encryption.json`` only wrapped.

The secret part (master keys by id, the name key) is one small JSON payload sealed with AES-256-GCM twice: under a
key derived from the passphrase with argon2id (parameters recorded next to it, so they can be raised later) and
under a random recovery key shown once when the keyring is made. Changing the passphrase re-seals this payload;
rotating the master key adds a new one, re-wraps every object's file key (a 74-byte header, see
``workbench.storage.encrypted``) and drops the old one. No stored object is re-encrypted by either.

Where the passphrase comes from, first found wins: the ``passphrase`` argument, ``WORKBENCH_PASSPHRASE``,
the file named by ``WORKBENCH_PASSPHRASE_FILE`` (``workbench --passphrase-file``), the keys already unlocked in this
process (a notebook or gallery kernel opening the library again), a terminal prompt.
"""
from __future__ import annotations

import base64
import getpass
import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workbench.errors import WorkbenchError

KEYRING_FILE = "encryption.json"
FORMAT = "workbench-keyring"
_AAD = b"workbench-keyring-v1"


class LockedError(WorkbenchError):
    """The library is encrypted and could not be unlocked (no passphrase, a wrong one, a damaged keyring)."""


@dataclass(frozen=True)
class KdfParams:
    """argon2id cost, recorded in the keyring. Defaults are RFC 9106's second recommendation (t=3, 64 MiB, p=4):
    about 0.2 s on one core here, paid once per process that unlocks the library."""

    time_cost: int = 3
    memory_cost_kib: int = 65536
    parallelism: int = 4
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def derive(self, passphrase: str) -> bytes:
        return hash_secret_raw(passphrase.encode("utf-8"), self.salt, time_cost=self.time_cost,
                               memory_cost=self.memory_cost_kib, parallelism=self.parallelism, hash_len=32,
                               type=Type.ID)

    def to_json(self) -> dict:
        return {"name": "argon2id", "time_cost": self.time_cost, "memory_cost_kib": self.memory_cost_kib,
                "parallelism": self.parallelism, "hash_len": 32, "salt": _b64(self.salt)}

    @classmethod
    def from_json(cls, d: dict) -> "KdfParams":
        if d.get("name") != "argon2id":
            raise LockedError(f"unknown key derivation {d.get('name')!r} in {KEYRING_FILE}")
        return cls(int(d["time_cost"]), int(d["memory_cost_kib"]), int(d["parallelism"]), _unb64(d["salt"]))


@dataclass
class Keys:
    """The unlocked secrets: master keys by id (the current one wraps new file keys) and the name key."""

    library_id: str
    master_keys: dict[int, bytes]
    current: int
    name_key: bytes

    def payload(self) -> bytes:
        return json.dumps({"master_keys": {str(k): _b64(v) for k, v in self.master_keys.items()},
                           "current": self.current, "name_key": _b64(self.name_key)}).encode()

    @classmethod
    def from_payload(cls, library_id: str, data: bytes) -> "Keys":
        d = json.loads(data)
        return cls(library_id, {int(k): _unb64(v) for k, v in d["master_keys"].items()}, int(d["current"]),
                   _unb64(d["name_key"]))

    @classmethod
    def new(cls) -> "Keys":
        mk_id = secrets.randbits(32)
        return cls(secrets.token_hex(8), {mk_id: secrets.token_bytes(32)}, mk_id, secrets.token_bytes(32))


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    return base64.b64decode(s)


def _seal(kek: bytes, payload: bytes, library_id: str) -> dict:
    nonce = secrets.token_bytes(12)
    return {"nonce": _b64(nonce), "ciphertext": _b64(AESGCM(kek).encrypt(nonce, payload, _AAD + library_id.encode()))}


def _open(kek: bytes, sealed: dict, library_id: str) -> bytes:
    return AESGCM(kek).decrypt(_unb64(sealed["nonce"]), _unb64(sealed["ciphertext"]), _AAD + library_id.encode())


def format_recovery_key(raw: bytes) -> str:
    """32 random bytes as 13 groups of 4 base32 letters: readable aloud, typed back with or without dashes."""
    s = base64.b32encode(raw).decode().rstrip("=")
    return "-".join(s[i:i + 4] for i in range(0, len(s), 4))


def parse_recovery_key(text: str) -> bytes:
    s = "".join(ch for ch in text.upper() if ch.isalnum())
    try:
        raw = base64.b32decode(s + "=" * (-len(s) % 8))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise LockedError("that is not a recovery key (13 groups of 4 letters and digits, as shown at init)")
    return raw


def _recovery_kek(raw: bytes) -> bytes:
    # The recovery key is 256 random bits: HKDF, not a slow KDF, is the right way to turn it into a key.
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"workbench recovery key").derive(raw)


def keyring_path(root: Place) -> Path:
    return Path(root) / KEYRING_FILE


#: Where a keyring is: a local library's folder, or the storage of a library on object storage (the keyring then
#: sits in the bucket next to library.json, so any machine with the passphrase can unlock it).
Place = "Path | Storage"


def _is_folder(root) -> bool:
    return isinstance(root, (str, os.PathLike))


def _describe(root) -> str:
    return str(root) if _is_folder(root) else f"{getattr(root, 'location', root)}"


def is_encrypted(root: Place) -> bool:
    return keyring_path(root).exists() if _is_folder(root) else root.exists(KEYRING_FILE)


def write_keyring(root: Place, keys: Keys, passphrase: str, *, kdf: KdfParams | None = None,
                  recovery_raw: bytes | None = None, keep_recovery_from: dict | None = None) -> str | None:
    """Seal ``keys`` under ``passphrase`` (and a recovery key) into the keyring file, atomically. Returns the new
    recovery key's text when one was made (``recovery_raw`` None and nothing to keep), else None."""
    if not passphrase:
        raise LockedError("an empty passphrase protects nothing: choose one")
    kdf = kdf or KdfParams()
    shown = None
    if keep_recovery_from is not None and recovery_raw is None:
        by_recovery = keep_recovery_from
    else:
        if recovery_raw is None:
            recovery_raw = secrets.token_bytes(32)
            shown = format_recovery_key(recovery_raw)
        by_recovery = _seal(_recovery_kek(recovery_raw), keys.payload(), keys.library_id)
    doc = {"format": FORMAT, "version": 1, "library_id": keys.library_id, "cipher": "AES-256-GCM",
           "kdf": kdf.to_json(), "by_passphrase": _seal(kdf.derive(passphrase), keys.payload(), keys.library_id),
           "by_recovery": by_recovery}
    text = json.dumps(doc, indent=2) + "\n"
    if not _is_folder(root):
        root.write(KEYRING_FILE, text.encode())
        return shown
    path = keyring_path(root)
    tmp = path.with_suffix(".json.part")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return shown


def read_keyring(root: Place) -> dict:
    where = f"{_describe(root)}/{KEYRING_FILE}"
    try:
        doc = json.loads(keyring_path(root).read_text() if _is_folder(root) else root.read_bytes(KEYRING_FILE))
    except FileNotFoundError:
        raise LockedError(f"{_describe(root)} is marked encrypted but its keyring {KEYRING_FILE} is missing: "
                          f"restore it from a backup (without it nothing stored can be read)") from None
    except ValueError as e:
        raise LockedError(f"{where} is damaged ({e}): restore it from a backup") from None
    if doc.get("format") != FORMAT:
        raise LockedError(f"{where} is not a workbench keyring")
    return doc


def unlock_with_passphrase(root: Place, passphrase: str) -> Keys:
    doc = read_keyring(root)
    kek = KdfParams.from_json(doc["kdf"]).derive(passphrase)
    try:
        payload = _open(kek, doc["by_passphrase"], doc["library_id"])
    except InvalidTag:
        raise LockedError(f"wrong passphrase for the encrypted library {_describe(root)} (forgotten? `workbench passphrase "
                          f"change --recovery-key-file FILE` sets a new one with the recovery key)") from None
    return Keys.from_payload(doc["library_id"], payload)


def unlock_with_recovery_key(root: Place, recovery_key: str) -> Keys:
    doc = read_keyring(root)
    try:
        payload = _open(_recovery_kek(parse_recovery_key(recovery_key)), doc["by_recovery"], doc["library_id"])
    except InvalidTag:
        raise LockedError(f"that recovery key does not open the library {_describe(root)}") from None
    return Keys.from_payload(doc["library_id"], payload)


def change_passphrase(root: Place, keys: Keys, new_passphrase: str) -> None:
    """Re-seal the (unchanged) keys under a new passphrase, with fresh argon2id salt; the recovery key stays."""
    doc = read_keyring(root)
    old = KdfParams.from_json(doc["kdf"])
    write_keyring(root, keys, new_passphrase, kdf=KdfParams(old.time_cost, old.memory_cost_kib, old.parallelism),
                  keep_recovery_from=doc["by_recovery"])


# -- where the passphrase comes from ------------------------------------------------------------------------
_UNLOCKED: dict[tuple[str, str], Keys] = {}


def passphrase_from_environment() -> str | None:
    """``WORKBENCH_PASSPHRASE``, else the first line of ``WORKBENCH_PASSPHRASE_FILE``, else None."""
    value = os.environ.get("WORKBENCH_PASSPHRASE")
    if value:
        return value
    path = os.environ.get("WORKBENCH_PASSPHRASE_FILE")
    if path:
        try:
            lines = Path(path).expanduser().read_text().splitlines()
            return lines[0] if lines else ""
        except OSError as e:
            raise LockedError(f"cannot read the passphrase file {path}: {e.strerror or e}") from None
    return None


def ask_passphrase(prompt: str, *, confirm: bool = False) -> str:
    """A terminal prompt (never echoed); LockedError when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        raise LockedError("the library is encrypted: give its passphrase in WORKBENCH_PASSPHRASE or a file with "
                          "--passphrase-file (WORKBENCH_PASSPHRASE_FILE), or run on a terminal")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat it: ") != value:
        raise LockedError("the two passphrases differ; nothing was changed")
    return value


def passphrase_or_ask(value: str | None, prompt: str, *, confirm: bool = False) -> str:
    """``value``, else the environment's (see ``passphrase_from_environment``), else asked on the terminal."""
    if value is not None:
        return value
    env = passphrase_from_environment()
    return env if env is not None else ask_passphrase(prompt, confirm=confirm)


def change_passphrase_at(root: Place, new_passphrase: str | None = None, *, passphrase: str | None = None,
                         recovery_key: str | None = None) -> None:
    """Unlock with ``recovery_key`` (if given) or the current passphrase, and seal the keys under the new one
    (``new_passphrase``, else ``WORKBENCH_NEW_PASSPHRASE``, else asked twice)."""
    if not is_encrypted(root):
        raise LockedError(f"{_describe(root)} is not encrypted (`workbench encrypt` encrypts it)")
    if recovery_key is not None:
        keys = unlock_with_recovery_key(root, recovery_key)
    else:
        keys = unlock_with_passphrase(root, passphrase_or_ask(passphrase, "Current passphrase: "))
    new = new_passphrase if new_passphrase is not None else (
        os.environ.get("WORKBENCH_NEW_PASSPHRASE") or ask_passphrase("New passphrase: ", confirm=True))
    change_passphrase(root, keys, new)
    remember(root, keys)


def unlock(root: Place, passphrase: str | None = None) -> Keys:
    """The keys of the encrypted library at ``root``, from the first source that has a passphrase (see module)."""
    doc_id = read_keyring(root)["library_id"]
    cache_key = (_cache_key(root), doc_id)
    if passphrase is None:
        passphrase = passphrase_from_environment()
    if passphrase is None and cache_key in _UNLOCKED:
        return _UNLOCKED[cache_key]
    asked = passphrase is None
    if asked:
        passphrase = ask_passphrase(f"Passphrase for {_describe(root)}: ")
    keys = unlock_with_passphrase(root, passphrase)
    _UNLOCKED[cache_key] = keys
    if asked:
        # Typed once on the terminal: the processes this one starts (gallery kernels, dashboards, workers) open
        # the library too, and they have no terminal to ask on. Only this user's processes can read it there.
        os.environ["WORKBENCH_PASSPHRASE"] = passphrase
    return keys


def remember(root: Place, keys: Keys) -> None:
    """Keep ``keys`` unlocked for this process (after init, a passphrase change or a rotation)."""
    _UNLOCKED[(_cache_key(root), keys.library_id)] = keys


def _cache_key(root) -> str:
    return str(Path(root).resolve()) if _is_folder(root) else _describe(root)


def forget_unlocked() -> None:
    """Forget every key unlocked in this process: the next open asks for the passphrase again."""
    _UNLOCKED.clear()
