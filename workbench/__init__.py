"""workbench: a self-hosted, Jupyter-first smart archive for photos and videos.

    >>> from workbench import Library
    >>> lib = Library.open("data/library", create=True)
    >>> lib.import_files(["~/Pictures"]); lib.process()
    >>> lib.media(kind="image", sort="date").head()
"""
from workbench.errors import LibraryError, MediaError, NotFoundError, WorkbenchError
from workbench.library import Library

__all__ = ["Library", "LibraryError", "MediaError", "NotFoundError", "WorkbenchError"]
__version__ = "0.1.0"
