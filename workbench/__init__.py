"""workbench: a self-hosted, Jupyter-first smart archive for photos and videos.

    >>> from workbench import Library
    >>> lib = Library.open("data/library", create=True)
    >>> lib.import_files(["~/Pictures"]); lib.process()
    >>> lib.media(kind="image", sort="date").head()
"""
from __future__ import annotations

from typing import Any

from workbench.errors import LibraryError, MediaError, NotFoundError, WorkbenchError

__all__ = ["Library", "LibraryError", "MediaError", "NotFoundError", "WorkbenchError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Library pulls in LanceDB; worker processes that only decode images must not pay for that import.
    if name == "Library":
        from workbench.library import Library
        return Library
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
