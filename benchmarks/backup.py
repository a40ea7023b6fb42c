#!/usr/bin/env python
"""Backup benchmark: `workbench backup` against plain `restic backup` (and borg) of the same library, same run.

What it does
  1. Generates N + N/100 distinct 12 MP JPEGs as benchmarks/ingest.py does (not timed; reused with --workdir).
     Imports the first N into a fresh library (copy mode; not timed). Thumbnails are not built (that is the
     ingest benchmark's subject; they would add ~5% to the bytes backed up).
  2. First full backup, alternating (plain, workbench, borg, borg, workbench, plain; each into a fresh
     repository, so each side gets one run early and one late):
       - plain: `restic backup <library folder>` with the same --compression as the backup_compression setting
         (what a person would do by hand: no consistency, no check);
       - workbench: `Library.backup` (tables pinned, hard-linked staging, the originals the rows name, the
         snapshot listed back and compared with what was staged, retention applied);
       - borg: `borg create` of the same folder into a fresh repokey-encrypted repository (lz4, borg's default).
     workbench / plain is the overhead of consistency and verification; borg / plain is for the engine choice.
  3. Incremental: import N/100 more JPEGs, then `Library.backup` again: seconds and bytes written (restic's
     data_added); plain restic and borg incrementals of the folder alongside.
  4. Restore drill: `Library.restore_library` of the whole library into a fresh folder (minutes), then opening it
     and `verify` (every original re-hashed) timed separately.

Examples
  .venv/bin/python benchmarks/backup.py                                   # N=1000 in a temporary folder
  .venv/bin/python benchmarks/backup.py --n 200 --workdir /tmp/wb-backup --keep
  .venv/bin/python benchmarks/backup.py --n 1000 --workdir /tmp/wb-backup --keep --compression-only 100
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

PASSWORD = "benchmark password"
GB = 1e9


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _drop(path: Path) -> None:
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
        shutil.rmtree(path)


def plain_restic(folder: Path, repo: Path, compression: str) -> dict:
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo)}
    if not (repo / "config").exists():
        subprocess.run(["restic", "init", "-q"], env=env, check=True, capture_output=True)
    t0 = time.perf_counter()
    out = subprocess.run(["restic", "backup", "--json", "-q", "--compression", compression, str(folder)], env=env,
                         check=True, capture_output=True, text=True).stdout
    dt = time.perf_counter() - t0
    summary = [json.loads(x) for x in out.splitlines() if '"summary"' in x][-1]
    return {"seconds": dt, "data_added": summary["data_added"], "bytes": summary["total_bytes_processed"]}


def borg(folder: Path, repo: Path, archive: str) -> dict:
    env = {**os.environ, "BORG_PASSPHRASE": PASSWORD, "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes"}
    if not repo.exists():
        subprocess.run(["borg", "init", "-e", "repokey", str(repo)], env=env, check=True, capture_output=True)
    before = _du(repo)
    t0 = time.perf_counter()
    subprocess.run(["borg", "create", f"{repo}::{archive}", str(folder)], env=env, check=True, capture_output=True)
    return {"seconds": time.perf_counter() - t0, "data_added": _du(repo) - before}


def compare_compression(paths: list[Path], workdir: Path, rounds: int = 2) -> dict:
    """restic's --compression auto (its default) against off on the same JPEGs, alternating."""
    src = workdir / "compression-src"
    _drop(src)
    src.mkdir(parents=True)
    for p in paths:
        os.link(p, src / p.name)
    out: dict = {"files": len(paths), "bytes": _du(src), "auto": [], "off": []}
    for _ in range(rounds):
        for mode in ("auto", "off"):
            repo = workdir / "repos" / f"compression-{mode}"
            _drop(repo)
            r = plain_restic(src, repo, mode)
            out[mode].append(r["seconds"])
            print(f"  compression {mode:4s}: {r['seconds']:5.1f} s for {len(paths)} JPEGs, stored "
                  f"{_du(repo) / 1e6:.0f} MB of {out['bytes'] / 1e6:.0f} MB", flush=True)
            _drop(repo)
    _drop(src)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="12 MP JPEGs in the library (default 1000)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the workdir (the generated inputs are reused)")
    ap.add_argument("--no-borg", action="store_true")
    ap.add_argument("--compression-only", type=int, default=0, metavar="K",
                    help="only compare restic --compression auto and off on the first K JPEGs, then stop")
    args = ap.parse_args(argv)
    os.environ["WORKBENCH_BACKUP_PASSWORD"] = PASSWORD
    import ingest as gen
    from workbench.library import Library

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="wb-backup-"))).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RESTIC_CACHE_DIR", str(workdir / "restic-cache"))
    extra = max(1, args.n // 100)
    g = gen.generate(workdir / "input", args.n + extra, quiet=False)
    paths = [Path(p) for p in g["image_paths"]]
    first, more = paths[:args.n], paths[args.n:]
    if args.compression_only:
        (workdir / "repos").mkdir(exist_ok=True)
        print(json.dumps(compare_compression(paths[:args.compression_only], workdir)))
        return 0
    for sub in ("library", "restored", "repos"):
        _drop(workdir / sub)
    (workdir / "repos").mkdir()
    t0 = time.perf_counter()
    lib = Library.create(workdir / "library")
    lib.import_files(first, progress=False)
    size = _du(lib.root)
    print(f"library: {args.n} JPEGs, {size / GB:.2f} GB (import {time.perf_counter() - t0:.0f} s, not timed)",
          flush=True)
    res: dict = {"n": args.n, "library_bytes": size, "full": {"plain": [], "workbench": []}}
    use_borg = not args.no_borg and shutil.which("borg") is not None

    res["full"]["borg"] = []
    comp = lib.settings.backup_compression
    order = ["plain", "workbench", "borg", "borg", "workbench", "plain"] if use_borg else \
        ["plain", "workbench", "workbench", "plain"]
    for i, side in enumerate(order):
        repo = workdir / "repos" / f"{side}-{i}"
        if side == "plain":
            r = plain_restic(lib.root, repo, comp)
        elif side == "borg":
            r = borg(lib.root, repo, "full")
        else:
            t = time.perf_counter()
            b = lib.backup(str(repo))
            r = {"seconds": time.perf_counter() - t, "data_added": b["data_added_bytes"],
                 "bytes": b["bytes_processed"], "stage_s": b["stage_s"], "verify_s": b["verify_s"]}
        r["MB_per_s"] = size / 1e6 / r["seconds"]
        res["full"][side].append(r)
        print(f"  full {side:9s}: {r['seconds']:6.1f} s  {r['MB_per_s']:6.1f} MB/s  added {r['data_added'] / GB:.2f} GB"
              + (f"  (staging {r['stage_s']:.1f} s, check {r['verify_s']:.1f} s)" if side == "workbench" else ""),
              flush=True)
    last = {side: workdir / "repos" / f"{side}-{max(i for i, s in enumerate(order) if s == side)}"
            for side in set(order)}
    for i, side in enumerate(order):
        if workdir / "repos" / f"{side}-{i}" != last[side]:
            _drop(workdir / "repos" / f"{side}-{i}")
    keep_plain, keep_wb = last["plain"], last["workbench"]

    lib.import_files(more, progress=False)
    t = time.perf_counter()
    b = lib.backup(str(keep_wb))
    res["incremental"] = {"workbench": {"seconds": time.perf_counter() - t, "data_added": b["data_added_bytes"],
                                        "files_new": b["files_new"], "new_originals": len(more),
                                        "new_bytes": sum(p.stat().st_size for p in more)},
                          "plain": plain_restic(lib.root, keep_plain, comp)}
    if use_borg:
        res["incremental"]["borg"] = borg(lib.root, last["borg"], "incremental")
    for side, r in res["incremental"].items():
        print(f"  incremental {side:9s}: {r['seconds']:5.1f} s  added {r['data_added'] / 1e6:.1f} MB", flush=True)

    t = time.perf_counter()
    out = Library.restore_library(workdir / "restored", str(keep_wb))
    restore_s = time.perf_counter() - t
    t = time.perf_counter()
    back = Library.open(out["library"])
    report = back.verify(progress=False)
    verify_s = time.perf_counter() - t
    res["restore"] = {"minutes": restore_s / 60, "MB_per_s": size / 1e6 / restore_s, "verify_s": verify_s,
                      "media": len(back.media()), "verified_ok": int((report["status"] == "ok").sum())}
    print(f"  restore drill: {restore_s / 60:.2f} min ({res['restore']['MB_per_s']:.0f} MB/s), then verify "
          f"{verify_s:.0f} s: {res['restore']['verified_ok']} of {res['restore']['media']} originals intact", flush=True)

    def mean(xs: list[dict], k: str) -> float:
        return sum(x[k] for x in xs) / len(xs)
    ratio = mean(res["full"]["workbench"], "seconds") / mean(res["full"]["plain"], "seconds")
    res["overhead_ratio"] = ratio
    print(f"workbench / plain restic (full backup, mean of 2 each, alternating): {ratio:.2f}x the time", flush=True)
    if use_borg:
        res["borg_over_restic"] = mean(res["full"]["borg"], "seconds") / mean(res["full"]["plain"], "seconds")
        print(f"borg / plain restic (full backup): {res['borg_over_restic']:.2f}x the time", flush=True)
    (workdir / "result.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res))
    for sub in ("library", "restored", "repos"):
        _drop(workdir / sub)
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
