"""Specs on a Dask cluster (``--scheduler ADDRESS``): one future per spec.

The run keeps no more specs in flight than the cluster has threads, so a worker that dies takes
only the spec it was running (a queued one would die with it): the scheduler runs that spec again on
another worker, up to the cluster's ``distributed.scheduler.allowed-failures`` (Dask's default 3;
set it to 1 on the scheduler for the retry-once rule of ``--jobs``), then gives up with
``KilledWorker``; that spec is reported as an ``error`` ("worker died: ...") and the others go on.
The cluster is the user's: the tool never changes its configuration. On Ctrl-C every future is
cancelled and the client closed; a task already running on a worker finishes there (Dask cannot
stop a running task) and its result is dropped.
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from collections.abc import Callable
from typing import Optional

from harness.errors import HarnessError
from harness.fit import PreparedSpec, error_line, failed_result
from harness.worker import SINGLE_THREAD

__all__ = ["Cluster"]

def _on_worker(kind: str, payload, engines: tuple[str, ...]):
    # Set before the worker's R starts (R reads them once).
    for key, value in SINGLE_THREAD.items():
        os.environ.setdefault(key, value)
    from harness.fit import python_versions, run_one, worker_versions

    if kind == "versions":
        return {"python": python_versions(), "r": worker_versions(engines)}
    return run_one(payload, engines)


class Cluster:
    """A client of the scheduler at ``address``; a context manager that closes it."""

    shares_memory = False  # its workers may be other machines: they receive the arrays themselves

    def __init__(self, address: str, engines: tuple[str, ...]) -> None:
        from dask.distributed import Client

        self.engines = engines
        self.address = address
        try:
            self.client = Client(address, set_as_default=False, timeout=30)
        except (OSError, TimeoutError) as err:
            raise HarnessError(f"--scheduler {address}: cannot connect ({error_line(err)})") from None
        self._token = uuid.uuid4().hex[:8]

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.client.close()

    def start(self, count: int = 1) -> None:
        return None  # the cluster's workers are already running

    def versions(self) -> dict:
        """Python's and R's versions where the fits run: on the cluster's workers."""
        key = f"dml-parity-versions-{self._token}"
        future = self.client.submit(_on_worker, "versions", None, self.engines, key=key, pure=False)
        try:
            return future.result()
        except HarnessError:
            raise
        except Exception as err:  # the cluster cannot run our code at all
            raise HarnessError(f"--scheduler {self.address}: the cluster cannot run the fits ({error_line(err)})") from None
        finally:
            future.release()

    def run(self, prepared: list[PreparedSpec], todo: list[int], started: Callable, finished: Callable) -> None:
        """Fit ``todo``; ``finished(i, result)`` is called here as each spec returns (the scheduler
        does not say when a task starts, so ``started`` is not called).

        No more specs are in flight than the cluster has threads: a spec waiting in a worker's
        queue would die with that worker, as its running spec does.
        """
        from dask.distributed import as_completed
        from distributed.scheduler import KilledWorker

        pending = deque(todo)
        futures: dict = {}
        running = as_completed(loop=self.client.loop)

        def submit_while_free() -> None:
            threads = sum(self.client.nthreads().values())
            while pending and len(futures) < max(threads, 1):
                i = pending.popleft()
                key = f"dml-parity-{prepared[i].spec.id}-{self._token}"
                future = self.client.submit(_on_worker, "fit", prepared[i], self.engines, key=key, pure=False)
                futures[future] = i
                running.add(future)

        try:
            submit_while_free()
            for future in running:
                i = futures.pop(future)
                error: Optional[BaseException] = future.exception() if future.status == "error" else None
                if error is None:
                    result = future.result()
                elif isinstance(error, KilledWorker):
                    result = failed_result(prepared[i], "worker died: every Dask worker that ran it died (KilledWorker)")
                elif isinstance(error, HarnessError):
                    raise error
                else:
                    result = failed_result(prepared[i], error_line(error))
                future.release()
                finished(i, result)
                submit_while_free()
        finally:
            self.client.cancel(list(futures), force=True)
