"""Scrubbing: one full scrub finds every damaged original, replica copy and rendition, and repairs each from a
verified copy, byte-identical; nothing is repaired from a bad copy; sampled scrubs cover everything in turn; a
scrub killed with SIGKILL leaves nothing half-repaired and the rerun completes."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from test_replicas import N_PHOTOS, damage, make_library, stored_files, template  # noqa: F401 (fixture)
from workbench import Library
from workbench.cli.main import app

KINDS = ("flip", "truncate", "delete")


def with_replica(template: Path, tmp_path: Path) -> Library:
    lib = make_library(template, tmp_path)
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    lib.replicas.sync(progress=False)
    return lib


def five_percent(lib: Library, seed: int) -> dict[str, str]:
    """5 % of the media (at least one of each kind of damage), chosen at random: media id -> blob."""
    rows = lib.media(sort="name")
    n = max(len(KINDS), round(len(rows) * 0.05))
    picked = random.Random(seed).sample(range(len(rows)), n)
    return {rows.iloc[i]["id"]: rows.iloc[i]["blob"] for i in picked}


def test_one_full_scrub_finds_and_repairs_every_damaged_original_byte_for_byte(template, tmp_path):
    lib = with_replica(template, tmp_path)
    before = stored_files(lib.root)
    hit = five_percent(lib, seed=17)
    for i, blob in enumerate(hit.values()):
        damage(lib.originals_dir / blob, KINDS[i % 3])

    rep = lib.scrub(progress=False)
    assert {e["media_id"] for e in rep.events} == set(hit)             # 100 % found, nothing else flagged
    assert all(e["action"] == "repaired" and e["source"] == "usb" and e["location"] == "primary"
               for e in rep.events)
    assert {e["problem"] for e in rep.events} == {"changed", "missing"}
    assert stored_files(lib.root) == before                            # 100 % repaired, byte-identical
    assert set(lib.verify(progress=False)["status"]) == {"ok"}
    for blob in hit.values():                                           # stored read-only again, like any original
        assert (lib.originals_dir / blob).stat().st_mode & 0o222 == 0
    events = lib.repair_events()
    assert set(events["media_id"]) == set(hit) and set(events["source"]) == {"usb"}
    assert lib.scrub(progress=False).events == []                      # and the next scrub finds nothing


def test_one_full_scrub_finds_and_resends_every_damaged_replica_copy(template, tmp_path):
    lib = with_replica(template, tmp_path)
    before = stored_files(tmp_path / "usb")
    hit = five_percent(lib, seed=29)
    for i, blob in enumerate(hit.values()):
        damage(tmp_path / "usb" / "originals" / blob, KINDS[i % 3])

    rep = lib.scrub(progress=False)
    assert {e["media_id"] for e in rep.events} == set(hit)
    assert all(e["action"] == "resent" and e["location"] == "usb" and e["source"] == "primary"
               for e in rep.events)
    assert stored_files(tmp_path / "usb") == before
    assert lib.scrub(progress=False).events == []


def test_a_damaged_thumbnail_or_preview_is_rebuilt_by_its_stage(template, tmp_path):
    lib = make_library(template, tmp_path)
    assert lib.scrub(progress=False).events == []           # the first scrub learns the renditions' hashes
    a, b = lib.media(sort="name")["id"][:2]
    thumb, preview = lib.rendition_path(a, "thumb"), lib.rendition_path(b, "preview")
    good = {thumb: thumb.read_bytes(), preview: preview.read_bytes()}
    damage(thumb, "flip")
    preview.unlink()

    rep = lib.scrub(progress=False)
    assert sorted((e["media_id"], e["object"], e["problem"], e["action"]) for e in rep.events) == sorted(
        [(a, "thumb", "changed", "rebuilt"), (b, "preview", "missing", "rebuilt")])
    for path, data in good.items():
        Image.open(path).load()
        assert path.read_bytes() == data                    # the stage renders the same bytes again
    assert lib.scrub(progress=False).events == []


def test_a_rendition_damaged_before_its_first_scrub_is_caught_by_decoding(template, tmp_path):
    lib = make_library(template, tmp_path)
    mid = lib.media(sort="name")["id"][3]
    thumb = lib.rendition_path(mid, "thumb")
    damage(thumb, "truncate")
    rep = lib.scrub(progress=False)
    assert [(e["media_id"], e["problem"], e["action"]) for e in rep.events] == [(mid, "unreadable", "rebuilt")]
    Image.open(thumb).load()


def test_without_a_good_copy_the_media_is_listed_loudly_and_left_as_it_is(template, tmp_path):
    lib = with_replica(template, tmp_path)
    rows = lib.media(sort="name")
    both, gone = rows.iloc[0], rows.iloc[1]
    damage(lib.originals_dir / both["blob"], "flip")                  # damaged here and on the replica
    damage(tmp_path / "usb" / "originals" / both["blob"], "truncate")
    damaged_bytes = (lib.originals_dir / both["blob"]).read_bytes()
    damage(lib.originals_dir / gone["blob"], "delete")                # and missing here, replica removed
    shutil_rm = (tmp_path / "usb" / "originals" / gone["blob"])
    damage(shutil_rm, "delete")

    res = CliRunner().invoke(app, ["-L", str(lib.root), "scrub"])
    assert res.exit_code == 1
    assert "NOT REPAIRED" in res.output and both["id"] in res.output and gone["id"] in res.output
    events = lib.repair_events()
    unrepaired = events[events["action"] == "unrepairable"]
    assert set(unrepaired["media_id"]) == {both["id"], gone["id"]}
    assert (lib.originals_dir / both["blob"]).read_bytes() == damaged_bytes   # never replaced by a bad copy
    assert not (lib.originals_dir / gone["blob"]).exists()
    assert "damaged too" in " ".join(unrepaired["detail"])


def test_sampled_scrubs_continue_where_the_last_stopped_and_cover_everything(template, tmp_path):
    lib = with_replica(template, tmp_path)
    hit = five_percent(lib, seed=5)
    for blob in hit.values():
        damage(lib.originals_dir / blob, "flip")
    found: list[str] = []
    total = None
    for _ in range(10):                                     # 10 runs of 10 %: every check once
        rep = lib.scrub(sample_percent=10, progress=False)
        total = rep.total
        assert rep.checked == -(-rep.total // 10)
        found += [e["media_id"] for e in rep.events]
    assert sorted(found) == sorted(hit)                     # each damaged original found once, none missed
    assert total == N_PHOTOS * 4                            # original + replica copy + thumbnail + preview
    assert set(lib.verify(progress=False)["status"]) == {"ok"}


def test_a_time_budget_stops_the_scrub_and_the_next_one_continues(template, tmp_path):
    lib = make_library(template, tmp_path)
    first = lib.scrub(budget_s=0, progress=False)
    assert first.checked == 0 and first.stopped_by_budget
    part = lib.scrub(sample_percent=50, progress=False)
    rest = lib.scrub(sample_percent=50, progress=False)
    assert part.checked + rest.checked == part.total and rest.cursor == max(
        r for r in lib.catalog.read("scrub_runs", ["cursor"]).column("cursor").to_pylist() if r)


# The scrubbing process reads slowly (each chunk held back 30 ms), so the kill lands mid-scrub, often mid-repair.
SCRUB_SCRIPT = textwrap.dedent("""
    import sys, time
    import workbench.replicas.replicas as R
    import workbench.replicas.scrub as S
    from workbench import Library
    slow = R.chunks_of
    def chunks_of(storage, key):
        for c in slow(storage, key):
            time.sleep(0.03)
            yield c
    R.chunks_of = S.chunks_of = chunks_of
    if __name__ == "__main__":
        print("START", flush=True)
        Library.open(sys.argv[1]).scrub(progress=False)
""")


def test_kill_9_during_scrub_then_rerun_repairs_everything_once(template, tmp_path):
    lib = with_replica(template, tmp_path)
    before = stored_files(lib.root)
    hit = five_percent(lib, seed=41)
    for i, blob in enumerate(hit.values()):
        damage(lib.originals_dir / blob, KINDS[i % 3])
    script = tmp_path / "scrub.py"
    script.write_text(SCRUB_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(lib.root)], start_new_session=True,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "START"
    time.sleep(2.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    lib = Library.open(lib.root)
    assert lib.catalog.count("scrub_runs") == 0              # the kill landed before the scrub finished
    lib.scrub(progress=False)
    assert stored_files(lib.root) == before                  # complete and byte-identical
    assert set(lib.verify(progress=False)["status"]) == {"ok"}
    assert not any(p.is_file() for p in (lib.root / "originals" / ".tmp").glob("*"))
    events = lib.repair_events()
    repaired = events[events["action"] == "repaired"]["media_id"].tolist()
    # Each repair is recorded once at most (a kill between a repair and its record loses only the record).
    assert len(repaired) == len(set(repaired)) and set(repaired) <= set(hit)
    assert lib.scrub(progress=False).events == []


def test_the_cli_scrub_takes_a_sample_percent_and_a_time_budget(template, tmp_path):
    lib = make_library(template, tmp_path)
    runner, base = CliRunner(), ["-L", str(lib.root), "scrub", "--json"]

    def summary(*args: str) -> dict:
        res = runner.invoke(app, [*base, *args])
        assert res.exit_code == 0, res.output
        return json.loads(res.output.splitlines()[-1])

    stopped = summary("--budget-s", "0")
    assert (stopped["checked"], stopped["stopped_by_budget"]) == (0, True)
    first, second = summary("--sample", "50"), summary("--sample", "50")
    assert first["total"] == 3 * N_PHOTOS                           # each original, its thumbnail and preview
    assert first["checked"] == second["checked"] == first["total"] // 2
    assert lib.catalog.count("rendition_hashes") == 2 * N_PHOTOS     # the two halves together read everything
    bad = runner.invoke(app, [*base, "--sample", "0"])
    assert bad.exit_code != 0 and "percentage" in bad.output


def serve_processor(lib: Library, **settings: float):
    """`workbench serve`'s background processor on this library, with these settings saved first."""
    from workbench.serve.processor import Processor
    for name, value in settings.items():
        setattr(lib.settings, name, value)
    lib.settings.save(lib.root)
    return Processor(lib.root, log=lambda _msg: None)


def test_workbench_serve_scrubs_by_itself_when_idle_and_repairs_from_the_replica(template, tmp_path):
    from workbench.serve.status import read_status
    lib = with_replica(template, tmp_path)
    before = stored_files(lib.root)
    hit = five_percent(lib, seed=41)
    for i, blob in enumerate(hit.values()):
        damage(lib.originals_dir / blob, KINDS[i % 3])

    proc = serve_processor(lib, serve_scrub_interval_h=24.0, serve_scrub_sample_percent=100.0)
    try:
        assert proc.scrub_if_due() is False                  # never scrubbed before: due now, and done in one slice
        assert stored_files(lib.root) == before              # every damaged original repaired from the replica
        assert set(lib.repair_events()["media_id"]) == set(hit)
        status = read_status(lib.root)
        assert status["scrub_checked"] == N_PHOTOS * 4    # original, replica copy, thumbnail, preview
        assert status["scrub_repaired"] == len(hit)
        runs = len(lib.catalog.read("scrub_runs"))
        assert proc.scrub_if_due() is False                  # not again within the interval
        assert len(lib.catalog.read("scrub_runs")) == runs
    finally:
        proc.engine.close()


def test_each_interval_scrubs_the_next_share_and_damage_without_a_good_copy_becomes_the_last_error(
        template, tmp_path):
    from workbench.serve.status import read_status
    lib = make_library(template, tmp_path)                   # no replica: nothing to repair from
    damage(lib.originals_dir / lib.media(sort="name").iloc[-1]["blob"], "flip")

    proc = serve_processor(lib, serve_scrub_interval_h=0.0005, serve_scrub_sample_percent=50.0)   # every 1.8 s
    try:
        assert proc.scrub_if_due() is False                  # the first half, in one slice
        first = read_status(lib.root)["scrub_checked"]
        deadline = time.monotonic() + 60
        while len(lib.catalog.read("scrub_runs")) < 2:       # the next interval: the other half
            assert time.monotonic() < deadline, "no second scrub a minute after its 1.8 s interval"
            proc.scrub_if_due()
            time.sleep(0.2)
        second = read_status(lib.root)["scrub_checked"]
        assert first == second == N_PHOTOS * 3 // 2          # original, thumbnail, preview: half each time
        error = read_status(lib.root)["last_error"]
        assert "NOT REPAIRED" in error and lib.media(sort="name").iloc[-1]["id"] in error
    finally:
        proc.engine.close()
