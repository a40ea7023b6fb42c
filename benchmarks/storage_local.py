"""What the storage layer costs on a local library: ``LocalStorage`` against the code it replaced, same run.

Per file, in alternating order (so load from other processes hits both sides alike), each side:
  1. stores the file as an original (stream in while hashing, fsync, read-only, atomic rename / put-if-absent), into a
     fresh library folder per round so every store really writes;
  2. writes two renditions (a 200 KB preview and a 15 KB thumbnail: atomic replace with fsync);
  3. stores the same original again (content already there: the duplicate path).
The baseline is the pre-storage code (``BlobStore.copy_in`` and ``write_atomic`` as of commit c3a2643), copied here
verbatim. Prints the median time per file of each side and their ratio (storage / baseline; 1.00 = no overhead).

Usage: .venv/bin/python benchmarks/storage_local.py [--files DIR] [--n 20] [--rounds 3]
  (without --files: N random 4 MB files are generated in a temp folder, not timed)
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.ingest.blobstore import blob_relpath, store_original  # noqa: E402
from workbench.storage import LocalStorage, derived_key  # noqa: E402

CHUNK = 1 << 20


# ---------------------------------------------------------------- the pre-storage code (baseline), verbatim
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(dest: Path, data: bytes, tmp_dir: Path) -> None:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, dest)


def copy_in(root: Path, src: Path, ext: str) -> tuple[str, str, int]:
    tmpd = root / ".tmp"
    tmpd.mkdir(parents=True, exist_ok=True)
    tmp = tmpd / f"{uuid.uuid4().hex}.part"
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    sha = h.hexdigest()
    rel = blob_relpath(sha, ext)
    dest = root / rel
    if dest.exists() and dest.stat().st_size == size:
        tmp.unlink()
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    return sha, rel, size


# ---------------------------------------------------------------- the two sides
PREVIEW, THUMB = os.urandom(200_000), os.urandom(15_000)


def baseline(lib: Path, f: Path) -> None:
    sha, _, _ = copy_in(lib / "originals", f, f.suffix)
    for which, data in (("preview", PREVIEW), ("thumb", THUMB)):
        write_atomic(lib / "derived" / "thumbnails" / "v1" / sha[:2] / f"{sha[:16]}.{which}.webp", data,
                     lib / "derived" / ".tmp")
    copy_in(lib / "originals", f, f.suffix)


def storage_side(lib: Path, f: Path) -> None:
    storage = LocalStorage(lib)
    sha, _, _ = store_original(storage, f, f.suffix)
    for which, data in (("preview", PREVIEW), ("thumb", THUMB)):
        storage.write(derived_key(f"thumbnails/v1/{sha[:2]}/{sha[:16]}.{which}.webp"), data)
    store_original(storage, f, f.suffix)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=Path, help="a folder of input files (default: generated random files)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wb-storage-bench-"))
    try:
        if args.files:
            files = sorted(p for p in args.files.iterdir() if p.is_file())[:args.n]
        else:
            (work / "in").mkdir()
            files = []
            for i in range(args.n):
                p = work / "in" / f"f{i:03d}.jpg"
                p.write_bytes(os.urandom(4 << 20))
                files.append(p)
        times: dict[str, list[float]] = {"baseline": [], "storage": []}
        for r in range(args.rounds):
            libs = {side: work / f"{side}-{r}" for side in times}
            for i, f in enumerate(files):
                order = ("baseline", "storage") if (i + r) % 2 == 0 else ("storage", "baseline")
                for side in order:
                    fn = baseline if side == "baseline" else storage_side
                    t0 = time.perf_counter()
                    fn(libs[side], f)
                    times[side].append(time.perf_counter() - t0)
            for lib in libs.values():
                for p in lib.rglob("*"):
                    if p.is_file():
                        os.chmod(p, 0o644)
                shutil.rmtree(lib)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        mb = statistics.mean(f.stat().st_size for f in files) / 1e6
        print(f"{len(files)} files of {mb:.2f} MB on average, {args.rounds} rounds, per file (store, 2 renditions, "
              f"store again):")
        print(f"  baseline (pre-storage code)  median {med['baseline']:.1f} ms")
        print(f"  LocalStorage                 median {med['storage']:.1f} ms")
        print(f"  ratio storage / baseline     {med['storage'] / med['baseline']:.3f}")
    finally:
        for p in work.rglob("*"):
            if p.is_file():
                os.chmod(p, 0o644)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
