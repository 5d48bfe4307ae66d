"""Is a fit slower in a Dask worker's task thread than in a plain process (issue 24)?

One ``dask worker --nthreads 1`` (with its nanny, as the README starts it) and one plain spawned
process each hold the same 500-row forest spec (the replicate benchmark's); blocks of N R fits and
N Python fits alternate between the two, so both meet the same drift of this machine's speed.
Both pin the fitting thread to CPU 0. Prints each block's seconds per fit and the medians.

    .venv/bin/python bench/overhead/dask_task_fit.py            # 6 rounds of 6 fits each
    .venv/bin/python bench/overhead/dask_task_fit.py --rounds 8 --fits 5
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

WORKLOAD = """
dataset:
  generator: {name: make_plr_CCDDHNR2018, n_obs: 500, dim_x: 10, alpha: 0.5}
defaults: {model: plr, y: y, d: d, x: [X1, X2, X3, X4, X5, X6, X7, X8, X9, X10], n_folds: 3, seed: 4}
specs:
  - {id: plr_forest, learner: {name: rf, n_estimators: 50, max_depth: 6}}
"""

_FITS: dict[str, Callable[[], Any]] = {}


def fit_block(spec_path: str, engine: str, n: int) -> float:
    """Seconds per fit over ``n`` fits of ``engine`` (the first call also readies both engines)."""
    import time

    os.sched_setaffinity(0, {0})
    if not _FITS:
        from threadpoolctl import threadpool_limits

        from harness.engines.python_engine import fit_python
        from harness.engines.r_engine import fit_r
        from harness.language.spec import load_spec_file
        from harness.running.runner import prepare

        threadpool_limits(limits=1)
        p = prepare(load_spec_file(Path(spec_path), None), None)[0]
        _FITS["r"] = lambda: fit_r(p.spec, p.design, p.folds)
        _FITS["python"] = lambda: fit_python(p.spec, p.design, p.folds)
        for fit in _FITS.values():
            fit()
    start = time.perf_counter()
    for _ in range(n):
        _FITS[engine]()
    return (time.perf_counter() - start) / n


def _plain(conn) -> None:
    while (request := conn.recv()) is not None:
        conn.send(fit_block(*request))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--fits", type=int, default=6)
    args = parser.parse_args()
    spec = Path(tempfile.mkdtemp(prefix="dmlp_dtf_")) / "spec.yaml"
    spec.write_text(WORKLOAD, encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from harness.engines.r_engine import r_library

    threads = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    os.environ.update(threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMLP_RLIB": str(r_library()), "R_LIBS": str(r_library())}
    dask = str(Path(sys.executable).with_name("dask"))
    local = ["--host", "127.0.0.1", "--no-dashboard"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([dask, "scheduler", "--port", str(port), *local], **quiet)]
    processes.append(subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", *local], **quiet))
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    plain = multiprocessing.get_context("spawn").Process(target=_plain, args=(theirs,))
    plain.start()
    seconds: dict[tuple[str, str], list[float]] = {(w, e): [] for w in ("dask task", "plain process") for e in ("r", "python")}
    try:
        from dask.distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout=60, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=120)
            for _ in range(args.rounds + 1):  # the first round readies both and is not counted
                for engine in ("r", "python"):
                    task = client.submit(fit_block, str(spec), engine, args.fits, pure=False)
                    seconds["dask task", engine].append(task.result())
                    ours.send((str(spec), engine, args.fits))
                    seconds["plain process", engine].append(ours.recv())
    finally:
        ours.send(None)
        plain.join()
        for process in reversed(processes):
            process.terminate()
            process.wait()
    for (where, engine), values in seconds.items():
        kept = values[1:]
        print(f"{where:14} {engine:6} ms per fit: {[round(1000 * v) for v in kept]}, median {1000 * statistics.median(kept):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
