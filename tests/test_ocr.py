"""Words in photos: the ``ocr`` stage reads text with PP-OCR (shipped in rapidocr-onnxruntime), stores each line
with its box in upright-original pixels, and the words find the photo in search, ``ls --has-text``, ``show``,
``Library.text`` and a user's view (which hides the text of media the user may not see)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from workbench import Library
from workbench.errors import NotFoundError
from workbench.ocr.samples import font
from workbench.settings import Settings

pytestmark = pytest.mark.slow

PW = "a-long-enough-password"
SIGN_WORDS = "PARKING GARAGE"
ROTATED_WORDS = "MUSEUM TICKET"
CAPTION = "HARBOUR FESTIVAL"


def captioned_video(path: Path, seconds: float = 2.0, fps: int = 10, w: int = 640, h: int = 360) -> Path:
    """A short H.264 clip whose frames all carry the same caption on a light band."""
    import av
    im = background(w, h, seed=5)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 250, w, 330), fill=(240, 240, 230))
    d.text((40, 260), CAPTION, fill=(10, 10, 10), font=font(48))
    arr = np.asarray(im)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            fr = av.VideoFrame.from_ndarray(arr, format="rgb24")
            fr.pts = i
            for p in st.encode(fr):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path


def background(w: int, h: int, seed: int) -> Image.Image:
    """A smooth colour gradient with grain (photo-like, no letters)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 150 + 60 * (x / w)[..., None] * rng.uniform(-1, 1, 3) + 40 * (y / h)[..., None] + rng.normal(0, 4, (h, w, 1))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def with_text(w: int, h: int, text: str, at: tuple[int, int], seed: int) -> tuple[Image.Image, tuple[int, ...]]:
    """A picture with ``text`` in dark letters on a light panel at ``at``; returns it and the text's box."""
    im = background(w, h, seed)
    d = ImageDraw.Draw(im)
    f = font(90)
    box = d.textbbox(at, text, font=f)
    d.rectangle((box[0] - 30, box[1] - 30, box[2] + 30, box[3] + 30), fill=(245, 240, 225))
    d.text(at, text, fill=(20, 20, 40), font=f)
    return im, box


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def bounds(corners: list[list[int]]) -> tuple[float, ...]:
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """A library of alice's: a sign, the same kind of picture stored sideways with EXIF orientation 6, a blank
    photo, a photo whose preview gets damaged after the thumbnails stage, a truncated JPEG and a captioned
    video."""
    root = tmp_path_factory.mktemp("ocr")
    src = root / "alice"
    src.mkdir()
    sign, sign_box = with_text(1800, 1200, SIGN_WORDS, (300, 500), seed=1)
    sign.save(src / "sign.jpg", quality=92)
    upright, rot_box = with_text(1200, 1800, ROTATED_WORDS, (150, 1200), seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": store the pixels turned the other way
    upright.transpose(Image.Transpose.ROTATE_90).save(src / "rotated.jpg", quality=92, exif=exif.tobytes())
    background(1600, 1200, seed=3).save(src / "blank.jpg", quality=92)
    background(1600, 1200, seed=4).save(src / "damaged.jpg", quality=92)
    (src / "truncated.jpg").write_bytes((src / "sign.jpg").read_bytes()[:3000])
    captioned_video(src / "harbour.mp4")
    lib = Library.create(root / "lib")
    lib.import_files([src], owner="alice", progress=False)
    lib.process(["thumbnails"], progress=False)
    damaged = lib.media(query="damaged")["id"].iloc[0]
    preview = lib.rendition_path(damaged, "preview")
    preview.chmod(0o644)
    preview.write_bytes(b"RIFF\0\0\0\0WEBPnot really")
    reports = {r.stage: r for r in lib.process(["ocr"], progress=False)}
    for name, role in (("alice", "viewer"), ("bob", "viewer")):
        lib.add_user(name, PW, role)
    ids = {Path(p).stem: i for p, i in zip(lib.media()["path"], lib.media()["id"])}
    return {"root": lib.root, "ids": ids, "report": reports["ocr"], "sign_box": sign_box, "rot_box": rot_box}


@pytest.fixture(scope="module")
def lib(built) -> Library:
    return Library.open(built["root"])


@pytest.fixture(scope="module")
def model():
    """One loaded OCR model for the tests that call it directly."""
    from workbench.ocr.engine import load_model
    return load_model(Settings())


def test_reads_the_words_of_a_sign_with_their_box_in_original_pixels(lib, built):
    lines = lib.text(built["ids"]["sign"])
    assert list(lines["text"]) == [SIGN_WORDS]
    assert lines["confidence"].iloc[0] > 0.8
    assert iou(bounds(lines["box"].iloc[0]), built["sign_box"]) > 0.6


def test_boxes_of_an_exif_rotated_photo_are_in_upright_pixels(lib, built):
    row = lib.get(built["ids"]["rotated"])
    assert (row["width"], row["height"]) == (1200, 1800)
    lines = lib.text(built["ids"]["rotated"])
    assert list(lines["text"]) == [ROTATED_WORDS]
    assert iou(bounds(lines["box"].iloc[0]), built["rot_box"]) > 0.6


def test_a_video_is_read_in_sampled_frames_and_a_caption_kept_once(lib, built):
    lines = lib.text(built["ids"]["harbour"])
    assert list(lines["text"]) == [CAPTION]
    assert 0 <= lines["t_s"].iloc[0] <= 2.0
    x0, y0, x1, y1 = bounds(lines["box"].iloc[0])
    assert 20 <= x0 < x1 <= 640 and 240 <= y0 < y1 <= 340       # in the video's own pixels
    assert lib.get(built["ids"]["harbour"])["stages"]["ocr"]["frames_read"] == Settings().ocr_video_frames
    assert list(lib.search("festival", limit=3)["id"])[:1] == [built["ids"]["harbour"]]


def test_a_blank_photo_has_no_text_decided_by_the_cheap_first_look(lib, built, model):
    assert lib.text(built["ids"]["blank"]).empty
    st = lib.get(built["ids"]["blank"])["stages"]["ocr"]
    assert st["status"] == "ok" and st["line_count"] == 0 and st["frames_read"] == 1
    assert model.first_look(np.asarray(background(1440, 1080, seed=3))) is False
    sign, _ = with_text(1440, 1080, SIGN_WORDS, (200, 400), seed=1)
    assert model.first_look(np.asarray(sign)) is True


def test_the_full_size_detector_sees_only_the_part_of_a_photo_where_the_look_saw_text(model):
    from dataclasses import replace

    from workbench.ocr.engine import OcrModel
    rgb = np.asarray(with_text(1440, 1080, SIGN_WORDS, (200, 400), seed=1)[0])
    regions = model.text_regions(rgb)
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions)
    assert 0 < area < Settings().ocr_look_max_area
    box = (200 / 1440, 400 / 1080, 900 / 1440, 490 / 1080)   # where the letters are drawn (90 px font)
    assert any(r[0] <= box[0] and r[1] <= box[1] and r[2] >= box[2] and r[3] >= box[3] for r in regions)
    whole = OcrModel(replace(Settings(), ocr_look_max_area=1.0)).load()
    assert whole.text_regions(rgb) == [(0.0, 0.0, 1.0, 1.0)]
    assert " ".join(t.text for t in model.predict(rgb)) == " ".join(t.text for t in whole.predict(rgb)) == SIGN_WORDS
    assert model.text_regions(np.asarray(background(1440, 1080, seed=3))) == []


def page_with_running_header(angle_deg: float = 6.0, header_bottom_px: int = 765) -> Image.Image:
    """A 1500x2000 book page: a large heading and body text the cheap look sees, and above them a running header
    in small print, turned a few degrees, that the look at 640 px is blind to (20 px letters there are ~6 px)."""
    im = Image.new("RGB", (1500, 2000), (236, 232, 222))
    d = ImageDraw.Draw(im)
    d.text((200, 800), "Chapter", fill=(25, 25, 30), font=font(150))
    for i, line in enumerate(("the harbour festival opens", "with a concert at the castle", "and a market by the river")):
        d.text((200, 1050 + i * 80), line, fill=(25, 25, 30), font=font(48, bold=False))
    header = Image.new("L", (900, 60), 0)
    ImageDraw.Draw(header).text((10, 10), "quarterly almanac of the valley", fill=255, font=font(20, bold=False))
    header = header.rotate(angle_deg, expand=True, resample=Image.Resampling.BICUBIC)
    im.paste(Image.new("RGB", header.size, (50, 50, 55)), (180, header_bottom_px - header.size[1]), header)
    return im


def test_a_small_print_line_the_looks_part_cuts_is_read_whole_and_each_line_once(model):
    """The full-size detector runs only where the look saw text, grown by a margin; a line of small print the
    look cannot see may cross that part's edge (here the page's running header, whose left end dips into the
    part around the heading). Its sliver inside reaches the edge, so the detector also looks past that edge,
    and the line is read whole; the lines found twice (in the part and past its edge) are read once."""
    from dataclasses import replace

    from workbench.ocr.engine import OcrModel
    im = page_with_running_header()
    full = np.asarray(im)
    preview = np.asarray(im.resize((1080, 1440), Image.Resampling.LANCZOS))
    regions = model.text_regions(preview)
    # one part, starting below most of the header (drawn at 0.33-0.38 of the height)
    assert len(regions) == 1 and 0.3 < regions[0][1] < 0.4
    lines = [t.text for t in model.predict(preview, lambda: full)]
    assert "quarterly almanac of the valley" in lines
    assert [t for t in lines if "Chapter" in t] == ["Chapter"]
    assert len(lines) == 5
    words = {w for t in lines for w in t.split()}
    assert {"harbour", "concert", "castle", "market", "river"} <= words
    # without looking past the part's edge only a fragment of the header is read
    within = OcrModel(replace(Settings(), ocr_cut_line_passes=0)).load()
    header = [t.text for t in within.predict(preview, lambda: full) if "quarterly" in t.text]
    assert header and "valley" not in header[0]


def test_a_line_with_a_typical_misread_is_read_again_from_a_tighter_box_and_a_sure_line_once():
    """Which box a line gets can flip a letter (a handwritten "l" read as "/" once its box grows by a few pixels),
    so a line whose text matches ``ocr_reread_pattern`` ("/" between two letters), or, when it is set, whose
    confidence is below ``ocr_reread_below``, is read a second time from its box shrunk by ``ocr_reread_shrink``
    of its height, and the surer of the two readings is kept. Any other line goes through the recogniser once."""
    from dataclasses import replace

    from workbench.ocr.engine import OcrModel
    im, _ = with_text(1600, 1200, "PARKING GARAGE", (300, 500), seed=11)
    d = ImageDraw.Draw(im)
    d.text((320, 800), "Il1| O0o rnm", fill=(40, 40, 40), font=font(34, bold=False))  # read unsure, no "/"
    d.text((320, 950), "cash/card", fill=(40, 40, 40), font=font(34, bold=False))
    rgb = np.asarray(im)

    def reads(**settings: object) -> tuple[list, list[int]]:
        """The lines, and how many crops each call of the recogniser got."""
        m = OcrModel(replace(Settings(), **settings)).load()
        rec, calls = m._ocr.text_rec, []

        def counted(crops, *a, **k):
            calls.append(len(crops))
            return rec(crops, *a, **k)
        m._ocr.text_rec = counted
        return m.predict(rgb), calls

    once, calls = reads(ocr_reread_pattern="")
    assert calls == [3]
    texts = [t.text for t in once]
    assert texts[0] == "PARKING GARAGE" and texts[2] == "cash/card"
    assert once[0].confidence > 0.9 and once[1].confidence < 0.85
    default, calls = reads()
    assert calls == [3, 1]  # only "cash/card" again
    assert [t.text for t in default] == texts
    _, calls = reads(ocr_reread_below=0.85)
    assert calls == [3, 2]  # and the unsure line
    # every line unsure: each is read twice, and no reading is less sure than the single one
    every, calls = reads(ocr_reread_below=1.01)
    assert calls == [3, 3]
    assert [t.box for t in every] == [t.box for t in once]
    assert all(a.confidence >= b.confidence for a, b in zip(every, once))
    # the tighter box: each side moved in by half the fraction of the line's height
    box = np.array([[10, 20], [110, 20], [110, 60], [10, 60]], np.float32)
    assert OcrModel.shrunk_box(box, 0.1).tolist() == [[12, 22], [108, 22], [108, 58], [12, 58]]


@pytest.mark.skipif(not (Path(os.environ.get("WORKBENCH_CORPUS", "/nonexistent"))
                         / "peer/immich-test-assets/albums/text/handwritten-notes.jpg").exists(),
                    reason="needs WORKBENCH_CORPUS")
def test_the_handwritten_release_on_the_notes_is_found_by_search(tmp_path):
    """The corpus's handwritten notes: the first "release" is read "-re/ease" (confidence 0.85) from the box its
    part gives it; read again from a tighter box it is "-release" (0.87), and a search for the word finds the
    photo."""
    notes = Path(os.environ["WORKBENCH_CORPUS"]) / "peer/immich-test-assets/albums/text/handwritten-notes.jpg"
    lib = Library.create(tmp_path / "lib")
    lib.import_files([notes], progress=False)
    lib.process(["thumbnails", "ocr"], progress=False)
    (media_id,) = list(lib.media()["id"])
    assert "-release" in list(lib.text(media_id)["text"])
    assert list(lib.search("release", limit=3)["id"])[:1] == [media_id]


def test_the_detector_gets_the_input_rapidocr_would_give_it_from_an_rgb_picture(model):
    """The detector's input is built from the RGB picture in one float32 pass (no BGR copy of the picture, no
    float64): it must equal RapidOCR's own preprocessing of the BGR picture, for its shipped normalisation and
    for a model configured with per-channel means and deviations."""
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess
    rgb = np.random.default_rng(7).integers(0, 256, (64, 160, 3), np.uint8)
    det = model._ocr.text_det
    shipped = (det.mean, det.std)
    try:
        for mean, std in (shipped, ([0.485, 0.456, 0.406], [0.229, 0.229, 0.229]),
                          ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])):
            det.mean, det.std = mean, std
            for part in (rgb, rgb[:, 32:128]):       # a whole picture and a region cut from it
                want = DetPreProcess(32, "min", mean, std)(np.ascontiguousarray(part[..., ::-1]))
                got = model._det_input(part)
                assert got.dtype == np.float32 and got.shape == want.shape
                assert np.abs(got - want).max() < 1e-5
    finally:
        det.mean, det.std = shipped


def test_search_finds_a_photo_by_a_word_in_it_and_nothing_by_an_absent_word(lib, built):
    hits = lib.search("garage", limit=3)
    assert list(hits["id"])[:1] == [built["ids"]["sign"]]
    assert list(lib.search("museum", limit=3)["id"])[:1] == [built["ids"]["rotated"]]
    assert lib.search("invoice", limit=3).empty


def test_has_text_filter_lists_only_media_with_text(lib, built):
    with_text_ids = set(lib.media(has_text=True)["id"])
    assert with_text_ids == {built["ids"]["sign"], built["ids"]["rotated"], built["ids"]["harbour"]}
    assert built["ids"]["blank"] in set(lib.media(has_text=False)["id"])
    assert not with_text_ids & set(lib.media(has_text=False)["id"])


def test_search_ls_has_text_and_show_on_the_command_line(built):
    env = {**os.environ, "WORKBENCH_LIBRARY": str(built["root"])}

    def wb(*args: str) -> str:
        p = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env,
                           timeout=300)
        assert p.returncode == 0, p.stderr
        return p.stdout
    rows = [json.loads(line) for line in wb("ls", "--has-text", "--json").splitlines()]
    assert {r["id"] for r in rows} == {built["ids"]["sign"], built["ids"]["rotated"], built["ids"]["harbour"]}
    assert SIGN_WORDS in wb("show", built["ids"]["sign"])
    hits = [json.loads(line) for line in wb("search", "garage", "--limit", "3", "--json").splitlines()]
    assert [h["id"] for h in hits][:1] == [built["ids"]["sign"]]


def test_a_user_view_shows_text_only_of_media_the_user_may_see(lib, built):
    alice, bob = lib.for_user("alice"), lib.for_user("bob")
    assert list(alice.text(built["ids"]["sign"])["text"]) == [SIGN_WORDS]
    assert list(alice.search("garage", limit=3)["id"])[:1] == [built["ids"]["sign"]]
    assert set(alice.media(has_text=True)["id"]) == {built["ids"][n] for n in ("sign", "rotated", "harbour")}
    with pytest.raises(NotFoundError):
        bob.text(built["ids"]["sign"])
    assert bob.search("garage", limit=3).empty
    assert bob.media(has_text=True).empty


def test_a_damaged_picture_fails_alone_with_a_reason(lib, built):
    rep = built["report"]
    assert rep.done == 4 and rep.failed == 1
    (path, reason), = rep.failures
    assert path.endswith("damaged.jpg") and "could not read the preview" in reason
    errors = lib.errors()
    assert "could not read the preview" in errors.loc[errors["stage"] == "ocr", "reason"].iloc[0]
    # The truncated JPEG failed at the thumbnails stage; the OCR stage waits for it instead of failing again.
    st = lib.status().set_index("stage").loc["ocr"]
    assert (st["done"], st["failed"], st["pending"]) == (4, 1, 1)


def test_rerunning_is_a_no_op_and_a_later_import_is_searchable_too(built, tmp_path):
    lib = Library.open(shutil.copytree(built["root"], tmp_path / "lib", symlinks=True))
    rep = {r.stage: r for r in lib.process(["ocr"], progress=False)}["ocr"]
    assert (rep.done, rep.failed) == (0, 0)
    with_text(1600, 1200, "FRESH BAKERY", (200, 400), seed=6)[0].save(tmp_path / "later.jpg", quality=92)
    lib.import_files([tmp_path / "later.jpg"], owner="alice", progress=False)
    reps = {r.stage: r for r in lib.process(["thumbnails", "ocr"], progress=False)}
    assert (reps["ocr"].done, reps["ocr"].failed) == (1, 0)
    assert list(lib.search("bakery", limit=3)["path"].map(lambda p: Path(p).name)) == ["later.jpg"]
    assert list(lib.search("garage", limit=3)["id"])[:1] == [built["ids"]["sign"]]


def test_a_new_model_version_makes_every_media_pending(lib, tmp_path):
    import rapidocr_onnxruntime
    shipped = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_rec_infer.onnx"
    other = shutil.copy(shipped, tmp_path / "my_rec_model.onnx")
    before = lib.status().set_index("stage").loc["ocr"]
    lib.settings.ocr_rec_model_path = str(other)
    try:
        after = lib.status().set_index("stage").loc["ocr"]
    finally:
        lib.settings.ocr_rec_model_path = ""
    assert after["version"] != before["version"] and "my_rec_model" in after["version"]
    assert (after["done"], after["failed"], after["pending"]) == (0, 0, 6)


def test_the_gallery_sidebar_filters_by_has_text_and_the_viewer_lists_the_lines(lib, built):
    from workbench.gallery.filters import Sidebar
    from workbench.gallery.viewer import Viewer
    changes = []
    bar = Sidebar(lambda: changes.append(1))
    assert "has_text" not in bar.query().filters()
    bar.has_text.value = True
    assert changes and bar.query().filters() == {"has_text": True}
    alice = lib.for_user("alice")
    assert set(alice.media(**bar.query().filters())["id"]) == {built["ids"]["sign"], built["ids"]["rotated"],
                                                                built["ids"]["harbour"]}
    bar.clear()
    assert bar.has_text.value is False
    viewer = Viewer(lambda fn: fn())
    viewer.view = alice
    assert SIGN_WORDS in viewer._extra_html(built["ids"]["sign"])
    assert "Text in the picture" not in viewer._extra_html(built["ids"]["blank"])


def test_a_missing_model_file_skips_the_stage_with_what_to_fix(lib):
    lib.settings.ocr_rec_model_path = "/nowhere/latin_rec.onnx"
    try:
        assert lib.status().set_index("stage").loc["ocr", "pending"] == 6   # status still answers
        rep = {r.stage: r for r in lib.process(["ocr"], progress=False)}["ocr"]
    finally:
        lib.settings.ocr_rec_model_path = ""
    assert "/nowhere/latin_rec.onnx" in rep.skipped and "ocr_rec_model_path" in rep.skipped


def _tiny_ppocr_block(path: Path) -> Path:
    """A PP-LCNetV3 block as Paddle2ONNX writes it: conv, scalar scale and bias (scalar first in Mul),
    hard-swish as Add 3 / Clip 0..6 / Mul / Div 6, scale and bias again, then a 1x1 conv and a padded 3x3 conv
    each after a scalar scale and bias."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(1)

    def const(name: str, value) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value, np.float32),
                                                                                         name))
    w = {f"w{i}": rng.normal(0, 0.5, shape).astype(np.float32)
         for i, shape in enumerate([(4, 3, 3, 3), (4, 4, 1, 1), (4, 1, 3, 3)])}
    b = {f"b{i}": rng.normal(0, 0.5, 4).astype(np.float32) for i in range(3)}
    nodes = [const(n, v) for n, v in {"a": [1.3], "c": [0.6], "three": [3.0], "six": [6.0], "lo": 0.0, "hi": 6.0,
                                      "d": [0.2], "e": [0.7], "f": [-0.4], "g": [1.1], "h": [0.3]}.items()]
    nodes += [
        helper.make_node("Conv", ["x", "w0", "b0"], ["y0"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["a", "y0"], ["y1"]), helper.make_node("Add", ["y1", "c"], ["y2"]),
        helper.make_node("Add", ["y2", "three"], ["y3"]), helper.make_node("Clip", ["y3", "lo", "hi"], ["y4"]),
        helper.make_node("Mul", ["y2", "y4"], ["y5"]), helper.make_node("Div", ["y5", "six"], ["y6"]),
        helper.make_node("Mul", ["d", "y6"], ["y7"]), helper.make_node("Add", ["y7", "e"], ["y8"]),
        helper.make_node("Conv", ["y8", "w1", "b1"], ["y9"]),
        helper.make_node("Mul", ["g", "y9"], ["y10"]), helper.make_node("Add", ["y10", "f"], ["y11"]),
        helper.make_node("Relu", ["y11"], ["y12"]),
        helper.make_node("Mul", ["y12", "h"], ["y13"]),
        helper.make_node("Conv", ["y13", "w2", "b2"], ["out"], pads=[1, 1, 1, 1], group=4)]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [numpy_helper.from_array(v, k) for k, v in {**w, **b}.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)]), path)
    return path


def test_simplifying_a_ppocr_block_folds_scale_bias_and_hard_swish_with_the_same_outputs(tmp_path):
    import onnx

    from workbench.ocr.graph import _same_outputs, derived_model
    src = _tiny_ppocr_block(tmp_path / "block.onnx")
    out = derived_model(src, tmp_path / "cache", (1, 3, 8, 8))
    assert out.parent == tmp_path / "cache" and out != src
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    # The scale and bias after each conv are in its weights; hard-swish is HardSigmoid and one Mul; the scale and
    # bias before the 1x1 conv are in its weights; the scale before the padded 3x3 conv stays (padding).
    assert ops == ["Conv", "HardSigmoid", "Mul", "Conv", "Relu", "Mul", "Conv"]
    assert _same_outputs(str(src), str(out), (1, 3, 8, 8)) < 1e-5
    assert derived_model(src, tmp_path / "cache", (1, 3, 8, 8)) == out        # cached: built once
    assert derived_model(src, tmp_path / "other", (1, 3, 8, 8), tolerance=-1.0) == src  # a mismatch: the original
    assert derived_model(src, src / "not-a-folder", (1, 3, 8, 8)) == src                # an unwritable cache too


def test_the_ocr_models_run_as_simplified_copies_in_the_cache_and_read_the_same(tmp_path):
    from dataclasses import replace

    from workbench.ocr.engine import OcrModel
    fast = OcrModel(replace(Settings(), ocr_cache_dir=str(tmp_path))).load()
    plain = OcrModel(replace(Settings(), ocr_simplify_models=False)).load()
    assert {Path(p).parent for p in fast.model_files.values()} == {tmp_path}
    assert all("rapidocr_onnxruntime" in p for p in plain.model_files.values())
    made = {p: Path(p).stat().st_mtime_ns for p in fast.model_files.values()}
    again = OcrModel(replace(Settings(), ocr_cache_dir=str(tmp_path), ocr_box_unclip_ratio=1.71)).load()
    assert {p: Path(p).stat().st_mtime_ns for p in again.model_files.values()} == made   # reused, not rebuilt
    rgb = np.asarray(with_text(1440, 1080, SIGN_WORDS, (200, 400), seed=1)[0])
    a, b = fast.predict(rgb), plain.predict(rgb)
    assert [t.text for t in a] == [t.text for t in b] == [SIGN_WORDS]
    assert np.abs(np.array(a[0].box) - np.array(b[0].box)).max() <= 1.0
