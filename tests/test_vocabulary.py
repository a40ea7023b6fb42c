"""The shipped tagging vocabulary is valid, and user labels are validated and change the fingerprint."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from workbench.semantic.vocabulary import DEFAULT_PATH, Vocabulary, VocabularyError

REQUIRED_CATEGORIES = {"scene", "object", "animal", "food", "event", "document", "weather", "time_of_day", "people"}


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load_default()


def test_default_vocabulary_is_several_hundred_labels_in_every_category(vocab: Vocabulary, raw: dict) -> None:
    assert isinstance(raw["version"], int)
    assert 350 <= len(vocab) <= 600
    counts = Counter(lab.category for lab in vocab.labels)
    assert REQUIRED_CATEGORIES <= set(counts)
    assert all(n >= 5 for n in counts.values()), counts
    assert not vocab.user_labels


def test_no_duplicate_names_and_names_are_normalised(raw: dict) -> None:
    names = [d["name"] for d in raw["labels"]]
    dupes = [n for n, c in Counter(names).items() if c > 1]
    assert not dupes, f"duplicate labels: {dupes}"
    assert all(n == " ".join(n.split()).lower() and n for n in names)
    for d in raw["labels"]:  # no repeated phrasing within a label either
        assert len(set(d.get("prompts", []))) == len(d.get("prompts", [])), d


def test_every_template_has_one_slot_and_every_category_has_an_ensemble(raw: dict) -> None:
    templates = raw["templates"]
    assert "default" in templates
    for key, ts in templates.items():
        assert 4 <= len(ts) <= 12, key
        assert len(set(ts)) == len(ts), key
        for t in ts:
            assert t.count("{}") == 1 and t.count("{") == 1 and t.count("}") == 1, (key, t)
    assert {d["category"] for d in raw["labels"]} <= set(templates)
    assert raw["background"] and all(isinstance(b, str) and b for b in raw["background"])


def test_prompts_are_templates_times_phrasings(vocab: Vocabulary) -> None:
    beach = vocab.label("beach")
    prompts = vocab.prompts_for(beach)
    assert len(prompts) == len(beach.phrasings) * len(vocab.templates_for("scene"))
    assert "a photo of a beach." in prompts
    assert all("{}" not in p for p in prompts)
    assert vocab.prompts_for("Beach") == prompts  # by name, case-insensitively
    bg = vocab.background_prompts_for("scene")
    assert "a photo of something." in bg and len(bg) == len(vocab.background) * len(vocab.templates_for("scene"))


def test_user_label_is_appended_with_the_default_templates(vocab: Vocabulary) -> None:
    v2 = vocab.add("  Grandma's   Garden ", prompts=["my grandmother's garden"])
    assert len(v2) == len(vocab) + 1 and len(vocab) == Vocabulary.load_default().__len__()  # original untouched
    lab = v2.labels[-1]
    assert (lab.name, lab.category, lab.user) == ("grandma's garden", "custom", True)
    assert v2.names[:-1] == vocab.names  # existing columns keep their positions
    assert v2.prompts_for(lab) == [t.replace("{}", "my grandmother's garden") for t in vocab.templates["default"]]
    assert v2.user_labels == [lab]
    assert "grandma's garden" in v2 and "grandma's garden" not in vocab
    # a user label in a shipped category uses that category's templates; without prompts the name is the phrasing
    v3 = v2.add("axolotl", category="animal")
    assert v3.prompts_for("axolotl")[0] == vocab.templates_for("animal")[0].replace("{}", "axolotl")
    # round trip keeps user labels
    assert Vocabulary.from_dict(v3.to_dict()) == v3


@pytest.mark.parametrize("name, kwargs, message", [
    ("", {}, "non-empty name"),
    ("   ", {}, "non-empty name"),
    ("beach", {}, "already exists"),
    ("BEACH ", {}, "already exists"),
    ("x" * 200, {}, "longer than"),
    ("ok label", {"prompts": ["fine", "  "]}, "non-empty strings"),
    ("ok label", {"prompts": [f"p{i}" for i in range(40)]}, "at most"),
    ("ok label", {"category": "Not a category!"}, "category"),
])
def test_invalid_user_labels_are_refused_with_a_clear_error(vocab: Vocabulary, name: str, kwargs: dict,
                                                              message: str) -> None:
    with pytest.raises(VocabularyError, match=message):
        vocab.add(name, **kwargs)


def test_fingerprint_is_stable_and_follows_what_is_embedded(vocab: Vocabulary) -> None:
    fp = vocab.fingerprint
    assert len(fp) == 16 and fp == Vocabulary.load_default().fingerprint
    added = vocab.add("my boat", prompts=["our family sailboat"])
    assert added.fingerprint != fp
    assert added.remove("my boat").fingerprint == fp
    data = vocab.to_dict()
    data["version"] = 99  # cosmetic: same embeddings, same fingerprint
    assert Vocabulary.from_dict(data).fingerprint == fp
    data["labels"][0]["prompts"] = ["a beach", "a pebble beach"]
    assert Vocabulary.from_dict(data).fingerprint != fp
    data = vocab.to_dict()
    data["templates"]["scene"][0] = "a picture of {}."
    assert Vocabulary.from_dict(data).fingerprint != fp
    data = vocab.to_dict()
    data["labels"][0], data["labels"][1] = data["labels"][1], data["labels"][0]  # order = column alignment
    assert Vocabulary.from_dict(data).fingerprint != fp


def test_bad_vocabulary_files_fail_with_the_file_and_reason(tmp_path) -> None:
    with pytest.raises(VocabularyError, match="cannot read"):
        Vocabulary.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VocabularyError, match="cannot read"):
        Vocabulary.from_file(bad)
    base = {"version": 1, "templates": {"default": ["a photo of {}."]}, "background": ["something"]}
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps({**base, "labels": [{"name": "cat", "category": "animal"},
                                                  {"name": "Cat", "category": "animal"}]}))
    with pytest.raises(VocabularyError, match=r"dup\.json.*'cat' appears twice"):
        Vocabulary.from_file(dup)
    two_slots = tmp_path / "slots.json"
    two_slots.write_text(json.dumps({**base, "templates": {"default": ["{} and {}"]}, "labels": []}))
    with pytest.raises(VocabularyError, match="exactly one"):
        Vocabulary.from_file(two_slots)
    with pytest.raises(VocabularyError, match="not a vocabulary"):
        Vocabulary.from_dict({"labels": []})
