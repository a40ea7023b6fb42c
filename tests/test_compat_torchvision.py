"""torchvision imports (and its NMS is right) next to CPU torch, whatever wheel is installed.

Each test runs in a fresh interpreter: whether torchvision is already imported, half-imported or patched is
process-wide state that must not leak between tests (or come from them).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> dict:
    """Run code in a fresh interpreter; it prints one JSON line as its last output."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _reference_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Greedy NMS written out with plain loops: by descending score, drop boxes with IoU > thr with a kept one."""
    def iou(a: np.ndarray, b: np.ndarray) -> float:
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union
    keep: list[int] = []
    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
        if all(iou(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


def test_open_clip_and_transforms_import_after_ensure() -> None:
    out = _run("""
        import json
        from workbench.compat.torchvision_cpu import ensure_torchvision
        ensure_torchvision()
        import open_clip
        import torchvision.transforms as T
        from PIL import Image
        t = T.Compose([T.Resize(32), T.CenterCrop(32), T.ToTensor()])(Image.new("RGB", (64, 48), (255, 0, 0)))
        print(json.dumps({"shape": list(t.shape), "red": float(t[0].mean()), "has_clip": hasattr(open_clip, "create_model")}))
    """)
    assert out == {"shape": [3, 32, 32], "red": 1.0, "has_clip": True}


def test_nms_matches_reference() -> None:
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 100, (60, 2))
    wh = rng.uniform(5, 40, (60, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.permutation(60).astype(np.float32) / 60  # distinct scores: the kept order is fully defined
    thr = 0.3
    out = _run(f"""
        import json, torch
        from workbench.compat.torchvision_cpu import ensure_torchvision
        ensure_torchvision()
        from torchvision.ops import nms
        boxes = torch.tensor({boxes.tolist()}, dtype=torch.float32)
        scores = torch.tensor({scores.tolist()}, dtype=torch.float32)
        keep = nms(boxes, scores, {thr})
        print(json.dumps({{"keep": keep.tolist(), "dtype": str(keep.dtype)}}))
    """)
    expected = _reference_nms(boxes.astype(np.float64), scores, thr)
    assert 1 < len(expected) < 60  # the example really suppresses something
    assert out == {"keep": expected, "dtype": "torch.int64"}


def test_ensure_torchvision_is_idempotent() -> None:
    out = _run("""
        import json, sys
        from workbench.compat.torchvision_cpu import ensure_torchvision
        ensure_torchvision()
        first = sys.modules["torchvision"]
        ensure_torchvision()
        ensure_torchvision()
        import torch, torchvision
        keep = torchvision.ops.nms(torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10]]), torch.tensor([0.5, 0.9]), 0.5)
        print(json.dumps({"same_module": sys.modules["torchvision"] is first, "keep": keep.tolist()}))
    """)
    assert out == {"same_module": True, "keep": [1]}
