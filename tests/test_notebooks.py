"""The studio notebooks run top to bottom on the demo library, as a person would run them."""
from __future__ import annotations

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


def test_tagging_notebook_shows_scores_and_threshold_effects_on_a_scored_library(tagged_photos_library,
                                                                                 monkeypatch):
    """The demo library has no CLIP weights, so 02 only says how to get them there; here its score and
    threshold cells really run (demo photos scored by the tiny random CLIP model)."""
    import nbformat
    from nbclient import NotebookClient
    path = next(p for p in NOTEBOOKS if p.stem == "02_tagging")
    monkeypatch.setenv("WORKBENCH_LIBRARY", str(tagged_photos_library))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "media scored for" in text and "instead of" in text and "no tag scores" not in text.lower()
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # score histogram, threshold sweep
    assert sum("<img src=\"data:image/webp" in o.get("data", {}).get("text/html", "") for o in outputs) >= 1


def test_every_notebook_is_tested():
    assert len(NOTEBOOKS) >= 5
