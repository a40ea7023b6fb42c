"""Lossless recompression over the corpus's photos (issue 6): per input format, bytes before/after, savings, all verified?

Run: WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/compress_lossless.py [--limit-per-format N]
Each image goes through workbench.compress.lossless.best_lossless; "original" (nothing smaller verified) counts as 0%.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

from workbench.compress.lossless import backends, best_lossless, pixels_identical, verify_jpeg_roundtrip

MIMES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
         ".tiff": "image/tiff", ".bmp": "image/bmp"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit-per-format", type=int, default=1000)
    ap.add_argument("--max-bytes", type=int, default=20_000_000, help="skip larger files")
    args = ap.parse_args()
    root = os.environ.get("WORKBENCH_CORPUS")
    if not root or not Path(root).is_dir():
        print("set WORKBENCH_CORPUS to the shared corpus folder", file=sys.stderr)
        return 2
    print("backends:", backends())
    files: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(Path(root).rglob("*")):
        mime = MIMES.get(p.suffix.lower())
        if mime and p.is_file() and p.stat().st_size <= args.max_bytes and len(files[mime]) < args.limit_per_format:
            files[mime].append(p)
    print(f"{'format':11} {'n':>4} {'changed':>7} {'MB before':>9} {'MB after':>9} {'saved%':>7} {'mean%':>6} "
          f"{'verified':>8} {'img/s':>6}  codecs")
    for mime, paths in files.items():
        before = after = 0
        pct: list[float] = []
        codecs: dict[str, int] = defaultdict(int)
        ok = True
        t0 = time.perf_counter()
        for p in paths:
            data = p.read_bytes()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = best_lossless(data, mime)
                # independent re-check of what was chosen (outside the timed choice it is the same work again)
                if res.codec == "jxl-jpeg":
                    ok &= verify_jpeg_roundtrip(data, res.data)
                elif res.codec != "original":
                    ok &= pixels_identical(data, res.data)
            ok &= res.verified
            before += res.bytes_before
            after += res.bytes_after
            pct.append(100 * res.savings)
            codecs[res.codec] += 1
        dt = time.perf_counter() - t0
        changed = sum(v for k, v in codecs.items() if k != "original")
        print(f"{mime:11} {len(paths):4} {changed:7} {before / 1e6:9.2f} {after / 1e6:9.2f} "
              f"{100 * (1 - after / before):7.1f} {sum(pct) / len(pct):6.1f} {'yes' if ok else 'NO':>8} "
              f"{len(paths) / dt:6.1f}  {dict(codecs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
