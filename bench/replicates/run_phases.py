"""Where a replicate run's wall time goes (issue 24): the serial start before the first spec is
sent, the fitting, and the end after the last result (report), and how busy the workers were
while fitting. The run is the replicate throughput workload (``replicate_throughput.WORKLOAD``)
through the CLI's own ``main``, in a child process whose runner is wrapped to print a timestamp
as each phase begins and ends; with ``--scheduler`` on a cluster started as the README says
(``replicate_throughput.DaskCluster``), after one run that readies it.

    .venv/bin/python bench/replicates/run_phases.py                        # --jobs 2, 40 replicates
    .venv/bin/python bench/replicates/run_phases.py --where dask2 --rounds 2
    .venv/bin/python bench/replicates/run_phases.py --where 1,2,dask1,dask2 --replicates 80

Where a round has both one and two workers of a kind, a line gives two against one: the runs' walls,
their fitting phases alone, the most two workers could reach given the start and end that they do
not share, and how much longer the fits took in all with two.

*busy* is the workers' fit seconds (Python and R, as ``results.json`` times them) over the number of
workers times the fitting phase: what is not busy is time a worker waited for its next spec, or
lost its core to another process.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.replicates.replicate_throughput import PY, WORKLOAD, DaskCluster, _fit_seconds, run_arguments  # noqa: E402

# Run in the child: the CLI with the executor's run timed (stderr lines "<seconds> <event>").
CHILD = """
import sys, time
T0 = time.perf_counter()
import harness.cli as cli, harness.running.runner as runner
from contextlib import contextmanager
plain = runner._executor
@contextmanager
def timed(*args, **kwargs):
    with plain(*args, **kwargs) as executor:
        run = executor.run
        def wrapped(*a, **k):
            print(f"{time.perf_counter() - T0:.3f} fitting", file=sys.stderr, flush=True)
            try:
                return run(*a, **k)
            finally:
                print(f"{time.perf_counter() - T0:.3f} fitted", file=sys.stderr, flush=True)
        executor.run = wrapped
        yield executor
runner._executor = timed
sys.exit(cli.main(sys.argv[1:]))
"""


def one_run(specs: Path, args: list[str], workers: int) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="dmlp_phases_"))
    command = [str(PY), "-c", CHILD, *run_arguments(specs, out / "run", out / "cache", args)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-2000:])
    marks = {event: float(at) for at, event in re.findall(r"^([\d.]+) (fitting|fitted)$", done.stderr, re.M)}
    fitting = marks["fitted"] - marks["fitting"]
    results = json.loads((out / "run" / "results.json").read_text(encoding="utf-8"))
    fits = _fit_seconds(results["specs"][0]["timings"])
    return {"wall": wall, "start": marks["fitting"], "fitting": fitting, "end": wall - marks["fitted"], "fits": fits,
            "busy": fits / (workers * fitting)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--where", default="2", help="comma-separated: 1, 2 (--jobs) or dask1, dask2 (a README cluster)")
    parser.add_argument("--replicates", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    specs = Path(tempfile.mkdtemp(prefix="dmlp_phases_")) / "workload.yaml"
    specs.write_text(WORKLOAD.format(n=args.replicates), encoding="utf-8")
    print("where    wall (s)  start (s)  fitting (s)  end (s)  fits (s)  busy")
    for _ in range(args.rounds):
        rows = {}
        for where in args.where.split(","):
            workers = int(where[-1])
            if where.startswith("dask"):
                cluster = DaskCluster(workers)
                try:
                    one_run(specs, ["--scheduler", cluster.address], workers)  # readies the cluster
                    row = one_run(specs, ["--scheduler", cluster.address], workers)
                finally:
                    cluster.stop()
            else:
                row = one_run(specs, ["--jobs", where], workers)
            print(f"{where:8} {row['wall']:8.2f} {row['start']:10.2f} {row['fitting']:12.2f} {row['end']:8.2f} "
                  f"{row['fits']:9.2f} {row['busy']:5.3f}", flush=True)
            rows[where] = row
        for one, two in (("1", "2"), ("dask1", "dask2")):
            if one in rows and two in rows:
                print(ceiling(rows[one], rows[two], two), flush=True)
    return 0


def ceiling(one: dict[str, float], two: dict[str, float], label: str) -> str:
    """Two workers against one as measured, and the most two workers could reach with this run's
    start and end (which they do not share): one worker's fitting halved, as if two fitted without
    slowing each other and without each paying its first fits' warm-up
    (bench/replicates/worker_warmup.py)."""
    best = one["wall"] / (two["start"] + two["end"] + one["fitting"] / 2)
    return (f"{label}: {one['wall'] / two['wall']:.2f}x one worker; fitting alone {one['fitting'] / two['fitting']:.2f}x; "
            f"at most {best:.2f}x with this start and end; fits {100 * (two['fits'] / one['fits'] - 1):+.1f} % with two")


if __name__ == "__main__":
    sys.exit(main())
