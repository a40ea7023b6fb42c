"""Find faces in a picture and describe each by an embedding, with DeepFace as the engine.

DeepFace detects and aligns (``extract_faces``) and then represents the aligned crops in one batch
(``represent`` with ``detector_backend="skip"``), which is exactly what its one-call ``represent`` does, split in
two so each face's size and sharpness can be measured on the same aligned crop before it is trusted. Every face
found is kept with its measurements; whether it is too small or blurry to recognise is decided later from them
(``quality.skip_reason``), so tuning those thresholds never re-runs detection.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.models.registry import Model, register
from workbench.models.registry import get as get_model
from workbench.settings import Settings

# Models whose weights come from the face_recognition_models package, so they work with no network.
OFFLINE_MODELS = {"Dlib"}
OFFLINE_DETECTORS = {"dlib", "dlib_cnn"}

_lock = threading.Lock()


@dataclass
class Face:
    """One detected face, in pixels of the image that was analysed (upright)."""

    bbox: tuple[int, int, int, int]       # x, y, w, h
    score: float                           # detector confidence, 0..1
    size_px: int                           # the shorter side of the box
    sharpness: float                       # variance of the Laplacian of the aligned crop at 112 px
    embedding: np.ndarray | None           # None only when the model could not represent the crop


class FaceModelUnavailable(WorkbenchError):
    """The chosen DeepFace model or detector cannot be loaded here (usually: weights not downloadable)."""


def model_id(settings: Settings) -> str:
    """Identifies what produced a face row: the recognition model, detector and its upsampling."""
    return f"{settings.face_model}-{settings.face_detector}-up{settings.face_detect_upsample}"


def _deepface(settings: Settings):
    """Import DeepFace with offline weights in place and our detector registered; quiet its info logging."""
    from workbench.faces.weights import ensure_face_weights
    ensure_face_weights()
    with _lock:
        from deepface import DeepFace
        if settings.face_detector == "dlib_cnn":
            from workbench.faces.dlib_cnn import register
            register()
        logging.getLogger("deepface").setLevel(logging.WARNING)
    return DeepFace


def _configure_detector(settings: Settings) -> None:
    """Apply the upsampling setting to the built detector (DeepFace builds each detector once per process)."""
    from deepface.modules import modeling
    det = modeling.build_model(task="face_detector", model_name=settings.face_detector)
    if hasattr(det, "upsample"):
        det.upsample = settings.face_detect_upsample


def sharpness(face_bgr: np.ndarray) -> float:
    """Blur measure independent of face size: Laplacian variance after resizing the crop to 112x112 px."""
    import cv2
    gray = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2GRAY) if face_bgr.ndim == 3 else face_bgr
    # Area averaging to shrink; linear to enlarge (area "enlarging" copies pixels, and the blocky edges would
    # read as sharp).
    shrink = min(gray.shape[:2]) >= 112
    gray = cv2.resize(gray, (112, 112), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


class FaceEngine(Model):
    """The face detector and recogniser as a registry model (``workbench.models``: ``get("faces", settings)``),
    loaded once per process and configuration: ``predict(rgb)`` (``analyze``) -> faces. DeepFace keeps the
    models it builds in its own process-wide cache; ``unload`` takes this configuration's out of it."""

    name = "faces"

    def __init__(self, settings: Settings, **options: Any):
        super().__init__(settings, **options)
        self.DeepFace: Any = None

    @classmethod
    def config_key(cls, settings: Settings, **options: Any) -> tuple:
        return (settings.face_model, settings.face_detector, settings.face_detect_upsample)

    @property
    def loaded(self) -> bool:
        return self.DeepFace is not None

    def load(self) -> None:
        """Raises ``FaceModelUnavailable`` (or ``FaceWeightsUnavailable``) with what to do."""
        settings = self.settings
        DeepFace = _deepface(settings)
        try:
            _configure_detector(settings)
            from deepface.modules import modeling
            modeling.build_model(task="facial_recognition", model_name=settings.face_model)
        except Exception as e:  # DeepFace raises ValueError/ImportError/OSError/requests errors on missing weights
            raise FaceModelUnavailable(_unavailable_message(settings, e)) from e
        self.DeepFace = DeepFace

    def predict(self, rgb: np.ndarray) -> list[Face]:  # type: ignore[override]
        """Faces in an upright RGB uint8 image, largest first (``analyze``)."""
        return self.analyze(rgb)

    def unload(self) -> None:
        from deepface.modules import modeling
        cached = getattr(modeling, "cached_models", {})
        for task, name in (("face_detector", self.settings.face_detector),
                           ("facial_recognition", self.settings.face_model)):
            cached.get(task, {}).pop(name, None)
        self.DeepFace = None

    def analyze(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an upright RGB uint8 image, largest first.

        DeepFace's ``extract_faces`` pads the whole image by half its size on every side before detecting, so
        alignment cannot rotate a face out of frame; that quadruples detection time. Its ``extract_face``
        already pads each face's own neighbourhood, so here the detector sees the unpadded image and each
        face is aligned by DeepFace's own ``extract_face``: same crops, a quarter of the work."""
        from deepface.modules import detection, modeling
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        detector = modeling.build_model(task="face_detector", model_name=self.settings.face_detector)
        regions = detector.detect_faces(bgr)
        found = [detection.extract_face(facial_area=r, img=bgr, align=True, expand_percentage=0, width_border=0,
                                        height_border=0, detector_backend=self.settings.face_detector)
                 for r in regions]
        crops = [np.ascontiguousarray(f.img).astype(np.uint8) for f in found]
        embeddings = self._represent(crops)
        faces = []
        for f, crop, emb in zip(found, crops, embeddings):
            a = f.facial_area
            x, y = max(0, int(a.x)), max(0, int(a.y))
            w, h = min(int(a.w), bgr.shape[1] - x), min(int(a.h), bgr.shape[0] - y)
            faces.append(Face(bbox=(x, y, w, h), score=float(min(max(f.confidence or 0.0, 0.0), 1.0)),
                              size_px=int(min(w, h)), sharpness=sharpness(crop) if crop.size else 0.0,
                              embedding=emb))
        faces.sort(key=lambda x: -x.bbox[2] * x.bbox[3])
        return faces

    def _represent(self, crops: list[np.ndarray]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None] * len(crops)
        good = [i for i, c in enumerate(crops) if c.ndim == 3 and min(c.shape[:2]) >= 2]
        if not good:
            return out
        res = self.DeepFace.represent([crops[i] for i in good], model_name=self.settings.face_model,
                                      detector_backend="skip", enforce_detection=False, align=False)
        if len(good) == 1 and res and isinstance(res[0], dict):
            res = [res]
        for i, r in zip(good, res):
            out[i] = np.asarray(r[0]["embedding"], dtype=np.float32)
        return out


def _unavailable_message(settings: Settings, e: BaseException) -> str:
    what = f"face model {settings.face_model!r} with detector {settings.face_detector!r}"
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    if settings.face_model in OFFLINE_MODELS and settings.face_detector in OFFLINE_DETECTORS:
        return f"{what} could not be loaded: {first}"
    return (f"{what} could not be loaded ({first}). Its weights are downloaded on first use, which needs a "
            f"network; place them in {_weights_hint()} or set face_model='Dlib' and face_detector='dlib' "
            f"(bundled, offline) in settings.json")


def _weights_hint() -> str:
    from workbench.faces.weights import weights_dir
    return str(weights_dir())


register("faces", FaceEngine)


def load_engine(settings: Settings) -> FaceEngine:
    """The process-wide engine for these settings from the model registry (workers reuse it across batches)."""
    return get_model("faces", settings)  # type: ignore[return-value]
