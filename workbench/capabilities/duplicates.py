"""``lib.duplicates``: duplicate groups computed on demand from the stored fingerprints (suggestions only:
nothing is deleted here), and the "not duplicates" decisions that keep a group from coming back."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import PurePath

import pandas as pd

from workbench.access.scope import EVERYTHING, Scope
from workbench.capabilities.context import Capability


class Duplicates(Capability):
    """``lib.duplicates(kind)`` lists groups; ``dismiss`` says some media are not duplicates."""

    def __call__(self, kind: str | None = None, *, scope: Scope = EVERYTHING) -> pd.DataFrame:
        """Duplicate groups: [kind, members ([{id, path}], keeper first), keep, reason, key]. ``kind``: exact,
        same or similar (bursts, RAW+JPEG, live photos). Suggestions only: nothing is ever deleted here. With a
        ``scope``: groups among its media only, paths as its viewer may see them."""
        from workbench.duplicates.report import duplicate_groups
        exclude = self.lib.trash.ids()
        mine = scope.ids()
        if mine is not None:
            exclude |= set(self.catalog.read("media", ["id"]).column("id").to_pylist()) - mine
        df = duplicate_groups(self.catalog, self.settings, kind, exclude=exclude)
        if scope.sees_all or df.empty:
            return df
        # Paths the viewer imported stay; other people's folder names are cut to the file name.
        own = scope.own_paths(self.catalog, {m["id"] for ms in df["members"] for m in ms})
        df = df.copy()
        df["members"] = [[{**m, "path": m["path"] if m["path"] in own.get(m["id"], ()) else PurePath(m["path"]).name}
                          for m in ms] for ms in df["members"]]
        return df

    def dismiss(self, ids: Iterable[str], *, user: str | None = None) -> None:
        """"Not duplicates": these media are never suggested as a group again (no pair among them links)."""
        from workbench.duplicates.groups import group_key
        full = sorted({self.lib.resolve_id(i) for i in ids})
        if len(full) < 2:
            raise ValueError("give at least two media that are not duplicates of each other")
        with self.lock:
            self.catalog.upsert("duplicate_decisions", [{"key": group_key(full), "members": full,
                                                         "decision": "not_duplicates", "user": user,
                                                         "at": datetime.now(timezone.utc)}], "key")
