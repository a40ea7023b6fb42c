"""The ``workbench`` command: a thin layer over ``workbench.Library``."""
from __future__ import annotations

import os
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from workbench.cli.common import JsonOpt, fail, open_library, print_records, progress_flag, state
from workbench.cli.output import console, emit_json, err_console, table
from workbench.errors import NotFoundError, WorkbenchError

app = typer.Typer(
    help="A self-hosted archive for photos and videos: import, process, list, check.\n\n"
         "The library is a folder (default: data/library under the current folder) or s3://bucket/prefix on "
         "object storage. Choose another with --library PATH or the WORKBENCH_LIBRARY environment variable.",
    no_args_is_help=True, add_completion=False, rich_markup_mode="rich")


class Mode(str, Enum):
    copy = "copy"
    reference = "reference"


class Sort(str, Enum):
    date = "date"
    name = "name"
    size = "size"


class Kind(str, Enum):
    image = "image"
    video = "video"


@app.callback()
def main(library: Annotated[Optional[str], typer.Option(
        "--library", "-L", envvar="WORKBENCH_LIBRARY", help="Library folder, or s3://bucket/prefix.",
        show_envvar=True)] = None,
         passphrase_file: Annotated[Optional[Path], typer.Option(
             "--passphrase-file", envvar="WORKBENCH_PASSPHRASE_FILE", show_envvar=True,
             help="First line: the passphrase of an encrypted library (else WORKBENCH_PASSPHRASE, else a prompt).")
         ] = None) -> None:
    state.library = library
    if passphrase_file:       # read where the library is opened, here and in any process started from here
        os.environ["WORKBENCH_PASSPHRASE_FILE"] = str(passphrase_file)


@app.command()
def init(location: Annotated[Optional[str], typer.Argument(
        help="Where: a folder or s3://bucket/prefix (default: --library / WORKBENCH_LIBRARY / data/library).",
        show_default=False)] = None,
        catalog: Annotated[Optional[str], typer.Option(
            help="For s3:// libraries: keep the catalog in the bucket ('bucket') or on this machine ('local'); "
                 "default: the setting catalog_location.")] = None,
        encrypt: Annotated[bool, typer.Option("--encrypt", help="Encrypt every stored file (asks for a new "
                                                                "passphrase, shows a recovery key once).")] = False,
        json_out: JsonOpt = False) -> None:
    """Create an empty library (originals/, derived/, catalog/) or confirm an existing one."""
    from workbench.library import Library
    lib = Library.create(location or state.library, catalog_location=catalog)
    if encrypt:
        from workbench.cli.crypto_cmds import init_encrypted
        init_encrypted(lib, json_out)
    if json_out:
        emit_json({"library": lib.location, "media": lib.catalog.count("media")})
    else:
        console.print(f"Library ready at [bold]{lib.location}[/bold]")


@app.command("import")
def import_cmd(
        paths: Annotated[list[Path], typer.Argument(help="Files and folders to import (folders recursively).")],
        mode: Annotated[Mode, typer.Option(help="copy: store a copy inside the library (safe); reference: index "
                                                "files where they are, without copying.")] = Mode.copy,
        owner: Annotated[Optional[str], typer.Option(help="User who owns the imported media "
                                                          "(default: your login name).")] = None,
        create: Annotated[bool, typer.Option("--create/--no-create", help="Create the library if missing.")] = True,
        engine: Annotated[str, typer.Option(help="Where hashing, sniffing, metadata and copy-in run: local "
                                                 "(worker processes here) or ray (a Ray cluster whose nodes see "
                                                 "these paths and the library).")] = "local",
        address: Annotated[Optional[str], typer.Option(help="The Ray cluster for --engine ray (as for "
                                                            "`workbench process`).")] = None,
        json_out: JsonOpt = False) -> None:
    """Import photos and videos. Identical files are stored once; re-importing adds nothing.

    Files that cannot be read are recorded with a reason (see `workbench errors`) and the import goes on.
    Exits 0 unless nothing at all could be imported. Thumbnails are made by `workbench process`.
    With --engine ray the per-file work fans out on a Ray cluster; rows are committed by this process either way.
    """
    lib = open_library(create=create)
    try:
        runner = lib.engine(engine, address) if engine != "local" else None
        if runner is not None:
            err_console.print(f"engine: {runner.describe()}")
        report = lib.import_files(paths, mode=mode.value, owner=owner, progress=progress_flag(json_out),
                                  engine=runner)
    except FileNotFoundError as e:
        fail(str(e))
    except WorkbenchError as e:
        fail(str(e))
    if json_out:
        emit_json({**report.as_dict(),
                   "failures": [{"path": p, "stage": "import", "reason": r} for p, r in report.failures]})
    else:
        console.print(f"Found {report.found} media files: [green]{report.added} added[/green], "
                      f"{report.known + report.unchanged} already in the library, "
                      f"[red]{report.failed} failed[/red]"
                      + (f", {report.skipped_sidecars} sidecar/non-media files skipped" if report.skipped_sidecars else ""))
        for p, r in report.failures[:20]:
            console.print(f"  [red]x[/red] {p}: {r}")
        if len(report.failures) > 20:
            console.print(f"  ... and {len(report.failures) - 20} more: `workbench errors`")
        pending = int(lib.status()["pending"].sum())
        if pending:
            console.print(f"{pending} items wait for processing: run `workbench process`.")
    if report.imported == 0:
        if not json_out:
            err_console.print("Nothing could be imported." if report.found else "No photos or videos found.")
        raise typer.Exit(1)


@app.command()
def process(
        stage: Annotated[Optional[list[str]], typer.Option(help="Only this stage (repeatable), e.g. thumbnails.")] = None,
        retry_failed: Annotated[bool, typer.Option(help="Also retry media whose stage failed before.")] = False,
        engine: Annotated[str, typer.Option(help="Where the work runs: local (worker processes here) or ray "
                                                 "(a Ray cluster; pip install 'ray[data]').")] = "local",
        address: Annotated[Optional[str], typer.Option(help="The Ray cluster for --engine ray: auto, "
                                                            "ray://host:10001, or HOST:PORT of `ray start --head`; "
                                                            "default: setting ray_address, else a new local "
                                                            "cluster.")] = None,
        json_out: JsonOpt = False) -> None:
    """Run every pending processing stage, in order: thumbnails (thumbnail and preview), fingerprints (duplicates),
    embeddings_<dim> (CLIP vectors, for search), tag_scores (tags), face_scans (faces, then people), quality,
    ocr (text in pictures).

    A stage that cannot run here (e.g. no model weights) is skipped with the reason.

    Interrupt any time; a rerun resumes. With --engine ray the same stages run on a Ray cluster and give the same
    rows; results are still committed by this process.
    """
    lib = open_library()
    try:
        runner = lib.engine(engine, address)
        if engine != "local":
            err_console.print(f"engine: {runner.describe()}")
        reports = lib.process(stage, retry_failed=retry_failed, progress=progress_flag(json_out), engine=runner)
    except WorkbenchError as e:
        fail(str(e))
    for r in reports:
        if json_out:
            emit_json({"stage": r.stage, "version": r.version, "done": r.done, "failed": r.failed,
                       "skipped": r.skipped, "failures": [{"path": p, "reason": e} for p, e in r.failures]})
        elif r.skipped:
            console.print(f"{r.stage}: skipped: {r.skipped}")
        else:
            console.print(f"{r.stage}: {r.done} done, {r.failed} failed")
            for p, e in r.failures[:20]:
                console.print(f"  [red]x[/red] {p}: {e}")


@app.command()
def status(processor: Annotated[bool, typer.Option("--processor", help="Only what the background processor "
                                                                "of `workbench serve` does: state, stage, media "
                                                                "waiting per stage, last error.")] = False,
           json_out: JsonOpt = False) -> None:
    """Per processing stage: how many media are done, pending and failed; and what the background processor
    (`workbench serve`) is doing."""
    lib = open_library()
    if processor:
        print_processor_status(lib, json_out)
        return
    df = lib.status()
    if json_out:
        for rec in df.to_dict("records"):
            emit_json(rec)
        return
    c = lib.counts()
    console.print(f"[bold]{lib.location}[/bold]: {c['images']} images, {c['videos']} videos, "
                  f"{c['sources']} source paths, {c['errors']} errors")
    table(None, ["stage", "version", "done", "pending", "failed"], df.values.tolist())
    print_processor_status(lib, json_out=False)
    replica_status_table(lib)


def _parse_date(value: Optional[str], name: str) -> Optional[datetime]:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date like 2024-05-31 or 2024-05-31T18:00, not {value!r}")


@app.command("ls")
def ls_cmd(
        sort: Annotated[Sort, typer.Option(help="Sort by capture date, file name or size.")] = Sort.date,
        desc: Annotated[bool, typer.Option("--desc", help="Newest / largest / Z first.")] = False,
        kind: Annotated[Optional[Kind], typer.Option(help="Only images or only videos.")] = None,
        since: Annotated[Optional[str], typer.Option(help="Taken on or after this date (YYYY-MM-DD).")] = None,
        until: Annotated[Optional[str], typer.Option(help="Taken on or before this date (YYYY-MM-DD).")] = None,
        camera: Annotated[Optional[str], typer.Option(help="Camera make or model contains this text.")] = None,
        place: Annotated[Optional[str], typer.Option(help="Place (city, region, country) contains this text.")] = None,
        query: Annotated[Optional[str], typer.Option(help="Words in file names, folders, camera or place "
                                                          "(full-text search).")] = None,
        tag: Annotated[Optional[str], typer.Option(help="Only media carrying this tag.")] = None,
        person: Annotated[Optional[str], typer.Option(help="Only media showing this person (name or id).")] = None,
        has_text: Annotated[bool, typer.Option("--has-text", help="Only media in which text was read (OCR).")] = False,
        limit: Annotated[Optional[int], typer.Option(help="Show at most this many.")] = None,
        json_out: JsonOpt = False) -> None:
    """List media, sorted and filtered."""
    import pandas as pd

    from workbench.cli.output import iso_taken_at, ls_record
    lib = open_library()
    df = lib.media(kind=kind.value if kind else None, since=_parse_date(since, "--since"),
                   until=_parse_date(until, "--until"), camera=camera, place=place, query=query, tag=tag,
                   person=person, sort=sort.value, desc=desc, limit=limit, has_text=True if has_text else None)

    def row(r: dict) -> list:
        dims = f"{int(r['width'])}x{int(r['height'])}" if pd.notna(r.get("width")) and pd.notna(r.get("height")) else ""
        cam = " ".join(x for x in (r.get("camera_make"), r.get("camera_model")) if isinstance(x, str))
        return [r["id"][:10], iso_taken_at(r.get("taken_at"), r.get("taken_at_offset_min")) or "", r["kind"], dims,
                cam, r.get("place") if isinstance(r.get("place"), str) else "", Path(r["path"]).name]
    print_records(df.to_dict("records"), json_out=json_out, title="{n} media", as_json=ls_record, row=row,
                  columns=["id", "taken", "kind", "size", "camera", "place", "name"])


@app.command()
def show(media_id: Annotated[str, typer.Argument(help="Media id or a unique prefix (4+ hex digits).")],
         json_out: JsonOpt = False) -> None:
    """Everything known about one media: metadata, every source path, processing results, errors."""
    lib = open_library()
    info = lib.get(media_id)
    if json_out:
        emit_json(info)
        return
    for k, v in info.items():
        if k in ("stages", "sources", "errors", "search_text"):
            continue
        if v is None or v != v:
            continue
        console.print(f"[bold]{k:>20}[/bold]  {v}")
    for i, src in enumerate(info["sources"]):
        console.print(f"[bold]{'sources' if i == 0 else '':>20}[/bold]  {src}")
    for name, st in info["stages"].items():
        console.print(f"[bold]{name:>20}[/bold]  {st.get('status')} {st.get('error') or ''}")
    for e in info["errors"]:
        console.print(f"[bold]{'error':>20}[/bold]  [{e['stage']}] {e['reason']}")
    from rich.markup import escape
    for i, line in enumerate((info["stages"].get("ocr", {}).get("text") or "").splitlines()):
        console.print(f"[bold]{'text' if i == 0 else '':>20}[/bold]  {escape(line)}", highlight=False)


@app.command()
def errors(json_out: JsonOpt = False) -> None:
    """Files that could not be imported or processed, with the reason for each."""
    lib = open_library()
    df = lib.errors()
    if df.empty and not json_out:
        console.print("No errors.")
        return
    print_records(df[["path", "stage", "reason"]].to_dict("records"), json_out=json_out, title="{n} errors",
                  columns=["path", "stage", "reason"], row=lambda r: [r["path"], r["stage"], r["reason"]])


def _print_hits(df, json_out: bool, title: str) -> None:
    import math
    if json_out:
        for r in df.to_dict("records"):
            row = {"id": r["id"], "path": r["path"],
                   "score": None if r.get("score") is None or math.isnan(r["score"]) else round(float(r["score"]), 4)}
            if r.get("kind") == "video":
                fs = r.get("frame_s")
                row["frame_s"] = None if fs is None or math.isnan(fs) else round(float(fs), 2)
            emit_json(row)
        return
    rows = []
    for r in df.to_dict("records"):
        sc = r.get("score")
        fs = r.get("frame_s")
        rows.append([r["id"][:10], "" if sc is None or sc != sc else f"{sc:.3f}", r.get("kind") or "",
                     "" if fs is None or fs != fs else f"{fs:.1f}s", Path(r["path"]).name])
    table(title, ["id", "score", "kind", "at", "name"], rows)


@app.command()
def search(
        text: Annotated[str, typer.Argument(help="What to look for, in words (\"a dog on a beach\").")],
        limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
        kind: Annotated[Optional[Kind], typer.Option(help="Only images or only videos.")] = None,
        since: Annotated[Optional[str], typer.Option(help="Taken on or after this date (YYYY-MM-DD).")] = None,
        until: Annotated[Optional[str], typer.Option(help="Taken on or before this date (YYYY-MM-DD).")] = None,
        camera: Annotated[Optional[str], typer.Option(help="Camera make or model contains this text.")] = None,
        place: Annotated[Optional[str], typer.Option(help="Place contains this text.")] = None,
        owner: Annotated[Optional[str], typer.Option(help="Only media of this owner.")] = None,
        tag: Annotated[Optional[str], typer.Option(help="Only media carrying this tag.")] = None,
        person: Annotated[Optional[str], typer.Option(help="Only media showing this person (name or id).")] = None,
        json_out: JsonOpt = False) -> None:
    """Find photos and videos by description (CLIP), by words in names, folders, camera and place, and by words
    read in the pictures (OCR).

    Videos match by their best frame; `frame_s` says where in the video it is. Without CLIP weights the
    search uses the words only (see `workbench process` for how to provide weights).
    """
    lib = open_library()
    df = lib.search(text, limit=limit, kind=kind.value if kind else None, since=_parse_date(since, "--since"),
                    until=_parse_date(until, "--until"), camera=camera, place=place, owner=owner, tag=tag,
                    person=person)
    _print_hits(df, json_out, f"{len(df)} results for {text!r}")
    if not df.attrs.get("by_meaning", True):
        # On stderr, so --json output stays JSON Lines only.
        err_console.print("Searched words only (file names, folders, camera, place and text read in the pictures): "
                          "searching by meaning needs CLIP vectors, which `workbench process` computes when CLIP "
                          "weights are available.", soft_wrap=True)


@app.command()
def similar(media_id: Annotated[str, typer.Argument(help="Media id or a unique prefix.")],
            limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
            kind: Annotated[Optional[Kind], typer.Option(help="Only images or only videos.")] = None,
            json_out: JsonOpt = False) -> None:
    """Photos and videos that look like the given one (CLIP image-to-image)."""
    lib = open_library()
    df = lib.similar(media_id, limit=limit, kind=kind.value if kind else None)
    _print_hits(df, json_out, f"{len(df)} media similar to {media_id}")


tags_app = typer.Typer(help="Zero-shot tags: list them, add or remove by hand, tune thresholds, add labels.",
                       no_args_is_help=True)
app.add_typer(tags_app, name="tags")


@tags_app.command("list")
def tags_list(media_id: Annotated[Optional[str], typer.Argument(help="Only this media (id or prefix).")] = None,
              threshold: Annotated[Optional[float], typer.Option(help="Try another global threshold without "
                                                                      "saving it.")] = None,
              json_out: JsonOpt = False) -> None:
    """Effective tags: automatic ones above their threshold, plus your manual decisions."""
    lib = open_library()
    df = lib.tags(media_id, threshold=threshold)
    if json_out:
        for r in df.to_dict("records"):
            emit_json({"media_id": r["media_id"], "tag": r["tag"],
                       "score": None if r["score"] != r["score"] else round(float(r["score"]), 4),
                       "source": r["source"]})
        return
    if media_id is None:
        counts = df.groupby("tag").size().sort_values(ascending=False)
        table(f"{len(counts)} tags on {df['media_id'].nunique()} media", ["tag", "media"],
              [[t, n] for t, n in counts.items()])
    else:
        table(None, ["tag", "score", "source"],
              [[r["tag"], "" if r["score"] != r["score"] else f"{r['score']:.3f}", r["source"]]
               for r in df.to_dict("records")])


@tags_app.command("add")
def tags_add(media_id: Annotated[str, typer.Argument(help="Media id or prefix.")],
             tag: Annotated[str, typer.Argument(help="Tag to add (any words).")]) -> None:
    """Tag a media by hand; this wins over automatic tags and survives re-tagging."""
    open_library().add_tag(media_id, tag)


@tags_app.command("remove")
def tags_remove(media_id: Annotated[str, typer.Argument(help="Media id or prefix.")],
                tag: Annotated[str, typer.Argument(help="Tag to remove.")]) -> None:
    """Remove a tag from a media by hand; it stays removed when tags are recomputed."""
    open_library().remove_tag(media_id, tag)


@tags_app.command("threshold")
def tags_threshold(value: Annotated[float, typer.Argument(help="Score from 0 to 1 a tag needs to apply.")],
                   tag: Annotated[Optional[str], typer.Option(help="Set only this tag's override.")] = None) -> None:
    """Set the global tag threshold, or one tag's override. Takes effect at once; nothing is re-embedded."""
    open_library().set_tag_threshold(value, tag)


@tags_app.command("label")
def tags_label(name: Annotated[str, typer.Argument(help="New tag to detect, e.g. \"red bicycle\".")],
               prompt: Annotated[Optional[list[str]], typer.Option(help="A phrasing to use (repeatable); "
                                                                        "default: the name itself.")] = None) -> None:
    """Add your own label to the vocabulary; `workbench process` then scores every media for it."""
    open_library().add_label(name, "custom", prompt or None)
    console.print(f"Added {name!r}; run `workbench process` to score your media for it.")


@app.command()
def faces(media_id: Annotated[Optional[str], typer.Argument(help="Only faces in this media (id or prefix).")] = None,
          person: Annotated[Optional[str], typer.Option(help="Only faces of this person (name or id).")] = None,
          json_out: JsonOpt = False) -> None:
    """Faces found in photos and videos, with their person.

    `bbox` is [x, y, w, h] in pixels of the upright image; `frame` is the video frame (null for images).
    Faces too small or too blurry to recognise are listed with the reason and belong to nobody."""
    lib = open_library()
    df = lib.faces(media_id, person=person)
    print_records(df.to_dict("records"), json_out=json_out, title="{n} faces", as_json=_face_json, row=_face_row,
                  columns=["face", "media", "bbox", "frame", "person", "skipped", "name"])


def _face_json(r: dict) -> dict:
    return {"face_id": r["face_id"], "media_id": r["media_id"], "path": r["path"], "bbox": r["bbox"],
            "frame": None if r["frame"] != r["frame"] or r["frame"] is None else int(r["frame"]),
            "person_id": r["person_id"] if isinstance(r["person_id"], str) else None}


def _face_row(r: dict) -> list:
    return [r["face_id"], r["media_id"][:10], ",".join(str(v) for v in r["bbox"]),
            "" if r["frame"] is None or r["frame"] != r["frame"] else str(int(r["frame"])),
            (r["person"] if isinstance(r["person"], str) else r["person_id"]) if isinstance(r["person_id"], str)
            else "", r["skipped"] if isinstance(r["skipped"], str) else "", Path(r["path"]).name]


people_app = typer.Typer(help="People found by clustering faces: list, name, merge, split, move or reject faces, "
                              "hide. Your decisions are kept when faces are clustered again.",
                         invoke_without_command=True)
app.add_typer(people_app, name="people")


@people_app.callback()
def people_list(ctx: typer.Context,
                hidden: Annotated[bool, typer.Option("--hidden", help="Include hidden people.")] = False,
                json_out: JsonOpt = False) -> None:
    """List people (named first, then by number of faces)."""
    if ctx.invoked_subcommand is not None:
        return
    lib = open_library()
    df = lib.people(include_hidden=hidden)
    print_records(df.to_dict("records"), json_out=json_out, title="{n} people",
                  columns=["person", "name", "faces", "media"],
                  as_json=lambda r: {"person_id": r["person_id"], "name": r["name"] if isinstance(r["name"], str)
                                     else None, "face_count": int(r["face_count"]),
                                     "media_count": int(r["media_count"])},
                  row=lambda r: [r["person_id"], r["name"] if isinstance(r["name"], str) else "",
                                 int(r["face_count"]), int(r["media_count"])])


@people_app.command("name")
def people_name(person: Annotated[str, typer.Argument(help="Person id, id prefix or current name.")],
                name: Annotated[str, typer.Argument(help="The name to give (\"\" clears it).")]) -> None:
    """Name a person."""
    open_library().name_person(person, name or None)
    console.print(f"Named {person} {name!r}." if name else f"Cleared the name of {person}.")


@people_app.command("merge")
def people_merge(target: Annotated[str, typer.Argument(help="The person to keep (id or name).")],
                 others: Annotated[list[str], typer.Argument(help="People who are the same person.")]) -> None:
    """Merge people who are the same person into the first one."""
    pid = open_library().merge_people(target, *others)
    console.print(f"Merged {len(others)} into {pid}.")


@people_app.command("split")
def people_split(person: Annotated[str, typer.Argument(help="The person (id or name).")],
                 face_ids: Annotated[list[str], typer.Argument(help="Faces of that person who are someone else.")],
                 name: Annotated[Optional[str], typer.Option(help="Name for the new person.")] = None) -> None:
    """Split faces off a person into a new person."""
    pid = open_library().split_person(person, face_ids, name=name)
    console.print(f"New person {pid} with {len(face_ids)} faces.")


@people_app.command("move")
def people_move(person: Annotated[str, typer.Argument(help="The person the faces are (id or name).")],
                face_ids: Annotated[list[str], typer.Argument(help="Face ids (see `workbench faces`).")]) -> None:
    """Say which person these faces are."""
    open_library().move_faces(face_ids, person)
    console.print(f"Moved {len(face_ids)} faces to {person}.")


@people_app.command("reject")
def people_reject(face_ids: Annotated[list[str], typer.Argument(help="Face ids (see `workbench faces`).")],
                  person: Annotated[Optional[str], typer.Option(help="The person they are not (default: the one "
                                                                    "they are assigned to).")] = None) -> None:
    """"Not this person": remove faces from a person for good."""
    open_library().reject_faces(face_ids, person=person)
    console.print(f"Rejected {len(face_ids)} faces.")


@people_app.command("hide")
def people_hide(person: Annotated[str, typer.Argument(help="Person id or name.")],
                unhide: Annotated[bool, typer.Option("--unhide", help="Show the person again.")] = False) -> None:
    """Hide a person from people lists (strangers in the background, say)."""
    open_library().hide_person(person, hidden=not unhide)
    console.print(f"{'Unhid' if unhide else 'Hid'} {person}.")


@people_app.command("recluster")
def people_recluster(json_out: JsonOpt = False) -> None:
    """Redo automatic assignments under the current face settings; your decisions are kept."""
    res = open_library().update_people(redo_auto=True)
    if json_out:
        emit_json(res)
    else:
        console.print(f"{res['new_people']} people formed, {res['joined']} faces joined known people, "
                      f"{res['unassigned']} faces left unassigned.")


class DupKind(str, Enum):
    exact = "exact"
    same = "same"
    similar = "similar"


dup_app = typer.Typer(help="Duplicate and similar photos and videos, with a suggested keeper. Suggestions only: "
                           "nothing is deleted unless you trash it and empty the trash.",
                      invoke_without_command=True)
app.add_typer(dup_app, name="duplicates")


@dup_app.callback()
def duplicates_list(ctx: typer.Context,
                    kind: Annotated[Optional[DupKind], typer.Option(
                        help="exact: same bytes at several paths; same: the same picture re-encoded, resized, "
                             "rotated, mirrored or lightly cropped (videos: re-encodes); similar: bursts, "
                             "RAW+JPEG pairs and live photos, a stack to pick from.")] = None,
                    json_out: JsonOpt = False) -> None:
    """List duplicate groups: one per line with kind, members, the one to keep and why."""
    if ctx.invoked_subcommand is not None:
        return
    df = open_library().duplicates(kind.value if kind else None)
    print_records(df.to_dict("records"), json_out=json_out, title="{n} groups",
                  columns=["kind", "keep", "n", "members", "reason"],
                  as_json=lambda r: {"kind": r["kind"], "members": r["members"], "keep": r["keep"],
                                     "reason": r["reason"]},
                  row=lambda r: [r["kind"], r["keep"][:10], str(len(r["members"])),
                                 ", ".join(Path(m["path"]).name for m in r["members"]), r["reason"]])


@dup_app.command("dismiss")
def duplicates_dismiss(ids: Annotated[list[str], typer.Argument(help="Two or more media ids (or prefixes).")]) -> None:
    """Say these are not duplicates: they are never suggested together again."""
    open_library().dismiss_duplicates(ids)
    console.print(f"Noted: {len(ids)} media are not duplicates of each other.")


@app.command()
def quality(flag: Annotated[Optional[str], typer.Option(
                help="Only media with this flag: blurry, dark, overexposed, clipped_highlights, noisy, "
                     "low_information, low_resolution, odd_aspect_ratio, grayscale, low_bitrate.")] = None,
            kind: Annotated[Optional[Kind], typer.Option(help="Only images or only videos.")] = None,
            json_out: JsonOpt = False) -> None:
    """Technical quality per photo and video: a 0-100 score and named flags, worst first.

    Thresholds are settings (quality_thresholds in settings.json); flags follow them without re-measuring."""
    df = open_library().quality(flag=flag, kind=kind.value if kind else None)
    print_records(df.to_dict("records"), json_out=json_out, title="{n} media",
                  columns=["id", "score", "flags", "name"],
                  as_json=lambda r: {"id": r["id"], "path": r["path"], "score": r["score"], "flags": r["flags"]},
                  row=lambda r: [r["id"][:10], f"{r['score']:.0f}", ", ".join(r["flags"]), Path(r["path"]).name])


@app.command()
def convert(items: Annotated[list[str], typer.Argument(help="Media ids (or prefixes) or file paths.")],
            to: Annotated[str, typer.Option("--to", help="jpeg, png, webp, avif, heic, jxl, tiff, gif (photos); "
                                                          "mp4, webm, gif (videos).")],
            quality: Annotated[Optional[int], typer.Option(help="Quality 0-100 for lossy targets (default: "
                                                                 "jpeg/webp/jxl 90, heic 80, avif 75).")] = None,
            out: Annotated[Path, typer.Option(help="Folder for the converted files (never overwritten).")] = Path(
                "converted"),
            json_out: JsonOpt = False) -> None:
    """Convert photos and videos to another format, upright, keeping EXIF (with GPS), ICC and XMP where the
    target holds them. Originals are only read."""
    lib = open_library()
    df = lib.convert(items, to, out=out, quality=quality, progress=progress_flag(json_out))
    recs = df.to_dict("records")
    print_records(recs, json_out=json_out, title="{n} converted",
                  columns=["source", "output", "size", "bytes", "error"],
                  row=lambda r: [Path(r["source"]).name, r["output"] or "",
                                 f"{r['width']}x{r['height']}" if r["output"] else "",
                                 f"{r['bytes_before']} -> {r['bytes_after']}" if r["output"] else "", r["error"] or ""])
    if recs and all(r["error"] for r in recs):
        raise typer.Exit(1)


@app.command()
def compress(policy: Annotated[str, typer.Option(help="lossless (default: loses nothing), balanced, space, a "
                                                      "policy saved in the library (policies/NAME.json, e.g. by "
                                                      "the compression tuner), or a JSON policy file (see docs).")] = "lossless",
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Encode a sample in memory and predict the "
                                                                      "savings for the whole library; write nothing.")] = False,
             sample: Annotated[int, typer.Option(help="Dry run: media sampled per kind.")] = 50,
             kind: Annotated[Optional[Kind], typer.Option(help="Only images or only videos.")] = None,
             album: Annotated[Optional[str], typer.Option(help="Only this album (name or id): a policy per album.")] = None,
             json_out: JsonOpt = False) -> None:
    """Recompress photos (and videos) by a policy, writing new versions beside the originals, which are kept.

    Lossless results are verified (byte-identical after reconstruction, or pixel-identical) before they count;
    lossy ones report the quality metric they reached."""
    lib = open_library()
    df = lib.compress(policy, dry_run=dry_run, sample=sample, kind=kind.value if kind else None,
                      album=album, progress=progress_flag(json_out))
    recs = df.to_dict("records")
    if json_out:
        for r in recs:
            emit_json(r)
        return
    table(f"{len(recs)} media ({'dry run, nothing written' if dry_run else 'new versions written'})",
          ["id", "codec", "q", "before", "after", "metric", "verified", "name"],
          [[r["id"][:10], r["codec"], "" if r["quality"] is None or r["quality"] != r["quality"] else int(r["quality"]),
            r["bytes_before"], r["bytes_after"], f"{r['metric']} {r['value']}" if r["metric"] else "", r["verified"],
            Path(r["path"]).name] for r in recs])
    pred = df.attrs.get("prediction")
    if pred:
        for k, v in pred["by_kind"].items():
            console.print(f"{k}: {v['library_bytes'] / 1e6:.1f} MB -> about {v['predicted_bytes_after'] / 1e6:.1f} MB "
                          f"({v['predicted_saving']:.0%} saved, from {v['sampled']} sampled)")
        if "quality_distribution" in pred:
            q = pred["quality_distribution"]
            console.print(f"quality ({q['metric']}): min {q['min']:.3f}, 10th percentile {q['p10']:.3f}, "
                          f"median {q['median']:.3f}")


@app.command("replace-originals")
def replace_originals(policy: Annotated[str, typer.Option(help="The policy whose versions replace the originals "
                                                               "(run `workbench compress` with it first).")] = "lossless",
                      allow_lossy: Annotated[bool, typer.Option("--allow-lossy", help="Also replace originals by "
                                                                "lossy versions: information is lost.")] = False,
                      ids: Annotated[Optional[list[str]], typer.Argument(help="Only these media (default: all).")] = None,
                      yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (--allow-lossy).")] = False,
                      json_out: JsonOpt = False) -> None:
    """Let verified versions take the originals' place, to free the space they save.

    Only lossless versions qualify (a JPEG XL that rebuilds the JPEG byte for byte, or identical pixels and
    metadata) unless --allow-lossy. Each is verified again, stored and recorded before the old original moves to
    the trash: `workbench restore-original ID` undoes it until `workbench trash --empty`. Files indexed in place
    (--mode reference) are never touched."""
    lib = open_library()
    if allow_lossy and not yes:
        if json_out:
            fail("--allow-lossy with --json needs --yes (there is no prompt in JSON mode)")
        typer.confirm(f"Replace originals by the lossy versions of policy {policy!r}? The originals stay in the "
                      f"trash until it is emptied; after that what the lossy versions lost is gone.", abort=True)
    df = lib.replace_originals(policy, allow_lossy=allow_lossy, ids=ids, progress=progress_flag(json_out))
    recs = df.to_dict("records")
    if json_out:
        for r in recs:
            emit_json(r)
        return
    done = [r for r in recs if r["status"] != "skipped" or not r["reason"].startswith("already")]
    table(f"{sum(r['status'] == 'replaced' for r in recs)} originals replaced, "
          f"{df.attrs['bytes_saved'] / 1e6:.2f} MB saved ({len(recs) - len(done)} replaced before)", ["id", "status", "stored as", "saved", "reason", "name"],
          [[r["id"][:10], r["status"], r["stored_as"] or "", r["bytes_saved"], r["reason"], Path(r["path"]).name]
           for r in done])
    if any(r["status"] == "refused" for r in recs):
        raise typer.Exit(1)


@app.command("restore-original")
def restore_original(ids: Annotated[list[str], typer.Argument(help="Media ids (or prefixes) whose replaced "
                                                                  "original to put back.")],
                     json_out: JsonOpt = False) -> None:
    """Put replaced originals back (while they are still in the trash); the compressed files go to the trash."""
    lib = open_library()
    for i in ids:
        lib.restore_original(i)
    emit_json({"restored": len(ids)}) if json_out else console.print(f"{len(ids)} originals restored.")


@app.command()
def trash(ids: Annotated[Optional[list[str]], typer.Argument(help="Media ids (or prefixes) to put in the trash.")] = None,
          empty: Annotated[bool, typer.Option("--empty", help="Delete everything in the trash for good.")] = False,
          list_: Annotated[bool, typer.Option("--list", help="Show what is in the trash.")] = False,
          yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (--empty).")] = False,
          json_out: JsonOpt = False) -> None:
    """Put media in the trash (hidden, nothing deleted), list it, or empty it.

    Emptying is the only way anything is removed from a library: it deletes the stored originals and their
    renditions after asking. Files indexed in place (--mode reference) are forgotten, never deleted."""
    lib = open_library()
    if empty:
        items = lib.trashed()
        replaced = lib.replaced_originals()
        replaced = replaced[replaced["in_trash"]]
        if items.empty and replaced.empty:
            console.print("The trash is empty.") if not json_out else emit_json({"media": 0})
            return
        if not yes:
            if json_out:
                fail("--empty with --json needs --yes (there is no prompt in JSON mode)")
            typer.confirm(f"Delete {len(items)} media in the trash for good "
                          f"({items['size_bytes'].sum() / 1e6:.1f} MB)"
                          + (f" and {len(replaced)} originals replaced by compressed versions "
                             f"({replaced['size_bytes'].sum() / 1e6:.1f} MB)" if len(replaced) else "") + "?",
                          abort=True)
        res = lib.empty_trash()
        if json_out:
            emit_json(res)
        else:
            console.print(f"Deleted {res['media']} media ({res['files_deleted']} files) and "
                          f"{res['replaced_originals_deleted']} files set aside by replace-originals or "
                          f"restore-original; "
                          f"{res['referenced_files_kept']} referenced files were left where they are.")
        return
    if list_ or not ids:
        print_records(lib.trashed().to_dict("records"), json_out=json_out, title="{n} media in the trash",
                      columns=["id", "reason", "name"],
                      as_json=lambda r: {"id": r["id"], "path": r["path"], "reason": r["reason"], "at": r["at"]},
                      row=lambda r: [r["id"][:10], r["reason"] if isinstance(r["reason"], str) else "",
                                     Path(r["path"]).name])
        return
    n = lib.trash(ids)
    emit_json({"trashed": n}) if json_out else console.print(
        f"{n} media moved to the trash (`workbench restore ID` brings them back).")


@app.command()
def restore(ids: Annotated[Optional[list[str]], typer.Argument(
                help="Media ids (or prefixes) to take out of the trash (or, with --from, out of a backup).")] = None,
            to: Annotated[Optional[Path], typer.Option(
                "--to", help="Restore the whole library from a backup into this new or empty folder.")] = None,
            at: Annotated[Optional[str], typer.Option(
                "--at", help="With --to or --from: the backup taken at or before this time, or a backup id.")] = None,
            backup_target: Annotated[Optional[str], typer.Option(
                "--from", help="Restore from this backup repository (default with --to: the backup_target "
                               "setting); see `workbench backups restore`.")] = None,
            json_out: JsonOpt = False) -> None:
    """Bring media back: out of the trash, or, for ids the library no longer has (the trash was emptied, the row
    or the catalog lost), out of the latest backup in the backup_target setting. With --to, --from or --at,
    restore from a backup only."""
    from workbench.cli.backup_cmds import restore_from_backup
    if to is not None or backup_target is not None or at is not None:
        restore_from_backup(ids, to, at, backup_target, None, json_out)
        return
    if not ids:
        fail("name the media ids to take out of the trash (or --to DIR to restore a whole library from a backup)")
    lib = open_library()
    known, gone = [], []
    for i in ids:
        try:
            known.append(lib.resolve_id(i))
        except NotFoundError:
            gone.append(i)
    if gone and not lib.settings.backup_target:
        fail(f"{', '.join(gone)}: not in this library or its trash, and no backup_target setting names a backup "
             "to bring them back from: `workbench restore --from REPOSITORY ID...`")
    if known:
        n = lib.restore(known)
        emit_json({"restored": n}) if json_out else console.print(f"{n} media taken out of the trash."
                                                                  if n else "None of them was in the trash.")
    if gone:
        restore_from_backup(gone, None, None, None, None, json_out)


@app.command()
def prune(yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
          json_out: JsonOpt = False) -> None:
    """Delete results of old stage versions (vectors of a previous CLIP model, old thumbnail sizes).

    Originals and your tags are never touched; the current versions are kept.
    """
    lib = open_library()
    if not yes and not json_out:
        typer.confirm("Delete stored results of old model and thumbnail versions?", abort=True)
    removed = lib.prune()
    if json_out:
        emit_json({"removed": removed})
    else:
        console.print("Nothing to prune." if not removed else
                      "Removed " + ", ".join(f"{n} rows from {t}" for t, n in removed.items()))


@app.command()
def verify(json_out: JsonOpt = False) -> None:
    """Re-hash every original and report any that changed or vanished. Exits 1 if any did."""
    lib = open_library()
    df = lib.verify(progress=progress_flag(json_out))
    bad = df[df["status"] != "ok"]
    if json_out:
        for rec in df.to_dict("records"):
            emit_json(rec)
    else:
        console.print(f"{len(df) - len(bad)} of {len(df)} originals verified intact.")
        if len(bad):
            table(f"{len(bad)} problems", ["id", "status", "path", "detail"],
                  bad[["id", "status", "path", "detail"]].values.tolist())
    if len(bad):
        raise typer.Exit(1)


@app.command()
def dashboards(names: Annotated[Optional[list[str]], typer.Argument(
        help="Which dashboards (compression, tagging, faces, duplicates, embedding_map); default: all.")] = None,
               port: Annotated[int, typer.Option(help="Port to listen on.")] = 5006,
               address: Annotated[str, typer.Option(help="Address to listen on. The default serves this machine "
                                                         "only; the dashboards change the library, so expose them "
                                                         "with care.")] = "127.0.0.1",
               show: Annotated[bool, typer.Option("--show/--no-show", help="Open a browser tab.")] = False) -> None:
    """Serve the curator dashboards with `panel serve` (compression tuner, tagging, face clusters, duplicates and
    quality, embedding map) on this library. Stop with Ctrl+C."""
    import os
    import sys

    from workbench.dashboards import serve_command, serve_env
    lib = open_library()
    cmd = serve_command(names, port=port, address=address, show=show)
    console.print(f"Serving {', '.join(names) if names else 'all dashboards'} for {lib.root} at "
                  f"http://{address}:{port}/", highlight=False)
    sys.stdout.flush()
    # Become the server (no parent left behind to orphan it when stopped).
    os.execve(cmd[0], cmd, serve_env(lib.root))


@app.command()
def gallery(port: Annotated[int, typer.Option(help="Port to listen on.")] = 8866,
            address: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every network interface; "
                                                      "put it behind HTTPS before exposing it).")] = "127.0.0.1",
            show: Annotated[bool, typer.Option("--show/--no-show", help="Open a browser tab.")] = False,
            preheat: Annotated[int, typer.Option(help="Keep this many kernels started ahead (library open, "
                                                      "waiting for a visitor): pages open in about a second "
                                                      "instead of several, for ~200 MB of memory each.")] = 0,
            allow_host: Annotated[list[str], typer.Option(
                "--allow-host", help="Also answer to this host name (repeatable; patterns like *.example.org). "
                                     "localhost and the bound address always work; requests naming any other "
                                     "host are refused (DNS rebinding).")] = [],
            log_level: Annotated[Optional[str], typer.Option(
                "--log-level", help="WARN, INFO or DEBUG (default: Voilà's own, INFO, with only the library's "
                                    "warnings). Given, the library logs at it too: INFO adds sign-ins and each "
                                    "upload's steps with their times (where to look when something is slow), "
                                    "DEBUG every request.")] = None,
            ) -> None:
    """Serve the gallery (login, timeline, search, people, places, albums, share links) with Voilà on this library.
    Add accounts first with `workbench users add`. Stop with Ctrl+C."""
    from workbench.gallery.server import serve
    if log_level is not None and log_level.upper() not in ("WARN", "INFO", "DEBUG"):
        raise typer.BadParameter("use WARN, INFO or DEBUG", param_hint="--log-level")
    lib = open_library()
    console.print(f"Gallery for {lib.root} at http://{address}:{port}/", highlight=False)
    serve(lib.root, port=port, address=address, show=show, preheat=preheat, allow_hosts=allow_host,
          log_level=log_level.upper() if log_level is not None else None)


# Accounts, albums and share links live in their own module (workbench/cli/access_cmds.py).
from workbench.cli.access_cmds import albums_app, share_app, users_app  # noqa: E402

app.add_typer(users_app, name="users")
app.add_typer(albums_app, name="albums")
app.add_typer(share_app, name="share")

# `workbench serve` (gallery, dashboards and the background processor) lives in workbench/cli/serve_cmd.py.
from workbench.cli.serve_cmd import print_processor_status, serve_cmd  # noqa: E402

app.command("serve")(serve_cmd)

# Backups with restic live in workbench/cli/backup_cmds.py.
from workbench.cli.backup_cmds import backup as backup_cmd, backups_app  # noqa: E402

app.command("backup")(backup_cmd)
app.add_typer(backups_app, name="backups")

# Replicas and scrubbing live in their own module (workbench/cli/replica_cmds.py).
from workbench.cli.replica_cmds import replica_status_table, replicas_app, scrub  # noqa: E402

app.add_typer(replicas_app, name="replicas")
app.command()(scrub)

# Encryption at rest (`encrypt`, `passphrase change`, `rotate-key`) lives in workbench/cli/crypto_cmds.py.
from workbench.cli.crypto_cmds import encrypt as encrypt_cmd, passphrase_app, rotate_key  # noqa: E402

app.command("encrypt")(encrypt_cmd)
app.command("rotate-key")(rotate_key)
app.add_typer(passphrase_app, name="passphrase")


def run() -> None:
    """Entry point that turns our exceptions into one-line messages instead of tracebacks."""
    try:
        app()
    except WorkbenchError as e:
        err_console.print(f"[red]error:[/red] {e}")
        raise SystemExit(2) from None
