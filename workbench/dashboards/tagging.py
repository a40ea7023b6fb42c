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

from workbench.dashboards.widgets import ACCENT, Dashboard, caption, picture_html
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
    """Per tag: media ranked by score, a threshold slider previewing what enters and leaves, hand decisions."""

    title = "Tagging"

    def __init__(self, library: Any, *, cards_per_page: int = CARDS_PER_PAGE, card_px: int = CARD_PX):
        if cards_per_page < 1 or card_px < 64:
            raise ValueError("cards_per_page must be at least 1 and card_px at least 64")
        self.cards_per_page, self.card_px = cards_per_page, card_px
        self.page = 0
        self.cards: dict[str, Card] = {}
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
        self.search.param.watch(guard(self._filter_tags), "value_input")
        self.picker = pn.widgets.Select(label="Tag (media tagged now)", options=self._tag_options(),
                                        size=TAG_LIST_ROWS, sizing_mode="stretch_width")
        self.picker.param.watch(guard(lambda e: self._pick(e.new)), "value")
        self.threshold = pn.widgets.EditableFloatSlider(
            label="Threshold", start=0.0, end=1.0, fixed_start=0.0, fixed_end=1.0, step=0.01, value=0.5,
            format="0.00", sizing_mode="stretch_width")
        self.threshold.param.watch(guard(lambda e: self._preview()), "value")
        self.threshold.param.watch(guard(lambda e: self._preview_global()), "value_throttled")
        self.in_force = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.apply_tag = pn.widgets.Button(label="Apply to this tag", color="primary",
                                           sizing_mode="stretch_width")
        self.apply_tag.on_click(guard(self._apply_to_tag))
        self.apply_global = pn.widgets.Button(label="Apply as global", color="warning",
                                              sizing_mode="stretch_width")
        self.apply_global.on_click(guard(self._apply_global))
        self.clear_override = pn.widgets.Button(label="Clear override", sizing_mode="stretch_width")
        self.clear_override.on_click(guard(self._clear_override))

        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.global_summary = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10),
                                               styles={"color": "#4b5563"})
        self.histogram = pn.pane.HTML("", height=124, sizing_mode="stretch_width")
        self.show = pn.widgets.RadioButtonGroup(options=list(SHOW), value="Ranked by score", color="light",
                                                sizing_mode="fixed", width=560)
        self.show.param.watch(guard(lambda e: self._show_grid(page=0)), "value")
        self.prev = pn.widgets.Button(label="◀ Previous", width=110, sizing_mode="fixed")
        self.next = pn.widgets.Button(label="Next ▶", width=110, sizing_mode="fixed")
        self.prev.on_click(guard(lambda e: self._show_grid(page=self.page - 1)))
        self.next.on_click(guard(lambda e: self._show_grid(page=self.page + 1)))
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
        self._pick(self.picker.value)

    # -- reading -------------------------------------------------------------------------------------------
    def _tag_options(self, text: str = "") -> dict[str, str]:
        t = " ".join(text.lower().split())
        rows = self.overview.to_dict("records")
        return {tag_label(r): r["tag"] for r in rows if t in r["tag"]}

    def _filter_tags(self, event: Any) -> None:
        options = self._tag_options(event.new or "")
        current = self.picker.value
        self.picker.options = options
        if options and current not in options.values():
            self.picker.value = next(iter(options.values()))

    @property
    def tag(self) -> str:
        return self.picker.value

    def _scored(self) -> bool:
        return self.tag in self.scores.tags

    def _pick(self, tag: str | None) -> None:
        """Show a tag: the slider starts at its threshold in force."""
        if tag is None:
            return
        self.page = 0
        scored = self._scored()
        for w in (self.threshold, self.apply_tag, self.apply_global):
            w.disabled = not scored
        start = self.library.tag_threshold(tag)
        if self.threshold.value != start:
            self.threshold.value = start  # triggers _preview
        else:
            self._preview()
        self._preview_global()

    def _preview(self) -> None:
        """Recompute the review at the slider's value: summary, histogram and badges (nothing is stored)."""
        lib, tag = self.library, self.tag
        trial = float(self.threshold.value)
        self.review = lib.tag_review(tag, trial, scores=self.scores)
        r = self.review
        current = lib.tag_threshold(tag)
        override = tag in lib.tag_thresholds()
        self.clear_override.disabled = not override
        if not self._scored():
            self.in_force.object = "This tag was only ever added by hand: the vocabulary does not score it."
            self.summary.object = f"**{tag}**: {int(r['tagged_now'].sum())} media tagged by hand."
            self.histogram.object = ""
        else:
            where = "this tag's override" if override else "global"
            glob = "" if not override else f"; global {lib.tag_threshold():.2f}"
            self.in_force.object = f"In force: **{current:.2f}** ({where}{glob})"
            enters, leaves = int((r["change"] == "enters").sum()), int((r["change"] == "leaves").sum())
            hand = int((r["change"] == "manual").sum())
            self.summary.object = (
                f"**{tag}** at **{trial:.2f}**: **{int(r['tagged_then'].sum())} tagged**; "
                f"<span style='color:#15803d'>**+{enters} enter**</span>, "
                f"<span style='color:#b91c1c'>**−{leaves} leave**</span> "
                f"(now {int(r['tagged_now'].sum())} at {current:.2f}"
                f"{f'; {hand} decided by hand' if hand else ''})")
            self.histogram.object = histogram_svg(r["score"].to_numpy(), current, trial)
        self._show_grid(page=self.page)

    def _preview_global(self) -> None:
        """What the slider's value would do as the global threshold, over every tag without an override."""
        if not self._scored():
            self.global_summary.object = ""
            return
        trial = float(self.threshold.value)
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

    def _show_grid(self, page: int) -> None:
        rows = self.review[SHOW[self.show.value](self.review)]
        pages = max(1, math.ceil(len(rows) / self.cards_per_page))
        self.page = min(max(0, page), pages - 1)
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
        tag, value = self.tag, float(self.threshold.value)
        r = self.review
        enters, leaves = int((r["change"] == "enters").sum()), int((r["change"] == "leaves").sum())
        self.library.set_tag_threshold(value, tag=tag)
        await self._after_apply()
        self.messages.success(f"“{tag}” now has its own threshold {value:.2f} (+{enters}, −{leaves} media).")

    async def _apply_global(self, event: Any) -> None:
        value = float(self.threshold.value)
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
        self._pick(self.tag)

    def _recount(self) -> None:
        """Counts per tag after a change: the tag list's labels follow."""
        self.overview = self.library.tag_overview(scores=self.scores)
        current = self.picker.value
        options = self._tag_options(self.search.value_input or self.search.value or "")
        if current not in options.values():  # keep the tag being reviewed listed
            row = self.overview[self.overview["tag"] == current].to_dict("records")
            options = {**({tag_label(row[0]): current} if row else {}), **options}
        self.picker.param.update(options=options, value=current)
