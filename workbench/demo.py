"""``make demo``: build a small library from scikit-image's bundled photos and a generated video, process it,
print what is inside, then serve it (``workbench serve``: gallery, dashboards, background processor) with a demo
admin account whose password it prints.

    python -m workbench.demo [--library data/demo/library] [--media data/demo/media] [--port 8866] [--no-serve]

``--no-serve`` or ``WORKBENCH_DEMO_NO_SERVE=1`` builds the library and stops there (tests, scripts).
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

#: The demo's admin account; its password is new at every build and printed once.
DEMO_USER = "demo"
#: Set to 1 to build the demo without serving it.
NO_SERVE_ENV = "WORKBENCH_DEMO_NO_SERVE"

# Sample photos bundled in the scikit-image wheel (no download). Greyscale ones show mode handling.
DEMO_PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
               "retina", "colorwheel", "logo", "camera", "coins", "moon", "page", "horse"]


def write_photos(folder: Path) -> list[Path]:
    """Save the bundled sample photos as JPEG and PNG, as a camera or a scanner would."""
    import skimage.data
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(DEMO_PHOTOS):
        arr = getattr(skimage.data, name)()
        if arr.dtype != np.uint8:
            arr = (arr > 0).astype(np.uint8) * 255 if arr.dtype == bool else arr.astype(np.uint8)
        im = Image.fromarray(arr)
        if im.mode == "RGBA" or i % 4 == 3:
            p = folder / f"{name}.png"
            im.save(p)
        else:
            p = folder / f"{name}.jpg"
            im.convert("RGB").save(p, quality=90)
        out.append(p)
    # The same photo under a second name: stored once, both paths remembered.
    dup = folder / "copies" / "astronaut-copy.jpg"
    dup.parent.mkdir(exist_ok=True)
    # A smaller, recompressed copy of one photo: a "same picture" duplicate the library suggests, never deletes.
    small = folder / "copies" / "coffee-small.jpg"
    Image.open(folder / "coffee.jpg").resize((200, 133)).save(small, quality=60)
    out.append(small)
    shutil.copy2(folder / "astronaut.jpg", dup)
    out.append(dup)
    return out


def write_video(path: Path, seconds: float = 4.0, fps: int = 25) -> Path:
    """A short H.264 clip: one second of black, then a slow pan across a photo (the poster must skip black)."""
    import av
    import skimage.data
    src = Image.fromarray(skimage.data.astronaut()).resize((1024, 1024))
    w, h = 640, 360
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, fps)
        n = int(seconds * fps)
        for i in range(n):
            if i < fps:
                arr = np.zeros((h, w, 3), np.uint8)
            else:
                t = (i - fps) / max(1, n - fps)
                y = int(t * (1024 - h))
                arr = np.asarray(src.crop((0, y, w, y + h)))
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def demo_account(lib) -> str:
    """Create the demo admin account (or give it a new password on a rebuild); returns the password."""
    password = secrets.token_urlsafe(12)
    if DEMO_USER in set(lib.users()["name"]):
        lib.set_password(DEMO_USER, password)
    else:
        lib.add_user(DEMO_USER, password, role="admin")
    return password


def build(library: Path, media: Path) -> str:
    """Build (or update) the demo library; returns the demo account's password."""
    from workbench import Library
    from workbench.cli.output import console, table

    console.print(f"Writing demo media to {media} ...")
    write_photos(media / "photos")
    write_video(media / "videos" / "astronaut-pan.mp4")
    lib = Library.open(library, create=True)
    rep = lib.import_files([media])
    console.print(f"Imported: {rep.added} new, {rep.known + rep.unchanged} already present, {rep.failed} failed")
    for r in lib.process():
        console.print(f"{r.stage}: skipped: {r.skipped}" if r.skipped else f"{r.stage}: {r.done} done, {r.failed} failed")
    df = lib.media(sort="name")
    rows = [[r.id[:10], r.kind, f"{r.width}x{r.height}", r.mime,
             f"{r.duration_s:.1f}s" if r.duration_s == r.duration_s and r.duration_s else "",
             f"{r.size_bytes / 1024:.0f} KiB", Path(r.path).name] for r in df.itertuples()]
    table(f"Demo library at {lib.root}", ["id", "kind", "size", "mime", "length", "bytes", "name"], rows)
    st = lib.status()
    table("Processing", ["stage", "done", "pending", "failed"], st[["stage", "done", "pending", "failed"]].values.tolist())
    dups = lib.duplicates()
    console.print(f"Duplicates: {len(dups)} groups ({', '.join(f'{k}: {n}' for k, n in dups['kind'].value_counts().items())})"
                  f"; people: {len(lib.people())}; faces: {len(lib.faces())}; "
                  f"flagged by quality: {int(lib.quality()['flags'].map(bool).sum())}")
    console.print(f"\nTry:  workbench --library {lib.root} ls --sort size --desc\n"
                  f"      workbench --library {lib.root} duplicates\n"
                  f"      workbench --library {lib.root} quality\n"
                  f"      workbench --library {lib.root} faces\n"
                  f"      workbench --library {lib.root} show {df.id.iloc[0][:8]}\n"
                  f"      thumbnails and previews are in {lib.derived_dir}")
    password = demo_account(lib)
    console.print(f"\nDemo account: user [bold]{DEMO_USER}[/bold], password [bold]{password}[/bold] (admin)",
                  highlight=False)
    return password


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", type=Path, default=Path("data/demo/library"))
    ap.add_argument("--media", type=Path, default=Path("data/demo/media"))
    ap.add_argument("--port", type=int, default=8866, help="gallery port (the dashboards use 5006)")
    ap.add_argument("--no-serve", action="store_true", help=f"only build the library (or set {NO_SERVE_ENV}=1)")
    a = ap.parse_args()
    password = build(a.library, a.media)
    if a.no_serve or os.environ.get(NO_SERVE_ENV, "") not in ("", "0"):
        return
    from workbench.serve.app import serve
    print(f"\nServing the demo library; sign in as {DEMO_USER} / {password}. Stop with Ctrl+C.", flush=True)
    raise SystemExit(serve(a.library.absolute(), port=a.port,
                           say=lambda line: print(line, flush=True)))


if __name__ == "__main__":
    main()
