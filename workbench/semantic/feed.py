"""Keep the CLIP encoder busy: decode and preprocess the next images in loader threads while the encoder works.

Decoding a 1440 px WebP preview and open_clip's preprocessing take about 20 ms per image on this 2-core machine,
against about 57 ms for the ViT-B-32 fp32 encode of one image (docs/benchmarks.md, embed_pipeline). Done one after
the other, the encoder waits for every batch. Here ``LOADER_THREADS`` threads keep up to ``prefetch_batches``
batches of images in preparation (Pillow and torch release the GIL while they work), so the encoder goes from one
batch straight to the next; two threads also halve the wait for the very first batch, when the encoder has
nothing to do.

Batches are cut exactly as ``ClipEmbedder.embed_images`` cuts the flattened list of images (``batch_size`` each,
in order), so the vectors are the same as embedding the same images in one call.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from workbench.semantic.clip import ClipEmbedder

if TYPE_CHECKING:
    from PIL import Image

T = TypeVar("T")
R = TypeVar("R")
# Loader threads: two decode faster than the encoder consumes on two cores and halve the first batch's wait.
LOADER_THREADS = 2


def embed_items(embedder: ClipEmbedder, items: Sequence[T], load: Callable[[T], list["Image.Image"]], *,
                prefetch_batches: int = 2) -> list[np.ndarray | Exception]:
    """For each item, the ``(k, dim)`` vectors of the ``k`` images ``load`` returned for it (a photo gives one, a
    video its sampled frames), or the exception ``load`` raised for it, in input order: one unreadable item never
    costs the others. ``prefetch_batches`` 0 loads in the calling thread, between encodes (no overlap)."""
    results: list[np.ndarray | Exception] = [np.zeros((0, embedder.dim), np.float32)] * len(items)
    owners: list[tuple[int, int]] = []  # (item index, images) in the order the images enter the batches

    def prepare(item: T) -> Any:
        try:
            images = load(item)
            return embedder.pixels(images) if images else None
        except Exception as e:  # noqa: BLE001 - handed back for this item; the caller decides what it means
            return e

    if prefetch_batches > 0:
        window = prefetch_batches * max(1, embedder.batch_size)
        prepared = ordered_map(prepare, items, threads=LOADER_THREADS, window=window)
    else:
        prepared = map(prepare, items)
    vectors = [np.zeros((0, embedder.dim), np.float32)]
    for pixels in _batches(prepared, max(1, embedder.batch_size), results, owners):
        vectors.append(embedder.encode_pixels(pixels))
    flat = np.concatenate(vectors)
    at = 0
    for index, count in owners:
        results[index] = flat[at:at + count]
        at += count
    return results


def _batches(prepared: Iterable[Any], size: int, results: list[Any], owners: list[tuple[int, int]]) -> Iterator[Any]:
    """Join the items' pixel tensors into batches of exactly ``size`` images (the last one shorter); an item's
    exception goes to ``results`` instead."""
    import torch

    buffered: list[Any] = []
    count = 0
    for index, pixels in enumerate(prepared):
        if isinstance(pixels, Exception):
            results[index] = pixels
            continue
        if pixels is None:
            continue
        owners.append((index, int(pixels.shape[0])))
        buffered.append(pixels)
        count += int(pixels.shape[0])
        while count >= size:
            joined = torch.cat(buffered) if len(buffered) > 1 else buffered[0]
            yield joined[:size]
            rest = joined[size:]
            buffered, count = ([rest] if rest.shape[0] else []), int(rest.shape[0])
    if count:
        yield torch.cat(buffered) if len(buffered) > 1 else buffered[0]


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, threads: int, window: int) -> Iterator[R]:
    """``map(fn, items)`` run by ``threads`` threads, results in input order, at most ``window`` items started
    ahead of the consumer. A consumer that stops early cancels what has not started."""
    it = iter(items)
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="clip-loader")
    try:
        running: deque = deque(pool.submit(fn, x) for _, x in zip(range(max(1, window)), it))
        while running:
            result = running.popleft().result()
            for x in it:  # top the window up by one before handing the result over
                running.append(pool.submit(fn, x))
                break
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
