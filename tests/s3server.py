"""A real S3-compatible server for tests: moto's ThreadedMotoServer on 127.0.0.1, one per test session.

``s3_server`` starts it (random free port) and yields its endpoint; ``s3_env`` points the standard AWS variables
at it, keeps the local state of object-store libraries under the test's tmp_path, and gives the test a fresh
bucket. tests/conftest.py imports these fixtures, so any test module can ask for them.
"""
from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

ACCESS_KEY = "workbench-test"
SECRET_KEY = "workbench-test-secret"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[Any, str]:
    """A started ThreadedMotoServer and its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # one log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def s3_client(endpoint: str) -> Any:
    import boto3
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        region_name=REGION)


def env_for(endpoint: str, state_home: Path) -> dict[str, str]:
    """The environment a workbench process needs to reach the test server (for subprocesses)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION, "AWS_ALLOW_HTTP": "true", "WORKBENCH_STATE_HOME": str(state_home)}


@dataclass
class S3Env:
    endpoint: str
    bucket: str
    client: Any
    state_home: Path

    @property
    def url(self) -> str:
        """A library location in the test's bucket."""
        return f"s3://{self.bucket}/lib"

    def env(self) -> dict[str, str]:
        return env_for(self.endpoint, self.state_home)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under ``prefix``."""
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server running for the whole test session."""
    server, endpoint = start_server()
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Env:
    """The AWS variables pointed at the test server, local state under tmp_path, and a new empty bucket."""
    state = tmp_path / "state"
    for k, v in env_for(s3_server, state).items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("WORKBENCH_LIBRARY", raising=False)
    client = s3_client(s3_server)
    bucket = f"wb-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Env(s3_server, bucket, client, state)


# -- a proxy in front of the server: counts what is read, and fails the way real object stores fail -------------
# Bodies real servers send (moto has no quotas, never loses a bucket mid-run and never revokes a key).
FAULT_BODIES = {
    "full": (507, b"<Error><Code>XMinioStorageFull</Code><Message>Storage backend has reached its minimum free drive "
                  b"threshold. Please delete a few objects to proceed.</Message></Error>"),   # MinIO
    "denied": (403, b"<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist "
                    b"in our records.</Message></Error>"),                                      # a revoked key
    "missing-bucket": (404, b"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist"
                            b"</Message></Error>"),                                             # a deleted bucket
}
FAULTS = (*FAULT_BODIES, "unreachable")


class FaultProxy:
    """An HTTP proxy to the test server on 127.0.0.1. ``fault`` (one of FAULTS) makes writes (PUT/POST) whose path
    contains ``fault_path`` fail once ``fault_after`` of them went through: with that store's error answer, or for
    "unreachable" by closing the connection unanswered. With ``everything`` set, once the first write failed every
    request fails the same way, reads and the catalog's too (the store went away, the key was revoked, the bucket
    deleted). ``read_bytes[path_part]`` counts the body bytes of GET answers whose path contains ``path_part``.
    With ``hold_s``, each PUT whose path contains ``hold_path`` is held that long before it goes on (a slow link):
    ``puts_started`` counts them as they arrive and ``most_in_flight`` is the most held at one time."""

    def __init__(self, upstream: str, *, count_paths: tuple[str, ...] = ()):
        import http.client
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlparse

        self.fault: str | None = None
        self.fault_path = "/originals/"
        self.fault_after = 0
        self.everything = False
        self.tripped = False
        self.writes_seen = 0
        self.read_bytes = {p: 0 for p in count_paths}
        self.hold_s = 0.0
        self.hold_path = "/originals/"
        self.puts_started = 0
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        up = urlparse(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _fail(self) -> bool:
                if proxy.fault is None:
                    return False
                if not (proxy.tripped and proxy.everything):
                    if self.command not in ("PUT", "POST") or proxy.fault_path not in self.path:
                        return False
                    with proxy._lock:
                        proxy.writes_seen += 1
                        if proxy.writes_seen <= proxy.fault_after:
                            return False
                        proxy.tripped = True
                if proxy.fault == "unreachable":
                    self.close_connection = True          # no answer at all
                    return True
                status, body = FAULT_BODIES[proxy.fault]
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return True

            def _hold(self) -> None:
                if not (proxy.hold_s and self.command == "PUT" and proxy.hold_path in self.path):
                    return
                with proxy._lock:
                    proxy.puts_started += 1
                    proxy._in_flight += 1
                    proxy.most_in_flight = max(proxy.most_in_flight, proxy._in_flight)
                time.sleep(proxy.hold_s)            # the slow link itself, not a wait for a condition
                with proxy._lock:
                    proxy._in_flight -= 1

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self._fail():
                    return
                self._hold()
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                resp = conn.getresponse()
                data = resp.read()
                if self.command == "GET":
                    with proxy._lock:
                        for p in proxy.read_bytes:
                            if p in self.path:
                                proxy.read_bytes[p] += len(data)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                # A HEAD answer has no body but says the object's length.
                self.send_header("Content-Length", resp.getheader("Content-Length", "0") if self.command == "HEAD"
                                 else str(len(data)))
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

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
