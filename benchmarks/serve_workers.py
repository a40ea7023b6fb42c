"""Kept stage workers against a pool per run: what one new photo costs the face and OCR stages under `workbench serve`.

    python benchmarks/serve_workers.py [--rounds 5] [--work DIR]

The background processor runs many small `Library.process` calls (a chunk at a time, often one new photo). With a
worker pool per call (`workbench process`'s way, the engine "local") every call starts the stage's worker, which
loads its models (dlib and DeepFace for faces, the PP-OCR sessions for OCR); with kept workers
(`Library.engine("local", keep_workers_s=...)`, what the processor uses) they are loaded once. Each round imports
one new photo (scikit-image's astronaut, one face, a different pixel each time) into each of two libraries and
times `process(["face_scans", "ocr"])` on it, the two variants in alternating order; the kept engine's first call
(the one that loads) is timed apart.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

STAGES = ["face_scans", "ocr"]


def photo(folder: Path, i: int) -> Path:
    import skimage.data
    arr = skimage.data.astronaut().copy()
    arr[:32, :32] = (i * 37 % 256, i * 91 % 256, i * 53 % 256)   # distinct content, same picture
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"astronaut_{i:03d}.jpg"
    Image.fromarray(arr).save(p, quality=90)
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", type=Path, default=None)
    a = ap.parse_args()
    from workbench.library import Library
    work = a.work or Path(tempfile.mkdtemp(prefix="serve_workers_"))
    libs = {v: Library.create(work / v) for v in ("per-run", "kept")}
    kept = libs["kept"].engine("local", keep_workers_s=600)
    n = 0

    def one(variant: str) -> float:
        nonlocal n
        lib = libs[variant]
        lib.import_files([photo(work / "photos", n)], progress=False)
        n += 1
        lib.process(["thumbnails"], progress=False)
        t = time.perf_counter()
        reps = lib.process(STAGES, progress=False, engine=kept if variant == "kept" else "local")
        dt = time.perf_counter() - t
        assert all(r.done == 1 for r in reps), reps
        return dt

    try:
        first = one("kept")
        print(f"kept workers, first call (models load): {first:.2f} s", flush=True)
        res: dict[str, list[float]] = {"per-run": [], "kept": []}
        for r in range(a.rounds):
            for v in (("per-run", "kept") if r % 2 == 0 else ("kept", "per-run")):
                res[v].append(one(v))
                print(f"round {r + 1}: {v:8s} {res[v][-1]:.2f} s", flush=True)
        med = {v: statistics.median(x) for v, x in res.items()}
        for v, x in res.items():
            print(f"{v:8s} median {med[v]:.2f} s ({min(x):.2f}-{max(x):.2f}) for {' + '.join(STAGES)} of one photo")
        print(f"kept / per-run: {med['kept'] / med['per-run']:.2f}")
        with open("/proc/loadavg") as f:
            print(f"load average: {f.read().split()[:3]}")
    finally:
        kept.close()
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
