"""A long-lived Dask cluster as a team runs one: a ``dask scheduler`` and two ``dask worker``
processes (one thread each, R on ``R_LIBS``) started here, serving run after run of the CLI,
one of them with a worker killed mid-fit and restarted by its nanny. Every run's numbers equal a
``--jobs 2`` run's. Everything listens on 127.0.0.1 only and is stopped by PID at the end."""

from __future__ import annotations

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

from harness.engines.r_engine import r_library
from harness.runner import stable_view
from tests.faults import ROOT, Run, alive, nothing_left, read_results

pytestmark = [pytest.mark.r, pytest.mark.slow]

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 7}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: b_slow, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 150}}
  - {id: c_irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}}
  - {id: d_lasso, model: plr, y: y, d: d, x: [x1, x2, x3, skew], learner: lasso}
"""

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    """The process's descendants (a nanny's worker, its forkserver), by a /proc scan."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out + [grand for child in out for grand in _children(child)]


class LongLivedCluster:
    """The processes a user starts by hand (README, "On a Dask cluster")."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DMLP_RLIB": str(r_library()),
            "R_LIBS": str(r_library()),
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[subprocess.Popen] = []
        local = ["--host", "127.0.0.1", "--no-dashboard"]
        self.scheduler = self._start("scheduler", [DASK, "scheduler", "--port", str(self.port), *local])
        worker = [DASK, "worker", self.address, "--nthreads", "1", "--nworkers", "1", *local]
        self.workers = [self._start(f"worker{k}", worker) for k in range(2)]

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115 (kept open by the process)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.folder)
        log.close()
        self.processes.append(process)
        return process

    def client(self):
        from dask.distributed import Client

        return Client(self.address, timeout=60, set_as_default=False)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        """SIGTERM to each process started here and to its descendants, by PID; SIGKILL after 20 s."""
        pids = [pid for p in self.processes for pid in (p.pid, *_children(p.pid))]
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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LongLivedCluster]:
    started = LongLivedCluster(tmp_path_factory.mktemp("cluster"))
    try:
        with started.client() as client:
            client.wait_for_workers(2, timeout=120)
        yield started
    finally:
        started.stop()
    assert not [p.pid for p in started.processes if p.poll() is None]


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


def test_run_after_run_on_one_cluster_with_a_worker_killed(
    cluster: LongLivedCluster, spec_path: Path, jobs_2: dict, tmp_path: Path
) -> None:
    expected = json.dumps(jobs_2["specs"], sort_keys=True)
    assert {s["status"] for s in jobs_2["specs"]} == {"agree"}

    # Runs 1 and 2: each a new client; the second meets workers whose R a former client started.
    for k in (1, 2):
        run = cli(spec_path, tmp_path / f"run{k}", "--scheduler", cluster.address)
        assert run.wait() == 0, f"run {k}: {run.stderr}\n{cluster.logs()}"
        assert numbers(read_results(tmp_path / f"run{k}")) == expected, f"run {k}"
        assert not nothing_left(run.pgid)

    # Run 3: the worker that fits b_slow is killed mid-fit (SIGKILL); the scheduler runs b_slow
    # again on the other worker, and the nanny starts a new worker process.
    killed: list[int] = []
    with cluster.client() as watcher:

        def executing(dask_worker) -> tuple[int, list[str]]:
            return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]

        def kill_b_slow(run: Run) -> None:
            while run.proc.poll() is None and not killed:
                try:
                    workers = watcher.run(executing)
                except Exception:  # a worker is coming or going: look again
                    time.sleep(0.1)
                    continue
                for pid, keys in workers.values():
                    if any("b_slow" in key for key in keys):
                        time.sleep(0.5)  # inside the fit, not at its start
                        os.kill(pid, signal.SIGKILL)
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
        assert numbers(read_results(tmp_path / "run3")) == expected
        assert not nothing_left(run.pgid)
        # The nanny has replaced the killed process.
        watcher.wait_for_workers(2, timeout=120)
        assert killed[0] not in [pid for pid, _ in watcher.run(executing).values()]

    # Run 4: one worker new, one that has served three clients.
    run = cli(spec_path, tmp_path / "run4", "--scheduler", cluster.address)
    assert run.wait() == 0, f"run 4: {run.stderr}\n{cluster.logs()}"
    assert numbers(read_results(tmp_path / "run4")) == expected
