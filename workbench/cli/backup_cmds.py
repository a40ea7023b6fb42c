"""``workbench backup`` and ``workbench backups``: point-in-time backups with restic, checks, retention, restores.

The repository password comes from ``--password-file``, ``$WORKBENCH_BACKUP_PASSWORD`` or the library's
``backup_password_file`` setting, never from a command-line argument (shell history, ``ps``).
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from workbench.cli.common import JsonOpt, fail, open_library, print_records, state
from workbench.cli.output import console, emit_json
from workbench.errors import WorkbenchError

TargetArg = Annotated[Optional[str], typer.Argument(
    help="A folder, s3://bucket/prefix, or a restic location (sftp:host:/path); default: the backup_target "
         "setting.")]
TargetOpt = Annotated[Optional[str], typer.Option(
    "--target", "--from", help="The backup repository (a folder, s3://bucket/prefix, sftp:...); default: the "
                               "backup_target setting.")]
PasswordFileOpt = Annotated[Optional[Path], typer.Option(
    "--password-file", help="File holding the repository password (else $WORKBENCH_BACKUP_PASSWORD, else the "
                            "backup_password_file setting).")]


def backup(target: TargetArg = None, password_file: PasswordFileOpt = None, json_out: JsonOpt = False) -> None:
    """Back up the library: each catalog table at one committed version plus the originals and thumbnails,
    encrypted, deduplicated and incremental (restic). Safe while an import runs."""
    try:
        r = open_library().backup(target, password_file=password_file)
    except WorkbenchError as e:
        fail(str(e))
    if json_out:
        emit_json(r)
        return
    console.print(f"Backup {r['snapshot_id']}: {r['media']} media, {r['originals']} originals "
                  f"({r['original_bytes'] / 1e6:.1f} MB), {r['files_new']} new and {r['files_changed']} changed "
                  f"files, {r['data_added_bytes'] / 1e6:.1f} MB added, {r['duration_s']:.1f} s."
                  + (f" Retention removed {len(r['forgotten'])} old backups." if r["forgotten"] else ""))


backups_app = typer.Typer(help="Backups made by `workbench backup`: list, verify, apply retention, restore.",
                          no_args_is_help=True)


@backups_app.command("list")
def backups_list(target: TargetArg = None, password_file: PasswordFileOpt = None, json_out: JsonOpt = False) -> None:
    """The backups in the repository, oldest first."""
    try:
        df = open_library().backups(target, password_file=password_file)
    except WorkbenchError as e:
        fail(str(e))
    print_records(df.to_dict("records"), json_out=json_out, title="{n} backups",
                  columns=["id", "time", "media", "originals"],
                  row=lambda r: [r["short_id"], r["time"][:19].replace("T", " "), r["media"], r["originals"]])


@backups_app.command("verify")
def backups_verify(target: TargetArg = None,
                   read_data: Annotated[Optional[float], typer.Option(
                       "--read-data", min=0, max=100,
                       help="Also re-read and re-hash this percent of the stored data (a different part each "
                            "run).")] = None,
                   password_file: PasswordFileOpt = None, json_out: JsonOpt = False) -> None:
    """Check the repository (restic check). Exits 2 with restic's report if anything is damaged."""
    try:
        r = open_library().verify_backups(target, read_data_percent=read_data, password_file=password_file)
    except WorkbenchError as e:
        fail(str(e))
    emit_json(r) if json_out else console.print(
        f"Backups intact: {r['snapshots']} backups checked"
        + (f", {r['read_data_percent']:g}% of the data re-read" if r["read_data_percent"] else "")
        + f" ({r['seconds']:.1f} s).")


@backups_app.command("forget")
def backups_forget(target: TargetArg = None, password_file: PasswordFileOpt = None, json_out: JsonOpt = False) -> None:
    """Apply the retention settings (backup_keep_last/daily/weekly/monthly) and free the space."""
    try:
        removed = open_library().forget_backups(target, password_file=password_file)
    except WorkbenchError as e:
        fail(str(e))
    emit_json({"removed": removed}) if json_out else console.print(f"{len(removed)} old backups removed.")


def _at(text: Optional[str]) -> datetime | str | None:
    """A date/time (local unless it says otherwise) or a backup id."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return text.strip()


def restore_from_backup(ids: Optional[list[str]], to: Optional[Path], at: Optional[str], target: Optional[str],
                        password_file: Optional[Path], json_out: bool) -> None:
    """``--to DIR``: the whole library into a new folder; else media IDS back into the live library."""
    from workbench.library import Library, resolve_root
    try:
        if to is not None:
            if ids:
                fail("give either --to DIR (the whole library) or media ids (into this library), not both")
            r = Library.restore_library(to, target, at=_at(at), password_file=password_file,
                                        settings_from=resolve_root(state.library))
            emit_json(r) if json_out else console.print(
                f"Restored backup {r['snapshot'][:8]} of {r['time'][:19].replace('T', ' ')} into {to}: "
                f"{r['media']} media, {r['originals']} originals"
                + (" (already there)." if r["already_restored"] else ". Check it with "
                   f"`workbench --library {to} verify`."))
            return
        if not ids:
            fail("name media ids to bring back, or --to DIR to restore the whole library into a new folder")
        df = open_library().restore_from_backup(ids, target, at=_at(at), password_file=password_file)
    except WorkbenchError as e:
        fail(str(e))
    print_records(df.to_dict("records"), json_out=json_out, title="{n} media restored from backup",
                  columns=["id", "original", "row"], row=lambda r: [r["id"], r["original"], r["row"]])


@backups_app.command("restore")
def backups_restore(ids: Annotated[Optional[list[str]], typer.Argument(
                        help="Media ids (or prefixes) to bring back into this library.")] = None,
                    to: Annotated[Optional[Path], typer.Option(
                        "--to", help="Restore the whole library into this new or empty folder.")] = None,
                    at: Annotated[Optional[str], typer.Option(
                        "--at", help="The backup taken at or before this time (2025-06-30T18:00), or a backup id; "
                                     "default: the latest.")] = None,
                    target: TargetOpt = None, password_file: PasswordFileOpt = None,
                    json_out: JsonOpt = False) -> None:
    """Restore from a backup: --to DIR for a whole library (it opens and passes `verify`), or a few media ids
    (original and rows) back into this library."""
    restore_from_backup(ids, to, at, target, password_file, json_out)
