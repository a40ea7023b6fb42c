"""The whole shared corpus through import and processing: nothing lost, every failure explained.

One library is built from every file in ``$WORKBENCH_CORPUS`` (real photos, RAWs, videos, fuzzed and broken
files) and then checked against the corpus' own ground truth.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import Library
from workbench.ingest.scan import iter_candidates

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(corpus: Path, tmp_path_factory) -> tuple[Library, object]:
    lib = Library.create(tmp_path_factory.mktemp("corpus") / "lib")
    report = lib.import_files([corpus], progress=False)
    lib.process(progress=False)
    return lib, report


def test_import_succeeds_overall_and_records_the_failures(built):
    lib, report = built
    assert report.added > 500
    assert report.failed == len(lib.errors().query("stage == 'import'"))


def test_every_media_file_is_either_in_the_library_or_listed_with_a_reason(built, corpus: Path):
    lib, _ = built
    candidates = {str(p) for p, sidecar in iter_candidates([corpus]) if not sidecar}
    sources = set(lib.sources()["path"])
    failed = set(lib.errors().query("stage == 'import'")["path"])
    assert candidates - sources - failed == set()


def test_reasons_are_specific_sentences_not_exception_names(built):
    lib, _ = built
    for reason in lib.errors()["reason"]:
        assert len(reason) > 15 and "Traceback" not in reason
        assert not re.fullmatch(r"[A-Za-z]+(Error|Exception)(:.*)?", reason), reason


def test_fuzzed_heif_files_never_stop_the_batch_and_are_each_accounted_for(built, corpus: Path):
    lib, _ = built
    fuzz = {str(p) for p in (corpus / "formats/libheif/fuzz_corpus_malformed").iterdir() if p.is_file()}
    errs = lib.errors()
    failed_paths = set(errs["path"])
    in_library = set(lib.sources()["path"])
    assert fuzz <= failed_paths | in_library
    assert len(fuzz & failed_paths) >= len(fuzz) // 2  # most of them are refused, each with a reason


def test_files_plain_pillow_cannot_open_are_listed_unless_our_decoders_read_them(built, corpus: Path):
    # Pillow's probe ran without plugins: pillow-heif reads avif/hopper.heif, for example.
    lib, _ = built
    probe = json.loads((corpus / "formats/pillow/ground_truth.json").read_text())["pillow_13_probe"]
    broken = {str(corpus / "formats/pillow" / name) for name, v in probe.items() if "open_error" in v}
    broken = {p for p in broken if Path(p).exists()}
    listed = set(lib.errors()["path"])
    src = lib.sources().set_index("path")["media_id"]
    decoded = {p for p in broken - listed if lib.rendition_path(src[p], "thumb") is not None}
    assert broken - listed - decoded == set()
    assert len(broken & listed) >= len(broken) - 3


def test_far_future_video_date_is_rejected_with_a_recorded_reason(built, corpus: Path):
    lib, _ = built
    path = str(corpus / "peer/immich-test-assets/metadata/dates/future42603.mp4")
    errs = lib.errors().query("path == @path")
    assert any("future" in r for r in errs["reason"]), errs


def test_exact_duplicates_are_one_media_remembering_every_path(built, corpus: Path):
    lib, _ = built
    groups = json.loads((corpus / "faces/face_recognition/ground_truth.json").read_text())["exact_duplicates"]
    groups = [[str(corpus / "faces/face_recognition" / p) for p in g] for g in groups]
    immich = json.loads((corpus / "peer/immich-test-assets/ground_truth.json").read_text())["exact_duplicates"]
    groups += [[str(corpus / "peer/immich-test-assets" / p) for p in g] for g in immich]
    src = lib.sources().set_index("path")["media_id"]
    for g in groups:
        assert len({src[p] for p in g}) == 1, g


def _thumb(lib: Library, corpus: Path, rel: str) -> np.ndarray:
    mid = lib.sources().set_index("path").loc[str(corpus / rel), "media_id"]
    return np.asarray(Image.open(lib.rendition_path(mid, "preview")).convert("RGB"), dtype=np.float32)


@pytest.mark.parametrize("ext", ["jpg", "webp"])
@pytest.mark.parametrize("n", range(2, 9))
def test_previews_are_upright_for_every_exif_orientation(built, corpus: Path, n: int, ext: str):
    lib, _ = built
    ref = _thumb(lib, corpus, f"formats/pillow/hopper.{ext}")
    got = _thumb(lib, corpus, f"formats/pillow/hopper_orientation_{n}.{ext}")
    assert got.shape == ref.shape
    assert np.abs(got - ref).mean() <= 17


def test_every_imported_media_got_a_thumbnail_or_a_reason(built):
    lib, _ = built
    st = lib.status().set_index("stage").loc["thumbnails"]
    assert st["pending"] == 0
    failed = lib.errors().query("stage == 'thumbnails'")
    assert len(failed) == st["failed"]
