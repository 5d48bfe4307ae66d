"""Specs on a Dask cluster (``--scheduler ADDRESS``): one future per spec.

The cluster is the user's and outlives the run: its workers may have served other clients, and
the tool never changes its configuration. Each task sets up on its worker what it needs (R's
conversion rules are entered in every call: harness.engines.r_engine), whatever client, thread or
context submitted it.

A worker that cannot fit is set aside, not the run: each task first checks, once per worker
process, that R starts there and that the worker's package versions are the run's (those of the
first worker that answered the versions probe). A worker that fails the check answers "unfit, and
why"; the run names it (a note, and ``provenance.workers_set_aside``), sends that task and the
later ones to the other workers, and ends only when no worker is left that can fit.

The run keeps no more specs in flight than the cluster has threads, so a worker that dies takes
only the spec it was running (a queued one would die with it): the scheduler runs that spec again on
another worker, up to the cluster's ``distributed.scheduler.allowed-failures`` (Dask's default 3;
set it to 1 on the scheduler for the retry-once rule of ``--jobs``), then gives up with
``KilledWorker``; that spec is reported as an ``error`` ("worker died: ...") and the others go on.
Arrays that several tasks share reach each worker once (harness.running.dask_data). On Ctrl-C every
future is cancelled and the client closed; a task already running on a worker finishes there
(Dask cannot stop a running task) and its result is dropped.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Optional

from harness.engines.result import ENGINES
from harness.errors import EnvironmentProblem, HarnessError
from harness.running.fit import PreparedSpec, error_line, failed_result
from harness.running.parallel import ENGINE
from harness.running.worker import SINGLE_THREAD

__all__ = ["Cluster"]

# What a fit imports beyond R and this module (harness.running.fit.run_one and the comparison).
ENGINE_MODULES = ("harness.running.dask_data", *ENGINE)
UNFIT_REPEATS = 5  # "unfit" answers from workers already set aside, per task, before the run gives up
THREADS_S = 1.0  # how old the workers' thread counts may be when a spec is sent

# This worker process's fitness, found by its first task: ("ok", versions) or ("unfit", why).
_FITNESS: dict[tuple[str, ...], tuple[str, Any]] = {}
# One task at a time per worker process: it has one embedded R, which is not thread-safe (a worker
# started with more threads than one runs the tool's tasks one after another).
_ONE_AT_A_TIME = threading.Lock()


def _fitness(engines: tuple[str, ...]) -> tuple[str, Any]:
    if engines not in _FITNESS:
        # Set before the worker's R starts (R reads them once).
        for key, value in SINGLE_THREAD.items():
            os.environ.setdefault(key, value)
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


def _why(err: BaseException) -> str:
    return str(err) if isinstance(err, HarnessError) else error_line(err)  # the tool's own lines name no class


def _version_change(mine: dict, expected: dict) -> str:
    changed = [
        f"{package} {(mine.get(side) or {}).get(package)} (the run's: {version})"
        for side in ENGINES
        for package, version in sorted((expected.get(side) or {}).items())
        if (mine.get(side) or {}).get(package) != version
    ]
    return "other package versions than the run's: " + ", ".join(changed)


def _on_worker(kind: str, payload: Any, engines: tuple[str, ...], expected: Optional[dict], arrays: dict) -> tuple:
    """One task on a worker: ``(kind, this worker's address, answer)``, where kind is
    ``versions``, ``result`` or ``unfit`` (the answer then says why)."""
    from distributed import get_worker

    with _ONE_AT_A_TIME:
        return _task(get_worker().address, kind, payload, engines, expected, arrays)


def _task(address: str, kind: str, payload: Any, engines: tuple[str, ...], expected: Optional[dict], arrays: dict) -> tuple:
    from harness.running.cpu_slots import claim_cpu

    claim_cpu()  # the task thread on this worker process's CPU, before R or a learner starts a thread
    state, answer = _fitness(engines)
    if state == "unfit":
        return ("unfit", address, answer)
    if kind == "versions":
        return ("versions", address, answer)
    if answer != expected:
        return ("unfit", address, _version_change(answer, expected or {}))
    from harness.running.dask_data import rebuild
    from harness.running.fit import run_one

    try:
        return ("result", address, run_one(rebuild(payload, arrays), engines))
    except EnvironmentProblem as err:  # R broke here: every later task would meet it too
        _FITNESS[engines] = ("unfit", _why(err))
        return ("unfit", address, _why(err))


class Cluster:
    """A client of the scheduler at ``address``; a context manager that closes it."""

    shares_memory = False  # its workers may be other machines: they receive the arrays themselves

    def __init__(self, address: str, engines: tuple[str, ...], note: Callable[[str], None] = lambda text: None) -> None:
        from dask.distributed import Client

        self.engines = engines
        self.address = address
        self.note = note
        try:
            self.client = Client(address, set_as_default=False, timeout=30)
        except (OSError, TimeoutError) as err:
            raise HarnessError(f"--scheduler {address}: cannot connect ({error_line(err)})") from None
        self._token = uuid.uuid4().hex[:8]
        self._count = 0
        self._versions: Optional[dict] = None
        self.set_aside: dict[str, str] = {}  # worker address -> why it cannot fit
        self._warming: list = []  # probes on the other workers, not waited for
        self._probes: list = []  # sent by warm(), answered in versions()
        self._thread_counts: Optional[tuple[float, dict[str, int]]] = None  # (when asked, the answer)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.client.close()

    def warm(self) -> None:
        """The versions probe to every worker now: each starts R and imports the engines (3-5
        CPU-s on a worker that has not served a run yet) while the run reads its input."""
        self._probes = [self._probe(worker) for worker in self._fit_workers()]

    def start(self, count: int = 1) -> None:
        return None  # the cluster's workers are already running

    def _submit(self, kind: str, payload: Any, name: str, arrays: Optional[dict] = None, worker: Optional[str] = None):
        """A task on ``worker`` or, without one, on any worker not set aside (loose restrictions:
        should those be gone, any worker may take it, and a set-aside one answers "unfit" again)."""
        self._count += 1
        where: dict[str, Any] = {}
        if worker is not None:
            where = {"workers": [worker], "allow_other_workers": True}
        elif self.set_aside:
            workers = self._fit_workers()
            if not workers:
                self._no_worker_left()
            where = {"workers": workers, "allow_other_workers": True}
        key = f"dml-parity-{name}-{self._token}-{self._count}"
        return self.client.submit(
            _on_worker, kind, payload, self.engines, self._versions, arrays or {}, key=key, pure=False, **where
        )

    def _set_aside(self, address: str, why: str) -> bool:
        """Record an unfit worker; False if it was set aside already."""
        if address in self.set_aside:
            return False
        self.set_aside[address] = why
        self.note(f"Dask worker {address} cannot fit ({why}); its specs go to the other workers")
        return True

    def _no_worker_left(self) -> None:
        reasons = "; ".join(f"{w}: {why}" for w, why in self.set_aside.items())
        raise EnvironmentProblem(f"--scheduler {self.address}: no worker of the cluster can run the fits ({reasons})")

    def versions(self) -> dict:
        """Python's and R's versions where the fits run: those of the first worker that answers.

        The probe goes to every worker at once: each starts its R now, together, beside the run's
        own preparations (one probed after the first answered began its fits 1-2 s late). The
        answers that come later are checked as the fits go (``_check_warm``): a worker that cannot
        fit, or has other versions, is set aside before it gets a spec."""
        probes, self._probes = self._probes or [self._probe(worker) for worker in self._fit_workers()], []
        for future in self._first_done(probes):
            kind, address, answer = future.result()
            future.release()
            if kind == "versions":
                self._versions = answer
                self._warming = [f for f in probes if f.key != future.key]
                return answer
            self._set_aside(address, answer)
        return self._any_worker_versions()

    def _fit_workers(self) -> list[str]:
        return [w for w in self.client.scheduler_info(n_workers=-1)["workers"] if w not in self.set_aside]

    def _probe(self, worker: str):
        self._count += 1
        key = f"dml-parity-versions-{self._token}-{self._count}"
        return self.client.submit(
            _on_worker, "versions", None, self.engines, None, {}, key=key, pure=False, workers=[worker], allow_other_workers=True
        )

    def _first_done(self, probes: list):
        """The probes as they finish; one that raised ends the run only if none answers."""
        from dask.distributed import as_completed

        failure = None
        for future in as_completed(probes, loop=self.client.loop):
            if future.status == "finished":
                yield future
            elif failure is None:
                failure = future.exception()
        if failure is not None and not self.set_aside:
            raise HarnessError(f"--scheduler {self.address}: the cluster cannot run the fits ({error_line(failure)})") from None

    def _any_worker_versions(self) -> dict:
        """No worker known at the start could fit (or none was known): ask any, until one can."""
        repeats = 0
        while True:
            future = self._submit("versions", None, "versions")
            try:
                kind, address, answer = future.result()
            except HarnessError:
                raise
            except Exception as err:  # the cluster cannot run our code at all
                raise HarnessError(f"--scheduler {self.address}: the cluster cannot run the fits ({error_line(err)})") from None
            finally:
                future.release()
            if kind == "versions":
                self._versions = answer
                return answer
            if not self._set_aside(address, answer):
                repeats += 1
                if repeats >= UNFIT_REPEATS:
                    self._no_worker_left()

    def _threads(self) -> dict[str, int]:
        """Each worker's thread count, asked of the scheduler at most every ``THREADS_S``: the
        question is a round trip, and the run asks it whenever a spec returns, while that spec's
        worker waits for its next one (a worker that joins is used within THREADS_S; one that left
        is avoided at once, its specs having returned or failed)."""
        now = time.monotonic()
        if self._thread_counts is None or now - self._thread_counts[0] > THREADS_S:
            self._thread_counts = (now, self.client.nthreads())
        return self._thread_counts[1]

    def _check_warm(self) -> None:
        for future in [f for f in self._warming if f.done()]:
            self._warming.remove(future)
            try:
                kind, address, answer = future.result()
            except Exception:  # its worker died, say: a fit there would meet the same
                continue
            finally:
                future.release()
            if kind == "unfit":
                self._set_aside(address, answer)
            elif answer != self._versions:
                self._set_aside(address, _version_change(answer, self._versions or {}))

    def run(self, prepared: list[PreparedSpec], todo: list[int], started: Callable, finished: Callable) -> None:
        """Fit ``todo``; ``finished(i, result)`` is called here as each spec returns (the scheduler
        does not say when a task starts, so ``started`` is not called).

        No more specs are in flight than the cluster has threads: a spec waiting in a worker's
        queue would die with that worker, as its running spec does.
        """
        from dask.distributed import as_completed
        from distributed.scheduler import KilledWorker

        from harness.running.dask_data import ArrayStore

        store = ArrayStore(lambda value: self.client.scatter([value], broadcast=True, hash=False)[0])
        store.count([prepared[i] for i in todo])
        pending = deque(todo)
        futures: dict = {}  # future -> (spec index, the futures of its shared arrays, the worker it was sent to)
        repeats = dict.fromkeys(todo, 0)
        running = as_completed(loop=self.client.loop)
        free: deque = deque()  # a worker per thread of it that holds no spec of this run

        def submit_while_free() -> None:
            self._check_warm()
            threads = {w: n for w, n in self._threads().items() if w not in self.set_aside}
            if not futures and not free:  # the start: every thread of every worker that can fit
                free.extend(w for w, n in threads.items() for _ in range(n))
            while pending and len(futures) < max(sum(threads.values()), 1):
                while free and free[0] not in threads:  # set aside, or gone, since it was freed
                    free.popleft()
                # Sent to a free worker, not left to the scheduler: that gave the run's first two
                # specs to the worker that finished its versions probe first, and the other waited.
                worker = free.popleft() if free else None
                i = pending.popleft()
                light, refs = store.lighten(prepared[i])
                future = self._submit("fit", light, prepared[i].spec.id, refs, worker)
                futures[future] = (i, refs, worker)
                running.add(future)

        try:
            submit_while_free()
            for future in running:
                i, refs, worker = futures.pop(future)
                if worker is not None:
                    free.append(worker)
                submit_while_free()  # the next spec starts before this one's result is fetched and stored
                answer, error = None, None
                try:
                    answer = future.result()
                except HarnessError:
                    raise
                except Exception as err:  # the task's own failure (or its worker's death)
                    error = err
                future.release()
                again = answer is not None and answer[0] == "unfit" and not self._set_aside(answer[1], answer[2])
                if error is not None and not isinstance(error, KilledWorker) and _lost(refs):
                    store.forget(refs)  # every copy of a shared array died with its workers
                    again = True
                if again:
                    repeats[i] += 1
                    if repeats[i] >= UNFIT_REPEATS:
                        self._no_worker_left()
                if again or (answer is not None and answer[0] == "unfit"):
                    pending.appendleft(i)
                    submit_while_free()
                    continue
                if answer is not None:
                    result = answer[2]
                elif isinstance(error, KilledWorker):
                    result = failed_result(prepared[i], "worker died: every Dask worker that ran it died (KilledWorker)")
                else:
                    result = failed_result(prepared[i], error_line(error))
                finished(i, result)
        finally:
            self.client.cancel([*futures, *self._warming], force=True)


def _lost(refs: dict) -> bool:
    return any(future.status != "finished" for future in refs.values())
