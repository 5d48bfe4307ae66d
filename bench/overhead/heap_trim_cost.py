"""What handing freed heap pages back after every fit costs (harness/engines/heap_trim.py): the
replicate throughput workload's replicates (``replicate_throughput.WORKLOAD``, 500-row forests)
fitted as a ``--jobs`` worker fits them (``run_one``, R then Python), in processes forked from this
one and pinned to a CPU each, one alone and two at once, with ``malloc_trim`` after every fit
(as before) and with the tool's rule (only when glibc holds at least ``TRIM_ABOVE`` free and the resident
size grew by as much since the last trim).

    .venv/bin/python bench/overhead/heap_trim_cost.py                  # 2 rounds, 32 fits per process
    .venv/bin/python bench/overhead/heap_trim_cost.py --rounds 3 --fits 40

Prints medians over the processes and rounds: milliseconds per fit (wall), minor page faults per
fit and system and user CPU per fit, after 8 fits that warm each process up.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common.processes import gather  # noqa: E402
from bench.replicates.worker_warmup import workload_tasks  # noqa: E402

ENGINES = ("python", "r")
WARM = 8
MODES = ("after every fit", "the tool's rule")


def _fits(cpu: int, mode: str, tasks: list, out) -> None:
    os.sched_setaffinity(0, {cpu})
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    from threadpoolctl import threadpool_limits

    import harness.engines.python_engine as python_engine
    import harness.engines.r_engine as r_engine
    from harness.engines import heap_trim
    from harness.running.fit import run_one, warm_up

    if mode == "after every fit":
        for module in (python_engine, r_engine):
            module.release_freed_memory = lambda: heap_trim.release_freed_memory(at_least=0)
    warm_up(ENGINES)
    threadpool_limits(limits=1)
    for task in tasks[:WARM]:
        run_one(task, ENGINES)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for task in tasks[WARM:]:
        run_one(task, ENGINES)
    after, n = resource.getrusage(resource.RUSAGE_SELF), len(tasks) - WARM
    out.put(
        (
            (time.perf_counter() - started) / n,
            (after.ru_minflt - before.ru_minflt) / n,
            (after.ru_stime - before.ru_stime) / n,
            (after.ru_utime - before.ru_utime) / n,
        )
    )


def measure(tasks: list, mode: str, workers: int, per_process: int) -> list[tuple[float, float, float, float]]:
    return gather("fork", _fits, [(cpu, mode, tasks[cpu::workers][:per_process]) for cpu in range(workers)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fits", type=int, default=32, help="measured fits per process (after 8 that warm it up)")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two CPUs")
    per_process = WARM + args.fits
    tasks = workload_tasks(2 * per_process)
    seen: dict[tuple[str, int], list] = {}
    for _ in range(args.rounds):
        for mode in MODES:
            for workers in (1, 2):
                seen.setdefault((mode, workers), []).extend(measure(tasks, mode, workers, per_process))
    for (mode, workers), values in seen.items():
        wall, faults, system, user = (statistics.median(v[k] for v in values) for k in range(4))
        where = "alone" if workers == 1 else "two at once"
        print(
            f"trim {mode:16} {where:12} ms per fit {1000 * wall:.0f}; minor faults per fit {faults:.0f}; "
            f"CPU per fit: system {1000 * system:.0f} ms, user {1000 * user:.0f} ms",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
