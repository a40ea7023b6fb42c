"""The model registry (workbench/models): each model is loaded once per process and configuration, shared by
whoever asks by name, unloaded on request, and what a stage's ``setup`` loads is what its batches use.

Real models only: tiny random open_clip CLIPs (tests/conftest.py), dlib's packaged face weights, PP-OCR from its
wheel.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_tiny_clip_checkpoint
from tests.factory import gradient
from workbench import models
from workbench.semantic.clip import ClipModel, WeightsUnavailable, load_embedder
from workbench.settings import Settings
from workbench.stages.base import StageContext
from workbench.stages.registry import all_stages
from workbench.storage import LocalStorage


def _clip(config: Path, checkpoint: Path, **kw) -> Settings:
    return Settings(clip_model=str(config), clip_checkpoint=str(checkpoint), **kw)


def test_a_model_is_loaded_once_per_configuration_and_shared_by_name(tiny_clip_checkpoint, tmp_path) -> None:
    cache = models.ModelCache()
    settings = _clip(*tiny_clip_checkpoint)
    first = cache.get("clip", settings)
    assert isinstance(first, ClipModel) and first.loaded
    # Settings that do not change the weights (the batch size) get the same loaded copy.
    assert cache.get("clip", _clip(*tiny_clip_checkpoint, clip_batch_size=3)) is first
    assert [name for name, _ in cache.loaded()] == ["clip"]
    # Other weights are another copy, with their own id.
    other = cache.get("clip", _clip(*make_tiny_clip_checkpoint(tmp_path, seed=1)))
    assert other is not first and other.model_id != first.model_id
    assert len(cache.loaded()) == 2
    vectors = first.predict([gradient(64, 48, seed=1), gradient(30, 90, seed=2)])
    assert vectors.shape == (2, first.dim) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_process_cache_is_what_the_embedder_uses(tiny_clip_checkpoint) -> None:
    settings = _clip(*tiny_clip_checkpoint)
    emb = load_embedder(settings)
    assert emb.model is models.get("clip", settings).model   # not a second copy of the weights
    assert ("clip", ClipModel.config_key(settings)) in models.loaded()


def test_unloading_frees_the_weights_and_the_next_get_loads_them_again(tiny_clip_checkpoint) -> None:
    cache = models.ModelCache()
    settings = _clip(*tiny_clip_checkpoint)
    before = cache.get("clip", settings)
    picture = [gradient(64, 48, seed=3)]
    expected = before.predict(picture)
    assert cache.unload() == 1
    assert not before.loaded and cache.loaded() == []
    again = cache.get("clip", settings)
    assert again is not before and again.loaded
    np.testing.assert_allclose(again.predict(picture), expected, atol=1e-6)


def test_a_failed_load_is_not_kept_so_weights_placed_later_are_found(tiny_clip_checkpoint, tmp_path) -> None:
    config, checkpoint = tiny_clip_checkpoint
    cache = models.ModelCache()
    later = tmp_path / "later.pt"
    with pytest.raises(WeightsUnavailable, match="does not exist: set clip_checkpoint"):
        cache.get("clip", _clip(config, later))
    assert cache.loaded() == []
    shutil.copy(checkpoint, later)
    assert cache.get("clip", _clip(config, later)).loaded


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(models.UnknownModel, match="'clipp'.*clip, clip-onnx-int8, faces, label-bank, ocr"):
        models.get("clipp", Settings())
    with pytest.raises(TypeError, match="Model subclass"):
        models.register("not-a-model", dict)  # type: ignore[arg-type]


def test_a_class_registered_under_a_new_name_is_got_by_that_name(tiny_clip_checkpoint) -> None:
    models.register("clip-for-search", ClipModel)
    cache = models.ModelCache()
    model = cache.get("clip-for-search", _clip(*tiny_clip_checkpoint))
    assert isinstance(model, ClipModel) and "clip-for-search" in models.registered()
    assert cache.get("clip", _clip(*tiny_clip_checkpoint)) is not model   # its own cache entry


def test_the_face_model_finds_a_face_and_unload_takes_it_out_of_deepface(corpus) -> None:
    from deepface.modules import modeling

    cache = models.ModelCache()
    rgb = np.asarray(Image.open(corpus / "faces/face_recognition/tests/test_images/obama.jpg").convert("RGB"))
    engine = cache.get("faces", Settings())
    faces = engine.predict(rgb)
    assert len(faces) == 1 and faces[0].embedding is not None and faces[0].embedding.shape == (128,)
    assert "Dlib" in modeling.cached_models["facial_recognition"]
    cache.unload("faces")
    assert not engine.loaded and "Dlib" not in modeling.cached_models["facial_recognition"]
    again = cache.get("faces", Settings()).predict(rgb)
    np.testing.assert_allclose(again[0].embedding, faces[0].embedding, atol=1e-5)


def test_ocr_threads_are_part_of_its_configuration() -> None:
    cache = models.ModelCache()
    one, two = cache.get("ocr", Settings(), threads=1), cache.get("ocr", Settings(), threads=2)
    assert one is not two and one.loaded and cache.get("ocr", Settings(), threads=1) is one
    assert one.predict(np.full((64, 64, 3), 255, np.uint8)) == []   # a blank picture has no text


def test_a_label_bank_is_embedded_once_stored_and_read_back(tiny_clip_checkpoint, tmp_path) -> None:
    from workbench.semantic.vocabulary import Vocabulary

    default = Vocabulary.load_default()
    vocab = Vocabulary(default.labels[:3], default.templates, default.background)  # three labels: quick to embed
    settings = _clip(*tiny_clip_checkpoint)
    storage = LocalStorage(tmp_path)
    model_version = load_embedder(settings).model_id
    cache = models.ModelCache()
    bank = cache.get("label-bank", settings, model_version=model_version, vocabulary=vocab, storage=storage)
    scores = bank.predict(load_embedder(settings).embed_texts(["a beach", "a mountain"]))
    assert scores.shape == (2, 3)
    assert [k for k in storage.list("derived/label_banks") if k.endswith(".npz")]
    cache.unload()
    # Loaded again it is read from storage, scores unchanged, and the cache keeps no library's storage.
    again = cache.get("label-bank", settings, model_version=model_version, vocabulary=vocab, storage=storage)
    assert again is not bank and again.options == {"model_version": model_version, "vocabulary": vocab}
    np.testing.assert_allclose(again.predict(load_embedder(settings).embed_texts(["a beach", "a mountain"])),
                               scores, atol=1e-6)


def test_stage_setup_loads_its_models_into_the_process_cache(tiny_clip_checkpoint, tmp_path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    settings = _clip(*tiny_clip_checkpoint)
    ctx = StageContext(root=str(root), settings=settings, store=LocalStorage(root))
    stages = {s.name: s for s in all_stages(settings, root)}
    models.unload_all()
    for name in ("thumbnails", "fingerprints", "quality"):   # no model: nothing to load
        stages[name].setup(ctx)
    assert models.loaded() == []
    stages["embeddings_32"].setup(ctx)
    stages["face_scans"].setup(ctx)
    stages["ocr"].setup(ctx)
    assert [n for n, _ in models.loaded()] == ["clip", "faces", "ocr"]
    loaded = list(models.loaded())
    for name in ("embeddings_32", "face_scans", "ocr"):   # a second setup (the next batch) loads nothing new
        stages[name].setup(ctx)
    assert models.loaded() == loaded
