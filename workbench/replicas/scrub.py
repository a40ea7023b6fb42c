"""Scrubbing: re-read what the library stores, check it against its hash, and repair what is wrong.

What is checked, per media in a fixed order (its original, then its copy on each replica, then its renditions):

- the original, read through the library's storage (for an encrypted library that read also authenticates it)
  and hashed against ``media.sha256`` (``stored_sha256`` once replaced by a compressed version);
- each verified replica copy (``replica_copies``), hashed against the hash recorded when it was copied;
- the thumbnail and preview of the current thumbnail version: renditions have no hash in their stage row, so the
  first scrub that reads one checks that it decodes and learns its hash (``rendition_hashes``); later scrubs
  compare against it.

Repairs, never from an unverified copy: a damaged or missing original is rewritten from the first replica whose
copy hashes right, streamed through a hash check that fails before the write completes, then read back; a damaged
replica copy is re-sent from the (verified) primary; a rendition is rebuilt by the thumbnail stage. Each repair,
and each problem without a good copy (left as it is, listed loudly), is a ``repair_events`` row.

A sampled scrub (``sample_percent`` < 100, or a time budget) starts after the last check of the previous scrub
(the ``cursor`` of its ``scrub_runs`` row) and wraps around, so repeated runs cover everything in turn.
"""
from __future__ import annotations

import bisect
import hashlib
import io
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from workbench.catalog.filters import Eq, where
from workbench.catalog.store import Catalog
from workbench.progress import bar
from workbench.replicas.replicas import (ContentMismatch, Original, ReplicaError, Replicas, checked_chunks,
                                         chunks_of, describe, hash_of, is_layered, library_originals, now_utc,
                                         raw_layer, replica_storage, stored_key)
from workbench.stages.base import StageContext
from workbench.stages.thumbnails import ThumbnailStage
from workbench.storage import Storage, derived_key


@dataclass(frozen=True, slots=True)
class Check:
    """One thing to re-read. ``token`` orders checks (media by media) and is the cursor of sampled scrubs."""

    token: str
    kind: str                  # original | replica | rendition
    media_id: str
    key: str                   # the library key (original, rendition) or the object key on the replica
    expected: str | None       # sha256 the bytes must have (None: a rendition not learnt yet)
    replica: str | None = None
    which: str | None = None   # thumb | preview
    row_created_at: datetime | None = None


@dataclass
class ScrubReport:
    """What one scrub checked and did. ``events`` are the ``repair_events`` rows it wrote."""

    run_id: str
    total: int                 # checks the whole library has
    checked: int = 0
    bytes_read: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    stopped_by_budget: bool = False
    seconds: float = 0.0

    @property
    def problems(self) -> int:
        return len(self.events)

    @property
    def repaired(self) -> int:
        return sum(e["action"] != "unrepairable" for e in self.events)

    @property
    def unrepairable(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["action"] == "unrepairable"]


def last_cursor(catalog: Catalog) -> str | None:
    """Where the previous scrub stopped."""
    t = catalog.read("scrub_runs", ["finished_at", "cursor"]).to_pylist()
    return max(t, key=lambda r: r["finished_at"])["cursor"] if t else None


def repair_events(catalog: Catalog) -> pd.DataFrame:
    """Every problem scrub found and what it did, newest first."""
    df = catalog.read("repair_events").to_pandas()
    return df.sort_values("at", ascending=False).reset_index(drop=True)


def scrub_runs(catalog: Catalog) -> pd.DataFrame:
    """Every finished scrub, newest first."""
    df = catalog.read("scrub_runs").to_pandas()
    return df.sort_values("finished_at", ascending=False).reset_index(drop=True)


class Scrubber:
    """One scrub over a library (``Library.scrub`` builds it; hold the library's write lock while it runs)."""

    def __init__(self, catalog: Catalog, storage: Storage, replicas: Replicas, ctx: StageContext,
                 thumbnails: ThumbnailStage):
        self.catalog = catalog
        self.storage = storage
        self.replicas = replicas
        self.ctx = ctx
        self.thumbnails = thumbnails
        self.originals: dict[str, Original] = {}
        self.targets: dict[str, Storage] = {}
        self.unreachable: dict[str, str] = {}
        self.copies: dict[str, dict[str, dict[str, Any]]] = {}
        self.hashes: dict[str, dict[str, Any]] = {}

    # -- what to check --------------------------------------------------------------------------------------
    def checks(self) -> list[Check]:
        """Every check of the library, sorted by token."""
        out: list[Check] = []
        self.originals = {o.media_id: o for o in library_originals(self.catalog)}
        for o in self.originals.values():
            out.append(Check(f"{o.media_id}/0/original", "original", o.media_id, o.key, o.sha256))
        for r in self.replicas.list():
            name = r["name"]
            try:
                self.targets[name] = replica_storage(r["target"])
            except Exception as e:
                self.unreachable[name] = describe(e)
                continue
            self.copies[name] = self.replicas.copies(name)
            for okey, c in self.copies[name].items():
                if c["media_id"] in self.originals:     # copies of deleted media are not the library's concern
                    out.append(Check(f"{c['media_id']}/1/{name}", "replica", c["media_id"], okey, c["sha256"],
                                     replica=name))
        version = self.thumbnails.version
        if self.catalog.has("thumbnails"):
            self.hashes = {r["key"]: r for r in self.catalog.read("rendition_hashes").to_pylist()}
            rows = self.catalog.read("thumbnails", ["media_id", "thumb", "preview", "created_at"],
                                     where(version=version, status="ok")).to_pylist()
            for r in rows:
                for which in ("thumb", "preview"):
                    if r[which]:
                        key = derived_key(r[which])
                        known = self.hashes.get(key)
                        fresh = known is not None and known["row_created_at"] == r["created_at"]
                        out.append(Check(f"{r['media_id']}/2/{which}", "rendition", r["media_id"], key,
                                         known["sha256"] if fresh else None, which=which,
                                         row_created_at=r["created_at"]))
        return sorted(out, key=lambda c: c.token)

    @staticmethod
    def select(checks: list[Check], sample_percent: float, cursor: str | None) -> list[Check]:
        """All checks, or ``sample_percent`` of them starting after ``cursor`` (wrapping around)."""
        if sample_percent >= 100 or not checks:
            start = bisect.bisect_right([c.token for c in checks], cursor) if cursor else 0
            return checks[start:] + checks[:start]
        n = max(1, math.ceil(len(checks) * sample_percent / 100))
        start = bisect.bisect_right([c.token for c in checks], cursor) if cursor else 0
        return (checks[start:] + checks[:start])[:n]

    # -- the run --------------------------------------------------------------------------------------------
    def run(self, *, sample_percent: float = 100.0, budget_s: float | None = None,
            progress: bool | None = None, on_check: Callable[[Check], None] | None = None) -> ScrubReport:
        """Check (and repair) the selected part of the library; records the run and its cursor."""
        if not 0 < sample_percent <= 100:
            raise ValueError(f"sample_percent must be in (0, 100], not {sample_percent}")
        started = now_utc()
        t0 = time.monotonic()
        checks = self.checks()
        report = ScrubReport(uuid.uuid4().hex[:16], total=len(checks), cursor=last_cursor(self.catalog))
        for name, why in self.unreachable.items():
            report.events.append(self._event(None, "replica", name, "", "unreachable",
                                             f"the replica cannot be read: {why}", "unrepairable", None))
        chosen = self.select(checks, sample_percent, report.cursor)
        with bar(len(chosen), "scrub", progress) as pb:
            for c in chosen:
                if budget_s is not None and time.monotonic() - t0 >= budget_s:
                    report.stopped_by_budget = True
                    break
                if on_check is not None:
                    on_check(c)
                {"original": self._original, "replica": self._replica, "rendition": self._rendition}[c.kind](
                    c, report)
                report.checked += 1
                report.cursor = c.token
                pb.update(1)
        report.seconds = time.monotonic() - t0
        self.catalog.upsert("scrub_runs", [{
            "run_id": report.run_id, "started_at": started, "finished_at": now_utc(),
            "sample_percent": float(sample_percent), "budget_s": budget_s, "checked": report.checked,
            "bytes_read": report.bytes_read, "problems": report.problems, "repaired": report.repaired,
            "unrepairable": len(report.unrepairable), "cursor": report.cursor}], "run_id")
        return report

    def _event(self, media_id: str | None, obj: str, location: str, key: str, problem: str, detail: str,
               action: str, source: str | None) -> dict[str, Any]:
        row = {"event_id": uuid.uuid4().hex, "at": now_utc(), "media_id": media_id, "object": obj,
               "location": location, "object_key": key, "problem": problem, "detail": detail, "action": action,
               "source": source}
        self.catalog.upsert("repair_events", [row], "event_id")
        return row

    @staticmethod
    def _problem(exc: BaseException | None, got: str | None, expected: str | None) -> tuple[str, str] | None:
        """(problem, detail) from a read's outcome, or None when it is fine."""
        if isinstance(exc, FileNotFoundError):
            return "missing", "the file is gone"
        if exc is not None:
            return "unreadable", describe(exc)
        if expected is not None and got != expected:
            return "changed", f"sha256 is now {got[:16]}..., was {expected[:16]}..."
        return None

    def _read(self, storage: Storage, key: str, report: ScrubReport) -> tuple[str | None, BaseException | None]:
        try:
            digest, n = hash_of(storage, key)
        except Exception as e:
            return None, e
        report.bytes_read += n
        return digest, None

    # -- originals ------------------------------------------------------------------------------------------
    def _original(self, c: Check, report: ScrubReport) -> None:
        got, exc = self._read(self.storage, c.key, report)
        bad = self._problem(exc, got, c.expected)
        if bad is None:
            return
        problem, detail = bad
        o = self.originals[c.media_id]
        source, tried = self.repair_original(o)
        if source is not None:
            report.events.append(self._event(c.media_id, "original", "primary", c.key, problem, detail,
                                             "repaired", source))
        else:
            report.events.append(self._event(c.media_id, "original", "primary", c.key, problem,
                                             f"{detail}; no good copy: {'; '.join(tried) or 'no replicas'}",
                                             "unrepairable", None))

    def repair_original(self, o: Original) -> tuple[str | None, list[str]]:
        """Rewrite original ``o`` from the first replica whose copy verifies; returns (that replica or None, what
        was tried). The copy is hashed on the replica, streamed through a hash check that aborts the (atomic)
        write on a mismatch, and the result is read back through the library's storage."""
        raw = raw_layer(self.storage)
        rkey = stored_key(self.storage, o.key)
        tried = []
        for name, target in self.targets.items():
            copy = self.copies.get(name, {}).get(rkey)
            if copy is None:
                tried.append(f"{name} has no verified copy")
                continue
            expected_raw = copy["sha256"] if is_layered(self.storage) else o.sha256
            try:
                digest, _ = hash_of(target, rkey)
            except Exception as e:
                tried.append(f"{name}: {describe(e)}")
                continue
            if digest != expected_raw:
                tried.append(f"{name}'s copy is damaged too")
                continue
            try:
                raw.write(rkey, checked_chunks(chunks_of(target, rkey), expected_raw), immutable=True)
                got, _ = hash_of(self.storage, o.key)
            except Exception as e:
                tried.append(f"{name}: the copy failed ({describe(e)})")
                continue
            if got == o.sha256:
                return name, tried
            tried.append(f"{name}: the repaired file did not read back right")
        return None, tried

    # -- replica copies -------------------------------------------------------------------------------------
    def _replica(self, c: Check, report: ScrubReport) -> None:
        name = c.replica or ""
        got, exc = self._read(self.targets[name], c.key, report)
        bad = self._problem(exc, got, c.expected)
        if bad is None:
            return
        problem, detail = bad
        o = self.originals[c.media_id]
        try:
            row, _ = self.replicas.copy_to(self.targets[name], name, o, force=True)
        except (ContentMismatch, ReplicaError, OSError) as e:
            report.events.append(self._event(c.media_id, "replica copy", name, c.key, problem,
                                             f"{detail}; cannot re-send: {describe(e)}", "unrepairable", None))
            return
        self.catalog.upsert("replica_copies", [row], "key")
        self.copies[name][c.key] = row
        report.events.append(self._event(c.media_id, "replica copy", name, c.key, problem, detail, "resent",
                                         "primary"))

    # -- renditions -----------------------------------------------------------------------------------------
    def _rendition(self, c: Check, report: ScrubReport) -> None:
        try:
            data = self.storage.read_bytes(c.key)
            exc = None
        except Exception as e:
            data, exc = None, e
        if data is not None:
            report.bytes_read += len(data)
        got = hashlib.sha256(data).hexdigest() if data is not None else None
        bad = self._problem(exc, got, c.expected)
        if bad is None and c.expected is None:
            why = self._undecodable(data or b"")
            if why is None:
                self._learn(c.key, c.media_id, data or b"", c.row_created_at)
                return
            bad = ("unreadable", f"it does not decode: {why}")
        if bad is None:
            return
        problem, detail = bad
        try:
            self.rebuild(c.media_id)
        except Exception as e:
            report.events.append(self._event(c.media_id, c.which or "rendition", "primary", c.key, problem,
                                             f"{detail}; the rebuild failed: {describe(e)}", "unrepairable",
                                             None))
            return
        report.events.append(self._event(c.media_id, c.which or "rendition", "primary", c.key, problem, detail,
                                         "rebuilt", "the original"))

    @staticmethod
    def _undecodable(data: bytes) -> str | None:
        from PIL import Image
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        except Exception as e:
            return describe(e)
        return None

    def _learn(self, key: str, media_id: str, data: bytes, row_created_at: datetime | None) -> None:
        row = {"key": key, "media_id": media_id, "sha256": hashlib.sha256(data).hexdigest(),
               "size_bytes": len(data), "row_created_at": row_created_at, "learnt_at": now_utc()}
        self.catalog.upsert("rendition_hashes", [row], "key")
        self.hashes[key] = row

    def rebuild(self, media_id: str) -> None:
        """Re-run the thumbnail stage for one media (its thumbnail and preview), and learn the new hashes."""
        rows = self.catalog.read("media", where=Eq("id", media_id)).to_pylist()
        if not rows:
            raise LookupError("the media is no longer in the catalog")
        if media_id in self.originals:
            o = self.originals[media_id]
            got, exc = None, None
            try:
                got, _ = hash_of(self.storage, o.key)
            except Exception as e:
                exc = e
            if exc is not None or got != o.sha256:
                raise ContentMismatch("its original is damaged and could not be repaired")
        out = self.thumbnails.process_one(rows[0], self.ctx)
        t = self.catalog.read("thumbnails", ["key", "created_at"],
                              where(media_id=media_id, version=self.thumbnails.version)).to_pylist()
        created = t[0]["created_at"] if t else None
        for which in ("thumb", "preview"):
            key = derived_key(out[which])
            self._learn(key, media_id, self.storage.read_bytes(key), created)
