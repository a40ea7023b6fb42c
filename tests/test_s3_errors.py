"""When object storage fails, the person gets one line that says what to do, nothing half-written is kept, and the
next run resumes: an unreachable endpoint, a wrong key, a missing bucket, a full quota."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from factory import jpeg
from s3server import FAULTS, FaultProxy, free_port
from workbench import Library
from workbench.storage.errors import StorageAccessDenied, StorageBucketMissing, StorageUnreachable

REPO = Path(__file__).resolve().parent.parent


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


#: The start of the one line each failure prints (docs/storage.md, "Writes, failures and two writers").
LINES = {"unreachable": "cannot reach the object store", "denied": "the object store refused the credentials",
         "missing-bucket": "does not exist", "full": "quota or disk is full"}


def whole_originals(s3_env) -> list[str]:
    """The originals in the bucket, each checked to hold exactly the content its key names (nothing half-written)."""
    import hashlib
    keys = s3_env.keys("lib/originals/")
    for k in keys:
        body = s3_env.client.get_object(Bucket=s3_env.bucket, Key=k)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == Path(k).stem, f"{k} does not hold the content it names"
    return keys


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_a_store_failing_mid_import_is_one_line_keeps_nothing_half_written_and_the_next_run_resumes(s3_env, photos,
                                                                                                     fault):
    """The store goes away, revokes the key, loses the bucket or fills up after the first photo went up: the
    command stops with its one line (no file is blamed for it), and the next run imports the rest."""
    lib = Library.create(s3_env.url)
    with FaultProxy(s3_env.endpoint) as proxy:
        proxy.fault, proxy.fault_after = fault, 1             # the first original goes up, then the store fails:
        proxy.everything = fault != "full"                    # for every request, except a full store's reads
        env = {**os.environ, **s3_env.env(), "AWS_ENDPOINT_URL": proxy.endpoint, "WORKBENCH_LIBRARY": s3_env.url,
               "COLUMNS": "500"}
        res = subprocess.run([sys.executable, "-m", "workbench", "import", str(photos)], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert res.returncode != 0, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert LINES[fault] in lines[0], lines[0]
    assert len(whole_originals(s3_env)) == 1                 # the failure landed mid-batch; nothing half-written
    lib = Library.open(s3_env.url)
    assert lib.catalog.count("errors") == 0                   # the store's failure is not recorded against a file
    for blob in lib.media()["blob"]:                          # a media row only for an original that is there
        assert f"lib/originals/{blob}" in s3_env.keys("lib/originals/")

    rep = lib.import_files([photos], progress=False)          # the store is back: the next run resumes
    assert rep.failed == 0 and len(lib.media()) == 3 and lib.catalog.count("errors") == 0
    assert len(whole_originals(s3_env)) == 3
    assert set(lib.verify(progress=False)["status"]) == {"ok"}


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_a_catalog_in_the_bucket_failing_is_the_same_one_line_and_the_next_run_resumes(s3_env, photos, monkeypatch,
                                                                                       fault):
    """LanceDB writes the catalog in the bucket with its own client: its failures (a page of Rust error text) are
    said in the same one line as the storage's, and the import is resumed by the next run."""
    from workbench.storage.errors import StorageError
    with FaultProxy(s3_env.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lib = Library.create(s3_env.url)
        proxy.fault, proxy.fault_path = fault, "/catalog/"     # the first commit of the import fails
        with pytest.raises(StorageError) as e:
            lib.import_files([photos], progress=False)
        assert LINES[fault] in str(e.value) and "\n" not in str(e.value) and "catalog" in str(e.value)
        proxy.fault = None
        again = Library.open(s3_env.url)
        rep = again.import_files([photos], progress=False)
        assert rep.failed == 0 and len(again.media()) == 3
    assert len(whole_originals(s3_env)) == 3
