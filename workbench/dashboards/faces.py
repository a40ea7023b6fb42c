"""Face clusters: the people the library found, as cards of face crops, and what a curator says about them.

Each person is a card: a name field (Save), their faces (the first ``faces_per_card``, confirmed and best first;
"More faces" shows more), each with a tick box, and actions on the ticked faces: move them to another person,
split them off into a new person, or say "not this person". A person can be hidden. The sidebar finds people
by name, shows hidden ones, tunes how far suggestions reach, and merges people. The "Suggestions" tab lists
faces nobody has put with a person yet next to the nearest person (``Library.face_suggestions``) with Accept
(``Library.move_faces``) and Reject (``Library.reject_faces``). Every change goes through ``Library`` and is kept
as a user decision that automatic re-clustering never undoes. A link ``.../faces?person=NAME`` opens the page
filtered to that name.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.dashboards.widgets import Dashboard, face_picture, guarded

# A cold page decodes one preview per crop (~20-60 ms each, measured): 10 x 10 crops keep the first view of a page
# to a few seconds; crops are remembered afterwards (widgets.FACE_CROP_CACHE_ENTRIES).
PEOPLE_PER_PAGE = 10        # person cards on one page
FACES_PER_CARD = 10         # face crops a card shows before "More faces" (one row on a laptop screen)
SUGGESTIONS_PER_PAGE = 24   # suggestion tiles shown at once, closest first
CROP_PX = 88                # face crop size on cards

# The label under a crop: one line, small (Panel draws widgets in shadow DOM, so this goes in as a stylesheet).
TICK_CSS = ".bk-label, label { white-space: nowrap; overflow: hidden; text-overflow: clip; font-size: 11px; }"

CSS = """
.wb-person { border: 1px solid #d0d7de; border-radius: 8px; padding: 6px 8px; margin-bottom: 10px;
  background: #fff; }
.wb-person-hidden { background: #f6f7f9; border-style: dashed; }
.wb-person-meta { font: 12px/1.5 system-ui, sans-serif; color: #4b5563; }
.wb-face-tile { border-radius: 6px; }
.wb-suggestion { border: 1px solid #e5e7eb; border-radius: 8px; padding: 4px; background: #fff; }
.wb-suggestion-text { font: 12px/1.4 system-ui, sans-serif; color: #374151; overflow-wrap: anywhere; }
"""


def person_label(row: dict[str, Any]) -> str:
    """How a person is named in lists: their name, or "Unnamed" with the start of their id, and face count."""
    name = row.get("name")
    base = name if isinstance(name, str) and name else f"Unnamed {row['person_id'][:6]}"
    hidden = " · hidden" if row.get("hidden") else ""
    return f"{base} ({int(row.get('face_count') or 0)} faces{hidden})"


def person_name(row: dict[str, Any]) -> str:
    """A person's name, or "Unnamed" with the start of their id (no counts: stays the same while faces move)."""
    name = row.get("name")
    return name if isinstance(name, str) and name else f"Unnamed {row['person_id'][:6]}"


def short_name(file_name: str, chars: int = 11) -> str:
    """The end of a file name (where names differ: "…obama2.jpg"), short enough for the label under a crop."""
    return file_name if len(file_name) <= chars else "…" + file_name[-(chars - 1):]


def matches(row: dict[str, Any], text: str) -> bool:
    """Whether the search box text finds this person: part of the name, or the start of the id."""
    t = text.strip().lower()
    if not t:
        return True
    name = row.get("name")
    return (isinstance(name, str) and t in name.lower()) or row["person_id"].startswith(t)


def search_from_link() -> str:
    """The ``person`` query parameter of the served page (``.../faces?person=obama``); empty in a notebook."""
    args = getattr(pn.state, "session_args", None) or {}
    raw = (args.get("person") or [b""])[0]
    return (raw.decode() if isinstance(raw, bytes) else str(raw)).strip()


def faces_in_order(faces: pd.DataFrame) -> pd.DataFrame:
    """A person's faces as a card shows them: confirmed by a user first, then the best quality."""
    if faces.empty:
        return faces
    return (faces.assign(_c=faces["source"] != "confirmed", _q=-faces["quality"].fillna(0.0))
            .sort_values(["_c", "_q", "face_id"]).drop(columns=["_c", "_q"]))


@dataclass
class FacesPageData:
    """What the page shows, read through ``Library`` in one go (again after every change)."""
    people: pd.DataFrame                 # every live person, hidden ones included
    faces: pd.DataFrame                  # every face of the current face model
    suggestions: pd.DataFrame

    def faces_of(self, person_id: str) -> pd.DataFrame:
        return faces_in_order(self.faces[self.faces["person_id"] == person_id])


class Faces(Dashboard):
    """People as cards of face crops: name, merge, split, move, reject, hide; suggestions for unassigned faces.

    The knobs are parameters: ``search_text``, ``include_hidden``, ``page``, ``max_distance`` (how far suggestions
    reach) and the merge's ``merge_people_ids`` and ``merge_target_id``. What the library holds is the parameter
    ``snap``, read again when ``max_distance`` or ``include_hidden`` changes and after every edit; the summary, the
    cards, the suggestions and the merge lists follow it through ``@param.depends``. Every edit stays a button
    that calls ``Library``."""

    title = "Face clusters"

    search_text = param.String("", doc="Part of a name, or the start of a person's id: narrows the cards")
    include_hidden = param.Boolean(False, doc="Show hidden people too (and suggest faces for them)")
    page = param.Integer(0, bounds=(0, None), doc="The page of person cards, from 0")
    max_distance = param.Number(0.6, bounds=(0.0, None), inclusive_bounds=(False, True), softbounds=(0.3, 0.8),
                                step=0.01, doc="Unassigned faces are suggested for the nearest person within this "
                                "embedding distance")
    merge_people_ids = param.ListSelector(default=[], objects={}, doc="The people Merge folds into another")
    merge_target_id = param.Selector(objects={}, allow_None=True, doc="The person the others are merged into")
    snap = param.ClassSelector(class_=FacesPageData, allow_None=True, precedence=-1,
                               doc="What the page shows, as last read from the library")

    def __init__(self, library: Any, *, search: str | None = None, people_per_page: int = PEOPLE_PER_PAGE,
                 faces_per_card: int = FACES_PER_CARD, suggestions_per_page: int = SUGGESTIONS_PER_PAGE,
                 crop_px: int = CROP_PX):
        if min(people_per_page, faces_per_card, suggestions_per_page) < 1:
            raise ValueError("people_per_page, faces_per_card and suggestions_per_page must be at least 1")
        self.people_per_page, self.faces_per_card = people_per_page, faces_per_card
        self.suggestions_per_page, self.crop_px = suggestions_per_page, crop_px
        self.initial_search = search if search is not None else search_from_link()
        self.face_limits: dict[str, int] = {}   # person id -> faces shown after "More faces"
        # Cards and suggestion tiles drawn last time, by what they show: a redraw after an edit rebuilds only
        # those that changed (a page holds ~600 widgets, ~1.5 s to build) and keeps ticks on the others.
        self._drawn_cards: dict[str, tuple[Any, pn.Column]] = {}
        self._drawn_suggestions: dict[str, tuple[Any, pn.Column]] = {}
        self._shown_filter: tuple[str, bool] | None = None   # a new search (or hidden shown) starts at page 1
        super().__init__(library, search_text=self.initial_search,
                         max_distance=library.settings.face_suggest_max_distance)

    # -- page ----------------------------------------------------------------------------------------------
    def build(self) -> None:
        if CSS not in pn.config.raw_css:
            pn.config.raw_css = [*pn.config.raw_css, CSS]
        guard = self.messages.guard
        self.search = pn.widgets.TextInput.from_param(self.param.search_text, name="Find a person",
                                                      placeholder="part of a name, or an id",
                                                      sizing_mode="stretch_width")
        self.show_hidden = pn.widgets.Checkbox.from_param(self.param.include_hidden, name="Show hidden people")
        self.distance_slider = pn.widgets.FloatSlider.from_param(
            self.param.max_distance, name="Suggest people within distance", throttled=True,
            sizing_mode="stretch_width")
        self.merge_from = pn.widgets.MultiChoice.from_param(self.param.merge_people_ids, name="Merge these people",
                                                            placeholder="pick people", sizing_mode="stretch_width")
        self.merge_into = pn.widgets.Select.from_param(self.param.merge_target_id, name="into this person",
                                                       sizing_mode="stretch_width")
        self.merge_button = pn.widgets.Button(label="Merge", color="warning", sizing_mode="stretch_width")
        self.merge_button.on_click(guard(self._merge))
        self.update_button = pn.widgets.Button(label="Update people now", sizing_mode="stretch_width")
        self.update_button.on_click(guard(self._update_people))

        self.prev = pn.widgets.Button(label="◀ Previous", width=110)
        self.next = pn.widgets.Button(label="Next ▶", width=110)
        self.prev.on_click(lambda e: self.param.update(page=max(0, self.page - 1)))
        self.next.on_click(lambda e: self.param.update(page=self.page + 1))
        self.page_label = pn.pane.Markdown("", margin=(8, 10))
        self.summary = pn.pane.Markdown(self.summary_text, sizing_mode="stretch_width")
        self.cards = pn.Column(sizing_mode="stretch_width")
        self.suggestion_summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.suggestion_grid = pn.FlexBox(sizing_mode="stretch_width")
        people_tab = pn.Column(pn.Row(self.prev, self.page_label, self.next, sizing_mode="stretch_width"),
                               self.cards, name="People", sizing_mode="stretch_width")
        suggestions_tab = pn.Column(self.suggestion_summary, self.suggestion_grid, name="Suggestions",
                                    sizing_mode="stretch_width")
        self.tabs = pn.Tabs(people_tab, suggestions_tab, dynamic=False, sizing_mode="stretch_width")

        self.sidebar += [
            self.search, self.show_hidden,
            pn.pane.Markdown("Tick faces on a card, then move them to someone, split them off as a new person, or "
                             "say **Not this person**. Decisions stay when people are re-clustered.",
                             sizing_mode="stretch_width"),
            pn.pane.Markdown("### Merge", margin=(10, 10, 0, 10)), self.merge_from, self.merge_into,
            self.merge_button,
            pn.pane.Markdown("### Suggestions", margin=(10, 10, 0, 10)), self.distance_slider,
            pn.pane.Markdown(f"Unassigned faces are suggested for the nearest person within this distance "
                             f"(default {self.library.settings.face_suggest_max_distance}; automatic grouping stops at "
                             f"{self.library.settings.face_match_distance}).", sizing_mode="stretch_width"),
            self.update_button]
        self.main += [self.summary, self.tabs]
        self._reload()

    # -- reading -------------------------------------------------------------------------------------------
    def _read(self) -> FacesPageData:
        lib = self.library
        return FacesPageData(people=lib.people(include_hidden=True), faces=lib.faces(),
                             suggestions=lib.face_suggestions(max_distance=float(self.max_distance),
                                                              include_hidden=bool(self.include_hidden)))

    @param.depends("max_distance", "include_hidden", watch=True)
    @guarded
    def _reload(self) -> None:
        """Read everything again (after any change, from the page or elsewhere): the views follow ``snap``."""
        self.snap = self._read()

    @param.depends("snap", watch=True)
    def _merge_lists_follow(self) -> None:
        """The merge lists name every person, with their face counts."""
        options = {person_label(r): r["person_id"] for r in self.snap.people.to_dict("records")}
        ids = set(options.values())
        self.param.merge_people_ids.objects = options
        self.param.merge_target_id.objects = options
        self.param.update(merge_people_ids=[v for v in self.merge_people_ids if v in ids],
                          merge_target_id=(self.merge_target_id if self.merge_target_id in ids
                                           else next(iter(ids), None)))

    @param.depends("snap")
    def summary_text(self) -> str:
        """How many people, faces, faces without a person and faces too poor to recognise."""
        snap = self.snap
        if snap is None:
            return ""
        faces, people = snap.faces, snap.people
        skipped = int(faces["skipped"].notna().sum()) if not faces.empty else 0
        unassigned = int((faces["person_id"].isna() & faces["skipped"].isna()).sum()) if not faces.empty else 0
        hidden = int(people["hidden"].sum()) if not people.empty else 0
        return (f"**{len(people) - hidden} people** ({hidden} hidden) from **{len(faces)} faces**: {unassigned} "
                f"recognisable faces belong to nobody yet ({len(snap.suggestions)} with a suggestion), {skipped} "
                f"too small or blurry to recognise.")

    # -- people --------------------------------------------------------------------------------------------
    def _visible_people(self) -> pd.DataFrame:
        p = self.snap.people
        if p.empty:
            return p
        keep = p.apply(lambda r: matches(r.to_dict(), self.search_text or ""), axis=1)
        if not self.include_hidden:
            keep &= ~p["hidden"].astype(bool)
        return p[keep].reset_index(drop=True)

    @param.depends("snap", "search_text", "include_hidden", "page", watch=True)
    @guarded
    def _show_people(self) -> None:
        """The page of person cards the search keeps (a new search starts at the first page)."""
        if self.snap is None:
            return
        people = self._visible_people()
        pages = max(1, math.ceil(len(people) / self.people_per_page))
        shown_filter = (self.search_text, self.include_hidden)
        page = 0 if shown_filter != self._shown_filter else min(self.page, pages - 1)
        self._shown_filter = shown_filter
        if page != self.page:
            with param.parameterized.discard_events(self):
                self.page = page
        start = page * self.people_per_page
        shown = people.iloc[start:start + self.people_per_page]
        self.prev.disabled = page == 0
        self.next.disabled = page >= pages - 1
        self.page_label.object = (f"People {start + 1}–{start + len(shown)} of {len(people)}" if len(people)
                                  else "No people")
        targets = tuple((r["person_id"], person_name(r)) for r in self.snap.people.to_dict("records"))
        drawn: dict[str, tuple[Any, pn.Column]] = {}
        for r in shown.to_dict("records"):
            pid = r["person_id"]
            limit = self.face_limits.get(pid, self.faces_per_card)
            faces = self.snap.faces_of(pid)
            key = (person_name(r), bool(r["hidden"]), int(r["face_count"]), int(r["media_count"]), len(faces),
                   tuple(zip(faces["face_id"].head(limit), faces["source"].head(limit))), targets)
            old = self._drawn_cards.get(pid)
            drawn[pid] = old if old is not None and old[0] == key else (key, self._card(r, faces, limit, targets))
        self._drawn_cards = drawn
        self.cards.objects = [card for _, card in drawn.values()] if drawn else [self._no_people()]

    def _no_people(self) -> pn.pane.Alert:
        snap = self.snap
        if snap.faces.empty:
            text = ("No faces found yet. People appear after `workbench process` has run the face stage "
                    "(`face_scans`) on imported photos; then reload this page.")
        elif snap.people.empty:
            text = (f"{len(snap.faces)} faces found, but none grouped into a person yet: a person forms when at "
                    f"least {self.library.settings.face_min_cluster_size} faces look alike. Faces that resemble "
                    f"no one are listed under Suggestions only when someone is near.")
        elif (self.search_text or "").strip():
            text = f"Nobody's name contains “{self.search_text.strip()}”."
        else:
            text = "Everyone is hidden: tick **Show hidden people** to see them."
        return pn.pane.Alert(text, alert_type="info", sizing_mode="stretch_width")

    def _card(self, person: dict[str, Any], faces: pd.DataFrame, limit: int,
              targets: tuple[tuple[str, str], ...]) -> pn.Column:
        pid = person["person_id"]
        guard = self.messages.guard
        current = person["name"] if isinstance(person["name"], str) else ""
        name = pn.widgets.TextInput(value=current, value_input=current, placeholder="Unnamed: type a name",
                                    width=260)
        # Enabled once the server holds a name that differs from the saved one: the button says there is
        # something to save, and a click can never act on text the server has not received yet.
        save = pn.widgets.Button(label="Save name", color="primary", width=110, disabled=True)
        name.param.watch(lambda e: setattr(save, "disabled", " ".join((e.new or "").split()) == current),
                         "value_input")
        # value_input follows every keystroke; value only arrives on Enter or leaving the field, which the
        # server may see after the button's click when callbacks run on several threads.
        save.on_click(guard(lambda e: self._name(pid, name.value_input or "")))
        name.param.watch(guard(lambda e: self._name(pid, name.value_input or "")), "enter_pressed")
        hidden = bool(person["hidden"])
        hide = pn.widgets.Button(label="Show again" if hidden else "Hide person", width=120)
        hide.on_click(guard(lambda e: self._hide(pid, not hidden)))
        meta = pn.pane.HTML(
            f'<div class="wb-person-meta">{int(person["face_count"])} faces in {int(person["media_count"])} '
            f'photos · id {html.escape(pid)}{" · <b>hidden</b>" if hidden else ""}</div>',
            sizing_mode="stretch_width", margin=(12, 10))
        ticks: list[tuple[str, pn.widgets.Checkbox]] = []
        tiles = []
        for f in faces.head(limit).to_dict("records"):
            fname = Path(f["path"]).name if isinstance(f["path"], str) else f["media_id"][:10]
            tick = pn.widgets.Checkbox(label=short_name(fname), width=self.crop_px + 8, margin=(0, 4),
                                       stylesheets=[TICK_CSS])
            ticks.append((f["face_id"], tick))
            note = "confirmed" if f["source"] == "confirmed" else "found automatically"
            tiles.append(pn.Column(face_picture(self.library, f["face_id"], size_px=self.crop_px,
                                                title=f"{fname} ({note})"),
                                   tick, width=self.crop_px + 12, margin=2,
                                   css_classes=["wb-face-tile"]))
        strip = pn.FlexBox(*tiles, sizing_mode="stretch_width")

        def selected() -> list[str]:
            chosen = [fid for fid, t in ticks if t.value]
            if not chosen:
                raise ValueError("tick one or more faces on this card first")
            return chosen

        others = {name: other for other, name in targets if other != pid}
        move_to = pn.widgets.Select(options=others, width=230, disabled=not others)
        move = pn.widgets.Button(label="Move ticked to", width=130, disabled=not others)
        move.on_click(guard(lambda e: self._move(selected(), move_to.value)))
        split = pn.widgets.Button(label="Split ticked into a new person", width=230)
        split.on_click(guard(lambda e: self._split(pid, selected())))
        reject = pn.widgets.Button(label="Not this person", color="danger", width=150)
        reject.on_click(guard(lambda e: self._reject(pid, selected())))
        actions: list[Any] = [move, move_to, split, reject]
        if len(faces) > limit:
            more = pn.widgets.Button(label=f"More faces ({len(faces) - limit} not shown)", width=200)
            more.on_click(guard(lambda e: self._more_faces(pid)))
            actions.append(more)
        classes = ["wb-person", "wb-person-hidden"] if hidden else ["wb-person"]
        return pn.Column(pn.Row(name, save, hide, meta, sizing_mode="stretch_width"), strip,
                         pn.Row(*actions, sizing_mode="stretch_width"), css_classes=classes,
                         sizing_mode="stretch_width")

    # -- suggestions ---------------------------------------------------------------------------------------
    @param.depends("snap", watch=True)
    @guarded
    def _show_suggestions(self) -> None:
        """The faces nobody has put with a person, next to the nearest person within ``max_distance``."""
        s = self.snap.suggestions
        limit = float(self.max_distance)
        if s.empty:
            self.suggestion_summary.object = (
                f"No suggestions: no face without a person is within {limit:.2f} of anyone. Raise the distance in "
                f"the sidebar to see looser matches.")
            self.suggestion_grid.objects = []
            self._drawn_suggestions = {}
            return
        shown = s.head(self.suggestions_per_page)
        self.suggestion_summary.object = (
            f"{len(s)} face{'s' if len(s) != 1 else ''} without a person look like someone (within {limit:.2f}); "
            f"closest first{f', the first {len(shown)} shown' if len(shown) < len(s) else ''}. **Accept** puts the "
            f"face with that person; **Reject** means it is not them, and it is never suggested for them again.")
        covers = dict(zip(self.snap.people["person_id"], self.snap.people["cover_face_id"]))
        names = {r["person_id"]: person_name(r) for r in self.snap.people.to_dict("records")}
        drawn: dict[str, tuple[Any, pn.Column]] = {}
        for r in shown.to_dict("records"):
            cover, name = covers.get(r["person_id"]), names.get(r["person_id"], r["person_id"])
            key = (r["person_id"], round(r["distance"], 3), cover, name)
            old = self._drawn_suggestions.get(r["face_id"])
            drawn[r["face_id"]] = old if old is not None and old[0] == key else (key, self._suggestion(r, cover, name))
        self._drawn_suggestions = drawn
        self.suggestion_grid.objects = [tile for _, tile in drawn.values()]

    def _suggestion(self, row: dict[str, Any], cover: str | None, label: str) -> pn.Column:
        fid, pid = row["face_id"], row["person_id"]
        fname = Path(row["path"]).name if isinstance(row["path"], str) else row["media_id"][:10]
        pictures = [face_picture(self.library, fid, size_px=self.crop_px, title=fname)]
        if isinstance(cover, str):
            pictures.append(face_picture(self.library, cover, size_px=self.crop_px, title=label))
        text = pn.pane.HTML(
            f'<div class="wb-suggestion-text"><b>{html.escape(fname)}</b><br>looks like '
            f'<b>{html.escape(label)}</b><br>distance {row["distance"]:.2f}</div>',
            width=2 * self.crop_px + 16)
        accept = pn.widgets.Button(label="Accept", color="success", width=self.crop_px - 4)
        accept.on_click(self.messages.guard(lambda e: self._accept(fid, pid)))
        reject = pn.widgets.Button(label="Reject", width=self.crop_px - 4)
        reject.on_click(self.messages.guard(lambda e: self._refuse(fid, pid)))
        return pn.Column(pn.Row(*pictures), text, pn.Row(accept, reject), css_classes=["wb-suggestion"],
                         width=2 * self.crop_px + 32, margin=4)

    # -- actions -------------------------------------------------------------------------------------------
    def _label(self, person_id: str) -> str:
        p = self.snap.people
        rows = p[p["person_id"] == person_id].to_dict("records")
        return person_label(rows[0]) if rows else person_id

    def _done(self, text: str) -> None:
        self._reload()
        self.messages.success(text)

    def _name(self, person_id: str, name: str) -> None:
        self.library.name_person(person_id, name or None)
        self._done(f"Named {person_id[:6]} “{' '.join(name.split())}”." if name.strip()
                   else f"Cleared the name of {person_id[:6]}.")

    def _hide(self, person_id: str, hidden: bool) -> None:
        label = self._label(person_id)
        self.library.hide_person(person_id, hidden)
        self._done(f"Hid {label}: tick “Show hidden people” to see them again." if hidden
                   else f"{label} is shown again.")

    def _move(self, face_ids: list[str], target: str | None) -> None:
        if not target:
            raise ValueError("choose the person to move the ticked faces to")
        self.library.move_faces(face_ids, target)
        self._done(f"Moved {len(face_ids)} face{'s' if len(face_ids) != 1 else ''} to {self._label(target)}.")

    def _split(self, person_id: str, face_ids: list[str]) -> None:
        new = self.library.split_person(person_id, face_ids)
        self._done(f"Split {len(face_ids)} face{'s' if len(face_ids) != 1 else ''} into a new person ({new[:6]}); "
                   f"name them on their card.")

    def _reject(self, person_id: str, face_ids: list[str]) -> None:
        label = self._label(person_id)
        self.library.reject_faces(face_ids, person=person_id)
        self._done(f"{len(face_ids)} face{'s' if len(face_ids) != 1 else ''} taken from {label}; they will not be "
                   f"put back with them.")

    def _more_faces(self, person_id: str) -> None:
        self.face_limits[person_id] = self.face_limits.get(person_id, self.faces_per_card) + self.faces_per_card
        self._show_people()

    def _merge(self, event: Any = None) -> None:
        target = self.merge_target_id
        others = [p for p in self.merge_people_ids if p != target]
        if not target or not others:
            raise ValueError("pick the people to merge and a different person to merge them into")
        label = self._label(target)
        self.library.merge_people(target, *others)
        self.merge_people_ids = []
        self._done(f"Merged {len(others)} {'people' if len(others) != 1 else 'person'} into {label}.")

    def _accept(self, face_id: str, person_id: str) -> None:
        self.library.move_faces([face_id], person_id)
        self._done(f"Face put with {self._label(person_id)}.")

    def _refuse(self, face_id: str, person_id: str) -> None:
        self.library.reject_faces([face_id], person=person_id)
        self._done(f"Noted: that face is not {self._label(person_id)}.")

    async def _update_people(self, event: Any = None) -> None:
        counts = await self.busy.run("Grouping faces into people", self.library.update_people)
        self._reload()
        self.messages.success(f"People updated: {counts['joined']} faces joined someone, {counts['new_people']} new "
                              f"people, {counts['unassigned']} faces still on their own.")
