"""Run a compression policy over media: one result row per media, as ``workbench compress --json`` prints it.

``compress_one`` reads an original and returns the new encoding without writing anything, so a dry run and the
real run share every step; ``predict`` turns a sample's results into predicted savings for the whole library.
"""
from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from workbench.compress.lossy import EncodeResult
from workbench.compress.policy import ImageRule, Policy
from workbench.errors import MediaError

ROW_KEYS = ["id", "path", "codec", "quality", "bytes_before", "bytes_after", "metric", "value", "verified"]


def compress_one(src: Path, kind: str, mime: str, policy: Policy) -> tuple[dict[str, Any], bytes | None, str]:
    """(result row without id/path, new bytes or None when nothing better was found, file extension)."""
    data = src.read_bytes()
    if kind == "video":
        return _video(src, len(data), policy)
    if policy.images.mode == "lossless":
        from workbench.compress.lossless import best_lossless
        r = best_lossless(data, mime)
        row = {"codec": r.codec, "quality": None, "bytes_before": r.bytes_before, "bytes_after": r.bytes_after,
               "metric": "identical", "value": 1.0 if r.verified else None, "verified": bool(r.verified)}
        ext = {"jxl-jpeg": ".jxl", "jxl": ".jxl", "png": ".png", "webp": ".webp"}.get(r.codec, "")
        return row, (r.data if r.codec != "original" and r.verified else None), ext
    img = decode_source(data, "to compress")
    rule = policy.images
    res = encode_image(img, rule)
    out, value = res.data, res.value
    row = {"codec": rule.codec, "quality": res.quality, "bytes_before": len(data), "bytes_after": len(out),
           "metric": rule.metric, "value": None if value is None else round(float(value), 4),
           "verified": bool(res.met)}
    better = res.met and len(out) < len(data)
    return row, (out if better else None), {"jpeg": ".jpg"}.get(rule.codec, f".{rule.codec}")


def decode_source(data: bytes, purpose: str) -> Image.Image:
    """An original's pixels for encoding; a decoder failure is this file's problem, said as ``cannot decode
    {purpose}``."""
    from workbench.imaging.decode import register_plugins
    register_plugins()
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as e:  # noqa: BLE001 - any decoder error is this file's problem
        raise MediaError(f"cannot decode {purpose}: {e}") from e
    return img


def encode_image(img: Image.Image, rule: ImageRule) -> EncodeResult:
    """A decoded image (as stored) encoded by a lossy rule: at its fixed quality, or at the lowest quality that
    reaches its target. One function so the compression tuner shows exactly what applying the policy writes.
    ``value`` is the rule's metric against the upright original (None if that metric is unavailable)."""
    from workbench.compress import lossy
    from workbench.compress.metrics import METRICS
    meta = lossy.metadata_of(img)
    if rule.quality is None:
        return lossy.encode_at_target(img, rule.codec, rule.metric, rule.target, **meta)
    out = lossy.encode(img, rule.codec, rule.quality, **meta)
    with lossy.open_image(out) as dec:
        value = METRICS[rule.metric].fn(lossy.upright(img, meta["exif"]).convert("RGB"), dec.convert("RGB"))
    return EncodeResult(rule.codec, rule.quality, out, len(out), rule.metric, value, True)


def _video(src: Path, size: int, policy: Policy) -> tuple[dict[str, Any], bytes | None, str]:
    if policy.videos is None:
        return ({"codec": "original", "quality": None, "bytes_before": size, "bytes_after": size, "metric": None,
                 "value": None, "verified": True}, None, "")
    from workbench.compress.video import transcode, transcode_at_target
    ext = ".webm" if policy.videos.codec == "vp9" else ".mp4"
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / f"out{ext}"
        if policy.videos.target_ssim is not None:
            r = transcode_at_target(src, dst, policy.videos.codec, policy.videos.target_ssim)
        else:
            r = transcode(src, dst, policy.videos.codec, crf=policy.videos.crf)
        out = dst.read_bytes()
    met = policy.videos.target_ssim is None or (r.value is not None and r.value >= policy.videos.target_ssim)
    row = {"codec": r.codec, "quality": r.crf, "bytes_before": size, "bytes_after": len(out), "metric": r.metric,
           "value": None if r.value is None else round(float(r.value), 4), "verified": bool(met)}
    return row, (out if len(out) < size else None), ext


def predict(rows: list[dict[str, Any]], totals: dict[str, int]) -> dict[str, Any]:
    """Predicted bytes saved for the whole library: each kind's sampled ratio applied to that kind's total size."""
    out: dict[str, Any] = {"sampled": len(rows), "by_kind": {}}
    saved = 0.0
    for kind, total in totals.items():
        rs = [r for r in rows if r.get("kind") == kind and r.get("bytes_before")]
        before = sum(r["bytes_before"] for r in rs)
        after = sum(min(r["bytes_after"], r["bytes_before"]) if r["new"] else r["bytes_before"] for r in rs)
        ratio = after / before if before else 1.0
        out["by_kind"][kind] = {"sampled": len(rs), "library_bytes": total,
                                "predicted_bytes_after": int(total * ratio), "predicted_saving": 1.0 - ratio}
        saved += total * (1.0 - ratio)
    out["predicted_bytes_saved"] = int(saved)
    values = [r["value"] for r in rows if r.get("value") is not None]
    if values:
        import numpy as np
        out["quality_distribution"] = {"metric": rows[0]["metric"], "min": float(min(values)),
                                       "p10": float(np.percentile(values, 10)), "median": float(np.median(values))}
    return out
