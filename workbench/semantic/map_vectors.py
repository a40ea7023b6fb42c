"""The vectors behind the embedding map: one CLIP vector per media, or one embedding per recognisable face.

Videos have one CLIP vector already, the normalised mean of their sampled frames (the embeddings stage stores
it), so a video is one point like a photo. Faces too small or too blurry to recognise have no embedding and are
left out, as are media in the trash.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.catalog.filters import Eq, In, NotNull, where
from workbench.catalog.store import Catalog
from workbench.settings import Settings

SOURCES = ("clip", "faces")
ITEM_COLUMNS = ["id", "media_id", "path", "kind", "person_id", "person"]


@dataclass(frozen=True)
class MapVectors:
    """``items``, one row per point: ``id`` (the media id, or the face id for faces), ``media_id``, ``path``,
    ``kind``, ``person_id`` and ``person`` (faces: who the face was put with, and their name if named);
    ``vectors``, float32, one row per item; ``metric``, the distance the vectors are compared with (cosine for
    CLIP, Euclidean for faces)."""
    source: str
    items: pd.DataFrame
    vectors: np.ndarray
    metric: str

    def __len__(self) -> int:
        return len(self.items)


def _media_rows(catalog: Catalog, ids: list[str]) -> pd.DataFrame:
    if not ids:
        return pd.DataFrame(columns=["media_id", "path", "kind"])
    t = catalog.read("media", ["id", "path", "kind"], In("id", ids)).to_pandas()
    return t.rename(columns={"id": "media_id"})


def clip_vectors(catalog: Catalog, table: str, model_id: str, exclude: set[str]) -> MapVectors:
    """The current model's CLIP vector of every media not in ``exclude`` (the trash), in path order."""
    empty = MapVectors("clip", pd.DataFrame(columns=ITEM_COLUMNS), np.zeros((0, 0), np.float32), "cosine")
    if not catalog.has(table):
        return empty
    t = catalog.read(table, ["media_id", "vector"], where(version=model_id, status="ok"))
    ids = t.column("media_id").to_pylist()
    keep = [i for i, m in enumerate(ids) if m not in exclude]
    if not keep:
        return empty
    vectors = np.asarray(t.column("vector").to_pylist(), dtype=np.float32)[keep]
    items = pd.DataFrame({"id": [ids[i] for i in keep], "media_id": [ids[i] for i in keep]})
    items = items.merge(_media_rows(catalog, list(items["media_id"])), on="media_id", how="left")
    items["person_id"], items["person"] = None, None
    order = items.sort_values(["path", "id"]).index.to_numpy()
    return MapVectors("clip", items.loc[order, ITEM_COLUMNS].reset_index(drop=True), vectors[order], "cosine")


def face_vectors(catalog: Catalog, settings: Settings, model_id: str, exclude: set[str]) -> MapVectors:
    """The embedding of every recognisable face of the current face model, with its person's name."""
    from workbench.people.assign import FACES_TABLE
    from workbench.people.faces_view import faces_frame

    empty = MapVectors("faces", pd.DataFrame(columns=ITEM_COLUMNS), np.zeros((0, 0), np.float32), "euclidean")
    if not catalog.has(FACES_TABLE):
        return empty
    t = catalog.read(FACES_TABLE, ["face_id", "embedding"],
                     Eq("model_id", model_id) & NotNull("embedding")).to_pylist()
    vec = {r["face_id"]: r["embedding"] for r in t if r["embedding"]}
    faces = faces_frame(catalog, settings, model_id)
    faces = faces[faces["face_id"].isin(vec.keys()) & ~faces["media_id"].isin(exclude)]
    if faces.empty:
        return empty
    kinds = _media_rows(catalog, sorted(set(faces["media_id"])))[["media_id", "kind"]]
    items = (faces.rename(columns={"face_id": "id"}).merge(kinds, on="media_id", how="left")
             [ITEM_COLUMNS].reset_index(drop=True))
    for col in ("person_id", "person"):
        items[col] = items[col].astype(object).where(items[col].notna(), None)
    vectors = np.asarray([vec[f] for f in items["id"]], dtype=np.float32)
    return MapVectors("faces", items, vectors, "euclidean")
