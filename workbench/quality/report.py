"""Read side of quality: stored measurements + current thresholds -> flags and a score per media."""
from __future__ import annotations

import math

import pandas as pd

from workbench.catalog.filters import In, where
from workbench.catalog.store import Catalog
from workbench.quality.measures import QualityThresholds, flags_for, score, video_flags, video_score
from workbench.stages.quality import MEASURES

COLUMNS = ["id", "path", "kind", "score", "flags"]


def quality_frame(catalog: Catalog, thresholds: QualityThresholds, kind: str | None = None,
                  exclude: set[str] | None = None) -> pd.DataFrame:
    from workbench.stages.quality import VERSION as version
    if not catalog.has("quality"):
        return pd.DataFrame(columns=COLUMNS + list(MEASURES))
    q = catalog.read("quality", ["media_id", *MEASURES], where(version=version, status="ok")).to_pylist()
    q = [r for r in q if not exclude or r["media_id"] not in exclude]
    media = catalog.read("media", ["id", "path", "kind"], In("id", [r["media_id"] for r in q])).to_pylist() \
        if q else []
    info = {m["id"]: m for m in media}
    rows = []
    for r in q:
        m = info.get(r["media_id"])
        if m is None or (kind and m["kind"] != kind):
            continue
        measures = {k: v for k, v in r.items() if k != "media_id" and v is not None and not
                    (isinstance(v, float) and math.isnan(v))}
        if m["kind"] == "video":
            flags = video_flags(measures, thresholds)
            s = video_score(measures, flags)
        else:
            flags = flags_for(measures, thresholds)
            s = score(measures, flags)
        rows.append({"id": m["id"], "path": m["path"], "kind": m["kind"], "score": s, "flags": flags,
                     **{k: r[k] for k in MEASURES}})
    df = pd.DataFrame(rows, columns=COLUMNS + list(MEASURES))
    return df.sort_values(["score", "path"]).reset_index(drop=True)
