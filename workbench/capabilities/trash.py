"""``lib.trash``: media put aside (hidden everywhere, nothing deleted) until someone empties the trash, the only
deletion there is (``catalog/trash.py`` does the deleting)."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from workbench.capabilities.context import Capability
from workbench.catalog.filters import In


class Trash(Capability):
    """``lib.trash(ids)`` puts media in the trash; ``ids``, ``hide``, ``list``, ``restore``, ``empty``."""

    def __call__(self, ids: Iterable[str], *, user: str | None = None, reason: str | None = None) -> int:
        """Put media in the trash: hidden from listings and search, nothing deleted. Returns how many were added."""
        from workbench.catalog import trash
        full = [self.lib.resolve_id(i) for i in ids]
        with self.lock:
            return trash.put(self.catalog, full, user, reason)

    def ids(self) -> set[str]:
        """Ids of the media in the trash, which every listing leaves out."""
        from workbench.catalog import trash
        return trash.trashed_ids(self.catalog)

    def hide(self, df: pd.DataFrame, column: str = "id", trashed: set[str] | None = None) -> pd.DataFrame:
        """``df`` without its rows of media in the trash (``column`` holds the media id; ``trashed``: ``ids()``
        already read). The one "not in the trash" filter every listing goes through."""
        return df[~df[column].isin(self.ids() if trashed is None else trashed)]

    def restore(self, ids: Iterable[str]) -> int:
        """Take media out of the trash. Returns how many were in it."""
        from workbench.catalog import trash
        full = [self.lib.resolve_id(i) for i in ids]
        with self.lock:
            return trash.take_back(self.catalog, full)

    def list(self) -> pd.DataFrame:
        """What is in the trash: [id, path, kind, size_bytes, reason, at]."""
        t = self.catalog.read("trash", ["media_id", "reason", "at"]).to_pandas().rename(columns={"media_id": "id"})
        if t.empty:
            return pd.DataFrame(columns=["id", "path", "kind", "size_bytes", "reason", "at"])
        m = self.catalog.read("media", ["id", "path", "kind", "size_bytes"], In("id", list(t["id"]))).to_pandas()
        return m.merge(t, on="id").sort_values("at").reset_index(drop=True)

    def empty(self) -> dict[str, int]:
        """Delete everything in the trash for good: catalog rows, stored originals, renditions, and originals
        replaced by compressed versions (``replace_originals``). Files indexed in place (``--mode reference``) are
        forgotten, never deleted. This is the only deletion there is."""
        from workbench.catalog import trash
        from workbench.compress.replace import drop_cached, empty_file_trash
        from workbench.people.assign import refresh_persons
        tables = ["sources", "errors", "manual_tags", "favourites"]
        for stage in self.stages.all():
            tables.append(stage.name)
            tables.extend(stage.side_schemas())
        with self.lock:
            drop_cached(self.storage, sorted(self.ids()))
            res = trash.empty(self.catalog, self.storage, list(dict.fromkeys(tables)), "faces")
            res.update(empty_file_trash(self.storage))   # originals replaced by compressed versions
            if res["media"]:
                refresh_persons(self.catalog, self.settings, self.stages.face_model_id())
                self.catalog.compact()
            return res
