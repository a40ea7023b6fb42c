"""A library's files on S3-compatible object storage (AWS S3, MinIO, Garage, Backblaze B2, moto), through botocore.

Why it is built this way:

- Objects are written whole or not at all (a PUT, or a multipart upload that only appears when completed), so a
  killed import never leaves half an original. A failed multipart upload is aborted at once; one left by a killed
  process is invisible and is aborted by ``clean_tmp`` once older than ``s3_stale_upload_hours``.
- ``put_addressed`` needs the content's sha256 before it knows the key. A local file (what import reads) is hashed
  in a first pass, then streamed up in ``s3_part_size_bytes`` parts: never whole in RAM. A file of one part is one
  conditional PUT (the server refuses it when it holds that content); a bigger one is not uploaded again when a
  HEAD finds it. A stream that cannot be rewound is spooled to the local cache folder first.
- Write-once keys use a conditional put (``If-None-Match: *``, supported by AWS S3 since 2024, MinIO, and moto's
  server): two writers of the same content end with one object and the loser learns it did not write. A server
  that rejects the header gets a check-then-put instead (harmless for content-addressed keys: same bytes).
- Decoders that need a file name get a copy in a local cache folder outside the bucket (the library's home, see
  ``workbench.storage.location``), refreshed when the object's ETag changes and trimmed to ``s3_cache_max_bytes``
  (by each process's first copy, then after each sixteenth of it added: listing the folder per file cost as much
  as the upload once it held a few hundred originals).
- Writes are HTTP round trips from a thread-safe client (``overlaps_writes``): import and the stages keep a few in
  flight from threads while they read the next file (``workbench.storage.inflight``), and answer only after them.
"""
from __future__ import annotations

import gc
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from workbench.storage.base import CHUNK_BYTES, Storage, StoredBlob
from workbench.storage.cache import trim_lru
from workbench.storage.errors import (StorageAccessDenied, StorageBucketMissing, StorageError, StorageFull,
                                      StorageUnreachable)
from workbench.storage.keys import check_key
from workbench.storage.location import parse_s3

#: Error codes meaning "this key is not there".
_MISSING = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken", "ExpiredToken"}
#: MinIO answers a full disk or quota with XMinioStorageFull / XMinioAdminBucketQuotaExceeded (HTTP 507 / 400),
#: Ceph RGW and others with QuotaExceeded, Backblaze B2 with 403 "storage cap exceeded".
_FULL = {"XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded", "InsufficientStorage",
         "StorageFull", "507"}
#: Cached copies younger than this are never trimmed: another worker may be about to open them.
_CACHE_GRACE_S = 600.0
#: The local copies folder is trimmed by the first copy a process adds to it and then each time the process has
#: added this share of ``cache_max_bytes`` more, not after every file: the trim lists the whole folder (1.6 ms with
#: 24 copies, 29 ms with 500, 105 ms with 2,000: as long as uploading a photo), so the folder may run over its
#: budget by this share per process writing to it.
_TRIM_EVERY_SHARE = 16
_ADDED_SINCE_TRIM: dict[tuple[int, Path], int] = {}
_ADDED_LOCK = threading.Lock()
#: Above this size ``move`` copies in parts, in threads, through s3transfer (as boto3's managed copy does, with
#: the same threshold): one CopyObject request may copy up to 5 GB, but copying gigabytes in one request can
#: outlast the client's read timeout on some servers.
_COPY_IN_PARTS_ABOVE_BYTES = 8 << 20


# botocore, the AWS client library boto3 is built on, and not boto3 itself: boto3 adds resources and s3transfer's
# managed transfers, which this module needs only to copy a big object (``move`` imports s3transfer then).
# Importing them too cost the forkserver ~0.015 s more (benchmarks/import_fixed_costs.py).
import botocore.session  # noqa: E402  (imported here, not lazily: this module is only imported for a library on S3)
from botocore.config import Config  # noqa: E402

# One botocore session per process whose S3 model is loaded once: a worker forked from the forkserver (which imports
# this module for a library on S3, see Library.__init__) makes its client in ~0.02 s instead of ~1.3 s.
_SESSION = botocore.session.get_session()
# Thrown away: it loads and caches the models a client needs. Its placeholder keys keep it from looking for
# credentials, which without any configured ends in a request to the EC2 metadata address and its timeout.
_SESSION.create_client("s3", region_name="us-east-1", aws_access_key_id="-", aws_secret_access_key="-")
# The S3 model is ~34,000 objects that live as long as the process: frozen (with everything imported so far), the
# garbage collector's full passes stop walking them, in this process and in every worker forked from it. A full
# pass cost ~0.1 s in a process holding what an ingest's driver holds (benchmarks/import_fixed_costs.py); traced in
# a 24-photo ingest, 0.12-0.14 s in the driver and ~0.06 s in each thumbnail worker.
gc.freeze()
_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class S3Config:
    """Where and as whom: read from the settings and the AWS variables when the storage is made (in the process
    that opened the library), so worker processes, whose environment is the forkserver's, use the same."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None

    @classmethod
    def from_env(cls, endpoint_url: str | None = None, region: str | None = None) -> "S3Config":
        env = os.environ
        keys = env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")
        return cls(endpoint_url=endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
                   region=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
                   access_key_id=env["AWS_ACCESS_KEY_ID"] if keys else None,
                   secret_access_key=env["AWS_SECRET_ACCESS_KEY"] if keys else None,
                   session_token=env.get("AWS_SESSION_TOKEN") if keys else None,
                   profile=env.get("AWS_PROFILE") or None)


def _client_for(config: S3Config) -> Any:
    key = (os.getpid(), config)
    with _CLIENTS_LOCK:   # a botocore session is not thread-safe
        if key not in _CLIENTS:
            cfg = Config(connect_timeout=5, read_timeout=60, max_pool_connections=32,
                         retries={"max_attempts": 3, "mode": "standard"},
                         # Checksums only where the API requires them: Backblaze B2, Garage and older MinIO
                         # reject the CRC32 trailers botocore adds by default since 1.36.
                         request_checksum_calculation="when_required",
                         response_checksum_validation="when_required")
            session = botocore.session.Session(profile=config.profile) if config.profile else _SESSION
            _CLIENTS[key] = session.create_client(
                "s3", config=cfg, endpoint_url=config.endpoint_url, region_name=config.region,
                aws_access_key_id=config.access_key_id, aws_secret_access_key=config.secret_access_key,
                aws_session_token=config.session_token)
        return _CLIENTS[key]


class S3Storage(Storage):
    """The objects under ``s3://bucket/prefix``; picklable (the client is made again in each process)."""

    # A write is an HTTP round trip (botocore clients are thread-safe): import and the stages keep a few in flight.
    overlaps_writes = True

    def __init__(self, location: str, cache_dir: Path, *, endpoint_url: str | None = None,
                 region: str | None = None, part_size_bytes: int = 8 << 20, cache_max_bytes: int = 2 << 30,
                 stale_upload_hours: float = 24.0):
        loc = parse_s3(location)
        self.location = loc.url
        self.bucket, self.prefix = loc.bucket, loc.prefix
        self.cache_dir = Path(cache_dir)
        self.config = S3Config.from_env(endpoint_url, region)
        self.endpoint_url = self.config.endpoint_url
        # S3 wants every part but the last to be at least 5 MiB.
        self.part_size_bytes = max(int(part_size_bytes), 5 << 20)
        self.cache_max_bytes = int(cache_max_bytes)
        self.stale_upload_hours = float(stale_upload_hours)
        self.conditional_put = True       # cleared if the server rejects If-None-Match
        self._client: Any = None
        self._pid = 0

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_client"], state["_pid"] = None, 0
        return state

    def __repr__(self) -> str:
        return f"S3Storage({self.location!r}, endpoint={self.endpoint_url or 'AWS default'!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Storage) and (other.location, other.endpoint_url) == (self.location,
                                                                                           self.endpoint_url)

    def __hash__(self) -> int:
        return hash((self.location, self.endpoint_url))

    # -- the client and its errors --------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The process's botocore client for this endpoint and region. Shared by every copy of this storage in the
        process (each task a worker receives unpickles one; making a client costs ~0.1-0.3 s of CPU), and made
        again after a fork (a child must not share its parent's connections)."""
        if self._client is None or self._pid != os.getpid():
            self._client = _client_for(self.config)
            self._pid = os.getpid()
        return self._client

    @property
    def _endpoint(self) -> str:
        return self.endpoint_url or "AWS S3"

    @property
    def _where(self) -> str:
        return f"{self.location} at {self._endpoint}"

    def _error(self, exc: BaseException, key: str | None = None) -> BaseException:
        """Our exception for a botocore one: FileNotFoundError for a missing key, else a one-line StorageError."""
        from botocore import exceptions as bx
        if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
                            bx.ConnectionClosedError)):
            return StorageUnreachable(
                f"cannot reach the object store for {self._where}: check AWS_ENDPOINT_URL (or the setting "
                f"s3_endpoint_url) and the network, then run the command again")
        if isinstance(exc, bx.NoCredentialsError):
            return StorageAccessDenied(f"no credentials for {self._where}: set AWS_ACCESS_KEY_ID and "
                                       f"AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
        if isinstance(exc, bx.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            message = str(err.get("Message", ""))
            if code == "NoSuchBucket":
                return StorageBucketMissing(
                    f"the bucket {self.bucket!r} does not exist at {self._endpoint}: create it "
                    f"(e.g. `aws s3 mb s3://{self.bucket}`) or fix the library location")
            if code in _FULL or status == "507" or "cap exceeded" in message.lower():
                return StorageFull(
                    f"the object store refused a write to {self._where}: its quota or disk is full ({code or status}); "
                    f"free space or raise the quota, then run the command again (it resumes where it stopped)")
            if code in _DENIED or status == "403":
                return StorageAccessDenied(
                    f"the object store refused the credentials for {self._where} ({code or status}): check "
                    f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and that the key may read and write the bucket")
            if key is not None and (code in _MISSING or status == "404"):
                return FileNotFoundError(f"no object {key!r} in {self.location}")
            return StorageError(f"the object store failed on {self._where}: {code or status} {message}".strip())
        if isinstance(exc, bx.BotoCoreError):
            return StorageError(f"the object store failed on {self._where}: {exc}")
        return exc

    def _call(self, op: str, key: str | None = None, **kw: Any) -> Any:
        from botocore import exceptions as bx
        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kw)
        except (bx.ClientError, bx.BotoCoreError) as e:
            raise self._error(e, key) from None

    def _k(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _head(self, key: str) -> dict:
        return self._call("head_object", key, Key=self._k(key))

    def check(self) -> None:
        """Fail with one clear line now if the bucket cannot be reached or read (a listing, not HEAD: a HEAD
        answer has no body to say whether the bucket or the key is missing)."""
        self._call("list_objects_v2", Prefix=self._k("library.json"), MaxKeys=1)

    # -- reading --------------------------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        try:
            self._head(key)
            return True
        except FileNotFoundError:
            return False

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def modified_at(self, key: str) -> float:
        return self._head(key)["LastModified"].timestamp()

    def open(self, key: str) -> BinaryIO:
        return self._call("get_object", key, Key=self._k(key))["Body"]

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        from botocore import exceptions as bx
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._k(key),
                                          Range=f"bytes={start}-{start + length - 1}")
        except bx.ClientError as e:
            if e.response.get("Error", {}).get("Code") == "InvalidRange":   # start at or past the end
                self._head(key)   # FileNotFoundError if the key is missing
                return b""
            raise self._error(e, key) from None
        except bx.BotoCoreError as e:
            raise self._error(e, key) from None
        with resp["Body"] as body:
            return body.read()

    def list(self, prefix: str) -> Iterator[str]:
        base = self._k(prefix.rstrip("/")) + "/"
        cut = len(self.prefix) + 1 if self.prefix else 0
        from botocore import exceptions as bx
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for obj in page.get("Contents", []):
                    yield obj["Key"][cut:]
        except (bx.ClientError, bx.BotoCoreError) as e:
            raise self._error(e) from None

    # -- writing --------------------------------------------------------------------------------------------
    def _chunks(self, data: bytes | Iterable[bytes] | BinaryIO) -> Iterator[bytes]:
        if isinstance(data, (bytes, bytearray, memoryview)):
            yield bytes(data)
        elif hasattr(data, "read"):
            yield from iter(lambda: data.read(CHUNK_BYTES), b"")
        else:
            yield from data

    def _upload(self, key: str, data: bytes | Iterable[bytes] | BinaryIO, *,
                if_absent: bool) -> tuple[bool, int, str | None]:
        """Stream ``data`` to ``key``: one PUT when it fits in a part, else a multipart upload that is aborted on
        any failure. With ``if_absent`` an existing object wins; returns (written, size, the new object's ETag)."""
        cond = {"IfNoneMatch": "*"} if if_absent and self.conditional_put else {}
        if if_absent and not self.conditional_put and self.exists(key):
            return False, 0, None
        okey = self._k(key)
        buf = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict] = []
        try:
            whole = self._one_part(data)
            if whole is not None:
                # Handed to botocore as it is: gathering a 4 MB photo in a buffer and copying it out cost ~6 ms of CPU
                # per file more than this (benchmarks/s3_ingest.py), and a file is streamed from disk, not read.
                etag = self._call("put_object", Key=okey, Body=whole[0], **cond).get("ETag")
                return True, whole[1], etag
            for chunk in self._chunks(data):
                buf += chunk
                size += len(chunk)
                while len(buf) >= self.part_size_bytes:
                    if upload_id is None:
                        upload_id = self._call("create_multipart_upload", Key=okey)["UploadId"]
                    part = bytes(buf[:self.part_size_bytes])
                    del buf[:self.part_size_bytes]
                    n = len(parts) + 1
                    etag = self._call("upload_part", Key=okey, UploadId=upload_id, PartNumber=n, Body=part)["ETag"]
                    parts.append({"ETag": etag, "PartNumber": n})
            if upload_id is None:
                etag = self._call("put_object", Key=okey, Body=bytes(buf), **cond).get("ETag")
            else:
                if buf:
                    n = len(parts) + 1
                    etag = self._call("upload_part", Key=okey, UploadId=upload_id, PartNumber=n,
                                      Body=bytes(buf))["ETag"]
                    parts.append({"ETag": etag, "PartNumber": n})
                etag = self._call("complete_multipart_upload", Key=okey, UploadId=upload_id,
                                  MultipartUpload={"Parts": parts}, **cond).get("ETag")
                upload_id = None
            return True, size, etag
        except StorageError as e:
            if cond and "PreconditionFailed" in str(e):
                return False, size, None
            if cond and ("NotImplemented" in str(e) or "If-None-Match" in str(e)):
                # A server without conditional writes: fall back to check-then-put from now on.
                self.conditional_put = False
                if isinstance(data, (bytes, bytearray, memoryview)) or hasattr(data, "seek"):
                    if hasattr(data, "seek"):
                        data.seek(0)   # only ever a file we wrote from its start
                    return self._upload(key, data, if_absent=True)
            raise
        finally:
            if upload_id is not None:
                try:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=okey, UploadId=upload_id)
                except Exception:   # clean_tmp aborts it later; the first error is the one to report
                    pass

    def _one_part(self, data: bytes | Iterable[bytes] | BinaryIO) -> tuple[Any, int] | None:
        """``data`` and its size when it is bytes or a local file (from where it stands) that fits in one part;
        None for a larger one or a stream of unknown length."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            size = len(data)
            return (bytes(data) if not isinstance(data, bytes) else data, size) if size <= self.part_size_bytes else None
        if hasattr(data, "fileno") and hasattr(data, "seek") and hasattr(data, "tell"):
            try:
                size = os.fstat(data.fileno()).st_size - data.tell()
            except (OSError, ValueError, AttributeError):
                return None
            return (data, size) if 0 <= size <= self.part_size_bytes else None
        return None

    def write(self, key: str, data: bytes | Iterable[bytes], *, immutable: bool = False) -> int:
        return self._upload(key, data, if_absent=False)[1]

    def put_addressed(self, src: BinaryIO, key_for: Callable[[str], str]) -> StoredBlob:
        # Hash into a local file first (the key needs the hash; never RAM): what is uploaded is exactly what was
        # hashed even if the source changes meanwhile, and the copy becomes the local cache entry, so the
        # thumbnail stage that reads the original next does not download it again.
        h = hashlib.sha256()
        size = 0
        tmp = self._tmp_path()
        try:
            with open(tmp, "wb") as f:
                for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
                    h.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
            sha = h.hexdigest()
            key = key_for(sha)
            if size <= self.part_size_bytes and self.conditional_put:
                # One conditional PUT, no HEAD first: the server refuses it when the content is there. Asking
                # first cost every new photo a round trip to spare a duplicate's upload of at most one part
                # (benchmarks/s3_ingest.py); a bigger file (a video) is still asked about before it is sent.
                with open(tmp, "rb") as f:
                    written, _, etag = self._upload(key, f, if_absent=True)
            else:
                try:
                    written, etag = False, self._head(key).get("ETag")
                except FileNotFoundError:
                    with open(tmp, "rb") as f:
                        written, _, etag = self._upload(key, f, if_absent=True)
            if etag:
                self._adopt(tmp, key, etag)
            return StoredBlob(sha, key, size, written)
        finally:
            tmp.unlink(missing_ok=True)

    def put_if_absent(self, key: str, data: bytes | Iterable[bytes]) -> bool:
        return self._upload(key, data, if_absent=True)[0]

    def delete(self, key: str) -> bool:
        if not self.exists(key):
            return False
        self._call("delete_object", key, Key=self._k(key))
        self._local(key).unlink(missing_ok=True)
        return True

    def move(self, src: str, dest: str) -> None:
        from botocore import exceptions as bx
        size = self.size(src)   # FileNotFoundError when there is none
        try:   # server-side: one request, or s3transfer's managed copy in parts for a big object
            source = {"Bucket": self.bucket, "Key": self._k(src)}
            if size <= _COPY_IN_PARTS_ABOVE_BYTES:
                self.client.copy_object(CopySource=source, Bucket=self.bucket, Key=self._k(dest))
            else:
                from s3transfer.manager import TransferManager
                with TransferManager(self.client) as transfers:
                    transfers.copy(source, self.bucket, self._k(dest)).result()
        except (bx.ClientError, bx.BotoCoreError) as e:
            raise self._error(e, src) from None
        self._call("delete_object", src, Key=self._k(src))
        self._local(src).unlink(missing_ok=True)

    def clean_tmp(self) -> int:
        """Abort multipart uploads older than ``stale_upload_hours`` (a killed writer's; a live one on another
        machine is younger) and remove local spool files."""
        n = 0
        tmp = self.cache_dir / "tmp"
        if tmp.is_dir():
            for p in tmp.iterdir():
                if time.time() - p.stat().st_mtime > 3600 * self.stale_upload_hours:
                    p.unlink(missing_ok=True)
                    n += 1
        cutoff = datetime.now(timezone.utc) - timedelta(hours=self.stale_upload_hours)
        prefix = f"{self.prefix}/" if self.prefix else ""
        resp = self._call("list_multipart_uploads", Prefix=prefix)
        for up in resp.get("Uploads", []):
            if up["Initiated"] < cutoff:
                self._call("abort_multipart_upload", Key=up["Key"], UploadId=up["UploadId"])
                n += 1
        return n

    # -- local files ----------------------------------------------------------------------------------------
    def _local(self, key: str) -> Path:
        return self.cache_dir / "objects" / check_key(key)

    def _tmp_path(self) -> Path:
        d = self.cache_dir / "tmp"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{uuid.uuid4().hex}.part"

    def local_file(self, key: str) -> Path:
        dest = self._local(key)
        tag_file = dest.with_name(dest.name + ".etag")
        etag = self._head(key).get("ETag", "")
        if dest.exists() and tag_file.exists() and tag_file.read_text() == etag:
            os.utime(dest)
            return dest
        tmp = self._tmp_path()
        try:
            with self.open(key) as body, open(tmp, "wb") as f:
                for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
                    f.write(chunk)
            self._adopt(tmp, key, etag)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def original_file(self, key: str) -> Path:
        # A copy already in the cache is used without a HEAD: an original's key names its content (the copy is
        # the file import hashed, or a download checked against the object's ETag), so it cannot be stale. One
        # round trip per photo less in the thumbnail stage (benchmarks/s3_ingest.py).
        dest = self._local(key)
        if dest.exists() and dest.with_name(dest.name + ".etag").exists():
            try:
                os.utime(dest)
                return dest
            except FileNotFoundError:   # trimmed by another process meanwhile
                pass
        return self.local_file(key)

    def _adopt(self, tmp: Path, key: str, etag: str) -> None:
        """Make the local file ``tmp`` (the bytes of ``key`` as the object with ``etag``) its cache entry."""
        dest = self._local(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
        dest.with_name(dest.name + ".etag").write_text(etag)
        if self._trim_due(dest.stat().st_size):
            self._trim(self.cache_dir / "objects", self.cache_max_bytes, keep=dest)

    def _trim_due(self, added: int) -> bool:
        """Whether the copy just added (``added`` bytes) is the one that trims the folder (``_TRIM_EVERY_SHARE``)."""
        key = (os.getpid(), self.cache_dir)
        with _ADDED_LOCK:
            since = _ADDED_SINCE_TRIM.get(key)
            if since is None or since + added >= self.cache_max_bytes // _TRIM_EVERY_SHARE:
                _ADDED_SINCE_TRIM[key] = 0
                return True
            _ADDED_SINCE_TRIM[key] = since + added
            return False

    def materialize(self, key: str, build: Callable[[], bytes], *, expected_size: int | None,
                    max_cache_bytes: int) -> Path:
        # A cache of things rebuilt from the bucket's own objects stays local: uploading it would cost more than
        # rebuilding it.
        dest = self._local(key)
        if dest.exists() and (expected_size is None or dest.stat().st_size == expected_size):
            os.utime(dest)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp_path()
        tmp.write_bytes(build())
        os.replace(tmp, dest)
        self._trim(dest.parent.parent, max_cache_bytes, keep=dest, grace_s=0.0)
        return dest

    @staticmethod
    def _trim(folder: Path, max_bytes: int, keep: Path, grace_s: float = _CACHE_GRACE_S) -> None:
        trim_lru((p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".etag")), max_bytes, keep,
                 grace_s=grace_s, on_remove=lambda p: p.with_name(p.name + ".etag").unlink(missing_ok=True))


def lance_storage_options(endpoint_url: str | None = None, region: str | None = None) -> dict[str, str]:
    """LanceDB's ``storage_options`` for the bucket our client reaches with the same settings and AWS variables, so a
    catalog in the bucket needs no configuration of its own."""
    env = os.environ
    endpoint = endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or ""
    opts: dict[str, str] = {}
    if endpoint:
        opts["aws_endpoint"] = endpoint
    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        opts["aws_region"] = region
    for var, opt in (("AWS_ACCESS_KEY_ID", "aws_access_key_id"), ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
                     ("AWS_SESSION_TOKEN", "aws_session_token")):
        if env.get(var):
            opts[opt] = env[var]
    if endpoint.startswith("http://"):
        if env.get("AWS_ALLOW_HTTP", "").lower() != "true":
            raise StorageError(f"the object store endpoint {endpoint} is plain http: set AWS_ALLOW_HTTP=true to "
                               f"allow it (a local test server), or use its https address")
        opts["allow_http"] = "true"
    return opts
