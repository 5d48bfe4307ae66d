"""CPU of every thread of a two-worker Dask cluster started as the README says, during one run of
the replicate throughput workload (``replicate_throughput.WORKLOAD``) after a first run that
readies it (issue 24): how much of the cluster's CPU is not the fits (event loops, nannies,
the scheduler) and could slow the two task threads on two cores.

    .venv/bin/python bench/replicates/cluster_threads.py                 # 80 replicates
    .venv/bin/python bench/replicates/cluster_threads.py --replicates 40

Threads that ended during the run (ranger's, one per forest) are not listed; their CPU is their
process's. Reads ``/proc/<pid>/task/<tid>/stat`` (Linux).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.replicates.replicate_throughput import PY, WORKLOAD, DaskCluster, run_arguments  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(roots: list[int]) -> dict[tuple[int, str, int], float]:
    """CPU-seconds of each live thread under ``roots``: (pid, command, thread id) -> seconds."""
    out = {}
    for root in roots:
        for process in [psutil.Process(root), *psutil.Process(root).children(recursive=True)]:
            command = " ".join(process.cmdline()[1:4])[-48:]
            for tid in os.listdir(f"/proc/{process.pid}/task"):
                try:
                    with open(f"/proc/{process.pid}/task/{tid}/stat", encoding="ascii") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:  # ended meanwhile
                    continue
                out[(process.pid, command, int(tid))] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def one_run(specs: Path, address: str) -> float:
    out = Path(tempfile.mkdtemp(prefix="dmlp_threads_"))
    command = [str(PY), "-m", "harness.cli", *run_arguments(specs, out / "run", out / "cache", ["--scheduler", address])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: a finding, still a whole run
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=80)
    args = parser.parse_args()
    specs = Path(tempfile.mkdtemp(prefix="dmlp_threads_")) / "workload.yaml"
    specs.write_text(WORKLOAD.format(n=args.replicates), encoding="utf-8")
    cluster = DaskCluster(2)
    try:
        one_run(specs, cluster.address)  # readies the workers, as a long-lived cluster's are
        before = thread_cpu(cluster.pids())
        wall = one_run(specs, cluster.address)
        after = thread_cpu(cluster.pids())
    finally:
        cluster.stop()
    print(f"the run took {wall:.1f} s; CPU of each thread of the cluster during it (the busiest first):")
    used = sorted(((seconds - before.get(key, 0.0), key) for key, seconds in after.items()), reverse=True)
    for seconds, (pid, command, tid) in used:
        if seconds >= 0.01:
            print(f"{seconds:7.2f} s  {command:48} pid {pid} thread {tid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
