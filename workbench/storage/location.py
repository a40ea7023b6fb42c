"""Where a library is: a local folder or an object-store URL (``s3://bucket/prefix``), and where its local state goes.

A library on object storage still needs a little local disk: its write lock, its settings and vocabulary files, the
cache of objects a decoder needs as a file, and (when ``catalog_location`` is ``local``) its catalog. That is its
*home*: ``$WORKBENCH_STATE_HOME/s3/<bucket>/<prefix>`` (default ``$XDG_STATE_HOME/workbench``, i.e.
``~/.local/state/workbench``). The home holds a ``library.json`` that points at the bucket, so the home folder can
be passed wherever a library path is expected (the gallery's kernels, the dashboards) and opens the same library.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

S3_SCHEME = "s3://"


def is_remote(location: str | os.PathLike) -> bool:
    """Whether ``location`` names object storage rather than a local folder."""
    return isinstance(location, str) and location.startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix inside it (no leading or trailing slash; may be empty)."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{S3_SCHEME}{self.bucket}"

    def key(self, rel: str) -> str:
        """The object key of ``rel`` (a storage key or a catalog path) inside this location."""
        return f"{self.prefix}/{rel}" if self.prefix else rel


def parse_s3(url: str) -> S3Location:
    """``s3://bucket/some/prefix`` as a bucket and a prefix; ValueError with the expected form otherwise."""
    if not url.startswith(S3_SCHEME):
        raise ValueError(f"not an object-storage location: {url!r} (expected s3://bucket/prefix)")
    rest = url[len(S3_SCHEME):].strip("/")
    bucket, _, prefix = rest.partition("/")
    parts = [p for p in prefix.split("/") if p]
    if not bucket or any(p in (".", "..") for p in parts):
        raise ValueError(f"not an object-storage location: {url!r} (expected s3://bucket/prefix)")
    return S3Location(bucket, "/".join(parts))


def normalize(location: str | os.PathLike) -> str | Path:
    """An ``s3://`` URL in one spelling (no trailing slash), or a local folder as an absolute Path."""
    if is_remote(location):
        return parse_s3(str(location)).url
    return Path(location).expanduser().absolute()


def state_home() -> Path:
    """The folder under which libraries on object storage keep their local state."""
    env = os.environ.get("WORKBENCH_STATE_HOME")
    if env:
        return Path(env).expanduser().absolute()
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state") / "workbench"


def local_home(location: str | os.PathLike) -> Path:
    """The local folder of a library: the folder itself for a local library, its state folder for a remote one."""
    if not is_remote(location):
        return Path(location).expanduser().absolute()
    loc = parse_s3(str(location))
    return state_home() / "s3" / loc.bucket / (loc.prefix or "_root")
