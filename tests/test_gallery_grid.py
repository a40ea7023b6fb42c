"""The timeline grid holds a whole result but renders a chunk at a time, so it stays fast at tens of thousands."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from PIL import Image

from workbench.gallery.grid import Grid

N = 20_000
CHUNK = 48


@pytest.fixture(scope="module")
def webp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 192), (200, 120, 40)).save(buf, "WEBP")
    return buf.getvalue()


@pytest.fixture
def rows() -> pd.DataFrame:
    """A result of 20,000 media over ~two years, newest first (as ``media(sort='date', desc=True)`` gives)."""
    taken = pd.date_range("2024-12-31", periods=N, freq="-55min")
    return pd.DataFrame({"id": [f"{i:016x}" for i in range(N)], "kind": ["video" if i % 50 == 0 else "image"
                                                                         for i in range(N)],
                         "name": [f"img_{i:05d}.jpg" for i in range(N)], "taken_at": taken,
                         "duration_s": [12.0 if i % 50 == 0 else None for i in range(N)]})


class Recorder:
    def __init__(self, picture: bytes):
        self.picture = picture
        self.asked: list[list[str]] = []
        self.opened: list[int] = []
        self.selections: list[list[str]] = []

    def thumbnails(self, ids: list[str]) -> dict[str, bytes]:
        self.asked.append(list(ids))
        return {i: self.picture for i in ids}


def make_grid(rec: Recorder) -> Grid:
    return Grid(rec.thumbnails, rec.opened.append, on_selection=rec.selections.append, chunk_size=CHUNK)


def test_twenty_thousand_items_render_only_the_first_chunk(rows, webp):
    """How fast that is lives in benchmarks/gallery_grid.py, not in a timed test."""
    rec = Recorder(webp)
    grid = make_grid(rec)
    grid.show(rows)
    assert grid.shown == CHUNK
    assert rec.asked == [rows["id"][:CHUNK].tolist()]          # thumbnails read for the visible chunk only
    assert sum(isinstance(c, type(grid._tiles[0].box)) for c in grid._area.children) == CHUNK
    assert "20,000 items" in grid._count.value and "showing 48" in grid._count.value


def test_load_more_appends_the_next_chunk_and_stops_at_the_end(rows, webp):
    rec = Recorder(webp)
    grid = make_grid(rec)
    grid.show(rows.head(100))
    grid.load_more()
    assert grid.shown == 96 and rec.asked[-1] == rows["id"][48:96].tolist()
    grid.load_more()
    assert grid.shown == 100 and grid._more.layout.display == "none"
    grid.load_more()
    assert len(rec.asked) == 3


def test_month_headings_follow_capture_dates(rows, webp):
    grid = make_grid(Recorder(webp))
    grid.show(rows.iloc[::400].head(30))        # 400 × 55 min ≈ 15 days apart: a new month every two tiles
    headings = [c.value for c in grid._area.children if c in grid._headings]
    assert headings[:3] == ["December 2024", "November 2024", "October 2024"]
    grid.show(rows.head(10), timeline=False)    # search results are ranked, not dated
    assert not [c for c in grid._area.children if c in grid._headings]


def test_a_tile_opens_its_position_and_selection_reports_media_ids(rows, webp):
    rec = Recorder(webp)
    grid = make_grid(rec)
    grid.show(rows)
    grid._tiles[5].opener.click()
    assert rec.opened == [5]
    grid._tiles[2].toggle.value = True
    grid._tiles[7].toggle.value = True
    grid._tiles[2].toggle.value = False
    assert rec.selections[-1] == [rows["id"][7]]
    assert "wb-selected" in grid._tiles[7].box._dom_classes


def test_a_new_result_reuses_the_tile_widgets(rows, webp):
    grid = make_grid(Recorder(webp))
    grid.show(rows)
    first = [t.box.model_id for t in grid._tiles]
    grid.show(rows.iloc[1000:])
    assert [t.box.model_id for t in grid._tiles] == first
    assert grid._tiles[0].opener.tooltip == "img_01000.jpg"


def test_videos_show_their_length_on_the_tile(rows, webp):
    grid = make_grid(Recorder(webp))
    grid.show(rows)
    assert grid._tiles[0].opener.description == "▶ 0:12"
    assert grid._tiles[1].opener.description == ""


def test_an_empty_result_says_so(webp):
    grid = make_grid(Recorder(webp))
    grid.show(pd.DataFrame(columns=["id", "kind", "name", "taken_at"]), empty_text="Nothing matches these filters.")
    assert "Nothing matches these filters." in grid._empty.value
    assert grid._more.layout.display == "none"
