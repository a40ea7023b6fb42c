"""``lib.people``: faces of the current face model and the people they make up, with the user's decisions (name,
merge, move, split, reject, hide), which clustering never undoes. Every decision takes the write lock."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from workbench.access.scope import EVERYTHING, Scope
from workbench.capabilities.context import Capability
from workbench.catalog.filters import In, Ne
from workbench.errors import NotFoundError


class People(Capability):
    """``lib.people()`` lists people; ``faces``, ``resolve``, ``name``, ``merge``, ``move_faces``, ``split``, ..."""

    def __call__(self, *, include_hidden: bool = False, scope: Scope = EVERYTHING) -> pd.DataFrame:
        """People of the current face model: [person_id, name, face_count, media_count, hidden, cover_face_id],
        named first, then by how often they appear. A ``scope`` that does not see all sees the people with a face
        in its media, counted (and their cover face chosen) from its media only; names are the library's."""
        from workbench.people.faces_view import people_frame
        df = people_frame(self.catalog, self.model_id(), include_hidden=include_hidden)
        if scope.sees_all:
            return df
        f = self.visible_faces(scope)
        df = df[df["person_id"].isin(set(f["person_id"]))].copy()
        if df.empty:
            return df.reset_index(drop=True)
        g = f.groupby("person_id")
        df["face_count"] = df["person_id"].map(g.size()).astype(int)
        df["media_count"] = df["person_id"].map(g["media_id"].nunique()).astype(int)
        best = f.sort_values(["quality", "face_id"], ascending=[False, True]).drop_duplicates("person_id")
        best = best.set_index("person_id")["face_id"]
        seen = set(f["face_id"])
        df["cover_face_id"] = [c if c in seen else best[p] for p, c in zip(df["person_id"], df["cover_face_id"])]
        df = df.assign(_unnamed=df["name"].isna())
        return (df.sort_values(["_unnamed", "face_count", "name", "person_id"], ascending=[True, False, True, True])
                .drop(columns="_unnamed").reset_index(drop=True))

    def visible_faces(self, scope: Scope) -> pd.DataFrame:
        """[face_id, media_id, quality, person_id] of the assigned faces in the media of ``scope``."""
        from workbench.people.faces_view import assigned_faces
        ids = scope.ids()
        if ids is None:
            ids = frozenset(self.catalog.read("media", ["id"]).column("id").to_pylist())
        return assigned_faces(self.catalog, self.model_id(), ids)

    def model_id(self) -> str:
        """The face stage's current version: faces and people belong to one face model."""
        return self.stages.face_model_id()

    def faces(self, id_or_prefix: str | None = None, *, person: str | None = None,
              scope: Scope = EVERYTHING) -> pd.DataFrame:
        """Faces of the current face model: [face_id, media_id, path, bbox, frame, t_s, person_id, person,
        source, score, quality, skipped]. ``bbox`` is [x, y, w, h] in pixels of the upright image; ``skipped``
        says why a face is not recognised (too small, too blurry), or is empty. With a ``scope``: faces in its
        media, paths as its viewer may see them."""
        from workbench.people.faces_view import faces_frame
        mid = scope.resolve_id(self.lib, id_or_prefix) if id_or_prefix else None
        pid = self.resolve(person, scope=scope) if person else None
        df = faces_frame(self.catalog, self.settings, self.model_id(), media_id=mid, person_id=pid)
        return scope.redact(scope.keep(df, "media_id"))

    def resolve(self, person: str, *, scope: Scope = EVERYTHING) -> str:
        """A person id from an id, a unique id prefix, or a name (case-insensitive); with a ``scope`` that does
        not see all, among the people with a face in its media (others are reported as unknown)."""
        from workbench.people.faces_view import resolve_person
        if scope.sees_all:
            return resolve_person(self.catalog, self.model_id(), person)
        seen = set(self.visible_faces(scope)["person_id"])
        p = str(person).strip()
        low = p.lower()
        known = self(include_hidden=True)
        known = known[known["person_id"].isin(seen)]
        named = known[known["name"].notna()]
        for match in (named[named["name"].str.lower() == low],
                      named[named["name"].str.lower().str.contains(low, regex=False)] if low else named.iloc[:0],
                      known[known["person_id"].str.startswith(low)] if len(low) >= 4 else known.iloc[:0]):
            if len(match) == 1:
                return match.iloc[0]["person_id"]
        try:  # an id of a person merged into a visible one
            pid = resolve_person(self.catalog, self.model_id(), p)
        except NotFoundError:
            pid = None
        if pid in seen:
            return pid
        raise NotFoundError(f"no person named or with id {person!r}: see `workbench people`")

    def media_of(self, person: str | None) -> set[str] | None:
        """Ids of the media ``person`` appears in (None: no person asked for, no restriction)."""
        if person is None:
            return None
        from workbench.people.faces_view import media_of_person
        return media_of_person(self.catalog, self.model_id(), self.resolve(person))

    def _refresh(self) -> None:
        from workbench.people.assign import refresh_persons
        refresh_persons(self.catalog, self.settings, self.model_id())

    def name(self, person: str, name: str | None, *, scope: Scope = EVERYTHING) -> None:
        """Give a person a name (None clears it); names are unique per library, so a clash suggests a merge.
        With a ``scope``: curators and admins, a person they see."""
        from workbench.people.decisions import name_person
        scope.require_curator("name people")
        pid = self.resolve(person, scope=scope)
        with self.lock:
            name_person(self.catalog, pid, name)

    def merge(self, target: str, *others: str, user: str | None = None, scope: Scope = EVERYTHING) -> str:
        """The others are the same person as ``target``: their faces move to it, confirmed. Returns its id.
        With a ``scope``: curators and admins, people they see, recorded under its user."""
        from workbench.people.decisions import merge_people
        scope.require_curator("merge people")
        pid = self.resolve(target, scope=scope)
        rest = [self.resolve(o, scope=scope) for o in others]
        with self.lock:
            pid = merge_people(self.catalog, pid, rest, scope.acting_user(user))
            self._refresh()
        return pid

    def move_faces(self, face_ids: Iterable[str], person: str, user: str | None = None) -> None:
        """These faces are ``person`` (confirmed), and not the person they were put with."""
        from workbench.people.decisions import move_faces
        with self.lock:
            move_faces(self.catalog, list(face_ids), self.resolve(person), user)
            self._refresh()

    def split(self, person: str, face_ids: Iterable[str], *, name: str | None = None,
              user: str | None = None) -> str:
        """These faces of ``person`` are somebody else: a new person (returned), never put back."""
        from workbench.people.decisions import split_person
        with self.lock:
            pid = split_person(self.catalog, self.resolve(person), list(face_ids), user, name)
            self._refresh()
        return pid

    def reject_faces(self, face_ids: Iterable[str], *, person: str | None = None, user: str | None = None) -> None:
        """"Not this person": the faces leave their person (or ``person``) and are never assigned to it again."""
        from workbench.people.decisions import reject_faces
        with self.lock:
            reject_faces(self.catalog, list(face_ids), user, self.resolve(person) if person else None)
            self._refresh()

    def hide(self, person: str, hidden: bool = True) -> None:
        """Hide a person from people lists (their faces stay theirs, so they are not found again as new)."""
        from workbench.people.decisions import hide_person
        with self.lock:
            hide_person(self.catalog, self.resolve(person), hidden)

    def update(self, *, redo_auto: bool = False) -> dict[str, int]:
        """Assign faces to people now (``process`` does this after finding faces). With ``redo_auto``, automatic
        assignments are recomputed under the current thresholds; user decisions are kept."""
        from workbench.people.assign import update_people
        with self.lock:
            return update_people(self.catalog, self.settings, self.model_id(), redo_auto=redo_auto)

    def suggestions(self, *, max_distance: float | None = None, include_hidden: bool = False) -> pd.DataFrame:
        """Faces with no person, each with the nearest person within ``max_distance`` (default the
        ``face_suggest_max_distance`` setting, 0.6): [face_id, media_id, path, person_id, person,
        distance], closest first. Why: automatic assignment stops at face_match_distance to avoid wrong merges;
        a user can confirm the near misses (``move_faces``) or refuse them (``reject_faces(person=...)``)."""
        from workbench.people.suggest import suggest_people
        return suggest_people(self.catalog, self.settings, self.model_id(), max_distance=max_distance,
                              include_hidden=include_hidden, exclude_media=self.lib.trash.ids())

    def crop(self, face_id: str, size_px: int = 160, margin: float = 0.25, *, scope: Scope = EVERYTHING) -> Any:
        """A square PIL image of one face (from the preview), for notebooks, dashboards and the gallery; with a
        ``scope``, of a face in its media (others are reported as unknown)."""
        from workbench.people.faces_view import face_crop, face_media
        if scope.ids() is not None:
            mid = face_media(self.catalog, face_id)
            if mid is None or not scope.contains(mid):
                raise NotFoundError(f"no face with id {face_id!r}: see `workbench faces`")
        return face_crop(self.lib, face_id, size_px, margin)

    def prune(self) -> dict[str, int]:
        """People of other face models, and assignments of faces that no longer exist (``prune`` holds the lock)."""
        removed: dict[str, int] = {}
        other_models = Ne("model_id", self.model_id())
        n = self.catalog.count("persons", other_models)
        if n:
            self.catalog.delete("persons", other_models)
            removed["persons"] = n
        faces = (set(self.catalog.read("faces", ["face_id"]).column("face_id").to_pylist())
                 if self.catalog.has("faces") else set())
        gone = [k for k, f in zip(*[self.catalog.read("face_assignments", ["key", "face_id"]).column(c).to_pylist()
                                    for c in ("key", "face_id")]) if f not in faces]
        if gone:
            self.catalog.delete("face_assignments", In("key", gone))
            removed["face_assignments"] = len(gone)
        return removed
