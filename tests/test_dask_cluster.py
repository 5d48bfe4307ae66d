"""A long-lived Dask cluster as a team runs one: a ``dask scheduler`` and two ``dask worker``
processes (one thread each, R on ``R_LIBS``) started here, serving run after run of the CLI,
one of them with a worker killed mid-fit and restarted by its nanny. Every run's numbers equal a
``--jobs 2`` run's. Everything listens on 127.0.0.1 only and is stopped by PID at the end."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed.diagnostics.plugin import SchedulerPlugin

from harness.engines.r_engine import r_library
from harness.running.cpu_slots import NAMESPACE, claimed_cpu
from harness.running.dask_worker_setup import PRELOAD, SETTINGS
from harness.running.runner import stable_view
from tests.faults import ROOT, Run, alive, descendants, nothing_left, read_results
from tests.test_heap_trim import CHURN_ROUNDS

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: b_slow, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 100}}
  - {id: c_irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}}
  - {id: d_lasso, model: plr, y: y, d: d, x: [x1, x2, x3, skew], learner: lasso}
"""

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LongLivedCluster:
    """The processes a user starts by hand (README, "On a Dask cluster")."""

    def __init__(
        self,
        folder: Path,
        broken: dict[str, str] | None = None,
        settings: dict[str, str] | None = None,
        worker_args: tuple[str, ...] = (),
    ) -> None:
        """``broken``: environment settings for the second worker only (one that cannot fit);
        ``settings``: more for every process; ``worker_args``: more ``dask worker`` arguments."""
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DMLP_RLIB": str(r_library()),
            "R_LIBS": str(r_library()),
            "PYTHONUNBUFFERED": "1",
            # Its workers' CPU claims, apart from the suite's other runs (harness/running/cpu_slots.py).
            NAMESPACE: f"dmlp-cluster-{self.port}",
            **SETTINGS,  # the README's commands
            **(settings or {}),
        }
        self.processes: list[subprocess.Popen] = []
        local = ["--host", "127.0.0.1", "--no-dashboard"]
        self.scheduler = self._start("scheduler", [DASK, "scheduler", "--port", str(self.port), *local])
        worker = [DASK, "worker", self.address, "--nthreads", "1", "--nworkers", "1", *local, *PRELOAD, *worker_args]
        self.workers = [self._start("worker0", worker), self._start("worker1", worker, broken or {})]

    def _start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115 (kept open by the process)
        env = {**self.env, **(env or {})}
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.folder)
        log.close()
        self.processes.append(process)
        return process

    def client(self):
        from dask.distributed import Client

        return Client(self.address, timeout=60, set_as_default=False)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        """SIGTERM to each process started here and to its descendants, by PID; SIGKILL after 20 s."""
        pids = [pid for p in self.processes for pid in (p.pid, *descendants(p.pid))]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for process in self.processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _cluster(folder: Path, broken: dict[str, str] | None = None, **more) -> Iterator[LongLivedCluster]:
    folder.mkdir(exist_ok=True)
    started = LongLivedCluster(folder, broken, **more)
    try:
        with started.client() as client:
            client.wait_for_workers(2, timeout=120)
        yield started
    finally:
        started.stop()
    assert not [p.pid for p in started.processes if p.poll() is None]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LongLivedCluster]:
    yield from _cluster(tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory, generated_csv: Path) -> Path:
    path = tmp_path_factory.mktemp("longlived") / "s.yaml"
    path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    return path


def cli(spec_path: Path, out: Path, *extra: str) -> Run:
    cache = out.with_name(out.name + "-cache")
    return Run(["run", "--specs", spec_path, "--out", out, "--no-cache", "--cache-dir", cache, *extra])


@pytest.fixture(scope="module")
def jobs_2(spec_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("jobs2") / "out"
    run = cli(spec_path, out, "--jobs", "2")
    assert run.wait() == 0, run.stderr
    return stable_view(read_results(out))


def numbers(results: dict) -> str:
    return json.dumps(stable_view(results)["specs"], sort_keys=True)


@pytest.mark.r
@pytest.mark.slow
def test_run_after_run_on_one_cluster_with_a_worker_killed(
    cluster: LongLivedCluster, spec_path: Path, jobs_2: dict, tmp_path: Path
) -> None:
    expected = json.dumps(jobs_2["specs"], sort_keys=True)
    assert {s["status"] for s in jobs_2["specs"]} == {"agree"}
    # Started with the README's preload, each worker had its R and engines before it joined.
    with cluster.client() as watcher:
        ready = _readiness(watcher)
    assert sorted(ready.values()) == ["ok", "ok"], ready
    assert all(cluster.log(name).count("dml-parity: ready to fit (R ") == 1 for name in ("worker0", "worker1"))
    # Without rpy2's six-line warning that R started off the main thread (an operator's log had it until 2026-12-07).
    assert not any("R is not initialized by the main thread" in cluster.log(name) for name in ("worker0", "worker1"))
    # The nanny started each worker with MALLOC_TRIM_THRESHOLD_=65536; the preload held glibc's
    # thresholds, so a large fit's 8 MB arrays come from the heap (840-1,350 faults a round without).
    with cluster.client() as watcher:
        assert list(watcher.run(_heap_churn()).values()) == [("65536", True)] * 2

    # Runs 1 and 2: each a new client, on workers whose R neither started (the preload did).
    for k in (1, 2):
        run = cli(spec_path, tmp_path / f"run{k}", "--scheduler", cluster.address)
        assert run.wait() == 0, f"run {k}: {run.stderr}\n{cluster.logs()}"
        assert numbers(read_results(tmp_path / f"run{k}")) == expected, f"run {k}"
        assert not nothing_left(run.pgid)

    # Run 3: the worker that fits b_slow is killed mid-fit (SIGKILL); the run sends b_slow again,
    # to another worker, and the nanny starts a new worker process.
    killed: list[int] = []
    with cluster.client() as watcher:

        def executing(dask_worker) -> tuple[int, list[str]]:
            return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]

        def die_if_fitting_b_slow(dask_worker) -> bool:
            # Runs on the worker's event loop, the only thread that moves a task out of
            # `executing` and sends its result: b_slow still listed here means the scheduler has
            # not had its result, so the kill always lands mid-fit (a kill from outside, 0.5 s
            # after seeing the task, once hit a worker whose fit had just ended: CI, stop 38).
            if any("b_slow" in str(ts.key) for ts in dask_worker.state.executing):
                os.kill(os.getpid(), signal.SIGKILL)
            return False

        def kill_b_slow(run: Run) -> None:
            while run.proc.poll() is None and not killed:
                try:
                    workers = watcher.run(executing)
                except Exception:  # a worker is coming or going: look again
                    time.sleep(0.1)
                    continue
                for address, (pid, keys) in workers.items():
                    if any("b_slow" in key for key in keys):
                        time.sleep(0.3)  # inside the fit, not at its start
                        outcome = watcher.run(die_if_fitting_b_slow, workers=[address], on_error="return")
                        if outcome.get(address) is not False:  # it died answering: it was fitting b_slow
                            killed.append(pid)
                        break
                time.sleep(0.05)

        run = cli(spec_path, tmp_path / "run3", "--scheduler", cluster.address)
        thread = threading.Thread(target=kill_b_slow, args=(run,))
        thread.start()
        code = run.wait()
        thread.join()
        assert killed, "b_slow was seen running and its worker killed"
        assert code == 0, f"run 3: {run.stderr}\n{cluster.logs()}"
        assert "left the cluster while fitting b_slow; retrying it on another worker" in run.stderr
        assert numbers(read_results(tmp_path / "run3")) == expected
        # The death is in results.json and the report, not only on the terminal.
        (death,) = read_results(tmp_path / "run3")["provenance"]["worker_deaths"]
        assert death["spec"] == "b_slow" and death["then"] == "retried" and "left the cluster" in death["what"]
        assert f"{death['what']} while fitting b_slow: retried" in (tmp_path / "run3" / "report.html").read_text()
        assert not nothing_left(run.pgid)
        # The nanny has replaced the killed process.
        watcher.wait_for_workers(2, timeout=120)
        assert killed[0] not in [pid for pid, _ in watcher.run(executing).values()]
        # The replacement readied itself as it started, as the first process did.
        assert sorted(_readiness(watcher).values()) == ["ok", "ok"]
        assert sum(cluster.log(name).count("dml-parity: ready to fit (R ") for name in ("worker0", "worker1")) == 3
        assert list(watcher.run(_heap_churn()).values()) == [("65536", True)] * 2  # the replacement's heap too

    # Run 4: one worker new, one that has served three clients.
    run = cli(spec_path, tmp_path / "run4", "--scheduler", cluster.address)
    assert run.wait() == 0, f"run 4: {run.stderr}\n{cluster.logs()}"
    assert numbers(read_results(tmp_path / "run4")) == expected
    # Each worker fits on a CPU of its own; the killed worker's went back with its death, and
    # its replacement took one.
    with cluster.client() as watcher:
        cpus = list(watcher.run(claimed_cpu).values())
        threads = list(watcher.run(_thread_cpus()).values())
    assert len(cpus) == 2 and None not in cpus and cpus[0] != cpus[1], cpus
    # Every thread of a worker process on its CPU: its event loop too, not only the task thread.
    assert threads == [[[cpu]] for cpu in cpus], threads


def _thread_cpus():
    """A function for ``client.run``: the distinct CPU sets of its worker process's threads."""

    def on_worker() -> list[list[int]]:  # defined here: a test module's own function cannot be imported there
        import os

        sets = {tuple(sorted(os.sched_getaffinity(int(tid)))) for tid in os.listdir("/proc/self/task")}
        return [list(cpus) for cpus in sorted(sets)]

    return on_worker


def _heap_churn():
    """A function for ``client.run``: the worker's MALLOC_TRIM_THRESHOLD_, and whether
    test_heap_trim's churn (two 8 MB arrays made and freed 20 times, after once) faulted in fewer
    than 20 pages a round (mapped afresh each time they fault in hundreds)."""
    rounds = CHURN_ROUNDS

    def on_worker() -> tuple:  # defined here: a test module's own function cannot be imported there
        import os

        namespace: dict = {}
        exec(rounds, namespace)
        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), namespace["churn"]() < 20

    return on_worker


def _readiness(client) -> dict[str, str]:
    """Each worker's "ok"/"unfit" once it has readied itself for the default engines, else "not yet"."""

    def on_worker(dask_worker) -> str:  # defined here: a test module's own function cannot be imported there
        from harness.engines.result import ENGINES
        from harness.running.dask_tasks import _FITNESS

        return _FITNESS.get(ENGINES, ("not yet",))[0]

    return client.run(on_worker)


@pytest.mark.r
@pytest.mark.slow
def test_a_worker_that_cannot_fit_is_set_aside_and_named(spec_path: Path, jobs_2: dict, tmp_path: Path) -> None:
    empty = tmp_path / "no-r-packages"
    empty.mkdir()
    # The second worker's R finds no DoubleML: it answers "unfit", the run goes on without it.
    for started in _cluster(tmp_path / "cluster", broken={"DMLP_RLIB": str(empty), "R_LIBS": str(empty)}):
        with started.client() as client:
            addresses = {pid: address for address, pid in client.run(os.getpid).items()}
        broken_address = next(addresses[pid] for pid in descendants(started.workers[1].pid) if pid in addresses)
        # The preload found it unfit and said so, and the worker joined all the same.
        assert "dml-parity: this worker cannot fit (R package(s) missing: DoubleML" in started.log("worker1")
        run = cli(spec_path, tmp_path / "out", "--scheduler", started.address)
        assert run.wait() == 0, f"{run.stderr}\n{started.logs()}"
        results = read_results(tmp_path / "out")
        assert numbers(results) == json.dumps(jobs_2["specs"], sort_keys=True)
        set_aside = results["provenance"]["workers_set_aside"]
        assert list(set_aside) == [broken_address]
        assert "R package(s) missing: DoubleML" in set_aside[broken_address]
        assert f"Dask worker {broken_address} cannot fit (" in run.stderr
        assert "Workers set aside" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


@pytest.mark.r
def test_no_worker_that_can_fit_is_exit_3_naming_each(spec_path: Path, tmp_path: Path, capsys) -> None:
    from dask.distributed import LocalCluster

    from harness.cli import main

    empty = tmp_path / "no-r-packages"
    empty.mkdir()
    env = {"DMLP_RLIB": str(empty), "R_LIBS": str(empty), "PYTHONPATH": str(ROOT)}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env=env) as local:
        workers = sorted(local.scheduler_info["workers"])
        args = ["run", "--specs", spec_path, "--scheduler", local.scheduler_address, "--out", tmp_path / "out"]
        code = main([str(a) for a in [*args, "--no-cache", "--quiet"]])
    err = capsys.readouterr().err
    assert code == 3, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"dml-parity: error: --scheduler {local.scheduler_address}: no worker of the cluster can run")
    assert all(f"{w}: R package(s) missing: DoubleML" in last for w in workers), last
    assert not (tmp_path / "out").exists()


@pytest.mark.r
def test_r_needs_no_conversion_rules_from_the_context_that_started_it(generated_csv: Path, tmp_path: Path) -> None:
    """As on a Dask worker: R started in one context (a former client's task), then asked for its
    versions and a fit from fresh contexts, each in another thread."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from harness.language.spec import load_spec_file
    from harness.running.fit import run_one, worker_versions
    from harness.running.runner import prepare

    path = tmp_path / "s.yaml"
    path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    prepared = prepare(load_spec_file(path), generated_csv)[0]
    with ThreadPoolExecutor(1) as first:
        started = first.submit(contextvars.Context().run, worker_versions, ("r",)).result()
    with ThreadPoolExecutor(1) as later:
        again = later.submit(contextvars.Context().run, worker_versions, ("r",)).result()
        result = later.submit(contextvars.Context().run, run_one, prepared, ("r",)).result()
    assert again == started and again["DoubleML"]
    assert result["error"] is None and result["r"]["se"] > 0, result


# -- what a task carries ---------------------------------------------------------------------

REPLICATED = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 3}
specs:
  - {id: ols_seeds, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols, replicates: {n: 4, vary: seeds}}
  - {id: lasso, model: plr, y: y, d: d, x: [x1, x2, x3], learner: lasso}
"""


class TaskSizes(SchedulerPlugin):
    """A scheduler plugin: the pickled size of each fit task as the scheduler holds it (what it
    sends the worker that runs it)."""

    name = "dml-parity-task-sizes"

    def __init__(self) -> None:
        super().__init__()
        self.sizes: dict[str, int] = {}

    def update_graph(self, scheduler, *, keys, **kwargs) -> None:
        from distributed.protocol import pickle

        for key in keys:
            if str(key).startswith("dml-parity-") and "versions" not in str(key) and "warm" not in str(key):
                self.sizes[str(key)] = len(pickle.dumps(scheduler.tasks[key].run_spec))


def test_a_shared_table_reaches_the_cluster_once_not_in_every_task(tmp_path: Path) -> None:
    import dask
    import numpy as np
    import pandas as pd
    from dask.distributed import LocalCluster

    from harness.cli import main

    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.normal(size=(20_000, 5)), columns=["y", "d", "x1", "x2", "x3"])
    table.to_csv(tmp_path / "big.csv", index=False)
    specs = tmp_path / "s.yaml"
    specs.write_text(REPLICATED.replace("DATA", str(tmp_path / "big.csv")), encoding="utf-8")
    table_bytes = 20_000 * 5 * 8
    sizes = TaskSizes()
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            cluster.scheduler.add_plugin(sizes)
            args = ["run", "--specs", specs, "--engines", "python", "--scheduler", cluster.scheduler_address]
            code = main([str(a) for a in [*args, "--out", tmp_path / "out", "--no-cache", "--quiet"]])
    assert code == 4  # one engine: nothing compared (harness.verdict.exit_codes)
    results = read_results(tmp_path / "out")
    assert {s["status"] for s in results["specs"]} <= {"python-only", "not-run", "agree"}, results["summary"]
    # Five fits (four replicates and a plain spec) on one table, folds and rows.
    assert len(sizes.sizes) == 5, sizes.sizes
    assert max(sizes.sizes.values()) < table_bytes / 20, sizes.sizes


FOREST = "{id: rfK, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 400}}"
FORESTS = "".join("\n  - " + FOREST.replace("K", str(k)) for k in range(6))


@pytest.mark.slow
def test_a_scheduler_that_dies_mid_run_ends_it_with_one_line(tmp_path: Path, generated_csv: Path) -> None:
    """The scheduler killed while specs fit: the run ends with exit 3, the tool unable to finish
    (exit 2, bad input, until 2026-12-07), and a line naming the scheduler; no report, nothing left
    running. It ends as soon as the connection drops, with no traceback: it waited out the client's
    30 s of reconnecting, then Dask logged the cancelled attempt's CancelledError tracebacks."""
    specs = tmp_path / "forests.yaml"
    specs.write_text(f"dataset: {{path: {generated_csv}}}\ndefaults: {{n_folds: 3, seed: 5}}\nspecs:{FORESTS}\n")
    with contextlib.contextmanager(_cluster)(tmp_path / "cluster") as cluster:

        killed: list[float] = []

        def kill_scheduler(run: Run, line: str) -> None:
            if "] rf" in line and cluster.scheduler.poll() is None:  # a spec returned, others are fitting
                cluster.scheduler.kill()
                killed.append(time.monotonic())

        out = tmp_path / "out"
        args = ["run", "--specs", specs, "--engines", "python", "--scheduler", cluster.address]
        run = Run([*args, "--out", out, "--no-cache"], kill_scheduler)
        assert run.wait() == 3, run.stderr
        took = time.monotonic() - killed[0]
    said = f"dml-parity: error: --scheduler {cluster.address}: lost the scheduler (its connection closed)"
    assert run.lines[-1].rstrip("\n") == said
    assert "Traceback" not in run.stderr and took < 15, (took, run.stderr)
    assert not out.exists() and not nothing_left(run.pgid)


def test_the_readme_starts_a_cluster_as_these_tests_do() -> None:
    """The settings and preload the tests and benches start their clusters with are the README's."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = text.split("### On a Dask cluster", 1)[1].split("```", 2)[1]
    assert all(f"{key}={value}" in commands for key, value in SETTINGS.items()), commands
    assert " ".join(PRELOAD) in commands, commands


@pytest.mark.r  # the preload's R: each worker, the first two and the new one, says it is ready to fit
@pytest.mark.slow
def test_a_worker_past_its_memory_limit_is_still_stopped_by_its_nanny(tmp_path: Path) -> None:
    """The README's settings check a worker's memory every 0.5 s instead of 0.1 s: its nanny still
    stops a worker that passes 95 % of its limit, and starts a new one that the preload readies. A
    task that would hold 3 GB on a worker of 1.2 GB never returns (the cluster allows no retry)."""
    from distributed.scheduler import KilledWorker

    def grow() -> int:  # pickled by value: defined here, not importable on the worker
        import time

        import numpy as np

        held = []
        for _ in range(120):  # 25 MB every 20 ms
            held.append(np.ones(25 * 2**20 // 8))
            time.sleep(0.02)
        return len(held)

    settings = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with contextlib.contextmanager(_cluster)(tmp_path, settings=settings, worker_args=("--memory-limit", "1.2GB")) as cluster:
        with cluster.client() as client:
            with pytest.raises(KilledWorker):
                client.submit(grow, pure=False).result(timeout=120)
            client.wait_for_workers(2, timeout=120)  # the nanny's new worker joined
        logs = cluster.log("worker0") + cluster.log("worker1")
    assert "exceeded 95% memory budget" in logs, logs[-3000:]
    assert logs.count("dml-parity: ready to fit") == 3, logs[-3000:]
