"""Offline face weights: dlib's models from the ``face_recognition_models`` package, placed where DeepFace looks.

DeepFace downloads a weight file only when ``$DEEPFACE_HOME/.deepface/weights/<file>`` is missing, so linking
(or copying) the packaged files there makes its Dlib recognition model and dlib detectors run with no network.
The package is located without importing it: its ``__init__`` needs ``pkg_resources``, which new setuptools
no longer ships.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from workbench.errors import WorkbenchError

# Files the offline default needs: the ResNet embedding, the 5-point aligner, and the CNN (MMOD) detector.
PACKAGED_WEIGHTS = (
    "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat",
    "mmod_human_face_detector.dat",
)


class FaceWeightsUnavailable(WorkbenchError):
    """A face model's weights are neither on disk nor downloadable here."""


def packaged_models_dir() -> Path:
    """The ``models/`` folder inside the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceWeightsUnavailable(
            "the face_recognition_models package is not installed, so dlib's face weights are missing: "
            "run `pip install face-recognition-models` (it ships them; no download at run time)")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def default_home() -> Path:
    """Where DeepFace's weights folder lives: ``$DEEPFACE_HOME`` when set, else a workbench cache folder."""
    env = os.environ.get("DEEPFACE_HOME")
    if env:
        return Path(env).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "workbench" / "deepface"


def weights_dir(home: Path | None = None) -> Path:
    return (home or default_home()) / ".deepface" / "weights"


def ensure_face_weights(home: Path | None = None) -> Path:
    """Place dlib's packaged weights into DeepFace's weights folder and point ``DEEPFACE_HOME`` at ``home``.

    Idempotent and cheap after the first call. Files already there (a user's own download) are left alone.
    Returns the weights folder."""
    home = home or default_home()
    target = weights_dir(home)
    target.mkdir(parents=True, exist_ok=True)
    src = packaged_models_dir()
    for name in PACKAGED_WEIGHTS:
        dst = target / name
        if dst.exists():
            continue
        if not (src / name).exists():
            raise FaceWeightsUnavailable(f"{src / name} is missing: reinstall face-recognition-models")
        tmp = dst.with_suffix(".tmp")
        try:
            os.symlink(src / name, tmp)
        except OSError:  # file systems without symlinks get a copy
            shutil.copyfile(src / name, tmp)
        os.replace(tmp, dst)
    os.environ["DEEPFACE_HOME"] = str(home)
    return target
