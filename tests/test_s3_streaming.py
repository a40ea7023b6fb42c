"""Big media on object storage stream: a video is imported and read back without ever sitting whole in memory, and
a seek (what the gallery's player asks for) fetches only that range from the bucket; plain and encrypted alike.
Measured on moto's server (tests/s3server.py), the bytes counted by a proxy in front of it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from factory import video
from s3server import FaultProxy
from keyring_isolation import isolated_keys  # noqa: F401 (autouse fixture)
from workbench import Library
from workbench.gallery.media_handler import READ_BYTES

PASS = "correct horse battery staple"
MiB = 1 << 20




def files_under(*folders: Path) -> list[Path]:
    return [p for d in folders if d.exists() for p in d.rglob("*") if p.is_file()]


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_seek_in_a_video_fetches_only_that_range_from_the_bucket(s3_env, tmp_path, monkeypatch, encrypted):
    """What the gallery's media handler does for a Range request: the stored size and time, then ``read_range`` of
    at most READ_BYTES at a time. A plain library fetches exactly the range; an encrypted one the chunks it
    touches, the 74-byte header and the trailer. No local copy of the video is made."""
    with FaultProxy(s3_env.endpoint, count_paths=("/originals/",)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lib = Library.create(s3_env.url, catalog_location="local")
        if encrypted:
            lib.start_encryption(PASS)
        data = os.urandom(16 * MiB)
        key = "originals/ab/cd/abcd" + "0" * 60 + ".mp4"
        lib.storage.write(key, data, immutable=True)
        chunk = lib.settings.encryption_chunk_bytes
        overhead = 74 + 2 * (len(key) + 16 + 2) if encrypted else 0   # header, the trailer read at open

        def fetched(start: int, length: int) -> int:
            proxy.read_bytes["/originals/"] = 0
            assert lib.storage.size(key) == len(data)
            lib.storage.modified_at(key)
            assert lib.storage.read_range(key, start, length) == data[start:start + length]
            return proxy.read_bytes["/originals/"]

        seek = fetched(9 * MiB + 12_345, 100)                     # the player probing a frame
        block = fetched(5 * MiB + 7, READ_BYTES)                  # one block of a playing range
        if encrypted:
            assert seek <= 14 + chunk + 16 + overhead, seek           # one chunk (+ size's 14-byte header read)
            assert block <= 14 + READ_BYTES + 2 * (chunk + 16) + overhead, block
        else:
            assert (seek, block) == (100, READ_BYTES)
    cache = [lib.root / "cache", tmp_path / "xdg"]
    assert [p for p in files_under(*cache) if p.stat().st_size >= MiB] == []     # nothing copied whole


STREAM = """
import json, resource, sys, hashlib
from pathlib import Path
from workbench import Library

def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

lib = Library.open(sys.argv[1])
lib.import_files([Path(sys.argv[2])], progress=False)      # warm: every module loaded, every buffer at its size
before = peak()
rep = lib.import_files([Path(sys.argv[3])], progress=False)
big = lib.media()
row = big[big["path"].str.endswith(Path(sys.argv[3]).name)].iloc[0]
h = hashlib.sha256()
with lib.storage.open("originals/" + row["blob"]) as f:
    for piece in iter(lambda: f.read(1 << 20), b""):
        h.update(piece)
print(json.dumps({"before": before, "after": peak(), "added": rep.added, "sha": row["sha256"], "read": h.hexdigest()}))
"""


@pytest.fixture(scope="module")
def big_video(tmp_path_factory) -> tuple[Path, Path]:
    """A real 154 MiB video (raw frames in Matroska: cheap to make, impossible to compress) and a small one."""
    d = tmp_path_factory.mktemp("videos")
    small = video(d / "small.mkv", seconds=2, fps=10, w=640, h=480, codec="rawvideo")
    return small, video(d / "big.mkv", seconds=35, fps=10, w=640, h=480, codec="rawvideo")


@pytest.mark.slow
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_importing_and_reading_a_big_video_never_holds_it_in_memory(s3_env, tmp_path, big_video, encrypted):
    """Import (hash, seal, multipart upload) and a read back of a 154 MiB video raise the process's peak memory by
    far less than the video: it goes through in parts, never whole."""
    import hashlib
    small, big = big_video
    lib = Library.create(s3_env.url, catalog_location="local")
    if encrypted:
        lib.start_encryption(PASS)
    env = {**os.environ, **s3_env.env(), "XDG_CACHE_HOME": str(tmp_path / "xdg"), "WORKBENCH_PASSPHRASE": PASS}
    r = subprocess.run([sys.executable, "-c", STREAM, s3_env.url, str(small), str(big)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    size = big.stat().st_size
    assert out["added"] == 1 and out["sha"] == out["read"] == hashlib.sha256(big.read_bytes()).hexdigest()
    grew = out["after"] - out["before"]
    print(f"peak grew {grew / MiB:.1f} MiB")
    assert grew < size / 4, f"peak memory grew {grew / MiB:.0f} MiB for a {size / MiB:.0f} MiB video"
