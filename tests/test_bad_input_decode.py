"""Broken, truncated, fuzzed and hostile files: always a MediaError with a specific reason, never another
exception, never a hang, never a crash of the caller.

Every probe runs in a child Python process with a timeout, so a decoder that segfaults (libheif has done so on
fuzzed files) or loops (the ``timeout-*.psd`` files once did in Pillow) fails one test instead of killing pytest.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from workbench.errors import MediaError
from workbench.formats.sniff import sniff
from workbench.imaging.decode import open_upright

PROBE_TIMEOUT_S = 60

# Child: for each path on stdin ("path<TAB>mime"), sniff (unless a mime is forced), decode, print one JSON line.
_CHILD = r"""
import json, sys
from pathlib import Path
from workbench.errors import MediaError
from workbench.formats.sniff import sniff
from workbench.imaging.decode import open_upright
from workbench.settings import Settings
for line in sys.stdin:
    path, mime = line.rstrip("\n").split("\t")
    path, mime = Path(path), (mime or None)
    try:
        mime = mime or sniff(path).mime
        if mime.startswith("image/"):
            img = open_upright(path, mime, min_size_px=1440, settings=Settings())
            out = {"outcome": "ok", "mime": mime, "size": list(img.size)}
        else:
            out = {"outcome": "ok", "mime": mime}
    except MediaError as e:
        out = {"outcome": "media_error", "reason": e.reason}
    except BaseException as e:
        out = {"outcome": "other", "type": type(e).__name__, "msg": str(e)[:300]}
    print(json.dumps(out), flush=True)
"""


def probe_many(items: list[tuple[Path, str | None]]) -> list[dict]:
    """Decode each (path, forced mime) in child processes, many per child; when a child crashes or hangs, the
    item it was on is recorded as 'crash'/'hang' and a fresh child continues with the next one."""
    results: list[dict] = []
    todo = list(items)
    while todo:
        feed = "".join(f"{p}\t{m or ''}\n" for p, m in todo)
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD], input=feed, capture_output=True, text=True,
                                  timeout=PROBE_TIMEOUT_S + 2 * len(todo))
            lines, failure = done.stdout.splitlines(), {"outcome": "crash", "returncode": done.returncode,
                                                        "stderr": done.stderr[-500:]}
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            lines, failure = out.splitlines(), {"outcome": "hang"}
        answered = [json.loads(ln) for ln in lines if ln.startswith("{")][: len(todo)]
        results += answered
        todo = todo[len(answered):]
        if todo:  # the child died or overran on todo[0]
            results.append(failure)
            todo = todo[1:]
    return results


def probe(path: Path, mime: str | None = None) -> dict:
    return probe_many([(path, mime)])[0]


def assert_media_error(result: dict, *keywords: str) -> str:
    assert result["outcome"] == "media_error", result
    reason = result["reason"]
    assert reason and reason not in {"OSError", "ValueError", "SyntaxError", "RuntimeError"}
    for kw in keywords:
        assert kw.lower() in reason.lower(), (kw, reason)
    return reason


EXIF_PY_BAD_EXIF = sorted([
    "exif/exif-py/jpg/invalid/image00971.jpg", "exif/exif-py/jpg/invalid/image01088.jpg",
    "exif/exif-py/jpg/invalid/image01137.jpg", "exif/exif-py/jpg/invalid/image01551.jpg",
    "exif/exif-py/jpg/invalid/image01713.jpg", "exif/exif-py/jpg/invalid/image01980.jpg",
    "exif/exif-py/jpg/invalid/image02206.jpg", "exif/exif-py/jpg/corrupted.jpg",
])
EXIFTOOL_DUMMIES = ["CanonRaw.cr2", "CanonRaw.cr3", "CanonRaw.crw", "DNG.dng", "Nikon.nef", "FujiFilm.raf",
                    "Panasonic.rw2", "Minolta.mrw", "Sigma.x3f", "PhaseOne.iiq", "JXL.jxl", "JXL2.jxl"]


@pytest.fixture(scope="module")
def corpus_results(corpus: Path) -> dict[str, dict]:
    """Every corpus file these tests look at, probed once (a few child processes instead of one per test)."""
    rels = ["formats/pillow/" + n for n in _pillow_open_errors(corpus)] + EXIF_PY_BAD_EXIF + \
        ["exif/exiftool_t/images/" + n for n in EXIFTOOL_DUMMIES]
    return dict(zip(rels, probe_many([(corpus / r, None) for r in rels])))


def _pillow_open_errors(corpus: Path) -> list[str]:
    truth = json.loads((corpus / "formats/pillow/ground_truth.json").read_text())["pillow_13_probe"]
    return sorted(name for name, v in truth.items() if "open_error" in v or "load_error" in v)


# Probe failures that are not ours: hopper.heif needs pillow-heif, which we register; psd-oob-write-overflow.psd
# fails only when its layers are read (Pillow's n_frames), its merged composite image is intact and is what we use.
PILLOW_PROBE_DECODABLE_HERE = {"avif/hopper.heif", "psd-oob-write-overflow.psd"}


def test_pillow_probe_lists_the_broken_files(corpus: Path) -> None:
    names = _pillow_open_errors(corpus)
    assert {"broken.png", "truncated_image.png", "truncated_jpeg.jpg", "broken_data_stream.png"} <= set(names)


@pytest.mark.parametrize("name", [
    "broken.png", "broken_data_stream.png", "combined_larger_than_size.psd", "hopper.gd", "hopper.mic",
    "hopper.tar", "hopper.wal", "input_bw_five_bands.fpx", "input_bw_one_band.fpx",
    "timeout-1ee28a249896e05b83840ae8140622de8e648ba9.psd", "timeout-598843abc37fc080ec36a2699ebbd44f795d3a6f.psd",
    "timeout-c8efc3fded6426986ba867a399791bae544f59bc.psd", "timeout-dedc7a4ebd856d79b4359bbcc79e8ef231ce38f6.psd",
    "truncated_end_chunk.png", "truncated_image.png", "truncated_jpeg.jpg",
])
def test_pillow_broken_files_give_media_error(corpus: Path, corpus_results: dict, name: str) -> None:
    assert name in _pillow_open_errors(corpus)
    assert_media_error(corpus_results["formats/pillow/" + name])


@pytest.mark.parametrize("name,keywords", [
    ("truncated_image.png", ["truncated"]),
    ("truncated_jpeg.jpg", ["truncated", "JPEG"]),
    ("truncated_end_chunk.png", ["PNG"]),
    ("broken_data_stream.png", ["not a valid PNG", "data stream"]),
    ("broken.png", ["not a valid PNG"]),
    ("timeout-1ee28a249896e05b83840ae8140622de8e648ba9.psd", ["PSD"]),
    ("hopper.tar", ["not an image or video"]),
])
def test_pillow_broken_files_reasons_are_specific(corpus_results: dict, name: str, keywords: list[str]) -> None:
    assert_media_error(corpus_results["formats/pillow/" + name], *keywords)


def test_every_pillow_probe_error_file_is_handled(corpus: Path, corpus_results: dict) -> None:
    """Whole list from ground_truth.json, so a file added upstream is covered too."""
    for name in _pillow_open_errors(corpus):
        result = corpus_results["formats/pillow/" + name]
        if name in PILLOW_PROBE_DECODABLE_HERE:
            assert result["outcome"] == "ok", (name, result)
        else:
            assert_media_error(result)


def test_psd_with_broken_layers_decodes_its_composite(corpus_results: dict) -> None:
    result = corpus_results["formats/pillow/psd-oob-write-overflow.psd"]
    assert result["outcome"] == "ok" and result["size"] == [10, 10], result


def _fuzz_files(corpus: Path) -> list[Path]:
    return sorted((corpus / "formats/libheif/fuzz_corpus_malformed").iterdir())


def test_libheif_fuzz_corpus_is_present(corpus: Path) -> None:
    assert len(_fuzz_files(corpus)) >= 33


@pytest.mark.parametrize("forced", [None, "image/heic"], ids=["sniffed", "forced-heic"])
def test_libheif_fuzz_files_give_media_error(corpus: Path, forced: str | None) -> None:
    """Sniffed: most are not even recognisable HEIF. Forced through libheif: libheif's own words are reported.
    Crashes and hangs are collected and reported together (none with libheif as shipped in pillow-heif 1.8.1)."""
    bad = {}
    paths = _fuzz_files(corpus)
    for path, result in zip(paths, probe_many([(p, forced) for p in paths])):
        if result["outcome"] != "media_error":
            bad[path.name] = result
        elif forced:
            assert result["reason"].startswith(("HEIF decode failed: ", "truncated image data: HEIF",
                                                "decompression bomb")), result
    assert not bad, bad


@pytest.mark.parametrize("rel", EXIF_PY_BAD_EXIF)
def test_exif_py_invalid_exif_jpegs_still_decode(corpus_results: dict, rel: str) -> None:
    """exif-py's 'invalid'/'corrupted' JPEGs have broken EXIF blocks but intact pixel data: a bad EXIF block must
    not cost the user the picture, so these decode (in a child, so a hang would show)."""
    result = corpus_results[rel]
    assert result["outcome"] == "ok" and result["mime"] == "image/jpeg", result


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "zero.jpg"
    p.write_bytes(b"")
    assert_media_error(probe(p), "empty file")
    with pytest.raises(MediaError, match="truncated|empty|not a valid"):
        open_upright(p, "image/jpeg")  # even when a caller skips sniffing


def test_truncated_jpeg_cut_by_hand(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jpg"
    Image.effect_mandelbrot((800, 600), (-2, -1.5, 1, 1.5), 100).convert("RGB").save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert sniff(cut).mime == "image/jpeg"
    assert_media_error(probe(cut), "truncated", "JPEG")


def test_truncated_png_cut_by_hand(tmp_path: Path) -> None:
    whole = tmp_path / "whole.png"
    Image.effect_noise((300, 300), 60).convert("RGB").save(whole)
    cut = tmp_path / "cut.png"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert_media_error(probe(cut), "PNG")


def _bomb_png(path: Path, width: int, height: int) -> None:
    """A 1-bit black PNG of width x height written row by row: ~100 KB on disk, never held in memory."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(tag + data).to_bytes(4, "big")

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    _bomb_png(p, 30000, 30000)
    assert p.stat().st_size < 1_000_000
    assert_media_error(probe(p), "decompression bomb: 30000x30000 = 900.0 megapixels exceeds "
                                 "max_image_megapixels=179")


def test_decompression_bomb_in_process_message(tmp_path: Path) -> None:
    """Same refusal in-process (no child): the message is ours, with the declared dimensions."""
    p = tmp_path / "bomb.png"
    _bomb_png(p, 40000, 40000)
    with pytest.raises(MediaError) as info:
        open_upright(p, "image/png")
    assert info.value.reason == ("decompression bomb: 40000x40000 = 1600.0 megapixels exceeds "
                                 "max_image_megapixels=179")


def test_random_bytes_claimed_as_each_image_type(tmp_path: Path) -> None:
    """A caller passing a wrong mime still gets a MediaError naming the type it asked for."""
    p = tmp_path / "noise"
    p.write_bytes(bytes(range(256)) * 40)
    claims = [("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/heic", "HEIF"), ("image/avif", "AVIF"),
              ("image/jxl", "JPEG XL"), ("image/tiff", "TIFF"), ("image/x-nikon-nef", "NEF")]
    for (mime, label), result in zip(claims, probe_many([(p, mime) for mime, _ in claims])):
        assert_media_error(result, label)


@pytest.mark.parametrize("name", EXIFTOOL_DUMMIES)
def test_exiftool_dummy_raws_give_media_error(corpus_results: dict, name: str) -> None:
    """ExifTool's test 'RAW's carry metadata and no real image data; a small embedded preview is acceptable."""
    result = corpus_results["exif/exiftool_t/images/" + name]
    assert result["outcome"] in ("media_error", "ok"), result
    if result["outcome"] == "media_error":
        assert_media_error(result)
