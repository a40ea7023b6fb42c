"""The studio notebooks run top to bottom on the demo library, as a person would run them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory) -> Path:
    import contextlib
    import io

    from workbench.demo import build
    root = tmp_path_factory.mktemp("nbdemo")
    with contextlib.redirect_stdout(io.StringIO()):
        build(root / "library", root / "media")
    return root / "library"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, demo_library, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    monkeypatch.setenv("WORKBENCH_LIBRARY", str(demo_library))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_every_notebook_is_tested():
    assert len(NOTEBOOKS) >= 5
