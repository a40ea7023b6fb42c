"""Zero-shot tagging: prompt ensembles, calibrated scores, thresholds, manual decisions, threshold previews."""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd
import pytest

from workbench.semantic.tagging import (
    LabelBank,
    ScoreMatrix,
    Thresholds,
    background_embeddings,
    changed_by_threshold,
    effective_tags,
    label_embeddings,
    pool_by_media,
    score_matrix,
)
from workbench.semantic.vocabulary import Vocabulary

DIM = 64


class HashEmbedder:
    """A deterministic stand-in for ClipEmbedder's text side: each text maps to its own random unit vector."""

    model_id = "hash/test"
    dim = DIM

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([_unit(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


def _unit(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _mean_of_prompts(embedder, vocab: Vocabulary) -> np.ndarray:
    """The definition, one label at a time: mean of normalised prompt embeddings, renormalised."""
    return np.stack([_normalised(_normalised(embedder.embed_texts(vocab.prompts_for(lab))).mean(0))
                     for lab in vocab.labels])


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load_default()


# ------------------------------------------------------------------------------------------------ label vectors
def test_label_embeddings_are_the_mean_of_prompt_embeddings(vocab: Vocabulary) -> None:
    emb = HashEmbedder()
    got = label_embeddings(emb, vocab, batch_size=500)
    assert got.shape == (len(vocab), DIM) and got.dtype == np.float32
    np.testing.assert_allclose(got, _mean_of_prompts(HashEmbedder(), vocab), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    n_unique = len({p for lab in vocab.labels for p in vocab.prompts_for(lab)})
    assert sum(emb.calls) == n_unique and max(emb.calls) <= 500  # each prompt once, in batches


@pytest.mark.slow
def test_label_embeddings_with_the_tiny_clip_checkpoint(request: pytest.FixtureRequest) -> None:
    """The same definition through a real (tiny, random-init) open_clip text tower."""
    try:
        ckpt = request.getfixturevalue("tiny_clip_checkpoint")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py has no tiny_clip_checkpoint fixture yet (it comes with semantic/clip.py)")
    from workbench.semantic.clip import load_embedder
    from workbench.settings import Settings

    config, checkpoint = ckpt
    embedder = load_embedder(Settings(clip_model=str(config), clip_checkpoint=str(checkpoint)))
    small = Vocabulary.from_dict({**vocab_dict_subset(), "version": 1})
    got = label_embeddings(embedder, small, batch_size=7)
    assert got.shape == (len(small), embedder.dim)
    np.testing.assert_allclose(got, _mean_of_prompts(embedder, small), atol=1e-4)
    bank = LabelBank.build(embedder, small)
    assert bank.model_id == embedder.model_id and bank.fingerprint == small.fingerprint
    scores = bank.scores(bank.label_vectors)
    assert scores.shape == (len(small), len(small)) and np.all((scores >= 0) & (scores <= 1))


def vocab_dict_subset() -> dict:
    d = Vocabulary.load_default().to_dict()
    keep = {"beach", "cat", "pizza", "receipt", "sunset", "snow", "wedding"}
    return {**d, "labels": [x for x in d["labels"] if x["name"] in keep]}


def test_background_is_the_category_null_label(vocab: Vocabulary) -> None:
    bg = background_embeddings(HashEmbedder(), vocab)
    assert bg.shape == (len(vocab), DIM)
    names = vocab.names
    same = [names.index("beach"), names.index("forest")]  # both scenes
    np.testing.assert_array_equal(bg[same[0]], bg[same[1]])
    assert not np.allclose(bg[names.index("beach")], bg[names.index("cat")])
    expected = _normalised(_normalised(HashEmbedder().embed_texts(vocab.background_prompts_for("scene"))).mean(0))
    np.testing.assert_allclose(bg[same[0]], expected, atol=1e-5)


def test_a_new_user_label_reuses_the_vectors_of_unchanged_labels(vocab: Vocabulary) -> None:
    bank = LabelBank.build(HashEmbedder(), vocab)
    bigger = vocab.add("our boat", prompts=["the family boat"])
    emb = HashEmbedder()
    grown = LabelBank.build(emb, bigger, reuse=bank)
    fresh = LabelBank.build(HashEmbedder(), bigger)
    assert sum(emb.calls) <= 2 * len(bigger.prompts_for("our boat")) + len(bigger.background_prompts_for("custom"))
    np.testing.assert_allclose(grown.label_vectors, fresh.label_vectors, atol=1e-6)
    np.testing.assert_allclose(grown.background_vectors, fresh.background_vectors, atol=1e-6)
    assert grown.fingerprint == bigger.fingerprint != bank.fingerprint and grown.names[-1] == "our boat"
    other_model = HashEmbedder()
    other_model.model_id = "hash/other"
    LabelBank.build(other_model, bigger, reuse=bank)  # vectors of another model are never reused
    assert sum(other_model.calls) > 1000


# ------------------------------------------------------------------------------------------------------- scores
def test_scores_are_probabilities_and_extremes_do_not_overflow() -> None:
    rng = np.random.default_rng(0)
    imgs, labels, bg = (_normalised(rng.standard_normal((n, 512))) for n in (300, 50, 1))
    s = score_matrix(imgs, labels, bg)
    assert s.shape == (300, 50) and s.dtype == np.float32
    assert np.all((s >= 0) & (s <= 1))
    extreme = score_matrix(imgs, labels, bg, logit_scale=1e6)
    assert np.all((extreme >= 0) & (extreme <= 1)) and not np.isnan(extreme).any()
    # equals the two-way softmax of (label, background) at T = 100
    t = 100.0
    cos_l, cos_b = imgs @ labels.T, imgs @ bg.T
    softmax = np.exp(t * cos_l) / (np.exp(t * cos_l) + np.exp(t * cos_b))
    np.testing.assert_allclose(s, softmax, atol=1e-5)
    with pytest.raises(ValueError, match="different models"):
        score_matrix(imgs[:, :10], labels, bg)


def test_planted_image_scores_its_label_highest_and_above_threshold(vocab: Vocabulary) -> None:
    bank = LabelBank.build(HashEmbedder(), vocab)
    planted = [vocab.names.index(n) for n in ("beach", "cat", "receipt", "sunset")]
    images = bank.label_vectors[planted]  # an image whose vector is exactly the label's
    s = bank.scores(images)
    assert np.all(s[np.arange(4), planted] == s.max(axis=1))  # highest (T = 100 saturates ties at 1.0)...
    assert np.all(s[np.arange(4), planted] >= 0.99)
    # ...and the unique highest once the temperature is low enough not to saturate (sigmoid is monotone)
    unsaturated = bank.scores(images, logit_scale=1.0)
    assert [vocab.names[i] for i in unsaturated.argmax(axis=1)] == ["beach", "cat", "receipt", "sunset"]
    sm = ScoreMatrix(np.array(["m1", "m2", "m3", "m4"]), vocab.names, s)
    top = effective_tags(sm, 0.99)
    assert {("m1", "beach"), ("m2", "cat"), ("m3", "receipt"), ("m4", "sunset")} <= set(zip(top.media_id, top.tag))


def test_a_label_score_does_not_depend_on_other_labels(vocab: Vocabulary) -> None:
    """Per-label softmax: adding a user label leaves every existing label's scores exactly as they were."""
    rng = np.random.default_rng(1)
    imgs = _normalised(rng.standard_normal((20, DIM)).astype(np.float32))
    before = LabelBank.build(HashEmbedder(), vocab).scores(imgs)
    after = LabelBank.build(HashEmbedder(), vocab.add("our boat", prompts=["the family boat"])).scores(imgs)
    np.testing.assert_allclose(after[:, :-1], before, atol=1e-6)


def test_video_frames_pool_to_the_max_per_media() -> None:
    ids, pooled = pool_by_media(["v", "a", "v", "v"], np.array([[0.1, 0.9], [0.5, 0.5], [0.8, 0.2], [0.3, 0.3]]))
    assert list(ids) == ["v", "a"]
    np.testing.assert_array_equal(pooled, [[0.8, 0.9], [0.5, 0.5]])


# ---------------------------------------------------------------------------------------------- effective tags
TAGS = ("beach", "cat", "sunset")


def _scores() -> ScoreMatrix:
    return ScoreMatrix(np.array(["a", "b", "c"]), TAGS, np.array([[0.95, 0.10, 0.60],
                                                                   [0.55, 0.80, 0.00],
                                                                   [0.20, 0.40, 1.00]], np.float32))


def _pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["media_id"], df["tag"]))


@pytest.fixture(params=["dense", "long"])
def as_input(request: pytest.FixtureRequest):
    """Every effective-tags test runs on a ScoreMatrix and on the equivalent long frame."""
    return (lambda sm: sm) if request.param == "dense" else (lambda sm: sm.to_frame())


def test_global_threshold(as_input) -> None:
    sm = _scores()
    kept = sm.values.copy()
    low = effective_tags(as_input(sm), 0.5)
    assert _pairs(low) == {("a", "beach"), ("a", "sunset"), ("b", "beach"), ("b", "cat"), ("c", "sunset")}
    assert set(low["source"]) == {"auto"}
    assert low.set_index(["media_id", "tag"]).loc[("a", "beach"), "score"] == pytest.approx(0.95)
    high = effective_tags(as_input(sm), 0.9)
    assert _pairs(high) == {("a", "beach"), ("c", "sunset")}
    np.testing.assert_array_equal(sm.values, kept)  # thresholds never touch scores
    assert _pairs(effective_tags(as_input(sm), 0.6)) == {("a", "beach"), ("a", "sunset"), ("b", "cat"),
                                                          ("c", "sunset")}  # score == threshold passes
    assert list(low.columns) == ["media_id", "tag", "score", "source"]


def test_per_tag_override_beats_global(as_input) -> None:
    sm = _scores()
    got = effective_tags(as_input(sm), 0.5, overrides={"Beach": 0.99, "cat": 0.3})
    assert _pairs(got) == {("a", "sunset"), ("b", "cat"), ("c", "cat"), ("c", "sunset")}
    same = effective_tags(as_input(sm), Thresholds(0.5, {"beach": 0.99, "cat": 0.3}))
    assert _pairs(same) == _pairs(got)
    assert _pairs(effective_tags(as_input(sm), 0.5, overrides={"not a tag": 0.1})) == _pairs(
        effective_tags(as_input(sm), 0.5))
    with pytest.raises(ValueError, match="between 0 and 1"):
        effective_tags(as_input(sm), 0.5, overrides={"cat": 1.5})


def test_manual_add_and_remove_win(as_input) -> None:
    sm = _scores()
    manual = pd.DataFrame({"media_id": ["b", "c", "a", "a", "b"],
                           "tag": ["sunset", "sunset", "cat", "grandma", "beach"],
                           "action": ["add", "remove", "remove", "add", "add"]})
    got = effective_tags(as_input(sm), 0.5, manual=manual).set_index(["media_id", "tag"])
    assert ("b", "sunset") in got.index and got.loc[("b", "sunset"), "source"] == "manual"  # added at score 0
    assert got.loc[("b", "sunset"), "score"] == 0.0
    assert ("c", "sunset") not in got.index  # removed at score 1
    assert got.loc[("a", "grandma"), "source"] == "manual" and np.isnan(got.loc[("a", "grandma"), "score"])
    assert got.loc[("b", "beach"), "source"] == "manual"  # an add of an auto tag is one row, manual
    assert got.index.is_unique
    # even a threshold of 0 or 1 cannot undo a manual decision
    for t in (0.0, 1.0):
        pairs = _pairs(effective_tags(as_input(sm), t, manual=manual))
        assert {("b", "sunset"), ("a", "grandma"), ("b", "beach")} <= pairs and ("c", "sunset") not in pairs
    # the latest decision on a pair wins
    undo = pd.concat([manual, pd.DataFrame({"media_id": ["c"], "tag": ["sunset"], "action": ["add"]})])
    assert ("c", "sunset") in _pairs(effective_tags(as_input(sm), 0.5, manual=undo))
    with pytest.raises(ValueError, match="action must be one of"):
        effective_tags(as_input(sm), 0.5, manual=manual.assign(action="delete"))


def test_manual_decisions_survive_recomputed_scores(as_input) -> None:
    manual = pd.DataFrame({"media_id": ["a", "c"], "tag": ["cat", "sunset"], "action": ["add", "remove"]})
    for seed in range(3):  # a new model or vocabulary rescored everything
        rng = np.random.default_rng(seed)
        sm = ScoreMatrix(np.array(["a", "b", "c"]), TAGS, rng.random((3, 3)).astype(np.float32))
        pairs = _pairs(effective_tags(as_input(sm), 0.5, manual=manual))
        assert ("a", "cat") in pairs and ("c", "sunset") not in pairs


def test_changed_by_threshold_reports_exactly_the_pairs_that_move(as_input) -> None:
    sm = _scores()
    entering, leaving = changed_by_threshold(as_input(sm), 0.7, 0.5)
    assert _pairs(entering) == {("a", "sunset"), ("b", "beach")} and _pairs(leaving) == set()
    entering, leaving = changed_by_threshold(as_input(sm), 0.5, 0.7)
    assert _pairs(entering) == set() and _pairs(leaving) == {("a", "sunset"), ("b", "beach")}
    assert list(leaving.columns) == ["media_id", "tag", "score"]
    # an override moves only its tag; manual decisions never move
    manual = pd.DataFrame({"media_id": ["a"], "tag": ["sunset"], "action": ["remove"]})
    entering, leaving = changed_by_threshold(as_input(sm), Thresholds(0.7), Thresholds(0.7, {"sunset": 0.5}),
                                             manual=manual)
    assert _pairs(entering) == set() and _pairs(leaving) == set()
    entering, leaving = changed_by_threshold(as_input(sm), Thresholds(0.5, {"cat": 0.1}), Thresholds(0.5))
    assert _pairs(entering) == set() and _pairs(leaving) == {("a", "cat"), ("c", "cat")}


def test_changed_by_threshold_matches_the_difference_of_effective_tags() -> None:
    rng = np.random.default_rng(7)
    sm = ScoreMatrix(np.array([f"m{i}" for i in range(500)]), [f"t{j}" for j in range(40)],
                     rng.random((500, 40)).astype(np.float32))
    manual = pd.DataFrame({"media_id": ["m1", "m2", "m3"], "tag": ["t1", "t2", "t3"],
                           "action": ["add", "remove", "add"]})
    old, new = Thresholds(0.6, {"t5": 0.9}), Thresholds(0.4, {"t6": 0.95})
    before = _pairs(effective_tags(sm, old, manual=manual))
    after = _pairs(effective_tags(sm, new, manual=manual))
    entering, leaving = changed_by_threshold(sm, old, new, manual=manual)
    assert _pairs(entering) == after - before and _pairs(leaving) == before - after
    long_entering, long_leaving = changed_by_threshold(sm.to_frame(), old, new, manual=manual)
    assert _pairs(long_entering) == _pairs(entering) and _pairs(long_leaving) == _pairs(leaving)


def test_effective_tags_over_a_million_scores_is_fast() -> None:
    rng = np.random.default_rng(3)
    n_media, n_tags = 2500, 400
    ids = np.array([f"{i:016x}" for i in range(n_media)], dtype=object)
    sm = ScoreMatrix(ids, [f"tag {j}" for j in range(n_tags)], rng.random((n_media, n_tags), dtype=np.float32))
    long = sm.to_frame()
    long["tag"] = long["tag"].astype(str)  # the slowest input form: plain strings
    manual = pd.DataFrame({"media_id": ids[:1000], "tag": "tag 1", "action": ["add", "remove"] * 500})
    overrides = {f"tag {j}": 0.9 for j in range(0, n_tags, 10)}
    for scores in (sm, long):
        t0 = time.perf_counter()
        got = effective_tags(scores, 0.95, overrides=overrides, manual=manual)
        changed_by_threshold(scores, 0.95, 0.9, manual=manual)
        elapsed = time.perf_counter() - t0
        assert elapsed < 3.0, f"{type(scores).__name__}: {elapsed:.2f} s"
        assert 0.04 * n_media * n_tags < len(got) < 0.08 * n_media * n_tags


def test_score_matrix_round_trips_and_refuses_ambiguous_rows() -> None:
    sm = _scores()
    back = ScoreMatrix.from_frame(sm.to_frame())
    assert list(back.media_ids) == list(sm.media_ids) and back.tags == sm.tags
    np.testing.assert_array_equal(back.values, sm.values)
    with pytest.raises(ValueError, match="repeat a media id"):
        ScoreMatrix(np.array(["a", "a"]), TAGS, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="repeat a tag"):
        ScoreMatrix(np.array(["a"]), ("cat", "cat"), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="do not match"):
        ScoreMatrix(np.array(["a"]), TAGS, np.zeros((2, 3)))
