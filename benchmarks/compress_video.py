"""Video re-encoding per codec at its default CRF and preset, on corpus clips.

    WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/compress_video.py [--fast] [--codecs h264,h265,av1,vp9,gif]

Clips: Big Buck Bunny (video/imagehash_pr/bigbuck_bunny.mp4, 10 s 640x360) and an iPad phone clip
(video/photoprism/quicktime-hvc1.mov, HEVC 1280x720, 1.2 s, rotated, Apple location). For each codec:
bytes, % of the original, encode seconds and x realtime (clip duration / encode time, whole transcode incl.
decode and audio), mean luma SSIM on 5 sampled frames vs the source, and whether audio/rotation/creation
time/location were kept. ``--fast`` uses each encoder's fastest preset. Runs in ~1-2 min on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.compress.video import ENCODERS, available_codecs, transcode  # noqa: E402

CLIPS = ("video/imagehash_pr/bigbuck_bunny.mp4", "video/photoprism/quicktime-hvc1.mov")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codecs", default=",".join(ENCODERS))
    ap.add_argument("--fast", action="store_true", help="fastest preset per encoder")
    args = ap.parse_args()
    root = os.environ.get("WORKBENCH_CORPUS")
    if not root or not Path(root).is_dir():
        print("set WORKBENCH_CORPUS to the shared corpus folder", file=sys.stderr)
        return 2
    codecs = [c for c in args.codecs.split(",") if c in available_codecs()]
    header = (f"{'clip':<24} {'codec':<6} {'ctr':<4} {'crf':>4} {'preset':>9} {'bytes':>10} {'% orig':>7} "
              f"{'enc s':>6} {'x rt':>6} {'SSIM':>6}  kept")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for rel in CLIPS:
            src = Path(root) / rel
            if not src.is_file():
                print(f"{rel}: missing, skipped")
                continue
            for codec in codecs:
                enc = ENCODERS[codec]
                preset = enc.fastest_preset if args.fast else enc.default_preset
                dst = Path(tmp) / f"{src.stem}.{codec}.{enc.containers[0]}"
                r = transcode(src, dst, codec, preset=preset)
                kept = ",".join(k for k, v in r.kept.items() if v.startswith(("kept", "applied"))) or "-"
                print(f"{src.name:<24} {codec:<6} {r.container:<4} {str(r.crf or '-'):>4} {str(preset or '-'):>9} "
                      f"{r.bytes_after:>10,} {100 * r.ratio:>6.1f}% {r.encode_s:>6.2f} "
                      f"{r.duration_s / r.encode_s:>6.1f} {r.value:>6.3f}  {kept}", flush=True)
            print(f"{'':<24} (original {src.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
