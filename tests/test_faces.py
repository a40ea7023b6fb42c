"""Faces: detection and embeddings with DeepFace's offline Dlib model, on real photos from the corpus."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from workbench import Library
from workbench.faces.engine import FaceModelUnavailable, load_engine
from workbench.faces.weights import PACKAGED_WEIGHTS, ensure_face_weights
from workbench.settings import Settings
from workbench.stages.faces import FaceStage

FR = "faces/face_recognition"
STAGES = ["thumbnails", "face_scans"]


def face_photo(corpus: Path, rel: str) -> Path:
    return corpus / FR / rel


@pytest.fixture(scope="module")
def faces_library(corpus: Path, tmp_path_factory) -> Library:
    """Obama x3, Biden x2, a photo of both, a small and a blurred copy of Obama, and a photo with no face."""
    src = tmp_path_factory.mktemp("faces_src")
    for rel in ["tests/test_images/obama.jpg", "tests/test_images/obama2.jpg", "tests/test_images/obama3.jpg",
                "examples/knn_examples/train/biden/biden.jpg", "examples/knn_examples/train/biden/biden2.jpg",
                "examples/two_people.jpg"]:
        shutil.copy(face_photo(corpus, rel), src / Path(rel).name)
    obama = Image.open(face_photo(corpus, "tests/test_images/obama.jpg")).convert("RGB")
    obama.resize((obama.width // 6, obama.height // 6)).save(src / "obama_tiny.jpg", quality=95)   # face ~44 px
    obama.filter(ImageFilter.GaussianBlur(7)).save(src / "obama_blurred.jpg", quality=95)
    Image.new("RGB", (640, 480), (40, 120, 200)).save(src / "sky.jpg")
    lib = Library.create(tmp_path_factory.mktemp("faces_lib") / "lib")
    lib.import_files([src], progress=False)
    lib.process(STAGES, progress=False)
    return lib


def faces_of(lib: Library, name: str):
    f = lib.faces()
    return f[f["path"].str.endswith("/" + name)]


def test_packaged_dlib_weights_are_placed_where_deepface_looks(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))  # restored afterwards: the placement sets it
    target = ensure_face_weights(tmp_path)
    assert target == tmp_path / ".deepface" / "weights"
    for name in PACKAGED_WEIGHTS:
        assert (target / name).stat().st_size > 100_000


def test_placing_weights_twice_is_harmless(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    ensure_face_weights(tmp_path)
    before = sorted(p.name for p in (tmp_path / ".deepface" / "weights").iterdir())
    ensure_face_weights(tmp_path)
    assert sorted(p.name for p in (tmp_path / ".deepface" / "weights").iterdir()) == before


def test_one_face_box_matches_face_recognition_expected_hog_box(corpus):
    rgb = np.asarray(Image.open(face_photo(corpus, "tests/test_images/obama.jpg")).convert("RGB"))
    faces = load_engine(Settings()).analyze(rgb)
    assert len(faces) == 1
    top, right, bottom, left = json.loads((corpus / FR / "ground_truth.json").read_text())[
        "detector_expectations_from_tests"]["tests/test_images/obama.jpg"]["hog_box_top_right_bottom_left"]
    x, y, w, h = faces[0].bbox
    assert abs(x - left) <= 25 and abs(y - top) <= 25 and abs(x + w - right) <= 25 and abs(y + h - bottom) <= 25


def test_same_person_embeddings_are_closer_than_the_match_distance(corpus):
    eng = load_engine(Settings())
    emb = {n: eng.analyze(np.asarray(Image.open(face_photo(corpus, f"tests/test_images/{n}.jpg")).convert("RGB")))[0]
           .embedding for n in ("obama", "obama2", "biden")}
    limit = Settings().face_match_distance
    assert np.linalg.norm(emb["obama"] - emb["obama2"]) < limit
    assert np.linalg.norm(emb["obama"] - emb["biden"]) > limit


def test_library_finds_two_faces_in_a_photo_of_two_people(faces_library):
    assert len(faces_of(faces_library, "two_people.jpg")) == 2


def test_face_box_is_in_pixels_of_the_original_not_the_preview(faces_library, corpus):
    # obama3.jpg is larger than the 1440 px preview the stage reads; its box must be scaled back.
    media = faces_library.media()
    row = media[media["path"].str.endswith("/obama3.jpg")].iloc[0]
    assert max(row["width"], row["height"]) > Settings().preview_size_px
    x, y, w, h = faces_of(faces_library, "obama3.jpg").iloc[0]["bbox"]
    assert 0 <= x and x + w <= row["width"] and 0 <= y and y + h <= row["height"]
    direct = load_engine(Settings()).analyze(np.asarray(Image.open(face_photo(
        corpus, "tests/test_images/obama3.jpg")).convert("RGB")))[0].bbox
    assert abs(x - direct[0]) < 0.1 * direct[2] and abs(w - direct[2]) < 0.15 * direct[2]


def test_photo_without_faces_is_scanned_once_and_has_no_faces(faces_library):
    assert faces_of(faces_library, "sky.jpg").empty
    st = faces_library.status().set_index("stage").loc["face_scans"]
    assert st["pending"] == 0 and st["failed"] == 0


def test_too_small_face_is_listed_with_its_reason_and_belongs_to_nobody(faces_library):
    f = faces_of(faces_library, "obama_tiny.jpg")
    assert len(f) == 1
    assert "too small to recognise" in f.iloc[0]["skipped"]
    assert not isinstance(f.iloc[0]["person_id"], str)


def test_blurred_face_is_listed_with_its_reason_and_belongs_to_nobody(faces_library):
    f = faces_of(faces_library, "obama_blurred.jpg")
    assert len(f) == 1
    assert "too blurry to recognise" in f.iloc[0]["skipped"]
    assert not isinstance(f.iloc[0]["person_id"], str)


def test_rerunning_process_adds_no_faces(faces_library):
    before = faces_library.faces()
    faces_library.process(STAGES, progress=False)
    after = faces_library.faces()
    assert sorted(after["face_id"]) == sorted(before["face_id"])
    assert faces_library.catalog.count("faces") == len(before)


def test_unavailable_model_says_what_to_do_instead_of_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    s = Settings(face_model="ArcFace")
    reason = FaceStage(s, None).unavailable_reason()  # type: ignore[arg-type]
    assert reason is not None and "ArcFace" in reason and "face_model='Dlib'" in reason
    with pytest.raises(FaceModelUnavailable):
        load_engine(s)


def test_video_faces_are_consolidated_into_tracks_with_frame_numbers(corpus, tmp_path):
    import av
    # A 6 s clip of one person (the Obama photo panning slowly): one track, not one face per sampled frame.
    photo = Image.open(face_photo(corpus, "tests/test_images/obama.jpg")).convert("RGB").resize((455, 568))
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=10)
        st.width, st.height, st.pix_fmt = 400, 560, "yuv420p"
        for i in range(60):
            fr = av.VideoFrame.from_ndarray(np.asarray(photo.crop((i // 2, 4, i // 2 + 400, 564))), format="rgb24")
            for p in st.encode(fr):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    s = Settings(video_frame_interval_s=1.0)
    lib = Library.create(tmp_path / "lib")
    s.save(lib.root)
    lib = Library.open(lib.root)
    lib.import_files([path], progress=False)
    lib.process(STAGES, progress=False)
    f = lib.faces()
    scan = lib.get(lib.media().iloc[0]["id"])["stages"]["face_scans"]
    assert scan["frames_scanned"] >= 4
    assert len(f) == 1
    assert f.iloc[0]["frame"] == round(f.iloc[0]["t_s"] * 10)


def test_a_video_faces_crop_is_cut_around_the_face_in_its_own_frame(tmp_path):
    # The demo's 640x360 clip pans over the astronaut portrait. Its face box is in pixels of the 448 px frame the
    # face stage looked at; the crop (a person's cover on the gallery's people page) must still hold the face.
    from workbench.demo import write_video
    write_video(tmp_path / "pan.mp4")
    lib = Library.create(tmp_path / "lib")
    lib.import_files([tmp_path / "pan.mp4"], progress=False)
    lib.process(STAGES, progress=False)
    f = lib.faces()
    assert len(f) >= 1 and f.iloc[0]["t_s"] == f.iloc[0]["t_s"]       # found in the video, at a time
    crop = lib.face_crop(f.iloc[0]["face_id"], size_px=200)
    found = load_engine(lib.settings).analyze(np.asarray(crop.convert("RGB")))
    assert len(found) == 1, "the crop shows no whole face"
    x, y, w, h = found[0].bbox
    assert abs(x + w / 2 - 100) < 30 and abs(y + h / 2 - 100) < 30     # the face is in the middle of the crop
    assert w > 70                                                        # and fills a good part of it
    # The listed box is in the video's own pixels, as for photos: where the face is in the full-size frame.
    from workbench.imaging.video_frames import frame_image
    frame = frame_image(lib.original_path(f.iloc[0]["media_id"]), f.iloc[0]["t_s"], lib.settings)
    (fx, fy, fw, fh), (bx, by, bw, bh) = load_engine(lib.settings).analyze(np.asarray(frame))[0].bbox, f.iloc[0]["bbox"]
    assert abs((fx + fw / 2) - (bx + bw / 2)) < fw / 5 and abs((fy + fh / 2) - (by + bh / 2)) < fh / 5
    assert bw == pytest.approx(fw, rel=0.35)
