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
