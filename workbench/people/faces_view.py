"""Read-side of faces and people: the tables ``Library.faces``/``people`` return, person lookup, face crops."""
from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.catalog import filters
from workbench.catalog.filters import Eq, In, IsNull
from workbench.catalog.store import Catalog
from workbench.errors import NotFoundError
from workbench.faces.quality import skip_reason
from workbench.people.assign import FACES_TABLE, LIVE, load_assignments
from workbench.settings import Settings

FACE_COLUMNS = ["face_id", "media_id", "path", "bbox", "frame", "t_s", "person_id", "person", "source", "score",
                "quality", "skipped"]
PEOPLE_COLUMNS = ["person_id", "name", "face_count", "media_count", "hidden", "cover_face_id"]


def faces_frame(catalog: Catalog, settings: Settings, model_id: str, media_id: str | None = None,
                person_id: str | None = None) -> pd.DataFrame:
    if not catalog.has(FACES_TABLE):
        return pd.DataFrame(columns=FACE_COLUMNS)
    where = Eq("model_id", model_id)
    if media_id:
        where &= Eq("media_id", media_id)
    rows = catalog.read(FACES_TABLE, ["face_id", "media_id", "bbox", "frame", "t_s", "score", "quality", "size_px",
                                      "sharpness", "embedding"], where).to_pylist()
    a = load_assignments(catalog)
    live = a[a["source"].isin(LIVE)]
    who = {f: (p, s) for f, p, s in zip(*(live[c].tolist() for c in ("face_id", "person_id", "source")))}
    names = dict(zip(*[catalog.read("persons", ["person_id", "name"]).column(c).to_pylist()
                       for c in ("person_id", "name")]))
    paths = media_paths(catalog, {r["media_id"] for r in rows})
    videos = {r["media_id"] for r in rows if r["t_s"] is not None}
    sizes = ({m["id"]: (m["width"], m["height"]) for m in catalog.read("media", ["id", "width", "height"],
                                                                        In("id", videos)).to_pylist()}
             if videos else {})
    out = []
    for r in rows:
        pid, src = who.get(r["face_id"], (None, None))
        if person_id and pid != person_id:
            continue
        bbox = list(r["bbox"])
        if r["media_id"] in sizes:      # stored in pixels of the sampled frame: in the video's own pixels here
            k = video_box_scale(*sizes[r["media_id"]])
            bbox = [int(round(v * k)) for v in bbox]
        out.append({"face_id": r["face_id"], "media_id": r["media_id"], "path": paths.get(r["media_id"]),
                    "bbox": bbox, "frame": r["frame"], "t_s": r["t_s"], "person_id": pid,
                    "person": names.get(pid) if pid else None, "source": src, "score": r["score"],
                    "quality": r["quality"],
                    "skipped": skip_reason(r["size_px"], r["sharpness"], r["embedding"] is not None, settings)})
    df = pd.DataFrame(out, columns=FACE_COLUMNS)
    return df.sort_values(["path", "face_id"]).reset_index(drop=True)


def video_box_scale(width: int | None, height: int | None) -> float:
    """Video pixels per pixel of a stored video face box: the face stage finds faces in frames the sampler shrank
    to ``EMBED_LONG_EDGE`` on the long edge (``semantic.frames``), and keeps their boxes in those pixels."""
    from workbench.semantic.frames import EMBED_LONG_EDGE
    long_edge = max(width or 0, height or 0)
    return long_edge / min(EMBED_LONG_EDGE, long_edge) if long_edge else 1.0


def media_paths(catalog: Catalog, media_ids: set[str]) -> dict[str, str]:
    """media id -> its path, for the face and suggestion lists."""
    if not media_ids:
        return {}
    t = catalog.read("media", ["id", "path"], In("id", media_ids))
    return dict(zip(t.column("id").to_pylist(), t.column("path").to_pylist()))


def people_frame(catalog: Catalog, model_id: str, include_hidden: bool = False) -> pd.DataFrame:
    where = Eq("model_id", model_id) & IsNull("merged_into")
    if not include_hidden:
        where &= Eq("hidden", False)
    t = catalog.read("persons", PEOPLE_COLUMNS, where).to_pylist()
    df = pd.DataFrame(t, columns=PEOPLE_COLUMNS)
    df = df.assign(_unnamed=df["name"].isna())
    return (df.sort_values(["_unnamed", "face_count", "name", "person_id"], ascending=[True, False, True, True])
            .drop(columns="_unnamed").reset_index(drop=True))


def resolve_person(catalog: Catalog, model_id: str, person: str) -> str:
    """Id, unique id prefix or name (case-insensitive) -> person id, following merges."""
    from workbench.people.decisions import person_row
    p = person.strip()
    rows = catalog.read("persons", ["person_id", "name", "merged_into"], Eq("model_id", model_id)).to_pylist()
    named = [r for r in rows if r["name"] and not r["merged_into"]]
    by_name = [r for r in named if r["name"].lower() == p.lower()]
    if len(by_name) == 1:
        return by_name[0]["person_id"]
    part = [r for r in named if p.lower() in r["name"].lower()] if p else []
    if len(part) == 1:  # "obama" finds "Barack Obama" when nobody else's name contains it
        return part[0]["person_id"]
    by_id = [r for r in rows if r["person_id"].startswith(p.lower())] if len(p) >= 4 else []
    if len(by_id) == 1:
        return person_row(catalog, by_id[0]["person_id"])["person_id"]
    if len(by_id) > 1:
        raise NotFoundError(f"person id prefix {person!r} is ambiguous; type more of it")
    raise NotFoundError(f"no person named or with id {person!r}: see `workbench people`")


def media_of_person(catalog: Catalog, model_id: str, person_id: str) -> set[str]:
    a = load_assignments(catalog)
    fids = a.loc[a["source"].isin(LIVE) & (a["person_id"] == person_id), "face_id"].tolist()
    if not fids:
        return set()
    t = catalog.read(FACES_TABLE, ["media_id"], Eq("model_id", model_id) & In("face_id", fids))
    return set(t.column("media_id").to_pylist())


def assigned_faces(catalog: Catalog, model_id: str, media_ids: frozenset[str] | set[str]) -> pd.DataFrame:
    """[face_id, media_id, quality, person_id] of the faces assigned to a person in these media (cheap: no
    embeddings): what a viewer who sees only some media sees of people."""
    cols = ["face_id", "media_id", "quality", "person_id"]
    if not catalog.has(FACES_TABLE):
        return pd.DataFrame(columns=cols)
    f = catalog.read(FACES_TABLE, ["face_id", "media_id", "quality"], Eq("model_id", model_id)).to_pandas()
    f = f[f["media_id"].isin(media_ids)]
    a = load_assignments(catalog)
    a = a[a["source"].isin(LIVE)][["face_id", "person_id"]]
    return f.merge(a, on="face_id")[cols]


def face_media(catalog: Catalog, face_id: str) -> str | None:
    """The media a face was found in (None: no such face)."""
    if not catalog.has(FACES_TABLE):
        return None
    rows = catalog.read(FACES_TABLE, ["media_id"], Eq("face_id", str(face_id))).to_pylist()
    return rows[0]["media_id"] if rows else None


def face_crop(library: Any, face_id: str, size_px: int, margin: float) -> Any:
    """A square crop around the face, from the preview (images) or the frame it was found in (videos).

    A video's face box is in pixels of the frame the face stage looked at, which the frame sampler shrinks to
    ``EMBED_LONG_EDGE`` (448 px on the long edge), not of the video itself: cropping the full-size frame with it
    cut the wrong part (the top-left of the face, or none of it, on the people page)."""
    from PIL import Image
    rows = library.catalog.read(FACES_TABLE, ["media_id", "bbox", "t_s"], Eq("face_id", face_id)).to_pylist()
    if not rows:
        raise NotFoundError(f"no face with id {face_id!r}: see `workbench faces`")
    r = rows[0]
    # Only the media row and its preview are read: Library.get reads every stage's row (about 10x slower), and a
    # dashboard page shows dozens of crops.
    media = library.catalog.read("media", ["kind", "width"], Eq("id", r["media_id"])).to_pylist()[0]
    if media["kind"] == "video" and r["t_s"] is not None:
        from workbench.imaging.video_frames import frame_image
        img = frame_image(library.original_path(r["media_id"]), r["t_s"], library.settings)
        scale = video_box_scale(*img.size)
    else:
        with Image.open(_preview_path(library, r["media_id"])) as im:
            img = im.convert("RGB")
        scale = img.width / max(1, media["width"] or img.width)
    x, y, w, h = (v * scale for v in r["bbox"])
    side = max(w, h) * (1 + 2 * margin)
    # Centred on the face, moved back inside the picture where it fits (a face near an edge is not cut off).
    cx = min(max(x + w / 2, side / 2), img.width - side / 2) if side <= img.width else x + w / 2
    cy = min(max(y + h / 2, side / 2), img.height - side / 2) if side <= img.height else y + h / 2
    box = tuple(int(round(v)) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return img.crop(box).resize((size_px, size_px), Image.Resampling.LANCZOS)


def _preview_path(library: Any, media_id: str) -> Any:
    """The current preview of a media (a stream for ``Image.open``), found from the thumbnails table alone."""
    where = filters.where(media_id=media_id, version=library.thumbnail_version(), status="ok")
    has = library.catalog.has("thumbnails")
    rows = library.catalog.read("thumbnails", ["preview"], where).to_pylist() if has else []
    if not rows:
        raise NotFoundError(f"media {media_id} has no preview yet: run `workbench process`")
    import io

    from workbench.storage import derived_key
    return io.BytesIO(library.storage.read_bytes(derived_key(rows[0]["preview"])))
