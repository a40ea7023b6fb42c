"""Real media files made on the fly for tests: JPEGs with EXIF, PNGs, short videos."""
from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def gradient(w: int, h: int, seed: int = 0) -> Image.Image:
    """A smooth image with structure, different per seed, so thumbnails are not flat."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = rng.uniform(0.2, 1.0, 3)
    arr = np.stack([(x / max(w, 1) * 255 * base[0]), (y / max(h, 1) * 255 * base[1]),
                    ((x + y) % 97 / 97 * 255 * base[2])], axis=-1)
    return Image.fromarray(arr.astype(np.uint8))


def jpeg(path: Path, w: int = 640, h: int = 480, seed: int = 0, *, make: str | None = None,
         model: str | None = None, taken: datetime | None = None, offset: str | None = None,
         orientation: int | None = None, quality: int = 90) -> Path:
    im = gradient(w, h, seed)
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation:
        exif[0x0112] = orientation
    if taken or offset:
        ifd = exif.get_ifd(0x8769)
        if taken:
            ifd[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
        if offset:
            ifd[0x9011] = offset
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=quality, exif=exif.tobytes())
    return path


def png(path: Path, w: int = 320, h: int = 240, seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    gradient(w, h, seed).save(path, "PNG")
    return path


def video(path: Path, seconds: float = 2.0, fps: int = 10, w: int = 160, h: int = 120,
          codec: str = "libx264", black_s: float = 0.0) -> Path:
    import av
    path.parent.mkdir(parents=True, exist_ok=True)
    src = gradient(w * 2, h, 3)
    with av.open(str(path), "w") as out:
        st = out.add_stream(codec, rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            if i < black_s * fps:
                arr = np.zeros((h, w, 3), np.uint8)
            else:
                x = int(i / (seconds * fps) * w)
                arr = np.asarray(src.crop((x, 0, x + w, h)))
            fr = av.VideoFrame.from_ndarray(arr, format="rgb24")
            fr.pts = i
            for p in st.encode(fr):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path
