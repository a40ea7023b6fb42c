"""Encryption at rest: what is stored is authenticated ciphertext under names that say nothing, reads of anything
tampered with are refused, keys are re-wrapped without touching data, and an unlocked library works as before."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory import jpeg, video
from keyring_isolation import isolated_keys  # noqa: F401 (autouse fixture)
from workbench import Library
from workbench.storage import LocalStorage
from workbench.storage.encrypted import (HEADER_BYTES, EncryptedStorage, TamperedError, init_encryption,
                                         rotate_master_key)
from workbench.storage.keyring import KdfParams, Keys, LockedError, forget_unlocked

PASS = "correct horse battery staple"
# Cheap argon2id for tests that unlock in-process many times; the CLI tests below use the real defaults.
CHEAP = KdfParams(time_cost=1, memory_cost_kib=8192, parallelism=1)
SEALED_NAME = re.compile(r"^(trash/)?(originals|derived)/[0-9a-f]{2}/[0-9a-f]{40}$")




def encrypted_library(root: Path) -> tuple[Library, str]:
    """A new encrypted library, unlocked; and its recovery key."""
    Library.create(root)
    _, recovery = init_encryption(root, PASS, CHEAP)
    forget_unlocked()
    return Library.open(root, passphrase=PASS), recovery


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def storage_files(root: Path) -> list[str]:
    """Files of the storage areas (not the catalog, keyring, settings)."""
    return sorted(p.relative_to(root).as_posix() for p in stored_files(root)
                  if p.relative_to(root).parts[0] in ("originals", "derived", "trash"))


def windows(data: bytes, n: int = 6, size: int = 48) -> list[bytes]:
    """``n`` slices of ``data`` spread over it: any of them found anywhere means plaintext leaked."""
    step = max(1, (len(data) - size) // n)
    return [data[i:i + size] for i in range(0, len(data) - size, step)][:n]


def find_any(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for p in stored_files(root):
        blob = p.read_bytes()
        if any(n in blob for n in needles):
            hits.append(p.relative_to(root).as_posix())
    return hits


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_PASSPHRASE")}
    e.update({"COLUMNS": "400", **(env or {})})     # one message, one line: no wrapping by the terminal width
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=e,
                          timeout=timeout)


# -- the format -----------------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path) -> EncryptedStorage:
    return EncryptedStorage(LocalStorage(tmp_path / "lib"), Keys.new(), tmp_path / "cache", chunk_bytes=1000)


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 4000, 12345])
def test_objects_read_back_whole_and_by_range_at_every_chunk_boundary(store, size):
    data = os.urandom(size)
    store.write("derived/versions/x.bin", data)
    assert store.read_bytes("derived/versions/x.bin") == data
    assert store.size("derived/versions/x.bin") == size
    for start, length in [(0, 10), (995, 10), (999, 2), (1000, 1000), (max(0, size - 3), 100), (500, 5000)]:
        assert store.read_range("derived/versions/x.bin", start, length) == data[start:start + length]
    with store.open("derived/versions/x.bin") as f:
        f.seek(size // 2)
        assert f.read() == data[size // 2:]


def test_a_range_read_decrypts_only_the_chunks_it_needs(store):
    """Proof by damage: a flipped byte in chunk 7 does not stop reading chunk 1, and reading chunk 7 is refused."""
    data = os.urandom(10_000)
    store.write("originals/aa/bb/v.mp4", data)
    path = store.inner.root / store.name_of("originals/aa/bb/v.mp4")
    raw = bytearray(path.read_bytes())
    raw[HEADER_BYTES + 7 * (1000 + 16) + 5] ^= 1
    os.chmod(path, 0o644)
    path.write_bytes(bytes(raw))
    assert store.read_range("originals/aa/bb/v.mp4", 1000, 500) == data[1000:1500]
    with pytest.raises(TamperedError, match="chunk 7"):
        store.read_range("originals/aa/bb/v.mp4", 7000, 10)


def test_chunks_cut_at_a_chunk_boundary_or_reordered_are_refused(store):
    """Without the file key nobody can make a valid chunk, but whole chunks can be dropped or moved: the counter in
    each nonce catches a move, the final flag a cut at a chunk boundary (the trailer kept)."""
    data = os.urandom(4000)                                     # chunks of 1000: three, then the final one
    store.write("derived/versions/c.bin", data)
    path = store.inner.root / store.name_of("derived/versions/c.bin")
    raw = path.read_bytes()
    sealed = 1000 + 16
    chunks = [raw[HEADER_BYTES + i * sealed:HEADER_BYTES + (i + 1) * sealed] for i in range(4)]
    trailer = raw[HEADER_BYTES + 4 * sealed:]
    os.chmod(path, 0o644)
    for name, body in (("cut", chunks[:3]), ("reordered", [chunks[1], chunks[0], chunks[2], chunks[3]])):
        path.write_bytes(raw[:HEADER_BYTES] + b"".join(body) + trailer)
        with pytest.raises(TamperedError, match="chunk"):
            store.read_bytes("derived/versions/c.bin")
    path.write_bytes(raw)
    assert store.read_bytes("derived/versions/c.bin") == data


def test_big_objects_stream_through_in_chunks_and_never_sit_in_memory(tmp_path):
    import tracemalloc
    store = EncryptedStorage(LocalStorage(tmp_path / "lib"), Keys.new(), tmp_path / "cache")
    piece = os.urandom(1 << 20)
    tracemalloc.start()
    try:
        store.write("originals/aa/bb/big.mp4", (piece for _ in range(96)))        # 96 MiB in, 1 MiB at a time
        with store.open("originals/aa/bb/big.mp4") as f:
            n = sum(len(c) for c in iter(lambda: f.read(1 << 20), b""))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 96 << 20
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB of Python allocations for a 96 MiB object"


def test_streamed_put_stores_once_under_a_keyed_name_and_lists_by_logical_key(store):
    content = os.urandom(5000)
    key_for = lambda h: f"originals/{h[:2]}/{h[2:4]}/{h}.jpg"  # noqa: E731
    first = store.put_addressed(io.BytesIO(content), key_for)
    again = store.put_addressed(io.BytesIO(content), key_for)
    assert first.written and not again.written and first.key == again.key
    assert first.sha256 == hashlib.sha256(content).hexdigest()
    assert storage_files(store.inner.root) == [store.name_of(first.key)]
    assert first.sha256 not in store.name_of(first.key)
    assert list(store.list("originals")) == [first.key]
    trashed = store.to_trash(first.key)
    assert list(store.list("trash")) == [trashed] and list(store.list("originals")) == []
    store.from_trash(first.key)
    assert store.read_bytes(first.key) == content


def test_decrypted_local_copies_live_in_a_private_folder_outside_the_library(store, tmp_path):
    store.write("originals/aa/bb/x.jpg", b"pixels" * 1000)
    p = store.local_file("originals/aa/bb/x.jpg")
    assert p.read_bytes() == b"pixels" * 1000
    assert tmp_path / "lib" not in p.parents
    assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700 and stat.S_IMODE(p.stat().st_mode) == 0o600
    # Uploads being received (plaintext until stored) wait in this library's private folder too.
    staged = store.staging_file("u1.data")
    assert tmp_path / "lib" not in staged.parents and store.keys.library_id in staged.parts
    assert stat.S_IMODE(staged.parent.stat().st_mode) == 0o700


# -- keys -----------------------------------------------------------------------------------------------------
def test_wrong_passphrase_is_one_clear_line_and_the_right_one_opens(tmp_path):
    lib, _ = encrypted_library(tmp_path / "lib")
    forget_unlocked()
    with pytest.raises(LockedError, match="^wrong passphrase for the encrypted library"):
        Library.open(tmp_path / "lib", passphrase="Tr0ub4dor&3")
    assert isinstance(Library.open(tmp_path / "lib", passphrase=PASS).storage, EncryptedStorage)


def test_without_any_passphrase_and_no_terminal_it_says_where_to_give_one(tmp_path):
    encrypted_library(tmp_path / "lib")
    forget_unlocked()
    r = cli("--library", str(tmp_path / "lib"), "status")
    assert r.returncode == 2
    assert "WORKBENCH_PASSPHRASE" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_cli_wrong_passphrase_one_line_then_recovery_key_sets_a_new_passphrase(tmp_path):
    root = tmp_path / "lib"
    r = cli("--library", str(root), "init", "--encrypt", "--json", env={"WORKBENCH_PASSPHRASE": PASS})
    assert r.returncode == 0, r.stderr
    recovery = json.loads(r.stdout.splitlines()[0])["recovery_key"]
    jpeg(tmp_path / "in" / "a.jpg", seed=3)
    Library.open(root, passphrase=PASS).import_files([tmp_path / "in"], progress=False)

    wrong = cli("--library", str(root), "ls", env={"WORKBENCH_PASSPHRASE": "not it"})
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1

    (tmp_path / "rk").write_text(recovery.lower().replace("-", " ") + "\n")   # typed back loosely
    (tmp_path / "new").write_text("a new passphrase\n")
    r = cli("--library", str(root), "passphrase", "change", "--recovery-key-file", str(tmp_path / "rk"),
            "--new-passphrase-file", str(tmp_path / "new"))
    assert r.returncode == 0, r.stderr
    forget_unlocked()
    with pytest.raises(LockedError, match="wrong passphrase"):
        Library.open(root, passphrase=PASS)
    r = cli("--passphrase-file", str(tmp_path / "new"), "--library", str(root), "verify", "--json")
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["status"] for x in r.stdout.splitlines()] == ["ok"]


def test_changing_the_passphrase_rewrites_no_stored_file(tmp_path):
    from workbench.storage.keyring import change_passphrase, unlock_with_passphrase
    lib, _ = encrypted_library(tmp_path / "lib")
    lib.storage.write("derived/versions/a.bin", os.urandom(3000))
    before = {f: (tmp_path / "lib" / f).read_bytes() for f in storage_files(tmp_path / "lib")}
    change_passphrase(lib.root, unlock_with_passphrase(lib.root, PASS), "another one")
    assert {f: (tmp_path / "lib" / f).read_bytes() for f in storage_files(tmp_path / "lib")} == before
    forget_unlocked()
    assert Library.open(lib.root, passphrase="another one").storage.read_bytes("derived/versions/a.bin")


def test_rotating_the_master_key_rewraps_headers_only_and_the_old_key_no_longer_opens_anything(tmp_path):
    lib, _ = encrypted_library(tmp_path / "lib")
    data = {f"derived/versions/{i}.bin": os.urandom(2500 * (i + 1)) for i in range(3)}
    for k, v in data.items():
        lib.storage.write(k, v)
    lib.storage.to_trash("derived/versions/2.bin")
    old_keyring = (tmp_path / "lib" / "encryption.json").read_text()
    before = {f: (tmp_path / "lib" / f).read_bytes() for f in storage_files(tmp_path / "lib")}

    recovery, n = rotate_master_key(lib.root, lib.storage, PASS)
    assert n == 3 and recovery
    after = {f: (tmp_path / "lib" / f).read_bytes() for f in storage_files(tmp_path / "lib")}
    assert after.keys() == before.keys()
    for f in before:   # same names, same encrypted data; only the wrapped file key in the header changed
        assert after[f][HEADER_BYTES:] == before[f][HEADER_BYTES:] and after[f][:HEADER_BYTES] != before[f][:HEADER_BYTES]
    forget_unlocked()
    fresh = Library.open(lib.root, passphrase=PASS)
    assert fresh.storage.read_bytes("derived/versions/0.bin") == data["derived/versions/0.bin"]
    assert fresh.storage.read_bytes("trash/derived/versions/2.bin") == data["derived/versions/2.bin"]

    (tmp_path / "lib" / "encryption.json").write_text(old_keyring)      # someone kept the old keyring
    forget_unlocked()
    stale = Library.open(lib.root, passphrase=PASS)
    with pytest.raises(TamperedError, match="another library key"):
        stale.storage.read_bytes("derived/versions/0.bin")


# -- tampering ------------------------------------------------------------------------------------------------
@pytest.fixture
def processed(tmp_path) -> tuple[Library, Path]:
    """An encrypted library with two photos imported and their thumbnails and previews made."""
    lib, _ = encrypted_library(tmp_path / "lib")
    jpeg(tmp_path / "in" / "a.jpg", 1600, 1200, seed=1)
    jpeg(tmp_path / "in" / "b.jpg", 1600, 1200, seed=2)
    lib.import_files([tmp_path / "in"], progress=False)
    lib.process(["thumbnails"], progress=False)
    return lib, tmp_path / "in"


def _media(lib: Library, name: str) -> dict:
    df = lib.media()
    return df[df["path"].str.endswith("/" + name)].iloc[0].to_dict()


def _object(lib: Library, key: str) -> Path:
    p = lib.storage.inner.root / lib.storage.name_of(key)
    os.chmod(p, 0o644)
    return p


def test_a_flipped_bit_a_truncation_and_a_swap_are_refused_and_listed_by_verify(processed):
    lib, _ = processed
    a, b = _media(lib, "a.jpg"), _media(lib, "b.jpg")
    key_a = f"originals/{a['blob']}"
    rows = {r["media_id"]: r for r in lib.catalog.read("thumbnails", ["media_id", "thumb", "preview"]).to_pylist()}
    pa = _object(lib, key_a)
    raw = bytearray(pa.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    pa.write_bytes(bytes(raw))                                              # a flipped bit in an original
    pp = _object(lib, f"derived/{rows[b['id']]['preview']}")
    pp.write_bytes(pp.read_bytes()[:-40])                                   # a truncated preview
    shutil.copyfile(_object(lib, f"derived/{rows[b['id']]['thumb']}"),      # b's thumbnail in the place of a's
                    _object(lib, f"derived/{rows[a['id']]['thumb']}"))

    forget_unlocked()
    lib = Library.open(lib.root, passphrase=PASS)
    with pytest.raises(TamperedError, match="chunk"):
        lib.storage.read_bytes(key_a)
    with pytest.raises(TamperedError):
        lib.thumbnail(b["id"], "preview")                        # the gallery's way in: refused, never served
    with pytest.raises(TamperedError, match="swapped"):
        lib.thumbnail(a["id"], "thumb")
    assert lib.thumbnail(b["id"], "thumb")                       # the untouched ones still read

    report = lib.verify(progress=False)
    tampered = report[report["status"] == "tampered"]
    assert len(tampered) == 3, report.to_dict("records")
    assert a["id"] in set(tampered["id"])                         # the original, named by its media
    assert report.set_index("id").loc[b["id"], "status"] == "ok"
    r = cli("--library", str(lib.root), "verify", "--json", env={"WORKBENCH_PASSPHRASE": PASS})
    assert r.returncode == 1
    assert sorted(json.loads(x)["status"] for x in r.stdout.splitlines()) == ["ok"] + ["tampered"] * 3


def test_an_object_written_under_another_library_key_is_refused(processed, tmp_path):
    lib, src = processed
    other, _ = encrypted_library(tmp_path / "other")
    other.import_files([src], progress=False)
    a = _media(lib, "a.jpg")
    key = f"originals/{a['blob']}"
    foreign = other.storage.inner.root / other.storage.name_of(key)
    shutil.copyfile(foreign, _object(lib, key))            # same photo, same logical key, the other library's key
    with pytest.raises(TamperedError, match="another library key"):
        lib.original_path(a["id"])


# -- what is on disk ------------------------------------------------------------------------------------------
def test_no_byte_of_a_photo_or_its_renditions_and_no_content_hash_is_under_the_library_root(processed):
    lib, src = processed
    photo = (src / "a.jpg").read_bytes()
    a = _media(lib, "a.jpg")
    preview = lib.thumbnail(a["id"], "preview")
    served = lib.original_path(a["id"])                            # a decoder's copy exists somewhere...
    assert served.read_bytes() == photo and lib.root not in served.parents   # ...but not in the library
    assert find_any(lib.root, windows(photo) + windows(preview)) == []
    assert hashlib.sha256(photo).hexdigest() == a["sha256"]
    for f in storage_files(lib.root):
        assert SEALED_NAME.match(f), f
        assert a["sha256"][:12] not in f


def test_a_library_moved_to_another_folder_and_machine_opens_with_its_passphrase(processed, tmp_path):
    lib, src = processed
    moved = tmp_path / "elsewhere" / "lib"
    shutil.copytree(lib.root, moved, symlinks=True)
    shutil.rmtree(lib.root)
    # Another machine: a fresh process, its own (empty) decrypted-file cache.
    env = {"WORKBENCH_PASSPHRASE": PASS, "XDG_CACHE_HOME": str(tmp_path / "other-machine-cache")}
    r = cli("--library", str(moved), "verify", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(x)["status"] for x in r.stdout.splitlines()) == ["ok", "ok"]
    forget_unlocked()
    again = Library.open(moved, passphrase=PASS)
    a = _media(again, "a.jpg")
    assert again.original_path(a["id"]).read_bytes() == (src / "a.jpg").read_bytes()


# -- the library works unchanged once unlocked ----------------------------------------------------------------
def test_import_process_renditions_videos_by_range_and_gallery_downloads_work_unlocked(tmp_path):
    from workbench.gallery.media_handler import served_file
    lib, _ = encrypted_library(tmp_path / "lib")
    jpeg(tmp_path / "in" / "p.jpg", 1200, 900, seed=5)
    video(tmp_path / "in" / "v.mp4", seconds=2.0)
    rep = lib.import_files([tmp_path / "in"], progress=False)
    assert rep.added == 2 and not rep.failures
    reports = lib.process(["thumbnails"], progress=False)
    assert reports[0].done == 2 and reports[0].failed == 0
    v = _media(lib, "v.mp4")
    clip = (tmp_path / "in" / "v.mp4").read_bytes()
    key = f"originals/{v['blob']}"
    assert lib.storage.read_range(key, 1000, 70_000) == clip[1000:71_000]    # how a video is played
    f = served_file(lib, v["id"])   # the gallery plays it by ranges, decrypting only the chunks asked for
    assert "path" not in f and lib.storage.size(f["key"]) == len(clip)
    assert lib.storage.read_range(f["key"], len(clip) - 5000, 5000) == clip[-5000:]
    from PIL import Image
    assert Image.open(io.BytesIO(lib.thumbnail(v["id"], "thumb"))).format == "WEBP"
    assert lib.verify(progress=False)["status"].tolist() == ["ok", "ok"]
    # Trash and restore move sealed objects by renaming them; nothing is decrypted to disk in the library.
    p = _media(lib, "p.jpg")
    lib.trash([p["id"]])
    lib.restore([p["id"]])
    assert lib.thumbnail(p["id"], "preview")


# -- converting a library in place ----------------------------------------------------------------------------
@pytest.mark.slow
def test_encrypt_killed_mid_way_then_rerun_leaves_no_plaintext_loses_nothing_encrypts_nothing_twice(tmp_path):
    root = tmp_path / "lib"
    lib = Library.create(root)
    jpeg(tmp_path / "in" / "a.jpg", 800, 600, seed=7)
    lib.import_files([tmp_path / "in"], progress=False)
    lib.process(["thumbnails"], progress=False)
    for i in range(400):                               # enough files that the kill lands part way
        lib.storage.write(f"derived/versions/test/{i:03d}.bin", os.urandom(64 << 10), immutable=True)
    expected = {k: lib.storage.read_bytes(k) for area in ("originals", "derived") for k in lib.storage.list(area)}
    env = {"WORKBENCH_PASSPHRASE": PASS}

    e = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_PASSPHRASE")} | env
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "--library", str(root), "encrypt"], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(1 for f in storage_files(root) if SEALED_NAME.match(f)) >= 20:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    files = storage_files(root)
    assert 20 <= sum(1 for f in files if SEALED_NAME.match(f)) < len(expected), "the kill did not land mid-way"
    with pytest.raises(LockedError, match="run `workbench encrypt` again"):
        Library.open(root, passphrase=PASS)

    r = cli("--library", str(root), "encrypt", "--json", env=env)
    assert r.returncode == 0, r.stderr
    files = storage_files(root)
    assert all(SEALED_NAME.match(f) for f in files), [f for f in files if not SEALED_NAME.match(f)][:5]
    assert len(files) == len(expected)                                       # one sealed object per file
    forget_unlocked()
    lib = Library.open(root, passphrase=PASS)
    assert {k: lib.storage.read_bytes(k) for k in expected} == expected      # nothing lost, nothing sealed twice
    assert find_any(root, [w for v in list(expected.values())[:50] for w in windows(v, 2)]) == []
    assert lib.verify(progress=False)["status"].tolist() == ["ok"]
    again = cli("--library", str(root), "encrypt", env=env)
    assert again.returncode == 2 and "already encrypted" in again.stderr


@pytest.mark.slow
def test_search_and_similar_work_on_an_unlocked_encrypted_library(tmp_path, tiny_clip_checkpoint):
    """The embeddings stage reads previews through the encrypted storage in its workers; opening the library again
    in the same process (a notebook cell, a dashboard) needs no passphrase."""
    cfg, ckpt = tiny_clip_checkpoint
    lib, _ = encrypted_library(tmp_path / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = str(cfg), str(ckpt)
    lib.settings.save(lib.root)
    lib = Library.open(lib.root)
    for i in range(3):
        jpeg(tmp_path / "in" / f"p{i}.jpg", 640, 480, seed=10 + i)
    lib.import_files([tmp_path / "in"], progress=False)
    stages = [s for s in lib.status()["stage"] if s == "thumbnails" or s.startswith("embeddings")]
    reports = lib.process(stages, progress=False)
    assert all(r.failed == 0 and r.done == 3 for r in reports), reports
    assert len(lib.search("a photo", limit=10)) == 3
    first = lib.media().iloc[0]["id"]
    assert first not in set(lib.similar(first, limit=10)["id"]) and len(lib.similar(first, limit=10)) == 2


def test_an_interrupted_key_rotation_finishes_when_run_again(tmp_path):
    lib, _ = encrypted_library(tmp_path / "lib")
    data = {f"derived/versions/{i}.bin": os.urandom(1500) for i in range(5)}
    for k, v in data.items():
        lib.storage.write(k, v)

    class Interrupted(Exception):
        pass

    seen = []

    def stop_after_two(n: int) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        rotate_master_key(lib.root, lib.storage, PASS, on_progress=stop_after_two)
    forget_unlocked()
    mid = Library.open(lib.root, passphrase=PASS)                 # half rotated: everything still reads
    assert len(mid.storage.keys.master_keys) == 2
    assert {k: mid.storage.read_bytes(k) for k in data} == data
    recovery, n = rotate_master_key(mid.root, mid.storage, PASS)
    assert recovery is None and n == 3                            # the rest only; the first recovery key holds
    forget_unlocked()
    done = Library.open(lib.root, passphrase=PASS)
    assert len(done.storage.keys.master_keys) == 1
    assert {k: done.storage.read_bytes(k) for k in data} == data


@pytest.mark.slow
def test_compressing_and_replacing_originals_work_encrypted_and_rebuilt_jpegs_stay_outside_the_library(tmp_path):
    lib, _ = encrypted_library(tmp_path / "lib")
    jpeg(tmp_path / "in" / "a.jpg", 800, 600, seed=3)
    original = (tmp_path / "in" / "a.jpg").read_bytes()
    lib.import_files([tmp_path / "in"], progress=False)
    lib.process(["thumbnails"], progress=False)
    lib.compress("lossless", progress=False)
    df = lib.replace_originals(progress=False)
    assert df["status"].tolist() == ["replaced"] and df["stored_as"].tolist() == ["jxl-reconstructible"]
    mid = df["id"].iloc[0]
    rebuilt = lib.original_path(mid)                      # the exact JPEG, rebuilt from the stored JPEG XL
    assert rebuilt.read_bytes() == original and lib.root not in rebuilt.parents
    assert lib.verify(progress=False)["status"].tolist() == ["ok"]
    assert find_any(lib.root, windows(original)) == []
    assert all(SEALED_NAME.match(f) for f in storage_files(lib.root))


def test_encrypting_twice_or_a_library_with_files_is_refused_in_one_line(tmp_path):
    lib, _ = encrypted_library(tmp_path / "lib")
    with pytest.raises(LockedError, match="already encrypted"):
        lib.start_encryption(PASS)
    plain = Library.create(tmp_path / "plain")
    jpeg(tmp_path / "in" / "a.jpg", seed=1)
    plain.import_files([tmp_path / "in"], progress=False)
    with pytest.raises(LockedError, match="workbench encrypt"):
        plain.start_encryption(PASS)


# -- keys, names and ids, more closely ------------------------------------------------------------------------
def test_the_keyring_records_its_argon2id_parameters_and_holds_no_key_in_the_clear(tmp_path):
    import base64
    lib, _ = encrypted_library(tmp_path / "lib")
    text = (tmp_path / "lib" / "encryption.json").read_text()
    doc = json.loads(text)
    assert doc["cipher"] == "AES-256-GCM"
    kdf = doc["kdf"]
    assert (kdf["name"], kdf["time_cost"], kdf["memory_cost_kib"], kdf["parallelism"]) == ("argon2id", 1, 8192, 1)
    assert len(base64.b64decode(kdf["salt"])) == 16
    keys = lib.storage.keys
    for secret in [*keys.master_keys.values(), keys.name_key]:      # only wrapped: no key, raw or base64, in it
        assert base64.b64encode(secret).decode() not in text and secret.hex() not in text
    # A random key per file: the same bytes stored twice share no header (wrapped file key) and no ciphertext.
    lib.storage.write("derived/versions/p/1.bin", b"same bytes" * 1000)
    lib.storage.write("derived/versions/p/2.bin", b"same bytes" * 1000)
    one, two = (_object(lib, f"derived/versions/p/{i}.bin").read_bytes() for i in (1, 2))
    assert one[14:HEADER_BYTES] != two[14:HEADER_BYTES] and one[HEADER_BYTES:][:64] != two[HEADER_BYTES:][:64]


def test_media_ids_are_the_same_as_in_a_plain_library(tmp_path):
    """Encryption changes the stored names, never what users see: ids, content hashes and keys are the plain ones."""
    jpeg(tmp_path / "in" / "a.jpg", seed=21)
    video(tmp_path / "in" / "v.mp4", seconds=1.0)
    plain = Library.create(tmp_path / "plain")
    plain.import_files([tmp_path / "in"], progress=False)
    enc, _ = encrypted_library(tmp_path / "enc")
    enc.import_files([tmp_path / "in"], progress=False)
    cols = ["id", "sha256", "blob", "kind"]
    assert (enc.media()[cols].sort_values("id").to_dict("records")
            == plain.media()[cols].sort_values("id").to_dict("records"))


def on_terminal(args: list[str], answers: list[tuple[bytes, str]], env: dict[str, str]) -> tuple[int, str]:
    """Run ``workbench *args`` on a pseudo-terminal of its own, typing each answer once its prompt appears."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:                                                    # the child: a wide terminal, then exec
        import fcntl
        import struct
        import termios
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 400, 0, 0))
        os.execve(sys.executable, [sys.executable, "-m", "workbench", *args], env)
    out, seen = b"", 0
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 120)
            if not ready:
                break
            try:
                data = os.read(fd, 4096)
            except OSError:                                         # EIO: the child closed the terminal
                break
            if not data:
                break
            out += data
            if pending and pending[0][0] in out[seen:]:
                seen = out.index(pending[0][0], seen) + len(pending[0][0])
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), re.sub(r"\x1b\[[0-9;]*m", "", out.decode(errors="replace"))


def test_a_passphrase_is_asked_for_on_a_terminal_never_echoed_and_a_wrong_one_is_one_line(tmp_path):
    root = tmp_path / "lib"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_PASSPHRASE")}
    env.update(COLUMNS="400", TERM="xterm", NO_COLOR="1")
    code, out = on_terminal(["--library", str(root), "init", "--encrypt"],
                            [(b"New passphrase: ", PASS), (b"Repeat it: ", PASS)], env)
    assert code == 0, out
    assert "Recovery key" in out and re.search(r"([A-Z2-7]{4}-){12}[A-Z2-7]{4}", out)   # shown once, here
    assert PASS not in out                                          # typed, not echoed

    code, out = on_terminal(["--library", str(root), "status"], [(b"Passphrase for ", "not it")], env)
    assert code == 2
    said = [ln for ln in out.split("Passphrase for ", 1)[1].splitlines()[1:] if ln.strip()]
    assert len(said) == 1 and said[0].startswith("error: wrong passphrase for the encrypted library"), out

    code, out = on_terminal(["--library", str(root), "status"], [(b"Passphrase for ", PASS)], env)
    assert code == 0 and PASS not in out, out
    assert "thumbnails" in out                                      # the status table of the unlocked library


def test_the_docs_say_what_every_catalog_table_holds():
    """The catalog is not encrypted, so docs/storage.md lists what each of its tables holds: a table added to the
    catalog without a row there fails here."""
    from workbench.catalog.schema import CORE_TABLES
    from workbench.settings import Settings
    from workbench.stages.registry import stage_schemas
    doc = (Path(__file__).resolve().parents[1] / "docs" / "storage.md").read_text()
    section = doc.split("### What is not encrypted: the catalog", 1)[1].split("\n## ", 1)[0]
    listed = {name for row in section.splitlines() if row.startswith("| `")
              for name in re.findall(r"`([a-z_<>]+)`", row.split("|")[1])}
    tables = {re.sub(r"_\d+$", "_<dim>", t) for t in [*CORE_TABLES, *stage_schemas(Settings())]}
    assert tables - listed == set(), "catalog tables docs/storage.md does not describe"
    assert listed - tables == set(), "docs/storage.md describes tables the catalog no longer has"
