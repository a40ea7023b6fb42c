"""Opt-in timing trace of work spans, read by the benchmarks to see what a worker process spent its time on.

Stage workers are separate processes, so a benchmark cannot time their inside directly. With the environment
variable ``WORKBENCH_TRACE_DIR`` set (workers inherit it), ``span("encode", n)`` appends one line
``name<TAB>start<TAB>end<TAB>n`` (``time.time()`` seconds, so spans from different processes share one clock)
to ``<dir>/<name>-<pid>.tsv``. Unset, a span costs one environment lookup and writes nothing.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "WORKBENCH_TRACE_DIR"


@contextmanager
def span(name: str, items: int = 0) -> Iterator[None]:
    """Time the block and, when tracing is on, record it (also when the block raises)."""
    folder = os.environ.get(ENV)
    if not folder:
        yield
        return
    start = time.time()
    try:
        yield
    finally:
        end = time.time()
        with open(Path(folder) / f"{name}-{os.getpid()}.tsv", "a", encoding="utf-8") as f:
            f.write(f"{name}\t{start:.6f}\t{end:.6f}\t{items}\n")


def read_spans(folder: Path, name: str) -> list[tuple[float, float, int]]:
    """Every recorded ``(start, end, items)`` of ``name`` under ``folder``, from all processes, by start time."""
    out = []
    for path in Path(folder).glob(f"{name}-*.tsv"):
        for line in path.read_text(encoding="utf-8").splitlines():
            _, start, end, items = line.split("\t")
            out.append((float(start), float(end), int(items)))
    return sorted(out)


def busy_seconds(spans: list[tuple[float, float, int]]) -> float:
    """Length of the union of the spans: time during which at least one was in progress."""
    total, cur_start, cur_end = 0.0, None, None
    for start, end, _ in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total
