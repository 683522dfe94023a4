"""Simulator start-up time and peak memory at 20k and 1M accounts (10M matches).

Each scenario runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. Figures
are printed as ratios against baselines measured in the same run, not as absolutes:
  * 1M vs 20k world (how start-up and memory scale with 50x the population),
  * each world vs a trivial baseline that allocates and touches numpy arrays of the same
    total size as the world keeps (how much the generator costs beyond its final data),
  * each world's peak RSS vs the interpreter with the simulator imported.
Targets from the issue (1M accounts / 10M matches: < 2 GB, < 30 s) are checked against
the measured numbers. Run: ``.venv/bin/python bench/bench_simulator.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

SCENARIO = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    from crawl_pipeline.simulator import SimulatorConfig, World
    from crawl_pipeline.simulator.content import match_batch
    kind, accounts, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    started = time.perf_counter()
    out = {}
    if kind == "world":
        world = World.generate(SimulatorConfig(accounts=accounts))
        out["seconds"] = time.perf_counter() - started
        out["nbytes"] = world.nbytes()
        out["matches"] = world.num_matches
        t = time.perf_counter()
        for i in range(200):
            match_batch(world, world.matches_of(i))
        out["player_lookup_ms"] = (time.perf_counter() - t) / 200 * 1000
    elif kind == "alloc":
        block = np.ones(nbytes, dtype=np.uint8)  # touched, so it is resident
        out["seconds"] = time.perf_counter() - started
    out["maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))
    """
)


def run(kind: str, accounts: int = 0, nbytes: int = 0) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", SCENARIO, kind, str(accounts), str(nbytes)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k instead of 1M accounts")
    args = parser.parse_args()
    large = 100_000 if args.quick else 1_000_000
    mib = 1024 * 1024

    idle = run("idle")
    small = run("world", 20_000)
    big = run("world", large)
    small_alloc = run("alloc", nbytes=int(small["nbytes"]))
    big_alloc = run("alloc", nbytes=int(big["nbytes"]))

    print(f"{'scenario':<34}{'start-up s':>12}{'peak RSS MiB':>14}{'kept MiB':>10}")
    print(f"{'interpreter + imports':<34}{'':>12}{idle['maxrss_bytes'] / mib:>14.0f}")
    for name, res in ((f"world 20k / {small['matches']:,.0f} matches", small), (f"world {large // 1000}k / {big['matches']:,.0f} matches", big)):
        print(f"{name:<34}{res['seconds']:>12.2f}{res['maxrss_bytes'] / mib:>14.0f}{res['nbytes'] / mib:>10.0f}")
    for name, res in (("alloc baseline (20k size)", small_alloc), ("alloc baseline (large size)", big_alloc)):
        print(f"{name:<34}{res['seconds']:>12.2f}{res['maxrss_bytes'] / mib:>14.0f}")

    def extra(res: dict[str, float]) -> float:
        return res["maxrss_bytes"] - idle["maxrss_bytes"]

    print()
    print(f"large vs 20k: start-up x{big['seconds'] / small['seconds']:.1f}, "
          f"memory above interpreter x{extra(big) / extra(small):.1f} (population x{large / 20_000:.0f})")  # fmt: skip
    print(f"large world vs equal-size allocation: peak RSS x{big['maxrss_bytes'] / big_alloc['maxrss_bytes']:.2f}, "
          f"memory above interpreter x{extra(big) / extra(big_alloc):.2f}")  # fmt: skip
    print(f"20k world vs equal-size allocation: peak RSS x{small['maxrss_bytes'] / small_alloc['maxrss_bytes']:.2f}")
    print(f"per-account lookup (all matches of one account, content derived): "
          f"20k {small['player_lookup_ms']:.2f} ms, large {big['player_lookup_ms']:.2f} ms")  # fmt: skip
    if not args.quick:
        ok_time, ok_mem = big["seconds"] < 30, big["maxrss_bytes"] < 2 * 1024**3
        print(f"targets for 1M/10M: start-up < 30 s {'met' if ok_time else 'MISSED'}, "
              f"peak < 2 GiB {'met' if ok_mem else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
