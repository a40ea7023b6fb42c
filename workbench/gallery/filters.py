"""The sidebar: what to show (kind, date range, camera, place, tag, person, has text) and in which order.

Choices for camera, place, tag and person come from what the acting user can see, so the lists never name
anything of somebody else's. The browser only moves a dropdown's index; the values are Python's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import ipywidgets as W
import pandas as pd

from workbench.gallery.ui import classes, missing

#: Sort choices: label -> (sort key of ``media()``, descending).
SORTS: dict[str, tuple[str, bool]] = {
    "Newest first": ("date", True), "Oldest first": ("date", False), "Name A–Z": ("name", False),
    "Name Z–A": ("name", True), "Largest first": ("size", True), "Smallest first": ("size", False)}
KINDS = {"All": None, "Photos": "image", "Videos": "video"}
ANY = "Any"


@dataclass
class Query:
    """What the grid shows: filters as ``UserView.media`` / ``search`` take them, plus sort and search text."""
    kind: str | None = None
    since: date | None = None
    until: date | None = None
    camera: str | None = None
    place: str | None = None
    tag: str | None = None
    person: str | None = None
    has_text: bool | None = None   # True: only pictures in which text was read
    sort: str = "date"
    desc: bool = True
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def filters(self) -> dict[str, Any]:
        """Keyword arguments shared by ``media()`` and ``search()``."""
        return {k: v for k, v in dict(kind=self.kind, since=self.since, until=self.until, camera=self.camera,
                                      place=self.place, tag=self.tag, person=self.person,
                                      has_text=self.has_text).items() if v is not None}

    @property
    def active(self) -> bool:
        return bool(self.filters())


def _choices(values) -> list[str]:
    return sorted({str(v) for v in values if not missing(v)}, key=str.lower)


def cameras(media: pd.DataFrame) -> list[str]:
    """"Make Model" of every camera in these media (model alone when it already names the make)."""
    out = []
    for make, model in zip(media.get("camera_make", []), media.get("camera_model", [])):
        make = "" if missing(make) else str(make).strip()
        model = "" if missing(model) else str(model).strip()
        out.append(model if make and model.lower().startswith(make.lower()) else f"{make} {model}".strip())
    return _choices(out)


class Sidebar(W.VBox):
    """Filter and sort controls; ``on_change(query)`` runs whenever one of them moves."""

    def __init__(self, on_change: Callable[[], None]):
        self._on_change = on_change
        self._quiet = False
        self.kind = W.ToggleButtons(options=list(KINDS), value="All")
        self.sort = W.Dropdown(options=list(SORTS), value="Newest first")
        self.since = W.DatePicker(description="", layout=W.Layout(width="100%"))
        self.until = W.DatePicker(description="", layout=W.Layout(width="100%"))
        self.camera = W.Dropdown(options=[ANY])
        self.place = W.Dropdown(options=[ANY])
        self.tag = W.Dropdown(options=[ANY])
        self.person = W.Dropdown(options=[ANY])
        self.has_text = W.Checkbox(value=False, description="Has text", indent=False)
        self.reset = classes(W.Button(description="Clear filters"), "wb-reset")
        for name in ("kind", "sort", "since", "until", "camera", "place", "tag", "person", "has_text"):
            w = getattr(self, name)
            w.add_class(f"wb-filter-{name}")
            w.observe(self._changed, "value")
        self.reset.on_click(lambda _b: self.clear())

        def label(text: str) -> W.HTML:
            return classes(W.HTML(text), "wb-label")

        super().__init__([label("Show"), self.kind, label("Sort"), self.sort, label("Taken from"), self.since,
                          label("Taken until"), self.until, label("Camera"), self.camera, label("Place"), self.place,
                          label("Tag"), self.tag, label("Person"), self.person, self.has_text, self.reset])
        self.add_class("wb-sidebar")

    def _changed(self, _change) -> None:
        if not self._quiet:
            self._on_change()

    def set_choices(self, media: pd.DataFrame, tags: list[str], people: dict[str, str]) -> None:
        """Fill the dropdowns from what the user can see; ``people`` maps a label to a person id."""
        self._people = dict(people)
        self._quiet = True
        try:
            for w, values in ((self.camera, cameras(media)), (self.place, _choices(media.get("place", []))),
                              (self.tag, _choices(tags)), (self.person, list(people))):
                keep = w.value if w.value in values else ANY
                w.options = [ANY, *values]
                w.value = keep
        finally:
            self._quiet = False

    def set_person(self, label: str) -> None:
        self.person.value = label

    def set_place(self, place: str) -> None:
        self.place.value = place

    def clear(self) -> None:
        self._quiet = True
        try:
            self.kind.value = "All"
            self.since.value = None
            self.until.value = None
            for w in (self.camera, self.place, self.tag, self.person):
                w.value = ANY
            self.has_text.value = False
        finally:
            self._quiet = False
        self._on_change()

    def query(self, text: str = "") -> Query:
        sort, desc = SORTS[self.sort.value]
        pick = (lambda w: None if w.value in (ANY, None) else w.value)
        person = pick(self.person)
        return Query(kind=KINDS[self.kind.value], since=self.since.value, until=self.until.value,
                     camera=pick(self.camera), place=pick(self.place), tag=pick(self.tag),
                     person=getattr(self, "_people", {}).get(person) if person else None,
                     has_text=True if self.has_text.value else None,
                     sort=sort, desc=desc, text=text.strip())
