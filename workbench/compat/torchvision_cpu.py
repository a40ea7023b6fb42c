"""Make ``import torchvision`` work when the installed torchvision wheel's C extension cannot load.

Why this exists: the torchvision 0.28.0 wheel on PyPI is a CUDA build. Next to the CPU-only torch we install, its
``_C`` extension fails to load (torchvision swallows that and carries on without its custom ops), and then
``torchvision/_meta_registrations.py`` calls ``torch.library.register_fake("torchvision::nms")`` (and ``qnms``) on
operators that were never defined, so ``import torchvision`` dies with
``RuntimeError: operator torchvision::nms does not exist``. open_clip imports torchvision (for its transforms),
so without this the semantic layer cannot start.

``ensure_torchvision`` is the one place this is handled. It first simply imports torchvision; when that works (a
proper CPU build, or a future fixed wheel) nothing else happens. Only when the import fails with exactly that
error does it drop the half-imported ``torchvision*`` modules, define the two operator schemas itself, give
``torchvision::nms`` (and ``qnms``) a real CPU kernel written in plain torch, and import again. Everything else in
torchvision that needs the C extension (roi_align, deform_conv, ...) stays unavailable, as it was; we only use the
transforms, and NMS is provided so that ``torchvision.ops.nms`` is correct rather than a trap.
"""
from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_done = False
_library = None   # the torch.library.Library holding our definitions; kept alive for the process

_NMS_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"


def ensure_torchvision() -> None:
    """Import torchvision, repairing the CUDA-wheel-on-CPU-torch failure if (and only if) it happens.

    Call it before importing open_clip or anything else that imports torchvision. Idempotent and thread-safe;
    any other import error is re-raised unchanged.
    """
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        try:
            import torchvision  # noqa: F401
        except RuntimeError as e:
            if not _is_missing_op_error(e):
                raise
            _forget_torchvision_modules()
            _define_ops()
            import torchvision  # noqa: F401  (now the fake registrations find our schemas)
            _allow_nms()
        _done = True


def _is_missing_op_error(e: BaseException) -> bool:
    msg = str(e)
    return "operator torchvision::" in msg and "does not exist" in msg


def _forget_torchvision_modules() -> None:
    """A failed import leaves the submodules that did import in sys.modules; the retry must start clean."""
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


def _define_ops() -> None:
    """Define torchvision::nms / qnms (schemas identical to torchvision's C++ ones) with CPU kernels."""
    global _library
    import torch

    if _library is not None:
        return
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for name in ("nms", "qnms"):
        lib.define(name + _NMS_SCHEMA)
        lib.impl(name, _nms_cpu, "CPU")
    _library = lib


def _allow_nms() -> None:
    """torchvision.ops.boxes checks "were the C ops loaded?" before calling NMS; they were not, but NMS now exists.

    Only ``torchvision.ops.boxes`` is relaxed (nms, batched_nms); other ops keep their clear "couldn't load
    custom C++ ops" error. (box_iou_rotated in the same module then fails with "operator does not exist".)
    """
    import torchvision.ops.boxes as boxes

    boxes._assert_has_ops = lambda: None


def _nms_cpu(dets, scores, iou_threshold: float):  # noqa: ANN001, ANN202 (torch.Tensor)
    """Greedy NMS with torchvision's semantics: boxes (x1, y1, x2, y2); visit boxes by descending score, keep one,
    drop every later box whose IoU with it is > iou_threshold; return kept indices (int64) by descending score."""
    import torch

    if dets.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=dets.device)
    b = dets.to(torch.float64)  # qnms passes integer representations; float64 keeps float32 IoUs exact enough
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = torch.argsort(scores.to(torch.float64), descending=True, stable=True)
    suppressed = torch.zeros(b.shape[0], dtype=torch.bool)
    keep: list[int] = []
    for idx in order.tolist():
        if suppressed[idx]:
            continue
        keep.append(idx)
        w = (torch.minimum(x2[idx], x2) - torch.maximum(x1[idx], x1)).clamp(min=0)
        h = (torch.minimum(y2[idx], y2) - torch.maximum(y1[idx], y1)).clamp(min=0)
        inter = w * h
        iou = inter / (areas[idx] + areas - inter)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)
