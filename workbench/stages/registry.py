"""The processing stages a library runs, in order."""
from __future__ import annotations

import pyarrow as pa

from workbench.settings import Settings
from workbench.stages.base import Stage
from workbench.stages.embeddings import EmbeddingStage
from workbench.stages.thumbnails import ThumbnailStage


def all_stages(settings: Settings) -> list[Stage]:
    """Stages in the order ``process`` runs them; later issues add faces and quality here."""
    thumbs = ThumbnailStage(settings)
    return [thumbs, EmbeddingStage(settings, thumbs)]


def stage_schemas(settings: Settings) -> dict[str, pa.Schema]:
    """Every table the stages write: their own and their side tables."""
    out: dict[str, pa.Schema] = {}
    for s in all_stages(settings):
        out[s.name] = s.schema
        out.update(s.side_schemas())
    return out
