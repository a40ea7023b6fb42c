"""How fast the gallery's timeline grid shows a result, at sizes up to 100k media, against a naive grid that makes
a tile for every item (the same Grid class with one chunk as large as the result), measured in the same run.

    python benchmarks/gallery_grid.py [--sizes 1000 5000 20000 100000] [--naive-max 5000] [--repeat 3]

What is timed: ``Grid.show(rows)`` in the kernel (building the tiles and their widget state, reading thumbnails
through the given callback) for a result of N rows, newest first. A fixed 6 KB WebP stands in for every
thumbnail, so the figure is the grid's own cost, not the catalog's. Widget messages to the browser are not sent
(no front end is attached), which favours the naive grid: in a page, each of its tiles also costs a round trip.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time

import pandas as pd
from PIL import Image

from workbench.gallery.grid import DEFAULT_CHUNK_SIZE, Grid


def rows(n: int) -> pd.DataFrame:
    taken = pd.date_range("2024-12-31", periods=n, freq="-55min")
    return pd.DataFrame({"id": [f"{i:016x}" for i in range(n)],
                         "kind": ["video" if i % 50 == 0 else "image" for i in range(n)],
                         "name": [f"img_{i:06d}.jpg" for i in range(n)], "taken_at": taken,
                         "duration_s": [12.0 if i % 50 == 0 else None for i in range(n)]})


def time_show(df: pd.DataFrame, chunk: int, picture: bytes, repeat: int) -> float:
    """Median seconds of Grid.show on a fresh grid."""
    times = []
    for _ in range(repeat):
        grid = Grid(lambda ids: dict.fromkeys(ids, picture), lambda i: None, chunk_size=chunk)
        start = time.perf_counter()
        grid.show(df)
        times.append(time.perf_counter() - start)
        grid.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000, 20_000, 100_000])
    ap.add_argument("--naive-max", type=int, default=5_000, help="largest size the naive grid is timed at")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    buf = io.BytesIO()
    Image.effect_noise((256, 192), 40).convert("RGB").save(buf, "WEBP", quality=80)
    picture = buf.getvalue()
    print(f"{'rows':>8}  {'chunked grid (s)':>16}  {'naive grid (s)':>14}  {'naive / chunked':>15}")
    for n in a.sizes:
        df = rows(n)
        chunked = time_show(df, DEFAULT_CHUNK_SIZE, picture, a.repeat)
        naive = time_show(df, n, picture, 1) if n <= a.naive_max else None
        ratio = f"{naive / chunked:.0f}x" if naive else "-"
        print(f"{n:>8}  {chunked:>16.3f}  {naive if naive is None else round(naive, 3)!s:>14}  {ratio:>15}")


if __name__ == "__main__":
    main()
