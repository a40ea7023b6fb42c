"""Replicas and scrubbing: every original copied to other stores and verified there (``replicas``), and everything
the library stores re-read, checked against its hash and repaired from a good copy (``scrub``). See
docs/archive.md."""
from __future__ import annotations

from workbench.replicas.replicas import Original, ReplicaError, Replicas, SyncReport, library_originals
from workbench.replicas.scrub import ScrubReport, Scrubber, repair_events, scrub_runs

__all__ = ["Original", "ReplicaError", "Replicas", "SyncReport", "library_originals", "ScrubReport", "Scrubber",
           "repair_events", "scrub_runs"]
