"""Suggestions for faces nobody has put with a person yet: the nearest existing person, for a user to accept.

Automatic assignment (``people.assign``) only joins a face to a person closer than ``face_match_distance``
(0.5), because a wrong automatic merge is costly. A suggestion is checked by a person before anything changes,
so it may reach further: up to dlib's own verification threshold.

``Settings.face_suggest_max_distance`` = 0.6 is dlib's "same person" distance for these embeddings (face_recognition's
default tolerance; dlib reports 99.38 % pair accuracy on LFW with it), the looser bound that the comment on
``Settings.face_match_distance`` contrasts with clustering's 0.5. Measured on the shared corpus's labelled faces
(the ``benchmarks/faces_eval.py`` folder, default settings; tests/test_dashboard_faces.py): of the 6 usable faces
left unassigned, the two of people who have a person were at 0.474 and 0.536 from their person's mean (both
suggested rightly), and the nearest wrong person of any other face was 0.639 away (none suggested).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.catalog.store import Catalog
from workbench.people.assign import current_person, live_persons, load_assignments, load_faces
from workbench.people.faces_view import media_paths
from workbench.settings import Settings

SUGGESTION_COLUMNS = ["face_id", "media_id", "path", "person_id", "person", "distance"]


def suggest_people(catalog: Catalog, settings: Settings, model_id: str, *,
                   max_distance: float | None = None, include_hidden: bool = False,
                   exclude_media: set[str] | frozenset[str] = frozenset()) -> pd.DataFrame:
    """For each recognisable face with no person: the person whose mean embedding is nearest, when within
    ``max_distance`` (Euclidean, the unit of ``face_match_distance``; default ``face_suggest_max_distance``) and not
    rejected for that face by a user. Hidden people are candidates only with ``include_hidden``. Rows sorted by
    distance, closest first."""
    if max_distance is None:
        max_distance = settings.face_suggest_max_distance
    if max_distance <= 0:
        raise ValueError(f"max_distance must be a positive embedding distance (default "
                         f"{settings.face_suggest_max_distance}), not {max_distance}")
    empty = pd.DataFrame(columns=SUGGESTION_COLUMNS)
    faces = load_faces(catalog, settings, model_id)
    persons = [p for p in live_persons(catalog, model_id)
               if p["mean"] is not None and (include_hidden or not p["hidden"])]
    if not faces.vectors or not persons:
        return empty
    assignments = load_assignments(catalog)
    assigned = current_person(assignments)
    media_of = dict(zip(faces.ids, faces.media))
    pending = [f for f in faces.ids if f in faces.vectors and f not in assigned and media_of[f] not in exclude_media]
    if not pending:
        return empty
    pids = [p["person_id"] for p in persons]
    means = np.asarray([p["mean"] for p in persons], np.float32)
    x = np.stack([faces.vectors[f] for f in pending])
    d = np.linalg.norm(x[:, None, :] - means[None, :, :], axis=2)
    column = {p: j for j, p in enumerate(pids)}
    row = {f: i for i, f in enumerate(pending)}
    rejected = assignments[assignments["source"] == "rejected"]
    for f, p in zip(rejected["face_id"], rejected["person_id"]):
        if f in row and p in column:
            d[row[f], column[p]] = np.inf  # "not this person" stays said
    best = d.argmin(axis=1)
    names = {p["person_id"]: p["name"] for p in persons}
    near = [(f, pids[best[i]], float(d[i, best[i]])) for i, f in enumerate(pending) if d[i, best[i]] <= max_distance]
    paths = media_paths(catalog, {media_of[f] for f, _, _ in near})
    out = [{"face_id": f, "media_id": media_of[f], "path": paths.get(media_of[f]), "person_id": p,
            "person": names[p], "distance": dist} for f, p, dist in near]
    df = pd.DataFrame(out, columns=SUGGESTION_COLUMNS)
    return df.sort_values(["distance", "face_id"]).reset_index(drop=True)
