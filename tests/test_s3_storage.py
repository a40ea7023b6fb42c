"""S3Storage keeps the storage contract on a real S3-compatible server (moto's, on 127.0.0.1)."""
from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
import threading
from collections.abc import Iterator

import pytest

from workbench.storage import open_storage
from workbench.storage.s3 import S3Storage


def _storage(s3_env, **kw) -> S3Storage:
    return S3Storage(s3_env.url, s3_env.state_home / "cache", endpoint_url=s3_env.endpoint, region="us-east-1",
                     **kw)


def _key(sha: str) -> str:
    return f"originals/{sha[:2]}/{sha[2:4]}/{sha}.bin"


def test_the_test_server_supports_conditional_puts(s3_env):
    """moto 5.2.6's server honours If-None-Match: * on PUT and on completing a multipart upload, which is what
    LanceDB's commits and our write-once originals rely on: the second writer gets 412 PreconditionFailed."""
    from botocore.exceptions import ClientError
    c, b = s3_env.client, s3_env.bucket
    c.put_object(Bucket=b, Key="k", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket=b, Key="k", Body=b"second", IfNoneMatch="*")
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    up = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    part = c.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"third")
    with pytest.raises(ClientError) as e:
        c.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, IfNoneMatch="*",
                                    MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert c.get_object(Bucket=b, Key="k")["Body"].read() == b"first"


def test_write_read_list_move_delete(s3_env):
    st = _storage(s3_env)
    assert st.write("derived/thumbnails/v1/a.webp", b"thumb") == 5
    assert st.write("derived/versions/p/b.jxl", [b"ab", b"cd"]) == 4
    assert st.exists("derived/thumbnails/v1/a.webp") and not st.exists("derived/none")
    assert st.read_bytes("derived/versions/p/b.jxl") == b"abcd"
    assert st.size("derived/versions/p/b.jxl") == 4 and st.modified_at("derived/versions/p/b.jxl") > 0
    assert sorted(st.list("derived")) == ["derived/thumbnails/v1/a.webp", "derived/versions/p/b.jxl"]
    # Everything lives under the library's prefix, nothing outside it.
    assert all(k.startswith("lib/") for k in s3_env.keys())
    st.to_trash("derived/versions/p/b.jxl")
    assert not st.exists("derived/versions/p/b.jxl") and st.exists("trash/derived/versions/p/b.jxl")
    st.from_trash("derived/versions/p/b.jxl")
    assert st.read_bytes("derived/versions/p/b.jxl") == b"abcd"
    assert st.delete("derived/versions/p/b.jxl") and not st.delete("derived/versions/p/b.jxl")
    with pytest.raises(FileNotFoundError):
        st.read_bytes("derived/versions/p/b.jxl")
    with pytest.raises(FileNotFoundError):
        st.move("derived/none", "derived/other")
    assert st.purge("derived") == (1, 5) and list(st.list("derived")) == []


def test_range_reads_fetch_only_the_range(s3_env):
    st = _storage(s3_env)
    data = bytes(range(256)) * 100
    st.write("originals/aa/bb/v.mp4", data)
    assert st.read_range("originals/aa/bb/v.mp4", 1000, 300) == data[1000:1300]
    assert st.read_range("originals/aa/bb/v.mp4", len(data) - 10, 100) == data[-10:]
    assert st.read_range("originals/aa/bb/v.mp4", len(data), 100) == b""
    with pytest.raises(FileNotFoundError):
        st.read_range("originals/aa/bb/none.mp4", 0, 10)


def test_put_addressed_streams_in_parts_and_stores_content_once(s3_env):
    """A file bigger than a part goes up as a multipart upload (parts of 5 MiB: never the whole file in memory);
    the same content again is not uploaded, and the object holds exactly the bytes hashed."""
    st = _storage(s3_env, part_size_bytes=5 << 20)
    data = hashlib.sha256(b"seed").digest() * ((12 << 20) // 32)    # 12 MiB: three parts
    sha = hashlib.sha256(data).hexdigest()
    first = st.put_addressed(io.BytesIO(data), _key)
    assert (first.sha256, first.key, first.size_bytes, first.written) == (sha, _key(sha), len(data), True)
    head = s3_env.client.head_object(Bucket=s3_env.bucket, Key=f"lib/{_key(sha)}")
    assert head["ETag"].strip('"').endswith("-3")        # a multipart ETag: uploaded in 3 parts
    again = st.put_addressed(io.BytesIO(data), _key)
    assert again.written is False and again.key == first.key
    assert hashlib.sha256(st.read_bytes(first.key)).hexdigest() == sha


def test_put_addressed_from_a_stream_that_cannot_rewind(s3_env):
    """A pipe-like source is spooled to the local cache folder (not RAM) so it can be hashed, then removed."""
    st = _storage(s3_env)

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes):
            self.buf = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, b) -> int:
            chunk = self.buf.read(len(b))
            b[:len(chunk)] = chunk
            return len(chunk)

    blob = st.put_addressed(Pipe(b"streamed bytes"), _key)
    assert blob.written and st.read_bytes(blob.key) == b"streamed bytes"
    assert not any((s3_env.state_home / "cache" / "tmp").iterdir())


def test_two_writers_of_the_same_content_end_with_one_object_and_one_winner(s3_env):
    st = _storage(s3_env)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def put() -> None:
        barrier.wait()
        results.append(pickle.loads(pickle.dumps(st)).put_if_absent("originals/aa/bb/x.jpg", b"same bytes"))

    threads = [threading.Thread(target=put) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [False, False, False, True]
    assert st.read_bytes("originals/aa/bb/x.jpg") == b"same bytes"


def test_a_big_object_is_moved_in_parts_and_a_small_one_in_one_request(s3_env):
    """``move`` (the trash) copies server-side: a small object with one CopyObject, a big one (a video) through
    s3transfer's managed copy, in parts, so that no single request copies gigabytes."""
    import os

    st = _storage(s3_env)
    data = os.urandom(12 << 20)                           # above the 8 MiB threshold: two parts
    st.write("originals/aa/bb/long.mp4", data)
    st.write("originals/aa/bb/small.jpg", b"small")
    with _requests(st) as sent:
        st.to_trash("originals/aa/bb/small.jpg")
    assert "CopyObject" in sent and "UploadPartCopy" not in sent
    with _requests(st) as sent:
        st.to_trash("originals/aa/bb/long.mp4")
    assert sent.count("UploadPartCopy") == 2 and "CopyObject" not in sent
    head = s3_env.client.head_object(Bucket=s3_env.bucket, Key="lib/trash/originals/aa/bb/long.mp4")
    assert head["ETag"].strip('"').endswith("-2")         # a multipart object
    assert st.read_bytes("trash/originals/aa/bb/long.mp4") == data
    assert not st.exists("originals/aa/bb/long.mp4")
    st.from_trash("originals/aa/bb/long.mp4")             # and back, in parts again
    assert st.read_bytes("originals/aa/bb/long.mp4") == data and not st.exists("trash/originals/aa/bb/long.mp4")
    assert st.read_bytes("trash/originals/aa/bb/small.jpg") == b"small"


@contextlib.contextmanager
def _requests(st: S3Storage) -> Iterator[list[str]]:
    """The operations the storage's client sends meanwhile (observed through botocore's own event hooks)."""
    seen: list[str] = []

    def note(model, **_kw) -> None:
        seen.append(model.name)
    st.client.meta.events.register("before-call.s3", note)
    try:
        yield seen
    finally:
        st.client.meta.events.unregister("before-call.s3", note)


def test_put_addressed_sends_a_file_of_one_part_as_one_conditional_put(s3_env):
    """No HEAD first: a photo (one part) costs one request. The same content again is refused by the server
    (If-None-Match), reported as not written, and the stored object is left as it was."""
    st = _storage(s3_env)
    data = b"twelve megapixels, more or less" * 1000
    sha = hashlib.sha256(data).hexdigest()
    with _requests(st) as seen:
        first = st.put_addressed(io.BytesIO(data), _key)
    assert first.written and seen == ["PutObject"]
    before = s3_env.client.head_object(Bucket=s3_env.bucket, Key=f"lib/{_key(sha)}")["LastModified"]
    with _requests(st) as seen:
        again = st.put_addressed(io.BytesIO(data), _key)
    assert (again.written, again.key, seen) == (False, first.key, ["PutObject"])
    assert s3_env.client.head_object(Bucket=s3_env.bucket, Key=f"lib/{_key(sha)}")["LastModified"] == before
    assert st.read_bytes(first.key) == data


def test_a_stage_reads_the_original_import_hashed_without_asking_the_bucket(s3_env):
    """``original_file`` hands over the local copy import made (an original's key names its content, so it cannot
    be stale): no request. Without a copy it downloads one; ``local_file`` (what verify reads) still asks the
    bucket, so a changed object is seen there."""
    st = _storage(s3_env)
    blob = st.put_addressed(io.BytesIO(b"original bytes"), _key)
    with _requests(st) as seen:
        assert st.original_file(blob.key).read_bytes() == b"original bytes"
    assert seen == []
    st.original_file(blob.key).unlink()
    with _requests(st) as seen:
        assert st.original_file(blob.key).read_bytes() == b"original bytes"
    assert seen == ["HeadObject", "GetObject"]
    s3_env.client.put_object(Bucket=s3_env.bucket, Key=f"lib/{blob.key}", Body=b"changed in the bucket")
    assert st.local_file(blob.key).read_bytes() == b"changed in the bucket"


def test_the_local_copies_are_trimmed_by_a_process_first_copy_then_after_each_sixteenth_of_the_budget(s3_env):
    """Listing the copies folder costs per file it holds, so it is not done for every original stored: the first
    copy a process adds trims the folder to ``cache_max_bytes``, the next ones only once a sixteenth of the budget
    came in since (copies younger than the grace period are never trimmed; these are aged by hand)."""
    import os
    import time

    from workbench.storage import s3 as s3mod

    budget = 64 * 1000                                      # a sixteenth: four copies of 1000 bytes
    st = _storage(s3_env, cache_max_bytes=budget)
    objects = st.cache_dir / "objects"

    def put() -> None:
        st.put_addressed(io.BytesIO(os.urandom(1000)), _key)
        old = time.time() - 3600
        for p in objects.rglob("*.bin"):                     # every copy old enough to be trimmed
            os.utime(p, (old, old))

    def cached() -> int:
        return sum(p.stat().st_size for p in objects.rglob("*.bin"))

    s3mod._ADDED_SINCE_TRIM.pop((os.getpid(), st.cache_dir), None)   # a process that has not trimmed it yet
    for _ in range(68):                  # trimmed by copies 1, 5, ..., 65: the 65th brought it back to the budget
        put()
    assert cached() == 67 * 1000         # three more since: over the budget by less than a sixteenth
    put()                                # the fourth since: trimmed
    assert cached() == budget
    s3mod._ADDED_SINCE_TRIM.pop((os.getpid(), st.cache_dir))        # another process: its first copy trims
    put()
    put()
    assert cached() == budget + 1000


def test_local_file_is_a_cached_copy_refreshed_when_the_object_changes(s3_env):
    st = _storage(s3_env)
    st.write("derived/thumbnails/v1/a.webp", b"one")
    p = st.local_file("derived/thumbnails/v1/a.webp")
    assert p.read_bytes() == b"one" and s3_env.state_home in p.parents
    st.write("derived/thumbnails/v1/a.webp", b"two!")
    assert st.local_file("derived/thumbnails/v1/a.webp").read_bytes() == b"two!"
    built = []
    m = st.materialize("derived/reconstructed/ab/x.jpg", lambda: built.append(1) or b"jpeg", expected_size=4,
                       max_cache_bytes=1 << 20)
    assert m.read_bytes() == b"jpeg" and not st.exists("derived/reconstructed/ab/x.jpg")   # a local cache only
    st.materialize("derived/reconstructed/ab/x.jpg", lambda: b"jpeg", expected_size=4, max_cache_bytes=1 << 20)
    assert built == [1]


def test_a_failed_upload_leaves_nothing_and_clean_tmp_aborts_stale_uploads(s3_env):
    st = _storage(s3_env, part_size_bytes=5 << 20)

    def chunks():
        yield b"x" * (6 << 20)        # one part goes up, then the source fails
        raise OSError("disk read error")

    with pytest.raises(OSError):
        st.write("originals/aa/bb/broken.mov", chunks())
    assert not st.exists("originals/aa/bb/broken.mov")
    assert s3_env.client.list_multipart_uploads(Bucket=s3_env.bucket).get("Uploads", []) == []
    # An upload left by a killed writer is invisible; clean_tmp aborts it once it is stale (moto reports every
    # upload as initiated in 2010, so here it is stale at once; on AWS a live upload is younger than a day).
    s3_env.client.create_multipart_upload(Bucket=s3_env.bucket, Key="lib/originals/aa/bb/killed.mov")
    assert not st.exists("originals/aa/bb/killed.mov")
    assert _storage(s3_env, stale_upload_hours=24).clean_tmp() == 1
    assert s3_env.client.list_multipart_uploads(Bucket=s3_env.bucket).get("Uploads", []) == []


def test_open_storage_of_an_s3_location_uses_the_aws_variables(s3_env):
    st = open_storage(s3_env.url)
    assert isinstance(st, S3Storage) and st.bucket == s3_env.bucket and st.prefix == "lib"
    st.write("derived/x", b"1")
    assert s3_env.keys() == ["lib/derived/x"]



def test_a_storage_sent_to_a_worker_keeps_its_endpoint_and_keys(s3_env):
    """Worker processes fork from a server started before the AWS variables may have been set: the storage they
    receive carries what the opening process read."""
    import subprocess
    import sys
    st = open_storage(s3_env.url)
    st.write("derived/x", b"seen from a worker")
    code = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read()).read_bytes('derived/x').decode())"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(s3_env.state_home)}     # no AWS variables at all
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(st), env=env, capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "seen from a worker"


_KILLED_WRITER = """
from workbench.storage.s3 import S3Storage
url, cache, endpoint, src = sys.argv[1:5]
st = S3Storage(url, Path(cache), endpoint_url=endpoint, region="us-east-1")
st.put_addressed(Slow(Path(src).read_bytes()), lambda h: f"originals/{h[:2]}/{h[2:4]}/{h}.bin")
"""


def test_a_writer_killed_9_mid_original_leaves_no_object_and_storing_again_completes(s3_env, tmp_path):
    """kill -9 while an original of one part is being taken in (hashed into the local spool before its one
    conditional PUT): the bucket holds nothing under its name, and storing it again stores it whole."""
    import os

    from killed_writer import kill_9_at_half
    data = os.urandom(3 * 2**20)              # one part: the path that sends a single conditional PUT
    src = tmp_path / "photo.bin"
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    kill_9_at_half(_KILLED_WRITER, s3_env.url, str(s3_env.state_home / "cache"), s3_env.endpoint, str(src))
    listed = s3_env.client.list_objects_v2(Bucket=s3_env.bucket).get("Contents", [])
    assert [o["Key"] for o in listed if sha in o["Key"]] == []            # nothing half-written under its name
    st = _storage(s3_env)
    with open(src, "rb") as f:
        stored = st.put_addressed(f, _key)
    assert stored.written and stored.sha256 == sha
    assert hashlib.sha256(st.read_bytes(_key(sha))).hexdigest() == sha


_KILLED_MOVER = """
from workbench.storage.s3 import S3Storage
url, cache, endpoint = sys.argv[1:4]
st = S3Storage(url, Path(cache), endpoint_url=endpoint, region="us-east-1")
def stall(**_kw):
    print("HALF", flush=True); time.sleep(60)
st.client.meta.events.register("after-call.s3.UploadPartCopy", stall)   # one part copied, the rest not
st.to_trash("originals/aa/bb/long.mp4")
"""


def test_a_move_killed_9_mid_copy_loses_nothing_and_moving_again_completes(s3_env):
    """kill -9 while a big object is being copied to the trash in parts: the original is still there whole, no
    half-copied object appears under the trash key (a multipart copy only appears when completed), and moving it
    again finishes the move."""
    import os

    from killed_writer import kill_9_at_half
    st = _storage(s3_env)
    data = os.urandom(12 << 20)
    st.write("originals/aa/bb/long.mp4", data)
    kill_9_at_half(_KILLED_MOVER, s3_env.url, str(s3_env.state_home / "cache"), s3_env.endpoint)
    assert st.read_bytes("originals/aa/bb/long.mp4") == data
    assert not st.exists("trash/originals/aa/bb/long.mp4")
    st.to_trash("originals/aa/bb/long.mp4")
    assert st.read_bytes("trash/originals/aa/bb/long.mp4") == data and not st.exists("originals/aa/bb/long.mp4")
