"""What fitting in a worker process costs at --jobs 1, against fitting in the run's own process.

Each measurement is a fresh process that runs a spec file the way ``dml-parity run --jobs 1
--no-cache`` does (run, then results and report written), once with the fits in a worker process
(what the tool ships) and once in the process itself (``RunOptions(in_process=True)``). Modes
alternate, so load drift on a shared machine falls on both. Prints a markdown table of the wall
times and the ratio worker / in-process (medians).

    .venv/bin/python bench/overhead/isolation_cost.py [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SMALL = """dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: b_rf, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 20}}
  - {id: c_irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}}
"""
SUBSET = "het_west,mech_innov_lasso,rob_lasso_cv"  # the subset bench/overhead/run_bench.py repeats

ONE = """
import sys
from pathlib import Path
from harness.cli import write_run
from harness.running.runner import RunOptions, run
specs, only, out, cache, in_process = sys.argv[1:6]
options = RunOptions(specs=Path(specs), only=only.split(",") if only else None, use_cache=False,
                     cache_dir=Path(cache), in_process=in_process == "1")
write_run(run(options), Path(out))
"""


def measure(specs: Path, only: str, in_process: bool, scratch: Path) -> float:
    """Wall seconds of one run, interpreter start to exit."""
    run_dir = Path(tempfile.mkdtemp(dir=scratch))
    mode = "1" if in_process else "0"
    command = [sys.executable, "-c", ONE, str(specs), only, str(run_dir / "out"), str(run_dir / "cache"), mode]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    from tests.conftest import make_tables

    scratch = Path(tempfile.mkdtemp(prefix="isolation-"))
    data = scratch / "generated.csv"
    make_tables().to_csv(data, index=False)
    small = scratch / "small.yaml"
    small.write_text(SMALL.replace("DATA", str(data)), encoding="utf-8")
    workloads = [("3 cheap specs, generated n=800 (ols, rf 20 trees, irm ols/logit)", small, ""),
                 (f"seed suite subset ({SUBSET})", ROOT / "specs" / "paper.yaml", SUBSET)]
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)\n")
    # On a shared machine the fastest run of each mode is the least disturbed one: both the
    # ratio of medians and the ratio of minima are given.
    print("| workload | in-process median / min (s) | worker median / min (s) | ratio of medians | ratio of minima | runs |")
    print("|---|---|---|---|---|---|")
    for label, specs, only in workloads:
        inside, worker = [], []
        for _ in range(args.reps):
            inside.append(measure(specs, only, True, scratch))
            worker.append(measure(specs, only, False, scratch))
        a, b = statistics.median(inside), statistics.median(worker)
        runs = f"in-process {', '.join(f'{w:.1f}' for w in inside)}; worker {', '.join(f'{w:.1f}' for w in worker)}"
        print(
            f"| {label} | {a:.1f} / {min(inside):.1f} | {b:.1f} / {min(worker):.1f} | **{b / a:.2f}** | "
            f"**{min(worker) / min(inside):.2f}** | {runs} |",
            flush=True,
        )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
