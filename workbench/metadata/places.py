"""Offline reverse geocoding: GPS coordinates -> nearest populated place (city, region, country).

Uses ``reverse_geocoder`` (GeoNames cities > 1000 inhabitants, k-d tree). We hold one ``RGeocoder`` per
process, built lazily on first use, in single-process mode (``mode=1``: mode 2 forks a pool, wasteful inside our
own worker processes). We call ``RGeocoder.query`` with the whole batch instead of ``rg.search`` because
``rg.search`` constructs a new geocoder, re-reading the 20 MB CSV, on every call. reverse_geocoder prints
"Loading formatted geocoded file..." to stdout when verbose, which would corrupt the CLI's ``--json`` output;
we pass ``verbose=False`` and also run loading and queries with stdout/stderr redirected to a throwaway
buffer, so nothing leaks whatever the library version does.
"""
from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass
from functools import lru_cache

from .gps import valid_coords

_lock = threading.Lock()
_geocoder = None


@dataclass(frozen=True)
class Place:
    """A named place; ``label`` is what the UI shows, e.g. 'Mountain View, California, United States'."""

    city: str | None
    region: str | None
    country: str | None
    country_code: str | None

    @property
    def label(self) -> str:
        return ", ".join(p for p in (self.city, self.region, self.country) if p)


def _quiet():
    """Swallow anything the library writes to stdout/stderr while it loads or searches."""
    sink = io.StringIO()
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(sink))
    stack.enter_context(contextlib.redirect_stderr(sink))
    return stack


def _get_geocoder():
    global _geocoder
    with _lock:
        if _geocoder is None:
            import reverse_geocoder as rg

            with _quiet():
                _geocoder = rg.RGeocoder(mode=1, verbose=False)
        return _geocoder


@lru_cache(maxsize=512)
def country_name(code: str | None) -> str | None:
    """ISO 3166 alpha-2 -> common English name ('US' -> 'United States'); the code itself if unknown."""
    if not code:
        return None
    import pycountry

    c = pycountry.countries.get(alpha_2=code.upper())
    if c is None:
        return code
    return getattr(c, "common_name", None) or c.name


def lookup_places(coords: list[tuple[float, float] | None]) -> list[Place | None]:
    """One Place per coordinate, in order; None for missing, out-of-range or (0, 0) positions.

    All valid coordinates go to the geocoder in a single batched k-d tree query.
    """
    valid_idx: list[int] = []
    points: list[tuple[float, float]] = []
    for i, c in enumerate(coords):
        ok = valid_coords(c[0], c[1]) if c is not None else None
        if ok:
            valid_idx.append(i)
            points.append(ok)
    out: list[Place | None] = [None] * len(coords)
    if not points:
        return out
    geocoder = _get_geocoder()
    with _quiet():
        results = geocoder.query(points)
    for i, r in zip(valid_idx, results):
        cc = (r.get("cc") or "").strip() or None
        out[i] = Place(
            city=(r.get("name") or "").strip() or None,
            region=(r.get("admin1") or "").strip() or None,
            country=country_name(cc),
            country_code=cc,
        )
    return out
