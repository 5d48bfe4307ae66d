"""Specs in worker processes (joblib's loky backend) or on a Dask cluster (joblib's dask backend).

Each worker starts its own embedded R once (``r_session`` is cached per process) and keeps its
learners single-threaded, so ``--jobs N`` uses N cores without oversubscription and gives the same
numbers as a sequential run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext

__all__ = ["run_parallel"]

_SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _run_in_worker(prepared, engines):
    # Set before the worker's R starts; joblib already limits the Python libraries' threads.
    for key, value in _SINGLE_THREAD.items():
        os.environ.setdefault(key, value)
    from joblib import parallel_config

    from harness.runner import run_one

    # joblib's dask backend stays active inside a task it runs: doubleml's own Parallel calls (one
    # per fold) would go back to the cluster as nested tasks (measured: Python's fits 10x slower).
    with parallel_config(backend="sequential"):
        return run_one(prepared, engines)


def run_parallel(prepared, todo: list[int], engines: tuple[str, ...], options, finished: Callable) -> None:
    """Run ``todo`` specs concurrently; ``finished`` is called in the parent as each one returns."""
    from joblib import Parallel, delayed, parallel_config

    if options.scheduler:
        from dask.distributed import Client

        client = Client(options.scheduler)
        context = parallel_config(backend="dask", wait_for_workers_timeout=60)
        n_jobs = -1
    else:
        client = None
        context = nullcontext()
        n_jobs = options.jobs
    try:
        with context:
            runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            tasks = (delayed(_indexed)(i, prepared[i], engines) for i in todo)
            for i, result in runner(tasks):
                finished(i, result)
    finally:
        if client is not None:
            client.close()


def _indexed(i, prepared, engines):
    return i, _run_in_worker(prepared, engines)
