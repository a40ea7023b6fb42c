"""``lib.compression``: converting media to other formats, compression policies (built-in and saved), applying one
(versions under ``derived/versions/<policy>/``), and letting verified versions replace originals (undoable while
the replaced original is in the trash). The work per media is ``compress/``'s; this is the workflow around it."""
from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.capabilities.context import Capability
from workbench.catalog.filters import Eq, In, NotNull
from workbench.compress.policy import ImageRule, Policy
from workbench.errors import WorkbenchError
from workbench.progress import bar
from workbench.storage import derived_key

if TYPE_CHECKING:
    from workbench.compress.trial import Trial


class Compression(Capability):
    """``lib.compression``: ``convert``, ``compress``, ``policies``, ``save_policy``, ``versions``,
    ``replace_originals``, ``replaced_originals``, ``restore_original``; for a tuner: ``codecs``, ``metrics``,
    ``lossy_rule``, ``policy``, ``try_rule``, ``predict``."""

    # -- what a tuner needs to build, try and save a rule (the compression dashboard) --------------------------
    @property
    def codecs(self) -> tuple[str, ...]:
        """The lossy image codecs a rule may name (``compress.lossy.CODECS``), so a picker offers only those."""
        from workbench.compress.lossy import CODECS
        return tuple(CODECS)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The quality metrics usable here: SSIM always, SSIMULACRA2 only where its library is installed (so a
        picker never offers one that would fail at the first encode)."""
        from workbench.compress.metrics import METRICS
        return tuple(METRICS)

    @staticmethod
    def lossy_rule(codec: str, quality: int | None, metric: str, target: float) -> ImageRule:
        """A lossy image rule: a fixed ``quality`` (the codec's 1-100 scale), or None to search for the lowest
        quality whose ``metric`` reaches ``target``. The value ``try_rule`` tries and ``policy`` saves."""
        return ImageRule("lossy", codec, quality, metric, target)

    @staticmethod
    def policy(name: str, images: ImageRule) -> Policy:
        """A policy of this image rule that leaves videos as they are, for ``save_policy``."""
        return Policy(name, images, None)

    def try_rule(self, id_or_prefix: str, rule: ImageRule, *, name: str = "") -> Trial:
        """Encode one media's original by ``rule`` in memory and measure it (``compress.trial.try_rule``, the same
        encode ``compress`` runs); nothing is written. Why here: the tuner tries before anything is saved."""
        from workbench.compress.trial import try_rule
        mid = self.lib.resolve_id(id_or_prefix)
        return try_rule(self.lib.original_path(mid), rule, media_id=mid, name=name)

    @staticmethod
    def predict(trials: Iterable[Trial], bytes_by_kind: dict[str, int]) -> dict[str, Any]:
        """The bytes a rule would save over the whole library (``bytes_by_kind``: the library's size per kind),
        from the trials of a sample: the same extrapolation as ``compress(dry_run=True)``'s prediction."""
        from workbench.compress.job import predict
        return predict([t.record() for t in trials], bytes_by_kind)

    def convert(self, items: Iterable[str | os.PathLike], to: str, *, out: str | os.PathLike = "converted",
                quality: int | None = None, progress: bool | None = None) -> pd.DataFrame:
        """Convert media (ids or id prefixes) or files (paths) to another format into ``out``; originals are only
        read. Returns one row per item: [source, output, to, bytes_before, bytes_after, width, height, error]."""
        from workbench.compress.convert import TARGETS, convert_file
        from workbench.formats.sniff import sniff
        if to not in TARGETS:
            raise ValueError(f"cannot convert to {to!r}; targets are {', '.join(TARGETS)}")
        rows = []
        items = list(items)
        with bar(len(items), "convert", progress) as pb:
            for item in items:
                try:
                    p = Path(item)
                    if p.exists():
                        ft = sniff(p)
                        src, kind, mime, stem = p, ft.kind, ft.mime, p.stem
                    else:
                        m = self.lib.get(str(item))
                        src, kind, mime, stem = (self.lib.original_path(m["id"]), m["kind"], m["mime"],
                                                 Path(m["path"]).stem)
                    rows.append({**convert_file(src, kind, mime, to, Path(out), quality=quality,
                                                settings=self.settings, stem=stem).__dict__, "error": None})
                except (WorkbenchError, ValueError, OSError) as e:
                    rows.append({"source": str(item), "output": None, "to": to, "bytes_before": None,
                                 "bytes_after": None, "width": None, "height": None, "error": str(e)})
                pb.update(1)
        return pd.DataFrame(rows, columns=["source", "output", "to", "bytes_before", "bytes_after", "width",
                                           "height", "error"])

    def compress(self, policy: str = "lossless", *, dry_run: bool = False, sample: int = 50,
                 kind: str | None = None, album: str | None = None, progress: bool | None = None) -> pd.DataFrame:
        """Apply a compression policy (a built-in name, one saved in this library by ``save_policy``, or a JSON
        file; see ``compress.policy``) to the library, or only to one ``album`` and/or one ``kind`` (so an album of
        finished work can get a different policy than the rest). Rows: id, path,
        codec, quality, bytes_before, bytes_after, metric, value, verified. ``dry_run`` encodes a sample of up to
        ``sample`` media per kind in memory, writes nothing, and puts the predicted savings for the whole library in
        ``df.attrs["prediction"]``. A real run writes new versions under ``derived/versions/<policy>/`` and records
        them; originals are kept (``replace_originals`` then lets verified versions replace them). Media already
        done for this policy are skipped (rerun resumes)."""
        from workbench.compress.job import ROW_KEYS, compress_one, predict
        from workbench.compress.policy import load_policy
        pol = load_policy(policy, self.policies_dir)
        scope = self._scope(kind, album)
        media = scope
        if dry_run:
            media = pd.concat([g.sample(n=min(sample, len(g)), random_state=0) for _, g in media.groupby("kind")]) \
                if len(media) else media
        else:
            done = set(self.catalog.read("versions", ["media_id"], Eq("policy", pol.name))
                       .column("media_id").to_pylist())
            media = media[~media["id"].isin(done)]
        rows, records = [], []
        with (self.lock if not dry_run else nullcontext()), bar(len(media), f"compress ({pol.name})", progress) as pb:
            for m in media.to_dict("records"):
                base = {"id": m["id"], "path": m["path"]}
                try:
                    row, data, ext = compress_one(self.lib.original_path(m["id"]), m["kind"], m["mime"], pol)
                except (WorkbenchError, OSError, ValueError) as e:
                    from workbench.catalog.errors_log import record_errors
                    if not dry_run:
                        record_errors(self.catalog, [(m["path"], m["id"], "compress", str(e))])
                    pb.update(1)
                    continue
                rows.append({**base, **row})
                records.append({**row, "kind": m["kind"], "new": data is not None})
                if not dry_run:
                    rel = None
                    if data is not None:
                        rel = f"versions/{pol.name}/{m['id'][:2]}/{m['id']}{ext}"
                        self.storage.write(derived_key(rel), data)
                    self.catalog.upsert("versions", [{"key": f"{m['id']}@{pol.name}", "media_id": m["id"],
                                                      "policy": pol.name, "path": rel, **row,
                                                      "created_at": datetime.now(timezone.utc)}], "key")
                pb.update(1)
        df = pd.DataFrame(rows, columns=ROW_KEYS)
        if dry_run:
            totals = scope.groupby("kind")["size_bytes"].sum().to_dict()
            df.attrs["prediction"] = {"policy": pol.describe(), **predict(records, totals)}
        return df

    def _scope(self, kind: str | None, album: str | None) -> pd.DataFrame:
        if album is None:
            return self.lib.media(kind=kind)
        media = self.lib.album_media(album)
        return media[media["kind"] == kind].reset_index(drop=True) if kind else media

    @property
    def policies_dir(self) -> Path:
        """Where named compression policies of this library are saved (``policies/NAME.json``)."""
        return self.root / "policies"

    def policies(self) -> pd.DataFrame:
        """Compression policies usable by name here: [name, saved (False for built-ins), policy (as a dict, None
        when the saved file is broken), problem (what is wrong with a broken file, else None)]."""
        from workbench.compress.policy import BUILT_IN, load_policy, saved_policies
        rows = [{"name": n, "saved": False, "policy": p.describe(), "problem": None} for n, p in BUILT_IN.items()]
        for n in saved_policies(self.policies_dir):
            try:
                rows.append({"name": n, "saved": True, "policy": load_policy(n, self.policies_dir).describe(),
                             "problem": None})
            except WorkbenchError as e:  # one hand-edited file must not hide the others
                rows.append({"name": n, "saved": True, "policy": None, "problem": str(e)})
        return pd.DataFrame(rows, columns=["name", "saved", "policy", "problem"])

    def save_policy(self, policy: Policy) -> Path:
        """Save a ``compress.policy.Policy`` under its name, so ``compress(policy=NAME)`` and ``workbench compress
        --policy NAME`` apply it (the compression tuner saves what was tried this way). Names are never reused."""
        from workbench.compress.policy import save_policy
        with self.lock:
            return save_policy(policy, self.policies_dir)

    def versions(self, policy: str | None = None) -> pd.DataFrame:
        """Versions written by compression policies: [media_id, policy, codec, quality, path (under derived/, None
        when nothing smaller was found), bytes_before, bytes_after, metric, value, verified, created_at]."""
        cols = ["media_id", "policy", "codec", "quality", "path", "bytes_before", "bytes_after", "metric", "value",
                "verified", "created_at"]
        df = self.catalog.read("versions", cols, Eq("policy", policy) if policy is not None else None).to_pandas()
        return df.sort_values(["policy", "media_id"]).reset_index(drop=True)

    def replace_originals(self, policy: str = "lossless", *, allow_lossy: bool = False,
                          ids: Iterable[str] | None = None, progress: bool | None = None) -> pd.DataFrame:
        """Let a policy's versions take the originals' place, to actually free the space. Only versions verified
        lossless qualify (a JPEG XL that rebuilds the JPEG exactly, or identical pixels and metadata) unless
        ``allow_lossy``; each is verified again, written into originals/ and recorded before the old original moves
        to the trash (restorable with ``restore_original`` until ``empty_trash``). Media indexed in place are never
        touched; the id never changes and ``original_path`` still gives the exact JPEG of a JPEG XL. Rows: id, path,
        status (replaced | skipped | refused), stored_as, reason, bytes_before, bytes_after, bytes_saved;
        ``df.attrs["bytes_saved"]`` is the total. Rerunning skips media already replaced."""
        from workbench.compress.policy import load_policy
        from workbench.compress.replace import RESULT_KEYS, replace_one
        name = load_policy(policy, self.policies_dir).name
        which = In("id", self.lib.media.resolve_ids(ids)) if ids is not None else None
        media = self.catalog.read("media", ["id", "path", "sha256", "storage", "blob", "size_bytes", "stored_as",
                                            "stored_bytes", "original_blob", "orientation"], which).to_pylist()
        versions = {v["media_id"]: v for v in self.catalog.read("versions", None, Eq("policy", name))
                    .to_pylist()}
        trashed = self.lib.trash.ids()
        rows = []
        with self.lock, bar(len(media), f"replace originals ({name})", progress) as pb:
            for m in sorted(media, key=lambda r: r["path"]):
                if m["id"] in trashed:
                    rows.append({"id": m["id"], "path": m["path"], "status": "skipped", "stored_as": m["stored_as"],
                                 "reason": "in the trash", "bytes_before": m["size_bytes"], "bytes_after": None,
                                 "bytes_saved": 0})
                else:
                    rows.append(replace_one(self.catalog, self.storage, m, versions.get(m["id"]), allow_lossy))
                pb.update(1)
        df = pd.DataFrame(rows, columns=RESULT_KEYS)
        df.attrs["bytes_saved"] = int(df["bytes_saved"].sum()) if len(df) else 0
        return df

    def replaced_originals(self) -> pd.DataFrame:
        """Media whose original was replaced: [id, path, stored_as, size_bytes (the original's), stored_bytes,
        in_trash (the original can still be restored; ``empty_trash`` deletes it)]."""
        from workbench.compress.replace import trashed_original
        rows = self.catalog.read("media", ["id", "path", "stored_as", "size_bytes", "stored_bytes", "blob",
                                           "original_blob"], NotNull("stored_as")).to_pylist()
        out = [{**{k: r[k] for k in ("id", "path", "stored_as", "size_bytes", "stored_bytes")},
                "in_trash": trashed_original(self.storage, r) is not None} for r in rows]
        return pd.DataFrame(out, columns=["id", "path", "stored_as", "size_bytes", "stored_bytes", "in_trash"])

    def restore_original(self, id_or_prefix: str) -> None:
        """Undo ``replace_originals`` for one media while its original is still in the trash: the original is
        stored again and the compressed file goes to the trash instead."""
        from workbench.compress.replace import restore_original
        mid = self.lib.resolve_id(id_or_prefix)
        with self.lock:
            row = self.catalog.read("media", None, Eq("id", mid)).to_pylist()[0]
            restore_original(self.catalog, self.storage, row)
