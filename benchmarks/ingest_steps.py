#!/usr/bin/env python
"""Per-step wall time, in one process, of the workbench worker path (the functions the import and thumbnail
workers call) against the naive baseline's steps, on the JPEGs ``benchmarks/ingest.py`` generates.

Usage: .venv/bin/python benchmarks/ingest_steps.py INPUT_DIR [N]
  INPUT_DIR: <workdir>/input of a `benchmarks/ingest.py --keep --workdir <workdir>` run; N files (default 30),
  the first one dropped as warm-up. Prints median and mean ms per image for each step.
"""
import hashlib, io, statistics as st, sys, tempfile, time
from pathlib import Path
from PIL import Image
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench.settings import Settings
from workbench.formats.sniff import sniff
from workbench.metadata.extract import extract_metadata
from workbench.ingest.blobstore import store_original
from workbench.storage import LocalStorage, original_key
from workbench.imaging.decode import open_upright
from workbench.imaging import renditions as R

if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
    sys.exit(__doc__)
files = sorted(Path(sys.argv[1]).glob("IMG_*.jpg"))[: int(sys.argv[2]) if len(sys.argv) > 2 else 30]
s = Settings()
tmp = Path(tempfile.mkdtemp(prefix="wbprof-"))
storage = LocalStorage(tmp)
T = {}
def t(name, fn):
    a = time.perf_counter(); r = fn(); T.setdefault(name, []).append((time.perf_counter() - a) * 1000); return r
def fit(size, e):
    w, h = size; k = min(1, e / max(w, h)); return max(1, round(w * k)), max(1, round(h * k))
for f in files:
    # workbench worker path
    ft = t("wb sniff", lambda: sniff(f))
    t("wb metadata (extract_metadata)", lambda: extract_metadata(f, ft.kind, ft.mime, s))
    sha, rel, size = t("wb copy_in (sha256+copy+fsync)", lambda: store_original(storage, f, ft.ext))
    src = storage.local_file(original_key(rel))
    img = t("wb decode (draft 1/2 + load)", lambda: open_upright(src, ft.mime, min_size_px=s.preview_size_px, settings=s))
    prev = t("wb resize preview (bilinear)", lambda: R.fit_long_edge(img, s.preview_size_px))
    th = t("wb resize thumb from preview", lambda: R.fit_long_edge(prev, s.thumb_size_px))
    rp = t(f"wb webp preview m{s.webp_method}", lambda: R.encode_webp(prev, s))
    rt = t(f"wb webp thumb m{s.webp_method}", lambda: R.encode_webp(th, s))
    t("wb write 2 webp (fsync)", lambda: [storage.write(f"derived/d/{f.stem}.{k}.webp", r.data) for k, r in (("p", rp), ("t", rt))])
    # baseline path
    t("base sha256", lambda: hashlib.sha256(f.read_bytes()).hexdigest())
    full = t("base full decode", lambda: Image.open(f).convert("RGB"))
    bp = t("base resize 1440 LANCZOS", lambda: full.resize(fit(full.size, 1440), Image.LANCZOS))
    bt = t("base resize 256 LANCZOS from full", lambda: full.resize(fit(full.size, 256), Image.LANCZOS))
    for m in sorted({s.webp_method, 4}):
        t(f"base webp preview m{m}", lambda: bp.save(io.BytesIO(), "WEBP", quality=s.webp_quality, method=m))
    t(f"base webp thumb m{s.webp_method}", lambda: bt.save(io.BytesIO(), "WEBP", quality=s.webp_quality, method=s.webp_method))
    # alternatives
    def q_draft(scale):
        im = Image.open(src); im.draft("RGB", (4000 // scale, 3000 // scale)); im.load(); return im
    t("alt decode draft 1/4 (1000x750)", lambda: q_draft(4))
    t("alt resize preview LANCZOS", lambda: img.resize(fit(img.size, 1440), Image.LANCZOS))
    t("alt webp preview m0", lambda: prev.save(io.BytesIO(), "WEBP", quality=s.webp_quality, method=0))
    t("alt webp preview q75 m1", lambda: prev.save(io.BytesIO(), "WEBP", quality=75, method=1))
    t("alt jpeg preview q85", lambda: prev.save(io.BytesIO(), "JPEG", quality=85))
print(f"{len(files)} files; settings webp q{s.webp_quality} m{s.webp_method}; median / mean ms per image")
for k, v in T.items():
    v = v[1:] if len(v) > 2 else v  # drop first (warm-up)
    print(f"  {k:<40} {st.median(v):7.1f} {st.mean(v):7.1f}")
import shutil; shutil.rmtree(tmp)
