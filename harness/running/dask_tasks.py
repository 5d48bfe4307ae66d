"""What a run's tasks do on a Dask worker (harness.running.dask_cluster sends them).

Each task sets up on its worker what it needs, whatever client, thread or context submitted it:
R's conversion rules are entered in every call (harness.engines.r_engine), and the worker
process's first task (or the README's ``--preload``, harness.running.dask_worker_setup) claims a
CPU, starts R and imports the engines once. A worker where that fails answers "unfit, and why",
and the run sets it aside; a task tells the run through the scheduler when its fit begins, so a
worker's death mid-fit counts against the spec.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any, Optional

from harness.engines.result import ENGINES
from harness.errors import EnvironmentProblem, HarnessError
from harness.running.fit import error_line
from harness.running.parallel import ENGINE
from harness.running.worker import SINGLE_THREAD

__all__ = ["TOPIC", "on_worker", "ready_worker", "version_change"]

# What a fit imports beyond R and this module (harness.running.fit.run_one and the comparison).
ENGINE_MODULES = ("harness.running.dask_data", *ENGINE)
# The scheduler's event topic on which a task says it began fitting: one for every run (each
# message names its task), so a long-lived scheduler keeps one bounded log of them, not one per run.
TOPIC = "dml-parity-begun"

# This worker process's fitness, found by its first task: ("ok", versions) or ("unfit", why).
_FITNESS: dict[tuple[str, ...], tuple[str, Any]] = {}
# One task at a time per worker process: it has one embedded R, which is not thread-safe. A run sends
# a worker one spec at a time, whatever its thread count; this lock serves runs that share workers.
_ONE_AT_A_TIME = threading.Lock()




def _fitness(engines: tuple[str, ...], folder: Optional[str] = None) -> tuple[str, Any]:
    if engines not in _FITNESS:
        # Set before the worker's R starts (R reads them once).
        for key, value in SINGLE_THREAD.items():
            os.environ.setdefault(key, value)
        _r_session_folder_in(folder or _worker_folder())
        # R starts in a Dask thread, not the main one: rpy2 warns (six lines in every worker's log)
        # that Ctrl-C cannot interrupt it, which a worker never gets (its nanny ends it by signal).
        warnings.filterwarnings("ignore", message="R is not initialized by the main thread", category=UserWarning)
        from harness.running.fit import python_versions, worker_versions

        try:
            _FITNESS[engines] = ("ok", {"python": python_versions(), "r": worker_versions(engines)})
            # The modules every fit needs (doubleml, scikit-learn, scipy: about 2.5 CPU-s) are
            # imported with R's start, at the probe, not by the worker's first fit.
            for module in ENGINE_MODULES:
                importlib.import_module(module)
        except Exception as err:  # R or a package unusable here: this worker's problem
            _FITNESS[engines] = ("unfit", _why(err))
        else:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1)  # BLAS loaded before the task (the worker's numpy) too
    return _FITNESS[engines]


def _worker_folder() -> Optional[str]:
    """The Dask folder of the worker this task runs on (None outside a task: the tests)."""
    try:
        from distributed import get_worker

        return get_worker().local_directory
    except (ImportError, ValueError):
        return None


def _r_session_folder_in(folder: Optional[str]) -> None:
    """R's session folder (``Rtmp*``) inside the worker's own Dask folder: a worker killed by a signal
    cannot remove it, and in $TMPDIR it stayed for good; Dask removes a dead worker's folder when the
    next worker starts beside it (its nanny's restart, or the cluster's next start)."""
    if folder is not None:
        os.environ["TMPDIR"] = folder


def ready_worker(engines: tuple[str, ...] = ENGINES, folder: Optional[str] = None) -> tuple[str, Any]:
    """What a worker's first task does before it fits (a CPU, R, the engines), done ahead: the
    ``--preload`` (harness.running.dask_worker_setup) calls it in the worker's task thread, with the
    worker's folder (outside a task, Dask does not say which worker a thread serves)."""
    from harness.running.cpu_slots import claim_cpu

    with _ONE_AT_A_TIME:
        claim_cpu(whole_process=True)
        return _fitness(engines, folder)


def _why(err: BaseException) -> str:
    return str(err) if isinstance(err, HarnessError) else error_line(err)  # the tool's own lines name no class


def version_change(mine: dict, expected: dict) -> str:
    changed = [
        f"{package} {(mine.get(side) or {}).get(package)} (the run's: {version})"
        for side in ENGINES
        for package, version in sorted((expected.get(side) or {}).items())
        if (mine.get(side) or {}).get(package) != version
    ]
    return "other package versions than the run's: " + ", ".join(changed)


def on_worker(kind: str, payload: Any, engines: tuple[str, ...], expected: Optional[dict], arrays: dict) -> tuple:
    """One task on a worker: ``(kind, this worker's address, answer)``, where kind is
    ``versions``, ``result`` or ``unfit`` (the answer then says why)."""
    from distributed import get_worker
    from distributed.utils import sync

    worker = get_worker()

    def begin() -> None:  # tells the run that its spec is being fitted here (progress; a death's count)
        where = f"Dask worker {worker.address} (pid {os.getpid()})"
        message = {"key": str(worker.get_current_task()), "where": where}
        # A round trip, not Worker.log_event: that only queues the event on the worker's stream,
        # where a fit that killed its worker at once took it along (the spec was then sent again
        # as if never begun, as often as it killed one).
        sync(worker.loop, worker.scheduler.log_event, topic=TOPIC, msg=message)

    with _ONE_AT_A_TIME:
        return _task(worker.address, kind, payload, engines, expected, arrays, begin)


def _task(
    address: str, kind: str, payload: Any, engines: tuple[str, ...], expected: Optional[dict], arrays: dict, begin: Callable
) -> tuple:
    from harness.running.cpu_slots import claim_cpu

    if kind == "fit":
        begin()  # from here, this worker's death counts against the spec (R's start included)
    claim_cpu(whole_process=True)  # this task thread, and at the first claim the worker's others, on its CPU
    state, answer = _fitness(engines)
    if state == "unfit":
        return ("unfit", address, answer)
    if kind == "versions":
        return ("versions", address, answer)
    if answer != expected:
        return ("unfit", address, version_change(answer, expected or {}))
    from harness.running.dask_data import rebuild
    from harness.running.fit import run_one

    try:
        return ("result", address, run_one(rebuild(payload, arrays), engines))
    except EnvironmentProblem as err:  # R broke here: every later task would meet it too
        _FITNESS[engines] = ("unfit", _why(err))
        return ("unfit", address, _why(err))
