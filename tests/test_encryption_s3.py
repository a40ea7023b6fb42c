"""Encryption at rest on object storage (the moto S3 server of tests/s3server.py): the bucket holds only ciphertext
under names that say nothing, the keyring travels with the bucket, and videos still play by range."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from factory import jpeg, video
from keyring_isolation import isolated_keys  # noqa: F401 (autouse fixture)
from workbench import Library
from workbench.storage.encrypted import EncryptedStorage, TamperedError
from workbench.storage.keyring import LockedError, forget_unlocked

PASS = "correct horse battery staple"




def test_an_encrypted_library_in_a_bucket_stores_no_plaintext_and_opens_on_another_machine(s3_env, tmp_path,
                                                                                           monkeypatch):
    lib = Library.create(s3_env.url, catalog_location="local")
    lib.start_encryption(PASS)
    lib = Library.open(s3_env.url, passphrase=PASS)
    assert isinstance(lib.storage, EncryptedStorage)
    jpeg(tmp_path / "in" / "a.jpg", 1600, 1200, seed=4)
    video(tmp_path / "in" / "v.mp4", seconds=2.0)
    # Import and process as a user would, in a workbench process of their own (its workers get the AWS variables;
    # this test process's worker server may have started before the fixture set them).
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_PASSPHRASE")}
    env.update(s3_env.env(), WORKBENCH_PASSPHRASE=PASS, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    for args in (["import", str(tmp_path / "in")], ["process", "--stage", "thumbnails"]):
        r = subprocess.run([sys.executable, "-m", "workbench", "--library", s3_env.url, *args], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    assert lib.status().set_index("stage").loc["thumbnails", "done"] == 2

    photo = (tmp_path / "in" / "a.jpg").read_bytes()
    clip = (tmp_path / "in" / "v.mp4").read_bytes()
    sha = hashlib.sha256(photo).hexdigest()
    keys = s3_env.keys()
    assert "lib/encryption.json" in keys                       # the keyring travels with the bucket
    blobs = {k: s3_env.client.get_object(Bucket=s3_env.bucket, Key=k)["Body"].read() for k in keys}
    needles = [photo[i:i + 48] for i in range(1000, len(photo) - 48, len(photo) // 6)] + [clip[5000:5048]]
    assert [k for k, b in blobs.items() if any(n in b for n in needles)] == []
    assert [k for k in keys if sha[:12] in k] == []

    df = lib.media()
    v = df[df["path"].str.endswith("v.mp4")].iloc[0]
    key = f"originals/{v['blob']}"
    assert lib.storage.read_range(key, 70_000, 50_000) == clip[70_000:120_000]   # a seek in a playing video

    # Another machine: a fresh local state (no keyring, no caches), the same bucket, the passphrase.
    monkeypatch.setenv("WORKBENCH_STATE_HOME", str(tmp_path / "other-machine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-machine-cache"))
    forget_unlocked()
    with pytest.raises(LockedError, match="wrong passphrase"):
        Library.open(s3_env.url, passphrase="guess")
    other = Library.open(s3_env.url, passphrase=PASS)
    a = df[df["path"].str.endswith("a.jpg")].iloc[0]
    assert other.storage.read_bytes(f"originals/{a['blob']}") == photo

    # A flipped bit in the bucket is refused.
    key_a = f"originals/{a['blob']}"
    name = "lib/" + other.storage.name_of(key_a)
    raw = bytearray(blobs[name])
    raw[len(raw) // 2] ^= 1
    s3_env.client.put_object(Bucket=s3_env.bucket, Key=name, Body=bytes(raw))
    with pytest.raises(TamperedError):
        other.storage.read_bytes(key_a)
    shutil.rmtree(tmp_path / "other-machine-cache", ignore_errors=True)


@pytest.mark.slow
def test_a_plaintext_library_in_a_bucket_is_encrypted_in_place(s3_env, tmp_path):
    lib = Library.create(s3_env.url, catalog_location="local")
    jpeg(tmp_path / "in" / "a.jpg", 1200, 900, seed=6)
    jpeg(tmp_path / "in" / "b.jpg", 800, 600, seed=7)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_PASSPHRASE")}
    env.update(s3_env.env(), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    for args in (["import", str(tmp_path / "in")], ["process", "--stage", "thumbnails"]):
        r = subprocess.run([sys.executable, "-m", "workbench", "--library", s3_env.url, *args], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    before = {r["id"]: lib.thumbnail(r["id"]) for r in lib.media().to_dict("records")}
    assert any(k.startswith("lib/originals/") and k.endswith(".jpg") for k in s3_env.keys())

    recovery, counts = Library.encrypt(s3_env.url, PASS, progress=False)
    assert recovery and counts["encrypted"] >= 4             # two originals, their thumbnails and previews

    photo = (tmp_path / "in" / "a.jpg").read_bytes()
    keys = s3_env.keys()
    assert "lib/encryption.json" in keys and "lib/encryption.converting" not in keys
    assert not [k for k in keys if k.endswith((".jpg", ".webp"))]          # no plaintext name left
    blobs = [s3_env.client.get_object(Bucket=s3_env.bucket, Key=k)["Body"].read() for k in keys]
    assert not [b for b in blobs if photo[2000:2048] in b]
    forget_unlocked()
    again = Library.open(s3_env.url, passphrase=PASS)
    assert isinstance(again.storage, EncryptedStorage)
    for mid, thumb in before.items():
        assert again.thumbnail(mid) == thumb
    a = again.media()
    a = a[a["path"].str.endswith("a.jpg")].iloc[0]
    assert again.storage.read_bytes(f"originals/{a['blob']}") == photo
    with pytest.raises(LockedError, match="already encrypted"):
        Library.encrypt(s3_env.url, PASS, progress=False)


def _windows(data: bytes, stride: int = 1024, size: int = 48) -> list[bytes]:
    """48-byte slices every ``stride`` bytes of ``data``: any of them found anywhere means its plaintext leaked."""
    return [data[i:i + size] for i in range(0, max(1, len(data) - size), stride)]


def test_no_plaintext_is_in_the_bucket_or_the_local_home_and_another_librarys_object_is_refused(s3_env, tmp_path):
    """The most exposed layout (catalog in the bucket too): after import and processing, no slice of a photo, a
    video or their thumbnails and previews is in any object of the bucket or any file of the library's local home;
    the same photo in another encrypted library has another name, and its object copied over ours is refused."""
    from workbench.storage.encrypted import TamperedError
    lib = Library.create(s3_env.url)                                        # catalog_location "bucket"
    lib.start_encryption(PASS)
    lib = Library.open(s3_env.url, passphrase=PASS)
    jpeg(tmp_path / "in" / "a.jpg", 1600, 1200, seed=11)
    video(tmp_path / "in" / "v.mp4", seconds=2.0)
    assert lib.import_files([tmp_path / "in"], progress=False).added == 2
    assert lib.process(["thumbnails"], progress=False)[0].done == 2
    df = lib.media()
    plain = [(tmp_path / "in" / "a.jpg").read_bytes(), (tmp_path / "in" / "v.mp4").read_bytes()]
    plain += [lib.thumbnail(mid, kind) for mid in df["id"] for kind in ("thumb", "preview")]
    needles = [w for p in plain for w in _windows(p)]
    assert len(needles) > 100

    bucket = {k: s3_env.client.get_object(Bucket=s3_env.bucket, Key=k)["Body"].read() for k in s3_env.keys()}
    assert any("/catalog/" in k for k in bucket) and len([k for k in bucket if "/originals/" in k]) == 2
    home = {p: p.read_bytes() for p in lib.root.rglob("*") if p.is_file()}
    leaks = [str(k) for k, blob in [*bucket.items(), *home.items()] if any(n in blob for n in needles)]
    assert leaks == []
    for sha in df["sha256"]:                                                # no object is named after a photo
        assert not [k for k in bucket if sha[:16] in k]

    other = Library.create(f"s3://{s3_env.bucket}/other", catalog_location="local")
    other.start_encryption("another passphrase")
    other.import_files([tmp_path / "in" / "a.jpg"], progress=False)
    key = f"originals/{df[df['path'].str.endswith('a.jpg')].iloc[0]['blob']}"
    ours, theirs = "lib/" + lib.storage.name_of(key), "other/" + other.storage.name_of(key)
    assert ours.split("/", 1)[1] != theirs.split("/", 1)[1]                 # names are keyed per library
    s3_env.client.copy_object(Bucket=s3_env.bucket, Key=ours, CopySource={"Bucket": s3_env.bucket, "Key": theirs})
    with pytest.raises(TamperedError, match="another library key"):
        lib.storage.read_bytes(key)
    assert lib.verify(progress=False).set_index("id")["status"].value_counts().to_dict() == {"tampered": 1, "ok": 1}
