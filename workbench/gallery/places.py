"""The places section: every place the user's photos were taken at, largest first; a click filters by it."""
from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as W
import pandas as pd

from workbench.gallery.ui import card, classes, esc, missing, plural

if TYPE_CHECKING:
    from workbench.gallery.shell import Shell


def places_of(media: pd.DataFrame) -> pd.DataFrame:
    """[place, items, cover_id, country] of named places, most items first (cover: the newest media)."""
    if not len(media) or "place" not in media:
        return pd.DataFrame(columns=["place", "items", "cover_id", "country"])
    named = media[media["place"].map(lambda p: not missing(p))]
    if not len(named):
        return pd.DataFrame(columns=["place", "items", "cover_id", "country"])
    named = named.sort_values("taken_at", ascending=False, na_position="last")
    g = named.groupby("place", sort=False)
    out = pd.DataFrame({"items": g.size(), "cover_id": g["id"].first(),
                        "country": g["place_country"].first() if "place_country" in named else None})
    return out.reset_index().sort_values(["items", "place"], ascending=[False, True]).reset_index(drop=True)


class PlacesPage(W.VBox):
    def __init__(self, shell: "Shell"):
        self.shell = shell
        self.title = W.HTML("<div class='wb-title'>Places</div>")
        self.cards = classes(W.Box([]), "wb-cards")
        super().__init__([self.title, self.cards])
        self.add_class("wb-places")

    def enter(self) -> None:
        media = self.shell.view.media()
        places = places_of(media)
        located = int(media["gps_lat"].notna().sum()) if "gps_lat" in media else 0
        if not len(places):
            extra = (f" {plural(located, 'item')} have GPS positions but no place name yet." if located else "")
            self.title.value = ("<div class='wb-title'>Places</div><div class='wb-empty'>No places yet: places come "
                                f"from GPS positions in photos and videos.{esc(extra)}</div>")
            self.cards.children = []
            return
        self.title.value = (f"<div class='wb-title'>Places</div><div class='wb-sub'>"
                            f"{esc(plural(len(places), 'place'))}</div>")
        covers = self.shell.thumbnails(places["cover_id"].tolist())
        self.cards.children = [
            card(covers.get(r["cover_id"]), r["place"], plural(int(r["items"]), "item"),
                 lambda p=r["place"]: self.shell.run(lambda: self.shell.filter_by(place=p)),
                 tooltip=f"Show photos taken in {r['place']}")
            for r in places.to_dict("records")]
