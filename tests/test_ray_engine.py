"""`workbench process --engine ray`: the same stages on a Ray cluster started by the test, the same rows.

The cluster is a real one: `ray start --head` on 127.0.0.1 in a subprocess (two CPUs, no dashboard), stopped
after the module. The library's results are committed by the driver either way, so the comparison is of the
rows themselves (everything but the time they were written).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from factory import jpeg, video
from workbench import Library

pytest.importorskip("ray")

pytestmark = pytest.mark.slow

STAGES = ["thumbnails", "fingerprints", "quality"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> str:
    """The address of a two-CPU Ray head on 127.0.0.1, started here and stopped after the module."""
    ray_bin = Path(sys.executable).with_name("ray")
    temp = tmp_path_factory.mktemp("ray")
    port = _free_port()
    # A busy machine (CI runs two test processes) registers the node slowly: give it two minutes, not 30 s.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_raylet_start_wait_time_s": "120"}
    def stop() -> None:
        import ray
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([str(ray_bin), "stop", "--force"], capture_output=True, timeout=120, env=env)

    for attempt in range(2):  # on a loaded machine the head's first health check can time out; once more then
        start = subprocess.run([str(ray_bin), "start", "--head", "--node-ip-address", "127.0.0.1", "--port",
                                str(port), "--num-cpus", "2", "--include-dashboard", "false",
                                # Fixed agent ports: with port 0 the raylet waits at most 30 s for the agents to
                                # write theirs to a file, and a busy machine misses that (the node then aborts).
                                "--dashboard-agent-grpc-port", str(_free_port()),
                                "--dashboard-agent-listen-port", str(_free_port()),
                                "--runtime-env-agent-port", str(_free_port()),
                                "--disable-usage-stats", f"--temp-dir={temp}"],
                               capture_output=True, text=True, timeout=240, env=env)
        if start.returncode == 0:
            break
        stop()
    if start.returncode != 0:
        # Seen only with the machine's load far above its cores (a dozen processes on 2 CPUs): Ray's own node
        # registration times out. Say so rather than fail on Ray's startup instead of on our code.
        pytest.skip("a Ray head could not start on this machine (node registration timed out under load): "
                    + (start.stderr.strip().splitlines() or ["?"])[-1][:200])
    yield f"127.0.0.1:{port}"
    stop()


def _media(folder: Path) -> Path:
    for i in range(6):
        jpeg(folder / f"p{i}.jpg", 800, 600, seed=i)
    video(folder / "clip.mp4", seconds=1.5)
    whole = jpeg(folder.parent / "whole.jpg", 800, 600, seed=9).read_bytes()
    (folder / "broken.jpg").write_bytes(whole[: len(whole) // 3])  # imports, but its pixels cannot be decoded
    return folder


def _rows(lib: Library, table: str):
    df = lib.catalog.read(table).to_pandas().drop(columns=["created_at"]).sort_values("key").reset_index(drop=True)
    return df


def test_the_ray_engine_writes_the_same_rows_as_the_local_engine(cluster: str, tmp_path: Path) -> None:
    media = _media(tmp_path / "in")
    local, on_ray = Library.create(tmp_path / "local"), Library.create(tmp_path / "ray")
    for lib in (local, on_ray):
        lib.import_files([media], progress=False)
    local.process(STAGES, progress=False)
    reports = on_ray.process(STAGES, progress=False, engine="ray", address=cluster)
    assert {r.stage for r in reports} >= set(STAGES)
    for table in STAGES:
        a, b = _rows(local, table), _rows(on_ray, table)
        # Every media gets a thumbnails row; the stages after it take only the media whose thumbnail worked.
        assert len(a) == len(b) == (8 if table == "thumbnails" else 7), table
        assert a.drop(columns=[c for c in a.columns if c.startswith("kp_")]).to_json() == \
            b.drop(columns=[c for c in b.columns if c.startswith("kp_")]).to_json(), table
    # One bad file fails alone, with its reason, on either engine.
    failed = _rows(on_ray, "thumbnails").query("status == 'failed'")
    assert len(failed) == 1 and failed["error"].iloc[0]
    assert set(_rows(on_ray, "thumbnails").query("status == 'ok'")["media_id"]) == \
        set(_rows(local, "thumbnails").query("status == 'ok'")["media_id"])
    # Rerunning on Ray finds nothing pending and writes nothing twice.
    again = on_ray.process(STAGES, progress=False, engine="ray", address=cluster)
    assert all(r.done == 0 and r.failed == 0 for r in again if r.skipped is None)
    assert len(_rows(on_ray, "thumbnails")) == 8


def test_a_model_stage_runs_in_an_actor_pool_with_the_same_vectors(cluster: str, tiny_clip_checkpoint,
                                                                   tmp_path: Path) -> None:
    from workbench.settings import Settings

    config, checkpoint = tiny_clip_checkpoint
    media = _media(tmp_path / "in")
    libs = []
    for name in ("local", "ray"):
        lib = Library.create(tmp_path / name)
        Settings(clip_model=str(config), clip_checkpoint=str(checkpoint)).save(lib.root)
        lib = Library.open(lib.root)
        lib.import_files([media], progress=False)
        lib.process(["thumbnails"], progress=False)
        libs.append(lib)
    stage = next(s for s in libs[0].status()["stage"] if s.startswith("embeddings"))
    libs[0].process([stage], progress=False)
    libs[1].process([stage], progress=False, engine="ray", address=cluster)
    a, b = _rows(libs[0], stage), _rows(libs[1], stage)
    assert list(a["media_id"]) == list(b["media_id"]) and (a["status"] == "ok").sum() == 7
    import numpy as np
    for va, vb in zip(a["vector"], b["vector"]):
        if va is not None:
            assert np.allclose(np.asarray(va), np.asarray(vb), atol=1e-5)


def test_an_unreachable_cluster_is_one_clear_line_and_nothing_is_committed(tmp_path: Path) -> None:
    lib = Library.create(tmp_path / "lib")
    jpeg(tmp_path / "in" / "a.jpg", seed=1)
    lib.import_files([tmp_path / "in"], progress=False)
    wb = shutil.which("workbench", path=str(Path(sys.executable).parent))
    run = subprocess.run([wb, "--library", str(lib.root), "process", "--engine", "ray", "--address",
                          f"127.0.0.1:{_free_port()}"], capture_output=True, text=True, timeout=180,
                         env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert run.returncode == 2
    assert "could not reach the Ray cluster" in run.stderr and "Traceback" not in run.stderr
    assert lib.status().set_index("stage").loc["thumbnails", "done"] == 0
    # The local engine still works.
    lib.process(["thumbnails"], progress=False)
    assert lib.status().set_index("stage").loc["thumbnails", "done"] == 1


def test_without_ray_installed_the_ray_engine_says_how_to_get_it(tmp_path: Path) -> None:
    Library.create(tmp_path / "lib")
    code = ("import sys; sys.modules['ray'] = None\n"
            "from workbench import Library\n"
            "from workbench.errors import WorkbenchError\n"
            f"lib = Library.open({str(tmp_path / 'lib')!r})\n"
            "try:\n    lib.process(engine='ray', progress=False)\n"
            "except WorkbenchError as e:\n    print(e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "pip install 'ray[data]'" in run.stdout, run.stderr[-2000:]
