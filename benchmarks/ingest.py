#!/usr/bin/env python
"""Ingest benchmark: workbench import + process against a naive Pillow loop measured in the same run.

What it does
  1. Generates N distinct 12-megapixel (4000x3000) JPEGs with photo-like content (gradients, shapes, texture and
     sensor-like noise; ~2-5 MB each, with EXIF camera/date and, on half of them, GPS) and one 10 s 1080p H.264
     video into <workdir>/input. Generation is not timed; files already there from an earlier --keep run with
     the same --n are reused.
  2. Baseline, in a fresh process: a naive single-process loop over the first --baseline-n images: sha256 of the
     file, Image.open + full decode, resize to a 1440 px and a 256 px long edge (LANCZOS, both from the full
     image) and save both as WebP with the same quality/method as the library settings. No parallelism.
  3. Workbench, in a fresh process: Library.create on an empty folder (not timed), then
     lib.import_files([input]) + lib.process(["thumbnails"]) (timed together: that is the ingest; the CLIP
     stages are a separate cost, not part of what the baseline does). It ingests all N images
     and the video; images/s counts only the N images, so the video's cost is charged to the workbench side.
  4. Memory: a thread in this (parent) process samples every --sample-ms the RSS of the phase process and all
     its descendants (forkserver and pool workers) and records the peak of the sum ("tree") and the peak of any
     single process. Summing RSS counts shared pages once per process, so the tree figure is an upper bound.

Targets (from the spec): workbench images/s >= 4x the baseline's per-image rate; peak tree RSS < 1.5 GiB when
ingesting 1,000 files (the RSS line is reported at every N but the target is stated for --n 1000).

Examples
  .venv/bin/python benchmarks/ingest.py                     # default N=200, baseline on 50
  .venv/bin/python benchmarks/ingest.py --n 1000 --keep --workdir /tmp/wb-bench
  .venv/bin/python benchmarks/ingest.py --n 200 --set webp_method=2 --json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

W, H = 4000, 3000
PAD = 96               # bases are larger than the output so each file can be a different crop
N_BASES = 4
JPEG_QUALITY = 92
GEN_VERSION = 1        # bump when the generated content changes, so --keep workdirs regenerate
TARGET_RATIO = 4.0
TARGET_RSS_MIB = 1536.0
TARGET_RSS_N = 1000
MIB = 1024 * 1024


# ------------------------------------------------------------------------------------------------ generation

def _make_base(seed: int) -> np.ndarray:
    """One photo-like base image (H+PAD, W+PAD, 3) uint8: sky/ground gradients, low-frequency structure,
    shapes with soft edges, fine texture and sensor noise, so JPEG sizes land where camera files do."""
    rng = np.random.default_rng(seed)
    h, w = H + PAD, W + PAD
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    top, bottom = rng.uniform(60, 220, 3), rng.uniform(20, 160, 3)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(1, 6), rng.uniform(1, 5), rng.uniform(0, 6.28)
        img[..., c] = top[c] + (bottom[c] - top[c]) * y + 25 * np.sin(6.28 * fx * x + ph) * np.cos(6.28 * fy * y)
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(60):  # shapes: buildings, trees, objects
        x0, y0 = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        x1, y1 = x0 + int(rng.uniform(50, 900)), y0 + int(rng.uniform(50, 700))
        colour = tuple(int(v) for v in rng.uniform(0, 255, 3))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
    pil = pil.filter(ImageFilter.GaussianBlur(2))
    arr = np.asarray(pil).astype(np.int16)
    # texture: mid-frequency pattern (blurred noise) plus per-pixel sensor noise
    tex = Image.fromarray(rng.integers(0, 256, (h // 4, w // 4), np.uint8)).resize((w, h), Image.BICUBIC)
    arr += (np.asarray(tex).astype(np.int16) - 128)[..., None] // 6
    arr += rng.normal(0, 5.0, (h, w, 1)).astype(np.int16) + rng.normal(0, 2.0, (h, w, 3)).astype(np.int16)
    return np.clip(arr, 0, 255).astype(np.uint8)


_BASES: list[Image.Image] = []
_FONT = None


def _gen_init() -> None:
    global _BASES, _FONT
    _BASES = [Image.fromarray(_make_base(1000 + i)) for i in range(N_BASES)]
    try:
        _FONT = ImageFont.load_default(size=120)
    except TypeError:
        _FONT = ImageFont.load_default()


def _exif(i: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"                       # Make
    exif[0x0110] = f"Model {i % 3 + 1}"             # Model
    exif[0x0131] = "workbench benchmarks/ingest.py"  # Software
    ts = datetime(2024, 1, 1, 8, 0, 0).timestamp() + i * 3607
    stamp = datetime.fromtimestamp(ts).strftime("%Y:%m:%d %H:%M:%S")
    exif[0x0132] = stamp
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = stamp                              # DateTimeOriginal
    sub[0x9004] = stamp                              # DateTimeDigitized
    if i % 2 == 0:                                   # GPS on half of the files (places lookup is part of ingest)
        lat, lon = 48.85 + (i % 50) * 0.01, 2.35 + (i % 37) * 0.01
        gps = exif.get_ifd(0x8825)

        def dms(v: float) -> tuple[float, float, float]:
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 2))
        gps[1], gps[2], gps[3], gps[4] = "N", dms(lat), "E", dms(lon)
    return exif


def _gen_one(args: tuple[int, str]) -> int:
    """File i: a crop of base i % N_BASES at an i-dependent offset, tinted, stamped with its number."""
    i, out = args
    base = _BASES[i % N_BASES]
    dx, dy = (i * 37) % PAD, (i * 53) % PAD
    im = base.crop((dx, dy, dx + W, dy + H))
    gains = [0.85 + 0.3 * (((i * k) % 17) / 16) for k in (3, 5, 7)]
    luts = [min(255, int(v * g)) for g in gains for v in range(256)]
    im = im.point(luts)
    draw = ImageDraw.Draw(im)
    draw.text((200 + (i * 29) % 2000, 200 + (i * 41) % 1500), f"IMG {i:05d}", fill=(255, 255, 255), font=_FONT)
    tmp = out + ".part"
    im.save(tmp, "JPEG", quality=JPEG_QUALITY, exif=_exif(i))
    os.replace(tmp, out)
    return os.path.getsize(out)


def _gen_video(path: Path, seconds: int = 10, fps: int = 30) -> None:
    import av
    rng = np.random.default_rng(7)
    vw, vh = 1920, 1080
    world = np.asarray(Image.fromarray(_make_base(77)).resize((vw + 600, vh + 200)))
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = vw, vh, "yuv420p"
        s.options = {"preset": "veryfast", "crf": "23"}
        for f in range(seconds * fps):
            ox, oy = f * 2, int(100 + 80 * math.sin(f / 40))
            frame = world[oy:oy + vh, ox:ox + vw].copy()
            frame[::4, ::4] = np.clip(frame[::4, ::4].astype(np.int16) + rng.integers(-6, 7, (vh // 4, vw // 4, 1)),
                                      0, 255).astype(np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    os.replace(tmp, path)


def generate(input_dir: Path, n: int, quiet: bool) -> dict:
    input_dir.mkdir(parents=True, exist_ok=True)
    stamp = input_dir / ".generated.json"
    old = json.loads(stamp.read_text()) if stamp.exists() else {}
    if old.get("version") != GEN_VERSION:
        for p in input_dir.iterdir():
            p.unlink() if p.is_file() else shutil.rmtree(p)
    images = [input_dir / f"IMG_{i:05d}.jpg" for i in range(n)]
    for extra in input_dir.glob("IMG_*.jpg"):  # a workdir kept from a larger --n
        if extra not in set(images):
            extra.unlink()
    todo = [(i, str(p)) for i, p in enumerate(images) if not p.exists()]
    t0 = time.perf_counter()
    if todo:
        if not quiet:
            print(f"generating {len(todo)} 12 MP JPEGs in {input_dir} (not timed) ...", flush=True)
        workers = max(1, min(os.cpu_count() or 1, len(todo)))
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_gen_init) as ex:
            for k, _ in enumerate(ex.map(_gen_one, todo, chunksize=4), 1):
                if not quiet and (k % 100 == 0 or k == len(todo)):
                    print(f"  {k}/{len(todo)}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    video = input_dir / "VID_0001.mp4"
    if not video.exists():
        if not quiet:
            print("generating a 10 s 1080p H.264 video (not timed) ...", flush=True)
        _gen_video(video)
    stamp.write_text(json.dumps({"version": GEN_VERSION}))
    sizes = [p.stat().st_size for p in images]
    return {"images": n, "image_bytes": sum(sizes), "mean_image_mb": sum(sizes) / max(1, n) / 1e6,
            "video_bytes": video.stat().st_size, "generate_s": time.perf_counter() - t0, "video": str(video),
            "image_paths": [str(p) for p in images]}


# ---------------------------------------------------------------------------------------------------- phases

def _settings_with(overrides: dict[str, str]):
    from workbench.settings import Settings
    s = Settings()
    for k, v in overrides.items():
        if not hasattr(s, k):
            raise SystemExit(f"--set {k}: unknown setting; known: {sorted(vars(s))}")
        setattr(s, k, type(getattr(s, k))(v))
    return s


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, long_edge / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def phase_baseline(paths: list[str], out_dir: str, overrides: dict[str, str], q: mp.Queue) -> None:
    """The naive loop: hash, full decode, two LANCZOS resizes from the full image, two WebP saves."""
    s = _settings_with(overrides)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for i, p in enumerate(paths):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        with Image.open(p) as im:
            full = im.convert("RGB")
        for name, edge in (("preview", s.preview_size_px), ("thumb", s.thumb_size_px)):
            r = full.resize(_fit(full.size, edge), Image.LANCZOS)
            r.save(out / f"{i:05d}-{h.hexdigest()[:8]}.{name}.webp", "WEBP", quality=s.webp_quality,
                   method=s.webp_method)
        del full
    t1 = time.time()
    q.put({"start": t0, "end": t1, "images": len(paths)})


def phase_workbench(input_dir: str, lib_dir: str, overrides: dict[str, str], q: mp.Queue) -> None:
    from workbench import Library
    lib = Library.create(lib_dir)
    if overrides:
        lib.settings = _settings_with(overrides)
        lib.settings.save(lib.root)
        lib = Library.open(lib_dir)
    t0 = time.time()
    rep = lib.import_files([input_dir], mode="copy", progress=False)
    t1 = time.time()
    # Ingest is import + thumbnails and previews: the work the baseline does. The CLIP stages are their own cost
    # (and need weights); they are not part of this comparison.
    reports = lib.process(["thumbnails"], progress=False)
    t2 = time.time()
    q.put({"start": t0, "import_end": t1, "end": t2,
           "import": {k: getattr(rep, k) for k in ("found", "added", "known", "unchanged", "failed")},
           "import_failures": rep.failures[:5],
           "stages": [{"stage": r.stage, "done": r.done, "failed": r.failed, "failures": r.failures[:5]}
                      for r in reports],
           "workers": lib.settings.worker_count(),
           "settings": {k: getattr(lib.settings, k) for k in
                        ("thumb_size_px", "preview_size_px", "webp_quality", "webp_method", "workers")}})


class TreeSampler(threading.Thread):
    """Samples RSS of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int, int, int]] = []  # (time, tree rss, max single rss, n processes)
        self._stop_evt = threading.Event()

    def run(self) -> None:
        while not self._stop_evt.is_set():
            t = time.time()
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                break
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    pass
            if rss:
                self.samples.append((t, sum(rss), max(rss), len(rss)))
            self._stop_evt.wait(self.interval)

    def stop(self) -> None:
        self._stop_evt.set()
        self.join()

    def peak(self, start: float | None = None, end: float | None = None) -> dict:
        sel = [s for s in self.samples if (start is None or s[0] >= start) and (end is None or s[0] <= end)]
        if not sel:
            return {"tree_mib": float("nan"), "single_mib": float("nan"), "max_procs": 0, "samples": 0}
        return {"tree_mib": max(s[1] for s in sel) / MIB, "single_mib": max(s[2] for s in sel) / MIB,
                "max_procs": max(s[3] for s in sel), "samples": len(sel)}


def run_phase(target, args: tuple, interval: float) -> tuple[dict, TreeSampler]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, q))
    proc.start()
    sampler = TreeSampler(proc.pid, interval)
    sampler.start()
    result = None
    while result is None:
        try:
            result = q.get(timeout=1.0)
        except Exception:
            if not proc.is_alive():
                sampler.stop()
                raise SystemExit(f"{target.__name__} died with exit code {proc.exitcode}")
    proc.join()
    sampler.stop()
    return result, sampler


# ------------------------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="number of 12 MP JPEGs to ingest (default 200; the memory "
                    "target is stated for 1000)")
    ap.add_argument("--baseline-n", type=int, default=None, help="images the naive baseline processes (default "
                    "min(n, 50)); its per-image rate is what the workbench rate is compared with")
    ap.add_argument("--workdir", type=Path, default=None, help="where inputs, baseline output and the library "
                    "go (default: a new temp dir, removed afterwards unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the workdir (inputs are reused by the next run "
                    "with the same --workdir; library and baseline output are always recreated)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a workbench "
                    "setting for both sides, e.g. --set webp_method=2 --set workers=2 (repeatable)")
    ap.add_argument("--sample-ms", type=float, default=50.0, help="RSS sampling interval (default 50 ms)")
    ap.add_argument("--skip-baseline", action="store_true", help="only run the workbench side (no ratio)")
    ap.add_argument("--json", action="store_true", help="also print one machine-readable JSON result line")
    args = ap.parse_args(argv)

    overrides = dict(kv.split("=", 1) for kv in args.set)
    n = args.n
    bn = min(n, 50) if args.baseline_n is None else min(args.baseline_n, n)
    tmp_owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="wb-bench-")) if tmp_owned else args.workdir.absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    interval = args.sample_ms / 1000
    try:
        gen = generate(workdir / "input", n, quiet=False)
        print(f"inputs: {n} JPEGs 4000x3000, mean {gen['mean_image_mb']:.2f} MB "
              f"({gen['image_bytes'] / 1e9:.2f} GB total) + 1 video {gen['video_bytes'] / 1e6:.1f} MB"
              + (f"; generated in {gen['generate_s']:.0f} s" if gen["generate_s"] > 1 else ""), flush=True)
        for sub in ("baseline-out", "library"):
            shutil.rmtree(workdir / sub, ignore_errors=True)

        base = None
        if not args.skip_baseline:
            print(f"baseline: naive single-process Pillow loop on {bn} of the {n} images ...", flush=True)
            r, smp = run_phase(phase_baseline, (gen["image_paths"][:bn], str(workdir / "baseline-out"), overrides),
                               interval)
            wall = r["end"] - r["start"]
            base = {"images": bn, "wall_s": wall, "images_per_s": bn / wall, **smp.peak()}
            print(f"  {bn / wall:.2f} images/s ({wall:.1f} s)", flush=True)

        print(f"workbench: import_files + process of {n} images + 1 video into a fresh library ...", flush=True)
        r, smp = run_phase(phase_workbench, (str(workdir / "input"), str(workdir / "library"), overrides), interval)
        wall = r["end"] - r["start"]
        wb = {"images": n, "wall_s": wall, "images_per_s": n / wall, "import_s": r["import_end"] - r["start"],
              "process_s": r["end"] - r["import_end"], "import": r["import"], "stages": r["stages"],
              "workers": r["workers"], "settings": r["settings"], **smp.peak(),
              "import_peak": smp.peak(r["start"], r["import_end"]), "process_peak": smp.peak(r["import_end"], r["end"])}
        problems = []
        if r["import"]["added"] != n + 1 or r["import"]["failed"]:
            problems.append(f"import: {r['import']} first failures {r['import_failures']}")
        for st in r["stages"]:
            if st["failed"] or st["done"] != n + 1:
                problems.append(f"stage {st['stage']}: done {st['done']} failed {st['failed']} {st['failures']}")
    finally:
        if tmp_owned and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    ratio = wb["images_per_s"] / base["images_per_s"] if base else float("nan")
    print()
    print(f"Ingest benchmark  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  "
          f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
          f"Pillow {Image.__version__}")
    print(f"settings: {wb['settings']}  (workers in use: {wb['workers']})")
    print()
    hdr = f"{'method':<44} {'images':>6} {'wall s':>8} {'images/s':>9} {'vs base':>8} {'peak RSS tree MiB':>18} {'max 1 proc MiB':>15}"
    print(hdr)
    print("-" * len(hdr))
    if base:
        print(f"{'baseline (naive Pillow, 1 process)':<44} {bn:>6} {base['wall_s']:>8.1f} {base['images_per_s']:>9.2f} "
              f"{1.0:>7.2f}x {base['tree_mib']:>18.0f} {base['single_mib']:>15.0f}")
    print(f"{'workbench import+process (+1 video)':<44} {n:>6} {wb['wall_s']:>8.1f} {wb['images_per_s']:>9.2f} "
          f"{ratio:>7.2f}x {wb['tree_mib']:>18.0f} {wb['single_mib']:>15.0f}")
    print(f"{'  of which import_files':<44} {'':>6} {wb['import_s']:>8.1f} {'':>9} {'':>8} "
          f"{wb['import_peak']['tree_mib']:>18.0f} {wb['import_peak']['single_mib']:>15.0f}")
    print(f"{'  of which process (thumbnails+previews)':<44} {'':>6} {wb['process_s']:>8.1f} {'':>9} {'':>8} "
          f"{wb['process_peak']['tree_mib']:>18.0f} {wb['process_peak']['single_mib']:>15.0f}")
    print()
    if base:
        note = f" (baseline rate measured on {bn} of {n} images)" if bn < n else ""
        print(f"target speed : >= {TARGET_RATIO:g}x baseline images/s      measured {ratio:.2f}x{note}  "
              f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}")
    rss_ok = wb["tree_mib"] < TARGET_RSS_MIB
    scope = "" if n >= TARGET_RSS_N else f"  (target is stated for {TARGET_RSS_N} files; this run has {n})"
    print(f"target memory: peak tree RSS < {TARGET_RSS_MIB:.0f} MiB at {TARGET_RSS_N} files  measured "
          f"{wb['tree_mib']:.0f} MiB  {'PASS' if rss_ok else 'FAIL'}{scope}")
    for p in problems:
        print("WARNING:", p)
    if args.json:
        res = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cores": os.cpu_count(), "n": n,
               "baseline_n": bn if base else 0, "mean_image_mb": round(gen["mean_image_mb"], 3),
               "baseline": base, "workbench": wb, "ratio": ratio, "ratio_pass": bool(base and ratio >= TARGET_RATIO),
               "rss_pass": rss_ok, "problems": problems}
        print(json.dumps(res, default=str))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
