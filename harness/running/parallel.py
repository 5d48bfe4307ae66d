"""Specs in worker processes that the run owns (``--jobs N``; ``--jobs 1`` is one worker).

Each worker fits one spec at a time, so the run always knows which spec a worker holds. A worker
that dies (SIGKILL from the out-of-memory killer, a segfault in R or in a learner) costs that spec
alone: it is retried once in a fresh worker, then reported as an ``error`` ("worker died: signal
9"), and the other specs go on. Workers ignore Ctrl-C and never outlive the run: however the run
ends (done, an error, Ctrl-C, SIGTERM) every worker is ended before ``run`` returns, and on Linux
a worker is killed by the kernel if the run's process itself is killed.

Each worker starts its own embedded R once and keeps its learners single-threaded, so N workers
use N cores without oversubscription and give the numbers a one-worker run gives; each fits on a
CPU of its own (harness.running.cpu_slots). Designs and folds
reach a worker as references to memory the run holds (harness.design.shared_memory), not as copies.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import shutil
import signal
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from typing import Optional

from harness.design import shared_memory
from harness.errors import EnvironmentProblem
from harness.running.fit import PreparedSpec, failed_result, python_versions, run_one, worker_versions
from harness.running.worker import worker_main
from harness.running.worker_process import worker_process

__all__ = ["ATTEMPTS", "InProcess", "WorkerPool", "after_death", "death_entry", "fork_is_safe", "preload_engine"]

ATTEMPTS = 2  # a spec whose worker died is tried once more, in a new worker
GRACE_S = 3.0  # for a worker told to stop mid-fit (SIGTERM) before it is killed
EXIT_S = 15.0  # for an idle worker with R to exit by itself
# Where workers come from. A process that has not started R and runs no other thread (the CLI)
# forks them from itself: they share its imported modules (numpy, pandas, scikit-learn: about
# 100 MB) page for page instead of importing their own. Any other process (a test session, a
# notebook: threads, perhaps an embedded R a fork would copy) forks them from a server process
# that has imported the tool's modules once. Either way no worker inherits R: each starts its own.
PRELOAD = ["harness.running.worker", "harness.running.fit"]
# doubleml (about 60 MB beyond scikit-learn) is not imported before a worker's first Python fit,
# which comes after its first R fit, so that R's fit (the run's peak at a million rows) does not
# carry it. A caller whose fork server outlives one run (the test suite) may preload it with
# preload_engine(): its workers then start with it imported (2 s less each).
ENGINE = ["harness.verdict.compare_extended", "harness.verdict.learner_free", "harness.engines.python_engine", "doubleml"]
_preload = list(PRELOAD)


def preload_engine() -> None:
    """Fork server workers with doubleml imported. Takes effect only if called before the
    process's first fork server starts (once per process)."""
    _preload[:] = PRELOAD + ENGINE


def _r_started() -> bool:
    if "rpy2.rinterface_lib.embedded" not in sys.modules:
        return False
    from rpy2.rinterface_lib import embedded

    return bool(embedded.isinitialized())


def fork_is_safe() -> bool:
    """Whether workers can be forked from this process: Linux, no other Python thread (a lock it
    holds would stay locked in the child), no embedded R (a child must start its own)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1 and not _r_started()


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and fork_is_safe():
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_preload)
        return context
    return multiprocessing.get_context("spawn")


def death_text(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class _Worker:
    def __init__(self, context, engines: tuple[str, ...], scratch: str) -> None:
        parent_end, child_end = context.Pipe()
        args = (child_end, engines, scratch)
        self.process = worker_process(context, target=worker_main, args=args, name="dml-parity-worker", daemon=True)
        # SIGINT and SIGTERM blocked while the worker is created: the child inherits the mask, so
        # neither a Ctrl-C nor the run ending it in its first milliseconds can reach it before
        # worker_main sets its own handlers (a forked child would otherwise run the CLI's SIGTERM
        # handler and print a traceback); the run receives its own right after.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        # A forked worker gets this process's objects frozen: its garbage collector then never
        # traces them, which would write to (and so copy) every page it shares with this process.
        # This process unfreezes its own at once.
        forked = context.get_start_method() == "fork"
        try:
            if forked:
                gc.freeze()
            self.process.start()
        finally:
            if forked:
                gc.unfreeze()
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        child_end.close()
        self.conn = parent_end
        self.pid: int = self.process.pid
        self.gone = False  # its end of the pipe closed: it died, or is dying

    def send(self, request) -> bool:
        """False when the worker is gone."""
        try:
            self.conn.send(request)
            return True
        except (BrokenPipeError, ConnectionResetError, EOFError):
            return False

    def receive(self):
        """The worker's reply if one is waiting, else None (``gone`` tells whether it died)."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            self.gone = True
        return None

    def death(self) -> str:
        self.process.join(GRACE_S)
        return death_text(self.process.exitcode)

    def end(self, graceful: bool) -> None:
        if graceful and self.process.is_alive():
            self.send(None)
            self.process.join(EXIT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(GRACE_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        self.process.close()

    def stop(self) -> None:
        """Kill the process if it still runs (an ended worker's process is closed: nothing to do)."""
        try:
            alive = self.process.is_alive()
        except ValueError:
            return
        if alive:
            self.process.kill()
            self.process.join()


class WorkerPool:
    """Up to ``size`` worker processes, started on demand; a context manager that ends them all."""

    # Designs and folds reach the workers as references to the run's memory (harness.design.shared_memory).
    shares_memory = shared_memory.available()

    def __init__(self, size: int, engines: tuple[str, ...], note: Callable[[str], None]) -> None:
        self.size = size
        self.engines = engines
        self.note = note
        self.deaths: list[dict] = []  # each worker death: its spec, what happened, what followed
        self._context = _context()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        # The workers' temporary folders (R's session folder among them) live in one folder of the
        # run's, removed when the pool closes: a worker process never runs R's own clean-up (it
        # ends by os._exit), and one killed mid-fit could not.
        self._scratch: Optional[str] = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(graceful=exc_type is None)

    def close(self, graceful: bool = True) -> None:
        workers, self._all, self._idle = self._all, [], []
        # A worker with R is asked to exit, so that R ends its session; one without R holds
        # nothing and is ended at once (it may still be importing its engines).
        graceful = graceful and "r" in self.engines
        if not graceful:  # interrupted: stop every fit now, then collect the processes
            for worker in workers:
                if worker.process.is_alive():
                    worker.process.terminate()
        try:
            for worker in workers:
                worker.end(graceful)
        finally:
            # A signal while a worker ends by itself (the run's last seconds) stops the rest now: the
            # folder of their R sessions goes however the run ends (until 2026-12-07 it stayed).
            for worker in workers:
                worker.stop()
            if self._scratch is not None:  # every worker has ended: nothing writes there any more
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def warm(self) -> None:
        """Nothing: no worker starts before the run's input is checked (harness.running.runner)."""
        return None

    def start(self, count: int = 1) -> None:
        """Start up to ``count`` workers now (they ready their engines while the run goes on)."""
        while len(self._all) < min(count, self.size):
            self._idle.append(self._new())

    def _new(self) -> _Worker:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="dml-parity-workers-")
        worker = _Worker(self._context, self.engines, self._scratch)
        self._all.append(worker)
        return worker

    def _take(self) -> _Worker:
        return self._idle.pop() if self._idle else self._new()

    def _retire(self, worker: _Worker) -> str:
        how = worker.death()
        self._all.remove(worker)
        worker.end(graceful=False)
        return how

    def versions(self) -> dict:
        """Python's versions (the workers run this interpreter) and R's as a worker sees them."""
        return {"python": python_versions(), "r": self._r_versions()}

    def _r_versions(self) -> Optional[dict]:
        if "r" not in self.engines:
            return None  # no worker needs to answer for Python: it runs this interpreter
        worker = self._take()
        reply = self._ask(worker, ("versions", None))
        if reply is None:
            how = self._retire(worker)
            raise EnvironmentProblem(f"a worker process died while starting R ({how})")
        self._idle.append(worker)
        return reply[1]

    def _ask(self, worker: _Worker, request):
        if not worker.send(request):
            return None
        multiprocessing.connection.wait([worker.conn, worker.process.sentinel])
        reply = worker.receive()
        if reply is not None and reply[0] == "fatal":
            raise reply[1]
        return reply

    def run(self, prepared: list[PreparedSpec], todo: list[int], started: Callable, finished: Callable) -> None:
        """Fit ``todo``; ``started(i, where)`` and ``finished(i, result)`` are called in this process.

        A worker that returns a spec gets its next one before this process stores the result and
        says what started: the run's own work never holds a worker idle."""
        self.start(len(todo))
        pending = deque(todo)
        attempts = dict.fromkeys(todo, 0)
        busy: dict[_Worker, int] = {}
        done: list[tuple[int, dict]] = []
        while pending or busy:
            sent = self._dispatch(prepared, pending, busy, attempts)
            for i, result in done:
                finished(i, result)
            for i, pid in sent:  # the first call readies the report's modules (0.7 s)
                started(i, f"worker {pid}")
            multiprocessing.connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            done = self._collect(prepared, pending, busy, attempts)
        for i, result in done:
            finished(i, result)

    def _dispatch(self, prepared: list[PreparedSpec], pending: deque, busy: dict, attempts: dict) -> list[tuple[int, int]]:
        """A pending spec to every free worker; returns (spec, worker pid) of each sent."""
        sent = []
        while pending and len(busy) < self.size:
            i = pending.popleft()
            worker = self._take()
            if not worker.send(("fit", prepared[i])):  # died while idle: not this spec's fault
                self._retire(worker)
                pending.appendleft(i)
                continue
            attempts[i] += 1
            busy[worker] = i
            sent.append((i, worker.pid))
        return sent

    def _collect(self, prepared: list[PreparedSpec], pending: deque, busy: dict, attempts: dict) -> list[tuple[int, dict]]:
        """The results waiting; a spec whose worker died goes back to ``pending`` (or becomes an error)."""
        done = []
        for worker, i in list(busy.items()):
            reply = worker.receive()
            if reply is not None:
                if reply[0] == "fatal":
                    raise reply[1]
                del busy[worker]
                self._idle.append(worker)
                done.append((i, reply[1]))
            elif worker.gone or not worker.process.is_alive():
                del busy[worker]
                how = self._retire(worker)
                failed = after_death(prepared[i], attempts[i], f"worker {worker.pid} died ({how})", how, self.note, self.deaths)
                if failed is None:
                    pending.appendleft(i)
                else:
                    done.append((i, failed))
        return done


def after_death(
    prepared: PreparedSpec,
    tries: int,
    what: str,
    cause: str,
    note: Callable[[str], None],
    deaths: list[dict],
    elsewhere: str = "in another worker",
) -> Optional[dict]:
    """The rule for a spec whose worker died while fitting it (``--jobs`` and Dask alike): None
    while it has tries left (it is sent again), then its error result. ``what`` says what happened
    (the note, and an entry in ``deaths``), ``cause`` the error's reason."""
    retry = tries < ATTEMPTS
    # The terminal's note scrolls away: results.json and the report keep each death (runner).
    deaths.append(death_entry(prepared.spec.id, what, retry))
    if retry:
        note(f"{what} while fitting {prepared.spec.id}; retrying it {elsewhere}")
        return None
    note(f"{what} while fitting {prepared.spec.id} again; reported as an error")
    return failed_result(prepared, f"worker died: {cause}")


def death_entry(spec_id: str, what: str, retried: bool) -> dict:
    """One worker death as results.json's ``provenance.worker_deaths`` holds it."""
    return {"spec": spec_id, "what": what, "then": "retried" if retried else "reported as an error"}


class InProcess:
    """Fits in the calling process, one after another (``RunOptions.in_process``: profiling, pdb)."""

    shares_memory = False  # nothing leaves the process

    def __init__(self, engines: tuple[str, ...]) -> None:
        self.engines = engines

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        return None

    def versions(self) -> dict:
        return {"python": python_versions(), "r": worker_versions(self.engines)}

    def warm(self) -> None:
        return None

    def start(self, count: int = 1) -> None:
        return None

    def run(self, prepared: list[PreparedSpec], todo: list[int], started: Callable, finished: Callable) -> None:
        for i in todo:
            started(i, "")
            finished(i, run_one(prepared[i], self.engines))
