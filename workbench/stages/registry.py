"""The processing stages a library runs, in order."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from workbench.settings import Settings
from workbench.stages.base import Stage
from workbench.stages.embeddings import EmbeddingStage
from workbench.stages.faces import FaceStage
from workbench.stages.fingerprints import FingerprintStage
from workbench.stages.ocr import OcrStage
from workbench.stages.quality import QualityStage
from workbench.stages.tags import TagStage
from workbench.stages.thumbnails import ThumbnailStage


def all_stages(settings: Settings, root: Path | None = None) -> list[Stage]:
    """Stages in the order ``process`` runs them.

    ``root`` is the library folder (its user-added tag labels change the tagging stage's version)."""
    thumbs = ThumbnailStage(settings)
    emb = EmbeddingStage(settings, thumbs)
    faces = FaceStage(settings, thumbs)
    return [thumbs, FingerprintStage(settings, thumbs), emb, TagStage(settings, emb, root or Path(".")), faces,
            QualityStage(settings, thumbs, faces), OcrStage(settings, thumbs)]


def stage_schemas(settings: Settings, root: Path | None = None) -> dict[str, pa.Schema]:
    """Every table the stages write: their own and their side tables."""
    out: dict[str, pa.Schema] = {}
    for s in all_stages(settings, root):
        out[s.name] = s.schema
        out.update(s.side_schemas())
    return out
