"""Zero-shot tagging: label vectors, calibrated per-(media, tag) scores, and the tags that follow from thresholds.

Pipeline (embeddings come from ``workbench.semantic.clip``; nothing here re-embeds an image):

1. ``LabelBank.build(embedder, vocab)`` embeds every prompt once per (model, vocabulary fingerprint): a label
   vector is CLIP's prompt ensemble (mean of the normalised template embeddings, renormalised), and each label
   gets a *background* vector, the same templates filled with generic phrases ("something", "a place", ...).
2. ``score_matrix`` turns image vectors into scores in [0, 1], one per (media, label): a per-label binary softmax
   of the label against its background at CLIP's own temperature (see its docstring for why).
3. ``effective_tags`` applies the current thresholds (global + per-tag overrides) and the user's manual
   add/remove decisions to stored scores; ``changed_by_threshold`` previews what a threshold change does.
   Both take a dense ``ScoreMatrix`` (preferred: what the catalog stores) or a long DataFrame.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from workbench.semantic.vocabulary import Vocabulary, normalize_name

# CLIP learns its softmax temperature as ``logit_scale`` and clamps it at 100; OpenAI's and LAION's ViT-B-32 both
# sit at that cap, so 100 is the temperature the model's similarities were trained to be read at.
CLIP_LOGIT_SCALE = 100.0
# Texts per ``embed_texts`` call when building label vectors (~430 labels x 8 templates x ~2 phrasings).
TEXT_BATCH = 256
# Rows of the score matrix handled at once, so temporaries stay ~tens of MB at 100k media x 400 tags.
CHUNK_ROWS = 16384

MANUAL_ACTIONS = ("add", "remove")
RESULT_COLUMNS = ["media_id", "tag", "score", "source"]


class TextEmbedder(Protocol):
    """The part of ``workbench.semantic.clip.ClipEmbedder`` that tagging needs."""

    model_id: str
    dim: int

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


# ------------------------------------------------------------------------------------------------------------
# Label vectors
# ------------------------------------------------------------------------------------------------------------
def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def ensemble_embeddings(embedder: TextEmbedder, groups: Sequence[Sequence[str]],
                        batch_size: int = TEXT_BATCH) -> np.ndarray:
    """One vector per group of texts: the mean of the group's normalised text embeddings, renormalised.

    Each distinct text is embedded once, in batches (templates repeat across labels' backgrounds)."""
    if any(len(g) == 0 for g in groups):
        raise ValueError("every label needs at least one prompt")
    if not groups:
        return np.zeros((0, embedder.dim), np.float32)
    unique: dict[str, int] = {}
    for g in groups:
        for t in g:
            unique.setdefault(t, len(unique))
    texts = list(unique)
    parts = [np.asarray(embedder.embed_texts(texts[i:i + batch_size]), dtype=np.float32)
             for i in range(0, len(texts), batch_size)]
    emb = _l2(np.concatenate(parts, axis=0)) if parts else np.zeros((0, embedder.dim), np.float32)
    idx = np.fromiter((unique[t] for g in groups for t in g), dtype=np.int64)
    starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
    sums = np.add.reduceat(emb[idx], starts, axis=0)
    return _l2(sums / np.asarray([len(g) for g in groups], np.float32)[:, None])


def label_embeddings(embedder: TextEmbedder, vocab: Vocabulary, batch_size: int = TEXT_BATCH) -> np.ndarray:
    """(n_labels x dim) float32: each label's prompt-template ensemble, in vocabulary order (CLIP's prompt
    ensembling: averaging phrasings cancels the quirks of any one wording)."""
    return ensemble_embeddings(embedder, [vocab.prompts_for(lab) for lab in vocab.labels], batch_size)


def background_embeddings(embedder: TextEmbedder, vocab: Vocabulary, batch_size: int = TEXT_BATCH) -> np.ndarray:
    """(n_labels x dim) float32: row i is the "null label" of label i's category (its templates filled with
    the vocabulary's generic background phrases), so a label and its background differ only in content."""
    cats = sorted({lab.category for lab in vocab.labels})
    per_cat = ensemble_embeddings(embedder, [vocab.background_prompts_for(c) for c in cats], batch_size)
    row = {c: i for i, c in enumerate(cats)}
    return per_cat[[row[lab.category] for lab in vocab.labels]] if cats else per_cat


def _label_key(vocab: Vocabulary, i: int) -> str:
    """What label i's two vectors depend on (its prompts and its category's background prompts)."""
    lab = vocab.labels[i]
    blob = json.dumps([vocab.prompts_for(lab), vocab.background_prompts_for(lab.category)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class LabelBank:
    """Label and background vectors for one (model, vocabulary fingerprint); cache it under that key."""

    model_id: str
    fingerprint: str
    names: tuple[str, ...]
    label_vectors: np.ndarray       # (n_labels, dim) float32, L2-normalised
    background_vectors: np.ndarray  # (n_labels, dim) float32, L2-normalised
    label_keys: tuple[str, ...] = ()  # per label: hash of the texts behind its two rows (for ``reuse``)

    @classmethod
    def build(cls, embedder: TextEmbedder, vocab: Vocabulary, batch_size: int = TEXT_BATCH,
              reuse: "LabelBank | None" = None) -> "LabelBank":
        """Embed the vocabulary. With ``reuse`` (a bank of the same model), rows of labels whose prompts and
        background are unchanged are copied, so adding a user label embeds ~10 texts, not ~5,000."""
        keys = tuple(_label_key(vocab, i) for i in range(len(vocab)))
        same_model = reuse is not None and reuse.model_id == embedder.model_id
        old = {k: i for i, k in enumerate(reuse.label_keys)} if same_model and reuse is not None else {}
        todo = [i for i, k in enumerate(keys) if k not in old]
        done = [i for i, k in enumerate(keys) if k in old]
        lv = np.zeros((len(vocab), embedder.dim), np.float32)
        bv = np.zeros((len(vocab), embedder.dim), np.float32)
        if done and reuse is not None:
            src = [old[keys[i]] for i in done]
            lv[done], bv[done] = reuse.label_vectors[src], reuse.background_vectors[src]
        if todo:
            sub = Vocabulary(tuple(vocab.labels[i] for i in todo), vocab.templates, vocab.background, vocab.version)
            lv[todo] = label_embeddings(embedder, sub, batch_size)
            bv[todo] = background_embeddings(embedder, sub, batch_size)
        return cls(embedder.model_id, vocab.fingerprint, tuple(vocab.names), lv, bv, keys)

    def scores(self, image_vectors: np.ndarray, logit_scale: float = CLIP_LOGIT_SCALE) -> np.ndarray:
        return score_matrix(image_vectors, self.label_vectors, self.background_vectors, logit_scale=logit_scale)


# ------------------------------------------------------------------------------------------------------------
# Calibrated scores
# ------------------------------------------------------------------------------------------------------------
def score_matrix(image_vectors: np.ndarray, label_vectors: np.ndarray, background_vectors: np.ndarray, *,
                 logit_scale: float = CLIP_LOGIT_SCALE, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """(n_media x n_labels) float32 scores in [0, 1], comparable across labels, so one global threshold means
    the same thing for every tag.

    score(i, l) = exp(T*cos(i, l)) / (exp(T*cos(i, l)) + exp(T*cos(i, bg_l))) = sigmoid(T * i.(l - bg_l))

    i.e. a two-way softmax, at CLIP's trained temperature T (``logit_scale``, 100), between the label and its
    category's generic "null label" (``background_vectors``; 1 x dim or n_labels x dim). Why this calibration:

    - Raw cosines are not comparable: every label has its own offset (~0.2-0.35) and images differ in how close
      they sit to all text. Subtracting the image's similarity to a generic caption removes the per-image offset,
      and building that caption from the *same templates* as the label removes the template wording's share of
      the per-label offset, leaving only "does the content word fit this image better than 'something' does".
    - A softmax at temperature T is exactly how CLIP was trained to turn cosines into probabilities, so the
      scale is not a free parameter we invented; a two-way softmax per label (instead of one softmax across all
      labels) keeps tags independent: a photo can be "beach" and "sunset" and "dog" at once, and adding a user
      label never changes another label's scores.
    - It needs no labelled data and no statistics of the library, so a media's scores do not drift when other
      photos are imported (z-scores against the library would).

    Reading a threshold: score >= t  <=>  cos(i, l) - cos(i, bg_l) >= logit(t) / T; the default 0.5 means "at
    least as close to the label as to the generic caption", 0.9 means a cosine margin of 0.022.
    The default threshold (settings.tag_threshold = 0.5) is the decision boundary of this softmax, not a
    measured optimum: no CLIP weights were available offline when this was written, so precision/recall at 0.5
    on real photos is unmeasured and real weights may well want a higher global threshold.
    """
    imgs = np.asarray(image_vectors, dtype=np.float32)
    if imgs.ndim == 1:
        imgs = imgs[None, :]
    labels = np.asarray(label_vectors, dtype=np.float32)
    bg = np.asarray(background_vectors, dtype=np.float32)
    if bg.ndim == 1:
        bg = bg[None, :]
    if bg.shape[0] not in (1, labels.shape[0]) or bg.shape[1] != labels.shape[1]:
        raise ValueError(f"background vectors {bg.shape} must be 1 x dim or n_labels x dim (labels {labels.shape})")
    if imgs.shape[1] != labels.shape[1]:
        raise ValueError(f"image vectors have dim {imgs.shape[1]}, label vectors {labels.shape[1]}: "
                         "were they made by different models?")
    directions = (labels - bg).T * np.float32(logit_scale)  # (dim, n_labels): one matmul gives T*(cos_l - cos_bg)
    out = np.empty((imgs.shape[0], labels.shape[0]), dtype=np.float32)
    for a in range(0, imgs.shape[0], chunk_rows):
        z = imgs[a:a + chunk_rows] @ directions
        out[a:a + chunk_rows] = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid without overflow, exactly in [0, 1]
    return out


def pool_by_media(media_ids: Sequence[str] | np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max over rows that share a media id (the frames of a video): a video has a tag if any frame shows it.
    Returns (unique media ids in first-seen order, pooled scores)."""
    codes, uniques = pd.factorize(np.asarray(media_ids, dtype=object))
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    return np.asarray(uniques, dtype=object), np.maximum.reduceat(np.asarray(scores)[order], starts, axis=0)


# ------------------------------------------------------------------------------------------------------------
# Scores as stored
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreMatrix:
    """Dense scores: row i belongs to ``media_ids[i]``, column j to tag ``tags[j]`` (the vocabulary order of
    the fingerprint the scores were computed under). float16 or float32."""

    media_ids: np.ndarray  # (n_media,) object
    tags: tuple[str, ...]
    values: np.ndarray     # (n_media, n_tags)

    def __post_init__(self) -> None:
        object.__setattr__(self, "media_ids", np.asarray(self.media_ids, dtype=object))
        object.__setattr__(self, "tags", tuple(self.tags))
        v = np.asarray(self.values)
        if v.dtype not in (np.float16, np.float32, np.float64):
            v = v.astype(np.float32)
        if v.ndim != 2 or v.shape != (len(self.media_ids), len(self.tags)):
            raise ValueError(f"score values {v.shape} do not match {len(self.media_ids)} media x {len(self.tags)} tags")
        if len(set(self.tags)) != len(self.tags):
            raise ValueError("score columns repeat a tag name; each tag must be one column")
        if not pd.Index(self.media_ids).is_unique:
            raise ValueError("score rows repeat a media id; pool video frames first (pool_by_media)")
        object.__setattr__(self, "values", v)

    @classmethod
    def from_frame(cls, scores: pd.DataFrame) -> "ScoreMatrix":
        """From long [media_id, tag, score] rows (missing pairs become 0)."""
        m_codes, m_uni = pd.factorize(scores["media_id"])
        t_codes, t_uni = pd.factorize(scores["tag"])
        v = np.zeros((len(m_uni), len(t_uni)), np.float32)
        v[m_codes, t_codes] = scores["score"].to_numpy(np.float32)
        return cls(np.asarray(m_uni, dtype=object), tuple(t_uni), v)

    def to_frame(self) -> pd.DataFrame:
        n, m = self.values.shape
        return pd.DataFrame({"media_id": np.repeat(self.media_ids, m),
                             "tag": pd.Categorical.from_codes(np.tile(np.arange(m), n), categories=list(self.tags)),
                             "score": self.values.reshape(-1)})


@dataclass(frozen=True)
class Thresholds:
    """One global threshold plus per-tag overrides (names normalised like vocabulary names)."""

    default: float
    overrides: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean = {normalize_name(k): float(v) for k, v in (self.overrides or {}).items()}
        for k, v in [("(global)", float(self.default)), *clean.items()]:
            if not 0.0 <= v <= 1.0 or v != v:
                raise ValueError(f"threshold for {k} must be between 0 and 1 (got {v})")
        object.__setattr__(self, "overrides", clean)

    @classmethod
    def of(cls, t: "Thresholds | float", overrides: Mapping[str, float] | None = None) -> "Thresholds":
        return t if isinstance(t, Thresholds) else cls(float(t), overrides or {})

    def for_tags(self, tags: Sequence[str], dtype: np.dtype | type = np.float32) -> np.ndarray:
        """Threshold per tag, in the scores' dtype so that a score equal to the threshold (as typed) passes."""
        return np.asarray([self.overrides.get(t, self.default) for t in tags], dtype=dtype)


# ------------------------------------------------------------------------------------------------------------
# Effective tags
# ------------------------------------------------------------------------------------------------------------
@dataclass
class _Coo:
    """Scores as coordinates into (media uniques, tag uniques), whichever form they arrived in."""

    media: np.ndarray  # unique media ids (object)
    tags: np.ndarray   # unique tags (object)
    dense: np.ndarray | None = None  # (n_media, n_tags) when from a ScoreMatrix
    r: np.ndarray | None = None      # long form: media code per row
    c: np.ndarray | None = None      # long form: tag code per row
    s: np.ndarray | None = None      # long form: score per row

    @classmethod
    def of(cls, scores: "ScoreMatrix | pd.DataFrame") -> "_Coo":
        if isinstance(scores, ScoreMatrix):
            return cls(scores.media_ids, np.asarray(scores.tags, dtype=object), dense=scores.values)
        missing = {"media_id", "tag", "score"} - set(scores.columns)
        if missing:
            raise ValueError(f"scores need columns media_id, tag, score (missing {sorted(missing)})")
        tag_col = scores["tag"]
        if isinstance(tag_col.dtype, pd.CategoricalDtype):
            c = tag_col.cat.codes.to_numpy(np.int64)
            t_uni = np.asarray(tag_col.cat.categories, dtype=object)
        else:
            c, t_uni = pd.factorize(tag_col)
            t_uni = np.asarray(t_uni, dtype=object)
        r, m_uni = pd.factorize(scores["media_id"])
        s = scores["score"].to_numpy()
        if s.dtype not in (np.float16, np.float32, np.float64):
            s = s.astype(np.float32)
        return cls(np.asarray(m_uni, dtype=object), t_uni, r=r.astype(np.int64), c=c, s=s)

    @property
    def n_tags(self) -> int:
        return len(self.tags)

    @property
    def dtype(self) -> np.dtype:
        return (self.dense if self.dense is not None else self.s).dtype

    def passing(self, thr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(media codes, tag codes, scores) of the pairs whose score reaches their tag's threshold."""
        return self.where(lambda v, t: v >= t, thr)

    def where(self, pred: Callable[..., np.ndarray], *per_tag: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(media codes, tag codes, scores) where ``pred(scores, *per_tag_values)`` holds; per-tag vectors
        broadcast over dense rows, or are gathered per row for the long form."""
        if self.dense is not None:
            rs, cs = [], []
            for a in range(0, self.dense.shape[0], CHUNK_ROWS):
                r, c = np.nonzero(pred(self.dense[a:a + CHUNK_ROWS], *per_tag))
                rs.append(r + a)
                cs.append(c)
            r = np.concatenate(rs) if rs else np.zeros(0, np.int64)
            c = np.concatenate(cs) if cs else np.zeros(0, np.int64)
            return r, c, self.dense[r, c]
        m = pred(self.s, *(x[self.c] for x in per_tag)) & (self.c >= 0)  # -1: a missing tag (NaN category)
        return self.r[m], self.c[m], self.s[m]

    def pair_codes(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return r.astype(np.int64) * max(self.n_tags, 1) + c.astype(np.int64)

    def lookup(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Scores of given (media code, tag code) pairs; NaN where a code is -1 or the pair has no score."""
        out = np.full(len(r), np.nan, np.float32)
        known = (r >= 0) & (c >= 0)
        if self.dense is not None:
            out[known] = self.dense[r[known], c[known]]
            return out
        if known.any():
            want = self.pair_codes(r[known], c[known])
            near = np.flatnonzero(np.isin(self.r, np.unique(r[known])))  # rows of those media only
            have = pd.Series(self.s[near].astype(np.float32), index=self.pair_codes(self.r[near], self.c[near]))
            have = have[~have.index.duplicated(keep="last")]
            out[known] = have.reindex(want).to_numpy(np.float32)
        return out


def manual_decisions(manual: pd.DataFrame | None) -> pd.DataFrame:
    """The user's latest decision per (media, tag): rows later in the frame win over earlier ones."""
    if manual is None or len(manual) == 0:
        return pd.DataFrame({"media_id": pd.Series(dtype=object), "tag": pd.Series(dtype=object),
                             "action": pd.Series(dtype=object)})
    missing = {"media_id", "tag", "action"} - set(manual.columns)
    if missing:
        raise ValueError(f"manual tags need columns media_id, tag, action (missing {sorted(missing)})")
    m = manual[["media_id", "tag", "action"]].copy()
    m["tag"] = [normalize_name(t) for t in m["tag"]]
    bad = ~m["action"].isin(MANUAL_ACTIONS)
    if bad.any():
        raise ValueError(f"manual action must be one of {MANUAL_ACTIONS}; got {sorted(set(m.loc[bad, 'action']))}")
    return m.drop_duplicates(["media_id", "tag"], keep="last").reset_index(drop=True)


def _decided_codes(coo: _Coo, decisions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Media code, tag code (-1 when unknown to the scores) and pair code of each manual decision."""
    r = pd.Index(coo.media).get_indexer(decisions["media_id"].to_numpy(dtype=object))
    c = pd.Index(coo.tags).get_indexer(decisions["tag"].to_numpy(dtype=object))
    pair = np.where((r >= 0) & (c >= 0), coo.pair_codes(np.maximum(r, 0), np.maximum(c, 0)), -1)
    return r, c, pair


def effective_tags(scores: ScoreMatrix | pd.DataFrame, threshold: float | Thresholds,
                   overrides: Mapping[str, float] | None = None,
                   manual: pd.DataFrame | None = None) -> pd.DataFrame:
    """The tags a user sees: [media_id, tag, score, source].

    Automatic tags are the pairs whose score reaches their tag's threshold (the override when there is one,
    else the global one); every pair the user decided by hand (``manual``: [media_id, tag, action in
    {"add", "remove"}], the last row per pair wins) is taken out of them, and the manual adds come back with
    ``source == "manual"`` and their stored score (NaN for a tag or media without one). Pure and vectorised:
    scores are only read, so changing a threshold never re-embeds or rescores, and manual decisions survive
    any recomputation of scores. Auto rows come first (media order, then vocabulary order, for a
    ScoreMatrix), then manual adds.

    Prefer a ``ScoreMatrix`` (what the catalog stores): a long frame of 100k x 400 rows costs ~40M Python
    strings before this function even starts.
    """
    th = Thresholds.of(threshold, overrides)
    coo = _Coo.of(scores)
    decisions = manual_decisions(manual)
    r, c, s = coo.passing(th.for_tags(list(coo.tags), coo.dtype))
    dr, dc, dpair = _decided_codes(coo, decisions)
    if len(decisions) and len(r):
        keep = ~np.isin(coo.pair_codes(r, c), dpair[dpair >= 0])
        r, c, s = r[keep], c[keep], s[keep]
    auto = pd.DataFrame({"media_id": coo.media[r], "tag": coo.tags[c], "score": s.astype(np.float32),
                         "source": "auto"})
    adds = decisions["action"].to_numpy() == "add"
    added = pd.DataFrame({"media_id": decisions["media_id"].to_numpy(dtype=object)[adds],
                          "tag": decisions["tag"].to_numpy(dtype=object)[adds],
                          "score": coo.lookup(dr[adds], dc[adds]), "source": "manual"})
    if not len(added):
        return auto[RESULT_COLUMNS]
    return pd.concat([auto, added], ignore_index=True)[RESULT_COLUMNS]


def changed_by_threshold(scores: ScoreMatrix | pd.DataFrame, old: float | Thresholds, new: float | Thresholds,
                         manual: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(entering, leaving): [media_id, tag, score] pairs that become / stop being tags when thresholds go from
    ``old`` to ``new`` (a float is a global threshold without overrides). Pairs with a manual decision never
    change, so they are in neither frame; for the dashboard's preview of a threshold slider or an override."""
    coo = _Coo.of(scores)
    tags = list(coo.tags)
    t_old = Thresholds.of(old).for_tags(tags, coo.dtype)
    t_new = Thresholds.of(new).for_tags(tags, coo.dtype)
    decisions = manual_decisions(manual)
    _, _, dpair = _decided_codes(coo, decisions)
    decided = dpair[dpair >= 0]

    def pairs(lo: np.ndarray, hi: np.ndarray) -> pd.DataFrame:
        # scores in [lo, hi): at or above the lower threshold, below the higher one
        r, c, s = coo.where(lambda v, a, b: (v >= a) & (v < b), lo, hi)
        if len(decided) and len(r):
            keep = ~np.isin(coo.pair_codes(r, c), decided)
            r, c, s = r[keep], c[keep], s[keep]
        return pd.DataFrame({"media_id": coo.media[r], "tag": coo.tags[c], "score": s.astype(np.float32)})

    # A pair enters when new <= score < old (its threshold went down past it), leaves when old <= score < new.
    return pairs(t_new, t_old), pairs(t_old, t_new)

