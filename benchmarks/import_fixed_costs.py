#!/usr/bin/env python
"""What an import command pays once per process before its first photo: the time zone finder and the place table.

Each measurement runs in a fresh Python process (these are per-process costs), the two ways alternating:
  timezones  timezonefinder's own import (it compiles its numba kernels, numba being installed) against
             ``workbench.metadata.dates._finder`` (its C extension); numpy is imported first, untimed.
  places     ``reverse_geocoder.RGeocoder(mode=1)`` against ``workbench.metadata.places._get_cities`` (pyarrow's
             CSV reader, the same scipy k-d tree); numpy, pandas, pyarrow and scipy.spatial are imported first,
             untimed: an import's driver has the first three already (``workbench.Library`` imports them), and
             scipy's import (0.15-0.3 s) is the same both ways.
Prints the median seconds of each way and their ratio.

Usage: .venv/bin/python benchmarks/import_fixed_costs.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    ("timezones", "timezonefinder's numba kernels"):
        ("import numpy",
         "from timezonefinder import TimezoneFinder; TimezoneFinder(in_memory=True).timezone_at(lat=48.85, lng=2.35)"),
    ("timezones", "workbench (C extension)"):
        ("import numpy; from workbench.metadata import dates",
         "dates._finder().timezone_at(lat=48.85, lng=2.35)"),
    ("places", "reverse_geocoder.RGeocoder"):
        ("import numpy, pandas, pyarrow, pyarrow.csv, scipy.spatial, reverse_geocoder",
         "reverse_geocoder.RGeocoder(mode=1, verbose=False).query([(48.85, 2.35)])"),
    ("places", "workbench (pyarrow CSV)"):
        ("import numpy, pandas, pyarrow, pyarrow.csv, scipy.spatial; from workbench.metadata import places",
         "places._get_cities().nearest([(48.85, 2.35)])"),
}


def once(setup: str, timed: str) -> float:
    code = f"import time\n{setup}\nt = time.perf_counter()\n{timed}\nprint(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="fresh processes per way (default 7)")
    args = ap.parse_args(argv)
    times: dict[tuple[str, str], list[float]] = {k: [] for k in CASES}
    for _ in range(args.repeats):
        for key, (setup, timed) in CASES.items():
            times[key].append(once(setup, timed))
    for what in ("timezones", "places"):
        (a, ta), (b, tb) = [(k[1], statistics.median(v)) for k, v in times.items() if k[0] == what]
        print(f"{what:10s} {a}: {ta:.3f} s   {b}: {tb:.3f} s   ({ta / tb:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
