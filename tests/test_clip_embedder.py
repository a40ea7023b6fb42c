"""CLIP embeddings: exactly open_clip's forward pass, stable weight ids, and clear errors when weights are missing.

All models here are tiny random open_clip CLIPs (tests/conftest.py ``tiny_clip_checkpoint``): real code paths,
no downloads.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_tiny_clip_checkpoint
from tests.factory import gradient
from workbench.semantic.clip import WeightsUnavailable, load_embedder
from workbench.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["a dog on a beach", "a birthday cake", "snow", ""]


def _settings(config: Path, checkpoint: Path, **kw) -> Settings:
    return Settings(clip_model=str(config), clip_checkpoint=str(checkpoint), **kw)


def _images() -> list[Image.Image]:
    return [gradient(96, 64, seed=1), gradient(50, 120, seed=2), gradient(300, 200, seed=3).convert("L"),
            Image.new("RGBA", (70, 70), (10, 200, 30, 255))]


def test_vectors_equal_open_clip_reference_forward_pass(tiny_clip_checkpoint: tuple[Path, Path]) -> None:
    import open_clip
    import torch

    config, checkpoint = tiny_clip_checkpoint
    emb = load_embedder(_settings(config, checkpoint))
    model, _, preprocess = open_clip.create_model_and_transforms(config.stem, pretrained=str(checkpoint))
    model.eval()
    tokenizer = open_clip.get_tokenizer(config.stem)
    with torch.no_grad():
        ref_img = model.encode_image(torch.stack([preprocess(im.convert("RGB")) for im in _images()]))
        ref_txt = model.encode_text(tokenizer(TEXTS))
    ref_img = (ref_img / ref_img.norm(dim=-1, keepdim=True)).numpy()
    ref_txt = (ref_txt / ref_txt.norm(dim=-1, keepdim=True)).numpy()
    got_img, got_txt = emb.embed_images(_images()), emb.embed_texts(TEXTS)
    assert got_img.dtype == np.float32 and got_img.shape == (4, 32) and emb.dim == 32
    np.testing.assert_allclose(got_img, ref_img, atol=1e-5)
    np.testing.assert_allclose(got_txt, ref_txt, atol=1e-5)


def test_vectors_are_unit_length(tiny_clip_checkpoint: tuple[Path, Path]) -> None:
    emb = load_embedder(_settings(*tiny_clip_checkpoint))
    vectors = np.concatenate([emb.embed_images(_images()), emb.embed_texts(TEXTS)])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_gives_the_same_vectors_as_one_by_one(tiny_clip_checkpoint: tuple[Path, Path]) -> None:
    batched = load_embedder(_settings(*tiny_clip_checkpoint, clip_batch_size=3))
    single = load_embedder(_settings(*tiny_clip_checkpoint, clip_batch_size=1))
    images = _images() * 2  # 8 images: batches of 3, 3, 2
    one_by_one = np.concatenate([single.embed_images([im]) for im in images])
    np.testing.assert_allclose(batched.embed_images(images), one_by_one, atol=1e-5)
    np.testing.assert_allclose(batched.embed_texts(TEXTS * 2), single.embed_texts(TEXTS * 2), atol=1e-5)
    assert batched.embed_images([]).shape == (0, 32)


def test_local_checkpoint_model_id_names_the_file_hash(tiny_clip_checkpoint: tuple[Path, Path]) -> None:
    import hashlib

    config, checkpoint = tiny_clip_checkpoint
    emb = load_embedder(_settings(config, checkpoint))
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:12]
    assert emb.model_id == f"{config.stem}/file-{digest}"


def test_different_checkpoints_have_different_model_ids(tiny_clip_checkpoint: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    config, checkpoint = tiny_clip_checkpoint
    _, other = make_tiny_clip_checkpoint(tmp_path, seed=1)
    a, b = load_embedder(_settings(config, checkpoint)), load_embedder(_settings(config, other))
    assert a.model_id != b.model_id
    assert not np.allclose(a.embed_texts(["x"]), b.embed_texts(["x"]))  # and really different weights


def test_missing_checkpoint_says_to_fix_clip_checkpoint(tiny_clip_checkpoint: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    config, _ = tiny_clip_checkpoint
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(WeightsUnavailable) as e:
        load_embedder(_settings(config, missing))
    msg = str(e.value)
    assert "\n" not in msg and "clip_checkpoint" in msg and str(missing) in msg


def test_checkpoint_of_another_architecture_is_weights_unavailable(tiny_clip_checkpoint: tuple[Path, Path]) -> None:
    _, checkpoint = tiny_clip_checkpoint
    with pytest.raises(WeightsUnavailable) as e:
        load_embedder(Settings(clip_model="ViT-B-32", clip_checkpoint=str(checkpoint)))
    msg = str(e.value)
    assert "\n" not in msg and "cannot be loaded as ViT-B-32" in msg and "clip_model" in msg


def test_named_weights_offline_fail_fast_with_instructions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(clip_cache_dir=str(tmp_path / "empty-cache"))  # ViT-B-32/laion2b_s34b_b79k, not cached
    started = time.monotonic()
    with pytest.raises(WeightsUnavailable) as e:
        load_embedder(settings)
    assert time.monotonic() - started < 10
    msg = str(e.value)
    assert "\n" not in msg
    assert "ViT-B-32/laion2b_s34b_b79k" in msg and "clip_checkpoint" in msg and str(tmp_path / "empty-cache") in msg


def test_unreachable_hub_fails_fast_without_offline_flag(tmp_path: Path) -> None:
    """No HF_HUB_OFFLINE: the product itself must notice there is no network, not retry for most of a minute.
    The Hub endpoint is pointed at a closed local port so this holds with or without a real network."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") and "proxy" not in k.lower()}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    code = textwrap.dedent(f"""
        import time
        from workbench.semantic.clip import WeightsUnavailable, load_embedder
        from workbench.settings import Settings
        from workbench.compat.torchvision_cpu import ensure_torchvision
        ensure_torchvision(); import open_clip  # imports are not the part being timed
        started = time.monotonic()
        try:
            load_embedder(Settings(clip_cache_dir={str(tmp_path / "cache")!r}))
        except WeightsUnavailable as e:
            print(round(time.monotonic() - started, 2), e)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seconds, _, message = proc.stdout.strip().splitlines()[-1].partition(" ")
    assert float(seconds) < 10
    assert "no network" in message and "clip_checkpoint" in message


def test_unknown_model_name_is_weights_unavailable() -> None:
    with pytest.raises(WeightsUnavailable, match="clip_model"):
        load_embedder(Settings(clip_model="ViT-Nope-1"))


def test_embedder_is_cached_per_process(tiny_clip_checkpoint: tuple[Path, Path]) -> None:
    a = load_embedder(_settings(*tiny_clip_checkpoint))
    b = load_embedder(_settings(*tiny_clip_checkpoint))
    assert a.model is b.model


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_int8_image_vectors_stay_close_to_fp32(tiny_clip_checkpoint: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    """The speed-up setting (ONNX Runtime int8) keeps every image vector at cosine >= 0.99 to open_clip fp32."""
    fp32 = load_embedder(_settings(*tiny_clip_checkpoint))
    fast = load_embedder(_settings(*tiny_clip_checkpoint, clip_onnx_int8=True, clip_cache_dir=str(tmp_path)))
    assert fast.image_encoder is not None and fp32.image_encoder is None
    images = _images() * 3
    got, ref = fast.embed_images(images), fp32.embed_images(images)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert _cosines(got, ref).min() >= 0.99
    assert not np.array_equal(got, ref)  # really a different (quantized) path
    assert list((tmp_path / "workbench-clip-onnx").glob("*.int8.onnx"))  # exported once, cached for workers


def test_onnx_int8_leaves_text_vectors_exact(tiny_clip_checkpoint: tuple[Path, Path], tmp_path: Path) -> None:
    fp32 = load_embedder(_settings(*tiny_clip_checkpoint))
    fast = load_embedder(_settings(*tiny_clip_checkpoint, clip_onnx_int8=True, clip_cache_dir=str(tmp_path)))
    np.testing.assert_array_equal(fast.embed_texts(TEXTS), fp32.embed_texts(TEXTS))


def test_int8_vectors_get_their_own_model_id_so_they_never_mix_with_fp32(tiny_clip_checkpoint: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    from workbench.semantic.clip import weights_identity
    plain = _settings(*tiny_clip_checkpoint)
    fast = _settings(*tiny_clip_checkpoint, clip_onnx_int8=True, clip_cache_dir=str(tmp_path))
    assert weights_identity(fast)[0] == weights_identity(plain)[0] + "+onnx-int8"
    assert load_embedder(fast).model_id == weights_identity(fast)[0]
    assert load_embedder(plain).model_id == weights_identity(plain)[0]
