"""Does the embeddings stage keep the CLIP encoder busy? Share of the stage's wall time spent inside encode.

    .venv/bin/python benchmarks/embed_pipeline.py --images 48 [--onnx-int8]

A library of N generated 1600x1200 JPEGs gets thumbnails/previews first (not timed), then
``Library.process(["embeddings_512"])`` is timed end to end (worker start, model load in the worker, preview
decode, preprocessing, encoding, catalog write, index refresh). Afterwards, in this process with the model already
loaded, the same previews are decoded, preprocessed and encoded with separate timers. ``encoder share`` = pure
encode time / stage wall time: 1.0 would mean the encoder never waits. ViT-B-32 with RANDOM weights (no network
for the trained ones); the speed does not depend on the weights.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--onnx-int8", action="store_true", help="turn settings.clip_onnx_int8 on")
    args = ap.parse_args()

    from workbench.compat.torchvision_cpu import ensure_torchvision

    ensure_torchvision()
    import logging

    import open_clip
    import torch
    from PIL import Image

    from workbench import Library
    from workbench.semantic.clip import load_embedder

    logging.getLogger().setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="wb-embed-pipeline-"))
    atexit.register(shutil.rmtree, work, True)  # hundreds of MB of models
    torch.manual_seed(0)
    ckpt = work / "vitb32-random.pt"
    torch.save(open_clip.create_model("ViT-B-32").state_dict(), ckpt)
    media = work / "in"
    media.mkdir()
    rng = np.random.default_rng(0)
    for i in range(args.images):
        yy, xx = np.mgrid[0:1200, 0:1600]
        px = np.stack([(xx // (i + 2)) % 256, (yy // 3 + i * 9) % 256, (xx + yy) // 12 % 256], -1).astype(float)
        px += rng.normal(0, 12, px.shape)
        Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(media / f"p{i:03d}.jpg", quality=90)
    lib = Library.create(work / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = "ViT-B-32", str(ckpt)
    lib.settings.clip_onnx_int8 = args.onnx_int8
    lib.settings.clip_cache_dir = str(work / "cache")
    lib.settings.save(lib.root)
    lib.import_files([media], progress=False)
    lib.process(["thumbnails"], progress=False)
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    lib.process(["embeddings_512"], progress=False)
    wall = time.perf_counter() - t0

    emb = load_embedder(lib.settings)
    previews = sorted((lib.root / "derived").rglob("*.webp"))
    previews = [p for p in previews if Image.open(p).size[0] > 300][: args.images]
    t0 = time.perf_counter()
    ims = [Image.open(p).convert("RGB") for p in previews]
    decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    pix = torch.stack([emb.preprocess(im) for im in ims])
    prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, len(ims), emb.batch_size):
        if emb.image_encoder is not None:
            emb.image_encoder(pix[i:i + emb.batch_size].numpy())
        else:
            with torch.inference_mode():
                emb.model.encode_image(pix[i:i + emb.batch_size])
    encode = time.perf_counter() - t0
    print(f"{len(previews)} previews, clip_onnx_int8={args.onnx_int8}, load average {load_start:.2f} -> "
          f"{os.getloadavg()[0]:.2f}")
    print(f"stage wall {wall:.1f} s ({len(previews) / wall:.2f} images/s); in-process: decode {decode:.1f} s, "
          f"preprocess {prep:.1f} s, encode {encode:.1f} s; encoder share of stage wall {encode / wall:.0%}")


if __name__ == "__main__":
    main()
