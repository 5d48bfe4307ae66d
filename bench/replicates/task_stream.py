"""What each Dask worker did during a run, task by task (issue 24): the replicate throughput
workload (``replicate_throughput.WORKLOAD``) on a cluster of one and of two workers started as the
README says (``replicate_throughput.DaskCluster``), a first run and a next run on each, recorded
with Dask's own task stream (``distributed.get_task_stream``: each task's compute start and stop
on its worker). Per worker it prints the tasks' compute time in all and their median, the wait
between one task's end and the next one's start, and when its first task began and its last
ended (seconds from the command's start); per run, the two-worker compute over the one-worker
compute of the same round: how much longer the same fits took with two workers.

    .venv/bin/python bench/replicates/task_stream.py                      # 80 replicates, 1 round
    .venv/bin/python bench/replicates/task_stream.py --rounds 2 --replicates 40

The versions probe is not counted; a task's compute time is the fit and what the task does around
it on the worker (rebuilding its arrays, the result's dict).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.replicates.cluster_threads import one_run  # noqa: E402
from bench.replicates.replicate_throughput import WORKLOAD, DaskCluster  # noqa: E402


def recorded_run(address: str, specs: Path) -> tuple[float, dict[str, list[tuple[float, float]]]]:
    """One CLI run on the cluster: its wall time, and each worker's fit tasks as (start, stop)
    seconds from the run's start, in order."""
    from distributed import Client, get_task_stream

    with Client(address, set_as_default=False) as client, get_task_stream(client) as stream:
        started_wall = time.time()
        wall = one_run(specs, address)
    tasks: dict[str, list[tuple[float, float]]] = {}
    for task in stream.data:
        if "versions" in task["key"]:
            continue
        for part in task["startstops"]:
            if part["action"] == "compute":
                tasks.setdefault(task["worker"], []).append((part["start"] - started_wall, part["stop"] - started_wall))
    return wall, {worker: sorted(spans) for worker, spans in sorted(tasks.items())}


def describe(label: str, wall: float, tasks: dict[str, list[tuple[float, float]]]) -> float:
    """Print one run; returns its workers' compute seconds in all."""
    print(f"{label}: wall {wall:.2f} s")
    total = 0.0
    for worker, spans in tasks.items():
        compute = [stop - start for start, stop in spans]
        waits = [spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1)]
        total += sum(compute)
        print(
            f"  {worker}: {len(spans)} tasks, compute {sum(compute):.2f} s (median {1000 * statistics.median(compute):.0f} ms, "
            f"first {compute[0]:.2f} s); waits {sum(waits):.2f} s (median {1000 * statistics.median(waits):.1f} ms); "
            f"first began {spans[0][0]:.2f} s, last ended {spans[-1][1]:.2f} s"
        )
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    specs = Path(tempfile.mkdtemp(prefix="dmlp_ts_spec_")) / "workload.yaml"
    specs.write_text(WORKLOAD.format(n=args.replicates), encoding="utf-8")
    for round_ in range(1, args.rounds + 1):
        compute: dict[tuple[int, str], float] = {}
        for size in (1, 2) if round_ % 2 else (2, 1):  # alternating, against the machine's drift
            cluster = DaskCluster(size)
            try:
                for run in ("first run", "next run"):
                    label = f"round {round_}, {size} worker{'s' if size > 1 else ''}, {run}"
                    compute[(size, run)] = describe(label, *recorded_run(cluster.address, specs))
            finally:
                cluster.stop()
        for run in ("first run", "next run"):
            print(f"round {round_}, {run}: two workers' compute / one worker's = {compute[(2, run)] / compute[(1, run)]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
