"""``workbench serve``: the gallery, the dashboards and the background processor in one command."""
from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli.common import open_library
from workbench.cli.output import console


def serve_cmd(port: Annotated[int, typer.Option(help="Gallery port.")] = 8866,
              host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every network interface; put "
                                                     "it behind HTTPS before exposing it).")] = "127.0.0.1",
              processor: Annotated[bool, typer.Option("--processor/--no-processor",
                                                      help="Process new media in the background (thumbnails "
                                                           "first, then the other stages).")] = True,
              dashboards: Annotated[bool, typer.Option("--dashboards/--no-dashboards",
                                                       help="Also serve the curator dashboards.")] = True,
              dashboards_port: Annotated[int, typer.Option(help="Dashboards port.")] = 5006,
              preheat: Annotated[int, typer.Option(help="Gallery kernels started ahead (see `workbench gallery "
                                                        "--help`).")] = 0,
              allow_host: Annotated[list[str], typer.Option(
                  "--allow-host", help="Also answer to this host name (repeatable; see `workbench gallery`).")] = [],
              ) -> None:
    """Serve the gallery and the dashboards, and process new media (imported or uploaded) by themselves:
    thumbnails appear in the timeline within seconds, faces, tags and duplicates follow. One processor per
    library: a second `serve` on the same library serves without processing. `workbench status` shows what the
    processor does. Stop with Ctrl+C."""
    from workbench.serve.app import serve
    # Opening says what is wrong (no library there) and how to make one; the root of a library on S3 is its local
    # home, which opens it again in the server's processes.
    root = open_library().root
    console.print(f"Serving {root}", highlight=False)

    def say(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True)

    raise typer.Exit(serve(root, port=port, host=host, processor=processor, dashboards=dashboards,
                           dashboards_port=dashboards_port, preheat=preheat, allow_hosts=allow_host, say=say))


def print_processor_status(lib, json_out: bool) -> None:
    """The background processor's state for ``workbench status``: one line, or a JSON object with ``--json``."""
    from workbench.cli.output import emit_json
    from workbench.serve.status import describe, read_status
    status = read_status(lib.root)
    if json_out:
        emit_json(status)
    else:
        console.print(describe(status), highlight=False, soft_wrap=True)
