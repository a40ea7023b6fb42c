"""Every dashboard also runs in a notebook: displayed in a real Jupyter kernel, it renders with no error."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

CLASSES = {"compression": "CompressionTuner", "tagging": "Tagging", "faces": "Faces", "duplicates": "Duplicates",
           "embedding_map": "EmbeddingMap"}


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory) -> Path:
    from workbench.demo import build
    root = tmp_path_factory.mktemp("nbdash")
    with contextlib.redirect_stdout(io.StringIO()):
        build(root / "library", root / "media")
    return root / "library"


def test_the_class_table_covers_every_dashboard():
    from workbench.dashboards import NAMES
    assert sorted(CLASSES) == sorted(NAMES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_a_dashboard_displays_in_a_notebook_cell(name, demo_library):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import panel as pn\n"
        "from workbench import Library\n"
        f"from workbench.dashboards.{name} import {CLASSES[name]}\n"
        "pn.extension()\n"
        f"dash = {CLASSES[name]}(Library.open({str(demo_library)!r}))\n"
        "dash"),
        nbformat.v4.new_code_cell(
        "problems = [o.object for o in dash.messages.objects if getattr(o, 'alert_type', '') == 'danger']\n"
        "assert not problems, problems\n"
        "print('rendered', type(dash.panel()).__name__)")]
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    outputs = [o for c in nb.cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in nb.cells[0].outputs if o.output_type in ("display_data", "execute_result")]
    assert shown and any("application/vnd.holoviews_exec.v0+json" in o.get("data", {}) or
                         "text/html" in o.get("data", {}) for o in shown)
    assert "rendered Row" in "".join(o.get("text", "") for o in nb.cells[1].outputs)
