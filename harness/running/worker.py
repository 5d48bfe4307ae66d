"""The loop of a worker process (see harness/running/parallel.py): one request at a time, until told to
stop or the run is gone.

Only the standard library is imported at the top: this module is what a new worker process
imports first, and its thread limits must be in place before numpy, BLAS or R load.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["SINGLE_THREAD", "worker_main"]

SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def worker_main(conn, engines: tuple[str, ...], scratch: str) -> None:
    """Answer ``("versions", None)`` and ``("fit", prepared)`` requests; ``None`` ends the loop.

    ``scratch`` is the run's folder for the workers' temporary files, which the run removes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it ends us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a worker forked from the CLI inherits its handler
    # Blocked while the run started us (harness.running.parallel): a SIGTERM sent meanwhile ends us here, quietly.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    _die_with_parent()
    from harness.running.cpu_slots import claim_cpu

    claim_cpu()  # before R and the learners start their threads, which inherit the CPU
    for key, value in SINGLE_THREAD.items():
        os.environ.setdefault(key, value)
    os.environ["TMPDIR"] = scratch  # read once, by R as it starts: its session folder goes there
    from threadpoolctl import threadpool_limits

    from harness.errors import HarnessError
    from harness.running.fit import run_one, warm_up, worker_versions

    # Start R at once, while the run still reads the data and checks the cache; BLAS loaded
    # before this process started (a preloaded numpy) is limited here.
    problem = None
    try:
        warm_up(engines)
    except HarnessError as err:  # R unusable: said in reply to the first request
        problem = err
    threadpool_limits(limits=1)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the run is gone
            return
        if request is None:
            return
        if problem is not None:
            conn.send(("fatal", problem))
            return
        kind, payload = request
        try:
            reply = ("versions", worker_versions(engines)) if kind == "versions" else ("result", run_one(payload, engines))
        except HarnessError as err:  # R unusable: the run cannot go on, and says why
            reply = ("fatal", err)
        conn.send(reply)


def _die_with_parent() -> None:
    """On Linux the kernel kills this worker when the process that started it ends (the run, or
    the fork server that ends with the run), even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        parent = os.getppid()
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # it ended between the two lines
            os._exit(0)
