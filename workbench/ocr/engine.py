"""Read the text in a picture with PP-OCR (RapidOCR's ONNX Runtime port), whose detection, angle and
recognition models ship inside the ``rapidocr-onnxruntime`` wheel, so reading works with no network.

Stock ``RapidOCR()`` decodes the original, runs the detector on up to 2000 px (and enlarges small images to a
736 px short side) and then recognises every line. Most photos hold no text, so ``OcrModel.predict`` first takes
a cheap look with the detector at ``ocr_first_look_px`` on the picture it is given (the preview); only a picture
where that look finds a text-like region is detected at ``ocr_detect_size_px`` and its lines recognised, on the
larger picture ``hires`` returns (the original) when there is one. Measured in ``benchmarks/ocr.py``
(docs/benchmarks.md).
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.errors import WorkbenchError
from workbench.settings import Settings

_lock = threading.Lock()
_cache: dict[tuple, "OcrModel"] = {}


@dataclass
class TextLine:
    """One line of text, its box as four corners (x, y) clockwise from top-left, in pixels of the input image."""

    text: str
    box: list[list[float]]
    confidence: float


class OcrModelUnavailable(WorkbenchError):
    """RapidOCR or a configured model file cannot be loaded here."""


_tags: dict[tuple, str] = {}


def _file_tag(path: str) -> str:
    """A short name of a user-supplied model file that changes when the file does (it goes into the version;
    hashed once per path, size and mtime, as the version is asked for per row)."""
    p = Path(path).expanduser()
    if not p.is_file():
        return f"{p.stem}.missing"  # the stage reports it (missing_model_files) and is skipped
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _tags:
        _tags[key] = f"{p.stem}.{hashlib.sha256(p.read_bytes()).hexdigest()[:8]}"
    return _tags[key]


def missing_model_files(settings: Settings) -> str | None:
    """Why the configured model files cannot be used (what to fix), or None."""
    for name in ("ocr_det_model_path", "ocr_rec_model_path", "ocr_rec_keys_path"):
        path = getattr(settings, name)
        if path and not Path(path).expanduser().is_file():
            return (f"OCR model file {path} ({name}) does not exist: fix the setting, or set it to \"\" for the "
                    f"shipped PP-OCRv4 model")
    return None


def model_id(settings: Settings) -> str:
    """What produced the text: the detection and recognition models (shipped PP-OCRv4 unless configured)."""
    det = _file_tag(settings.ocr_det_model_path) if settings.ocr_det_model_path else "ppocrv4det"
    rec = _file_tag(settings.ocr_rec_model_path) if settings.ocr_rec_model_path else "ppocrv4rec-ch"
    keys = f"-{_file_tag(settings.ocr_rec_keys_path)}" if settings.ocr_rec_keys_path else ""
    return f"{det}-{rec}{keys}"


class OcrModel:
    """PP-OCR detection + angle classification + recognition, with a cheap first look for pictures without text.

    ``load`` builds the ONNX Runtime sessions (about a second); ``predict`` reads one upright RGB image."""

    def __init__(self, settings: Settings, threads: int = 1):
        self.settings = settings
        self.threads = threads
        self._ocr = None

    def load(self) -> "OcrModel":
        """Create the ONNX Runtime sessions; raises OcrModelUnavailable with what to do."""
        if self._ocr is not None:
            return self
        s = self.settings
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:
            raise OcrModelUnavailable(f"rapidocr-onnxruntime is not installed ({e}): run `make setup` or "
                                      f"`pip install --no-deps rapidocr-onnxruntime pyclipper shapely`") from e
        kwargs: dict = {"intra_op_num_threads": self.threads, "inter_op_num_threads": 1,
                        "det_limit_type": "min", "det_limit_side_len": 32,  # we size the image ourselves
                        "text_score": s.ocr_min_confidence}
        missing = missing_model_files(s)
        if missing:
            raise OcrModelUnavailable(missing)
        for key, path in (("det_model_path", s.ocr_det_model_path), ("rec_model_path", s.ocr_rec_model_path),
                          ("rec_keys_path", s.ocr_rec_keys_path)):
            if path:
                kwargs[key] = str(Path(path).expanduser())
        try:
            self._ocr = RapidOCR(**kwargs)
        except Exception as e:  # onnxruntime raises its own types for a bad model file
            raise OcrModelUnavailable(f"could not load the OCR models: {e}") from e
        return self

    @property
    def version(self) -> str:
        return model_id(self.settings)

    def _detect(self, bgr: np.ndarray, long_side_px: int, box_thresh: float) -> list[np.ndarray]:
        """Text boxes found with the detector run at ``long_side_px`` (never enlarging the input), in ``bgr``'s
        pixels."""
        import cv2
        h, w = bgr.shape[:2]
        scale = min(1.0, long_side_px / max(h, w))
        rh, rw = max(32, int(round(h * scale / 32)) * 32), max(32, int(round(w * scale / 32)) * 32)
        small = cv2.resize(bgr, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        det = self._ocr.text_det
        det.postprocess_op.box_thresh = box_thresh
        boxes, _ = det(small)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = np.asarray(boxes, np.float32)
        boxes[..., 0] *= w / rw
        boxes[..., 1] *= h / rh
        return list(boxes)

    def first_look(self, rgb: np.ndarray) -> bool:
        """Whether the cheap look (the detector at ``ocr_first_look_px``, a low box threshold) sees anything
        text-like in an upright RGB image; False decides that the picture has no text. A picture no larger than
        the look (or with the look turned off) is always looked at fully."""
        self.load()
        s = self.settings
        if not s.ocr_first_look_px or max(rgb.shape[:2]) <= s.ocr_first_look_px:
            return True
        return bool(self._detect(np.ascontiguousarray(rgb[..., ::-1]), s.ocr_first_look_px,
                                 s.ocr_first_look_box_thresh))

    def predict(self, rgb: np.ndarray, hires: Callable[[], np.ndarray | None] | None = None) -> list[TextLine]:
        """Every text line in an upright RGB image (H x W x 3 uint8), reading order, boxes in its pixels.

        ``hires`` returns the same picture larger (the original), or None. It is only called when the first look
        saw text; lines are then detected and read on it: small words a 1440 px WebP preview blurs are found,
        and their spaces kept (read from the preview, a page's words run together)."""
        s = self.settings
        if not self.first_look(rgb):
            return []
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        source, factor = bgr, 1.0
        big = hires() if hires is not None else None
        if big is not None and big.shape[1] > bgr.shape[1]:
            source, factor = np.ascontiguousarray(big[..., ::-1]), big.shape[1] / bgr.shape[1]
        boxes = self._detect(source, s.ocr_detect_size_px, 0.5)
        if not boxes:
            return []
        ocr = self._ocr
        boxes = ocr.sorted_boxes(np.asarray(boxes, np.float32))
        crops = ocr.get_crop_img_list(source, [np.ascontiguousarray(b, np.float32) for b in boxes])
        if s.ocr_angle_classifier:
            crops, _, _ = ocr.text_cls(crops)
        rec, _ = ocr.text_rec(crops)
        out = []
        for box, (text, score) in zip(boxes, rec):
            text = text.strip()
            if text and float(score) >= s.ocr_min_confidence:
                out.append(TextLine(text, [[round(float(x) / factor, 1), round(float(y) / factor, 1)] for x, y in box],
                                    float(score)))
        return out


def load_model(settings: Settings, threads: int = 1) -> OcrModel:
    """One loaded model per process and configuration (workers reuse it across batches)."""
    key = (settings.ocr_det_model_path, settings.ocr_rec_model_path, settings.ocr_rec_keys_path,
           settings.ocr_min_confidence, settings.ocr_detect_size_px, settings.ocr_first_look_px,
           settings.ocr_first_look_box_thresh, settings.ocr_angle_classifier, settings.ocr_read_size_px, threads)
    with _lock:
        if key not in _cache:
            _cache[key] = OcrModel(settings, threads).load()
        return _cache[key]
