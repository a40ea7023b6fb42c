"""Tagging: per tag, the media ranked by score, with the threshold as a slider whose effect is visible before it
is applied, and tags added or removed by hand.

The sidebar picks a tag (a filter box over a list sorted by how many media carry each tag) and holds the
threshold slider, which starts at the tag's threshold in force (its override, else the global one). Moving it
changes nothing in the library: the summary line, the score histogram and a badge on every card show what
would enter, leave or stay (``Library.tag_review``); "Apply to this tag" stores it as the tag's override and
"Apply as global" as the global threshold (``Library.set_tag_threshold``); "Clear override" drops the tag's
override (``Library.clear_tag_threshold``). Each card has Add / Remove buttons: a hand decision
(``Library.add_tag`` / ``remove_tag``) wins at every threshold and survives re-tagging.

Tags need stored scores, which need CLIP weights; without them the page says so and how to provide them.
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from workbench.dashboards.widgets import ACCENT, Dashboard, caption, guarded, picture_html
from workbench.errors import WorkbenchError

CARDS_PER_PAGE = 40   # media cards on one page: each is a thumbnail (~10-20 KB inlined) and two buttons
CARD_PX = 150         # thumbnail size on a card
TAG_LIST_ROWS = 14    # rows the tag list shows at once
HIST_BINS = 40        # score histogram bins (scores are in [0, 1], so a bin is 0.025 wide)
MAX_CACHED_CARDS = 600  # cards kept for reuse across pages and tags; beyond this the cache starts over

#: What a card's badge says and its colour, by ``Library.tag_review``'s ``change`` (and ``manual``).
BADGES = {
    "enters": ("enters", "#15803d"),
    "leaves": ("leaves", "#b91c1c"),
    "stays": ("stays", ACCENT),
    "out": ("not tagged", "#9ca3af"),
    "add": ("added by hand", "#7c3aed"),
    "remove": ("removed by hand", "#7c3aed"),
}

#: The grid's filters: label -> which review rows they keep.
SHOW = {
    "Ranked by score": lambda r: np.ones(len(r), bool),
    "Enter or leave": lambda r: r["change"].isin(["enters", "leaves"]).to_numpy(),
    "Tagged at new threshold": lambda r: r["tagged_then"].to_numpy(bool),
    "Decided by hand": lambda r: (r["change"] == "manual").to_numpy(),
}

CSS = """
.wb-tag-status { font: 12px/1.5 system-ui, sans-serif; color: #374151; display: flex; gap: 6px;
  align-items: center; }
.wb-tag-badge { color: #fff; border-radius: 9px; padding: 0 7px; font-size: 11px; white-space: nowrap; }
.wb-tag-score { font-variant-numeric: tabular-nums; font-weight: 600; }
"""


def no_scores_message(status: pd.DataFrame | None) -> str:
    """What to do when the library has no tag scores: they come from CLIP, which needs weights."""
    waiting = ""
    if status is not None and "tag_scores" in set(status["stage"]):
        pending = int(status.set_index("stage").loc["tag_scores", "pending"])
        waiting = f" ({pending} media are waiting for them)" if pending else ""
    return (
        f"**This library has no tag scores yet{waiting}.** Tags are scored from CLIP image embeddings by "
        f"`workbench process` (also after a label is added), and the embeddings and tags stages are skipped "
        f"while no CLIP weights are available (`workbench status` shows them pending).\n\n"
        f"To provide weights: on a machine with a network, `workbench process` downloads the default ones "
        f"(ViT-B-32, laion2b_s34b_b79k). Offline, copy an open_clip checkpoint file anywhere and name it in "
        f"`<library>/settings.json` as `{{\"clip_checkpoint\": \"/path/to/open_clip_pytorch_model.bin\"}}` "
        f"(README, \"CLIP weights\"). Then run `workbench process` and reload this page.\n\n"
        f"Tags added by hand (`workbench tags add ID TAG`) work without weights.")


def tag_label(row: dict[str, Any]) -> str:
    """How a tag is listed: its name and how many media carry it now."""
    hand = " (by hand)" if pd.isna(row.get("threshold_now")) else ""
    return f"{row['tag']} · {int(row['tagged'])}{hand}"


def badge_html(change: str, manual: str | None, score: float) -> str:
    """A card's status line: the score and what the trial threshold does to this media."""
    text, colour = BADGES[manual if change == "manual" and manual in BADGES else change]
    shown = "no score" if score is None or (isinstance(score, float) and math.isnan(score)) else f"{score:.3f}"
    return (f'<div class="wb-tag-status"><span class="wb-tag-score">{shown}</span>'
            f'<span class="wb-tag-badge" style="background:{colour}">{html.escape(text)}</span></div>')


def histogram_svg(scores: np.ndarray, current: float | None, trial: float | None, *, bins: int = HIST_BINS,
                  width_px: int = 560, height_px: int = 120) -> str:
    """The tag's scores as bars (those at or above the trial threshold in colour) with both thresholds marked:
    a dashed line for the one in force and a solid one for the trial."""
    s = np.asarray(scores, np.float64)
    s = s[~np.isnan(s)]
    counts, edges = np.histogram(s, bins=bins, range=(0.0, 1.0))
    top = max(int(counts.max()) if len(counts) else 0, 1)
    pad_l, pad_b, pad_t = 28, 18, 6
    w, h = width_px - pad_l - 4, height_px - pad_b - pad_t
    bw = w / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height_px}" '
             f'role="img" aria-label="score histogram" style="font:10px system-ui,sans-serif">']
    for i, c in enumerate(counts):
        if not c:
            continue
        bh = h * c / top
        lit = trial is not None and edges[i] >= trial - 1e-9
        parts.append(f'<rect x="{pad_l + i * bw + 0.5:.1f}" y="{pad_t + h - bh:.1f}" width="{bw - 1:.1f}" '
                     f'height="{bh:.1f}" fill="{ACCENT if lit else "#cbd5e1"}"><title>{edges[i]:.3f}–'
                     f'{edges[i + 1]:.3f}: {c}</title></rect>')
    parts.append(f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" stroke="#9ca3af"/>')
    for x in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{pad_l + x * w:.1f}" y="{height_px - 4}" text-anchor="middle" fill="#6b7280">'
                     f'{x:g}</text>')
    parts.append(f'<text x="{pad_l - 4}" y="{pad_t + 8}" text-anchor="end" fill="#6b7280">{top}</text>')
    for value, style in ((current, 'stroke="#374151" stroke-dasharray="4 3"'),
                         (trial, f'stroke="{ACCENT}" stroke-width="2"')):
        if value is not None:
            x = pad_l + float(value) * w
            parts.append(f'<line x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{pad_t + h}" {style}/>')
    parts.append("</svg>")
    return "".join(parts)


class Card:
    """One media on the grid: thumbnail, name, status line (updated in place) and the hand-decision buttons."""

    def __init__(self, dashboard: "Tagging", media_id: str, name: str, card_px: int):
        self.media_id = media_id
        lib = dashboard.library
        try:
            data = lib.thumbnail(media_id)
        except WorkbenchError:
            data = None
        self.status = pn.pane.HTML("", width=card_px, sizing_mode="fixed", margin=(2, 2))
        guard = dashboard.messages.guard
        self.add = pn.widgets.Button(label="Add", width=card_px // 2 - 4, sizing_mode="fixed", margin=(2, 2),
                                     color="success", variant="outline",
                                     description="Tag this media by hand, whatever the threshold")
        self.remove = pn.widgets.Button(label="Remove", width=card_px // 2 - 4, sizing_mode="fixed", margin=(2, 2),
                                        color="danger", variant="outline",
                                        description="Untag this media by hand, whatever the threshold")
        self.add.on_click(guard(lambda e: dashboard.decide(media_id, "add")))
        self.remove.on_click(guard(lambda e: dashboard.decide(media_id, "remove")))
        self.picture = pn.pane.HTML(picture_html(data, width_px=card_px, title=name), width=card_px,
                                    height=card_px + 4, sizing_mode="fixed", margin=2)
        self.view = pn.Column(self.picture, caption(name, card_px), self.status,
                              pn.Row(self.add, self.remove, margin=0),
                              width=card_px + 12, sizing_mode="fixed", margin=4)

    def show(self, row: dict[str, Any]) -> None:
        """Reflect one row of the review: badge, border colour, dimmed when not tagged at the trial threshold."""
        change, manual = row["change"], row["manual"]
        self.status.object = badge_html(change, manual, row["score"])
        colour = BADGES[manual if change == "manual" and manual in BADGES else change][1]
        self.view.styles = {"border": f"2px solid {colour}", "border-radius": "6px", "padding": "2px"}
        self.picture.styles = {"opacity": "1" if row["tagged_then"] else "0.45"}
        self.add.disabled = manual == "add"
        self.remove.disabled = manual == "remove"


class Tagging(Dashboard):
    """Per tag: media ranked by score, a threshold slider previewing what enters and leaves, hand decisions.

    The knobs are parameters: ``tag``, ``tag_filter``, ``trial_threshold``, ``grid_filter`` and ``page``; the
    review at the trial threshold is the parameter ``review`` (recomputed when the threshold moves), and the
    summary, the threshold in force and the histogram are ``@param.depends`` views of it."""

    title = "Tagging"

    tag = param.Selector(objects=[], allow_None=True, doc="The tag under review (listed with how many carry it)")
    tag_filter = param.String("", doc="Part of a tag's name: narrows the tag list")
    trial_threshold = param.Number(0.5, bounds=(0.0, 1.0), step=0.01,
                                   doc="The score threshold tried for the tag; nothing is stored until applied")
    grid_filter = param.Selector(objects=list(SHOW), default="Ranked by score", doc="Which reviewed media to show")
    page = param.Integer(0, bounds=(0, None), doc="The grid page, from 0")
    review = param.DataFrame(None, allow_None=True, precedence=-1,
                             doc="Library.tag_review of the tag at the trial threshold (what the views show)")

    def __init__(self, library: Any, *, cards_per_page: int = CARDS_PER_PAGE, card_px: int = CARD_PX):
        if cards_per_page < 1 or card_px < 64:
            raise ValueError("cards_per_page must be at least 1 and card_px at least 64")
        self.cards_per_page, self.card_px = cards_per_page, card_px
        self.cards: dict[str, Card] = {}
        self.ready = False   # the parameters' watchers wait for ``build`` to finish
        super().__init__(library)

    # -- page ----------------------------------------------------------------------------------------------
    def build(self) -> None:
        if CSS not in pn.config.raw_css:
            pn.config.raw_css = [*pn.config.raw_css, CSS]
        lib = self.library
        self.scores = lib.tag_scores()
        if len(self.scores.media_ids) == 0:
            self.sidebar.append(pn.pane.Markdown("Nothing to tune yet: see the message on the right.",
                                                 sizing_mode="stretch_width"))
            self.main.append(pn.pane.Alert(no_scores_message(lib.status()), alert_type="warning",
                                           sizing_mode="stretch_width"))
            return
        media = lib.media()
        self.names = {m: Path(p).name for m, p in zip(media["id"], media["path"])}
        self.overview = lib.tag_overview(scores=self.scores)
        guard = self.messages.guard

        self.search = pn.widgets.TextInput(label="Find a tag", placeholder="type part of a tag",
                                           sizing_mode="stretch_width")
        self.search.param.watch(lambda e: setattr(self, "tag_filter", e.new or ""), "value_input")
        self.picker = pn.widgets.Select.from_param(self.param.tag, name="Tag (media tagged now)",
                                                   size=TAG_LIST_ROWS, sizing_mode="stretch_width")
        self.threshold = pn.widgets.EditableFloatSlider.from_param(
            self.param.trial_threshold, name="Threshold", fixed_start=0.0, fixed_end=1.0, format="0.00",
            sizing_mode="stretch_width")
        self.threshold.param.watch(guard(lambda e: self._preview_global()), "value_throttled")
        self.in_force = pn.pane.Markdown(self.in_force_text, sizing_mode="stretch_width")
        self.apply_tag = pn.widgets.Button(label="Apply to this tag", color="primary",
                                           sizing_mode="stretch_width")
        self.apply_tag.on_click(guard(self._apply_to_tag))
        self.apply_global = pn.widgets.Button(label="Apply as global", color="warning",
                                              sizing_mode="stretch_width")
        self.apply_global.on_click(guard(self._apply_global))
        self.clear_override = pn.widgets.Button(label="Clear override", sizing_mode="stretch_width")
        self.clear_override.on_click(guard(self._clear_override))

        self.summary = pn.pane.Markdown(self.summary_text, sizing_mode="stretch_width", margin=(0, 10))
        self.global_summary = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10),
                                               styles={"color": "#4b5563"})
        self.histogram = pn.pane.HTML(self.histogram_html, height=124, sizing_mode="stretch_width")
        self.show = pn.widgets.RadioButtonGroup.from_param(self.param.grid_filter, name="", color="light",
                                                           sizing_mode="fixed", width=560)
        self.prev = pn.widgets.Button(label="◀ Previous", width=110, sizing_mode="fixed")
        self.next = pn.widgets.Button(label="Next ▶", width=110, sizing_mode="fixed")
        self.prev.on_click(guard(lambda e: self.param.update(page=max(0, self.page - 1))))
        self.next.on_click(guard(lambda e: self.param.update(page=self.page + 1)))
        self.page_label = pn.pane.Markdown("", margin=(8, 10))
        self.grid = pn.FlexBox(sizing_mode="stretch_width")

        self.sidebar += [
            self.search, self.picker, self.threshold, self.in_force,
            self.apply_tag, self.apply_global, self.clear_override,
            pn.pane.Markdown("Moving the slider changes nothing until you apply it. **Add** / **Remove** on a "
                             "card decide by hand: that wins at every threshold and survives re-tagging.",
                             sizing_mode="stretch_width")]
        self.main += [self.summary, self.global_summary, self.histogram, self.show,
                      pn.Row(self.prev, self.page_label, self.next, sizing_mode="stretch_width"), self.grid]
        self.ready = True
        options = self._tag_options()
        self.param.tag.objects = options
        first = next(iter(options.values()), None)
        if self.tag != first:
            self.tag = first   # shows it (``_pick``)
        else:
            self._pick()

    # -- reading -------------------------------------------------------------------------------------------
    def _tag_options(self, text: str = "") -> dict[str, str]:
        t = " ".join(text.lower().split())
        rows = self.overview.to_dict("records")
        return {tag_label(r): r["tag"] for r in rows if t in r["tag"]}

    @param.depends("tag_filter", watch=True)
    @guarded
    def _filter_tags(self) -> None:
        options = self._tag_options(self.tag_filter)
        current = self.tag
        self.param.tag.objects = options
        if options and current not in options.values():
            self.tag = next(iter(options.values()))

    def _scored(self) -> bool:
        return self.tag in self.scores.tags

    @param.depends("tag", watch=True)
    @guarded
    def _pick(self) -> None:
        """Show a tag: the slider starts at its threshold in force."""
        if self.tag is None or not self.ready:
            return
        scored = self._scored()
        for w in (self.threshold, self.apply_tag, self.apply_global):
            w.disabled = not scored
        start = self.library.tag_threshold(self.tag)
        with param.parameterized.discard_events(self):
            self.page = 0
        if self.trial_threshold != start:
            self.trial_threshold = start   # the review follows (``_preview``)
        else:
            self.param.trigger("trial_threshold")
        self._preview_global()

    @param.depends("trial_threshold", watch=True)
    @guarded
    def _preview(self) -> None:
        """The review at the trial threshold (nothing is stored); the views and the grid follow it."""
        if self.tag is None or not self.ready:
            return
        self.clear_override.disabled = self.tag not in self.library.tag_thresholds()
        trial = float(self.trial_threshold)
        review = self.library.tag_review(self.tag, trial, scores=self.scores)
        review.attrs["trial"] = trial   # the views label the review with the threshold it was made at
        self.review = review

    @param.depends("review")
    def in_force_text(self) -> str:
        """The threshold in force for the tag and where it comes from."""
        if self.review is None:
            return ""
        if not self._scored():
            return "This tag was only ever added by hand: the vocabulary does not score it."
        lib, tag = self.library, self.tag
        override = tag in lib.tag_thresholds()
        where = "this tag's override" if override else "global"
        glob = "" if not override else f"; global {lib.tag_threshold():.2f}"
        return f"In force: **{lib.tag_threshold(tag):.2f}** ({where}{glob})"

    @param.depends("review")
    def summary_text(self) -> str:
        """How many media the trial threshold tags, and how many enter and leave."""
        r, tag = self.review, self.tag
        if r is None:
            return ""
        if not self._scored():
            return f"**{tag}**: {int(r['tagged_now'].sum())} media tagged by hand."
        current, trial = self.library.tag_threshold(tag), float(r.attrs.get("trial", self.trial_threshold))
        enters, leaves = int((r["change"] == "enters").sum()), int((r["change"] == "leaves").sum())
        hand = int((r["change"] == "manual").sum())
        return (f"**{tag}** at **{trial:.2f}**: **{int(r['tagged_then'].sum())} tagged**; "
                f"<span style='color:#15803d'>**+{enters} enter**</span>, "
                f"<span style='color:#b91c1c'>**−{leaves} leave**</span> "
                f"(now {int(r['tagged_now'].sum())} at {current:.2f}"
                f"{f'; {hand} decided by hand' if hand else ''})")

    @param.depends("review")
    def histogram_html(self) -> str:
        """The tag's scores with the threshold in force and the trial one marked."""
        if self.review is None or not self._scored():
            return ""
        return histogram_svg(self.review["score"].to_numpy(), self.library.tag_threshold(self.tag),
                             float(self.review.attrs.get("trial", self.trial_threshold)))

    def _preview_global(self) -> None:
        """What the slider's value would do as the global threshold, over every tag without an override."""
        if not self._scored():
            self.global_summary.object = ""
            return
        trial = float(self.trial_threshold)
        o = self.library.tag_overview(trial, scores=self.scores)
        kept = len(self.library.tag_thresholds())
        keep = f"; {kept} tag{'s' if kept != 1 else ''} with an override keep it" if kept else ""
        self.global_summary.object = (
            f"As the global threshold ({self.library.tag_threshold():.2f} now), {trial:.2f} would make "
            f"+{int(o['enters'].sum())} / −{int(o['leaves'].sum())} tag assignments across "
            f"{int(((o['enters'] + o['leaves']) > 0).sum())} tags{keep}.")

    # -- grid ----------------------------------------------------------------------------------------------
    def _card(self, media_id: str) -> Card:
        card = self.cards.get(media_id)
        if card is None:
            if len(self.cards) >= MAX_CACHED_CARDS:
                self.cards.clear()
            card = self.cards[media_id] = Card(self, media_id, self.names.get(media_id, media_id[:10]),
                                               self.card_px)
        return card

    @param.depends("review", "grid_filter", "page", watch=True)
    @guarded
    def _show_grid(self) -> None:
        if self.review is None:
            return
        rows = self.review[SHOW[self.grid_filter](self.review)]
        pages = max(1, math.ceil(len(rows) / self.cards_per_page))
        if self.page > pages - 1:
            with param.parameterized.discard_events(self):
                self.page = pages - 1
        start = self.page * self.cards_per_page
        shown = rows.iloc[start:start + self.cards_per_page].to_dict("records")
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= pages - 1
        self.page_label.object = (f"Media {start + 1}–{start + len(shown)} of {len(rows)}, highest score first"
                                  if len(rows) else "Nothing to show with this filter")
        cards = [self._card(r["media_id"]) for r in shown]
        for card, r in zip(cards, shown):
            card.show(r)
        views = [c.view for c in cards]
        if [id(v) for v in self.grid.objects] != [id(v) for v in views]:
            self.grid.objects = views

    # -- actions -------------------------------------------------------------------------------------------
    def decide(self, media_id: str, action: str) -> None:
        """A hand decision from a card: stored at once through Library; it wins at every threshold."""
        tag = self.tag
        (self.library.add_tag if action == "add" else self.library.remove_tag)(media_id, tag)
        name = self.names.get(media_id, media_id[:10])
        self._recount()
        self._preview()
        self.messages.success(f"{'Added' if action == 'add' else 'Removed'} “{tag}” "
                              f"{'to' if action == 'add' else 'from'} {name} by hand.")

    async def _apply_to_tag(self, event: Any) -> None:
        tag, value = self.tag, float(self.trial_threshold)
        r = self.review
        enters, leaves = int((r["change"] == "enters").sum()), int((r["change"] == "leaves").sum())
        self.library.set_tag_threshold(value, tag=tag)
        await self._after_apply()
        self.messages.success(f"“{tag}” now has its own threshold {value:.2f} (+{enters}, −{leaves} media).")

    async def _apply_global(self, event: Any) -> None:
        value = float(self.trial_threshold)
        self.library.set_tag_threshold(value)
        await self._after_apply()
        own = self.library.tag_thresholds().get(self.tag)
        note = (f" “{self.tag}” keeps its own threshold {own:.2f}: clear its override to follow the global one."
                if own is not None else "")
        self.messages.success(f"The global tag threshold is now {value:.2f}.{note}")

    async def _clear_override(self, event: Any) -> None:
        self.library.clear_tag_threshold(self.tag)
        await self._after_apply()
        self.messages.success(f"“{self.tag}” follows the global threshold "
                              f"{self.library.tag_threshold():.2f} again.")

    async def _after_apply(self) -> None:
        await self.busy.run("Recounting tags", self._recount)
        self._pick()

    def _recount(self) -> None:
        """Counts per tag after a change: the tag list's labels follow."""
        self.overview = self.library.tag_overview(scores=self.scores)
        current = self.tag
        options = self._tag_options(self.tag_filter)
        if current not in options.values():  # keep the tag being reviewed listed
            row = self.overview[self.overview["tag"] == current].to_dict("records")
            options = {**({tag_label(row[0]): current} if row else {}), **options}
        self.param.tag.objects = options
