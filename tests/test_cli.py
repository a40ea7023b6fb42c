"""The workbench command as a user or a script sees it: help, JSON Lines, exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from factory import jpeg, video
from workbench.cli.output import LS_COLUMNS

COMMANDS = ["init", "import", "process", "status", "ls", "show", "errors", "verify"]


def wb(*args: str, lib: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_LIBRARY": str(lib)}
    p = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env,
                       timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]  # every line must be JSON


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    jpeg(root / "in" / "a.jpg", make="Canon", model="EOS")
    jpeg(root / "in" / "b.jpg", seed=2)
    (root / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 10)
    video(root / "in" / "v.mp4")
    wb("init", lib=root / "lib")
    wb("import", str(root / "in"), "--json", lib=root / "lib")
    wb("process", "--json", lib=root / "lib")
    return root / "lib"


def test_help_lists_and_explains_every_command(lib: Path):
    out = wb("--help", lib=lib).stdout
    for c in COMMANDS:
        assert c in out
    for c in COMMANDS:
        sub = wb(c, "--help", lib=lib).stdout
        assert "Usage" in sub and len(sub.splitlines()) > 4


def test_ls_json_prints_only_json_rows_with_the_contract_keys(lib: Path):
    rows = jsonl(wb("ls", "--json", lib=lib).stdout)
    assert len(rows) == 3
    assert all(list(r) == LS_COLUMNS for r in rows)


def test_ls_json_filters_by_kind_and_camera(lib: Path):
    assert [r["kind"] for r in jsonl(wb("ls", "--kind", "video", "--json", lib=lib).stdout)] == ["video"]
    assert [r["camera_make"] for r in jsonl(wb("ls", "--camera", "canon", "--json", lib=lib).stdout)] == ["Canon"]


def test_ls_query_searches_words(lib: Path):
    rows = jsonl(wb("ls", "--query", "canon", "--json", lib=lib).stdout)
    assert [Path(r["path"]).name for r in rows] == ["a.jpg"]


def test_errors_json_rows_are_path_stage_reason(lib: Path):
    rows = jsonl(wb("errors", "--json", lib=lib).stdout)
    assert rows and all(set(r) == {"path", "stage", "reason"} for r in rows)
    assert any(r["path"].endswith("broken.jpg") for r in rows)


def test_status_json_shows_done_pending_failed_per_stage(lib: Path):
    rows = jsonl(wb("status", "--json", lib=lib).stdout)
    thumbs = next(r for r in rows if r["stage"] == "thumbnails")
    assert thumbs["done"] + thumbs["failed"] == 3 and thumbs["pending"] == 0


def test_show_json_includes_all_source_paths(lib: Path):
    first = jsonl(wb("ls", "--json", lib=lib).stdout)[0]
    info = jsonl(wb("show", first["id"][:8], "--json", lib=lib).stdout)[0]
    assert info["id"] == first["id"] and info["sources"] == [first["path"]]


def test_show_unknown_id_is_a_one_line_error_not_a_traceback(lib: Path):
    p = wb("show", "abcdef12", lib=lib, check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "no media" in p.stderr


def test_import_exits_1_when_nothing_could_be_imported(lib: Path, tmp_path: Path):
    (tmp_path / "junk.jpg").write_bytes(b"")
    p = wb("import", str(tmp_path / "junk.jpg"), "--json", lib=lib, check=False)
    assert p.returncode == 1
    assert jsonl(p.stdout)[0]["failed"] == 1


def test_import_exits_0_when_some_files_fail(tmp_path: Path):
    jpeg(tmp_path / "in" / "ok.jpg")
    (tmp_path / "in" / "bad.jpg").write_bytes(b"")
    p = wb("import", str(tmp_path / "in"), "--json", lib=tmp_path / "lib", check=False)
    assert p.returncode == 0
    summary = jsonl(p.stdout)[0]
    assert (summary["added"], summary["failed"]) == (1, 1)


def test_reimport_exits_0_and_adds_nothing(lib: Path, tmp_path: Path):
    src = Path(json.loads(wb("ls", "--json", "--kind", "video", lib=lib).stdout.splitlines()[0])["path"])
    p = wb("import", str(src), "--json", lib=lib)
    assert jsonl(p.stdout)[0]["added"] == 0


def test_verify_exits_0_on_an_intact_library(lib: Path):
    rows = jsonl(wb("verify", "--json", lib=lib).stdout)
    assert rows and {r["status"] for r in rows} == {"ok"}


def test_no_progress_bar_when_output_is_not_a_terminal(tmp_path: Path):
    jpeg(tmp_path / "in" / "ok.jpg")
    p = wb("import", str(tmp_path / "in"), lib=tmp_path / "lib")
    assert "it/s" not in p.stderr and "file/s" not in p.stderr


@pytest.mark.skipif(not Path("/usr/bin/script").exists(), reason="util-linux `script` gives the terminal")
def test_progress_bar_is_shown_on_a_terminal(tmp_path: Path):
    import shlex
    jpeg(tmp_path / "in" / "ok.jpg")
    cmd = (f"stty cols 100 rows 40; WORKBENCH_LIBRARY={shlex.quote(str(tmp_path / 'lib'))} "
           f"{shlex.quote(sys.executable)} -m workbench import {shlex.quote(str(tmp_path / 'in'))}")
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout
    assert "file/s" in p.stdout and "1/1" in p.stdout


def test_search_without_clip_vectors_says_it_searched_words_only(tmp_path: Path):
    jpeg(tmp_path / "in" / "beach.jpg")
    wb("init", lib=tmp_path / "lib")
    wb("import", str(tmp_path / "in"), lib=tmp_path / "lib")      # not processed: no CLIP vectors
    p = wb("search", "beach", lib=tmp_path / "lib")
    assert "beach.jpg" in p.stdout
    assert "Searched words only" in p.stderr and "CLIP" in p.stderr
    js = wb("search", "beach", "--json", lib=tmp_path / "lib")
    assert [r["path"].endswith("beach.jpg") for r in jsonl(js.stdout)] == [True]   # stdout stays JSON Lines
    assert "Searched words only" in js.stderr
