"""How much two busy CPUs slow each other on this machine, without the tool (issue 24): the same
CPU-bound work timed on each CPU alone and on both at once, again and again.

The work is the Python half of the replicate throughput workload's fits (scikit-learn forests of 50
trees, depth 6, on 500 rows of 10 covariates), in processes forked from this one and each pinned to
its CPU, as the tool's workers are. A block runs it on CPU 0 alone, on CPU 1 alone, then on both at
once; *c* is the pair's slower time over the slower of the two alone. Where c moves from block to
block by as much as two workers' fits do in ``replicate_throughput.py`` (its "c" column), the
machine, not the tool, decides how close two workers come to twice one.

    .venv/bin/python bench/replicates/host_pairs.py                      # 10 blocks of about 7 s
    .venv/bin/python bench/replicates/host_pairs.py --blocks 30 --fits 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestRegressor

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common.processes import gather  # noqa: E402

_rows = np.random.default_rng(0)
X = _rows.normal(size=(500, 10))
Y = X[:, 0] + _rows.normal(size=500)


def fit_on(cpu: int, fits: int, out) -> None:
    """``fits`` forests on ``cpu``; puts the seconds they took."""
    os.sched_setaffinity(0, {cpu})
    start = time.perf_counter()
    for _ in range(fits):
        RandomForestRegressor(n_estimators=50, max_depth=6, random_state=0).fit(X, Y)
    out.put(time.perf_counter() - start)


def slowest(cpus: list[int], fits: int) -> float:
    """Seconds until the last of one process per CPU in ``cpus``, started together, is done."""
    return max(gather("fork", fit_on, [(cpu, fits) for cpu in cpus]))


def block(fits: int) -> dict[str, float]:
    alone = [slowest([0], fits), slowest([1], fits)]
    pair = slowest([0, 1], fits)
    return {"cpu0": alone[0], "cpu1": alone[1], "pair": pair, "c": pair / max(alone)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--fits", type=int, default=40, help="forests per process in each timing (40: about 2.3 s)")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        print("host_pairs.py needs two CPUs", file=sys.stderr)
        return 2
    slowest([0], 2)  # scikit-learn's first fit in a process pays for its imports' lazy parts
    print(f"{'UTC':8}  alone CPU 0 (s)  alone CPU 1 (s)  both at once (s)      c")
    blocks = []
    for _ in range(args.blocks):
        b = block(args.fits)
        blocks.append(b)
        when = time.strftime("%H:%M:%S", time.gmtime())
        print(f"{when}  {b['cpu0']:15.2f}  {b['cpu1']:15.2f}  {b['pair']:16.2f}  {b['c']:.3f}", flush=True)
    cs = [b["c"] for b in blocks]
    alone = [t for b in blocks for t in (b["cpu0"], b["cpu1"])]
    print(
        f"c: median {statistics.median(cs):.3f}, {min(cs):.3f} to {max(cs):.3f}; "
        f"alone: {min(alone):.2f} to {max(alone):.2f} s for the same work ({100 * (max(alone) / min(alone) - 1):.0f} % apart)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
