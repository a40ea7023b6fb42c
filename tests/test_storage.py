"""The storage contract (what object storage and encryption must keep too) and the rule that nothing else builds
paths under a library's root."""
from __future__ import annotations

import ast
import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from workbench.storage import LocalStorage, original_key, trash_key


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "lib")


def addressed(sha: str) -> str:
    return original_key(f"{sha[:2]}/{sha[2:4]}/{sha}.bin")


def test_put_addressed_stores_content_once_under_its_hash(storage: LocalStorage) -> None:
    data = os.urandom(3 * (1 << 20) + 17)      # several chunks and a ragged end
    first = storage.put_addressed(io.BytesIO(data), addressed)
    again = storage.put_addressed(io.BytesIO(data), addressed)
    assert first.sha256 == hashlib.sha256(data).hexdigest() and first.key == addressed(first.sha256)
    assert first.written and not again.written and again.key == first.key and again.size_bytes == len(data)
    assert storage.read_bytes(first.key) == data
    assert list(storage.list("originals")) == [first.key]          # no temporary file left behind, none listed
    assert storage.local_file(first.key).stat().st_mode & 0o777 == 0o444   # a stored original is read-only


def test_concurrent_puts_of_the_same_content_end_with_one_complete_file(storage: LocalStorage) -> None:
    data = os.urandom(1 << 20)
    results = []
    threads = [threading.Thread(target=lambda: results.append(storage.put_addressed(io.BytesIO(data), addressed)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.written for r in results) == 1
    assert storage.read_bytes(results[0].key) == data and len(list(storage.list("originals"))) == 1


def test_put_if_absent_never_overwrites_and_replaces_a_truncated_copy(storage: LocalStorage) -> None:
    assert storage.put_if_absent("derived/x/a.bin", b"first")
    assert not storage.put_if_absent("derived/x/a.bin", b"other")
    assert storage.read_bytes("derived/x/a.bin") == b"first"
    sha = hashlib.sha256(b"whole content").hexdigest()
    storage.write(addressed(sha), b"whole")                          # a damaged copy of that content
    assert storage.put_addressed(io.BytesIO(b"whole content"), addressed).written
    assert storage.read_bytes(addressed(sha)) == b"whole content"


def test_streamed_write_and_range_reads(storage: LocalStorage) -> None:
    chunks = [bytes([i]) * 100_000 for i in range(20)]
    assert storage.write("derived/v/clip.mp4", iter(chunks)) == 2_000_000
    assert storage.size("derived/v/clip.mp4") == 2_000_000
    assert storage.read_range("derived/v/clip.mp4", 199_990, 20) == bytes([1]) * 10 + bytes([2]) * 10
    assert storage.read_range("derived/v/clip.mp4", 1_999_990, 100) == bytes([19]) * 10   # short at the end
    with storage.open("derived/v/clip.mp4") as f:
        assert f.read(5) == bytes([0]) * 5


def test_trash_and_back_then_purge(storage: LocalStorage) -> None:
    key = original_key("ab/cd/abcd.jpg")
    storage.write(key, b"jpeg bytes", immutable=True)
    assert storage.to_trash(key) == trash_key(key) == "trash/originals/ab/cd/abcd.jpg"
    assert not storage.exists(key) and storage.exists(trash_key(key))
    storage.from_trash(key)
    assert storage.read_bytes(key) == b"jpeg bytes" and not storage.exists(trash_key(key))
    storage.to_trash(key)
    assert storage.purge("trash/originals") == (1, len(b"jpeg bytes"))
    assert list(storage.list("trash")) == [] and not storage.delete(key)


def test_listing_a_prefix_and_missing_keys(storage: LocalStorage) -> None:
    for k in ("derived/thumbnails/v1/ab/ab1.thumb.webp", "derived/thumbnails/v2/ab/ab1.thumb.webp",
              "derived/versions/p/ab/ab1.jxl"):
        storage.write(k, b"x")
    assert sorted(storage.list("derived/thumbnails")) == ["derived/thumbnails/v1/ab/ab1.thumb.webp",
                                                          "derived/thumbnails/v2/ab/ab1.thumb.webp"]
    assert list(storage.list("derived/nothing")) == []
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("derived/nothing/here")
    for bad in ("../etc/passwd", "/abs", "derived//x", "derived/./x"):
        with pytest.raises(ValueError):
            storage.exists(bad)


def test_materialize_builds_once_and_trims_the_least_recently_used(storage: LocalStorage) -> None:
    built = []

    def get(name: str) -> Path:
        return storage.materialize(f"derived/reconstructed/aa/{name}.jpg", lambda: built.append(name) or bytes(1000),
                                   expected_size=1000, max_cache_bytes=2500)

    a1, a2 = get("a1"), get("a2")
    os.utime(a1, (1, 1))
    os.utime(a2, (2, 2))
    assert get("a1") == a1 and built == ["a1", "a2"]          # found, not rebuilt; now the most recently used
    get("a3")                                                   # 3000 bytes > 2500: the least recently used goes
    assert sorted(storage.list("derived/reconstructed")) == ["derived/reconstructed/aa/a1.jpg",
                                                              "derived/reconstructed/aa/a3.jpg"]


def test_clean_tmp_removes_leftovers_of_interrupted_writes(storage: LocalStorage) -> None:
    storage.write("derived/a.bin", b"x")
    for area in ("originals", "derived"):
        (storage.root / area / ".tmp").mkdir(parents=True, exist_ok=True)
        (storage.root / area / ".tmp" / "dead.part").write_bytes(b"half")
    (storage.root / "catalog" / ".tmp").mkdir(parents=True)
    (storage.root / "catalog" / ".tmp" / "lance.part").write_bytes(b"not ours")
    assert storage.clean_tmp() == 2 and storage.read_bytes("derived/a.bin") == b"x"
    assert (storage.root / "catalog" / ".tmp" / "lance.part").exists()    # only the storage's own areas


# ------------------------------------------------------------------------------------------------ the guard

WORKBENCH = Path(__file__).resolve().parent.parent / "workbench"
#: Names of the folders only the storage layer may join onto a library root.
STORED_AREAS = {"originals", "derived", "trash", "reconstructed", "thumbnails", "versions", ".tmp"}
#: Files outside workbench/storage/ allowed to name them in a path, and why.
EXCEPTIONS = {
    # Lance datasets (date-sorted search snapshots) are written by LanceDB itself, which has its own object-store
    # support: they belong with the catalog, not with the blob storage.
    ("semantic/filtered_exact.py", "derived"): "derived/search snapshots are LanceDB datasets",
    # ``Library.originals_dir``/``derived_dir`` name a local library's folders for people and tests.
    ("library.py", "originals_dir"): "defines it (through Storage.local_file)",
    ("library.py", "derived_dir"): "defines it (through Storage.local_file)",
    ("demo.py", "derived_dir"): "tells the user where to look at the thumbnails; reads nothing",
}


def _joins_an_area(node: ast.AST) -> str | None:
    """The stored area a ``x / "originals"`` (or ``Path(x, "derived")``, or ``lib.derived_dir``) expression joins,
    if any."""
    if isinstance(node, ast.Attribute) and node.attr in ("originals_dir", "derived_dir"):
        return node.attr
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        for side in (node.right, node.left):
            if isinstance(side, ast.Constant) and isinstance(side.value, str) \
                    and side.value.split("/")[0] in STORED_AREAS:
                return side.value
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Path":
        for a in node.args[1:]:
            if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.split("/")[0] in STORED_AREAS:
                return a.value
    return None


def test_no_module_outside_storage_builds_paths_under_the_library_root() -> None:
    violations = []
    for path in sorted(WORKBENCH.rglob("*.py")):
        rel = path.relative_to(WORKBENCH).as_posix()
        if rel.startswith("storage/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            area = _joins_an_area(node)
            if area and (rel, area.split("/")[0]) not in EXCEPTIONS:
                violations.append(f"{rel}:{node.lineno} joins {area!r}")
    assert not violations, "paths under the library root are built outside workbench/storage/ (use the " \
                           "library's Storage and its keys instead):\n" + "\n".join(violations)


def test_the_guard_recognises_a_path_built_under_the_root() -> None:
    tree = ast.parse('p = root / "originals" / blob\nq = Path(root, "derived")\nr = root / "catalog"\n'
                     't = lib.derived_dir / rel')
    assert sorted(a for n in ast.walk(tree) if (a := _joins_an_area(n))) == ["derived", "derived_dir", "originals"]


# ------------------------------------------------------------------------------------------------ a library


def _files_outside_catalog(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] not in ("catalog", ".lock")}


def test_a_library_stores_through_its_storage_and_reading_writes_nothing(tmp_path: Path) -> None:
    from PIL import Image

    from workbench.library import Library
    src = tmp_path / "in"
    src.mkdir()
    for i, colour in enumerate(("red", "blue")):
        Image.new("RGB", (320, 240), colour).save(src / f"p{i}.jpg", quality=90)
    lib = Library.create(tmp_path / "lib")
    lib.import_files([src], progress=False)
    lib.process(["thumbnails"], progress=False)
    ids = list(lib.media()["id"])
    stored = set(lib.storage.list("originals"))
    assert stored == {f"originals/{lib.get(m)['blob']}" for m in ids}
    assert all(lib.storage.read_bytes(f"originals/{lib.get(m)['blob']}") == (src / Path(lib.get(m)["path"]).name)
               .read_bytes() for m in ids)
    before = _files_outside_catalog(lib.root)
    for m in ids:                                   # every way to read a media's bytes
        assert lib.thumbnail(m) and lib.thumbnail(m, "preview")
        assert lib.original_path(m).read_bytes() and lib.rendition_path(m, "preview").exists()
    assert all(lib.thumbnails(ids).values())
    assert set(lib.verify(progress=False)["status"]) == {"ok"}
    assert _files_outside_catalog(lib.root) == before
