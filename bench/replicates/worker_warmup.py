"""What a fresh worker pays before its fits reach their steady speed (issue 24), and how much two
workers fitting at once slow each other: the replicate throughput workload's replicates
(``replicate_throughput.WORKLOAD``) fitted as a ``--jobs`` worker fits them (``run_one``, R then
Python), in worker processes forked from this one after it read the spec, each pinned to a CPU of
its own. First one worker alone, then two at once, each with its own half of the replicates.

    .venv/bin/python bench/replicates/worker_warmup.py                  # 40 replicates per worker
    .venv/bin/python bench/replicates/worker_warmup.py --replicates 60

It prints what R takes to load the packages a forest fit needs (Matrix, which ranger imports, then
ranger). Per worker it prints R's start (the versions probe a run's worker answers first), its first five
R and Python fits, the mean fit in blocks of ten and the sums. Everything a worker pays before its
fits are steady, and its R start, is time a run spends once per worker: with two workers both pay
it at once, so it does not shrink as workers are added (bench/replicates/run_phases.py shows the
rest of that time: the run's own start and end).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common.processes import gather  # noqa: E402
from bench.replicates.replicate_throughput import WORKLOAD  # noqa: E402

ENGINES = ("python", "r")


def workload_tasks(n: int) -> list:
    """The workload's ``n`` replicates as the run's tasks (designs and folds drawn in this process)."""
    from harness.language.spec import load_spec_file
    from harness.running.runner import RunOptions, _replicate_plan, prepare

    spec = Path(tempfile.mkdtemp(prefix="dmlp_warm_")) / "workload.yaml"
    spec.write_text(WORKLOAD.format(n=n), encoding="utf-8")
    spec_file = load_spec_file(spec, None)
    return _replicate_plan(spec_file, prepare(spec_file, None), RunOptions(specs=spec), None).tasks


def _worker(cpu: int, tasks: list, out) -> None:
    os.sched_setaffinity(0, {cpu})
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    from threadpoolctl import threadpool_limits

    from harness.running.fit import run_one, warm_up

    started = time.perf_counter()
    warm_up(ENGINES)  # R's start, as a run's worker does before the versions probe
    r_start = time.perf_counter() - started
    threadpool_limits(limits=1)
    fits = []
    for task in tasks:
        timings = run_one(task, ENGINES)["timings"]
        fits.append((timings["r_s"], timings["python_s"]))
    out.put((cpu, r_start, fits))


def _namespaces(out) -> None:
    """Seconds R takes to load the forest learners' packages in a started R: what a worker's first
    forest fit pays on top of the fit."""
    from harness.running.fit import warm_up

    warm_up(ENGINES)
    import rpy2.robjects as ro

    out.put({name: float(ro.r(f'system.time(loadNamespace("{name}"))[["elapsed"]]')[0]) for name in ("Matrix", "ranger")})


def namespace_seconds() -> dict[str, float]:
    return gather("fork", _namespaces, [()])[0]


def measure(tasks: list, workers: int, per_worker: int) -> tuple[float, list]:
    started = time.perf_counter()  # forked, as the CLI forks its workers
    results = gather("fork", _worker, [(cpu, tasks[cpu : workers * per_worker : workers]) for cpu in range(workers)])
    return time.perf_counter() - started, sorted(results)


def report(label: str, wall: float, results: list) -> None:
    print(f"{label}: wall {wall:.2f} s")
    for cpu, r_start, fits in results:
        r, py = [f[0] for f in fits], [f[1] for f in fits]
        print(f"  worker on CPU {cpu}: R start {r_start:.2f} s; first R fits {r[:5]}, first Python fits {py[:5]}")
        blocks = [
            f"{a + 1}-{min(a + 10, len(r))}: R {sum(r[a : a + 10]) / len(r[a : a + 10]):.3f}, "
            f"Python {sum(py[a : a + 10]) / len(py[a : a + 10]):.3f}"
            for a in range(0, len(r), 10)
        ]
        print("  mean fit (s) by block: " + "; ".join(blocks))
        print(f"  sums: R {sum(r):.2f} s, Python {sum(py):.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=40, help="fits per worker")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two CPUs")
    tasks = workload_tasks(2 * args.replicates)
    loads = namespace_seconds()
    print("R loading the forest's packages in a started R: " + ", ".join(f"{k} {v:.2f} s" for k, v in loads.items()))
    report("one worker", *measure(tasks, 1, args.replicates))
    report("two workers at once", *measure(tasks, 2, args.replicates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
