#!/usr/bin/env python
"""What an import command pays once per process before its first photo: the time zone finder, the place table, and
for a library in a bucket the S3 client library and its model.

Each measurement runs in a fresh Python process (these are per-process costs), the two ways alternating:
  timezones  timezonefinder's own import (it compiles its numba kernels, numba being installed) against
             ``workbench.metadata.dates._finder`` (its C extension); numpy is imported first, untimed.
  places     ``reverse_geocoder.RGeocoder(mode=1)`` against ``workbench.metadata.places._get_cities`` (pyarrow's
             CSV reader, the same scipy k-d tree); numpy, pandas, pyarrow and scipy.spatial are imported first,
             untimed: an import's driver has the first three already (``workbench.Library`` imports them), and
             scipy's import (0.15-0.3 s) is the same both ways.
  s3 client  boto3 with its S3 model loaded by a client thrown away (how ``workbench.storage.s3`` loaded it before)
             against ``import workbench.storage.s3`` (botocore alone; the same model); what the forkserver has
             preloaded before it (numpy, pyarrow, PIL, the storage base modules) is imported first, untimed. The
             forkserver of an S3 library pays this before its first worker starts.
  full gc    one full pass of the garbage collector (``gc.collect()``) in a process holding what an ingest's driver
             holds (pandas, lancedb, the S3 module): with the S3 module's ``gc.freeze()`` undone, and as it is.
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

# What the forkserver imports before the S3 module (workbench.parallel.PRELOAD), and what an ingest's driver holds.
_FORKSERVER = ("import numpy, pyarrow, PIL.Image, threadpoolctl, workbench.stages.base, workbench.ingest.probe, "
               "workbench.imaging.renditions, workbench.storage.encrypted")
_DRIVER = "import gc, numpy, pandas, pyarrow, lancedb, workbench, workbench.storage.s3"

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
    ("s3 client", "boto3 and its S3 model"):
        (_FORKSERVER,
         "import boto3; boto3.session.Session().client('s3', region_name='us-east-1', aws_access_key_id='-', "
         "aws_secret_access_key='-')"),
    ("s3 client", "workbench.storage.s3 (botocore)"):
        (_FORKSERVER, "import workbench.storage.s3"),
    ("full gc", "S3 model not frozen"):
        (_DRIVER + "; gc.unfreeze(); gc.collect()", "gc.collect()"),
    ("full gc", "frozen when the S3 module loads (as shipped)"):
        (_DRIVER + "; gc.collect()", "gc.collect()"),
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
    for what in dict.fromkeys(k[0] for k in CASES):
        (a, ta), (b, tb) = [(k[1], statistics.median(v)) for k, v in times.items() if k[0] == what]
        ratio = f"{ta / tb:.1f}x" if tb >= 0.001 else "the second under 1 ms"
        print(f"{what:10s} {a}: {ta:.3f} s   {b}: {tb:.3f} s   ({ratio})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
