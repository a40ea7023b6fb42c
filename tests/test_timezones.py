"""The time zone at a GPS position (for photos whose EXIF has no UTC offset) is found without compiling numba
kernels in every import worker, and the answers are the same as with them."""
from __future__ import annotations

import json
import subprocess
import sys

# Positions: a seeded sample of the globe (land, sea, poles) and a few known ones near borders.
PROBE = r"""
import json, sys
if sys.argv[1] == "numba-first":
    import numba  # noqa: F401   a process that already uses numba (a notebook that ran the layout, say)
import numpy as np
from workbench.metadata.dates import zone_at
rng = np.random.default_rng(7)
points = [(float(a), float(b)) for a, b in zip(rng.uniform(-89.9, 89.9, 3000), rng.uniform(-179.9, 179.9, 3000))]
points += [(48.8566, 2.3522), (47.5596, 7.5886), (52.3676, 4.9041), (40.7128, -74.0060), (-33.8688, 151.2093),
           (41.0082, 28.9784), (31.7683, 35.2137), (1.3521, 103.8198), (49.0069, 8.4037), (45.8326, 6.8652)]
zones = [zone_at(a, b) for a, b in points]
import timezonefinder.utils as tzu  # noqa: E402   (after the lookups: the library imports it first)
had_numba_module = "numba" in sys.modules and sys.modules["numba"] is not None
import numba  # noqa: F401,E402   still importable afterwards
print(json.dumps({"zones": zones, "kernels_compiled_with_numba": tzu.using_numba,
                  "numba_loaded_after_lookup": had_numba_module}))
"""


def run(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_zone_lookup_loads_without_compiling_numba_kernels_and_answers_as_the_compiled_one_does():
    plain = run("fresh")
    assert plain["kernels_compiled_with_numba"] is False
    assert plain["numba_loaded_after_lookup"] is False, "the lookup must not leave numba imported (0.4 s)"
    known = plain["zones"][-10:]
    assert known[:6] == ["Europe/Paris", "Europe/Zurich", "Europe/Amsterdam", "America/New_York",
                         "Australia/Sydney", "Europe/Istanbul"]
    assert known[7] == "Asia/Singapore" and known[8] == "Europe/Berlin"

    # A process that already had numba keeps timezonefinder's numba kernels; both give the same zones.
    compiled = run("numba-first")
    assert compiled["kernels_compiled_with_numba"] is True
    assert compiled["zones"] == plain["zones"]
    assert sum(z is not None for z in plain["zones"]) > 2000   # the sample really exercised the polygons
