"""The tagging vocabulary: labels, their phrasings, and the prompt templates they are embedded through.

The default vocabulary ships as ``data/vocabulary/default.json`` (one file, so the labels, the templates and the
background phrases that calibrate them always change together and the fingerprint covers all of them):

```
{"version": 1,
 "templates": {"default": ["a photo of {}.", ...], "scene": [...], ...},   # ~8 per category, exactly one {} each
 "background": ["something", "a thing", ...],   # generic fillers: the "null label" every label is scored against
 "labels": [{"name": "beach", "category": "scene", "prompts": ["a beach", "a sandy beach by the sea"]}, ...]}
```

A label's text side is every template of its category (``default`` when the category has none, e.g. ``custom``)
filled with each of its prompts; ``prompts`` default to the name. User labels are added with ``Vocabulary.add``,
which returns a new vocabulary: a ``Vocabulary`` is immutable, so a fingerprint never goes stale.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from workbench.errors import WorkbenchError

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "vocabulary" / "default.json"
CUSTOM_CATEGORY = "custom"
DEFAULT_TEMPLATES_KEY = "default"
# Bounds that keep a user label cheap to embed (labels x templates x prompts text passes) and readable as a tag.
MAX_NAME_CHARS = 80
MAX_PROMPTS = 16
_CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class VocabularyError(WorkbenchError, ValueError):
    """A label or vocabulary file is invalid; the message says which label and why."""


def normalize_name(name: str) -> str:
    """Tag names are compared and shown lowercase with single spaces, so "Beach " and "beach" are one tag."""
    return " ".join(str(name).split()).lower()


@dataclass(frozen=True)
class Label:
    """One tag: ``name`` is what users see; ``prompts`` are the phrasings filled into the templates."""

    name: str
    category: str
    prompts: tuple[str, ...] = ()
    user: bool = False  # added by a user rather than shipped

    @property
    def phrasings(self) -> tuple[str, ...]:
        return self.prompts or (self.name,)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "category": self.category}
        if self.prompts:
            d["prompts"] = list(self.prompts)
        if self.user:
            d["user"] = True
        return d


def _check_template(key: str, t: Any) -> str:
    if not isinstance(t, str) or t.count("{}") != 1 or t.replace("{}", "").count("{") or t.count("}") != 1:
        raise VocabularyError(f"template {t!r} of {key!r} must be a string with exactly one '{{}}' and no other braces")
    return t


def _make_label(name: Any, category: Any, prompts: Iterable[Any] | None, user: bool) -> Label:
    if not isinstance(name, str) or not normalize_name(name):
        raise VocabularyError(f"a label needs a non-empty name (got {name!r})")
    n = normalize_name(name)
    if len(n) > MAX_NAME_CHARS:
        raise VocabularyError(f"label {n!r} is longer than {MAX_NAME_CHARS} characters")
    cat = normalize_name(category if isinstance(category, str) else "").replace(" ", "_")
    if not _CATEGORY_RE.match(cat):
        raise VocabularyError(f"label {n!r}: category {category!r} must be a lowercase word such as 'custom'")
    if isinstance(prompts, str):  # a bare string would otherwise become a prompt per character
        prompts = [prompts]
    ps: list[str] = []
    for p in prompts or ():
        if not isinstance(p, str) or not " ".join(p.split()):
            raise VocabularyError(f"label {n!r}: prompts must be non-empty strings (got {p!r})")
        q = " ".join(p.split())
        if q not in ps:
            ps.append(q)
    if len(ps) > MAX_PROMPTS:
        raise VocabularyError(f"label {n!r} has {len(ps)} prompts; at most {MAX_PROMPTS} are allowed")
    return Label(n, cat, tuple(ps), user)


@dataclass(frozen=True)
class Vocabulary:
    """Ordered labels plus templates and background fillers. Order matters: stored label vectors and per-media
    score vectors are aligned to it, and the fingerprint covers it."""

    labels: tuple[Label, ...]
    templates: Mapping[str, tuple[str, ...]]
    background: tuple[str, ...]
    version: int = 1
    _index: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if DEFAULT_TEMPLATES_KEY not in self.templates or not self.templates[DEFAULT_TEMPLATES_KEY]:
            raise VocabularyError(f"the vocabulary needs a non-empty {DEFAULT_TEMPLATES_KEY!r} template list")
        for key, ts in self.templates.items():
            if not ts:
                raise VocabularyError(f"template list {key!r} is empty")
            for t in ts:
                _check_template(key, t)
        if not self.background:
            raise VocabularyError("the vocabulary needs at least one background phrase")
        index: dict[str, int] = {}
        for i, lab in enumerate(self.labels):
            if lab.name in index:
                raise VocabularyError(f"label {lab.name!r} appears twice in the vocabulary")
            index[lab.name] = i
        object.__setattr__(self, "_index", index)

    # Construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Vocabulary":
        try:
            templates = {str(k): tuple(v) for k, v in data["templates"].items()}
            labels = tuple(_make_label(d.get("name"), d.get("category"), d.get("prompts"), bool(d.get("user", False)))
                           for d in data["labels"])
            background = tuple(str(b) for b in data["background"])
        except (KeyError, TypeError, AttributeError) as e:
            raise VocabularyError(f"not a vocabulary: needs 'templates', 'background' and 'labels' ({e})") from e
        return cls(labels, templates, background, int(data.get("version", 1)))

    @classmethod
    def from_file(cls, path: str | Path) -> "Vocabulary":
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise VocabularyError(f"{p}: cannot read vocabulary ({e})") from e
        try:
            return cls.from_dict(data)
        except VocabularyError as e:
            raise VocabularyError(f"{p}: {e}") from e

    @classmethod
    def load_default(cls) -> "Vocabulary":
        """The shipped vocabulary (``data/vocabulary/default.json`` in the repository)."""
        return cls.from_file(DEFAULT_PATH)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "templates": {k: list(v) for k, v in self.templates.items()},
                "background": list(self.background), "labels": [lab.to_dict() for lab in self.labels]}

    # Queries ------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._index

    @property
    def names(self) -> list[str]:
        """Tag names in vocabulary order (the column order of label vectors and score vectors)."""
        return [lab.name for lab in self.labels]

    @property
    def categories(self) -> list[str]:
        return sorted({lab.category for lab in self.labels})

    def label(self, name: str) -> Label:
        i = self._index.get(normalize_name(name))
        if i is None:
            raise VocabularyError(f"no label named {normalize_name(name)!r} in the vocabulary")
        return self.labels[i]

    def templates_for(self, category: str) -> tuple[str, ...]:
        return tuple(self.templates.get(category) or self.templates[DEFAULT_TEMPLATES_KEY])

    def prompts_for(self, label: Label | str) -> list[str]:
        """Every text embedded for a label: each template of its category filled with each of its phrasings."""
        lab = self.label(label) if isinstance(label, str) else label
        return [t.replace("{}", p) for p in lab.phrasings for t in self.templates_for(lab.category)]

    def background_prompts_for(self, category: str) -> list[str]:
        """The category's "null label": its templates filled with the generic background phrases, so a label and
        its background differ only in content, never in template wording (see ``tagging.score_matrix``)."""
        return [t.replace("{}", b) for b in self.background for t in self.templates_for(category)]

    @property
    def fingerprint(self) -> str:
        """Stable 16-hex hash of exactly what gets embedded, in order: label names, categories and expanded
        prompts, plus the background prompts. Stored label vectors and score vectors are keyed by it, so any
        change that would change them (a new label, a reworded prompt or template) invalidates them; cosmetic
        fields (``version``, the description, ``user``) do not."""
        payload = {
            "labels": [[lab.name, lab.category, self.prompts_for(lab)] for lab in self.labels],
            "background": {c: self.background_prompts_for(c) for c in sorted({lab.category for lab in self.labels})},
        }
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    # User labels --------------------------------------------------------------------------------------------
    def add(self, name: str, category: str = CUSTOM_CATEGORY, prompts: Iterable[str] | None = None) -> "Vocabulary":
        """A new vocabulary with a user label appended (appending keeps existing columns aligned)."""
        lab = _make_label(name, category, prompts, user=True)
        if lab.name in self._index:
            raise VocabularyError(f"a label named {lab.name!r} already exists "
                                  f"(category {self.labels[self._index[lab.name]].category!r})")
        return Vocabulary(self.labels + (lab,), self.templates, self.background, self.version)

    def remove(self, name: str) -> "Vocabulary":
        """A new vocabulary without the label (to drop a user label; manual tags on media are not touched)."""
        n = self.label(name).name
        return Vocabulary(tuple(x for x in self.labels if x.name != n), self.templates, self.background, self.version)

    @property
    def user_labels(self) -> list[Label]:
        return [lab for lab in self.labels if lab.user]
