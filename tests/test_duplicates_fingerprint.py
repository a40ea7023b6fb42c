"""Perceptual fingerprints and the near-duplicate candidate search (workbench.duplicates.fingerprint/candidates)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from workbench.duplicates.candidates import (connected_groups, near_pairs, popcount, same_picture_pairs,
                                             star_distance)
from workbench.duplicates.fingerprint import (HASH_TYPES, MIN_DETAIL, N_CENTRE_VIEWS, N_VIEWS,
                                              SAME_PICTURE_MAX_BITS, as_uint64_array, fingerprint, from_int64,
                                              to_int64)

T = Image.Transpose


def _photo(name: str) -> Image.Image:
    from skimage import data
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def _reencode(im: Image.Image, fmt: str = "JPEG", quality: int = 90) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, fmt, quality=quality)
    out = Image.open(buf)
    out.load()
    return out


def _thumb(im: Image.Image) -> Image.Image:
    """What the stage fingerprints: the 256 px thumbnail."""
    im = im.copy()
    im.thumbnail((256, 256))
    return im


def _crop(im: Image.Image, f: float, sides: str = "ltrb") -> Image.Image:
    w, h = im.size
    dx, dy = round(w * f), round(h * f)
    return im.crop((dx if "l" in sides else 0, dy if "t" in sides else 0,
                    w - dx if "r" in sides else w, h - dy if "b" in sides else h))


def _arrays(fps: list[dict]) -> dict[str, np.ndarray]:
    return {t: as_uint64_array([fp[t] for fp in fps]) for t in HASH_TYPES}


def _match(fps: list[dict]):  # noqa: ANN202
    return same_picture_pairs(_arrays(fps), detail=np.array([f["detail"] for f in fps]),
                              colour=np.array([f["colour"] for f in fps]))


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return _photo("astronaut")


# ------------------------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_plain_ints_of_every_view(astronaut):
    fp = fingerprint(_thumb(astronaut))
    assert set(fp) == {*HASH_TYPES, "detail", "colour"}
    for t in HASH_TYPES:
        assert len(fp[t]) == N_VIEWS
        assert all(type(v) is int and 0 <= v < 2 ** 64 for v in fp[t])
    assert type(fp["detail"]) is int and fp["detail"] >= MIN_DETAIL
    assert type(fp["colour"]) is int and 0 <= fp["colour"] < 2 ** 24
    assert fingerprint(_thumb(astronaut)) == fp  # deterministic


def test_int64_round_trip():
    for v in (0, 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 0x8000_0000_0000_0001):
        s = to_int64(v)
        assert -(2 ** 63) <= s < 2 ** 63 and from_int64(s) == v
    signed = [[to_int64(2 ** 64 - 1), 5], [to_int64(2 ** 63), 0]]
    arr = as_uint64_array(signed)
    assert arr.dtype == np.uint64 and arr.tolist() == [[2 ** 64 - 1, 5], [2 ** 63, 0]]
    assert as_uint64_array(np.array(signed, dtype=np.int64)).tolist() == arr.tolist()


@pytest.mark.parametrize("name, make", [
    ("resize50", lambda im: _reencode(im.resize((im.width // 2, im.height // 2)))),
    ("jpeg_q60", lambda im: _reencode(im, quality=60)),
    ("webp", lambda im: _reencode(im, "WEBP", 80)),
    ("crop5", lambda im: _reencode(_crop(im, 0.05))),
    ("crop10", lambda im: _reencode(_crop(im, 0.10))),
    ("crop10_left_top", lambda im: _reencode(_crop(im, 0.10, "lt"))),
    ("rot90", lambda im: _reencode(im.transpose(T.ROTATE_90))),
    ("rot180", lambda im: _reencode(im.transpose(T.ROTATE_180))),
    ("rot270", lambda im: _reencode(im.transpose(T.ROTATE_270))),
    ("mirror", lambda im: _reencode(im.transpose(T.FLIP_LEFT_RIGHT))),
    ("transpose_crop", lambda im: _reencode(_crop(im, 0.08).transpose(T.TRANSPOSE))),
    ("brighter", lambda im: _reencode(ImageEnhance.Brightness(im).enhance(1.1))),
])
def test_a_copy_is_the_same_picture(astronaut, name, make):
    fps = [fingerprint(_thumb(astronaut)), fingerprint(_thumb(make(astronaut)))]
    pairs, dist = _match(fps)
    assert pairs.tolist() == [[0, 1]], (name, star_distance(list(_arrays(fps).values()), np.array([[0, 1]])))


def test_different_photos_are_not_the_same_picture(astronaut):
    names = ["coffee", "chelsea", "rocket", "immunohistochemistry"]
    fps = [fingerprint(_thumb(astronaut))] + [fingerprint(_thumb(_photo(n))) for n in names]
    assert len(_match(fps).pairs) == 0
    # and a copy still finds its original among them
    fps.append(fingerprint(_thumb(_reencode(_photo("coffee").transpose(T.ROTATE_270), quality=70))))
    assert _match(fps).pairs.tolist() == [[1, 5]]


def test_transparency_is_composited_so_hidden_colours_do_not_matter(astronaut):
    rgba = astronaut.convert("RGBA")
    alpha = Image.new("L", rgba.size, 255)
    alpha.paste(0, (0, 0, rgba.width // 3, rgba.height))  # left third transparent
    a, b = rgba.copy(), rgba.copy()
    a.putalpha(alpha)
    b.putalpha(alpha)
    b.paste((255, 0, 255, 0), (0, 0, rgba.width // 3, rgba.height))  # other colour under alpha = 0
    assert fingerprint(_thumb(a)) == fingerprint(_thumb(b))


def test_flat_pictures_match_by_colour_only():
    navy, blue, purple = (21, 1, 135), (10, 29, 150), (162, 76, 144)
    ims = [Image.new("RGB", (100, 100), c) for c in (navy, blue, purple)]
    ims.append(_reencode(ImageEnhance.Brightness(ims[2]).enhance(1.1), quality=60))  # a copy of purple
    fps = [fingerprint(im) for im in ims]
    assert all(f["detail"] < MIN_DETAIL for f in fps)
    assert _match(fps).pairs.tolist() == [[2, 3]]
    # without detail/colour, flat pictures would all look alike through their (noise) hashes
    assert len(same_picture_pairs(_arrays(fps)).pairs) >= 3


# ----------------------------------------------------------------------------------------- corpus answers


def _corpus_fp(corpus: Path, rel: str) -> dict:
    """Fingerprint of a corpus file the stage's way: upright, ICC -> sRGB, 256 px WebP thumbnail."""
    from workbench.formats.sniff import sniff
    from workbench.imaging.renditions import render_image_file

    path = corpus / rel
    thumb = render_image_file(path, sniff(path).mime)["thumb"]
    return fingerprint(Image.open(io.BytesIO(thumb.data)))


def test_corpus_known_answers(corpus):
    fr = "faces/face_recognition/"
    truth = json.loads((corpus / fr / "ground_truth.json").read_text())
    immich = json.loads((corpus / "peer/immich-test-assets/ground_truth.json").read_text())
    icc = json.loads((corpus / "duplicates/imagehash/ground_truth.json").read_text())
    sets = [[fr + f for f in s] for s in truth["exact_duplicates"]]
    sets.append([fr + f for f in truth["near_duplicates_resolution_ladder"]])
    sets.append(["duplicates/imagehash/" + f for f in icc["pairs"]["same_pixels_different_icc"]])
    sets.append(["peer/immich-test-assets/" + f for f in immich["exact_duplicates"][0]])
    sets.append([f"peer/photoprism/examples/{f}" for f in ("IMG_4120.JPG", "IMG_4120 (1).JPG", "IMG_4120 copy.JPG")])
    # different pictures, some of them hard: same person, a stereo pair, same light/dark layout
    others = [fr + "tests/test_images/obama3.jpg", fr + "examples/knn_examples/train/biden/biden2.jpg",
              "skimage_data/motorcycle_left.png", "skimage_data/motorcycle_right.png",
              "duplicates/imagehash/peppers.png", "duplicates/imagehash/imagehash.png",
              "peer/immich-test-assets/albums/nature/tanners_ridge.jpg"]
    files = [f for s in sets for f in s] + others
    fps = [_corpus_fp(corpus, f) for f in files]
    pairs = _match(fps).pairs
    found = sorted(sorted(files[i] for i in g) for g in connected_groups(len(files), pairs))
    assert found == sorted(sorted(s) for s in sets)


# --------------------------------------------------------------------------------------------- near_pairs


def _brute(h: np.ndarray, max_bits: int) -> set[tuple[int, int]]:
    h = h[:, None] if h.ndim == 1 else h
    d = np.full((len(h), len(h)), 99)
    for v in range(h.shape[1]):
        x = popcount(h[:, :1] ^ h[None, :, v]).astype(int)  # row i as is vs view v of j
        d = np.minimum(d, np.minimum(x, x.T))
    i, j = np.triu_indices(len(h), 1)
    close = d[i, j] <= max_bits
    return set(zip(i[close].tolist(), j[close].tolist()))


def _clustered(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Random hashes in small clusters (a few flipped bits apart), so many pairs sit near any radius."""
    centres = rng.integers(0, 2 ** 64 - 1, size=(max(1, n // 4), k), dtype=np.uint64, endpoint=True)
    h = centres[rng.integers(0, len(centres), n)]
    noise = np.zeros((n, k), dtype=np.uint64)
    for b in range(64):
        noise |= (rng.random((n, k)) < 0.04).astype(np.uint64) << np.uint64(b)
    return h ^ noise


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("max_bits", [0, 2, 5, 8, 12])
def test_near_pairs_equals_brute_force(k, max_bits):
    rng = np.random.default_rng(100 * k + max_bits)
    h = _clustered(rng, 300, k)
    h[10:13] = h[9]  # a few identical rows
    got = near_pairs(h[:, 0] if k == 1 else h, max_bits)
    assert got.dtype == np.int64 and got.shape[1] == 2
    assert (got[:, 0] < got[:, 1]).all() and len(np.unique(got, axis=0)) == len(got)
    assert set(map(tuple, got.tolist())) == _brute(h, max_bits)


def test_near_pairs_finds_planted_pairs_and_nothing_beyond_max_bits():
    rng = np.random.default_rng(7)
    n = 20_000
    h = rng.integers(0, 2 ** 64 - 1, size=n, dtype=np.uint64, endpoint=True)
    a, b = np.arange(0, 2000, 2), np.arange(1, 2000, 2)
    for x, y, bits in zip(a, b, rng.integers(0, 9, len(a))):
        h[y] = h[x] ^ np.uint64(sum(1 << int(i) for i in rng.choice(64, bits, replace=False)))
    pairs = near_pairs(h, 8)
    assert {(int(x), int(y)) for x, y in zip(a, b)} <= set(map(tuple, pairs.tolist()))
    assert (popcount(h[pairs[:, 0]] ^ h[pairs[:, 1]]) <= 8).all()


def test_views_match_in_both_directions():
    rng = np.random.default_rng(3)
    h = rng.integers(0, 2 ** 64 - 1, size=(3, 5), dtype=np.uint64, endpoint=True)
    h[1, 0] = h[0, 3] ^ np.uint64(0b11)  # image 1 as is looks like view 3 of image 0
    h[2, 4] = h[0, 0]  # view 4 of image 2 looks like image 0 as is
    assert near_pairs(h, 2).tolist() == [[0, 1], [0, 2]]
    assert near_pairs(h, 1).tolist() == [[0, 2]]


def test_a_block_of_identical_hashes_stays_linear():
    rng = np.random.default_rng(11)
    h = rng.integers(0, 2 ** 64 - 1, size=(8000, 6), dtype=np.uint64, endpoint=True)
    h[:5000] = 0  # 5000 blank images
    h[6000] = 0
    h[6000, 0] = 1  # one bit away from the blank block
    notes: list[str] = []
    pairs = near_pairs(h, 3, notes=notes)
    blank = [*range(5000)]
    assert len(pairs) == 5000  # 4999 star edges + 1 edge to the near-blank image, not 12.5 million pairs
    assert set(map(tuple, pairs.tolist())) == {(0, j) for j in range(1, 5000)} | {(0, 6000)}
    assert connected_groups(len(h), pairs) == [blank + [6000]]
    assert any("5000" in note and "star" in note for note in notes)
    # small groups of identical rows still get all their pairs
    small = near_pairs(np.array([5, 5, 5, 1 << 40], dtype=np.uint64), 0)
    assert small.tolist() == [[0, 1], [0, 2], [1, 2]]


def test_connected_groups_merges_transitively():
    assert connected_groups(7, np.array([[0, 1], [1, 2], [4, 5], [2, 3]])) == [[0, 1, 2, 3], [4, 5]]
    assert connected_groups(3, np.zeros((0, 2), dtype=np.int64)) == []
    assert connected_groups(0, np.zeros((0, 2), dtype=np.int64)) == []


def test_star_distance_sums_types_at_one_view_pairing():
    # two images, two views each, two hash types
    a = np.array([[0b0000, 0b1111], [0b1111, 0b0000]], dtype=np.uint64)
    b = np.zeros((2, 2), dtype=np.uint64)
    # 0-as-is vs 1's view 1: a 0 bits, b 0 bits -> 0
    assert star_distance([a, b], np.array([[0, 1]])).tolist() == [0]
    b[1, 1] = 0b111  # 0-as-is vs 1's view 1 now costs 0 + 3
    b[0, 1] = 0b11  # 1-as-is vs 0's view 1 costs 0 + 2; the as-is pairing costs 4 + 0
    assert star_distance([a, b], np.array([[0, 1]])).tolist() == [2]
    # per type the best views differ (a: view 1 -> 0, b: view 0 -> 0), but the sum is taken at one pairing
    assert star_distance([a], np.array([[0, 1]])).tolist() == [0]
    assert star_distance([b], np.array([[0, 1]])).tolist() == [0]


def test_off_centre_views_need_a_closer_match(astronaut):
    # A different frame from a camera shifted sideways looks like an off-centre crop: accept it only when close.
    fps = [fingerprint(_thumb(astronaut)), fingerprint(_thumb(_reencode(_crop(astronaut, 0.10, "t"))))]
    m = _match(fps)
    assert m.pairs.tolist() == [[0, 1]] and m.off_centre.tolist() == [True]
    arrays = _arrays(fps)
    centre = star_distance([a[:, :N_CENTRE_VIEWS] for a in arrays.values()], np.array([[0, 1]]))[0]
    assert centre > SAME_PICTURE_MAX_BITS  # the centre views alone do not see this crop
