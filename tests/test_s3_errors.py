"""When object storage fails, the person gets one line that says what to do, nothing half-written is kept, and the
next run resumes: an unreachable endpoint, a wrong key, a missing bucket, a full quota."""
from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from factory import jpeg
from s3server import free_port
from workbench import Library
from workbench.storage.errors import StorageAccessDenied, StorageBucketMissing, StorageFull, StorageUnreachable

REPO = Path(__file__).resolve().parent.parent

# What MinIO answers when its drives are full (HTTP 507); moto has no quotas, so a proxy in front of it answers
# uploads like that while ``full`` is set, and forwards everything else.
MINIO_FULL = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>XMinioStorageFull</Code><Message>Storage '
              b'backend has reached its minimum free drive threshold. Please delete a few objects to proceed.'
              b'</Message></Error>')


class FullDiskProxy:
    def __init__(self, upstream: str):
        self.full = False
        up = urlparse(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.full and self.command in ("PUT", "POST") and "/originals/" in self.path:
                    self.send_response(507)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(MINIO_FULL)))
                    self.end_headers()
                    self.wfile.write(MINIO_FULL)
                    return
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def moto_auth(endpoint: str, actions_without_auth: bytes) -> None:
    """moto's switch for checking credentials after this many requests ("0": from now on, "inf": never)."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=actions_without_auth,
                                                  headers={"Content-Type": "text/plain"}))


@pytest.fixture
def photos(tmp_path) -> Path:
    src = tmp_path / "photos"
    for i in range(3):
        jpeg(src / f"p{i}.jpg", seed=10 + i)
    return src


@pytest.mark.slow
def test_an_unreachable_endpoint_is_one_line_from_the_cli(s3_env, tmp_path):
    Library.create(s3_env.url)
    env = {**os.environ, **s3_env.env(), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
           "WORKBENCH_LIBRARY": s3_env.url, "COLUMNS": "500"}
    res = subprocess.run([sys.executable, "-m", "workbench", "ls"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "cannot reach the object store" in lines[0] and "AWS_ENDPOINT_URL" in lines[0]


def test_unreachable_missing_bucket_and_wrong_key_each_say_what_to_do(s3_env, monkeypatch):
    Library.create(s3_env.url)
    with pytest.raises(StorageBucketMissing, match="does not exist .* create it"):
        Library.open(f"s3://no-such-bucket-{s3_env.bucket}/lib")
    with pytest.raises(StorageBucketMissing):
        Library.create(f"s3://no-such-bucket-{s3_env.bucket}/lib")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageUnreachable, match="cannot reach"):
        Library.open(s3_env.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint)
    # moto checks signatures only once told to (its reset-auth switch); then an unknown key is refused as AWS does.
    moto_auth(s3_env.endpoint, b"0")
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
        with pytest.raises(StorageAccessDenied, match="refused the credentials.*AWS_ACCESS_KEY_ID"):
            Library.open(s3_env.url)
    finally:
        moto_auth(s3_env.endpoint, b"inf")


def test_a_plain_http_endpoint_needs_aws_allow_http(s3_env, monkeypatch):
    """LanceDB refuses a plain-http endpoint unless told; we say how in one line instead of its traceback."""
    from workbench.storage.errors import StorageError
    Library.create(s3_env.url)
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    with pytest.raises(StorageError, match="plain http: set AWS_ALLOW_HTTP=true"):
        Library.open(s3_env.url)


@pytest.mark.slow
def test_a_full_quota_stops_the_import_with_one_line_and_the_next_run_resumes(s3_env, photos, monkeypatch):
    proxy = FullDiskProxy(s3_env.endpoint)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lib = Library.create(s3_env.url)
        proxy.full = True
        with pytest.raises(StorageFull, match="quota or disk is full .*run the command again"):
            lib.import_files([photos], progress=False)
        assert s3_env.keys("lib/originals/") == []            # nothing half-written
        assert lib.catalog.count("media") == 0 and lib.catalog.count("errors") == 0   # no file blamed
        proxy.full = False                                     # space freed
        rep = Library.open(s3_env.url).import_files([photos], progress=False)
        assert rep.added == 3 and len(s3_env.keys("lib/originals/")) == 3
    finally:
        proxy.close()
