"""Replicas of an encrypted library hold its ciphertext as stored (no plaintext, no content hash in a name), and
scrub repairs from them through authentication."""
from __future__ import annotations

import pytest

from factory import jpeg
from test_replicas import damage, stored_files
from workbench import Library
from workbench.storage.encrypted import init_encryption
from workbench.storage.keyring import KdfParams, forget_unlocked

PASS = "correct horse battery staple"
CHEAP = KdfParams(time_cost=1, memory_cost_kib=8192, parallelism=1)   # argon2id made cheap for the test


@pytest.fixture
def encrypted(tmp_path, monkeypatch) -> Library:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("WORKBENCH_PASSPHRASE", "WORKBENCH_PASSPHRASE_FILE"):
        monkeypatch.delenv(var, raising=False)
    forget_unlocked()
    Library.create(tmp_path / "lib")
    init_encryption(tmp_path / "lib", PASS, CHEAP)
    forget_unlocked()
    lib = Library.open(tmp_path / "lib", passphrase=PASS)
    for i in range(12):
        jpeg(tmp_path / "in" / f"{i:02d}.jpg", 320, 240, seed=i)
    lib.import_files([tmp_path / "in"], progress=False)
    yield lib
    forget_unlocked()


def test_an_encrypted_librarys_replica_holds_only_its_ciphertext_and_repairs_it(encrypted, tmp_path):
    lib = encrypted
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    reports = lib.process(["thumbnails"], progress=False)
    assert [(r.stage, r.done) for r in reports if r.stage.startswith("replica")] == [("replica usb", 12)]
    primary = stored_files(lib.root)
    assert stored_files(tmp_path / "usb") == primary                  # the stored objects, byte for byte
    shas = set(lib.media()["sha256"])
    for key, data in primary.items():
        assert not any(s in key for s in shas)                         # no content hash in any name
    plain = (tmp_path / "in" / "03.jpg").read_bytes()[2000:2064]
    assert not any(plain in data for data in stored_files(tmp_path / "usb").values())   # no plaintext

    objects = sorted(primary)
    damage(lib.root / objects[0], "flip")                              # refused by authentication when read
    damage(lib.root / objects[1], "delete")
    damage(tmp_path / "usb" / objects[2], "truncate")                  # and one replica copy
    rep = lib.scrub(progress=False)
    assert sorted((e["location"], e["action"]) for e in rep.events) == [
        ("primary", "repaired"), ("primary", "repaired"), ("usb", "resent")]
    assert stored_files(lib.root) == primary == stored_files(tmp_path / "usb")
    assert set(lib.verify(progress=False)["status"]) == {"ok"}


def test_an_encrypted_librarys_bucket_replica_holds_only_ciphertext_and_repairs_both_ways(encrypted, s3_env,
                                                                                          tmp_path):
    lib = encrypted
    lib.replicas.add(f"s3://{s3_env.bucket}/replica", name="bucket")
    (rep,) = lib.replicas.sync(progress=False)
    assert (rep.copied, rep.failures) == (12, [])
    primary = stored_files(lib.root)
    in_bucket = {k.removeprefix("replica/"): s3_env.client.get_object(Bucket=s3_env.bucket, Key=k)["Body"].read()
                 for k in s3_env.keys("replica/")}
    assert in_bucket == primary                                        # the sealed objects, as stored
    shas = set(lib.media()["sha256"])
    assert not any(s[:12] in k for k in in_bucket for s in shas)        # no content hash in any object name
    plain = (tmp_path / "in" / "05.jpg").read_bytes()[2000:2064]
    assert not any(plain in data for data in in_bucket.values())        # no plaintext

    objects = sorted(primary)
    damage(lib.root / objects[0], "truncate")                          # the library's copy fails authentication
    s3_env.client.delete_object(Bucket=s3_env.bucket, Key=f"replica/{objects[1]}")   # a copy gone from the bucket
    rep = lib.scrub(progress=False)
    assert sorted((e["location"], e["action"], e["source"]) for e in rep.events) == [
        ("bucket", "resent", "primary"), ("primary", "repaired", "bucket")]
    assert stored_files(lib.root) == primary
    assert {k.removeprefix("replica/"): s3_env.client.get_object(Bucket=s3_env.bucket, Key=k)["Body"].read()
            for k in s3_env.keys("replica/")} == primary
    assert set(lib.verify(progress=False)["status"]) == {"ok"}


def test_an_encrypted_librarys_damaged_thumbnail_fails_authentication_and_is_rebuilt(encrypted):
    from workbench.catalog.filters import Eq
    from workbench.storage import derived_key
    lib = encrypted
    lib.process(["thumbnails"], progress=False)
    assert lib.scrub(progress=False).events == []                     # the first scrub learns the renditions
    mid = lib.media(sort="name")["id"][0]
    good = lib.thumbnail(mid)
    (row,) = lib.catalog.read("thumbnails", ["thumb"], Eq("media_id", mid)).to_pylist()
    sealed = lib.root / lib.storage.name_of(derived_key(row["thumb"]))
    assert sealed.is_file() and good not in sealed.read_bytes()        # stored sealed, under a keyed name
    damage(sealed, "flip")

    rep = lib.scrub(progress=False)
    assert [(e["media_id"], e["object"], e["problem"], e["action"]) for e in rep.events] == [
        (mid, "thumb", "unreadable", "rebuilt")]
    assert lib.thumbnail(mid) == good
    assert lib.scrub(progress=False).events == []
