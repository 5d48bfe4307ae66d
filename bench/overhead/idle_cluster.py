"""What a two-worker Dask cluster that waits between runs costs the machine (issue 24: a long-lived
cluster spends most of its life idle, and during a run the same periodic work takes CPU from the fits).

Starts, in turn, clusters of a scheduler and two ``dask worker --nthreads 1`` processes (each
with its nanny) as ``bench/replicates/replicate_throughput.py`` starts them: with Dask's defaults,
with the README's first two settings only (worker profiler off, event-loop check every 1 s: the
README until 2026-12-06) and as the README starts them now (also the host sampling every 2 s and
the memory check every 0.5 s; ``harness.running.dask_worker_setup.SETTINGS``). Each waits
``--settle`` seconds after its workers joined, then its processes' CPU (user + system, from the
kernel) is read over ``--seconds``. The kinds alternate for ``--rounds`` rounds, so all meet the
same drift of the machine.

    .venv/bin/python bench/overhead/idle_cluster.py                        # 3 rounds of 20 s
    .venv/bin/python bench/overhead/idle_cluster.py --rounds 5 --seconds 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.replicates.replicate_throughput import DaskCluster, tree_cpu  # noqa: E402
from harness.running.dask_worker_setup import SETTINGS  # noqa: E402

EARLIER = ("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL")
KINDS = {
    "Dask's defaults": (False, {}),
    "README until 2026-12-06": (True, {key: SETTINGS[key] for key in EARLIER}),
    "README now": (True, dict(SETTINGS)),
}


def _role(pid: int) -> str:
    line = " ".join(psutil.Process(pid).cmdline())
    if "resource_tracker" in line:
        return "tracker"  # multiprocessing's helper: sleeps, not counted
    if " scheduler " in f"{line} ":
        return "scheduler"
    return "worker" if "spawn_main" in line else "nanny"


def idle_cpu(readme: bool, settings: dict[str, str], settle: float, seconds: float) -> dict[str, float]:
    """CPU milliseconds per second of each role (the two nannies and two workers summed)."""
    cluster = DaskCluster(2, readme, settings=settings)
    try:
        time.sleep(settle)
        before = tree_cpu(cluster.pids())
        time.sleep(seconds)
        used: dict[str, float] = {}
        for pid, cpu in tree_cpu(cluster.pids()).items():
            role = _role(pid)
            if role != "tracker" and pid in before:
                used[role] = used.get(role, 0.0) + (cpu - before[pid]) * 1000 / seconds
        return used
    finally:
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="idle seconds measured per cluster")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the workers joined")
    args = parser.parse_args()
    seen: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    for _ in range(args.rounds):
        for kind, (readme, settings) in KINDS.items():
            seen[kind].append(idle_cpu(readme, settings, args.settle, args.seconds))
    print(f"CPU ms per second of an idle cluster (scheduler, 2 nannies, 2 workers), {args.rounds} rounds of {args.seconds:g} s:")
    for kind, rounds in seen.items():
        totals = [sum(r.values()) for r in rounds]
        parts = ", ".join(f"{role} {statistics.median(r[role] for r in rounds):.1f}" for role in ("scheduler", "nanny", "worker"))
        print(f"  {kind:24} total {[round(t, 1) for t in totals]}, median {statistics.median(totals):.1f} ({parts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
