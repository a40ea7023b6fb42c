"""Does the embeddings stage keep the CLIP encoder busy? Encoder busy time and throughput against the encoder alone.

    .venv/bin/python benchmarks/embed_pipeline.py --images 1000 [--onnx-int8] [--serial-too] [--rounds R] [--keep DIR]

A library of N generated 1600x1200 JPEGs gets thumbnails/previews first (not timed), then
``Library.process(["embeddings_512"])`` is timed end to end (worker start, model load, preview decode,
preprocessing, encoding, catalog writes, index refresh) with ``WORKBENCH_TRACE_DIR`` set, so the worker records
every encoder call (``workbench/trace.py``). Printed:

- encoder busy: the share of the stage's wall time during which an encode call was running, and the same share
  between the first and the last encode (without worker start and index refresh);
- the baseline, measured in the same run: the same previews, already decoded and preprocessed in memory, encoded
  alone in this process (batch ``clip_batch_size``); stage throughput / baseline throughput says how close the whole
  pipeline comes to the encoder by itself;
- CPU busy: the machine's busy share of all cores during the stage (/proc/stat; other processes count too).

``--serial-too`` runs the stage a second time on a copy of the library with ``clip_prefetch_batches = 0`` (decode and
preprocess before each encode, the old way) for comparison. ViT-B-32 with RANDOM weights (no network for the
trained ones); the speed does not depend on the weights.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat: the stage's workers are children of the
    forkserver, not of this process, so rusage would not see them."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run_stage(lib_root: Path, trace: Path) -> dict[str, float]:
    """Time the embeddings stage on the library at ``lib_root``; its encoder spans are those the trace folder got
    during the run."""
    from workbench import Library
    from workbench.trace import busy_seconds, read_spans

    lib = Library.open(lib_root)
    (busy0, total0), load0, t0 = cpu_ticks(), os.getloadavg()[0], time.time()
    lib.process(["embeddings_512"], progress=False)
    t1 = time.time()
    busy1, total1 = cpu_ticks()
    spans = [s for s in read_spans(trace, "encode") if t0 <= s[0] <= t1]
    busy = busy_seconds(spans)
    first, last = spans[0][0], spans[-1][1]
    return {"wall": t1 - t0, "busy": busy, "before": first - t0, "after": t1 - last, "images": sum(n for *_, n in spans), "span": last - first,
            "cpu": (busy1 - busy0) / max(1, total1 - total0), "load0": load0, "load1": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--onnx-int8", action="store_true", help="turn settings.clip_onnx_int8 on")
    ap.add_argument("--serial-too", action="store_true", help="also run with clip_prefetch_batches = 0")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each variant, alternating (median reported)")
    ap.add_argument("--keep", type=Path, help="keep the prepared library here and reuse it when it exists")
    args = ap.parse_args()

    from workbench.trace import ENV

    work = Path(tempfile.mkdtemp(prefix="wb-embed-pipeline-"))
    atexit.register(shutil.rmtree, work, True)  # hundreds of MB of models and previews
    # Before any worker pool starts: workers fork from a server that keeps the environment it started with.
    (work / "trace").mkdir()
    os.environ[ENV] = str(work / "trace")

    from workbench.compat.torchvision_cpu import ensure_torchvision

    ensure_torchvision()
    import logging

    import torch
    from PIL import Image

    from workbench import Library
    from workbench.semantic.clip import load_embedder

    logging.getLogger().setLevel(logging.ERROR)
    prepared = (args.keep or work) / f"prepared-{args.images}"
    if not (prepared / "done").exists():
        prepare(prepared, args.images)
    variants = {"overlapped (clip_prefetch_batches=2)": 2}
    if args.serial_too:
        variants["serial (clip_prefetch_batches=0)"] = 0
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, prefetch in variants.items():
            root = work / f"lib-{r}-{prefetch}"
            shutil.copytree(prepared / "lib", root, symlinks=True)
            lib = Library.open(root)
            lib.settings.clip_prefetch_batches = prefetch
            lib.settings.clip_onnx_int8 = args.onnx_int8
            lib.settings.clip_cache_dir = str(prepared / "cache")
            lib.settings.save(lib.root)
            if args.onnx_int8:
                load_embedder(lib.settings)  # the one-off export + quantization, cached on disk, is not the pipeline
            runs[name].append(run_stage(root, work / "trace"))
            if r < args.rounds - 1 or name != list(variants)[-1]:
                shutil.rmtree(root)

    # Baseline: the encoder alone on the same previews, decoded and preprocessed beforehand.
    emb = load_embedder(lib.settings)
    previews = sorted(p for p in (root / "derived").rglob("*.webp") if Image.open(p).size[0] > 300)
    pix = torch.cat([emb.pixels([Image.open(p).convert("RGB")]) for p in previews[: args.images]])
    emb.encode_pixels(pix[: emb.batch_size])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(pix), emb.batch_size):
        emb.encode_pixels(pix[i:i + emb.batch_size])
    alone = time.perf_counter() - t0
    print(f"{len(pix)} previews, ViT-B-32 random weights, clip_onnx_int8={args.onnx_int8}, "
          f"batch {emb.batch_size}, {os.cpu_count()} cores, {args.rounds} round(s)")
    print(f"baseline: encoder alone {alone:.1f} s = {len(pix) / alone:.2f} images/s")
    for name, results in runs.items():
        for r in results:
            rate = r["images"] / r["wall"]
            print(f"{name}: stage wall {r['wall']:.1f} s = {rate:.2f} images/s = {rate / (len(pix) / alone):.2f}x "
                  f"the encoder alone; encoder busy {r['busy'] / r['wall']:.0%} of the wall, "
                  f"{r['busy'] / r['span']:.0%} between first and last encode ({r['span']:.1f} s; {r['before']:.1f} s "
                  f"before the first, {r['after']:.1f} s after the last); CPU busy {r['cpu']:.0%}; load average "
                  f"{r['load0']:.2f} -> {r['load1']:.2f}")
        median = statistics.median(r["wall"] for r in results)
        print(f"{name}: median stage wall {median:.1f} s = {results[0]['images'] / median / (len(pix) / alone):.2f}x "
              f"the encoder alone")


def prepare(folder: Path, images: int) -> None:
    """A library of ``images`` generated 1600x1200 JPEGs with thumbnails and previews, and the random checkpoint."""
    import open_clip
    import torch
    from PIL import Image

    from workbench import Library

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    ckpt = folder / "vitb32-random.pt"
    torch.save(open_clip.create_model("ViT-B-32").state_dict(), ckpt)
    media = folder / "in"
    media.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1200, 0:1600]
    for i in range(images):
        px = np.stack([(xx // (i % 40 + 2)) % 256, (yy // 3 + i * 9) % 256, (xx + yy + 7 * i) // 12 % 256], -1)
        px = px.astype(np.float32) + rng.normal(0, 12, px.shape).astype(np.float32)
        Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(media / f"p{i:04d}.jpg", quality=90)
    lib = Library.create(folder / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = "ViT-B-32", str(ckpt)
    lib.settings.save(lib.root)
    lib.import_files([media], progress=False)
    lib.process(["thumbnails"], progress=False)
    (folder / "done").touch()


if __name__ == "__main__":
    main()
