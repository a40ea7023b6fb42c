"""Shared fixtures: the real corpus (skipped cleanly when absent) and throwaway libraries."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# A moto S3 server for the session and a fresh bucket per test (object-storage libraries; tests/s3server.py).
from s3server import s3_env, s3_server  # noqa: F401,E402


def corpus_root() -> Path | None:
    """``$WORKBENCH_CORPUS`` if it names an existing folder, else None."""
    value = os.environ.get("WORKBENCH_CORPUS")
    if not value:
        return None
    p = Path(value).expanduser().resolve()
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real media with ground truth; tests using it skip when it is not configured."""
    root = corpus_root()
    if root is None:
        pytest.skip("WORKBENCH_CORPUS is not set to the shared corpus folder (see ../shared/README.md)")
    return root


@pytest.fixture(autouse=True)
def _restore_pillow_limits():
    """Decoding with custom settings sets Pillow's process-wide pixel limit; keep it from leaking into the
    next test in the same worker."""
    from PIL import Image, ImageFile
    saved = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    yield
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


TINY_CLIP_CONFIG = {
    # A real open_clip ViT/text-transformer CLIP, just tiny: fast to build and run, same code paths as ViT-B-32.
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def make_tiny_clip_checkpoint(folder: Path, seed: int) -> tuple[Path, Path]:
    """Write the tiny model config (``wb-tiny-clip.json``) and a random checkpoint made with ``seed`` to folder."""
    import json

    import torch

    from workbench.compat.torchvision_cpu import ensure_torchvision

    ensure_torchvision()
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "wb-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(seed)
    model = open_clip.create_model(config.stem)
    checkpoint = folder / f"tiny-clip-seed{seed}.pt"
    torch.save(model.state_dict(), checkpoint)
    return config, checkpoint


@pytest.fixture(scope="session")
def tiny_clip_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config_path, checkpoint_path) of a tiny random open_clip model: settings.clip_model=str(config_path),
    settings.clip_checkpoint=str(checkpoint_path) loads it without any network."""
    return make_tiny_clip_checkpoint(tmp_path_factory.mktemp("tiny_clip"), seed=0)


@pytest.fixture(scope="session")
def tagged_photos_library(tiny_clip_checkpoint, tmp_path_factory) -> Path:
    """The demo photos imported and scored for tags by the tiny CLIP model (thumbnails, embeddings and tag scores
    only). One per session: scoring embeds the whole vocabulary (~7,000 prompts, a minute on a busy machine), so
    tests share it; copy it (``shutil.copytree(root, dst, symlinks=True)``) before changing it."""
    from workbench import Library
    from workbench.demo import write_photos
    cfg, ckpt = tiny_clip_checkpoint
    tmp = tmp_path_factory.mktemp("tagged_photos")
    write_photos(tmp / "media")
    lib = Library.create(tmp / "library")
    lib.settings.clip_model, lib.settings.clip_checkpoint = str(cfg), str(ckpt)
    lib.settings.save(lib.root)
    lib = Library.open(lib.root)
    lib.import_files([tmp / "media"], progress=False)
    lib.process([s for s in lib.status()["stage"] if s in ("thumbnails", "tag_scores") or s.startswith("embeddings")],
                progress=False)
    return lib.root


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright (never a downloaded browser). Install it with `apt-get install chromium`."""
    from browser import CHROMIUM, CHROMIUM_ARGS
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: browser tests need Debian's Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def pages():
    """Browser pages (``PageWatch``es) a test opened: closed afterwards, which shuts their gallery kernels down."""
    import contextlib
    opened = []
    yield opened
    for w in opened:
        with contextlib.suppress(Exception):
            w.page.context.close()
