"""What every ``workbench`` command shares: the ``--json`` option, the library it opens, how it fails, and how a
list is printed (JSON Lines for scripts, a table for people). One module, so the command modules import it and
never each other."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, NoReturn, Optional

import typer

from workbench.cli.output import emit_json, err_console, table

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON Lines only (one object per line), for scripts.")]


class State:
    """Options of the top-level command that every subcommand needs (set by ``workbench --library``)."""

    library: Optional[Path] = None


state = State()


def open_library(create: bool = False) -> Any:
    """The library chosen by ``--library`` / ``WORKBENCH_LIBRARY`` (imported late: ``--help`` stays fast)."""
    from workbench.library import Library
    return Library.open(state.library, create=create)


def progress_flag(json_out: bool) -> Optional[bool]:
    """No progress bars under ``--json`` (stdout carries JSON Lines only); otherwise let the library decide."""
    return False if json_out else None


def fail(msg: str, code: int = 2) -> NoReturn:
    """One red line on stderr and exit ``code``: a user error is a message, never a traceback."""
    err_console.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(code)


def print_records(records: Iterable[dict[str, Any]], *, json_out: bool, title: str, columns: list[str],
                  row: Callable[[dict[str, Any]], list[Any]],
                  as_json: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
    """The list commands' output: each record as one JSON line (``as_json`` shapes it), or a table whose title
    ``title`` may count the rows with ``{n}`` and whose rows ``row`` makes."""
    records = list(records)
    if json_out:
        for r in records:
            emit_json(as_json(r) if as_json else r)
        return
    table(title.format(n=len(records)), columns, [row(r) for r in records])
