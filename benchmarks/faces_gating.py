"""How far a face's embedding drifts when the face is small or blurred: the basis of ``face_min_size_px`` and
``face_min_sharpness``.

For labelled single-face photos of the corpus, the face is shrunk (Lanczos) to a range of sizes and blurred
(Gaussian) to a range of radii; each version is analysed with the face engine and its Dlib-embedding distance to
the untouched face is printed with the measured size and sharpness. A face whose drift approaches the match
distance (0.5) cannot be recognised reliably.

    WORKBENCH_CORPUS=../shared/corpus python benchmarks/faces_gating.py
"""
from __future__ import annotations

import os
from pathlib import Path

FILES = ["tests/test_images/obama.jpg", "examples/biden.jpg", "examples/knn_examples/train/rose_leslie/img1.jpg",
         "examples/knn_examples/train/alex_lacamoire/img1.jpg", "examples/knn_examples/train/kit_harington/john2.jpeg"]
SIZES_PX = [100, 80, 60, 50, 40, 32]
BLUR_RADII = [1, 2, 3, 4, 6]


def main() -> None:
    import numpy as np
    from PIL import Image, ImageFilter

    from workbench.faces.engine import load_engine
    from workbench.settings import Settings

    root = Path(os.environ.get("WORKBENCH_CORPUS", "../shared/corpus")) / "faces" / "face_recognition"
    engine = load_engine(Settings())
    size_rows, blur_rows = [], []
    for f in FILES:
        im = Image.open(root / f).convert("RGB")
        ref = engine.analyze(np.asarray(im))[0]
        for target in SIZES_PX:
            s = target / ref.size_px
            small = im.resize((max(1, int(im.width * s)), max(1, int(im.height * s))), Image.Resampling.LANCZOS)
            faces = engine.analyze(np.asarray(small))
            if faces:
                size_rows.append((faces[0].size_px, float(np.linalg.norm(faces[0].embedding - ref.embedding))))
        for r in BLUR_RADII:
            faces = engine.analyze(np.asarray(im.filter(ImageFilter.GaussianBlur(r))))
            if faces:
                blur_rows.append((r, faces[0].sharpness, float(np.linalg.norm(faces[0].embedding - ref.embedding))))
    print("face size (px) -> embedding drift (mean, max over photos)")
    for lo, hi in [(0, 40), (40, 48), (48, 56), (56, 70), (70, 1000)]:
        d = [x for s, x in size_rows if lo <= s < hi]
        if d:
            print(f"  {lo:>3}-{hi:<4} n={len(d):<2} mean {np.mean(d):.3f} max {max(d):.3f}")
    print("blur radius: sharpness (mean) -> drift (mean, max)")
    for r in BLUR_RADII:
        rows = [(s, x) for rr, s, x in blur_rows if rr == r]
        print(f"  r={r}: sharpness {np.mean([s for s, _ in rows]):6.1f}  drift mean {np.mean([x for _, x in rows]):.3f}"
              f" max {max(x for _, x in rows):.3f}")


if __name__ == "__main__":
    main()
