"""People from faces, incrementally, without ever undoing what a user decided.

After each face run: recognisable faces with no person yet join the nearest known person when close enough
(and not rejected for that person); the rest, together with faces left over from earlier runs, are clustered,
and each cluster big enough becomes a new person. A person seen once long ago is therefore found as soon as
more photos of them arrive. ``confirmed`` and ``rejected`` assignments are user facts: never changed here.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from workbench.catalog.filters import Eq, In, IsNull
from workbench.catalog.store import Catalog
from workbench.faces.quality import skip_reason
from workbench.settings import Settings
from workbench.stages.faces import FACES_TABLE

LIVE = ("auto", "confirmed")   # sources that say which person a face is


def now() -> datetime:
    return datetime.now(timezone.utc)


def assignment_key(face_id: str, person_id: str) -> str:
    return f"{face_id}\0{person_id}"


def new_person_id(model_id: str, seed: str) -> str:
    """Deterministic from what founded the person, so rerunning an interrupted update creates no twins."""
    return hashlib.sha256(f"{model_id}|{seed}".encode()).hexdigest()[:12]


@dataclass
class FaceSet:
    """The faces of one model: ids, media, usable mask, quality and the embeddings of usable faces."""

    ids: list[str]
    media: list[str]
    usable: np.ndarray
    quality: np.ndarray
    vectors: dict[str, np.ndarray]


def load_faces(catalog: Catalog, settings: Settings, model_id: str) -> FaceSet:
    if not catalog.has(FACES_TABLE):
        return FaceSet([], [], np.zeros(0, bool), np.zeros(0), {})
    t = catalog.read(FACES_TABLE, ["face_id", "media_id", "size_px", "sharpness", "quality", "embedding"],
                     Eq("model_id", model_id)).to_pylist()
    usable = np.array([skip_reason(r["size_px"], r["sharpness"], r["embedding"] is not None, settings) is None
                       for r in t], bool)
    vectors = {r["face_id"]: np.asarray(r["embedding"], np.float32) for r, u in zip(t, usable) if u}
    return FaceSet([r["face_id"] for r in t], [r["media_id"] for r in t], usable,
                   np.array([r["quality"] or 0.0 for r in t], float), vectors)


def load_assignments(catalog: Catalog) -> pd.DataFrame:
    return catalog.read("face_assignments", ["key", "face_id", "person_id", "source", "user", "at"]).to_pandas()


def live_persons(catalog: Catalog, model_id: str) -> list[dict[str, Any]]:
    """Persons of this model that were not merged away."""
    return catalog.read("persons", None, Eq("model_id", model_id) & IsNull("merged_into")).to_pylist()


def current_person(assignments: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """face_id -> (person_id, source) for faces someone or something has assigned."""
    live = assignments[assignments["source"].isin(LIVE)]
    # .tolist() first: iterating pandas' Arrow-backed strings costs ~100 us a row (0.5 s at 5000 faces)
    return {f: (p, s) for f, p, s in zip(*(live[c].tolist() for c in ("face_id", "person_id", "source")))}


def update_people(catalog: Catalog, settings: Settings, model_id: str, *, redo_auto: bool = False) -> dict[str, int]:
    """Assign unassigned recognisable faces. With ``redo_auto`` (after a threshold change) every automatic
    assignment is recomputed under the current settings, each person anchored where they were, so names and
    hidden flags stay with the right faces; user decisions are kept as they are. Returns counts."""
    from workbench.people.clustering import cluster_faces

    faces = load_faces(catalog, settings, model_id)
    persons = live_persons(catalog, model_id)
    live_ids = {r["person_id"] for r in persons}
    assignments = load_assignments(catalog)
    assignments = assignments[assignments["face_id"].isin(set(faces.ids))]
    # Where each person is in embedding space, from all their faces before anything is redone: a redo lets
    # faces find their way back to the same (named, hidden) people instead of inventing new ones.
    anchors = _person_means(faces, current_person(assignments), live_ids)
    if redo_auto and faces.ids:
        auto = assignments[assignments["source"] == "auto"]
        if len(auto):
            catalog.delete("face_assignments", In("key", auto["key"].tolist()))
        assignments = assignments[assignments["source"] != "auto"]
    current = current_person(assignments)
    rejected = set(zip(assignments.loc[assignments["source"] == "rejected", "face_id"],
                       assignments.loc[assignments["source"] == "rejected", "person_id"]))

    pending = [f for f in faces.ids if f in faces.vectors and f not in current]
    new_rows: list[dict[str, Any]] = []
    joined = 0
    # 1. join known people
    means = anchors
    if pending and means:
        pids = list(means)
        m = np.stack([means[p] for p in pids])
        x = np.stack([faces.vectors[f] for f in pending])
        d = np.linalg.norm(x[:, None, :] - m[None, :, :], axis=2)
        for i, f in enumerate(pending):
            for j, p in enumerate(pids):
                if (f, p) in rejected:
                    d[i, j] = np.inf
        best = d.argmin(axis=1)
        left = []
        for i, f in enumerate(pending):
            if d[i, best[i]] <= settings.face_match_distance:
                new_rows.append(assignment_row(f, pids[best[i]], "auto"))
                current[f] = (pids[best[i]], "auto")
                joined += 1
            else:
                left.append(f)
        pending = left
    # 2. cluster what is left (this run's faces and earlier leftovers together)
    created = 0
    fresh: list[dict[str, Any]] = []
    if len(pending) >= max(2, settings.face_min_cluster_size):
        labels = cluster_faces(np.stack([faces.vectors[f] for f in pending]), method=settings.face_cluster_method,
                               max_distance=settings.face_match_distance,
                               min_cluster_size=settings.face_min_cluster_size)
        taken = set(catalog.read("persons", ["person_id"]).column("person_id").to_pylist())
        for lab in sorted(set(int(v) for v in labels) - {-1}):
            members = sorted(f for f, v in zip(pending, labels) if v == lab)
            pid, n = new_person_id(model_id, members[0]), 0
            while pid in taken:  # its founding face once founded someone a user has since changed
                n += 1
                pid = new_person_id(model_id, f"{members[0]}|{n}")
            taken.add(pid)
            fresh.append({"person_id": pid, "model_id": model_id, "name": None, "hidden": False,
                          "merged_into": None, "created_at": now()})
            for f in members:
                new_rows.append(assignment_row(f, pid, "auto"))
                current[f] = (pid, "auto")
            created += 1
    if fresh:
        insert_persons(catalog, fresh)
    if new_rows:
        catalog.upsert("face_assignments", new_rows, "key")
    refresh_persons(catalog, settings, model_id, faces)
    return {"joined": joined, "new_people": created, "unassigned": len(pending) - sum(
        1 for f in pending if f in current)}


def assignment_row(face_id: str, person_id: str, source: str, user: str | None = None) -> dict[str, Any]:
    return {"key": assignment_key(face_id, person_id), "face_id": face_id, "person_id": person_id,
            "source": source, "user": user, "at": now()}


def _person_means(faces: FaceSet, current: dict[str, tuple[str, str]], live: set[str]) -> dict[str, np.ndarray]:
    groups: dict[str, list[np.ndarray]] = {}
    for f, (p, _) in current.items():
        if p in live and f in faces.vectors:
            groups.setdefault(p, []).append(faces.vectors[f])
    return {p: np.mean(v, axis=0) for p, v in groups.items()}


def insert_persons(catalog: Catalog, rows: list[dict[str, Any]]) -> None:
    """Insert persons that do not exist yet (existing ones keep their name, hidden flag and dates)."""
    full = [{"mean": None, "cover_face_id": None, "face_count": 0, "media_count": 0, "updated_at": now(), **r}
            for r in rows]
    catalog.insert_new("persons", full, "person_id")


def refresh_persons(catalog: Catalog, settings: Settings, model_id: str, faces: FaceSet | None = None) -> None:
    """Recompute every live person's mean, cover face and counts; drop people left with no face unless a user
    named or hid them."""
    faces = faces or load_faces(catalog, settings, model_id)
    persons = live_persons(catalog, model_id)
    if not persons:
        return
    assignments = load_assignments(catalog)
    assignments = assignments[assignments["face_id"].isin(set(faces.ids))]
    current = current_person(assignments)
    media_of = dict(zip(faces.ids, faces.media))
    quality = dict(zip(faces.ids, faces.quality))
    members: dict[str, list[str]] = {}
    for f, (p, _) in current.items():
        members.setdefault(p, []).append(f)
    confirmed = {f for f, (_, s) in current.items() if s == "confirmed"}
    updates, empty = [], []
    for r in persons:
        fs = members.get(r["person_id"], [])
        if not fs and not r["name"] and not r["hidden"]:
            empty.append(r["person_id"])
            continue
        vecs = [faces.vectors[f] for f in fs if f in faces.vectors]
        cover = max(fs, key=lambda f: (f in confirmed, quality.get(f, 0.0), f)) if fs else None
        r.update(mean=np.mean(vecs, axis=0).astype(np.float32).tolist() if vecs else None, cover_face_id=cover,
                 face_count=len(fs), media_count=len({media_of[f] for f in fs}), updated_at=now())
        updates.append(r)
    if empty:
        catalog.delete("persons", In("person_id", empty))
    if updates:
        catalog.upsert("persons", updates, "person_id")
