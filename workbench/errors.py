"""Exceptions with messages a user can act on."""
from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: anything the CLI prints as a one-line error instead of a traceback."""


class LibraryError(WorkbenchError):
    """The library folder is missing, locked, or not a workbench library."""


class MediaError(WorkbenchError):
    """One file could not be read; ``reason`` is recorded in the ``errors`` table and the batch goes on.

    The message must say what is wrong with *this* file (truncated, zero bytes, unsupported type, decoder
    crashed, decompression bomb, ...), never a bare exception class name.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotFoundError(WorkbenchError):
    """An id or id prefix matches no media (or more than one)."""


class AuthError(WorkbenchError):
    """A login, session or share link was refused: wrong or unknown credentials (never saying which part),
    too many failed attempts, an expired or revoked session or link."""


class PasswordRequired(AuthError):
    """A share link that has a password was opened without one: ask for it."""


class AccessDenied(WorkbenchError):
    """The acting user may see this, but not do that (e.g. add to an album they only view)."""


class UploadRefused(WorkbenchError):
    """The server will not take an upload; ``reason`` is shown to the uploader and ``status`` is the HTTP answer
    (413 too big, 403 over quota, 415 not media, 409 wrong offset, 423 busy, 460 checksum mismatch)."""

    def __init__(self, reason: str, status: int = 422):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def as_sentence(text: str) -> str:
    """An error message as a sentence for a page: capitalised and ending in a full stop (messages are written
    lower-case for CLI lines and log records)."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
