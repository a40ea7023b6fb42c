"""``lib.tags``: effective tags (stored scores + thresholds + hand decisions, computed when read), the vocabulary,
thresholds and their trial review. Every write takes the library's write lock."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from workbench.access.scope import EVERYTHING, Scope
from workbench.capabilities.context import Capability
from workbench.catalog.filters import Eq, where


def _norm(tag: str) -> str:
    from workbench.semantic.vocabulary import normalize_name
    return normalize_name(tag)


class Tags(Capability):
    """``lib.tags(...)`` gives effective tags; ``add``, ``remove``, ``manual``, ``scores``, thresholds, review."""

    def __call__(self, id_or_prefix: str | None = None, *, threshold: float | None = None,
                 scope: Scope = EVERYTHING) -> pd.DataFrame:
        """Effective tags [media_id, tag, score, source] under the current (or a trial) global threshold, of every
        media in ``scope`` (or of one)."""
        from workbench.semantic.tagging import effective_tags
        manual = self.catalog.read("manual_tags", ["media_id", "tag", "action", "at"]).to_pandas()
        manual = manual.sort_values("at")[["media_id", "tag", "action"]]
        df = effective_tags(self.scores(), self.settings.tag_threshold if threshold is None else threshold,
                            self.thresholds(), manual)
        if id_or_prefix is not None:
            df = df[df["media_id"] == scope.resolve_id(self.lib, id_or_prefix)]
        else:
            df = scope.keep(df, "media_id")
        return df.sort_values(["media_id", "score"], ascending=[True, False], na_position="first").reset_index(drop=True)

    def media_with(self, tag: str | None) -> set[str] | None:
        """Ids of the media carrying ``tag`` now (None: no tag asked for, no restriction)."""
        if tag is None:
            return None
        t = self()
        return set(t.loc[t["tag"] == _norm(tag), "media_id"])

    def mentioned_in(self, text: str) -> bool:
        """Whether the words of ``text`` contain a vocabulary label or a tag someone added by hand."""
        q = f" {' '.join(text.lower().split())} "
        manual = self.catalog.read("manual_tags", ["tag"]).column("tag").to_pylist()
        return any(f" {t} " in q for t in {*self.vocabulary().names, *manual})

    # -- the vocabulary and the scores ----------------------------------------------------------------------
    def vocabulary(self):
        """The tag vocabulary in use: the shipped one plus labels added with ``add_label``."""
        return self.stages.tags().vocabulary

    def add_label(self, name: str, category: str = "custom", prompts: list[str] | None = None) -> None:
        """Add a tag to the vocabulary; the next ``process`` scores every media for it from stored vectors."""
        self.vocabulary().add(name, category, prompts)  # validates (empty, duplicate, ...)
        with self.lock:
            f = self.root / "vocabulary.json"
            data = json.loads(f.read_text()) if f.exists() else {"labels": []}
            data["labels"].append({"name": _norm(name), "category": category, "prompts": prompts})
            f.write_text(json.dumps(data, indent=2) + "\n")

    def scores(self):
        """Every stored (media, tag) score for the current model and vocabulary, as a dense ``ScoreMatrix``."""
        import numpy as np

        from workbench.semantic.tagging import ScoreMatrix
        st = self.stages.tags()
        names = tuple(st.vocabulary.names)
        if not self.catalog.has(st.name):
            return ScoreMatrix(np.array([], dtype=object), names, np.zeros((0, len(names)), np.float32))
        t = self.catalog.read(st.name, ["media_id", "scores"],
                              where(version=st.version, status="ok"))
        # Arrow's flat buffer, not Python lists: 9x faster (0.07 s instead of 0.65 s for 20k media x 430 labels).
        flat = t.column("scores").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        values = flat.astype(np.float32, copy=False).reshape(t.num_rows, len(names))
        return ScoreMatrix(np.asarray(t.column("media_id").to_pylist(), dtype=object), names, values)

    # -- thresholds -----------------------------------------------------------------------------------------
    def thresholds(self) -> dict[str, float]:
        """Per-tag threshold overrides (the global one is ``settings.tag_threshold``)."""
        t = self.catalog.read("tag_thresholds", ["tag", "threshold"]).to_pylist()
        return {r["tag"]: r["threshold"] for r in t}

    def threshold(self, tag: str | None = None) -> float:
        """The threshold in force for ``tag``: its override, else the global ``settings.tag_threshold``."""
        glob = float(self.settings.tag_threshold)
        return glob if tag is None else float(self.thresholds().get(_norm(tag), glob))

    def set_threshold(self, threshold: float, tag: str | None = None) -> None:
        """Set the global threshold, or one tag's override; tags follow at once, nothing is re-embedded."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"a tag threshold is a score between 0 and 1, not {threshold}")
        with self.lock:
            if tag is None:
                self.settings.tag_threshold = float(threshold)
                self.settings.save(self.root)
                return
            self.catalog.upsert("tag_thresholds", [{"tag": _norm(tag), "threshold": float(threshold),
                                                    "at": datetime.now(timezone.utc)}], "tag")

    def clear_threshold(self, tag: str) -> None:
        """Drop a tag's override so the global threshold applies to it again."""
        with self.lock:
            self.catalog.delete("tag_thresholds", Eq("tag", _norm(tag)))

    # -- hand decisions -------------------------------------------------------------------------------------
    def _decide(self, id_or_prefix: str, tag: str, action: str, user: str | None, scope: Scope) -> None:
        scope.require_curator("tag media")
        mid, tag, user = scope.resolve_id(self.lib, id_or_prefix), _norm(tag), scope.acting_user(user)
        if not tag:
            raise ValueError("a tag needs a name")
        with self.lock:
            self.catalog.upsert("manual_tags", [{"key": f"{mid}\0{tag}", "media_id": mid, "tag": tag,
                                                 "action": action, "user": user, "at": datetime.now(timezone.utc)}],
                                "key")

    def add(self, id_or_prefix: str, tag: str, user: str | None = None, *, scope: Scope = EVERYTHING) -> None:
        """Tag a media by hand; wins over automatic tagging and survives re-tagging. With a ``scope``: curators
        and admins, on a media in it, recorded under its user."""
        self._decide(id_or_prefix, tag, "add", user, scope)

    def remove(self, id_or_prefix: str, tag: str, user: str | None = None, *, scope: Scope = EVERYTHING) -> None:
        """Remove a tag from a media by hand (also an automatic one); it stays removed after re-tagging. With a
        ``scope``: as ``add``."""
        self._decide(id_or_prefix, tag, "remove", user, scope)

    def manual(self, tag: str | None = None) -> pd.DataFrame:
        """Hand decisions [media_id, tag, action, user, at], the latest per (media, tag): they win at every
        threshold, so a review shows them apart from automatic tags."""
        df = self.catalog.read("manual_tags", ["media_id", "tag", "action", "user", "at"]).to_pandas()
        df = df.sort_values("at", kind="stable").drop_duplicates(["media_id", "tag"], keep="last")
        if tag is not None:
            df = df[df["tag"] == _norm(tag)]
        return df.reset_index(drop=True)

    # -- trying a threshold before setting it ---------------------------------------------------------------
    def review(self, tag: str, threshold: float, *, scores: Any = None) -> pd.DataFrame:
        """One tag's media ranked by score, each marked enters / leaves / stays / out / manual at a trial
        ``threshold``, to see a change before ``set_tag_threshold`` applies it (trashed media left out).
        ``scores``: a ``tag_scores()`` result to reuse, so a slider does not re-read every score per move."""
        from workbench.semantic.tag_review import review_tag, without_media
        trashed = self.lib.trash.ids()
        manual = self.manual(tag)
        scores = without_media(self.scores() if scores is None else scores, trashed)
        return review_tag(scores, tag, self.threshold(tag), threshold,
                          self.lib.trash.hide(manual, "media_id", trashed))

    def overview(self, threshold: float | None = None, *, scores: Any = None) -> pd.DataFrame:
        """Per tag: media tagged now and at a trial global ``threshold`` (per-tag overrides kept), how many
        enter and leave, most-tagged first: which tags fire on everything (trashed media left out).
        ``scores``: a ``tag_scores()`` result to reuse."""
        from workbench.semantic.tag_review import threshold_overview, without_media
        from workbench.semantic.tagging import Thresholds
        trashed, overrides = self.lib.trash.ids(), self.thresholds()
        manual = self.manual()
        now = Thresholds(self.threshold(), overrides)
        trial = now if threshold is None else Thresholds(float(threshold), overrides)
        scores = without_media(self.scores() if scores is None else scores, trashed)
        return threshold_overview(scores, now, trial, self.lib.trash.hide(manual, "media_id", trashed))
