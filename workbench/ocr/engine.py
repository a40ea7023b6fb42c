"""Read the text in a picture with PP-OCR (RapidOCR's ONNX Runtime port), whose detection, angle and
recognition models ship inside the ``rapidocr-onnxruntime`` wheel, so reading works with no network.

Stock ``RapidOCR()`` decodes the original, runs the detector on up to 2000 px (and enlarges small images to a
736 px short side) and then recognises every line. Most photos hold no text, so ``OcrModel.predict`` first takes
a cheap look with the detector at ``ocr_first_look_px`` on the picture it is given (the preview); only a picture
where that look finds a text-like region is detected at ``ocr_detect_size_px`` and its lines recognised, on the
larger picture ``hires`` returns (the original) when there is one. The full-size detector, most of the time on a
picture with text, sees only the parts where the look saw text (``text_regions``), and past a part's edge where
that edge cuts a line (``_detect_regions``); the ONNX Runtime sessions
keep their memory arena and run simplified copies of the model files (``workbench.ocr.graph``: the same arithmetic
with each layer's scale, bias and hard-swish passes folded away). Measured in ``benchmarks/ocr.py``
(docs/benchmarks.md).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.models.registry import Model, register
from workbench.models.registry import get as get_model
from workbench.settings import Settings


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


class OcrModel(Model):
    """PP-OCR detection + angle classification + recognition, with a cheap first look for pictures without text.

    A registry model (``workbench.models``: ``get("ocr", settings, threads=1)``): ``load`` builds the ONNX Runtime
    sessions (about a second); ``predict`` reads one upright RGB image; ``unload`` drops the sessions."""

    name = "ocr"

    def __init__(self, settings: Settings, threads: int = 1, **options: Any):
        super().__init__(settings, threads=threads, **options)
        self.threads = threads
        self._ocr: Any = None
        self.model_files: dict[str, str] = {}  # the model file each session runs (simplified copies or not)

    @classmethod
    def config_key(cls, settings: Settings, threads: int = 1, **options: Any) -> tuple:
        """Every ``ocr_*`` setting (they decide what is loaded and how it reads) and the ONNX Runtime threads."""
        return (*((f.name, getattr(settings, f.name)) for f in fields(settings) if f.name.startswith("ocr_")),
                threads)

    @property
    def loaded(self) -> bool:
        return self._ocr is not None

    def unload(self) -> None:
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
            self._ocr.text_det.postprocess_op.unclip_ratio = s.ocr_box_unclip_ratio
            if s.ocr_memory_arena or s.ocr_simplify_models:
                self._rebuild_sessions()
        except Exception as e:  # onnxruntime raises its own types for a bad model file
            raise OcrModelUnavailable(f"could not load the OCR models: {e}") from e
        return self

    #: Each RapidOCR session: (object holding it, attribute, an input shape to check a simplified copy with).
    _SESSIONS = (("text_det", "infer", (1, 3, 96, 96)), ("text_cls", "infer", (1, 3, 48, 192)),
                 ("text_rec", "session", (1, 3, 48, 320)))

    def _rebuild_sessions(self) -> None:
        """Rebuild RapidOCR's sessions (1) on the simplified copies of the model files (``workbench.ocr.graph``:
        the detector's and recogniser's per-layer scale, bias and hard-swish passes folded away, 1.4-1.5x less
        CPU with the same outputs) when ``ocr_simplify_models`` is on, and (2) with ONNX Runtime's CPU memory
        arena when ``ocr_memory_arena`` is on: RapidOCR turns it off, and without it every run maps and faults
        in the detector's activations afresh (hundreds of MB at 2000 px), a third of the detector's CPU time in
        benchmarks/ocr.py."""
        import onnxruntime as ort

        from workbench.ocr.graph import cache_dir, derived_model
        s = self.settings
        folder = cache_dir(s.ocr_cache_dir)
        self.model_files = {}
        for name, attr, probe in self._SESSIONS:
            wrapper = getattr(getattr(self._ocr, name), attr)
            path = wrapper.session._model_path
            if s.ocr_simplify_models:
                path = str(derived_model(path, folder, probe))
            opts = ort.SessionOptions()
            opts.log_severity_level = 4
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            opts.enable_cpu_mem_arena = s.ocr_memory_arena
            wrapper.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            self.model_files[name] = path

    @property
    def version(self) -> str:
        return model_id(self.settings)

    def _detect_scaled(self, rgb: np.ndarray, scale: float,
                       box_thresh: float) -> tuple[list[np.ndarray], np.ndarray, float]:
        """(boxes in ``rgb``'s pixels, the detector's text probability map, its pixels per ``rgb`` pixel) with the
        detector run on ``rgb`` resized by ``scale`` (sides rounded to multiples of 32, as the model needs)."""
        small = self._resized(rgb, scale)
        boxes, prob = self._detect_resized(small, box_thresh)
        h, w = rgb.shape[:2]
        return [b * np.array([w / small.shape[1], h / small.shape[0]], np.float32) for b in boxes], prob, \
            small.shape[1] / w

    @staticmethod
    def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
        import cv2
        h, w = rgb.shape[:2]
        rh, rw = max(32, int(round(h * scale / 32)) * 32), max(32, int(round(w * scale / 32)) * 32)
        return cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA if rw < w else cv2.INTER_LINEAR)

    def _det_input(self, rgb: np.ndarray) -> np.ndarray:
        """The detector's input tensor (1 x 3 x H x W float32, BGR planes normalised as RapidOCR does) from an RGB
        image whose sides are already multiples of 32. RapidOCR's own preprocessing computes in float64 after a
        BGR copy and a resize to the same size: a tenth of a picture's CPU time; OpenCV does it in one float32
        pass (the same values to float32 rounding)."""
        import cv2
        det = self._ocr.text_det
        mean = [float(v) for v in (det.mean if det.mean is not None else (0.5, 0.5, 0.5))]
        std = [float(v) for v in (det.std if det.std is not None else (0.5, 0.5, 0.5))]
        if len(set(std)) == 1:
            # (x / 255 - mean) / std on B, G, R planes: the means are per model channel, and OpenCV subtracts them
            # after swapping R and B
            return cv2.dnn.blobFromImage(rgb, 1.0 / (255.0 * std[0]), mean=(255.0 * mean[0], 255.0 * mean[1],
                                         255.0 * mean[2]), swapRB=True, crop=False)
        x = rgb[..., ::-1].astype(np.float32) * np.float32(1 / 255.0)
        x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def _detect_resized(self, small: np.ndarray, box_thresh: float) -> tuple[list[np.ndarray], np.ndarray]:
        """(boxes, probability map) of the detector run on ``small`` (RGB) as it is (sides multiples of 32)."""
        det = self._ocr.text_det
        det.postprocess_op.box_thresh = box_thresh
        rh, rw = small.shape[:2]
        prob = det.infer(self._det_input(small))[0]
        boxes, _ = det.postprocess_op(prob, (rh, rw))
        boxes = det.filter_tag_det_res(boxes, (rh, rw)) if len(boxes) else boxes
        return [np.asarray(b, np.float32) for b in boxes], prob[0, 0]

    def _regions(self, look: np.ndarray | None) -> list[tuple[float, float, float, float]]:
        """Where the full-size detector looks, as (x0, y0, x1, y1) fractions of the picture: the parts where the
        first look's map saw text, each grown by ``ocr_look_margin`` of its long side and overlapping ones joined;
        all of it when there is no look or those parts cover more than ``ocr_look_max_area``; none when the look
        found no text."""
        import cv2
        s = self.settings
        whole = [(0.0, 0.0, 1.0, 1.0)]
        if look is None or s.ocr_look_max_area >= 1.0:
            return whole
        if look.size == 0:
            return []
        lh, lw = look.shape
        grow = max(1, int(round(s.ocr_look_margin * max(lh, lw))))
        grown = cv2.dilate(look, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        rects = [[x / lw, y / lh, (x + cw) / lw, (y + ch) / lh] for x, y, cw, ch, _ in stats[1:].tolist()]
        merged = True
        while merged:  # overlapping rectangles become one, so no line is detected twice
            merged = False
            for i in range(len(rects)):
                for j in range(i + 1, len(rects)):
                    r, q = rects[i], rects[j]
                    if r[0] < q[2] and q[0] < r[2] and r[1] < q[3] and q[1] < r[3]:
                        rects[i] = [min(r[0], q[0]), min(r[1], q[1]), max(r[2], q[2]), max(r[3], q[3])]
                        del rects[j]
                        merged = True
                        break
                if merged:
                    break
        if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects) > s.ocr_look_max_area:
            return whole
        return [(x0, y0, x1, y1) for x0, y0, x1, y1 in rects]

    def text_regions(self, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
        """The parts of an upright RGB image the full-size detector will see, as (x0, y0, x1, y1) fractions of its
        width and height ([] when the first look finds no text): most of a photo with a sign is not text, and
        the detector's time grows with the pixels it sees."""
        return self._regions(self._look(rgb))

    def _detect_regions(self, rgb: np.ndarray, regions: list[tuple[float, float, float, float]]) -> list[np.ndarray]:
        """Text boxes in ``rgb`` (its pixels) with the detector at ``ocr_detect_size_px`` run on ``regions``. They
        are cut from the picture resized as for one pass, on the model's 32 px grid, so a line gets nearly the
        box a pass over the whole picture gives it.

        A region's edge can cut a line: small print the look at ``ocr_first_look_px`` is blind to (a page's
        running header beside the body text it saw) lies partly outside the region, and the detector finds only
        the sliver inside, read as a fragment or not at all. A box that reaches an edge of its part that is not
        the picture's edge is such a cut line: a band past that edge, ``ocr_look_margin`` of the picture's long
        side deep and as long as the part's edge and that much more either side, is detected too (with the cut
        boxes' inside part), up to ``ocr_cut_line_passes`` bands per picture; a band's own cut lines get bands
        in turn. A cut box that a whole box found in a band covers is dropped (``_without_cut_duplicates``)."""
        s = self.settings
        h, w = rgb.shape[:2]
        small = self._resized(rgb, min(1.0, s.ocr_detect_size_px / max(h, w)))
        sh, sw = small.shape[:2]
        back = np.array([w / sw, h / sh], np.float32)
        reach = max(32, round(s.ocr_look_margin * max(sh, sw)))

        def on_grid(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
            return (max(0, int(x0) // 32 * 32), max(0, int(y0) // 32 * 32),
                    min(sw, -(-int(np.ceil(x1)) // 32) * 32), min(sh, -(-int(np.ceil(y1)) // 32) * 32))

        # (part, the side of it that lies inside a part detected before it: "" for a region)
        todo = [(on_grid(fx0 * sw, fy0 * sh, fx1 * sw, fy1 * sh), "") for fx0, fy0, fx1, fy1 in regions]
        found_all: list[tuple[np.ndarray, bool]] = []  # (box in ``small``'s pixels, cut by its part's edge)
        extensions = 0
        opposite = {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}
        while todo:
            (x0, y0, x1, y1), inward = todo.pop(0)
            found, _ = self._detect_resized(small[y0:y1, x0:x1], 0.5)
            cut: dict[str, list[np.ndarray]] = {}
            for b in found:
                b = b + np.array([x0, y0], np.float32)
                sides = [side for side, inner, touches in (
                    ("top", y0 > 0, b[:, 1].min() <= y0 + 1), ("bottom", y1 < sh, b[:, 1].max() >= y1 - 2),
                    ("left", x0 > 0, b[:, 0].min() <= x0 + 1), ("right", x1 < sw, b[:, 0].max() >= x1 - 2))
                    if inner and touches]
                if inward in sides:
                    continue  # a line reaching back into the part this one extends: that part's pass has it
                for side in sides:
                    cut.setdefault(side, []).append(b)
                found_all.append((b, bool(sides)))
            for side, boxes in cut.items():
                if extensions >= s.ocr_cut_line_passes:
                    break
                extensions += 1
                (bx0, by0), (bx1, by1) = np.min([b.min(axis=0) for b in boxes], axis=0), \
                    np.max([b.max(axis=0) for b in boxes], axis=0)
                # past the edge by `reach`; back over the cut boxes' inside part (at most `reach`); along the
                # edge over the whole part and `reach` either side (a tilted line leaves it far from where it
                # was cut)
                if side in ("top", "bottom"):
                    ex0, ex1 = x0 - reach, x1 + reach
                    ey0, ey1 = (y0 - reach, min(by1, y0 + reach)) if side == "top" else \
                        (max(by0, y1 - reach), y1 + reach)
                else:
                    ey0, ey1 = y0 - reach, y1 + reach
                    ex0, ex1 = (x0 - reach, min(bx1, x0 + reach)) if side == "left" else \
                        (max(bx0, x1 - reach), x1 + reach)
                todo.append((on_grid(ex0, ey0, ex1, ey1), opposite[side]))
        boxes = self._without_cut_duplicates(found_all) if extensions else [b for b, _ in found_all]
        return [b * back for b in boxes]

    @staticmethod
    def _without_cut_duplicates(found: list[tuple[np.ndarray, bool]]) -> list[np.ndarray]:
        """The boxes of ``found`` with each line once: of two boxes that mostly cover each other (over half of
        the smaller one's area, compared as polygons, so neighbouring tilted lines are not taken for one), the
        one not cut by its part's edge is kept, else the larger."""
        import cv2
        kept: list[tuple[np.ndarray, bool, float]] = []
        for b, cut in found:
            area = float(cv2.contourArea(b))
            lo, hi = b.min(axis=0), b.max(axis=0)
            dup = None
            for i, (k, kcut, karea) in enumerate(kept):
                if (lo > k.max(axis=0)).any() or (hi < k.min(axis=0)).any():
                    continue
                inter = float(cv2.intersectConvexConvex(b, k)[0])
                if inter > 0.5 * min(area, karea):
                    dup = i
                    break
            if dup is None:
                kept.append((b, cut, area))
            elif (kept[dup][1], -kept[dup][2]) > (cut, -area):  # the new one is whole where the kept is cut, or larger
                kept[dup] = (b, cut, area)
        return [b for b, _, _ in kept]

    def _look(self, rgb: np.ndarray) -> np.ndarray | None:
        """The cheap look's text map (uint8, 1 where the detector at ``ocr_first_look_px`` saw text, any size),
        empty when it found no text-like box; None when the picture gets no look (look off, or the picture is no
        larger than it)."""
        self.load()
        s = self.settings
        if not s.ocr_first_look_px or max(rgb.shape[:2]) <= s.ocr_first_look_px:
            return None
        boxes, prob, _ = self._detect_scaled(rgb, min(1.0, s.ocr_first_look_px / max(rgb.shape[:2])),
                                             s.ocr_first_look_box_thresh)
        if not boxes:
            return np.zeros((0, 0), np.uint8)
        return (prob > s.ocr_look_map_thresh).astype(np.uint8)

    def first_look(self, rgb: np.ndarray) -> bool:
        """Whether the cheap look (the detector at ``ocr_first_look_px``, a low box threshold) sees anything
        text-like in an upright RGB image; False decides that the picture has no text. A picture no larger than
        the look (or with the look turned off) is always looked at fully."""
        look = self._look(rgb)
        return look is None or look.size > 0

    def predict(self, rgb: np.ndarray, hires: Callable[[], np.ndarray | None] | None = None) -> list[TextLine]:
        """Every text line in an upright RGB image (H x W x 3 uint8), reading order, boxes in its pixels.

        ``hires`` returns the same picture larger (the original), or None. It is only called when the first look
        saw text; lines are then detected and read on it: small words a 1440 px WebP preview blurs are found,
        and their spaces kept (read from the preview, a page's words run together)."""
        s = self.settings
        regions = self.text_regions(rgb)
        if not regions:
            return []
        source, factor = rgb, 1.0
        big = hires() if hires is not None else None
        if big is not None and big.shape[1] > rgb.shape[1]:
            source, factor = big, big.shape[1] / rgb.shape[1]
        boxes = self._detect_regions(source, regions)
        if not boxes:
            return []
        ocr = self._ocr
        boxes = ocr.sorted_boxes(np.asarray(boxes, np.float32))
        rec = self._read(source, list(boxes))
        # An uncertain line is read again from a slightly tighter box, and the surer reading kept: which box a
        # handwritten letter gets decides it by a few pixels ("re/ease" or "release"), and a part's boxes differ
        # from a whole-picture pass by that much (docs/benchmarks.md, OCR seventh pass)
        suspect = re.compile(s.ocr_reread_pattern) if s.ocr_reread_pattern else None
        unsure = [i for i, (text, score) in enumerate(rec) if float(score) < s.ocr_reread_below
                  or (suspect is not None and suspect.search(text))]
        if unsure:
            again = self._read(source, [self.shrunk_box(boxes[i], s.ocr_reread_shrink) for i in unsure])
            for i, (text, score) in zip(unsure, again):
                if float(score) > float(rec[i][1]):
                    rec[i] = (text, score)
        out = []
        for box, (text, score) in zip(boxes, rec):
            text = text.strip()
            if text and float(score) >= s.ocr_min_confidence:
                out.append(TextLine(text, [[round(float(x) / factor, 1), round(float(y) / factor, 1)] for x, y in box],
                                    float(score)))
        return out

    def _read(self, source: np.ndarray, boxes: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each box's line: cut from the RGB picture, turned BGR as the models read (a
        line's pixels, not the picture's), turned upright by the angle classifier when it is on, recognised."""
        ocr = self._ocr
        crops = [np.ascontiguousarray(c[..., ::-1]) for c in
                 ocr.get_crop_img_list(source, [np.ascontiguousarray(b, np.float32) for b in boxes])]
        if self.settings.ocr_angle_classifier:
            crops, _, _ = ocr.text_cls(crops)
        rec, _ = ocr.text_rec(crops)
        return [(str(text), float(score)) for text, score in rec]

    @staticmethod
    def shrunk_box(box: np.ndarray, fraction: float) -> np.ndarray:
        """``box`` (four corners clockwise from top-left) moved inwards on every side by ``fraction`` / 2 of its
        height (its left edge's length): a line's box as a slightly smaller unclip ratio gives it."""
        b = np.asarray(box, np.float32)
        height = float(np.linalg.norm(b[3] - b[0])) or 1.0
        down = (b[3] - b[0]) / height
        along = (b[1] - b[0]) / (float(np.linalg.norm(b[1] - b[0])) or 1.0)
        step = fraction * height / 2
        return b + (np.array([1, 1, -1, -1], np.float32)[:, None] * down +
                    np.array([1, -1, -1, 1], np.float32)[:, None] * along) * step


register("ocr", OcrModel)


def load_model(settings: Settings, threads: int = 1) -> OcrModel:
    """One loaded model per process and configuration, from the model registry (workers reuse it across
    batches)."""
    return get_model("ocr", settings, threads=threads)  # type: ignore[return-value]
