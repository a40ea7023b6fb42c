"""Shared fixtures: the real corpus (skipped cleanly when absent) and throwaway libraries."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


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
