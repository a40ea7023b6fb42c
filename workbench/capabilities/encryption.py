"""``lib.encryption``: encryption at rest (``storage/encrypted.py``, docs/storage.md): whether the library is
encrypted, encrypting a new one, rotating the master key; and, for a library that is not open, converting one in
place and changing its passphrase."""
from __future__ import annotations

from pathlib import Path

from workbench.capabilities.context import Capability
from workbench.catalog.lock import WriteLock
from workbench.errors import LibraryError
from workbench.progress import bar
from workbench.settings import Settings
from workbench.storage import open_storage
from workbench.storage.location import is_remote, local_home


class Encryption(Capability):
    """``lib.encryption``: ``encrypted``, ``start``, ``rotate_key``."""

    @property
    def encrypted(self) -> bool:
        """Whether this library's files are stored as ciphertext (it was unlocked to open it)."""
        from workbench.storage.encrypted import EncryptedStorage
        return isinstance(self.storage, EncryptedStorage)

    def start(self, passphrase: str | None = None) -> str:
        """Encrypt a library that holds no files yet (``workbench init --encrypt``); returns the recovery key, to be
        shown once. ``passphrase`` None: WORKBENCH_PASSPHRASE, --passphrase-file, or asked twice."""
        from workbench.storage.encrypted import encrypt_empty
        with self.lock:
            key, self.context.storage = encrypt_empty(self.root, self.storage, self.settings, passphrase)
        return key

    def rotate_key(self, passphrase: str | None = None, *, progress: bool | None = None) -> tuple[str | None, int]:
        """Replace the master key: file keys are re-wrapped (headers rewritten, data untouched). Returns the new
        recovery key (None when finishing an interrupted rotation) and how many files were re-wrapped."""
        from workbench.storage.encrypted import rotate_master_key
        if not self.encrypted:
            raise LibraryError(f"{self.context.location} is not encrypted (`workbench encrypt` encrypts it)")
        with self.lock, bar(None, "rotate", progress) as pb:
            return rotate_master_key(self.root, self.storage, passphrase, on_progress=pb.update)


def encrypt_in_place(loc: str | Path, passphrase: str | None = None, *,
                     progress: bool | None = None) -> tuple[str | None, dict[str, int]]:
    """Encrypt the existing library at ``loc`` (a folder or ``s3://``) in place; see ``Library.encrypt``."""
    from workbench.storage.encrypted import convert_in_place
    root = local_home(loc)
    settings = Settings.load(root)
    storage = open_storage(str(loc), settings) if is_remote(loc) else open_storage(root)
    with WriteLock(root), bar(None, "encrypt", progress) as pb:
        return convert_in_place(root, storage, settings, passphrase, on_progress=pb.update)


def change_passphrase(loc: str | Path, new_passphrase: str | None = None, *, passphrase: str | None = None,
                      recovery_key: str | None = None) -> None:
    """Seal the keys of the encrypted library at ``loc`` under a new passphrase; see ``Library.change_passphrase``."""
    from workbench.storage.keyring import change_passphrase_at
    # A folder's keyring is a file in it; a bucket's is an object in it.
    place = open_storage(str(loc), Settings.load(local_home(loc))) if is_remote(loc) else Path(loc)
    change_passphrase_at(place, new_passphrase, passphrase=passphrase, recovery_key=recovery_key)
