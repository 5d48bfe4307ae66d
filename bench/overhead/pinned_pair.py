"""Two workers' R fits side by side, unpinned and pinned (issue 24, harness/running/cpu_slots.py).

The replicate benchmark's 500-row forest spec, fitted by R's DoubleML N times in each of: one
process alone, two processes at once unpinned, two at once each pinned to its own CPU (as the
tool's workers are), and one alone pinned. Prints milliseconds per fit (wall and CPU) and the
involuntary context switches per fit of each process. The four settings alternate over the rounds,
so each meets the same drift of the machine's speed.

    .venv/bin/python bench/overhead/pinned_pair.py                 # 3 rounds of 15 fits
    .venv/bin/python bench/overhead/pinned_pair.py --rounds 4 --fits 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common.processes import gather  # noqa: E402
from bench.overhead.dask_task_fit import WORKLOAD  # noqa: E402

SETTINGS = {"alone": [None], "pair, unpinned": [None, None], "pair, pinned": [0, 1], "alone, pinned": [0]}


def _fits(spec_path: str, cpu: Optional[int], n: int, out) -> None:
    import resource
    import time

    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    from harness.engines.r_engine import fit_r
    from harness.language.spec import load_spec_file
    from harness.running.runner import prepare

    p = prepare(load_spec_file(Path(spec_path), None), None)[0]
    fit_r(p.spec, p.design, p.folds)  # R's start and first loads, not counted
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall, cpu_s = time.perf_counter(), time.process_time()
    for _ in range(n):
        fit_r(p.spec, p.design, p.folds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    out.put(((time.perf_counter() - wall) / n, (time.process_time() - cpu_s) / n, (after.ru_nivcsw - before.ru_nivcsw) / n))


def measure(spec_path: str, cpus: list, n: int) -> list[tuple[float, float, float]]:
    return gather("spawn", _fits, [(spec_path, cpu, n) for cpu in cpus])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fits", type=int, default=15)
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two CPUs")
    spec = Path(tempfile.mkdtemp(prefix="dmlp_pp_")) / "spec.yaml"
    spec.write_text(WORKLOAD, encoding="utf-8")
    seen: dict[str, list[tuple[float, float, float]]] = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, cpus in SETTINGS.items():
            seen[name] += measure(str(spec), cpus, args.fits)
    for name, values in seen.items():
        wall, cpu, switches = (statistics.median(v[k] for v in values) for k in range(3))
        print(f"{name:15} ms per fit: wall {1000 * wall:.0f}, CPU {1000 * cpu:.0f}; involuntary switches per fit {switches:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
