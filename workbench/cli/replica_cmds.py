"""``workbench replicas`` (add, list, status, sync, remove) and ``workbench scrub``: copies of every original in
other stores, verified by hash, and the re-reading that finds and repairs damage (docs/archive.md)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from workbench.cli.common import JsonOpt, fail, open_library, print_records, progress_flag
from workbench.cli.output import console, emit_json, err_console, table

replicas_app = typer.Typer(help="Replica stores: other folders or buckets holding a verified copy of every original.",
                           no_args_is_help=True)


@replicas_app.command("add")
def replicas_add(target: Annotated[str, typer.Argument(help="A folder (ideally on another disk) or s3://bucket/prefix.")],
                 name: Annotated[Optional[str], typer.Option(help="A short name (default: the folder's or "
                                                                  "bucket prefix's last part).")] = None,
                 json_out: JsonOpt = False) -> None:
    """Name a new replica store. Originals are copied there by `replicas sync`, and by every `process`."""
    lib = open_library()
    row = lib.replicas.add(target, name=name)
    if json_out:
        emit_json({"name": row["name"], "target": row["target"]})
    else:
        console.print(f"Replica [bold]{row['name']}[/bold] at {row['target']}: run `workbench replicas sync` to "
                      f"copy the originals now (every `workbench process` also does).", highlight=False)


@replicas_app.command("list")
def replicas_list(json_out: JsonOpt = False) -> None:
    """The replica stores of this library."""
    lib = open_library()
    print_records(lib.replicas.list(), json_out=json_out, title="{n} replicas", columns=["name", "target", "added"],
                  row=lambda r: [r["name"], r["target"], r["added_at"].strftime("%Y-%m-%d %H:%M")])


@replicas_app.command("status")
def replicas_status(json_out: JsonOpt = False) -> None:
    """Per replica: originals safe there (copied and verified by hash) and pending."""
    lib = open_library()
    df = lib.replicas.status()
    print_records(df.to_dict("records"), json_out=json_out, title="{n} replicas",
                  columns=["replica", "target", "safe", "pending"],
                  row=lambda r: [r["replica"], r["target"], r["safe"], r["pending"]])


@replicas_app.command("sync")
def replicas_sync(names: Annotated[Optional[list[str]], typer.Argument(help="Replicas to sync (default: all).")]
                  = None, json_out: JsonOpt = False) -> None:
    """Copy every original not yet on a replica there and verify it by hash. Interrupt any time: a rerun
    resumes. Exits 1 if an original could not be copied."""
    lib = open_library()
    if not lib.replicas.list():
        fail("this library has no replicas yet: add one with `workbench replicas add PATH|s3://bucket/prefix`")
    reports = lib.replicas.sync(names or None, progress=progress_flag(json_out))
    failed = False
    for r in reports:
        failed |= bool(r.failures)
        if json_out:
            emit_json({"replica": r.replica, "copied": r.copied, "already_there": r.already_there,
                       "bytes_copied": r.bytes_copied,
                       "failures": [{"id": i, "reason": why} for i, why in r.failures]})
            continue
        console.print(f"{r.replica}: {r.copied} copied ({r.bytes_copied / 1e6:.1f} MB), {r.already_there} found "
                      f"there already, {len(r.failures)} failed")
        for i, why in r.failures[:20]:
            console.print(f"  [red]x[/red] {i}: {why}")
    if failed:
        raise typer.Exit(1)


@replicas_app.command("remove")
def replicas_remove(name: str) -> None:
    """Forget a replica (its files stay where they are)."""
    lib = open_library()
    lib.replicas.remove(name)
    console.print(f"Replica {name} removed from this library; its files were left in place.")


def scrub(sample: Annotated[float, typer.Option("--sample", help="Check this percent of everything, continuing "
                                                                 "where the last scrub stopped.")] = 100.0,
          budget_s: Annotated[Optional[float], typer.Option("--budget-s", help="Stop after this many seconds "
                                                                               "(the next scrub continues).")] = None,
          json_out: JsonOpt = False) -> None:
    """Re-read originals, replica copies and thumbnails/previews, check their hashes, and repair what is wrong from
    a verified copy: an original from a replica, a replica copy from the library, a rendition by rebuilding it.
    Exits 1 if something could not be repaired (it is listed and left as it is)."""
    lib = open_library()
    if not 0 < sample <= 100:
        fail(f"--sample is a percentage in (0, 100], not {sample}")
    rep = lib.scrub(sample_percent=sample, budget_s=budget_s, progress=progress_flag(json_out))
    if json_out:
        for e in rep.events:
            emit_json(e)
        emit_json({"checked": rep.checked, "total": rep.total, "bytes_read": rep.bytes_read,
                   "problems": rep.problems, "repaired": rep.repaired, "unrepairable": len(rep.unrepairable),
                   "seconds": round(rep.seconds, 3), "stopped_by_budget": rep.stopped_by_budget})
    else:
        console.print(f"Checked {rep.checked} of {rep.total} ({rep.bytes_read / 1e6:.1f} MB in {rep.seconds:.1f} s"
                      f"{', stopped by the time budget' if rep.stopped_by_budget else ''}): {rep.problems} "
                      f"problems, {rep.repaired} repaired.", highlight=False)
        fixed = [e for e in rep.events if e["action"] != "unrepairable"]
        if fixed:
            table("repaired", ["media", "object", "where", "problem", "action", "good copy from"],
                  [[e["media_id"], e["object"], e["location"], e["problem"], e["action"], e["source"]]
                   for e in fixed])
        for e in rep.unrepairable:
            err_console.print(f"[bold red]NOT REPAIRED[/bold red] {e['object']} of {e['media_id'] or '-'} at "
                              f"{e['location']} ({e['object_key']}): {e['problem']}: {e['detail']}",
                              highlight=False)
    if rep.unrepairable:
        raise typer.Exit(1)


def replica_status_table(lib: object) -> None:
    """The per-replica lines of `workbench status` (nothing when the library has no replicas)."""
    df = lib.replicas.status()  # type: ignore[attr-defined]
    if len(df):
        table("replicas", ["replica", "target", "originals safe", "pending"],
              df[["replica", "target", "safe", "pending"]].values.tolist())
