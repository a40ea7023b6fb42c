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
