"""The people section: a face for each person the user can see; a click shows that person's photos."""
from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as W

from workbench.errors import AuthError
from workbench.gallery.ui import card, classes, person_label, plural, webp_bytes

if TYPE_CHECKING:
    from workbench.gallery.shell import Shell

#: Side of a face crop on a card, in pixels (the card is 170 px wide).
FACE_SIZE_PX = 170


class PeoplePage(W.VBox):
    def __init__(self, shell: "Shell", *, face_size_px: int = FACE_SIZE_PX):
        self.shell = shell
        self.face_size_px = face_size_px
        self.title = W.HTML("<div class='wb-title'>People</div>")
        self.cards = classes(W.Box([]), "wb-cards")
        from workbench.gallery.manage import PeopleTools
        # Naming and merging: curators and admins (the view refuses anyone else; hiding is only a courtesy).
        self.tools = PeopleTools(shell, self.enter)
        self.tools.layout.display = "none"
        super().__init__([self.title, self.tools, self.cards])
        self.add_class("wb-people")

    def enter(self) -> None:
        view = self.shell.view
        try:
            people = view.people()
        except AuthError:
            raise
        except Exception:   # no face stage in this library yet
            people = None
        if people is None or not len(people):
            self.title.value = ("<div class='wb-title'>People</div><div class='wb-empty'>No people found yet. Faces "
                                "are found by `workbench process`; name them in the faces dashboard.</div>")
            self.cards.children = []
            return
        self.title.value = (f"<div class='wb-title'>People</div>"
                            f"<div class='wb-sub'>{plural(len(people), 'person')} in the photos you can see</div>")
        curates = self.shell.user["role"] in ("admin", "curator")
        self.tools.layout.display = "" if curates else "none"
        if curates:
            self.tools.set_people(people)
        out = []
        for r in people.to_dict("records"):
            label = person_label(r)
            try:
                crop = webp_bytes(view.face_crop(r["cover_face_id"], size_px=self.face_size_px))
            except AuthError:
                raise
            except Exception:   # the crop's preview is missing: a blank card still works
                crop = None
            out.append(card(crop, label, plural(int(r["media_count"]), "photo"),
                            lambda label=label: self.shell.run(lambda: self.shell.filter_by(person=label)),
                            tooltip=f"Show photos of {label}"))
        self.cards.children = out
