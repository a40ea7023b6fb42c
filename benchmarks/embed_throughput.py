"""CLIP image-embedding throughput on CPU: stock open_clip fp32 against faster variants, in ONE run.

    .venv/bin/python benchmarks/embed_throughput.py --batch 16 --images 64 --repeat 3 [--checkpoint F --photos DIR]

Why one run: the machine is shared (2 cores, CI and other jobs come and go), so every variant is timed in each
round, rounds interleave the variants, and the ratio uses the median per variant of the same rounds. The load
average at start and end is printed.

Model: open_clip ``ViT-B-32`` built with RANDOM weights (``pretrained=None``; no network here, so the trained
weights cannot be downloaded). Speed depends on the architecture only; the cosine fidelity figures are measured on
random weights, which may differ from trained weights (activation ranges, and so int8 error, change with training).

Variants (all encode the same preprocessed batch of 224x224 pixels unless said otherwise):
  a  stock       ``model.encode_image`` fp32, torch default threads (the baseline, 1.00x)
  b  project     ``ClipEmbedder.embed_images`` on PIL images (includes open_clip preprocessing)
  c  candidates  channels_last, torch threads=1, torch dynamic int8 of nn.Linear (``quantize_dynamic``),
                 ONNX Runtime fp32 and ONNX Runtime int8 dynamic quantization (needs the ``onnx`` package; skipped
                 with a note when it is missing), each at ``--batch`` and for the best ones also at other batch sizes
Each reports images/s, ratio vs stock and cosine to the stock fp32 vectors (min and mean over all images).
"""
from __future__ import annotations

import argparse
import atexit
import copy
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _load() -> float:
    return os.getloadavg()[0]


def _images(n: int, seed: int = 0) -> list:
    """Photo-like inputs (gradients + noise) at a typical preview size, so preprocessing does real resizing."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = 480, 640
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * (i + 1)) % 256, (yy * 3 + i * 17) % 256, (xx + yy) % 256], -1).astype(np.float32)
        base += rng.normal(0, 20, base.shape)
        out.append(Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB"))
    return out


def _photos(folder: Path, n: int) -> list:
    """The first ``n`` images Pillow can open under ``folder`` (sorted paths), as RGB."""
    from PIL import Image

    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            with Image.open(path) as im:
                out.append(im.convert("RGB"))
        except (OSError, ValueError):
            continue
        if len(out) == n:
            return out
    raise SystemExit(f"only {len(out)} readable images under {folder}; --images asks for {n}")


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16, help="batch size of the main comparison")
    ap.add_argument("--images", type=int, default=64, help="images per timed pass (a multiple of --batch)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the median per variant is reported")
    ap.add_argument("--batches", default="1,32", help="extra batch sizes tried for the best variants")
    ap.add_argument("--no-onnx", action="store_true", help="skip ONNX Runtime variants")
    ap.add_argument("--checkpoint", help="trained ViT-B-32 weights: a local open_clip checkpoint file or a pretrained "
                                         "tag such as laion2b_s34b_b79k (default: random weights)")
    ap.add_argument("--photos", type=Path, help="a folder of real photos to encode instead of generated ones (the "
                                                "int8 fidelity on trained weights should be measured on photos)")
    args = ap.parse_args()

    from workbench.compat.torchvision_cpu import ensure_torchvision

    ensure_torchvision()
    import logging

    import open_clip
    import torch

    logging.getLogger().setLevel(logging.ERROR)  # "No pretrained weights loaded" is the point here
    load_start = _load()
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=args.checkpoint or None)
    model.eval()
    pil = _photos(args.photos, args.images) if args.photos else _images(args.images)
    pixels = torch.stack([preprocess(im) for im in pil])
    n = len(pil)

    def batched(fn: Callable, bs: int) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            return np.concatenate([np.asarray(fn(pixels[i:i + bs])) for i in range(0, n, bs)])
        return run

    def torch_fn(m, threads: int | None = None, channels_last: bool = False) -> Callable:
        def f(x):
            if threads:
                torch.set_num_threads(threads)
            try:
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.inference_mode():
                    return m.encode_image(x).float().numpy()
            finally:
                torch.set_num_threads(default_threads)
        return f

    variants: dict[str, Callable[[], np.ndarray]] = {}
    notes: list[str] = []
    bs = args.batch
    variants[f"a stock fp32 b{bs}"] = batched(torch_fn(model), bs)

    from workbench.semantic.clip import ClipEmbedder
    emb = ClipEmbedder("ViT-B-32/random", 512, model, preprocess, None, batch_size=bs)
    variants[f"b project embed_images b{bs} (+preprocess)"] = lambda: emb.embed_images(pil)

    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    variants[f"c channels_last b{bs}"] = batched(torch_fn(cl, channels_last=True), bs)
    variants[f"c threads=1 b{bs}"] = batched(torch_fn(model, threads=1), bs)
    q8 = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    variants[f"c torch int8 dynamic b{bs}"] = batched(torch_fn(q8), bs)
    for extra in [int(b) for b in args.batches.split(",") if b.strip()]:
        variants[f"c stock fp32 b{extra}"] = batched(torch_fn(model), extra)
        variants[f"c torch int8 dynamic b{extra}"] = batched(torch_fn(q8), extra)

    if not args.no_onnx:
        try:
            import onnx  # noqa: F401  (torch's exporter and onnxruntime.quantization need it)
            import onnxruntime as ort
            tmp = Path(tempfile.mkdtemp(prefix="wb-onnx-"))
            atexit.register(shutil.rmtree, tmp, True)  # hundreds of MB of models
            fp32_path = tmp / "visual.onnx"
            t0 = time.perf_counter()
            torch.onnx.export(model.visual, (pixels[:2],), str(fp32_path), dynamo=False, opset_version=17,
                              input_names=["pixels"], output_names=["emb"],
                              dynamic_axes={"pixels": {0: "n"}, "emb": {0: "n"}})
            notes.append(f"ONNX export {time.perf_counter() - t0:.1f} s")
            paths = {"fp32": fp32_path}
            try:
                from onnxruntime.quantization import QuantType, quantize_dynamic
                q_path = tmp / "visual.int8.onnx"
                t0 = time.perf_counter()
                quantize_dynamic(str(fp32_path), str(q_path), weight_type=QuantType.QInt8)
                notes.append(f"ONNX int8 quantization {time.perf_counter() - t0:.1f} s")
                paths["int8"] = q_path
            except Exception as e:  # noqa: BLE001 - a benchmark note, not a product path
                notes.append(f"ONNX int8 skipped: {e}")
            for name, path in paths.items():
                so = ort.SessionOptions()
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
                fn = (lambda s: (lambda x: s.run(None, {"pixels": x.numpy()})[0]))(sess)
                variants[f"c onnxruntime {name} b{bs}"] = batched(fn, bs)
                for extra in [int(b) for b in args.batches.split(",") if b.strip()]:
                    variants[f"c onnxruntime {name} b{extra}"] = batched(fn, extra)
        except ImportError as e:
            notes.append(f"ONNX Runtime variants skipped ({e}); pip install onnx to include them")

    # warm-up (first calls allocate and pick kernels) and the reference vectors
    ref = _unit(variants[f"a stock fp32 b{bs}"]())
    cos: dict[str, tuple[float, float]] = {}
    for name, run in variants.items():
        c = np.sum(_unit(run()) * ref, axis=1)
        cos[name] = (float(c.min()), float(c.mean()))
    times: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(args.repeat):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))  # interleave, alternate order
        for name in order:
            t0 = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - t0)
    load_end = _load()

    base = n / statistics.median(times[f"a stock fp32 b{bs}"])
    print(f"ViT-B-32 {args.checkpoint or 'random'} weights, {n} {'photos' if args.photos else 'images'} per pass, {args.repeat} interleaved rounds, torch "
          f"{torch.__version__} ({default_threads} threads default), open_clip {open_clip.__version__}, "
          f"load average 1 min: {load_start:.2f} at start, {load_end:.2f} at end")
    for note in notes:
        print("note:", note)
    print(f"{'variant':46s} {'images/s':>9s} {'ratio':>6s} {'cos min':>8s} {'cos mean':>9s}")
    for name in variants:
        ips = n / statistics.median(times[name])
        print(f"{name:46s} {ips:9.2f} {ips / base:5.2f}x {cos[name][0]:8.4f} {cos[name][1]:9.4f}")


if __name__ == "__main__":
    main()
