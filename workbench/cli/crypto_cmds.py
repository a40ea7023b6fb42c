"""Encryption at rest on the command line: ``init --encrypt``, ``encrypt``, ``passphrase change``, ``rotate-key``.

A passphrase comes from ``WORKBENCH_PASSPHRASE``, the file given by ``workbench --passphrase-file`` (or
``WORKBENCH_PASSPHRASE_FILE``), or a terminal prompt. A new one (``passphrase change``) from
``--new-passphrase-file``, ``WORKBENCH_NEW_PASSPHRASE`` or a prompt asked twice.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from workbench.cli.common import JsonOpt, fail, open_library, progress_flag, state
from workbench.cli.output import console, emit_json, err_console

passphrase_app = typer.Typer(help="The passphrase of an encrypted library.", no_args_is_help=True)


def _read_first_line(path: Path, what: str) -> str:
    try:
        lines = Path(path).expanduser().read_text().splitlines()
    except OSError as e:
        fail(f"cannot read the {what} file {path}: {e.strerror or e}")
    return lines[0].strip() if lines else ""


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
    _show_recovery_key(lib.start_encryption(), str(lib.location), json_out)


def encrypt(json_out: JsonOpt = False) -> None:
    """Encrypt an existing library in place: every original, thumbnail, preview, version and trashed file.

    Safe to interrupt: run it again and it finishes (nothing is lost or encrypted twice). The catalog is not
    encrypted (see docs/storage.md)."""
    from workbench.library import Library
    key, counts = Library.encrypt(state.library, progress=progress_flag(json_out))
    where = str(state.library or "the library")
    if key:
        _show_recovery_key(key, where, json_out)
    if json_out:
        emit_json({"library": where, **counts})
    else:
        console.print(f"Encrypted {counts['encrypted']} files ({counts['already']} finished by an earlier run); "
                      f"the library is encrypted.", highlight=False)


@passphrase_app.command("change")
def passphrase_change(
        recovery_key_file: Annotated[Optional[Path], typer.Option(
            help="Unlock with the recovery key in this file instead of the current passphrase.")] = None,
        new_passphrase_file: Annotated[Optional[Path], typer.Option(
            help="Read the new passphrase from this file (else WORKBENCH_NEW_PASSPHRASE, else a prompt).")] = None,
        json_out: JsonOpt = False) -> None:
    """Set a new passphrase. Only the keyring is re-sealed: no stored file is rewritten."""
    from workbench.library import Library
    Library.change_passphrase(
        state.library,
        _read_first_line(new_passphrase_file, "new passphrase") if new_passphrase_file else None,
        recovery_key=_read_first_line(recovery_key_file, "recovery key") if recovery_key_file else None)
    if json_out:
        emit_json({"passphrase": "changed"})
    else:
        console.print("Passphrase changed (the recovery key still works).")


def rotate_key(json_out: JsonOpt = False) -> None:
    """Replace the library's master key: every file's key is re-wrapped (headers only, no data re-encrypted) and
    a new recovery key is shown. Safe to interrupt: run it again to finish."""
    lib = open_library()
    key, n = lib.rotate_key(progress=progress_flag(json_out))
    if key:
        _show_recovery_key(key, str(lib.location), json_out)
    elif not json_out:
        err_console.print("Finished an interrupted rotation; the recovery key shown when it began is the one "
                          "that works.")
    if json_out:
        emit_json({"library": str(lib.location), "rewrapped": n})
    else:
        console.print(f"Master key replaced; {n} file keys re-wrapped.")
