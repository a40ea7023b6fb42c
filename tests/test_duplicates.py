"""Duplicate groups in a library: exact, same picture, similar shots; a keeper with a reason; never a deletion."""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from factory import jpeg, video
from workbench import Library
from workbench.cli.main import app

STAGES = ["thumbnails", "fingerprints", "quality"]


def astronaut() -> Image.Image:
    from skimage import data
    return Image.fromarray(data.astronaut())


def pan(path: Path, seconds: float) -> None:
    """A clip of a real picture panning slowly (10 fps, 320x240, H.264)."""
    import av
    img = astronaut().resize((512, 512))
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=10)
        st.width, st.height, st.pix_fmt = 320, 240, "yuv420p"
        for i in range(int(seconds * 10)):
            fr = av.VideoFrame.from_image(img.crop((i * 2, i, i * 2 + 320, i + 240)))
            fr.pts = i
            for p in st.encode(fr):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def reencode(src: Path, dst: Path, w: int, h: int, codec: str) -> None:
    """Decode a clip and encode it again at another size with another codec, as a converter would."""
    import av
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        st = out.add_stream(codec, rate=10)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.time_base = Fraction(1, 10)
        for i, frame in enumerate(inp.decode(video=0)):
            new = av.VideoFrame.from_image(frame.to_image().resize((w, h)))
            new.pts = i
            for p in st.encode(new):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("dups_src")
    big = astronaut().resize((1024, 1024))
    big.save(src / "astro.png")                                           # the original
    big.resize((400, 400)).save(src / "astro_small.jpg", quality=70)      # resized and recompressed
    big.transpose(Image.Transpose.ROTATE_90).save(src / "astro_rot.jpg", quality=90)
    big.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(src / "astro_mirror.webp", quality=85)
    big.crop((40, 40, 984, 984)).save(src / "astro_crop.jpg", quality=90)
    from skimage import data
    Image.fromarray(data.coffee()).save(src / "coffee.jpg")              # a different photo
    (src / "copies").mkdir()
    shutil.copy(src / "coffee.jpg", src / "copies" / "coffee_copy.jpg")   # the same bytes twice
    # A burst: one camera, one second apart, the frame shifting a little.
    chelsea = Image.fromarray(data.chelsea())
    for i in range(3):
        path = src / f"burst_{i}.jpg"
        jpeg(path, 10, 10, make="Canon", model="EOS R5", taken=datetime(2024, 5, 1, 12, 0, i))
        exif = Image.open(path).getexif()
        chelsea.crop((i * 6, 0, 400 + i * 6, 300)).save(path, quality=90, exif=exif.tobytes())
    # A live photo: a still and a 2-second clip with the same name.
    Image.fromarray(data.rocket()).save(src / "IMG_0001.jpg")
    video(src / "IMG_0001.mov", seconds=2.0)
    # A clip and its re-encode at another size and codec.
    pan(src / "clip.mp4", seconds=6.0)
    reencode(src / "clip.mp4", src / "clip_small.mkv", 160, 120, "mpeg4")
    lib = Library.create(tmp_path_factory.mktemp("dups") / "lib")
    lib.import_files([src], progress=False)
    lib.process(STAGES, progress=False)
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


def names(group: dict) -> list[str]:
    return sorted(Path(m["path"]).name for m in group["members"])


def groups(lib: Library, kind: str) -> list[dict]:
    return lib.duplicates(kind).to_dict("records")


def test_same_bytes_at_two_paths_is_one_exact_group(lib):
    g = groups(lib, "exact")
    assert [names(x) for x in g] == [["coffee.jpg", "coffee_copy.jpg"]]
    assert g[0]["keep"] == g[0]["members"][0]["id"]


def test_resized_rotated_mirrored_cropped_copies_are_the_same_picture(lib):
    same = [names(g) for g in groups(lib, "same")]
    assert ["astro.png", "astro_crop.jpg", "astro_mirror.webp", "astro_rot.jpg", "astro_small.jpg"] in same


def test_a_different_photo_is_not_grouped_with_them(lib):
    for g in groups(lib, "same"):
        assert "coffee.jpg" not in names(g)


def test_the_keeper_is_the_largest_copy_with_the_reason(lib):
    g = next(g for g in groups(lib, "same") if "astro.png" in names(g))
    keep = next(m for m in g["members"] if m["id"] == g["keep"])
    assert Path(keep["path"]).name in ("astro.png", "astro_rot.jpg", "astro_mirror.webp")  # all 1024x1024
    assert "resolution" in g["reason"] or "quality" in g["reason"] or "metadata" in g["reason"] \
        or "equal" in g["reason"]
    assert g["members"][0]["id"] == g["keep"]


def test_a_re_encoded_video_is_the_same_clip(lib):
    assert ["clip.mp4", "clip_small.mkv"] in [names(g) for g in groups(lib, "same")]


def test_a_burst_is_a_similar_stack_not_a_duplicate(lib):
    similar = [names(g) for g in groups(lib, "similar")]
    assert ["burst_0.jpg", "burst_1.jpg", "burst_2.jpg"] in similar
    assert all("burst_0.jpg" not in names(g) for g in groups(lib, "same"))


def test_a_live_photo_still_and_clip_form_a_stack(lib):
    g = next(g for g in groups(lib, "similar") if "IMG_0001.jpg" in names(g))
    assert names(g) == ["IMG_0001.jpg", "IMG_0001.mov"] and "live photo" in g["reason"]


def test_not_duplicates_is_remembered(lib):
    g = next(g for g in groups(lib, "same") if "clip.mp4" in names(g))
    lib.dismiss_duplicates([m["id"] for m in g["members"]])
    assert "clip.mp4" not in {n for x in groups(lib, "same") for n in names(x)}
    lib = Library.open(lib.root)
    assert "clip.mp4" not in {n for x in groups(lib, "same") for n in names(x)}


def test_finding_duplicates_deletes_nothing(lib):
    before = {p for p in (lib.root / "originals").rglob("*") if p.is_file()}
    lib.duplicates()
    assert {p for p in (lib.root / "originals").rglob("*") if p.is_file()} == before
    assert len(lib.media()) == 13


def test_trashed_members_leave_their_group(lib):
    g = next(g for g in groups(lib, "same") if "clip.mp4" in names(g))
    lib.trash([g["members"][1]["id"]])
    assert "clip.mp4" not in {n for x in groups(lib, "same") for n in names(x)}


def test_cli_duplicates_json_rows(lib):
    out = CliRunner().invoke(app, ["--library", str(lib.root), "duplicates", "--kind", "same", "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert rows and all(list(r) == ["kind", "members", "keep", "reason"] for r in rows)
    assert all(r["kind"] == "same" and r["keep"] in [m["id"] for m in r["members"]] for r in rows)
    assert all(set(m) == {"id", "path"} for r in rows for m in r["members"])


def test_cli_quality_json_rows_and_flag_filter(lib):
    out = CliRunner().invoke(app, ["--library", str(lib.root), "quality", "--json"])
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(rows) == 13 and all(list(r) == ["id", "path", "score", "flags"] for r in rows)
    assert all(0 <= r["score"] <= 100 for r in rows)
    out = CliRunner().invoke(app, ["--library", str(lib.root), "quality", "--flag", "low_resolution", "--json"])
    flagged = [json.loads(x) for x in out.stdout.splitlines()]
    assert flagged and all("low_resolution" in r["flags"] for r in flagged)
    assert {Path(r["path"]).name for r in flagged} >= {"IMG_0001.mov", "clip_small.mkv"}


def test_quality_threshold_change_applies_without_remeasuring(lib):
    before = lib.catalog.count("quality")
    n = len(lib.quality(flag="low_resolution"))
    lib.set_quality_threshold("low_resolution_max_megapixels", 0.01)
    lib.set_quality_threshold("video_low_resolution_max_px", 100)
    assert len(Library.open(lib.root).quality(flag="low_resolution")) < n
    assert lib.catalog.count("quality") == before


def test_unknown_quality_threshold_is_refused_with_the_known_names(lib):
    with pytest.raises(ValueError, match="blur_max_sharpness"):
        lib.set_quality_threshold("blurriness", 3)


def test_raw_and_jpeg_of_one_shot_form_a_stack_and_the_raw_is_kept(corpus, tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    shutil.copy(corpus / "exif" / "exiftool_t" / "images" / "CanonRaw.cr2", folder / "IMG_0002.CR2")
    astronaut().resize((300, 300)).save(folder / "IMG_0002.JPG")
    lib = Library.create(tmp_path / "lib")
    lib.import_files([folder], progress=False)
    g = next(g for g in groups(lib, "similar") if "IMG_0002.JPG" in names(g))
    assert names(g) == ["IMG_0002.CR2", "IMG_0002.JPG"] and "RAW+JPEG" in g["reason"]
    assert lib.get(g["keep"])["path"].endswith("IMG_0002.CR2")


def _two_shots(seed_a: int, seed_b: int):
    import numpy as np
    import pandas as pd
    from workbench.duplicates.fingerprint import N_VIEWS, to_int64
    rng = [np.random.default_rng(s) for s in (seed_a, seed_b)]
    fp = pd.DataFrame([{"media_id": m, **{h: [to_int64(int(x)) for x in r.integers(0, 2**63, N_VIEWS)]
                                          for h in ("phash", "dhash", "ahash")}}
                       for m, r in zip(("a", "b"), rng)])
    media = pd.DataFrame([{"id": m, "taken_at": pd.Timestamp("2024-05-01 12:00:00") + pd.Timedelta(seconds=i),
                           "taken_at_source": "exif", "camera_make": "Canon", "camera_model": "R5"}
                          for i, m in enumerate(("a", "b"))])
    return fp, media


def test_a_burst_can_be_recognised_by_clip_where_the_hashes_differ():
    import numpy as np
    from workbench.duplicates.groups import burst_groups
    from workbench.settings import Settings
    fp, media = _two_shots(1, 2)                                   # unrelated hashes: a moved camera, say
    v = np.ones(8, np.float32) / np.sqrt(8)
    assert burst_groups(fp, media, Settings(), [], None) == []
    assert burst_groups(fp, media, Settings(), [], {"a": v, "b": v}) == [["a", "b"]]
    w = np.zeros(8, np.float32)
    w[0] = 1.0
    assert burst_groups(fp, media, Settings(), [], {"a": v, "b": w}) == []


def test_corpus_exact_duplicate_triplets_are_exactly_the_exact_groups(corpus, tmp_path):
    root = corpus / "faces" / "face_recognition"
    truth = json.loads((root / "ground_truth.json").read_text())["exact_duplicates"]
    lib = Library.create(tmp_path / "lib")
    lib.import_files([root], progress=False)
    found = sorted(sorted(str(Path(m["path"]).relative_to(root.resolve()) if Path(m["path"]).is_absolute()
                              else m["path"]) for m in g["members"]) for g in groups(lib, "exact"))
    assert found == sorted(sorted(t) for t in truth)
