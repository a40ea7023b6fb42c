"""``lib.integrity``: is every stored byte still what was stored? ``verify`` re-hashes every original; ``scrub``
re-reads originals, replica copies and renditions (a sample or a time budget at a time) and repairs from verified
copies; ``repair_events`` says what it found and did."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from workbench.capabilities.context import Capability
from workbench.parallel import Failure, run_isolated
from workbench.progress import bar
from workbench.storage import original_key

if TYPE_CHECKING:
    from workbench.replicas import ScrubReport


class Integrity(Capability):
    """``lib.integrity``: ``verify``, ``scrub``, ``repair_events``."""

    def verify(self, progress: bool | None = None) -> pd.DataFrame:
        """Re-hash every original; returns one row per media with status ok, changed, missing, unreadable or (an
        encrypted library, where every stored file is authenticated) tampered, plus a row per other tampered file;
        and ``stored_as`` (original, or how a replaced original is stored: its stored file must match its recorded
        hash, and a JPEG XL must rebuild the original JPEG byte for byte)."""
        from workbench.compress.replace import check_media
        from workbench.storage.encrypted import EncryptedStorage
        t = self.catalog.read("media", ["id", "sha256", "storage", "blob", "path", "stored_as",
                                        "stored_sha256"]).to_pylist()
        ctx = self.context.stage_context()
        settled: list[dict] = []
        if isinstance(self.storage, EncryptedStorage):   # every object authenticated; tampered ones listed
            from workbench.ingest.verify import check_encrypted
            settled, done = check_encrypted(self.storage, t)
            t = [r for r in t if r["id"] not in done]
        # A replaced original is checked through its stored file (never the rebuilt cache): see compress.replace.
        tasks = [(r["id"], str(self.storage.local_file(original_key(r["blob"])) if r["stored_as"] else
                               ctx.local_source(r)), r["sha256"],
                  r["stored_as"], r["stored_sha256"]) for r in t]
        rows = list(settled)
        with bar(len(tasks), "verify", progress) as pb:
            for task, res in run_isolated(check_media, tasks, workers=self.settings.worker_count(),
                                          timeout_s=self.settings.per_file_timeout_s * 10):
                if isinstance(res, Failure):
                    res = {"id": task[0], "path": task[1], "status": "unreadable", "detail": res.reason,
                           "stored_as": task[3] or "original"}
                rows.append(res)
                pb.update(1)
        df = pd.DataFrame(rows, columns=["id", "path", "status", "detail", "stored_as"])
        return df.sort_values(["status", "path"]).reset_index(drop=True)

    def scrub(self, *, sample_percent: float = 100.0, budget_s: float | None = None,
              progress: bool | None = None) -> "ScrubReport":
        """Re-read originals, their replica copies and renditions, check their hashes and repair what is wrong
        from a verified copy (events in ``repair_events()``). A sample or a time budget continues where the last
        scrub stopped, so repeated runs cover everything."""
        from workbench.replicas import Scrubber
        with self.lock:
            self.storage.clean_tmp()
            return Scrubber(self.catalog, self.storage, self.lib.replicas, self.context.stage_context(),
                            self.stages.thumbnails()).run(sample_percent=sample_percent, budget_s=budget_s,
                                                          progress=progress)

    def last_scrub_at(self) -> "datetime | None":
        """When the last scrub (or slice of one) finished, or None: ``workbench serve`` scrubs again once
        ``serve_scrub_interval_h`` have passed since then."""
        from workbench.replicas.scrub import scrub_runs
        if not self.catalog.has("scrub_runs"):
            return None
        runs = scrub_runs(self.catalog)
        return None if runs.empty else pd.Timestamp(runs["finished_at"].iloc[0]).to_pydatetime()

    def repair_events(self) -> pd.DataFrame:
        """What scrub found wrong and did (repaired from which replica, re-sent, rebuilt, or no good copy)."""
        from workbench.replicas import repair_events
        return repair_events(self.catalog)
