"""Is a fit slower in a Dask worker's task thread than in a plain process (issue 24)?

Two ``dask worker --nthreads 1`` processes (each with its nanny), one with Dask's default
configuration and one started as the README says (worker profiler off, event-loop check every
1 s, the tool's preload), and one plain spawned process each hold the same 500-row forest spec (the replicate
benchmark's); blocks of N R fits and N Python fits alternate between the three, so all meet the same
drift of this machine's speed. All pin the fitting thread to CPU 0 and fit one at a time. Prints
each block's seconds per fit and the medians, and first what each Dask worker (its nanny and worker
processes) used while idle, before any fit (``--idle`` seconds).

    .venv/bin/python bench/overhead/dask_task_fit.py            # 6 rounds of 6 fits each
    .venv/bin/python bench/overhead/dask_task_fit.py --rounds 8 --fits 5 --idle 30
    .venv/bin/python bench/overhead/dask_task_fit.py --specs big.yaml --rounds 3 --fits 1 --idle 5

``--specs``: fit the first spec of that file instead (its data as the file names it), for example
``bench/growth/growth.py``'s million-row spec, where the heap's thresholds matter: Dask's nanny
starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` and the README's preload undoes it
(harness/running/dask_worker_setup.py). Each place also reports the page faults of its fits.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
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


def fit_block(spec_path: str, engine: str, n: int) -> tuple[float, float]:
    """Seconds and page faults per fit over ``n`` fits of ``engine`` (the first call also readies
    both engines)."""
    import time

    os.sched_setaffinity(0, {0})
    if not _FITS:
        from threadpoolctl import threadpool_limits

        from harness.engines.python_engine import fit_python
        from harness.engines.r_engine import fit_r
        from harness.language.spec import load_spec_file
        from harness.running.runner import prepare

        threadpool_limits(limits=1)
        spec_file = load_spec_file(Path(spec_path), None)
        data = spec_file.path.parent / spec_file.dataset.path if spec_file.dataset.path else None
        p = prepare(spec_file, data)[0]
        _FITS["r"] = lambda: fit_r(p.spec, p.design, p.folds)
        _FITS["python"] = lambda: fit_python(p.spec, p.design, p.folds)
        for fit in _FITS.values():
            fit()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(n):
        _FITS[engine]()
    return (time.perf_counter() - start) / n, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / n


def _print_idle(nannies: dict[str, subprocess.Popen], seconds: float) -> None:
    """CPU milliseconds per second each worker's processes (nanny and worker) use while idle."""
    import time

    import psutil

    def cpu(process: subprocess.Popen) -> float:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        return sum(sum(p.cpu_times()[:2]) for p in tree)

    time.sleep(2)  # past the workers' start
    before = {place: cpu(process) for place, process in nannies.items()}
    time.sleep(seconds)
    for place, process in nannies.items():
        print(f"{place:15} idle: {1000 * (cpu(process) - before[place]) / seconds:.1f} ms CPU per second (nanny + worker)")


def _plain(conn) -> None:
    while (request := conn.recv()) is not None:
        conn.send(fit_block(*request))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--fits", type=int, default=6)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measured before the fits")
    parser.add_argument("--specs", type=Path, help="fit this file's first spec instead of the 500-row forest")
    args = parser.parse_args()
    spec = args.specs.resolve() if args.specs else Path(tempfile.mkdtemp(prefix="dmlp_dtf_")) / "spec.yaml"
    if not args.specs:
        spec.write_text(WORKLOAD, encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from harness.engines.r_engine import r_library
    from harness.running.dask_worker_setup import PRELOAD, SETTINGS

    threads = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    os.environ.update(threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMLP_RLIB": str(r_library()), "R_LIBS": str(r_library())}
    dask = str(Path(sys.executable).with_name("dask"))
    local = ["--host", "127.0.0.1", "--no-dashboard"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([dask, "scheduler", "--port", str(port), *local], **quiet)]
    worker = [dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", *local]
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    plain = multiprocessing.get_context("spawn").Process(target=_plain, args=(theirs,))
    plain.start()
    places = ("dask, defaults", "dask, README", "plain process")
    seconds: dict[tuple[str, str], list[tuple[float, float]]] = {(w, e): [] for w in places for e in ("r", "python")}
    try:
        from dask.distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout=60, set_as_default=False) as client:
            address = {}
            readme = (([], {}), (PRELOAD, SETTINGS))  # Dask's defaults; the README's preload and settings
            for place, (preload, settings) in zip(places[:2], readme, strict=True):  # one at a time, to know which is which
                processes.append(subprocess.Popen(worker + preload, **{**quiet, "env": {**env, **settings}}))
                client.wait_for_workers(len(address) + 1, timeout=120)
                address[place] = next(a for a in client.scheduler_info()["workers"] if a not in address.values())
            _print_idle(dict(zip(places[:2], processes[1:], strict=True)), args.idle)
            for _ in range(args.rounds + 1):  # the first round readies each place and is not counted
                for engine in ("r", "python"):
                    for place in places[:2]:
                        task = client.submit(fit_block, str(spec), engine, args.fits, pure=False, workers=[address[place]])
                        seconds[place, engine].append(task.result())
                    ours.send((str(spec), engine, args.fits))
                    seconds["plain process", engine].append(ours.recv())
    finally:
        ours.send(None)
        plain.join()
        for process in reversed(processes):
            process.terminate()
            process.wait()
    for (where, engine), values in seconds.items():
        kept = [wall for wall, _ in values[1:]]
        faults = statistics.median(f for _, f in values[1:])
        print(
            f"{where:15} {engine:6} ms per fit: {[round(1000 * v) for v in kept]}, median {1000 * statistics.median(kept):.0f}; "
            f"page faults per fit {faults:.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
