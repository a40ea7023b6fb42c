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
from workbench.semantic.vocabulary import Vocabulary
from workbench.settings import Settings
from workbench.stages.base import Stage, StageContext, now_utc
from workbench.storage import derived_key

_banks: dict[str, Any] = {}
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

    def _bank_key(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.version)
        return derived_key(f"{BANKS}/{safe}.npz")

    def bank(self, ctx: StageContext) -> Any:
        """Label and background vectors for this model and vocabulary, embedded once and cached in storage."""
        from workbench.semantic.clip import load_embedder
        from workbench.semantic.tagging import LabelBank

        if self.version in _banks:
            return _banks[self.version]
        storage = ctx.storage
        key = self._bank_key()
        vocab = self.vocabulary
        if storage.exists(key):
            bank = self._read_bank(storage.read_bytes(key), vocab.fingerprint, tuple(vocab.names))
        else:
            # Reuse the rows of labels that did not change from the newest bank of the same model, so adding one
            # label embeds its own prompts, not the whole vocabulary again.
            model_prefix = re.sub(r"[^A-Za-z0-9._-]+", "_", self.dependency.version)
            older = sorted((k for k in storage.list(derived_key(BANKS))
                            if k.rsplit("/", 1)[1].startswith(f"{model_prefix}_") and k.endswith(".npz")),
                           key=storage.modified_at)
            reuse = self._read_bank(storage.read_bytes(older[-1]), "", ()) if older else None
            bank = LabelBank.build(load_embedder(self.settings), vocab, reuse=reuse)
            buf = io.BytesIO()
            np.savez(buf, label_vectors=bank.label_vectors, background_vectors=bank.background_vectors,
                     label_keys=np.asarray(bank.label_keys))
            storage.write(key, buf.getvalue())
        _banks[self.version] = bank
        return bank

    def _read_bank(self, data: bytes, fingerprint: str, names: tuple[str, ...]) -> Any:
        from workbench.semantic.tagging import LabelBank
        z = np.load(io.BytesIO(data), allow_pickle=False)
        return LabelBank(self.dependency.version, fingerprint, names, z["label_vectors"], z["background_vectors"],
                         tuple(z["label_keys"].tolist()))

    def transform(self, batch: pa.RecordBatch, ctx: StageContext) -> pa.RecordBatch:
        bank = self.bank(ctx)
        out = []
        for row in batch.to_pylist():
            frames = row.get("frame_vectors")
            vecs = np.asarray(frames if frames else [row["vector"]], np.float32)
            scores = bank.scores(vecs).max(axis=0)  # a video has a tag if any of its frames shows it
            out.append({"key": self.key(row["id"]), "media_id": row["id"], "version": self.version,
                        "status": "ok", "error": None, "created_at": now_utc(), "scores": scores.tolist()})
        return pa.RecordBatch.from_pylist(out, schema=self.schema)
