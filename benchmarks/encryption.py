"""What encryption at rest costs: ingest of 12 MP JPEGs on an encrypted library against a plain one in the same run,
and the time decrypting adds to reading a preview for the gallery.

1. Ingest: per round, a fresh plain library and a fresh encrypted one (order swapped every round, so load from
   other processes hits both alike) each import the same photos and make their thumbnails and previews
   (``import_files`` + ``process(["thumbnails"])``; opening and unlocking are not timed). Prints each side's median
   seconds and the throughput ratio plain/encrypted (goal: encrypted at least 0.9x plain).
2. Preview reads: every preview of the last round read through each library's storage (``read_bytes``, as the
   gallery does), alternating plain and encrypted per read; prints the medians and the median added time
   (goal: under 2 ms).
3. Streaming: a large object written and read back in 1 MiB pieces through each storage (MB/s), the path a video
   takes.
4. Steps (``--steps``): the two per-photo steps encryption touches, in this process, alternating per photo: storing
   the original (``store_original``: hash, seal, sync) and the thumbnail stage's ``process_one`` (a decrypted local
   copy, decode, two sealed renditions). Less exposed to other processes' load than whole ingests.

Usage: .venv/bin/python benchmarks/encryption.py [--files DIR] [--n 8] [--rounds 3] [--reads 5] [--big-mib 256]
       [--steps] [--no-ingest]
  (without --files: N 12 MP JPEGs are generated in a temp folder, not timed)
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PASS = "benchmark passphrase"


def make_photos(folder: Path, n: int) -> list[Path]:
    from factory import jpeg
    return [jpeg(folder / f"IMG_{i:05d}.jpg", 4000, 3000, seed=i, quality=92) for i in range(n)]


def new_library(root: Path, encrypted: bool):
    from workbench import Library
    from workbench.storage.encrypted import init_encryption
    Library.create(root)
    if encrypted:
        init_encryption(root, PASS)
    return Library.open(root, passphrase=PASS if encrypted else None)


def ingest(lib, photos: Path) -> float:
    t = time.perf_counter()
    rep = lib.import_files([photos], progress=False)
    st = lib.process(["thumbnails"], progress=False)
    dt = time.perf_counter() - t
    assert not rep.failures and st[0].failed == 0, (rep.failures, st[0].failures)
    return dt


def steps(work: Path, files: list[Path], rounds: int) -> None:
    from workbench.ingest.blobstore import store_original
    from workbench.settings import Settings
    from workbench.stages.base import StageContext
    from workbench.stages.thumbnails import ThumbnailStage
    from workbench.storage import LocalStorage
    from workbench.storage.encrypted import EncryptedStorage
    from workbench.storage.keyring import Keys
    settings = Settings()
    stage = ThumbnailStage(settings)
    res: dict[str, dict[str, list[float]]] = {s: {"store": [], "thumbnails": []} for s in ("plain", "encrypted")}
    for r in range(rounds):
        stores = {"plain": LocalStorage(work / f"steps{r}-plain"),
                  "encrypted": EncryptedStorage(LocalStorage(work / f"steps{r}-enc"), Keys.new(), work / "cache")}
        for i, f in enumerate(files):
            for side in (("plain", "encrypted") if (r + i) % 2 == 0 else ("encrypted", "plain")):
                st = stores[side]
                t = time.perf_counter()
                sha, rel, _ = store_original(st, f, f.suffix)
                res[side]["store"].append(time.perf_counter() - t)
                row = {"id": sha[:16], "kind": "image", "mime": "image/jpeg", "storage": "copy", "blob": rel,
                       "stored_as": None, "path": str(f)}
                t = time.perf_counter()
                stage.process_one(row, StageContext(str(work), settings, st))
                res[side]["thumbnails"].append(time.perf_counter() - t)
    for step in ("store", "thumbnails"):
        p, e = (statistics.median(res[s][step]) for s in ("plain", "encrypted"))
        print(f"step {step}: plain {p * 1e3:.1f} ms, encrypted {e * 1e3:.1f} ms per photo; encrypted throughput "
              f"{p / e:.2f}x plain ({len(res['plain'][step])} photos per side)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=Path, help="folder of photos (default: N generated 12 MP JPEGs)")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reads", type=int, default=5, help="reads of every preview per side")
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--steps", action="store_true", help="also time the per-photo steps in this process")
    ap.add_argument("--no-ingest", action="store_true", help="only the steps (with --steps)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wb-enc-bench-"))
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    try:
        if args.files:
            photos = work / "photos"
            photos.mkdir()
            for p in sorted(args.files.glob("*.jpg"))[:args.n]:
                shutil.copy(p, photos / p.name)
        else:
            photos = work / "photos"
            make_photos(photos, args.n)
        files = sorted(photos.iterdir())
        mb = sum(p.stat().st_size for p in files) / 1e6
        print(f"{len(files)} photos, {mb:.1f} MB; {args.rounds} alternating rounds")

        if args.steps:
            steps(work, files, args.rounds)
        if args.no_ingest:
            return
        times: dict[str, list[float]] = {"plain": [], "encrypted": []}
        libs = {}
        for r in range(args.rounds):
            order = ["plain", "encrypted"] if r % 2 == 0 else ["encrypted", "plain"]
            for side in order:
                lib = new_library(work / f"r{r}-{side}", side == "encrypted")
                times[side].append(ingest(lib, photos))
                libs[side] = lib
            print(f"  round {r + 1}: plain {times['plain'][-1]:.2f} s, encrypted {times['encrypted'][-1]:.2f} s")
        mp, me = statistics.median(times["plain"]), statistics.median(times["encrypted"])
        ratios = [p / e for p, e in zip(times["plain"], times["encrypted"])]
        print(f"ingest median: plain {mp:.2f} s, encrypted {me:.2f} s; encrypted throughput = {mp / me:.2f}x plain "
              f"(per-round ratios {', '.join(f'{x:.2f}' for x in ratios)})")

        from workbench.storage import derived_key
        keys = {}
        for side, lib in libs.items():
            rows = lib.catalog.read("thumbnails", ["media_id", "preview"]).to_pylist()
            keys[side] = {r["media_id"]: derived_key(r["preview"]) for r in rows}
        common = sorted(set(keys["plain"]) & set(keys["encrypted"]))
        reads: dict[str, list[float]] = {"plain": [], "encrypted": []}
        sizes = []
        for _ in range(args.reads):
            for mid in common:
                for side in ("plain", "encrypted"):
                    st = libs[side].storage
                    t = time.perf_counter()
                    data = st.read_bytes(keys[side][mid])
                    reads[side].append(time.perf_counter() - t)
                sizes.append(len(data))
        rp, re_ = statistics.median(reads["plain"]), statistics.median(reads["encrypted"])
        added = statistics.median([e - p for p, e in zip(reads["plain"], reads["encrypted"])])
        print(f"preview read ({statistics.median(sizes) / 1024:.0f} KiB median, {len(reads['plain'])} reads per "
              f"side): plain {rp * 1e3:.2f} ms, encrypted {re_ * 1e3:.2f} ms; median added {added * 1e3:.2f} ms")

        if args.big_mib:
            piece = os.urandom(1 << 20)
            for side, lib in libs.items():
                st = lib.storage
                t = time.perf_counter()
                st.write("derived/versions/bench/big.bin", (piece for _ in range(args.big_mib)))
                w = time.perf_counter() - t
                t = time.perf_counter()
                n = 0
                with st.open("derived/versions/bench/big.bin") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        n += len(chunk)
                rd = time.perf_counter() - t
                assert n == args.big_mib << 20
                print(f"stream {args.big_mib} MiB {side}: write {args.big_mib / w:.0f} MiB/s, "
                      f"read {args.big_mib / rd:.0f} MiB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
