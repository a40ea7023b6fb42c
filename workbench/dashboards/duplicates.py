"""Duplicates and quality: decide, group by group, which copy stays, and sweep out technically bad pictures.

Two tabs. "Duplicates" shows each group the library suggests (``Library.duplicates``) as a row of cards side by
side, the suggested keeper first and highlighted with the reason it was chosen; a curator keeps it (the others go
to the trash, with a reason, so ``Library.restore`` undoes it), keeps another one, or answers "not duplicates"
(``Library.dismiss_duplicates``: the group is never suggested again). "Quality" shows the score histogram and the
flagged media (``Library.quality``), filterable by flag and score, with a "Trash selected" action.

A link may carry ``?ids=a,b,c`` (the embedding map sends a lasso selection this way): both tabs then show only
those media, and the duplicate groups that contain one of them. In a notebook pass ``ids=[...]`` instead.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import panel as pn
import param

from workbench.dashboards.widgets import ACCENT, Dashboard, extension, guarded, picture_html

#: Human names of the duplicate kinds, in the order the filter shows them.
KIND_LABELS = {"all": "All", "exact": "Exact copies", "same": "Same picture", "similar": "Similar shots"}
KIND_HELP = {
    "exact": "Same bytes at several paths. The library stores one copy, so there is nothing to trash here; "
             "delete the extra files on disk if you want the space back there.",
    "same": "The same picture in different files (resized, re-encoded, rotated, other metadata).",
    "similar": "Shots to choose from (bursts, RAW+JPEG pairs, live photos): not copies of each other.",
}
GROUPS_PER_PAGE = 10       # duplicate groups on one page
MEDIA_PER_PAGE = 24        # flagged media on one page of the quality grid
CARD_PX = 170              # thumbnail width of a card
HISTOGRAM_BIN = 5          # score points per histogram bar (scores run 0..100)
TRASH_REASON_DUPLICATE = "duplicate ({kind}) of {keeper}: kept the other in the duplicates dashboard"
TRASH_REASON_QUALITY = "quality ({flags}), trashed in the quality dashboard"

CSS = """
.wb-dup-card, .wb-quality-card { border: 1px solid #d0d7de; border-radius: 6px; padding: 4px; background: #fff; }
.wb-dup-keeper { border: 2px solid #2e7d32; background: #f1f8f1; }
.wb-dup-meta { font: 12px/1.45 system-ui, sans-serif; color: #374151; }
.wb-dup-meta b { color: #111827; }
.wb-badge { display: inline-block; padding: 0 6px; margin: 1px 2px 1px 0; border-radius: 9px; font-size: 11px;
  background: #eef2f7; color: #1f2937; }
.wb-badge-keep { background: #2e7d32; color: #fff; }
.wb-badge-flag { background: #fde8e8; color: #9b1c1c; }
.wb-dup-group { border: 1px solid #e5e7eb; border-radius: 8px; padding: 6px 8px; margin-bottom: 10px; }
.wb-dup-head { font: 13px system-ui, sans-serif; }
"""


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KiB': sizes the way a person compares them."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "size unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and v is not pd.NaT and v != ""


def describe_media(row: dict[str, Any] | None, score: float | None) -> list[str]:
    """The lines of a card: dimensions, size, date, camera, quality score (what decides which copy to keep)."""
    if row is None:
        return ["not in the library any more (trashed?)"]
    w, h = row.get("width"), row.get("height")
    dims = f"{int(w)}×{int(h)} px" if _present(w) and _present(h) else "size unknown"
    if row.get("kind") == "video" and _present(row.get("duration_s")):
        dims += f", {row['duration_s']:.1f} s"
    taken = row.get("taken_at")
    if _present(taken):
        src = row.get("taken_at_source")
        when = pd.Timestamp(taken).strftime("%Y-%m-%d %H:%M")
        if src not in ("exif", "exif_digitized", "xmp", "video"):
            when += f" ({str(src).replace('_', ' ')})" if _present(src) else " (no camera date)"
    else:
        when = "no date"
    camera = " ".join(str(row[k]) for k in ("camera_make", "camera_model") if _present(row.get(k))) or "no camera data"
    quality = f"quality {score:.0f}/100" if score is not None and not math.isnan(score) else "quality not measured"
    return [dims, human_bytes(row.get("size_bytes")), when, camera, quality]


def parse_ids(value: str | Iterable[str] | None) -> list[str]:
    """``'a,b, c'`` (a link's query) or a list -> ['a', 'b', 'c'], blanks dropped, order kept."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(p.strip().lower() for p in parts if p and p.strip()))


def ids_from_link() -> list[str]:
    """The ``ids`` query parameter of the page being served (empty in a notebook)."""
    args = getattr(pn.state, "session_args", None) or {}
    raw = args.get("ids") or []
    return parse_ids(",".join(v.decode() if isinstance(v, bytes) else str(v) for v in raw))


def groups_touching(groups: pd.DataFrame, ids: set[str] | None) -> pd.DataFrame:
    """The groups with at least one member among ``ids`` (all groups when ids is None)."""
    if ids is None or groups.empty:
        return groups
    hit = groups["members"].map(lambda ms: any(m["id"] in ids for m in ms))
    return groups[hit].reset_index(drop=True)


def histogram(scores: Iterable[float], bin_points: int = HISTOGRAM_BIN) -> list[int]:
    """Counts per score bin of ``bin_points`` (0..100; 100 falls in the last bin)."""
    n_bins = math.ceil(100 / bin_points)
    counts = [0] * n_bins
    for s in scores:
        if s is None or (isinstance(s, float) and math.isnan(s)):
            continue
        counts[min(n_bins - 1, max(0, int(s // bin_points)))] += 1
    return counts


@dataclass
class DuplicatesPageData:
    """What the page shows, read from the library in one go (refreshed after every change)."""
    groups: pd.DataFrame
    media: dict[str, dict[str, Any]]                         # rows of the groups' members, by id
    quality: pd.DataFrame
    scores: dict[str, float]                                 # quality score by media id
    ids: set[str] = field(default_factory=set)               # every media not in the trash
    pending: dict[str, int] = field(default_factory=dict)   # stage -> media still to process
    n_media: int = 0


class Duplicates(Dashboard):
    """Duplicate groups side by side with their suggested keeper, and quality flags with a score histogram.

    The knobs are parameters: ``kind`` and ``group_page`` for the duplicates tab, ``flags``, ``score_range`` and
    ``quality_page`` for the quality tab, ``selected_ids`` for the media ticked there. What the library holds is
    the parameter ``snap`` (read again after every change); the groups, the quality grid, the histogram, the page
    labels and the sidebar's scope line follow these parameters through ``@param.depends``. Keeping, trashing,
    "not duplicates" and undo stay buttons: they write to the library."""

    title = "Duplicates and quality"

    kind = param.Selector(objects={label: k for k, label in KIND_LABELS.items()}, default="all",
                          doc="Which kind of duplicate groups to show")
    group_page = param.Integer(0, bounds=(0, None), doc="The page of duplicate groups, from 0")
    flags = param.ListSelector(default=[], objects=[], doc="Show media carrying any of these quality flags "
                               "(none ticked: every flagged media)")
    score_range = param.Range((0, 100), bounds=(0, 100), step=1,
                              doc="Show media whose quality score (0 worst, 100 best) is in this range")
    quality_page = param.Integer(0, bounds=(0, None), doc="The page of the quality grid, from 0")
    selected_ids = param.List([], doc="The media ticked in the quality grid (what Trash selected trashes)")
    last_trashed_ids = param.List([], precedence=-1, doc="What Undo last trash puts back")
    snap = param.ClassSelector(class_=DuplicatesPageData, allow_None=True, precedence=-1,
                               doc="What the page shows, as last read from the library")

    def __init__(self, library: Any, *, ids: Iterable[str] | None = None, groups_per_page: int = GROUPS_PER_PAGE,
                 media_per_page: int = MEDIA_PER_PAGE, card_px: int = CARD_PX):
        if groups_per_page < 1 or media_per_page < 1:
            raise ValueError("groups_per_page and media_per_page must be at least 1")
        self._wanted_ids = parse_ids(ids) if ids is not None else None
        self.groups_per_page, self.media_per_page, self.card_px = groups_per_page, media_per_page, card_px
        self.only: set[str] | None = None          # the restriction from ?ids= (None: everything)
        self._boxes: dict[str, pn.widgets.Checkbox] = {}   # the quality grid's tick boxes shown, by media id
        self._shown_kind: str | None = None         # a new kind (or new quality filters) starts at page 1
        self._shown_filters: tuple[Any, ...] | None = None
        super().__init__(library)

    # -- reading -------------------------------------------------------------------------------------------
    def _read(self) -> DuplicatesPageData:
        lib = self.library
        status = lib.status()
        pending = {r["stage"]: int(r["pending"]) for r in status.to_dict("records")}
        groups, quality, media = lib.duplicates(), lib.quality(), lib.media()
        members = {m["id"] for ms in groups["members"] for m in ms}
        rows = {r["id"]: r for r in media[media["id"].isin(members)].to_dict("records")}
        return DuplicatesPageData(groups=groups, media=rows, quality=quality,
                                  scores=dict(zip(quality["id"], quality["score"])), ids=set(media["id"]),
                                  pending=pending, n_media=int(status.attrs.get("media", len(media))))

    def _restrict(self, snap: DuplicatesPageData) -> None:
        """Turn the ids of the link into the set both tabs show; prefixes are accepted, unknown ids reported."""
        if self._wanted_ids is None:
            self._wanted_ids = ids_from_link()
        if not self._wanted_ids:
            self.only = None
            return
        known, unknown = set(), []
        for i in self._wanted_ids:
            if i not in snap.ids:
                try:
                    i = self.library.resolve_id(i)
                except Exception:  # noqa: BLE001 - an id from an old link: say so below, show the rest
                    pass
            if i in snap.ids:
                known.add(i)
            else:
                unknown.append(i)
        self.only = known
        if unknown:
            verb = "is" if len(unknown) == 1 else "are"
            self.messages.info(f"{len(unknown)} of the {len(self._wanted_ids)} media in the link {verb} not in the "
                               f"library or in the trash ({', '.join(u[:10] for u in unknown[:5])}"
                               f"{', ...' if len(unknown) > 5 else ''}).")

    # -- page ----------------------------------------------------------------------------------------------
    def build(self) -> None:
        extension(CSS)
        snap = self._read()
        self._restrict(snap)
        self._options_follow(snap)

        # duplicates tab controls
        self.kind_picker = pn.widgets.RadioButtonGroup.from_param(self.param.kind, name="Kind", color="light",
                                                                  width=520)
        self.group_prev = pn.widgets.Button(label="◀ Previous", width=110)
        self.group_next = pn.widgets.Button(label="Next ▶", width=110)
        self.group_page_label = pn.pane.Markdown("", margin=(8, 10), width=110)
        self.group_prev.on_click(lambda e: self.param.update(group_page=max(0, self.group_page - 1)))
        self.group_next.on_click(lambda e: self.param.update(group_page=self.group_page + 1))
        self.group_summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.group_list = pn.Column(sizing_mode="stretch_width")
        dup_tab = pn.Column(
            pn.Row(self.kind_picker, self.group_prev, self.group_page_label, self.group_next,
                   sizing_mode="stretch_width"),
            self.group_summary, self.group_list, name="Duplicates", sizing_mode="stretch_width")

        # quality tab controls
        self.flag_picker = pn.widgets.CheckBoxGroup.from_param(self.param.flags, name="Flags", inline=True)
        self.score_slider = pn.widgets.RangeSlider.from_param(self.param.score_range, name="Score", width=320,
                                                              throttled=True)
        self.hist = pn.pane.Bokeh(None, sizing_mode="stretch_width", height=230)
        self.quality_prev = pn.widgets.Button(label="◀ Previous", width=110)
        self.quality_next = pn.widgets.Button(label="Next ▶", width=110)
        self.quality_page_label = pn.pane.Markdown("", margin=(8, 10), width=110)
        self.quality_prev.on_click(lambda e: self.param.update(quality_page=max(0, self.quality_page - 1)))
        self.quality_next.on_click(lambda e: self.param.update(quality_page=self.quality_page + 1))
        self.select_all = pn.widgets.Button(label="Select all shown", width=140)
        self.select_none = pn.widgets.Button(label="Clear selection", width=130)
        self.trash_selected = pn.widgets.Button(label=self.trash_label, color="danger", width=170,
                                                disabled=self.param.selected_ids.rx().rx.not_())
        self.select_all.on_click(lambda e: self.param.update(selected_ids=self._shown_quality_ids()))
        self.select_none.on_click(lambda e: self.param.update(selected_ids=[]))
        self.trash_selected.on_click(self.messages.guard(self._trash_selected))
        self.quality_summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.quality_grid = pn.FlexBox(sizing_mode="stretch_width")
        quality_tab = pn.Column(
            pn.pane.Markdown("**Show media flagged as** (none ticked: every flagged media)", margin=(5, 10, 0, 10)),
            self.flag_picker, self.score_slider, self.hist,
            pn.Row(self.select_all, self.select_none, self.trash_selected, self.quality_prev,
                   self.quality_page_label, self.quality_next, sizing_mode="stretch_width"),
            self.quality_summary, self.quality_grid, name="Quality", sizing_mode="stretch_width")

        self.tabs = pn.Tabs(dup_tab, quality_tab, dynamic=True, sizing_mode="stretch_width")

        # sidebar
        self.undo = pn.widgets.Button(label="Undo last trash", sizing_mode="stretch_width",
                                      disabled=self.param.last_trashed_ids.rx().rx.not_())
        self.undo.on_click(self.messages.guard(self._undo))
        self.refresh = pn.widgets.Button(label="Reload from the library", sizing_mode="stretch_width")
        self.refresh.on_click(self.messages.guard(self._reload))
        self.scope = pn.pane.Markdown(self.scope_text, sizing_mode="stretch_width")
        self.sidebar += [
            pn.pane.Markdown(
                "Suggestions only: nothing leaves the library except through the trash, and everything trashed "
                "here can be put back (**Undo last trash**, or `workbench restore ID`).\n\n"
                "**Keep suggested** trashes the other members of a group; **Keep this one** keeps the card you "
                "pick; **Not duplicates** means the group is never suggested again.",
                sizing_mode="stretch_width"),
            self.scope, self.undo, self.refresh]
        self.main.append(self.tabs)
        self.snap = snap   # the tabs are drawn (``_show_groups``, ``_show_quality``)
        self._explain_missing()

    @param.depends("snap")
    def scope_text(self) -> str:
        """What the page covers: the whole library, or only the media of the link."""
        if self.snap is None:
            return ""
        if self.only is None:
            return f"Showing the whole library ({self.snap.n_media} media)."
        path = getattr(getattr(pn.state, "location", None), "pathname", "") or ""
        back = f" [Show everything]({path})" if path else ""
        return f"**Showing only the {len(self.only)} media selected in the link.**{back}"

    @param.depends("selected_ids")
    def trash_label(self) -> str:
        return f"Trash selected ({len(self.selected_ids)})"

    def _explain_missing(self) -> None:
        """An empty library or unprocessed media: say what to run instead of showing empty tabs without a word."""
        snap = self.snap
        if snap.n_media == 0:
            self.messages.info("This library has no media yet: import some with `workbench import PATH`, then run "
                               "`workbench process` to find duplicates and measure quality.")
            return
        waiting = {s: n for s, n in snap.pending.items() if s in ("fingerprints", "quality") and n}
        if waiting:
            self.messages.info("Some media are not processed yet ("
                               + ", ".join(f"{s}: {n} pending" for s, n in waiting.items())
                               + "): run `workbench process` so they can be compared and scored.")

    @param.depends("snap", watch=True)
    def _options_follow(self, snap: DuplicatesPageData | None = None) -> None:
        """The kind buttons and the flag boxes say how many groups and media each has."""
        snap = snap or self.snap
        self.param.kind.objects = dict(self._kind_options(snap))
        self.param.flags.objects = self._flag_options(snap)

    # -- duplicates tab ------------------------------------------------------------------------------------
    def _visible_groups(self) -> pd.DataFrame:
        g = groups_touching(self.snap.groups, self.only)
        kind = self.kind
        return g if kind == "all" or g.empty else g[g["kind"] == kind].reset_index(drop=True)

    def _kind_options(self, snap: DuplicatesPageData) -> list[tuple[str, str]]:
        g = groups_touching(snap.groups, self.only)
        counts = g["kind"].value_counts().to_dict() if not g.empty else {}
        return [(f"{label} ({len(g) if k == 'all' else counts.get(k, 0)})", k) for k, label in KIND_LABELS.items()]

    @param.depends("snap", "kind", "group_page", watch=True)
    @guarded
    def _show_groups(self) -> None:
        """The page of groups of the chosen kind (a new kind starts at the first page)."""
        if self.snap is None:
            return
        groups = self._visible_groups()
        pages = max(1, math.ceil(len(groups) / self.groups_per_page))
        page = 0 if self.kind != self._shown_kind else min(self.group_page, pages - 1)
        self._shown_kind = self.kind
        if page != self.group_page:
            with param.parameterized.discard_events(self):
                self.group_page = page
        start = page * self.groups_per_page
        shown = groups.iloc[start:start + self.groups_per_page]
        self.group_prev.disabled = page == 0
        self.group_next.disabled = page >= pages - 1
        self.group_page_label.object = f"Page {page + 1} of {pages}"
        if groups.empty:
            kind = self.kind
            what = "duplicate groups" if kind == "all" else f"groups of kind “{KIND_LABELS[kind]}”"
            self.group_summary.object = (f"No {what}" + (" among the selected media." if self.only is not None
                                                         else " in this library."))
        else:
            self.group_summary.object = (f"{len(groups)} group{'s' if len(groups) != 1 else ''}; the suggested "
                                         f"keeper is first and outlined in green.")
        records = shown.to_dict("records")
        thumbs = self.library.thumbnails([m["id"] for g in records for m in g["members"]])
        self.group_list.objects = [self._group_view(g, thumbs) for g in records]

    def _group_view(self, group: dict[str, Any], thumbs: dict[str, bytes | None]) -> pn.Column:
        kind, keep = group["kind"], group["keep"]
        members = group["members"]
        distinct = list(dict.fromkeys(m["id"] for m in members))
        scores = self.snap.scores
        keeper_row = self.snap.media.get(keep)
        keeper_name = Path(keeper_row["path"]).name if keeper_row else keep[:10]
        head = pn.pane.HTML(
            f'<div class="wb-dup-head"><span class="wb-badge">{html.escape(KIND_LABELS[kind])}</span> '
            f'{len(members)} {"paths" if kind == "exact" else "media"} · suggested keeper <b>'
            f'{html.escape(keeper_name)}</b>: {html.escape(group["reason"])}</div>', sizing_mode="stretch_width")
        cards = []
        for m in members:
            row = self.snap.media.get(m["id"])
            is_keeper = (m["path"] == (row or {}).get("path")) if kind == "exact" else m["id"] == keep
            cards.append(self._member_card(m, row, scores.get(m["id"]), is_keeper, kind, distinct,
                                           thumbs.get(m["id"])))
        parts: list[Any] = [head, pn.Row(*cards, sizing_mode="stretch_width", scroll=True)]
        if len(distinct) >= 2:
            keep_btn = pn.widgets.Button(label="Keep suggested, trash the others", color="primary", width=280)
            keep_btn.on_click(self.messages.guard(self._keep_cb(keep, distinct, kind)))
            not_dup = pn.widgets.Button(label="Not duplicates", width=150)
            not_dup.on_click(self.messages.guard(self._dismiss_cb(distinct)))
            parts.append(pn.Row(keep_btn, not_dup, sizing_mode="stretch_width"))
        else:
            parts.append(pn.pane.Markdown(f"*{KIND_HELP['exact']}*", sizing_mode="stretch_width"))
        return pn.Column(*parts, css_classes=["wb-dup-group"], sizing_mode="stretch_width")

    def _member_card(self, member: dict[str, Any], row: dict[str, Any] | None, score: float | None,
                     is_keeper: bool, kind: str, distinct: list[str], thumb: bytes | None) -> pn.Column:
        name = Path(member["path"]).name
        lines = describe_media(row, score)
        badge = '<span class="wb-badge wb-badge-keep">suggested keeper</span>' if is_keeper else ""
        if kind == "exact" and is_keeper:
            badge = '<span class="wb-badge wb-badge-keep">the library\'s copy</span>'
        meta = (f'<div class="wb-dup-meta">{badge}<div title="{html.escape(member["path"])}"><b>'
                f'{html.escape(name)}</b></div>' + "".join(f"<div>{html.escape(s)}</div>" for s in lines) + "</div>")
        parts: list[Any] = [self._picture_and_text(thumb, name, meta)]
        if kind != "exact" and len(distinct) >= 2:
            btn = pn.widgets.Button(label="Keep this one", width=self.card_px - 8, margin=(4, 4),
                                    color="success" if is_keeper else "default")
            btn.on_click(self.messages.guard(self._keep_cb(member["id"], distinct, kind)))
            parts.append(btn)
        classes = ["wb-dup-card", "wb-dup-keeper"] if is_keeper else ["wb-dup-card"]
        return pn.Column(*parts, css_classes=classes, width=self.card_px + 14, margin=4)

    def _keep_cb(self, keep: str, distinct: list[str], kind: str):
        async def run(event: Any) -> None:
            others = [i for i in distinct if i != keep]
            row = self.snap.media.get(keep)
            keeper = f"{Path(row['path']).name} [{keep[:10]}]" if row else keep[:10]
            reason = TRASH_REASON_DUPLICATE.format(kind=kind, keeper=keeper)
            n = await self.busy.run("Moving to the trash", self.library.trash, others, reason=reason)
            self.last_trashed_ids = others
            await self._reload_async()
            self.messages.success(f"Kept {keeper}; moved {n} other{'s' if n != 1 else ''} to the trash "
                                  f"(Undo last trash puts {'them' if n != 1 else 'it'} back).")
        return run

    def _dismiss_cb(self, distinct: list[str]):
        async def run(event: Any) -> None:
            await self.busy.run("Remembering", self.library.dismiss_duplicates, distinct)
            await self._reload_async()
            self.messages.success(f"Noted: these {len(distinct)} media are not duplicates; they will not be "
                                  f"suggested together again.")
        return run

    # -- quality tab ---------------------------------------------------------------------------------------
    def _quality_in_scope(self, snap: DuplicatesPageData | None = None) -> pd.DataFrame:
        q = (snap or self.snap).quality
        return q if self.only is None or q.empty else q[q["id"].isin(self.only)].reset_index(drop=True)

    def _flag_options(self, snap: DuplicatesPageData) -> dict[str, str]:
        q = self._quality_in_scope(snap)
        # a ticked flag stays listed when nothing carries it any more (e.g. all trashed), so the view stays put
        counts: dict[str, int] = {f: 0 for f in self.flags}
        for flags in q["flags"]:
            for f in flags:
                counts[f] = counts.get(f, 0) + 1
        return {f"{f.replace('_', ' ')} ({n})": f for f, n in sorted(counts.items())}

    def _shown_quality(self) -> pd.DataFrame:
        q = self._quality_in_scope()
        if q.empty:
            return q
        wanted = set(self.flags)
        lo, hi = self.score_range
        keep = q["flags"].map(lambda fs: bool(set(fs) & wanted) if wanted else bool(len(fs)))
        keep &= (q["score"] >= lo) & (q["score"] <= hi)
        return q[keep].reset_index(drop=True)

    def _shown_quality_ids(self) -> list[str]:
        return list(self._shown_quality()["id"])

    def _histogram_figure(self, shown: pd.DataFrame | None = None):
        from bokeh.models import ColumnDataSource
        from bokeh.plotting import figure
        q = self._quality_in_scope()
        all_counts = histogram(q["score"] if not q.empty else [])
        shown_counts = histogram(shown["score"] if shown is not None and not shown.empty else [])
        left = [i * HISTOGRAM_BIN for i in range(len(all_counts))]
        src = ColumnDataSource({"left": left, "right": [x + HISTOGRAM_BIN for x in left], "all": all_counts,
                                "shown": shown_counts})
        fig = figure(height=220, sizing_mode="stretch_width", x_range=(0, 100), tools="", toolbar_location=None,
                     title="Quality score of the measured media (0 worst, 100 best)")
        fig.quad(left="left", right="right", bottom=0, top="all", source=src, fill_color="#cbd5e1",
                 line_color="white", legend_label="all measured")
        fig.quad(left="left", right="right", bottom=0, top="shown", source=src, fill_color=ACCENT,
                 line_color="white", legend_label="shown below")
        fig.y_range.start = 0
        fig.xaxis.axis_label, fig.yaxis.axis_label = "score", "media"
        fig.legend.location = "top_left"
        fig.legend.background_fill_alpha = 0.6
        return fig

    @param.depends("snap", "flags", "score_range", "quality_page", watch=True)
    @guarded
    def _show_quality(self) -> None:
        """The page of flagged media the filters keep, and the histogram (new filters start at the first page)."""
        if self.snap is None:
            return
        shown = self._shown_quality()
        ids = set(shown["id"]) if not shown.empty else set()
        if not set(self.selected_ids) <= ids:
            self.selected_ids = [i for i in self.selected_ids if i in ids]
        pages = max(1, math.ceil(len(shown) / self.media_per_page))
        filters = (tuple(self.flags), tuple(self.score_range))
        page = 0 if filters != self._shown_filters else min(self.quality_page, pages - 1)
        self._shown_filters = filters
        if page != self.quality_page:
            with param.parameterized.discard_events(self):
                self.quality_page = page
        start = page * self.media_per_page
        self.quality_prev.disabled = page == 0
        self.quality_next.disabled = page >= pages - 1
        self.quality_page_label.object = f"Page {page + 1} of {pages}"
        self.hist.object = self._histogram_figure(shown)
        measured = len(self._quality_in_scope())
        if measured == 0:
            self.quality_summary.object = ("No quality measurements yet" + (" for the selected media." if self.only
                                           is not None else ": run `workbench process`."))
        elif shown.empty:
            self.quality_summary.object = f"No media matches these flags and scores (of {measured} measured)."
        else:
            self.quality_summary.object = f"{len(shown)} of {measured} measured media shown, worst first."
        records = shown.iloc[start:start + self.media_per_page].to_dict("records")
        thumbs = self.library.thumbnails([r["id"] for r in records])
        self._boxes = {}
        self.quality_grid.objects = [self._quality_card(r, thumbs.get(r["id"])) for r in records]

    def _quality_card(self, r: dict[str, Any], thumb: bytes | None) -> pn.Column:
        name = Path(r["path"]).name
        flags = "".join(f'<span class="wb-badge wb-badge-flag">{html.escape(f.replace("_", " "))}</span>'
                        for f in r["flags"])
        meta = (f'<div class="wb-dup-meta"><div title="{html.escape(r["path"])}"><b>{html.escape(name)}</b></div>'
                f'<div>score {r["score"]:.0f}/100</div>{flags}</div>')
        box = self._boxes[r["id"]] = pn.widgets.Checkbox(label="Select", value=r["id"] in self.selected_ids,
                                                         width=self.card_px)
        box.param.watch(lambda e, i=r["id"]: self._toggle(i, e.new), "value")
        return pn.Column(self._picture_and_text(thumb, name, meta), box, css_classes=["wb-quality-card"],
                         width=self.card_px + 14, margin=4)

    def _picture_and_text(self, thumb: bytes | None, name: str, text_html: str) -> pn.pane.HTML:
        """A card's thumbnail and its lines as one pane (one model per card keeps a page of groups quick to
        send; a page's thumbnails come from one ``Library.thumbnails`` read)."""
        return pn.pane.HTML(picture_html(thumb, width_px=self.card_px, title=name) + text_html,
                            width=self.card_px, margin=(0, 2))

    def _toggle(self, media_id: str, on: bool) -> None:
        chosen = set(self.selected_ids)
        (chosen.add if on else chosen.discard)(media_id)
        self.selected_ids = sorted(chosen)

    @param.depends("selected_ids", watch=True)
    def _ticks_follow(self) -> None:
        """The tick boxes shown say what is selected (Select all shown, Clear selection, a trash)."""
        chosen = set(self.selected_ids)
        for media_id, box in self._boxes.items():
            box.value = media_id in chosen

    async def _trash_selected(self, event: Any) -> None:
        q = self.snap.quality.set_index("id")
        chosen = sorted(self.selected_ids)
        by_reason: dict[str, list[str]] = {}
        for i in chosen:
            flags = ", ".join(q.loc[i, "flags"]) if i in q.index and len(q.loc[i, "flags"]) else "no flag"
            by_reason.setdefault(TRASH_REASON_QUALITY.format(flags=flags), []).append(i)

        def put() -> int:
            return sum(self.library.trash(ids, reason=reason) for reason, ids in by_reason.items())
        n = await self.busy.run("Moving to the trash", put)
        self.last_trashed_ids = chosen
        self.selected_ids = []
        await self._reload_async()
        self.messages.success(f"Moved {n} media to the trash (Undo last trash puts them back).")

    # -- shared actions ------------------------------------------------------------------------------------
    async def _undo(self, event: Any) -> None:
        ids = self.last_trashed_ids
        if not ids:
            self.messages.info("Nothing to undo.")
            return
        n = await self.busy.run("Restoring", self.library.restore, ids)
        self.last_trashed_ids = []
        await self._reload_async()
        self.messages.success(f"Put {n} media back from the trash.")

    async def _reload(self, event: Any) -> None:
        await self._reload_async()
        self.messages.clear()

    async def _reload_async(self) -> None:
        """Read the library again: every view follows the new ``snap``."""
        self.snap = await self.busy.run("Reading duplicates and quality", self._read)
