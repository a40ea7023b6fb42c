"""restic, driven through its ``--json`` output: the engine behind ``workbench backup``.

Why restic (measured in docs/benchmarks.md, backup): it encrypts (AES-256 + Poly1305), deduplicates by
content-defined chunks, writes incrementally, talks to a folder, S3 and SFTP, and ``restic check
--read-data-subset`` re-reads a sample of the stored data, all from one static binary that Debian packages. We only
decide *what* goes into a snapshot (``workbench.backup.snapshot``) and parse what restic reports.

The repository password never appears on a command line (where ``ps`` would show it): it reaches restic as
``RESTIC_PASSWORD`` or ``RESTIC_PASSWORD_FILE`` in the child's environment.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

#: Native restic repository prefixes passed through unchanged.
NATIVE_PREFIXES = ("s3:", "sftp:", "rest:", "b2:", "azure:", "gs:", "swift:", "rclone:")
#: The host name written into every snapshot, so restic finds the previous snapshot of the same paths (its
#: "parent", which makes the next backup incremental) whatever machine the library is on.
HOST = "workbench"
TAG = "workbench"


class BackupError(WorkbenchError):
    """A backup, check or restore failed; the message says what restic reported and what to do."""


def restic_binary() -> str:
    """The restic executable, or an actionable error when it is not installed."""
    exe = shutil.which("restic")
    if not exe:
        raise BackupError("restic is not installed: install it (`sudo apt-get install restic`, or run "
                          "`make setup` as root) and try again")
    return exe


def repository(target: str) -> str:
    """restic's name for ``target``: a folder (made absolute), ``s3://bucket/prefix`` (endpoint from
    ``AWS_ENDPOINT_URL`` when set, else AWS) or a native restic location (``s3:``, ``sftp:``, ``rest:`` ...)."""
    target = str(target)
    if target.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "https://s3.amazonaws.com").rstrip("/")
        return f"s3:{endpoint}/{target[len('s3://'):]}"
    if target.startswith(NATIVE_PREFIXES):
        return target
    return str(Path(target).expanduser().absolute())


def _command(args: list[str]) -> list[str]:
    """``restic ARGS``, started so restic gets SIGKILL when its parent dies (a killed ``workbench backup`` must not
    leave restic writing on its own): util-linux's ``setpriv --pdeathsig``, which Debian always has. (A
    ``preexec_fn`` would do the same but forces a plain fork of a process that runs LanceDB's threads.)"""
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "KILL"] if setpriv else []
    return [*prefix, restic_binary(), *args]


@dataclass
class Restic:
    """One repository and how to unlock it: ``password`` or ``password_file`` (one of them is required)."""

    repo: str
    password: str | None = None
    password_file: Path | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env["RESTIC_REPOSITORY"] = self.repo
        if self.password is not None:
            env["RESTIC_PASSWORD"] = self.password
        elif self.password_file is not None:
            env["RESTIC_PASSWORD_FILE"] = str(Path(self.password_file).expanduser().absolute())
        else:
            raise BackupError("no backup password: set WORKBENCH_BACKUP_PASSWORD, pass --password-file FILE, or "
                              "set backup_password_file in the library's settings.json")
        env.setdefault("RESTIC_CACHE_DIR", str(Path.home() / ".cache" / "restic"))
        return env

    def run(self, args: list[str], *, cwd: Path | None = None, check: bool = True,
            timeout_s: float | None = None) -> subprocess.CompletedProcess:
        """Run ``restic ARGS`` and return the finished process; a failure raises with restic's own words."""
        proc = subprocess.run(_command(args), env=self._env(), cwd=cwd, capture_output=True, text=True,
                              timeout=timeout_s)
        if proc.returncode != 0 and "already locked" in proc.stderr and args[0] != "unlock":
            # A lock left by a killed run (restic removes only those of dead processes): clear and retry once.
            self.unlock()
            proc = subprocess.run(_command(args), env=self._env(), cwd=cwd, capture_output=True, text=True,
                                  timeout=timeout_s)
        if check and proc.returncode != 0:
            raise BackupError(explain(args[0], proc.stderr or proc.stdout))
        return proc

    # -- the repository ---------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether a repository is already there (a local folder is checked without asking restic)."""
        if not self.repo.startswith(NATIVE_PREFIXES):
            return (Path(self.repo) / "config").is_file()
        proc = self.run(["cat", "config"], check=False)
        if proc.returncode == 0:
            return True
        if "unable to open config file" in proc.stderr or "Is there a repository" in proc.stderr:
            return False
        raise BackupError(explain("cat", proc.stderr))

    def init_if_missing(self) -> bool:
        """Create the repository when it does not exist yet; True if this call created it."""
        if self.exists():
            return False
        self.run(["init"])
        return True

    def unlock(self) -> None:
        """Remove stale locks (left by a killed run); locks of live restic processes stay."""
        self.run(["unlock"], check=False)

    def sweep_tmp(self, older_than: float) -> int:
        """Delete the temporary pack files a killed restic left in a folder repository (``data/xx/<id>-tmp-N``,
        never renamed into a pack, so restic neither uses nor prunes them) that nobody has written since
        ``older_than`` (a live writer's file keeps changing). Returns how many."""
        if self.repo.startswith(NATIVE_PREFIXES):
            return 0
        n = 0
        for f in (Path(self.repo) / "data").glob("*/*-tmp-*"):
            try:
                if f.stat().st_mtime < older_than:
                    f.unlink()
                    n += 1
            except FileNotFoundError:
                continue
        return n

    # -- snapshots --------------------------------------------------------------------------------------------
    def backup(self, folder: Path, *, tags: list[str], compression: str = "auto") -> dict[str, Any]:
        """Back up ``folder`` (incremental against the last snapshot of the same path); returns restic's JSON
        summary (``snapshot_id``, ``data_added``, ``total_bytes_processed``, ...).

        ``--ignore-ctime --ignore-inode``: the folder is a fresh set of hard links each time, which changes every
        file's ctime; files are unchanged when size and mtime are (originals and Lance files are immutable)."""
        args = ["backup", "--json", "--host", HOST, "--ignore-ctime", "--ignore-inode", "--compression", compression,
                str(folder)]
        for t in [TAG, *tags]:
            args += ["--tag", t]
        proc = self.run(args, cwd=folder)
        summary = None
        for line in proc.stdout.splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("message_type") == "summary":
                summary = msg
        if summary is None or not summary.get("snapshot_id"):
            raise BackupError("restic finished without reporting a snapshot: " + (proc.stderr or "")[-500:])
        return summary

    def snapshots(self) -> list[dict[str, Any]]:
        """Every workbench snapshot, oldest first."""
        proc = self.run(["snapshots", "--json", "--tag", TAG])
        return sorted(json.loads(proc.stdout or "[]") or [], key=lambda s: s["time"])

    def dump(self, snapshot_id: str, path: str) -> bytes:
        """One file of a snapshot, without restoring anything."""
        proc = subprocess.run(_command(["dump", snapshot_id, path]), env=self._env(), capture_output=True)
        if proc.returncode != 0:
            raise BackupError(explain("dump", proc.stderr.decode(errors="replace")))
        return proc.stdout

    def restore(self, snapshot_id: str, target: Path, includes: list[str] | None = None) -> None:
        """Restore a snapshot (or only the ``includes`` paths of it) under ``target`` (restic keeps the snapshot's
        absolute paths below it)."""
        args = ["restore", snapshot_id, "--target", str(target)]
        for inc in includes or []:
            args += ["--include", inc]
        self.run(args)

    def check(self, read_data_percent: float | None = None) -> str:
        """``restic check`` (structure and index), plus re-reading ``read_data_percent`` % of the stored data;
        returns restic's report, raises if it found damage."""
        args = ["check"]
        if read_data_percent:
            args.append(f"--read-data-subset={float(read_data_percent):g}%")
        return self.run(args).stdout

    def forget(self, *, keep_last: int, keep_daily: int, keep_weekly: int, keep_monthly: int,
               prune: bool) -> list[str]:
        """Apply the retention policy to workbench snapshots (and free the space with ``prune``); returns the
        ids of the snapshots removed."""
        args = ["forget", "--json", "--tag", TAG, "--group-by", "host,paths",
                "--keep-last", str(keep_last), "--keep-daily", str(keep_daily),
                "--keep-weekly", str(keep_weekly), "--keep-monthly", str(keep_monthly)]
        if prune:
            args.append("--prune")
        proc = self.run(args)
        removed: list[str] = []
        for line in proc.stdout.splitlines():
            try:
                groups = json.loads(line)
            except ValueError:
                continue
            for g in groups if isinstance(groups, list) else []:
                removed += [s["id"] for s in g.get("remove") or []]
        return removed


def explain(command: str, stderr: str) -> str:
    """restic's complaint turned into one actionable sentence (the common causes named, the rest quoted)."""
    text = " ".join(line.strip() for line in (stderr or "").strip().splitlines() if line.strip())[-600:]
    if "no space left on device" in text:
        return (f"the backup target is full (restic {command}: no space left on device); earlier backups are "
                f"untouched: free space there or choose another target, then run the command again")
    if "wrong password" in text or "no key found" in text:
        return "wrong backup password for this repository (WORKBENCH_BACKUP_PASSWORD / --password-file)"
    if "repository is already locked" in text:
        return f"another restic process is using this repository ({text}); wait for it and try again"
    return f"restic {command} failed: {text or 'no message'}"
