"""Lossy codecs at a target perceptual quality vs plain JPEG q85, on real corpus photos.

    WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/compress_lossy.py [--n 20] [--target 0.98] [--max-side 1280]

Picks up to --n distinct photos (>= 0.3 MP, JPEG/PNG, from exif/, peer/, faces/, skimage_data/; near-duplicates
dropped by a 16x16 luma hash), decodes each once, applies its EXIF orientation and downscales to long side
<= --max-side (so every codec sees the same pixels and the run stays < 4 min). For each codec it runs
encode_at_target(metric="ssim", target) and compares its bytes with JPEG quality 85 of the same pixels.
Reports mean savings %, images/s (whole target search, incl. decode + metric), mean SSIM reached and mean
SSIMULACRA2 of the final encode (if the package is installed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.compress.lossy import CODECS, encode, encode_at_target, open_image  # noqa: E402
from workbench.compress.metrics import ssim, ssimulacra2, ssimulacra2_available  # noqa: E402


def pick_photos(root: Path, n: int, max_side: int) -> list[tuple[str, Image.Image]]:
    seen: set[bytes] = set()
    out = []
    paths = sorted(p for sub in ("exif", "peer", "faces", "skimage_data") for p in (root / sub).rglob("*")
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())
    for p in paths:
        try:
            with Image.open(p) as im:
                if im.width * im.height < 300_000:
                    continue
                im = ImageOps.exif_transpose(im).convert("RGB")
        except Exception:  # noqa: BLE001 - corpus holds deliberately broken files
            continue
        small = np.asarray(im.convert("L").resize((16, 16), Image.Resampling.BOX), dtype=np.float32)
        key = (small > small.mean()).tobytes()
        if key in seen:
            continue
        seen.add(key)
        if max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out.append((str(p.relative_to(root)), im))
        if len(out) >= n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument("--max-side", type=int, default=1280)
    ap.add_argument("--codecs", default=",".join(CODECS))
    args = ap.parse_args()
    root = Path(os.environ.get("WORKBENCH_CORPUS", "/work/shared/corpus"))
    photos = pick_photos(root, args.n, args.max_side)
    mp = np.mean([im.width * im.height for _, im in photos]) / 1e6
    print(f"{len(photos)} photos, mean {mp:.2f} MP (long side <= {args.max_side}), target SSIM {args.target}")
    with_s2 = ssimulacra2_available()

    base = []
    for _, im in photos:
        data = encode(im, "jpeg", 85, exif=None, icc=None)
        dec = open_image(data).convert("RGB")
        base.append((len(data), ssim(im, dec), ssimulacra2(im, dec) if with_s2 else None))
    b_s2 = f"{np.mean([b[2] for b in base]):.1f}" if with_s2 else "-"
    rows = [("jpeg q85 (baseline)", "-", "85", f"{np.mean([b[1] for b in base]):.4f}", b_s2, "-",
             f"{np.mean([b[0] for b in base]) / 1024:.0f}")]

    for codec in args.codecs.split(","):
        t0 = time.perf_counter()
        results = [encode_at_target(im, codec, "ssim", args.target) for _, im in photos]
        dt = time.perf_counter() - t0
        savings = [100 * (1 - r.bytes / b[0]) for r, b in zip(results, base)]
        s2 = "-"
        if with_s2:
            s2 = f"{np.mean([ssimulacra2(im, open_image(r.data).convert('RGB')) for (_, im), r in zip(photos, results)]):.1f}"
        qs = [r.quality for r in results]
        rows.append((codec, f"{np.mean(savings):+.1f}% (median {np.median(savings):+.1f})",
                     f"{min(qs)}-{max(qs)} (med {int(np.median(qs))})",
                     f"{np.mean([r.value for r in results]):.4f}", s2,
                     f"{len(photos) / dt:.2f} ({np.mean([r.encodes for r in results]):.1f} enc/img)",
                     f"{np.mean([r.bytes for r in results]) / 1024:.0f}"))
        print(f"  {codec} done in {dt:.1f}s; unmet: {sum(not r.met for r in results)}", flush=True)

    head = ("codec", "savings vs jpeg q85", "quality chosen", "mean SSIM", "mean SSIMULACRA2", "images/s", "mean KiB")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
