"""`workbench dashboards`: what it serves, how it explains itself, and how it refuses a wrong name."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from browser import served
from workbench.dashboards import NAMES, dashboard_files, serve_command
from workbench.errors import WorkbenchError


def test_every_dashboard_has_a_served_file_and_a_class():
    import importlib
    for path in dashboard_files():
        text = path.read_text()
        assert "serve_entry(" in text, path
        module = importlib.import_module(f"workbench.dashboards.{path.stem}")
        assert any(isinstance(v, type) and v.__module__ == module.__name__ for v in vars(module).values())


def test_an_unknown_dashboard_name_lists_the_known_ones():
    with pytest.raises(WorkbenchError, match="choose from compression, tagging, faces"):
        dashboard_files(["facez"])


def test_the_server_listens_only_on_this_machine_by_default():
    cmd = serve_command(["faces"])
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1"
    assert "--show" not in cmd


def test_help_explains_the_command():
    p = subprocess.run([sys.executable, "-m", "workbench", "dashboards", "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "200"})
    assert p.returncode == 0
    for word in ("panel serve", "--port", "--address", *NAMES):
        assert word in p.stdout


def test_the_index_page_links_every_dashboard(tmp_path: Path):
    from workbench import Library
    Library.create(tmp_path / "lib")
    with served(tmp_path / "lib") as base:
        html = urllib.request.urlopen(base, timeout=30).read().decode()
    for name in NAMES:
        assert f"/{name}" in html
