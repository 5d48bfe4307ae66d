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

Each spec is sent to one worker that holds no other spec of the run, and may run only there,
so a worker that dies takes only the spec it was fitting, never one queued behind it. The task
tells the run when it begins fitting (an event the scheduler holds before the fit starts, asked
for again if the worker's death is seen first); a spec whose worker leaves the
cluster after that is sent once more, to another worker, then reported as an ``error`` ("worker
died: ...") as with ``--jobs``, and the others go on. A spec whose worker left before it began is
simply sent elsewhere. The cluster's ``distributed.scheduler.allowed-failures`` does not enter
(the run sends a new task); only a cluster set to 0 ends a spec at its first death (``KilledWorker``).
Arrays that several tasks share reach each worker once (harness.running.dask_data). On Ctrl-C every
future is cancelled and the client closed; a task already running on a worker finishes there
(Dask cannot stop a running task) and its result is dropped.
"""

from __future__ import annotations

import logging
import os
import queue
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Optional

from harness.errors import EnvironmentProblem, HarnessError
from harness.running.dask_address import check_scheduler
from harness.running.dask_tasks import TOPIC, on_worker, version_change
from harness.running.fit import PreparedSpec, error_line, failed_result
from harness.running.parallel import after_death, death_entry

__all__ = ["Cluster"]

UNFIT_REPEATS = 5  # "unfit" answers from workers already set aside, per task, before the run gives up
WORKERS_S = 1.0  # how old the run's list of the cluster's workers may be when a spec is sent
POLL_S = 1.0  # how often a waiting run looks for workers that left the cluster
CLOSE_S = 5.0  # for the client of a lost scheduler to close
# For the scheduler to answer (Dask's default is 30 s, for clusters still starting; the README starts
# the cluster before the run, and a scheduler just started answers within 1-3 s).
CONNECT_S = 10.0
# How long a run waits for the first worker of a cluster that has none (a cluster still starting):
# DMLP_WORKER_WAIT seconds, 60 unless set.
WORKER_WAIT_S = float(os.environ.get("DMLP_WORKER_WAIT") or 60)


class Cluster:
    """A client of the scheduler at ``address``; a context manager that closes it."""

    shares_memory = False  # its workers may be other machines: they receive the arrays themselves

    def __init__(self, address: str, engines: tuple[str, ...], note: Callable[[str], None] = lambda text: None) -> None:
        from dask.distributed import Client

        self.engines = engines
        self.address = address
        self.note = note
        check_scheduler(address, CONNECT_S, note)  # Dask's client can hang on another kind of server
        try:
            self.client = Client(address, set_as_default=False, timeout=CONNECT_S)
        except (OSError, TimeoutError, ValueError) as err:  # ValueError: not an address (no port, another scheme)
            raise HarnessError(f"--scheduler {address}: cannot connect ({error_line(err)})") from None
        self._token = uuid.uuid4().hex[:8]
        self._count = 0
        self._versions: Optional[dict] = None
        self.set_aside: dict[str, str] = {}  # worker address -> why it cannot fit
        self.deaths: list[dict] = []  # workers that left while fitting a spec (parallel.after_death)
        self._warming: list = []  # probes on the other workers, not waited for
        self._probes: list = []  # sent by warm(), answered in versions()
        self._known: Optional[tuple[float, list[str]]] = None  # (when asked, the workers)
        self._lost = False  # the scheduler's connection dropped

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._lost:
            self.client.close()
            return
        # Closing a client that is reconnecting cancels its attempt, which Dask logs as tracebacks
        # that say no more than the run's own line.
        quiet = logging.getLogger("distributed.client")
        level, quiet.level = quiet.level, logging.CRITICAL
        try:
            self.client.close(timeout=CLOSE_S)
        except Exception:  # noqa: BLE001 (the scheduler is gone: nothing to close cleanly)
            pass
        finally:
            quiet.setLevel(level)

    def warm(self) -> None:
        """The versions probe to every worker now: each starts R and imports the engines (3-5
        CPU-s on a worker that has not served a run yet) while the run reads its input."""
        self._probes = [self._probe(worker) for worker in self._fit_workers()]

    def start(self, count: int = 1) -> None:
        return None  # the cluster's workers are already running

    def _submit(self, kind: str, payload: Any, name: str, arrays: Optional[dict] = None, worker: Optional[str] = None):
        """A task on ``worker`` and nowhere else or, without one, on any worker not set aside (loose
        restrictions: should those be gone, any worker may take it, and a set-aside one answers
        "unfit" again)."""
        self._count += 1
        where: dict[str, Any] = {}
        if worker is not None:
            where = {"workers": [worker], "allow_other_workers": False}
        elif self.set_aside:
            workers = self._fit_workers()
            if not workers:
                self._no_worker_left()
            where = {"workers": workers, "allow_other_workers": True}
        key = f"dml-parity-{name}-{self._token}-{self._count}"
        return self.client.submit(
            on_worker, kind, payload, self.engines, self._versions, arrays or {}, key=key, pure=False, **where
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
            on_worker, "versions", None, self.engines, None, {}, key=key, pure=False, workers=[worker], allow_other_workers=True
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
        if not self.set_aside and not self._fit_workers():  # a task would wait for one for ever, silently
            self.note(f"Dask: no worker in the cluster at {self.address}; waiting up to {WORKER_WAIT_S:g} s for one to join")
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError:
                raise EnvironmentProblem(
                    f"--scheduler {self.address}: no worker joined the cluster in {WORKER_WAIT_S:g} s; start its workers "
                    "(README, On a Dask cluster)"
                ) from None
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

    def _workers(self, fresh: bool = False) -> list[str]:
        """The cluster's workers, asked of the scheduler at most every ``WORKERS_S`` unless
        ``fresh``: the question is a round trip, and the run asks it whenever a spec returns, while
        that spec's worker waits for its next one (a worker that joins is used within WORKERS_S; one
        that left is noticed within it)."""
        if self.client.status != "running":  # the scheduler's connection dropped (the client is reconnecting)
            self._lost = True
            raise EnvironmentProblem(f"--scheduler {self.address}: lost the scheduler (its connection closed)")
        now = time.monotonic()
        if fresh or self._known is None or now - self._known[0] > WORKERS_S:
            try:
                self._known = (now, list(self.client.nthreads()))
            except OSError as err:  # the scheduler is gone (Dask's own log says more)
                raise EnvironmentProblem(f"--scheduler {self.address}: lost the scheduler ({error_line(err)})") from None
        return self._known[1]

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
                self._set_aside(address, version_change(answer, self._versions or {}))

    def run(self, prepared: list[PreparedSpec], todo: list[int], started: Callable, finished: Callable) -> None:
        """Fit ``todo``; ``started(i, where)`` and ``finished(i, result)`` are called here.

        Each spec goes to a worker that holds no other spec of the run, and only there: with loose
        restrictions Dask moved specs onto busy workers (work stealing; a dead worker's spec handed
        to a live one), where one queued behind another and died with it. Deaths: module docstring.
        """
        from harness.running.dask_data import ArrayStore

        store = ArrayStore(lambda value: self.client.scatter([value], broadcast=True, hash=False)[0])
        store.count([prepared[i] for i in todo])
        pending = deque(todo)
        sent: dict = {}  # future -> (spec index, the futures of its shared arrays, its worker)
        deaths = dict.fromkeys(todo, 0)  # workers that left while fitting the spec
        begun: set[str] = set()  # the keys of tasks whose worker said they began fitting
        events: queue.SimpleQueue = queue.SimpleQueue()  # (future, None) when done, (key, where) when begun

        def on_begun(event: tuple) -> None:
            message = event[1]
            if self._token in message.get("key", ""):  # other runs on the cluster log here too
                events.put((message["key"], message["where"]))

        def send_while_free() -> None:
            self._check_warm()
            workers = [w for w in self._workers() if w not in self.set_aside]
            if not workers and self.set_aside:
                self._no_worker_left()
            held = {worker for _, _, worker in sent.values()}
            for worker in [w for w in workers if w not in held]:
                if not pending:
                    return
                i = pending.popleft()
                light, refs = store.lighten(prepared[i])
                future = self._submit("fit", light, prepared[i].spec.id, refs, worker)
                future.add_done_callback(lambda done: events.put((done, None)))
                sent[future] = (i, refs, worker)

        def left(future, i: int, worker: str) -> None:
            """The worker of ``future`` (no longer in ``sent``) left before the spec returned."""
            future.cancel(force=True)
            if future.key not in begun and not self._logged_begun(future.key):
                pending.appendleft(i)
                return
            deaths[i] += 1
            what = f"Dask worker {worker} left the cluster"
            failed = after_death(prepared[i], deaths[i], what, what, self.note, self.deaths, "on another worker")
            if failed is None:
                pending.appendleft(i)
            else:
                finished(i, failed)

        self.client.subscribe_topic(TOPIC, on_begun)
        try:
            while pending or sent:
                send_while_free()
                try:
                    item, where = events.get(timeout=POLL_S)
                except queue.Empty:
                    item = None
                if isinstance(item, str):  # a task began fitting
                    begun.add(item)
                    match = [i for future, (i, _, _) in sent.items() if future.key == item]
                    if match:
                        started(match[0], where)
                elif item in sent and item.status in ("finished", "error"):
                    entry = sent.pop(item)
                    send_while_free()  # its worker's next spec goes before this result is fetched and stored
                    self._returned(item, entry, prepared, pending, store, left, finished)
                elif item in sent:
                    self._unreturned(item, sent, pending, store, left, events)
                alive = self._workers()
                for future, (i, _, worker) in list(sent.items()):
                    if worker not in alive and future.status != "error":  # an error is the task's own
                        del sent[future]
                        left(future, i, worker)
        finally:
            self.client.unsubscribe_topic(TOPIC)
            self.client.cancel([*sent, *self._warming], force=True)

    def _logged_begun(self, key: str) -> bool:
        """Whether the scheduler holds the task's "began" event: it may reach the run after the
        run saw the worker gone (two streams), and the death then counts all the same."""
        try:
            return any(message.get("key") == key for _, message in self.client.get_events(TOPIC))
        except OSError as err:
            raise EnvironmentProblem(f"--scheduler {self.address}: lost the scheduler ({error_line(err)})") from None

    def _unreturned(self, future, sent: dict, pending: deque, store, left: Callable, events: queue.SimpleQueue) -> None:
        """A task cancelled or lost after it was done: its worker died, or every copy of a shared
        array it needs did."""
        i, refs, worker = sent[future]
        if _lost(refs):
            store.forget(refs)
        if worker not in self._workers(fresh=True):
            del sent[future]
            left(future, i, worker)
        elif _lost(refs):
            del sent[future]
            pending.appendleft(i)
        else:  # to be computed again where it was: heard of when it is done again
            future.add_done_callback(lambda done: events.put((done, None)))

    def _returned(self, future, entry: tuple, prepared: list, pending: deque, store, left: Callable, finished: Callable) -> None:
        """A task that finished or failed: its result, or its spec back in ``pending`` (an unfit
        worker, lost arrays)."""
        from distributed.scheduler import KilledWorker

        i, refs, worker = entry
        answer, error = None, None
        if future.status == "finished":
            try:
                answer = future.result(timeout=POLL_S)
            except TimeoutError:  # its worker died with the result before it was fetched
                left(future, i, worker)
                return
        else:
            error = future.exception()
        future.release()
        if isinstance(error, HarnessError):
            raise error
        if answer is not None and answer[0] == "unfit":
            self._set_aside(answer[1], answer[2])
            pending.appendleft(i)
            return
        if error is not None and not isinstance(error, KilledWorker) and _lost(refs):
            store.forget(refs)  # every copy of a shared array died with its workers
            pending.appendleft(i)
            return
        if answer is not None:
            result = answer[2]
        elif isinstance(error, KilledWorker):  # the cluster's allowed-failures is 0
            self.deaths.append(death_entry(prepared[i].spec.id, f"Dask worker {worker} died (KilledWorker)", False))
            result = failed_result(prepared[i], "worker died: its Dask worker died (KilledWorker)")
        else:
            result = failed_result(prepared[i], error_line(error))
        finished(i, result)


def _lost(refs: dict) -> bool:
    return any(future.status != "finished" for future in refs.values())
