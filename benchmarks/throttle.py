"""What a judged password guess costs the throttle, beside argon2, and why the failures table is compacted.

Every failed guess is a small LanceDB commit (one fragment). Under a spraying attack they pile up, and each lock
check reads them all. Two libraries get the same failures (``--failures``, spread over names and addresses as a
sprayer would): one with ``throttle.COMPACT_EVERY_VERSIONS`` as shipped, one with compaction off (the baseline).
Then, in alternating rounds, the lock check (``lock_state``) and a whole judged failure (``judge`` with a
password check that says no at once, so argon2 is left out) are timed in each. argon2 alone is timed too, for
scale.

    python benchmarks/throttle.py --failures 600 --rounds 5
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--failures", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=20)
    args = ap.parse_args()

    from workbench import Library
    from workbench.access import passwords, throttle

    tmp = Path(tempfile.mkdtemp(prefix="throttle_bench_"))
    libs = {"compacted": Library.create(tmp / "compacted"), "never compacted": Library.create(tmp / "never")}
    every = {"compacted": throttle.COMPACT_EVERY_VERSIONS, "never compacted": 10**12}
    lims = {}
    for name, lib in libs.items():
        lib.settings.login_client_max_failures = lib.settings.login_account_max_failures = 10**9
        lib.settings.login_max_failures = 10**9
        lims[name] = throttle.Limits.from_settings(lib.settings)

    def judge(name: str, i: int) -> None:
        throttle.COMPACT_EVERY_VERSIONS = every[name]
        throttle.judge(libs[name].catalog, libs[name].root, lims[name], throttle.subject("user", f"name{i}"),
                       f"10.0.{i % 200}.{i // 200 % 250}", lambda: False)

    for i in range(args.failures):
        for name in libs:
            judge(name, i)

    probe = throttle.counters(throttle.subject("user", "alice"), "192.0.2.1", next(iter(lims.values())))
    check = {n: [] for n in libs}
    failure = {n: [] for n in libs}
    k = args.failures
    for r in range(args.rounds):
        for name in (list(libs) if r % 2 == 0 else list(reversed(libs))):
            for _ in range(args.per_round):
                t = time.perf_counter()
                throttle.lock_state(libs[name].catalog, probe, lims[name])
                check[name].append(time.perf_counter() - t)
                t = time.perf_counter()
                judge(name, k)
                failure[name].append(time.perf_counter() - t)
            k += 1
    passwords.verify(None, "warm up")
    argon = []
    for _ in range(5):
        t = time.perf_counter()
        passwords.verify(None, "a wrong password")
        argon.append(time.perf_counter() - t)

    print(f"{args.failures} failures recorded first; medians over {args.rounds} alternating rounds x "
          f"{args.per_round}")
    for name, lib in libs.items():
        frags = lib.catalog.table(throttle.TABLE).stats()["fragment_stats"]["num_fragments"]
        print(f"  {name:16s} fragments {frags:5d}   lock check {statistics.median(check[name]) * 1000:6.1f} ms   "
              f"judged failure without argon2 {statistics.median(failure[name]) * 1000:6.1f} ms")
    base, ours = statistics.median(check["never compacted"]), statistics.median(check["compacted"])
    print(f"  lock check: compacted / never compacted = {ours / base:.2f}")
    print(f"  argon2 verify alone (RFC 9106 low memory) {statistics.median(argon) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
