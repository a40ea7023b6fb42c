"""Zero-shot tag scores: every (media, vocabulary label) score, from the stored CLIP vectors.

Keyed by ``media_id@<model_id>/<vocabulary fingerprint>``: a new label or another model rescores from the
stored vectors (no re-embedding); a new threshold changes nothing here, because effective tags are computed
from these scores at read time (``Library.tags``). Videos are scored per sampled frame and keep the best frame's
score per label.
"""
from __future__ import annotations

import io
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.catalog.schema import stage_schema
from workbench.errors import WorkbenchError
from workbench.models.registry import Model, register
from workbench.semantic.vocabulary import Vocabulary
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext
from workbench.storage import derived_key

#: Label banks (embedded vocabulary prompts) are cached under ``derived/label_banks/``.
BANKS = "label_banks"


def load_vocabulary(root: Path) -> Vocabulary:
    """The shipped vocabulary plus the labels this library's users added (``<library>/vocabulary.json``)."""
    vocab = Vocabulary.load_default()
    f = Path(root) / "vocabulary.json"
    if f.exists():
        import json
        for lab in json.loads(f.read_text()).get("labels", []):
            vocab = vocab.add(lab["name"], lab.get("category", "custom"), lab.get("prompts"))
    return vocab


class TagStage(Stage):
    name = "tag_scores"
    kinds = ("image", "video")
    workers = 1
    bulky_columns = ("scores",)
    dependency_columns = ("vector", "frame_vectors")
    model_name = "label-bank"  # LabelBankModel below: label and background vectors, embedded once and stored

    def __init__(self, settings: Settings, embeddings: Stage, root: Path):
        super().__init__(settings)
        self.dependency = embeddings
        self.root = Path(root)

    @cached_property
    def vocabulary(self) -> Vocabulary:
        return load_vocabulary(self.root)

    @property
    def version(self) -> str:
        return f"{self.dependency.version}/{self.vocabulary.fingerprint}"

    @property
    def schema(self) -> pa.Schema:  # type: ignore[override]
        # Scores are aligned to the vocabulary of the fingerprint in ``version``; the names are stored once in
        # the label bank cache and are ``self.vocabulary.names``.
        return stage_schema(pa.field("scores", pa.list_(pa.float32())))

    def unavailable_reason(self) -> str | None:
        if self.dependency.unavailable_reason():
            return f"needs CLIP embeddings ({self.dependency.name} is skipped: no weights)"
        return None

    def model_options(self) -> dict[str, Any]:
        """The bank of this CLIP model and vocabulary, read from (or, the first time, embedded by CLIP's text tower
        and written to) the library's storage under ``derived/label_banks/``."""
        return {"model_version": self.dependency.version, "vocabulary": self.vocabulary,
                "storage": self.context.storage}

    def transform(self, batch: pa.RecordBatch, ctx: StageContext) -> pa.RecordBatch:
        bank = self.model()
        out = []
        for row in batch.to_pylist():
            frames = row.get("frame_vectors")
            vecs = np.asarray(frames if frames else [row["vector"]], np.float32)
            scores = bank.predict(vecs).max(axis=0)  # a video has a tag if any of its frames shows it
            out.append(self.ok_row(row["id"], scores=scores.tolist()))
        return pa.RecordBatch.from_pylist(out, schema=self.schema)


class LabelBankModel(Model):
    """The tags stage's zero-shot classifier as a registry model (``get("label-bank", settings, model_version=,
    vocabulary=, storage=)``): every vocabulary label's prompt vectors and the background prompts, embedded by
    CLIP's text tower. ``load`` reads the bank stored under ``derived/label_banks/`` or embeds and stores it;
    ``predict(image_vectors)`` scores each vector against every label."""

    name = "label-bank"

    def __init__(self, settings: Settings, *, model_version: str, vocabulary: Vocabulary, storage: Any,
                 **options: Any):
        super().__init__(settings, model_version=model_version, vocabulary=vocabulary, **options)
        self.model_version, self.vocabulary = model_version, vocabulary
        self._storage = storage  # read (or written) once by ``load``, then let go: the cache outlives a library
        self.bank: Any = None

    @classmethod
    def config_key(cls, settings: Settings, *, model_version: str, vocabulary: Vocabulary,  # type: ignore[override]
                   **options: Any) -> tuple:
        return (model_version, vocabulary.fingerprint)

    @property
    def loaded(self) -> bool:
        return self.bank is not None

    @property
    def version(self) -> str:
        return f"{self.model_version}/{self.vocabulary.fingerprint}"

    def load(self) -> None:
        from workbench.semantic.clip import load_embedder
        from workbench.semantic.tagging import LabelBank

        storage, vocab = self._storage, self.vocabulary
        if storage is None:
            raise WorkbenchError("a label bank is loaded from a library's storage: get it again from "
                                 "workbench.models with storage=")
        self._storage = None
        key = derived_key(f"{BANKS}/{re.sub(r'[^A-Za-z0-9._-]+', '_', self.version)}.npz")
        if storage.exists(key):
            self.bank = self._read(storage.read_bytes(key), vocab.fingerprint, tuple(vocab.names))
            return
        # Reuse the rows of labels that did not change from the newest bank of the same model, so adding one
        # label embeds its own prompts, not the whole vocabulary again.
        model_prefix = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model_version)
        older = sorted((k for k in storage.list(derived_key(BANKS))
                        if k.rsplit("/", 1)[1].startswith(f"{model_prefix}_") and k.endswith(".npz")),
                       key=storage.modified_at)
        reuse = self._read(storage.read_bytes(older[-1]), "", ()) if older else None
        bank = LabelBank.build(load_embedder(self.settings), vocab, reuse=reuse)
        buf = io.BytesIO()
        np.savez(buf, label_vectors=bank.label_vectors, background_vectors=bank.background_vectors,
                 label_keys=np.asarray(bank.label_keys))
        storage.write(key, buf.getvalue())
        self.bank = bank

    def _read(self, data: bytes, fingerprint: str, names: tuple[str, ...]) -> Any:
        from workbench.semantic.tagging import LabelBank
        z = np.load(io.BytesIO(data), allow_pickle=False)
        return LabelBank(self.model_version, fingerprint, names, z["label_vectors"], z["background_vectors"],
                         tuple(z["label_keys"].tolist()))

    def predict(self, image_vectors: np.ndarray) -> np.ndarray:  # type: ignore[override]
        """Calibrated scores, one row per vector and one column per label (``LabelBank.scores``)."""
        return self.bank.scores(image_vectors)

    def unload(self) -> None:
        self.bank = None


register("label-bank", LabelBankModel)
