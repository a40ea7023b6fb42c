"""A replica can be an S3 bucket (moto's server started inside the test run): synced, verified and repaired like
a folder."""
from __future__ import annotations

from factory import jpeg
from test_replicas import damage, stored_files
from workbench import Library


def test_a_bucket_is_a_replica_like_a_folder(s3_env, tmp_path):
    lib = Library.create(tmp_path / "lib")
    for i in range(6):
        jpeg(tmp_path / "in" / f"{i}.jpg", 320, 240, seed=i)
    lib.import_files([tmp_path / "in"], progress=False)
    url = f"s3://{s3_env.bucket}/replica"
    lib.replicas.add(url, name="bucket")
    (rep,) = lib.replicas.sync(progress=False)
    assert (rep.copied, rep.failures) == (6, [])
    here = stored_files(lib.root)
    assert sorted(s3_env.keys("replica/originals/")) == sorted(f"replica/{k}" for k in here)
    for key, data in here.items():
        assert s3_env.client.get_object(Bucket=s3_env.bucket, Key=f"replica/{key}")["Body"].read() == data

    blob = lib.media(sort="name").iloc[0]["blob"]
    damage(lib.originals_dir / blob, "flip")
    s3_env.client.delete_object(Bucket=s3_env.bucket, Key=f"replica/originals/{lib.media(sort='name').iloc[1]['blob']}")
    rep = lib.scrub(progress=False)
    assert sorted((e["location"], e["action"], e["source"]) for e in rep.events) == [
        ("bucket", "resent", "primary"), ("primary", "repaired", "bucket")]
    assert stored_files(lib.root) == here
    assert len(s3_env.keys("replica/originals/")) == 6


def test_a_library_in_a_bucket_is_scrubbed_in_the_bucket_and_repaired_from_a_folder_replica(s3_env, tmp_path):
    lib = Library.create(s3_env.url, catalog_location="local")
    for i in range(6):
        jpeg(tmp_path / "in" / f"{i}.jpg", 320, 240, seed=i)
    lib.import_files([tmp_path / "in"], progress=False)
    lib.replicas.add(str(tmp_path / "usb"), name="usb")
    (rep,) = lib.replicas.sync(progress=False)
    assert (rep.copied, rep.failures) == (6, [])

    def bucket_originals() -> dict[str, bytes]:
        return {k: s3_env.client.get_object(Bucket=s3_env.bucket, Key=k)["Body"].read()
                for k in s3_env.keys("lib/originals/")}

    before = bucket_originals()
    assert {k.removeprefix("lib/") for k in before} == set(stored_files(tmp_path / "usb"))
    flipped, cut, gone = sorted(before)[:3]                     # bit rot, a truncation and a deletion in the bucket
    data = bytearray(before[flipped])
    data[len(data) // 2] ^= 0x10
    s3_env.client.put_object(Bucket=s3_env.bucket, Key=flipped, Body=bytes(data))
    s3_env.client.put_object(Bucket=s3_env.bucket, Key=cut, Body=before[cut][:1000])
    s3_env.client.delete_object(Bucket=s3_env.bucket, Key=gone)

    rep = Library.open(s3_env.url).scrub(progress=False)       # reads the bucket, not a local cached copy
    assert sorted((e["object_key"], e["problem"], e["action"], e["source"]) for e in rep.events) == sorted([
        (flipped.removeprefix("lib/"), "changed", "repaired", "usb"),
        (cut.removeprefix("lib/"), "changed", "repaired", "usb"),
        (gone.removeprefix("lib/"), "missing", "repaired", "usb")])
    assert bucket_originals() == before                          # byte-identical in the bucket again
    assert set(Library.open(s3_env.url).verify(progress=False)["status"]) == {"ok"}
    assert Library.open(s3_env.url).scrub(progress=False).events == []
