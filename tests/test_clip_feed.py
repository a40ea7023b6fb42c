"""The loader thread that keeps the CLIP encoder busy: same vectors as one plain call, failures per item, and
loading that really runs while the encoder works. A tiny random open_clip model (tests/conftest.py)."""
from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from factory import gradient, jpeg
from workbench import Library
from workbench.errors import MediaError
from workbench.semantic.clip import load_embedder
from workbench.semantic.feed import embed_items, ordered_map
from workbench.settings import Settings
from workbench.trace import ENV, busy_seconds, read_spans

# A photo is one image, a "video" several frames: 13 images in all, so batches of 4 cut through items.
ITEMS = [[gradient(120, 90, seed=1)], [gradient(64, 64, seed=i) for i in range(2, 7)], [gradient(90, 200, seed=7)],
         [gradient(50, 50, seed=8).convert("L")], [gradient(80, 60, seed=i) for i in range(9, 14)]]


def _embedder(tiny_clip_checkpoint: tuple[Path, Path], batch: int = 4):
    cfg, ckpt = tiny_clip_checkpoint
    return load_embedder(Settings(clip_model=str(cfg), clip_checkpoint=str(ckpt), clip_batch_size=batch))


@pytest.mark.parametrize("prefetch", [0, 2])
def test_vectors_equal_one_embed_images_call_over_the_same_images(tiny_clip_checkpoint, prefetch: int) -> None:
    emb = _embedder(tiny_clip_checkpoint)
    got = embed_items(emb, ITEMS, lambda item: item, prefetch_batches=prefetch)
    want = emb.embed_images([im for item in ITEMS for im in item])
    assert [len(v) for v in got] == [len(item) for item in ITEMS]
    np.testing.assert_array_equal(np.concatenate(got), want)


def test_a_failing_item_gets_its_exception_and_the_others_their_vectors(tiny_clip_checkpoint) -> None:
    emb = _embedder(tiny_clip_checkpoint)

    def load(i: int) -> list[Image.Image]:
        if i == 2:
            raise MediaError("no frame could be sampled from this video")
        return ITEMS[i]

    got = embed_items(emb, range(len(ITEMS)), load)
    assert isinstance(got[2], MediaError) and got[2].reason == "no frame could be sampled from this video"
    ok = [i for i in range(len(ITEMS)) if i != 2]
    np.testing.assert_array_equal(np.concatenate([got[i] for i in ok]),
                                  emb.embed_images([im for i in ok for im in ITEMS[i]]))


def test_loading_runs_while_the_encoder_works(tiny_clip_checkpoint, tmp_path, monkeypatch) -> None:
    emb = _embedder(tiny_clip_checkpoint, batch=2)
    files = []
    for i in range(12):
        files.append(tmp_path / f"p{i}.png")
        gradient(1200, 900, seed=i).save(files[-1])  # big enough that decoding takes longer than encoding
    monkeypatch.setenv(ENV, str(tmp_path))

    def load(path: Path) -> list[Image.Image]:
        from workbench.trace import span
        with span("load", 1), Image.open(path) as im:
            return [im.convert("RGB")]

    embed_items(emb, files, load, prefetch_batches=2)
    loads, encodes = read_spans(tmp_path, "load"), read_spans(tmp_path, "encode")
    overlapping = [e for e in encodes if any(s < e[1] and e[0] < t for s, t, _ in loads)]
    assert len(encodes) == 6 and overlapping  # at the least, batch 2 is decoded while batch 1 is encoded


def test_without_prefetch_loading_and_encoding_take_turns(tiny_clip_checkpoint, tmp_path, monkeypatch) -> None:
    emb = _embedder(tiny_clip_checkpoint, batch=2)
    monkeypatch.setenv(ENV, str(tmp_path))

    def load(item: list[Image.Image]) -> list[Image.Image]:
        from workbench.trace import span
        with span("load", 1):
            return [im.copy() for im in item]

    embed_items(emb, ITEMS, load, prefetch_batches=0)
    loads, encodes = read_spans(tmp_path, "load"), read_spans(tmp_path, "encode")
    assert busy_seconds(loads + encodes) == pytest.approx(busy_seconds(loads) + busy_seconds(encodes), abs=1e-6)


def test_ordered_map_returns_results_in_input_order_whatever_finishes_first() -> None:
    import time

    def slow_for_small(x: int) -> int:
        time.sleep(0.02 * (5 - x))
        return x * 10

    assert list(ordered_map(slow_for_small, range(5), threads=3, window=4)) == [0, 10, 20, 30, 40]


def test_ordered_map_starts_at_most_window_items_ahead() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def record(x: int) -> int:
        with lock:
            started.append(x)
        return x

    stream = ordered_map(record, range(100), threads=2, window=3)
    assert next(stream) == 0
    import time
    time.sleep(0.1)
    assert len(started) <= 4  # the first three, plus one topped up when the first was handed over
    stream.close()


def test_a_consumer_that_stops_early_leaves_no_loader_thread_behind() -> None:
    before = threading.active_count()
    stream = ordered_map(lambda x: x, range(1000), threads=2, window=8)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert threading.active_count() == before


def test_busy_seconds_counts_overlapping_spans_once() -> None:
    assert busy_seconds([(0.0, 2.0, 1), (1.0, 3.0, 1), (5.0, 6.0, 1)]) == pytest.approx(4.0)
    assert busy_seconds([]) == 0.0


@pytest.mark.slow
def test_an_unreadable_preview_fails_only_its_media_in_a_shared_task(tiny_clip_checkpoint, tmp_path) -> None:
    cfg, ckpt = tiny_clip_checkpoint
    lib = Library.create(tmp_path / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = str(cfg), str(ckpt)
    lib.settings.save(lib.root)
    for i in range(5):
        jpeg(tmp_path / "in" / f"p{i}.jpg", 320, 240, seed=i, taken=datetime(2020, 1, 1 + i))
    lib = Library.open(lib.root)
    lib.import_files([tmp_path / "in"], progress=False)
    lib.process(["thumbnails"], progress=False)
    thumbs = lib.catalog.read("thumbnails", ["media_id", "preview"]).to_pylist()
    broken = thumbs[2]
    (lib.root / "derived" / broken["preview"]).write_bytes(b"not an image at all")  # disk damage after the fact

    lib.process(["embeddings_32"], progress=False)
    rows = {r["media_id"]: r for r in lib.catalog.read("embeddings_32", ["media_id", "status", "error"]).to_pylist()}
    assert rows[broken["media_id"]]["status"] == "failed"
    assert rows[broken["media_id"]]["error"].startswith("could not read the preview to embed it")
    assert sorted(r["status"] for r in rows.values()) == ["failed"] + ["ok"] * 4
