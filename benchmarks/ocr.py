#!/usr/bin/env python
"""OCR stage (workbench/ocr, stages/ocr.py) against stock ``RapidOCR()`` on the original file: time per image,
with and without text, and word recall.

What it does
  1. Pictures: the corpus text photos (peer/immich-test-assets/albums/text, 12-24 MP, with words I read on them
     by eye in CORPUS_WORDS), generated ones (workbench/ocr/samples.py: two signs at 15 and -25 degrees on 6 MP
     photos, two pages photographed in perspective at 12 MP, two phone screenshots 1170x2532, saved as JPEG q90 /
     PNG), and photos without text (the nature album, skimage photos and five 7-16 MP camera photos).
  2. They are imported into a temporary library and the thumbnails stage makes the 1440 px previews (untimed:
     every analysis stage reads them).
  3. The headline, in every round (alternating which side goes first): the stage as a user runs it,
     ``Library.process(["ocr"])`` on its kept worker pool (one single-threaded worker per core, models loaded
     by an untimed first run) over every picture, in wall seconds, against stock ``RapidOCR()`` (loaded and
     warmed before timing, its default threads) called on each original in a loop in this process.
  4. Single pictures, each variant right after the others, in alternating rounds (ratios within a round):
       stock     RapidOCR() called on the original file (decodes it, detector up to 2000 px, 2 threads)
       <name>    our stage path: decode the preview + OcrModel.predict with the variant's settings, 1 thread
                 (the stage runs one such worker per core)
     Variants differ in the detector's size (d), the first look at 640 px on the preview (l640; nolook: none)
     and the picture detected and read once the look saw text (orig: the original decoded upright at >= 2000
     px, what the stage does; preview: the 1440 px WebP preview); unsimplified runs the model files as shipped
     (``ocr_simplify_models`` off; the default runs workbench/ocr/graph.py's folded copies); 2threads gives
     one picture both cores, as stock does (the stage instead runs a one-thread worker per core); nocut does
     not follow a line past the edge of the part of the picture the detector sees (``ocr_cut_line_passes`` 0);
     noreread reads a line with a typical misread ("re/ease") once (``ocr_reread_pattern`` ""), not again from
     a tighter box; reread0.85 also reads again every line read with a confidence below 0.85.
  5. Recall: each variant's lines (first round) go into a LanceDB table with the same full-text index the
     stage uses; a word counts when a search for it ranks its picture in the top 3. Absent words (vocabulary
     words drawn nowhere) must return nothing. For the default settings the same is checked end to end through
     ``Library.process(["ocr"])`` and ``Library.search`` (which also ranks file-name words and, with CLIP
     weights, image similarity).

Example
  WORKBENCH_CORPUS=/work/shared/corpus python benchmarks/ocr.py --rounds 3
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Words a person would remember and search for, read by eye on the corpus text photos (Turkish without accents,
# as the accent-folding index matches them either way). CJK lines are read but not split into words by the
# index, so the Japanese shop counts its Latin word only.
CORPUS_WORDS = {
    "book-beside-flowers.jpg": ["dost", "kelimeler", "futbolcular", "karambolde", "sevgili", "posta",
                                "kutusundaki", "kalplere", "ural", "tekmeliyor"],
    "craft-beer.jpg": ["seasonal", "barrel", "weekend", "warrior", "hopadillo", "rodeo", "clown", "session",
                       "blonde", "series"],
    "handwritten-notes.jpg": ["progress", "feedback", "important", "remember", "complete", "existing", "release",
                              "design", "documents", "easily"],
    "japanese-shop.jpg": ["kirin"],
}
# Camera photos (7-16 MP) without text, looked at by eye: a cat, a painting in a museum, a harbour panorama, a
# leaf, wisteria.
LARGE_NO_TEXT = ("peer/immich-test-assets/metadata/gps-position/empty_gps.jpg",
                 "exif/exif-py/jpg/tests/42_IndexError.jpg", "exif/exif-py/jpg/mobile/HMD_Nokia_8.3_5G.jpg",
                 "exif/exif-py/jpg/mobile/jolla.jpg", "exif/exif-py/jpg/hdr/iphone_hdr_NO.jpg")
NO_TEXT_SKIMAGE = ("chelsea.png", "coffee.png", "astronaut.png", "motorcycle_left.png", "hubble_deep_field.jpg",
                   "retina.jpg", "grass.png", "brick.png")

VARIANTS = {  # name -> settings overrides of the defaults (the first: the defaults)
    "default": {},
    "whole": {"ocr_look_max_area": 1.0},
    "whole-u1.6": {"ocr_look_max_area": 1.0, "ocr_box_unclip_ratio": 1.6},
    "regions-u1.6": {"ocr_box_unclip_ratio": 1.6},
    "whole-noarena": {"ocr_look_max_area": 1.0, "ocr_memory_arena": False},
    "margin0.03": {"ocr_look_margin": 0.03},
    "nocut": {"ocr_cut_line_passes": 0},  # lines a region's edge cuts are not followed past it
    "noreread": {"ocr_reread_pattern": ""},  # a line like "re/ease" is not read again from a tighter box
    "reread0.85": {"ocr_reread_below": 0.85},  # nor is every line read with a confidence below 0.85
    "d1440": {"ocr_detect_size_px": 1440},
    "d1440-whole": {"ocr_detect_size_px": 1440, "ocr_look_max_area": 1.0},
    "nolook": {"ocr_first_look_px": 0},
    "preview": {"ocr_read_size_px": 0},
    "unsimplified": {"ocr_simplify_models": False},
    "2threads": {"threads": 2},  # the default settings on both cores for one picture, as stock runs
}


def pictures(corpus: Path, out: Path) -> list[dict]:
    """[{path, words, has_text}] for every picture of the benchmark."""
    from workbench.ocr.samples import generated_set
    items = []
    text_dir = corpus / "peer/immich-test-assets/albums/text"
    for name, words in CORPUS_WORDS.items():
        if (text_dir / name).exists():
            items.append({"path": text_dir / name, "words": words, "has_text": True})
    out.mkdir(parents=True, exist_ok=True)
    for name, im, words in generated_set():
        p = out / (f"{name}.png" if name.startswith("screenshot") else f"{name}.jpg")
        if p.suffix == ".jpg":
            im.save(p, quality=90)
        else:
            im.save(p)
        items.append({"path": p, "words": words, "has_text": True})
    for p in sorted((corpus / "peer/immich-test-assets/albums/nature").glob("*.jpg")):
        items.append({"path": p, "words": [], "has_text": False})
    for rel in LARGE_NO_TEXT:
        if (corpus / rel).exists():
            items.append({"path": corpus / rel, "words": [], "has_text": False})
    for n in NO_TEXT_SKIMAGE:
        if (corpus / "skimage_data" / n).exists():
            items.append({"path": corpus / "skimage_data" / n, "words": [], "has_text": False})
    return items


def recall(texts: dict[str, str], items: list[dict], absent: list[str],
           folder: Path) -> tuple[float, list[str], list[str]]:
    """(word recall at top 3, words missed, absent words that found something) with LanceDB full-text search of
    ``texts``."""
    import lancedb
    import pyarrow as pa
    from lancedb.index import FTS
    folder.mkdir(parents=True, exist_ok=True)
    db = lancedb.connect(str(folder))
    tbl = db.create_table(f"t{len(list(folder.iterdir()))}",
                          pa.table({"id": list(texts), "text": [texts[k] or "" for k in texts]}))
    tbl.create_index("text", config=FTS(with_position=False))

    def top3(word: str) -> list[str]:
        return (tbl.search(word, query_type="fts", fts_columns="text").select(["id", "_score"]).limit(3)
                .to_arrow().column("id").to_pylist())
    missed, total = [], 0
    for it in items:
        for w in it["words"]:
            total += 1
            if str(it["path"]) not in top3(w):
                missed.append(w)
    return 1 - len(missed) / max(1, total), missed, [w for w in absent if top3(w)]


def engine_at(rev: str, folder: Path):
    """``workbench/ocr/engine.py`` as it was at git revision ``rev``, imported as a module of its own (the current
    one stays the registered "ocr" model)."""
    import importlib.util
    import subprocess

    from workbench.models.registry import register
    from workbench.ocr.engine import OcrModel
    path = folder / f"engine_at_{rev.replace('/', '_').replace('~', '_')}.py"
    path.write_text(subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:workbench/ocr/engine.py"],
                                   check=True, capture_output=True, text=True).stdout)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module     # dataclasses look their module up there
    spec.loader.exec_module(module)
    register("ocr", OcrModel)
    return module


def stage_round(lib, n: int, engine) -> float:
    """Wall seconds of ``Library.process(["ocr"])`` over the library's ``n`` pictures, as a user runs it: the
    stage's kept worker pool (one single-threaded worker per core, models already loaded by the warm-up run),
    committing its rows and full-text index; the catalog upkeep after it (compaction, replica sync) is left out.
    The stage's rows are deleted first, so every picture is pending again."""
    from workbench.stages.ocr import OCR_TABLE
    if lib.catalog.has(OCR_TABLE):
        lib.catalog.delete(OCR_TABLE, None)
    t0 = time.perf_counter()
    rep = [r for r in lib.process(["ocr"], progress=False, engine=engine, upkeep=False) if r.stage == "ocr"][0]
    wall = time.perf_counter() - t0
    if rep.done != n:
        raise RuntimeError(f"the ocr stage read {rep.done} of {n} pictures: {rep.failures or rep.skipped}")
    return wall


def stock_round(stock, items: list[dict]) -> float:
    """Wall seconds of stock ``RapidOCR()`` (loaded and warm, its default threads) called on each original in a
    loop in this process."""
    t0 = time.perf_counter()
    for it in items:
        stock(str(it["path"]))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS to time")
    ap.add_argument("--no-stage", action="store_true", help="skip the end-to-end stage run")
    ap.add_argument("--text-only", action="store_true", help="only the pictures with text (a loaded machine)")
    ap.add_argument("--engine-at", default="", metavar="REV",
                    help="also time workbench/ocr/engine.py as it was at git revision REV (default settings), as "
                         "the variant engine@REV: what a change to the engine saves, in the same rounds")
    args = ap.parse_args()
    corpus = Path(os.environ.get("WORKBENCH_CORPUS", "/work/shared/corpus"))
    if not corpus.exists():
        sys.exit("set WORKBENCH_CORPUS to the shared corpus")

    import numpy as np
    from PIL import Image
    from rapidocr_onnxruntime import RapidOCR

    from workbench import Library
    from workbench.imaging.decode import open_upright
    from workbench.ocr.engine import OcrModel
    from workbench.ocr.samples import unused_words
    from workbench.settings import Settings
    from workbench.stages.ocr import rgb_array

    tmp = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    atexit.register(shutil.rmtree, tmp, True)  # the library, generated pictures and indexes (~30 MB) go at exit
    items = [it for it in pictures(corpus, tmp / "generated") if it["has_text"] or not args.text_only]
    lib = Library.create(tmp / "lib")
    lib.import_files([it["path"] for it in items], progress=False)
    lib.process(["thumbnails"], progress=False)
    by_path = {r["path"]: r for r in lib.media().to_dict("records")}
    for it in items:
        r = by_path[str(Path(it["path"]).absolute())]
        it["id"], it["mime"] = r["id"], r["mime"]
        it["preview"] = lib.rendition_path(r["id"], "preview")
    absent = [w for w in unused_words() if not any(w in ws for ws in CORPUS_WORDS.values())]
    print(f"{sum(i['has_text'] for i in items)} pictures with text ({sum(len(i['words']) for i in items)} words), "
          f"{sum(not i['has_text'] for i in items)} without; {len(absent)} absent words", flush=True)

    stock = RapidOCR()
    names = [v for v in args.variants.split(",") if v]
    models = {n: OcrModel(replace(Settings(), **{k: v for k, v in VARIANTS[n].items() if k != "threads"}),
                          threads=VARIANTS[n].get("threads", 1)).load() for n in names}
    if args.engine_at:
        models[f"engine@{args.engine_at}"] = engine_at(args.engine_at, tmp).OcrModel(Settings()).load()
    stock(str(items[0]["path"]))  # warm-up
    for m in models.values():
        m.predict(np.zeros((64, 64, 3), np.uint8))

    def run(name: str, it: dict) -> str:
        if name == "stock":
            res, _ = stock(str(it["path"]))
            return "\n".join(r[1] for r in res or [])
        m = models[name]
        with Image.open(it["preview"]) as im:
            rgb = rgb_array(im)
        size = m.settings.ocr_read_size_px

        def hires() -> np.ndarray:  # what the stage does: the original, decoded upright at >= ocr_read_size_px
            return rgb_array(open_upright(Path(it["path"]), it["mime"], size))
        return "\n".join(t.text for t in m.predict(rgb, hires if size else None))

    # The headline: the stage as Library.process(["ocr"]) runs it, against stock's loop, both warm (models loaded
    # before timing on both sides: stock's above, the stage's kept workers by this untimed first run).
    engine = lib.engine("local", keep_workers_s=24 * 3600)
    stage_round(lib, len(items), engine)

    variants = ["stock", *models]
    times: dict[str, dict[str, list[float]]] = {v: {str(i["path"]): [] for i in items} for v in variants}
    cpu: dict[str, dict[str, list[float]]] = {v: {str(i["path"]): [] for i in items} for v in variants}
    texts: dict[str, dict[str, str]] = {v: {} for v in variants}
    pool_s: list[float] = []
    stock_s: list[float] = []
    for rnd in range(args.rounds):
        order = variants if rnd % 2 == 0 else variants[::-1]
        for it in items:
            for v in order:
                t0, c0 = time.perf_counter(), time.process_time()
                txt = run(v, it)
                times[v][str(it["path"])].append(time.perf_counter() - t0)
                cpu[v][str(it["path"])].append(time.process_time() - c0)
                texts[v].setdefault(str(it["path"]), txt)
        # The headline in the same round, alternating which side goes first.
        for side in (("stage", "stock") if rnd % 2 == 0 else ("stock", "stage")):
            if side == "stage":
                pool_s.append(stage_round(lib, len(items), engine))
            else:
                stock_s.append(stock_round(stock, items))
        print(f"round {rnd + 1}/{args.rounds}: Library.process(['ocr']) {pool_s[-1] / len(items):.3f} s per "
              f"picture, stock's loop {stock_s[-1] / len(items):.3f} s per picture "
              f"({stock_s[-1] / pool_s[-1]:.2f}x)", flush=True)
    engine.close()

    def per_image(v: str, with_text: bool, table: dict | None = None) -> float:
        table = times if table is None else table
        if not any(i["has_text"] == with_text for i in items):
            return float("nan")
        return statistics.mean(statistics.median(table[v][str(i["path"])]) for i in items
                               if i["has_text"] == with_text)

    def round_ratios(v: str) -> list[float]:
        """Stock's time over the variant's on the pictures with text, per round (same round, same load)."""
        text = [str(i["path"]) for i in items if i["has_text"]]
        return [sum(times["stock"][p][r] for p in text) / sum(times[v][p][r] for p in text)
                for r in range(args.rounds)]

    missed: dict[str, list[str]] = {}
    n_t = sum(i["has_text"] for i in items)
    n_n = len(items) - n_t
    base = {k: per_image("stock", k) for k in (True, False)}
    base_all = (base[True] * n_t + base[False] * n_n) / len(items)
    print(f"\nmedian of {args.rounds} rounds per picture, mean over pictures; speedup = stock / variant")
    print("variant              text s/img  no-text s/img  all s/img  speedup text / no-text / all   "
          "recall@3  absent-hits")
    for v in variants:
        t, n = per_image(v, True), per_image(v, False)
        a = (t * n_t + n * n_n) / len(items)
        rec, missed[v], false = recall(texts[v], items, absent, tmp / "fts")
        print(f"{v:<20} {t:10.3f}  {n:13.3f}  {a:9.3f}  {base[True] / t:5.1f}x / {base[False] / n:5.1f}x / "
              f"{base_all / a:5.1f}x    {rec:8.3f}  {len(false)}/{len(absent)} {' '.join(false)}")
    for v in variants:
        print(f"  {v}: words not found: {', '.join(missed[v]) or '-'}")
    print("\nwith text, per round: stock's wall time / the variant's (same round); CPU seconds per picture "
          "(process time: stock's counts both its threads)")
    for v in variants:
        print(f"  {v:<20} {' '.join(f'{r:.2f}x' for r in round_ratios(v))}   cpu with text "
              f"{per_image(v, True, cpu):.3f} s, without {per_image(v, False, cpu):.3f} s, "
              f"cpu speedup with text {per_image('stock', True, cpu) / per_image(v, True, cpu):.1f}x")

    ratios = [a / b for a, b in zip(stock_s, pool_s)]
    print(f"\nHEADLINE, wall time over the {len(items)} pictures: Library.process(['ocr']) (warm kept workers, "
          f"{Settings().worker_count()} x 1 thread) {statistics.median(pool_s) / len(items):.3f} s per picture; "
          f"stock RapidOCR() in a loop {statistics.median(stock_s) / len(items):.3f} s per picture; speedup per "
          f"round {', '.join(f'{r:.2f}x' for r in ratios)} (median {statistics.median(ratios):.2f}x)")

    # End to end: the stage with default settings, then Library.search top 3.
    if args.no_stage:
        return
    from workbench.stages.ocr import OCR_TABLE
    lib.catalog.delete(OCR_TABLE, None)  # the headline rounds left their rows: everything pending again
    t0 = time.perf_counter()
    rep = [r for r in lib.process(["ocr"], progress=False) if r.stage == "ocr"][0]
    wall = time.perf_counter() - t0
    found = total = 0
    for it in items:
        for w in it["words"]:
            total += 1
            found += it["id"] in list(lib.search(w, limit=3)["id"])
    false = [w for w in absent if not lib.search(w, limit=3).empty]
    print(f"\nstage end to end ({Settings().worker_count()} workers, model load included): {rep.done} ok, "
          f"{rep.failed} failed, {wall:.1f} s = {wall / len(items):.3f} s per picture; Library.search recall@3 "
          f"{found}/{total} = {found / max(1, total):.3f}; absent words with hits: {len(false)}/{len(absent)} "
          f"{' '.join(false)}")


if __name__ == "__main__":
    main()
