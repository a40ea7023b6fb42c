"""What loading the S3 storage module costs a process: every command on a library in a bucket, and the forkserver
of its workers before the first one starts, import ``workbench.storage.s3``."""
from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class _MetadataStandIn(http.server.BaseHTTPRequestHandler):
    """Stands in for the EC2 instance metadata address: notes each request and answers 404."""

    hits: list[str] = []

    def _answer(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metadata_stand_in() -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MetadataStandIn)
    hits: list[str] = []
    _MetadataStandIn.hits = hits
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", hits
    finally:
        server.shutdown()
        server.server_close()


def _run(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _no_credentials_env(tmp_path: Path, metadata_url: str) -> dict[str, str]:
    """No AWS keys, no profile, no ~/.aws: botocore's search for credentials would end at the metadata address."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata_url, "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "1",
            "AWS_METADATA_SERVICE_TIMEOUT": "2"}


_LOAD = """
import gc, json, sys
import workbench.storage.s3
print(json.dumps({"modules": sorted(m for m in ("boto3", "s3transfer") if m in sys.modules),
                  "frozen": gc.get_freeze_count()}))
"""


def test_loading_the_s3_module_asks_nobody_for_credentials(tmp_path, metadata_stand_in):
    """The module loads botocore's S3 model with a client it throws away; that client is given placeholder keys,
    so loading it never searches for credentials, a search that, with none configured, ends in a request to the
    EC2 metadata address (and a timeout anywhere but on EC2). The real clients look for credentials as usual."""
    url, hits = metadata_stand_in
    env = _no_credentials_env(tmp_path, url)
    _run(_LOAD, env)
    assert hits == []
    # The stand-in is where botocore would have looked: a search for credentials in the same environment asks it.
    _run("import botocore.session, json; print(json.dumps(botocore.session.get_session().get_credentials() is None))",
         env)
    assert hits


def test_the_s3_module_uses_botocore_alone_and_freezes_its_model_out_of_the_garbage_collector(tmp_path,
                                                                                               metadata_stand_in):
    """boto3 and s3transfer are not imported (s3transfer is loaded only to copy a big object), and the S3 model's
    objects are frozen, so the collector's full passes skip them in this process and in the workers forked from it
    (a full pass in an ingest's driver: ~0.1 s without, benchmarks/import_fixed_costs.py)."""
    loaded = _run(_LOAD, _no_credentials_env(tmp_path, metadata_stand_in[0]))
    assert loaded["modules"] == []
    assert loaded["frozen"] > 30_000      # the S3 model alone is ~34,000 objects
