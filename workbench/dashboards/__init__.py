"""Curator dashboards (Panel). Each is a class in its own module; ``dashboards/NAME.py`` at the top of the
repository serves it with ``panel serve``, and in a notebook ``Faces(library)`` (for example) shows it inline.

``workbench dashboards`` serves them all; :func:`serve_command` builds that command line.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from workbench.errors import WorkbenchError

#: Dashboard name -> the file in ``dashboards/`` that serves it.
NAMES = ("compression", "tagging", "faces", "duplicates", "embedding_map")

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "dashboards"


def dashboard_files(names: list[str] | None = None) -> list[Path]:
    """The served files, in a stable order; unknown names are an error that lists the known ones."""
    wanted = list(names or NAMES)
    unknown = [n for n in wanted if n not in NAMES]
    if unknown:
        raise WorkbenchError(f"unknown dashboard {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    files = [DASHBOARDS_DIR / f"{n}.py" for n in wanted]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise WorkbenchError(f"dashboard files not found ({', '.join(missing)}): run from a checkout of the "
                             f"repository, where dashboards/ sits next to the workbench package")
    return files


def serve_command(names: list[str] | None = None, *, port: int = 5006, address: str = "127.0.0.1",
                  show: bool = False) -> list[str]:
    """The ``panel serve`` command line for the chosen dashboards (index page included when there are several)."""
    cmd = [sys.executable, "-m", "panel", "serve", *map(str, dashboard_files(names)), "--port", str(port),
           "--address", address, "--allow-websocket-origin", f"{address}:{port}",
           "--allow-websocket-origin", f"localhost:{port}", "--num-threads", "2"]
    if show:
        cmd.append("--show")
    return cmd


def serve_env(library_root: Path) -> dict[str, str]:
    """The environment for the server: the library it opens, found by every dashboard through Library.open()."""
    env = dict(os.environ)
    env["WORKBENCH_LIBRARY"] = str(library_root)
    return env
