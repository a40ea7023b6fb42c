"""Encryption at rest on the command line: ``init --encrypt``, ``encrypt``, ``passphrase change``, ``rotate-key``.

A passphrase comes from ``WORKBENCH_PASSPHRASE``, the file given by ``workbench --passphrase-file`` (or
``WORKBENCH_PASSPHRASE_FILE``), or a terminal prompt. A new one (``passphrase change``) from
``--new-passphrase-file``, ``WORKBENCH_NEW_PASSPHRASE`` or a prompt asked twice.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from workbench.cli.common import JsonOpt, fail, progress_flag, state
from workbench.cli.output import console, emit_json, err_console

passphrase_app = typer.Typer(help="The passphrase of an encrypted library.", no_args_is_help=True)


def _read_first_line(path: Path, what: str) -> str:
    try:
        lines = Path(path).expanduser().read_text().splitlines()
    except OSError as e:
        fail(f"cannot read the {what} file {path}: {e.strerror or e}")
    return lines[0].strip() if lines else ""


def _passphrase(prompt: str, *, confirm: bool) -> str:
    """The passphrase from the environment or --passphrase-file, else asked on the terminal."""
    from workbench.storage.keyring import ask_passphrase, passphrase_from_environment
    value = passphrase_from_environment()
    return value if value is not None else ask_passphrase(prompt, confirm=confirm)


def _show_recovery_key(key: str, root: str, json_out: bool) -> None:
    if json_out:
        emit_json({"library": root, "recovery_key": key})
        return
    console.print("\n[bold]Recovery key[/bold] (shown only now; write it down and keep it away from the library):\n"
                  f"\n    [bold]{key}[/bold]\n\nWith it, `workbench passphrase change --recovery-key-file FILE` sets "
                  "a new passphrase if this one is forgotten. Without the passphrase or this key nothing stored "
                  "can ever be read again.", highlight=False)


def init_encrypted(lib, json_out: bool) -> None:
    """Turn encryption on for a library just made by ``workbench init --encrypt`` (it must hold no files)."""
    from workbench.storage.encrypted import init_encryption
    from workbench.storage.keyring import is_encrypted
    if is_encrypted(lib.root):
        fail(f"{lib.location} is already encrypted")
    if any(True for area in ("originals", "derived", "trash") for _ in lib.storage.list(area)):
        fail(f"{lib.location} already holds files: convert it with `workbench encrypt`")
    _, key = init_encryption(lib.root, _passphrase("New passphrase: ", confirm=True))
    _show_recovery_key(key, str(lib.location), json_out)


def encrypt(json_out: JsonOpt = False) -> None:
    """Encrypt an existing library in place: every original, thumbnail, preview, version and trashed file.

    Safe to interrupt: run it again and it finishes (nothing is lost or encrypted twice). The catalog is not
    encrypted (see docs/storage.md)."""
    from workbench.catalog.lock import WriteLock
    from workbench.library import Library
    from workbench.progress import bar
    from workbench.storage import open_storage
    from workbench.storage.encrypted import CONVERTING, convert_in_place
    from workbench.storage.keyring import is_encrypted
    from workbench.settings import Settings
    from workbench.library import resolve_root
    root = resolve_root(state.library)
    if not (root / "library.json").exists():
        Library.open(root)                                     # the usual "no library here" message
    if is_encrypted(root) and not (root / CONVERTING).exists():
        fail(f"{root} is already encrypted")
    resuming = is_encrypted(root)
    passphrase = _passphrase("Passphrase: " if resuming else "New passphrase: ", confirm=not resuming)
    settings = Settings.load(root)
    with WriteLock(root), bar(None, "encrypt", progress_flag(json_out)) as pb:
        key, counts = convert_in_place(root, open_storage(root), settings, passphrase, on_progress=pb.update)
    if key:
        _show_recovery_key(key, str(root), json_out)
    if json_out:
        emit_json({"library": str(root), **counts})
    else:
        console.print(f"Encrypted {counts['encrypted']} files ({counts['already']} finished by an earlier run); "
                      f"{root} is encrypted.", highlight=False)


@passphrase_app.command("change")
def passphrase_change(
        recovery_key_file: Annotated[Optional[Path], typer.Option(
            help="Unlock with the recovery key in this file instead of the current passphrase.")] = None,
        new_passphrase_file: Annotated[Optional[Path], typer.Option(
            help="Read the new passphrase from this file (else WORKBENCH_NEW_PASSPHRASE, else a prompt).")] = None,
        json_out: JsonOpt = False) -> None:
    """Set a new passphrase. Only the keyring is re-sealed: no stored file is rewritten."""
    from workbench.library import resolve_root
    from workbench.storage.keyring import (ask_passphrase, change_passphrase, is_encrypted, remember,
                                           unlock_with_passphrase, unlock_with_recovery_key)
    root = resolve_root(state.library)
    if not is_encrypted(root):
        fail(f"{root} is not encrypted (`workbench encrypt` encrypts it)")
    if recovery_key_file:
        keys = unlock_with_recovery_key(root, _read_first_line(recovery_key_file, "recovery key"))
    else:
        keys = unlock_with_passphrase(root, _passphrase("Current passphrase: ", confirm=False))
    if new_passphrase_file:
        new = _read_first_line(new_passphrase_file, "new passphrase")
    else:
        new = os.environ.get("WORKBENCH_NEW_PASSPHRASE") or ask_passphrase("New passphrase: ", confirm=True)
    change_passphrase(root, keys, new)
    remember(root, keys)
    if json_out:
        emit_json({"library": str(root), "passphrase": "changed"})
    else:
        console.print("Passphrase changed (the recovery key still works).")


def rotate_key(json_out: JsonOpt = False) -> None:
    """Replace the library's master key: every file's key is re-wrapped (headers only, no data re-encrypted) and
    a new recovery key is shown. Safe to interrupt: run it again to finish."""
    from workbench.catalog.lock import WriteLock
    from workbench.cli.common import open_library
    from workbench.progress import bar
    from workbench.storage.encrypted import EncryptedStorage, rotate_master_key
    lib = open_library()
    if not isinstance(lib.storage, EncryptedStorage):
        fail(f"{lib.location} is not encrypted (`workbench encrypt` encrypts it)")
    passphrase = _passphrase("Passphrase: ", confirm=False)
    with WriteLock(lib.root), bar(None, "rotate", progress_flag(json_out)) as pb:
        key, n = rotate_master_key(lib.root, lib.storage, passphrase, on_progress=pb.update)
    if key:
        _show_recovery_key(key, str(lib.location), json_out)
    elif not json_out:
        err_console.print("Finished an interrupted rotation; the recovery key shown when it began is the one "
                          "that works.")
    if json_out:
        emit_json({"library": str(lib.location), "rewrapped": n})
    else:
        console.print(f"Master key replaced; {n} file keys re-wrapped.")
