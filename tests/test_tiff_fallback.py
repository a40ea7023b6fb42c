"""Scientific TIFFs (float samples, planar RGB) that Pillow refuses are still imported and previewed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import Library
from workbench.formats.tiff_fallback import read_first_page

tifffile = pytest.importorskip("tifffile")


def planar_float_tiff(path: Path) -> np.ndarray:
    y, x = np.mgrid[0:40, 0:60]
    rgb = np.stack([x / 59.0, y / 39.0, np.full_like(x, 0.5, dtype=float)]).astype(np.float64)  # (3, h, w)
    tifffile.imwrite(path, rgb, planarconfig="separate", photometric="rgb")
    return rgb


def test_pillow_cannot_read_a_planar_float_tiff(tmp_path: Path):
    planar_float_tiff(tmp_path / "sci.tif")
    with pytest.raises(Exception):
        Image.open(tmp_path / "sci.tif").load()


def test_first_page_is_read_upright_and_scaled_to_8_bit(tmp_path: Path):
    rgb = planar_float_tiff(tmp_path / "sci.tif")
    im = read_first_page(tmp_path / "sci.tif")
    assert im.size == (60, 40) and im.mode == "RGB"
    arr = np.asarray(im)
    assert arr[0, 0, 0] < arr[0, -1, 0]          # red grows left to right, as in the data
    assert arr[0, 0, 1] < arr[-1, 0, 1]          # green grows top to bottom
    assert np.corrcoef(arr[..., 0].ravel(), rgb[0].ravel())[0, 1] > 0.99


def test_such_a_tiff_is_imported_with_its_size_and_gets_a_thumbnail(tmp_path: Path):
    (tmp_path / "in").mkdir()
    planar_float_tiff(tmp_path / "in" / "sci.tif")
    lib = Library.create(tmp_path / "lib")
    rep = lib.import_files([tmp_path / "in"], progress=False)
    assert rep.added == 1 and rep.failed == 0
    row = lib.media().iloc[0]
    assert (row["mime"], row["width"], row["height"]) == ("image/tiff", 60, 40)
    lib.process(["thumbnails"], progress=False)
    assert Image.open(lib.rendition_path(row["id"], "thumb")).size == (60, 40)
