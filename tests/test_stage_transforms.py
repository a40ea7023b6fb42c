"""Every stage is a callable class of an Arrow table: ``stage.setup(ctx)``, then ``stage(table)`` runs on a bare
table with no runner and no LanceDB.

That is what makes stages engine-neutral (the local pool and Ray Data's ``map_batches`` make that same call): a
stage needs only its input rows, its settings and the storage its files live in. The check runs in a fresh
process where importing ``lancedb`` fails, so a stage that reached for the catalog would fail here. The stages
are taken from the registry (``all_stages``), and every ``Stage`` class in ``workbench/stages/`` must be in it,
so a new stage cannot be left out.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

import workbench.stages
from workbench.errors import WorkbenchError
from workbench.settings import Settings
from workbench.stages.base import INPUT_COLUMNS, Stage
from workbench.stages.registry import all_stages

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.modules["lancedb"] = None  # any import of LanceDB now raises ImportError
    from datetime import datetime, timezone
    from pathlib import Path

    import pyarrow as pa
    from PIL import Image, ImageDraw

    from workbench.ingest.blobstore import store_original
    from workbench.settings import Settings
    from workbench.stages.base import INPUT_COLUMNS, StageContext
    from workbench.stages.registry import all_stages
    from workbench.storage import LocalStorage

    root, config, checkpoint = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    storage = LocalStorage(root)
    photo = root.parent / "photo.jpg"
    img = Image.new("RGB", (640, 480), (200, 180, 150))
    ImageDraw.Draw(img).rectangle((100, 100, 400, 300), fill=(30, 60, 120))
    img.save(photo, quality=90)
    sha, blob, size = store_original(storage, photo, ".jpg")
    taken = datetime(2024, 5, 1, tzinfo=timezone.utc)
    good = dict(id=sha, kind="image", mime="image/jpeg", path=str(photo), storage="copy", blob=blob,
                taken_at=taken, width=640, height=480, fps=None, duration_s=None, size_bytes=size, stored_as=None)
    gone = dict(good, id="f" * 64, blob="ff/ff/" + "f" * 64 + ".jpg", path="/nonexistent/gone.jpg")
    media = pa.Table.from_pylist([good, gone])
    assert media.column_names == INPUT_COLUMNS

    settings = Settings(clip_model=config, clip_checkpoint=checkpoint)
    ctx = StageContext(root=str(root), settings=settings)
    out, results = {}, {}
    for stage in all_stages(settings, root):
        table = media
        if stage.dependency is not None:  # what the runner joins in: the dependency's columns of its ok rows
            dep = results[stage.dependency.name].to_pylist()[0]
            table = media.slice(0, 1)
            for c in stage.dependency_columns:
                table = table.append_column(c, pa.array([dep[c]], type=stage.dependency.schema.field(c).type))
        for other, cols in stage.optional_inputs():
            for c in cols:
                table = table.append_column(c, pa.nulls(table.num_rows, type=other.schema.field(c).type))
        stage.setup(ctx)  # loads its model and keeps ctx: the call below takes the table only
        result = stage(table)
        results[stage.name] = result
        out[stage.name] = {"schema_ok": isinstance(result, pa.Table) and result.schema.equals(stage.schema),
                           "ids_in_order": result.column("media_id").to_pylist() == table.column("id").to_pylist(),
                           "rows": [{k: r[k] for k in ("media_id", "status", "error")} for r in result.to_pylist()]}
    out["catalog_folder"] = (root / "catalog").exists()
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_every_registered_stage_is_called_on_a_bare_arrow_table_without_a_runner_or_lancedb(tiny_clip_checkpoint,
                                                                                 tmp_path: Path) -> None:
    config, checkpoint = tiny_clip_checkpoint
    root = tmp_path / "lib"
    root.mkdir()
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(root), str(config), str(checkpoint)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    names = [s.name for s in all_stages(Settings(clip_model=str(config), clip_checkpoint=str(checkpoint)))]
    assert set(names) <= set(out)
    for name in names:
        assert out[name]["schema_ok"], f"{name} returned rows that do not match its table's schema"
        assert out[name]["ids_in_order"], f"{name} did not return one row per media, in order"
        statuses = {r["media_id"][:1]: r["status"] for r in out[name]["rows"]}
        assert "ok" in statuses.values(), f"{name}: {out[name]['rows']}"
    # The stages that read the original itself record a missing one as a failed row with a reason, never raise.
    missing = [r for r in out["thumbnails"]["rows"] if r["media_id"] == "f" * 64]
    assert missing and missing[0]["status"] == "failed" and "missing" in missing[0]["error"]
    assert not out["catalog_folder"]


def test_a_failed_row_has_every_column_of_its_stage_table(tiny_clip_checkpoint) -> None:
    for stage in all_stages(Settings()):
        row = stage.failed_row("a" * 64, "could not decode: truncated file")
        assert list(row) == stage.schema.names
        assert row["status"] == "failed" and row["error"] == "could not decode: truncated file"
        pa.RecordBatch.from_pylist([row], schema=stage.schema)  # it fits the table the runner commits it to


def test_every_stage_class_is_in_the_registry() -> None:
    """A stage written but not added to ``all_stages`` would never run, nor be checked above."""
    for info in pkgutil.iter_modules(workbench.stages.__path__):
        importlib.import_module(f"workbench.stages.{info.name}")
    defined = set()
    todo = [Stage]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("workbench.stages."):
                defined.add(sub)
    registered = {type(s) for s in all_stages(Settings())}
    assert defined and defined <= registered, f"not in stages/registry.py's all_stages: {defined - registered}"


def test_a_stage_called_before_its_setup_says_what_to_do() -> None:
    thumbnails = all_stages(Settings())[0]
    media = pa.Table.from_pylist([], schema=pa.schema([(c, pa.string()) for c in INPUT_COLUMNS]))
    with pytest.raises(WorkbenchError, match=r"setup\(StageContext"):
        thumbnails(media)


def test_workbench_process_help_names_every_registered_stage(tiny_clip_checkpoint) -> None:
    from workbench.cli.main import process

    config, checkpoint = tiny_clip_checkpoint
    helptext = " ".join((process.__doc__ or "").split())
    for stage in all_stages(Settings(clip_model=str(config), clip_checkpoint=str(checkpoint))):
        name = "embeddings_<dim>" if stage.name.startswith("embeddings_") else stage.name
        listed = re.search(rf"(^|\s){re.escape(name)}[\s,.(]", helptext)
        assert listed, f"`workbench process --help` does not list the {name} stage"
