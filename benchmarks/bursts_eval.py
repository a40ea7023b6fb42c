"""How far apart burst frames are, against different photos: the basis of ``burst_max_bits``.

A burst is simulated from real photos: the camera moves a little between frames (a shift of 2-8 % of the frame,
a 3-6 % zoom, +-8 % exposure). For each, the summed pHash+dHash+aHash distance (``star_distance`` over the 40
views, as the burst grouping computes it) to the first frame is compared with the distances between different
photos of the corpus. Bursts are grouped only within ``burst_max_gap_s`` on one camera, so the threshold must keep
the consecutive frames and drop unrelated pictures.

    WORKBENCH_CORPUS=../shared/corpus python benchmarks/bursts_eval.py
"""
from __future__ import annotations

import os
from pathlib import Path


def thumb(img):  # noqa: ANN001, ANN201
    im = img.convert("RGB").copy()
    im.thumbnail((256, 256))
    return im


def main() -> None:
    import numpy as np
    from PIL import Image, ImageEnhance, ImageOps

    from workbench.duplicates.candidates import star_distance
    from workbench.duplicates.fingerprint import as_uint64_array, fingerprint

    root = Path(os.environ.get("WORKBENCH_CORPUS", "../shared/corpus"))
    files = sorted({p for d in ("skimage_data", "peer/photoprism", "faces/photoprism/images")
                    for p in (root / d).rglob("*.jpg")} | set((root / "skimage_data").glob("*.png")))
    photos = []
    for f in files:
        try:
            im = ImageOps.exif_transpose(Image.open(f)).convert("RGB")
        except Exception:  # noqa: BLE001 - broken test files are not photos
            continue
        if min(im.size) >= 200:
            photos.append(im)
    photos = photos[:40]
    fps, groups = [], []
    for k, im in enumerate(photos):
        w, h = im.size
        frames = [im]
        for shift, zoom, gain in [(0.02, 0.0, 1.0), (0.04, 0.03, 1.08), (0.06, 0.0, 0.92), (0.08, 0.06, 1.0)]:
            dx, dy = int(w * shift), int(h * shift / 2)
            zx, zy = int(w * zoom / 2), int(h * zoom / 2)
            fr = im.crop((dx + zx, dy + zy, w - int(w * 0.08) + dx - zx, h - int(h * 0.04) + dy - zy))
            frames.append(ImageEnhance.Brightness(fr).enhance(gain))
        for fr in frames:
            fps.append(fingerprint(thumb(fr)))
            groups.append(k)
    hashes = [as_uint64_array([f[h] for f in fps]) for h in ("phash", "dhash", "ahash")]
    groups = np.asarray(groups)
    first = {k: int(np.flatnonzero(groups == k)[0]) for k in set(groups.tolist())}
    burst = np.asarray([(first[g], i) for i, g in enumerate(groups) if i != first[g]])
    heads = np.asarray(sorted(first.values()))
    diff = np.asarray([(a, b) for x, a in enumerate(heads) for b in heads[x + 1:]])
    db, dd = star_distance(hashes, burst), star_distance(hashes, diff)
    print(f"{len(photos)} photos, {len(burst)} burst frames, {len(diff)} pairs of different photos")
    print("burst frame vs first frame: percentiles 50/90/95/99/max:",
          [int(np.percentile(db, q)) for q in (50, 90, 95, 99)], int(db.max()))
    print("different photos: min and percentiles 0.1/1/5:", int(dd.min()),
          [int(np.percentile(dd, q)) for q in (0.1, 1, 5)])
    for t in (30, 40, 50, 60, 70):
        print(f"  threshold {t}: burst frames kept {np.mean(db <= t):.3f}, different photos joined {np.mean(dd <= t):.4f}")


if __name__ == "__main__":
    main()
