"""The "dlib_cnn" DeepFace backend (workbench/faces/dlib_cnn.py) on real photos with known faces.

Real weights, real corpus. dlib here has no BLAS, so the CNN costs ~7 s per megapixel at upsample 0 and four
times that at upsample 1: the tests run the cached backend at upsample 0 (the documented override), which
still puts Obama's box within the face_recognition project's tolerance of its upsample-1 CNN box.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dlib")
pytest.importorskip("deepface")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The registered, DeepFace-cached dlib_cnn detector at upsample 0, weights in a throwaway DEEPFACE_HOME."""
    from workbench.faces.weights import ensure_face_weights

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("deepface_home")
        mp.setenv("DEEPFACE_HOME", str(home))
        ensure_face_weights(home)
        from deepface.modules import modeling

        from workbench.faces import dlib_cnn

        dlib_cnn.register()
        client = modeling.build_model(task="face_detector", model_name="dlib_cnn")
        saved = client.upsample
        client.upsample = 0
        yield client
        client.upsample = saved


def faces_in(path: Path) -> list[dict[str, Any]]:
    from deepface import DeepFace

    return DeepFace.extract_faces(str(path), detector_backend="dlib_cnn", align=True, enforce_detection=False)


def test_register_twice_is_harmless(backend: Any) -> None:
    from deepface.modules import modeling

    from workbench.faces import dlib_cnn

    dlib_cnn.register()
    dlib_cnn.register()
    assert modeling.AVAILABLE_MODELS["face_detector"]["dlib_cnn"] == {
        modeling.ANY: "workbench.faces.dlib_cnn.DlibCnnClient"}
    assert modeling.build_model(task="face_detector", model_name="dlib_cnn") is backend
    assert isinstance(backend, dlib_cnn.DlibCnnClient)


def test_obama_one_face_at_face_recognition_cnn_box(backend: Any, corpus: Path) -> None:
    root = corpus / "faces" / "face_recognition"
    expected = json.loads((root / "ground_truth.json").read_text())["detector_expectations_from_tests"]
    spec = expected["tests/test_images/obama.jpg"]
    faces = faces_in(root / "tests" / "test_images" / "obama.jpg")

    assert len(faces) == spec["faces"] == 1
    area = faces[0]["facial_area"]
    top, right, bottom, left = spec["cnn_box_approx"]
    got = (area["y"], area["x"] + area["w"], area["y"] + area["h"], area["x"])  # DeepFace gives x, y, w, h
    assert all(abs(g - e) <= spec["tolerance_px"] for g, e in zip(got, (top, right, bottom, left))), got
    assert 0 < faces[0]["confidence"] <= 1
    # DeepFace's convention: left_eye is the person's left, so it lies right of right_eye in the picture
    assert area["left_eye"][0] > area["right_eye"][0]
    assert all(left <= eye[0] <= right and top <= eye[1] <= bottom
               for eye in (area["left_eye"], area["right_eye"]))


def test_two_people_two_faces(backend: Any, corpus: Path) -> None:
    faces = faces_in(corpus / "faces" / "face_recognition" / "examples" / "two_people.jpg")

    assert len(faces) == 2
    assert all(f["confidence"] > 0 for f in faces)  # real detections, not DeepFace's whole-picture fallback
    xs = sorted(f["facial_area"]["x"] for f in faces)
    assert xs[1] - xs[0] > 200  # one face per portrait, not two boxes on the same face
