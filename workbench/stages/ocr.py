"""Text in photos: the ``ocr`` stage reads every line of text in each image (and in a few frames of each video)
with PP-OCR (``workbench.ocr.engine``) and stores the lines, their boxes in upright-original pixels, their
confidence and the model version. The joined text is full-text indexed, so ``search`` finds a photo by the words
in it (``workbench.semantic.search``).

Images get a cheap first look on their 1440 px preview (most photos hold no text and are done there); a picture
with text is detected and read on its original decoded upright at >= ``ocr_read_size_px`` (small words on the
WebP preview are lost or run together). Measured against stock RapidOCR in benchmarks/ocr.py
(docs/benchmarks.md). Videos are read in ``ocr_video_frames`` frames spread over their length.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from workbench.catalog.schema import OCR
from workbench.catalog.filters import where
from workbench.errors import MediaError
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext

OCR_TABLE = "ocr"
TEXT_INDEX = "text_idx"


class OcrStage(Stage):
    name = OCR_TABLE
    schema = OCR
    kinds = ("image", "video")
    dependency_columns = ("preview", "preview_width", "preview_height")
    bulky_columns = ("lines",)
    model_name = "ocr"  # PP-OCR (ocr/engine.py's OcrModel)
    # One picture per worker task: a picture with text costs 0.2-0.5 CPU s and one without 0.02, so in a short run
    # (workbench serve's chunks, a few new photos) tasks of the runner's 4 leave one worker reading the last
    # pictures alone while the other idles; a task's own cost (a few ms) is small beside either.
    batch_rows = 1

    def __init__(self, settings: Settings, thumbnails: Stage):
        super().__init__(settings)
        self.dependency = thumbnails

    @property
    def version(self) -> str:  # type: ignore[override]
        from workbench.ocr.engine import model_id
        s = self.settings
        look = f"l{s.ocr_first_look_px}t{s.ocr_first_look_box_thresh:g}" if s.ocr_first_look_px else "l0"
        parts = (f"-a{s.ocr_look_max_area:g}m{s.ocr_look_margin:g}t{s.ocr_look_map_thresh:g}x{s.ocr_cut_line_passes}"
                 if s.ocr_first_look_px and s.ocr_look_max_area < 1 else "")
        # lines read again from a tighter box: which (confidence, pattern) and how much tighter
        reread = (f"-rr{s.ocr_reread_below:g}p{hashlib.sha256(s.ocr_reread_pattern.encode()).hexdigest()[:6]}"
                  f"s{s.ocr_reread_shrink:g}" if s.ocr_reread_below > 0 or s.ocr_reread_pattern else "")
        return (f"{model_id(s)}-d{s.ocr_detect_size_px}-{look}{parts}-u{s.ocr_box_unclip_ratio:g}-r{s.ocr_read_size_px}"
                f"-c{s.ocr_min_confidence:g}{'-cls' if s.ocr_angle_classifier else ''}{reread}-v1")

    def unavailable_reason(self) -> str | None:
        from workbench.ocr.engine import missing_model_files
        try:
            import rapidocr_onnxruntime  # noqa: F401
        except ImportError as e:
            return (f"OCR skipped: rapidocr-onnxruntime is not installed ({e}); run `make setup` or "
                    f"`pip install --no-deps rapidocr-onnxruntime pyclipper shapely`")
        missing = missing_model_files(self.settings)
        return f"OCR skipped: {missing}" if missing else None

    def process_one(self, row: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        model = self.model()
        if row["kind"] == "video":
            lines, frames = self._video(row, ctx, model)
        else:
            lines, frames = self._image(row, ctx, model), 1
        return {"lines": lines, "line_count": len(lines), "frames_read": frames,
                "text": "\n".join(line["text"] for line in lines)}

    def _image(self, row: dict[str, Any], ctx: StageContext, model: Any) -> list[dict[str, Any]]:
        from PIL import Image
        try:
            with Image.open(ctx.derived_stream(row["preview"])) as im:
                rgb = rgb_array(im)
        except (OSError, ValueError) as e:
            raise MediaError(f"could not read the preview to find text: {e}") from e
        width = row.get("width") or rgb.shape[1]
        scale = width / rgb.shape[1]
        hires = None
        if self.settings.ocr_read_size_px and width > rgb.shape[1]:
            def hires() -> np.ndarray:
                from workbench.imaging.decode import open_upright
                src = ctx.materialize_source(row)  # a JPEG stored as JPEG XL is rebuilt into the cache first
                im = open_upright(src, row["mime"], self.settings.ocr_read_size_px, self.settings)
                return rgb_array(im)
        return [_line(t, scale, None) for t in model.predict(rgb, hires)]

    def _video(self, row: dict[str, Any], ctx: StageContext, model: Any) -> tuple[list[dict[str, Any]], int]:
        n = self.settings.ocr_video_frames
        if n <= 0:
            return [], 0
        from workbench.imaging.video_frames import frames_at_fractions
        fractions = tuple((i + 0.5) / n for i in range(n))
        frames = frames_at_fractions(ctx.local_source(row), fractions, self.settings)
        duration = row.get("duration_s") or 0.0
        best: dict[str, dict[str, Any]] = {}  # the same caption in several frames is one line
        for f, im in zip(fractions, frames):
            small = im.convert("RGB")
            small.thumbnail((self.settings.preview_size_px, self.settings.preview_size_px))
            scale = (row.get("width") or im.width) / small.width
            full = np.asarray(im.convert("RGB"))
            for t in model.predict(np.asarray(small), (lambda: full) if self.settings.ocr_read_size_px else None):
                line = _line(t, scale, f * duration)
                if line["text"] not in best or line["confidence"] > best[line["text"]]["confidence"]:
                    best[line["text"]] = line
        return sorted(best.values(), key=lambda d: (d["t_s"], d["box"][1], d["box"][0])), len(frames)

    def after_run(self, catalog: Any) -> None:
        """Full-text index the text once it exists; later rows are merged into it by ``Catalog.compact``."""
        ensure_text_index(catalog)


def ensure_text_index(catalog: Any) -> None:
    if catalog.has(OCR_TABLE):
        catalog.ensure_text_index(OCR_TABLE, "text")  # named TEXT_INDEX


def text_hits(catalog: Any, version: str, words: str) -> list[str]:
    """Media ids whose text (current model version) matches ``words``, best first (LanceDB full-text index)."""
    if not words.strip() or not catalog.has(OCR_TABLE):
        return []
    res = catalog.text_search(OCR_TABLE, "text", words, where(version=version, status="ok"), ["media_id", "_score"])
    if res is None:     # no TEXT_INDEX yet
        return []
    seen: dict[str, None] = {}
    for m in res.column("media_id").to_pylist():
        seen.setdefault(m, None)
    return list(seen)


def rgb_array(im: Any) -> np.ndarray:
    """A PIL image's pixels as an RGB array, without ``convert``'s copy when it already is RGB (an original decoded
    at 2000+ px is 3-18 MB: each copy is a few ms of a picture's ~0.4 s)."""
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))


def _line(t: Any, scale: float, t_s: float | None) -> dict[str, Any]:
    return {"text": t.text, "box": [int(round(v * scale)) for xy in t.box for v in xy],
            "confidence": float(t.confidence), "t_s": t_s}
