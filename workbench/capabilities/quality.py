"""``lib.quality``: stored quality measures judged by the thresholds in force (flags follow a threshold change at
once; nothing is measured again)."""
from __future__ import annotations

import pandas as pd

from workbench.capabilities.context import Capability


class Quality(Capability):
    """``lib.quality(flag=..., kind=...)`` lists measured media worst first; ``thresholds``, ``set_threshold``."""

    def __call__(self, *, flag: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """Per measured media: [id, path, kind, score (0-100), flags, and every measurement], worst first;
        ``flag`` keeps only media carrying it. Trashed media are left out."""
        from workbench.quality.measures import FLAG_NAMES, VIDEO_FLAG_NAMES
        from workbench.quality.report import quality_frame
        if flag is not None and flag not in (*FLAG_NAMES, *VIDEO_FLAG_NAMES):
            raise ValueError(f"unknown quality flag {flag!r}; flags are {sorted({*FLAG_NAMES, *VIDEO_FLAG_NAMES})}")
        df = quality_frame(self.catalog, self.thresholds(), kind=kind, exclude=self.lib.trash.ids())
        if flag is not None:
            df = df[df["flags"].map(lambda f: flag in f)]
        return df.reset_index(drop=True)

    def thresholds(self):
        """The flag thresholds in force: the defaults of ``QualityThresholds`` with the library's overrides."""
        from workbench.quality.measures import QualityThresholds
        return QualityThresholds.from_overrides(self.settings.quality_thresholds)

    def set_threshold(self, name: str, value: float) -> None:
        """Change one flag threshold for this library (flags follow at once; nothing is re-measured)."""
        from workbench.quality.measures import QualityThresholds
        new = {**self.settings.quality_thresholds, name: value}
        QualityThresholds.from_overrides(new)  # refuses an unknown name before anything changes
        with self.lock:
            self.settings.quality_thresholds = new
            self.settings.save(self.root)
