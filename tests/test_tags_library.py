"""Tags through Library: stored scores, thresholds, manual decisions, user labels; with a tiny CLIP model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory import jpeg, video
from workbench import Library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tiny_clip_checkpoint, tmp_path_factory) -> Path:
    cfg, ckpt = tiny_clip_checkpoint
    tmp_path = tmp_path_factory.mktemp("tags")
    lib = Library.create(tmp_path / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = str(cfg), str(ckpt)
    lib.settings.save(lib.root)
    for i in range(4):
        jpeg(tmp_path / "in" / f"p{i}.jpg", 200, 150, seed=i)
    video(tmp_path / "in" / "v.mp4", seconds=2.0)
    lib = Library.open(lib.root)
    lib.import_files([tmp_path / "in"], progress=False)
    lib.process(progress=False)
    return lib.root


@pytest.fixture()
def lib(built: Path, tmp_path: Path) -> Library:
    """A private copy of the processed library, so each test can change thresholds and tags freely."""
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def embeddings_state(lib: Library) -> tuple[int, object]:
    t = lib.catalog.read(lib._search_tables().media_table, ["created_at"])
    return t.num_rows, max(t.column("created_at").to_pylist())


def test_every_media_has_a_score_for_every_vocabulary_label(lib: Library):
    sm = lib.tag_scores()
    assert sm.values.shape == (5, len(lib.vocabulary())) and len(lib.vocabulary()) >= 300
    assert ((sm.values >= 0) & (sm.values <= 1)).all()


def test_a_higher_threshold_gives_fewer_tags_without_touching_stored_vectors_or_scores(lib: Library):
    before = embeddings_state(lib), lib.catalog.count("tag_scores")
    low = len(lib.tags(threshold=0.0))
    lib.set_tag_threshold(1.0)
    assert len(Library.open(lib.root).tags()) < low
    assert (embeddings_state(lib), lib.catalog.count("tag_scores")) == before


def test_a_per_tag_override_beats_the_global_threshold(lib: Library):
    lib.set_tag_threshold(1.0)
    strict = lib.tags()
    assert (strict["score"] == 1.0).all()  # only saturated scores pass a global 1.0
    lib.set_tag_threshold(0.0, tag="beach")
    beach = lib.tags().query("tag == 'beach'")
    assert beach["media_id"].nunique() == 5
    lib.clear_tag_threshold("beach")
    assert len(lib.tags()) == len(strict)


def test_manual_decisions_win_and_survive_rescoring_with_a_new_label(lib: Library):
    target = lib.media().iloc[0]["id"]
    lib.set_tag_threshold(0.0)
    lib.add_tag(target, "Grandma's Birthday")
    lib.remove_tag(target, "beach")
    emb_before = embeddings_state(lib)
    lib.add_label("red bicycle", prompts=["a red bicycle"])
    lib = Library.open(lib.root)
    assert lib.status().set_index("stage").loc["tag_scores", "pending"] == 5
    lib.process(progress=False)
    assert embeddings_state(lib) == emb_before  # rescored from stored vectors, not re-embedded
    mine = lib.tags(target)
    assert "grandma's birthday" in set(mine["tag"]) and "beach" not in set(mine["tag"])
    assert "red bicycle" in set(mine["tag"])
    assert mine.set_index("tag").loc["grandma's birthday", "source"] == "manual"


def test_ls_and_search_filter_by_tag(lib: Library):
    target = lib.media().iloc[2]["id"]
    lib.add_tag(target, "reunion 1987")
    assert list(lib.media(tag="reunion 1987")["id"]) == [target]
    assert list(lib.search("anything", tag="Reunion  1987")["id"]) == [target]


def test_adding_a_duplicate_label_is_refused_clearly(lib: Library):
    from workbench.semantic.vocabulary import VocabularyError
    with pytest.raises(VocabularyError, match="beach"):
        lib.add_label("Beach")


def test_search_finds_media_by_their_tags(lib: Library):
    target = lib.media().iloc[1]["id"]
    lib.add_tag(target, "lighthouse keeper")
    assert lib.search("the lighthouse keeper at work").iloc[0]["id"] == target


def test_switching_models_keeps_old_vectors_until_pruned(lib: Library, tmp_path: Path):
    from conftest import make_tiny_clip_checkpoint
    old_model = lib._search_tables().model_id
    cfg, ckpt = make_tiny_clip_checkpoint(tmp_path / "other", seed=1)
    lib.settings.clip_checkpoint = str(ckpt)
    lib.settings.save(lib.root)
    lib = Library.open(lib.root)
    assert lib._search_tables().model_id != old_model
    lib.process(progress=False)
    table = lib._search_tables().media_table
    assert lib.catalog.count(table, f"version = '{old_model}'") == 5
    removed = lib.prune()
    assert removed[table] == 5 and lib.catalog.count(table, f"version = '{old_model}'") == 0
    assert lib.catalog.count(table) == 5 and len(lib.media()) == 5
