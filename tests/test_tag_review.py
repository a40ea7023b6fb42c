"""Reviewing a tag threshold before applying it: per-media fates for one tag, per-tag counts, and the Library
methods the Tagging dashboard and the 02 notebook read them through."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from factory import jpeg
from workbench import Library
from workbench.semantic.tag_review import review_tag, threshold_overview, without_media
from workbench.semantic.tagging import ScoreMatrix, Thresholds, changed_by_threshold, effective_tags


def small_scores() -> ScoreMatrix:
    # media a..e, tags beach / dog; beach scores spread across 0.5-0.9
    return ScoreMatrix(np.array(list("abcde"), dtype=object), ("beach", "dog"),
                       np.array([[0.9, 0.1], [0.7, 0.2], [0.55, 0.3], [0.5, 0.95], [0.2, 0.6]], np.float32))


def manual(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["media_id", "tag", "action"])


def test_review_ranks_media_by_score_and_says_who_enters_leaves_and_stays():
    r = review_tag(small_scores(), "beach", current=0.6, trial=0.52)
    assert list(r["media_id"]) == list("abcde")
    assert list(r["change"]) == ["stays", "stays", "enters", "out", "out"]
    r = review_tag(small_scores(), "beach", current=0.6, trial=0.8)
    assert list(r["change"]) == ["stays", "leaves", "out", "out", "out"]


def test_a_score_equal_to_the_threshold_is_tagged_as_in_effective_tags():
    r = review_tag(small_scores(), "beach", current=0.5, trial=0.5).set_index("media_id")
    assert r.loc["d", "tagged_now"] and r.loc["d", "change"] == "stays"
    auto = effective_tags(small_scores(), 0.5)
    assert set(auto.loc[auto["tag"] == "beach", "media_id"]) == set(r.index[r["tagged_now"]])


def test_a_hand_decision_is_manual_at_every_threshold_and_never_enters_or_leaves():
    decided = manual(("c", "beach", "remove"), ("e", "beach", "add"))
    for trial in (0.0, 0.52, 1.0):
        r = review_tag(small_scores(), "beach", current=0.6, trial=trial, manual=decided).set_index("media_id")
        assert r.loc["c", "change"] == r.loc["e", "change"] == "manual"
        assert not r.loc["c", "tagged_then"] and r.loc["e", "tagged_then"]
        assert (r.loc["c", "manual"], r.loc["e", "manual"]) == ("remove", "add")


def test_the_last_hand_decision_on_a_pair_wins():
    decided = manual(("a", "beach", "remove"), ("a", "beach", "add"))
    r = review_tag(small_scores(), "beach", 0.6, 0.6, decided).set_index("media_id")
    assert r.loc["a", "manual"] == "add" and r.loc["a", "tagged_now"]


def test_a_tag_only_ever_added_by_hand_is_reviewed_without_scores():
    r = review_tag(small_scores(), "Grandma's Birthday", 0.5, 0.5, manual(("b", "grandma's birthday", "add")))
    assert list(r["media_id"]) == ["b"] and np.isnan(r.loc[0, "score"]) and r.loc[0, "tagged_then"]


def test_review_refuses_a_threshold_outside_zero_to_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        review_tag(small_scores(), "beach", 0.5, 1.5)


def test_overview_counts_are_the_effective_tags_under_both_thresholds():
    rng = np.random.default_rng(3)
    scores = ScoreMatrix(np.array([f"m{i}" for i in range(300)], dtype=object), tuple(f"t{j}" for j in range(12)),
                         rng.random((300, 12), dtype=np.float32))
    decided = manual(("m1", "t0", "remove"), ("m2", "t0", "add"), ("m3", "t5", "add"), ("m4", "hand made", "add"))
    now, trial = Thresholds(0.5, {"t3": 0.9}), Thresholds(0.35, {"t3": 0.9})
    o = threshold_overview(scores, now, trial, decided).set_index("tag")
    for th, column in ((now, "tagged"), (trial, "tagged_then")):
        counts = effective_tags(scores, th, manual=decided)["tag"].value_counts()
        assert (o[column] == counts.reindex(o.index).fillna(0)).all()
    entering, leaving = changed_by_threshold(scores, now, trial, decided)
    assert (o["enters"] == entering["tag"].value_counts().reindex(o.index).fillna(0)).all()
    assert (o["leaves"] == leaving["tag"].value_counts().reindex(o.index).fillna(0)).all()
    assert o.loc["t3", "enters"] == o.loc["t3", "leaves"] == 0  # its override holds
    assert o.loc["hand made", "tagged"] == 1
    assert list(o["tagged"]) == sorted(o["tagged"], reverse=True)


def test_overview_counts_a_hand_add_on_media_not_scored_yet():
    o = threshold_overview(small_scores(), Thresholds(0.7), Thresholds(0.7), manual(("z", "dog", "add")))
    assert o.set_index("tag").loc["dog", "tagged"] == 2  # d by score, z by hand


def test_without_media_drops_rows_and_keeps_the_rest_aligned():
    s = without_media(small_scores(), ["b", "d"])
    assert list(s.media_ids) == ["a", "c", "e"] and s.values[1, 0] == np.float32(0.55)


# -- through Library (no CLIP weights needed: thresholds and hand decisions) ---------------------------------
@pytest.fixture()
def lib(tmp_path: Path) -> Library:
    lib = Library.create(tmp_path / "lib")
    for i in range(3):
        jpeg(tmp_path / "in" / f"p{i}.jpg", 120, 90, seed=i)
    lib.import_files([tmp_path / "in"], progress=False)
    return lib


def test_the_threshold_in_force_is_the_override_else_the_global_one(lib: Library):
    lib.set_tag_threshold(0.4)
    lib.set_tag_threshold(0.7, tag="Beach")
    assert (lib.tag_threshold(), lib.tag_threshold("beach"), lib.tag_threshold("dog")) == (0.4, 0.7, 0.4)
    lib.clear_tag_threshold("beach")
    assert Library.open(lib.root).tag_threshold("beach") == 0.4


def test_manual_tags_lists_the_latest_decision_per_media_and_tag(lib: Library):
    a, b = lib.media()["id"][:2]
    lib.add_tag(a, "Reunion")
    lib.remove_tag(a, "reunion")
    lib.add_tag(b, "reunion", user="ann")
    m = lib.manual_tags("Reunion").set_index("media_id")
    assert m.loc[a, "action"] == "remove" and m.loc[b, "action"] == "add" and m.loc[b, "user"] == "ann"
    assert len(lib.manual_tags()) == 2


def test_tag_review_leaves_out_media_in_the_trash(lib: Library):
    a, b = lib.media()["id"][:2]
    lib.add_tag(a, "reunion")
    lib.add_tag(b, "reunion")
    lib.trash([b])
    assert list(lib.tag_review("reunion", 0.5)["media_id"]) == [a]
    assert lib.tag_overview().set_index("tag").loc["reunion", "tagged"] == 1
