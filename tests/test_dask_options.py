"""Where the fits run, as a user gives it: --scheduler and --jobs refused in one line when they
cannot mean what they say, a cluster without workers said, not waited on for ever, and a killed
Dask worker's R folder not left behind. Until 2026-12-07 (an outside user): `--scheduler ''`
fitted on this machine without a word, `--jobs 2` beside a cluster was ignored, an address without
a port or of another scheme ended in exit 3 (ValueError), a scheduler with no worker hung with no
output, and every SIGKILLed worker left its empty `Rtmp*` folder in $TMPDIR for good."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults import ROOT
from tests.test_dask_cluster import DASK, _cluster, _free_port

SPEC = "dataset: {path: DATA}\nspecs:\n  - {id: a, model: plr, y: y, d: d, x: [x1, x2], learner: ols, n_folds: 3}\n"


def _run(tmp_path: Path, data: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.replace("DATA", str(data)), encoding="utf-8")
    args = ["run", "--specs", str(spec), "--out", str(tmp_path / "out"), "--engines", "python", "--no-cache", *extra]
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--scheduler", ""], "--scheduler: no address given (leave --scheduler out to fit on this machine)"),
        (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"], "--jobs: with --scheduler the cluster's workers fit; leave --jobs"),
        (["--scheduler", "tcp://127.0.0.1"], "--scheduler tcp://127.0.0.1: cannot connect (ValueError: missing port number"),
        (["--scheduler", "http://127.0.0.1:8786"], "--scheduler http://127.0.0.1:8786: cannot connect (ValueError: unknown"),
    ],
    ids=["empty", "jobs beside it", "no port", "another scheme"],
)
def test_where_the_fits_run_is_refused_in_one_line(tmp_path: Path, generated_csv: Path, extra: list[str], said: str) -> None:
    proc = _run(tmp_path, generated_csv, *extra)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"dml-parity: error: {said}") and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "out").exists()


def test_an_address_where_no_scheduler_answers_is_refused_in_one_line(tmp_path: Path, generated_csv: Path) -> None:
    """An HTTP server's port (as the dashboard's 8787 would be), then a port where nothing listens.
    Until 2026-12-07 Dask's client waited for ever on the first (it waits for the server to speak)
    and 30 s on the second; a proxy's answer ended in a MemoryError, exit 3."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until it listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        started = time.monotonic()
        proc = _run(tmp_path, generated_csv, "--scheduler", f"tcp://127.0.0.1:{port}")
        took = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert proc.returncode == 2, proc.stderr
    said = f"dml-parity: error: --scheduler tcp://127.0.0.1:{port}: not a Dask scheduler (it sent nothing in 5 s; "
    assert proc.stderr.startswith(said) and proc.stderr.count("\n") == 1, proc.stderr
    assert took < 30 and not (tmp_path / "out").exists()

    started = time.monotonic()  # the server is gone: nothing listens on its port now
    proc = _run(tmp_path, generated_csv, "--scheduler", f"tcp://127.0.0.1:{port}")
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"Dask: nothing listens at tcp://127.0.0.1:{port} yet; trying for 10 s", proc.stderr
    assert lines[1].startswith(f"dml-parity: error: --scheduler tcp://127.0.0.1:{port}: cannot connect (nothing listens there")
    assert len(lines) == 2 and 9 < took < 25, (took, proc.stderr)


def test_a_cluster_without_workers_is_said_and_not_waited_on_for_ever(tmp_path: Path, generated_csv: Path) -> None:
    port = _free_port()
    log = open(tmp_path / "scheduler.log", "w", encoding="utf-8")  # noqa: SIM115 (kept open by the process)
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--port", str(port), "--host", "127.0.0.1", "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    try:
        address = f"tcp://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while "Scheduler at" not in (tmp_path / "scheduler.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        started = time.monotonic()
        proc = _run(tmp_path, generated_csv, "--scheduler", address, env={"DMLP_WORKER_WAIT": "3"})
        took = time.monotonic() - started
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)
    assert proc.returncode == 3, proc.stderr
    assert f"Dask: no worker in the cluster at {address}; waiting up to 3 s for one to join" in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f"--scheduler {address}: no worker joined the cluster in 3 s; start its workers" in last, proc.stderr
    assert took < 60 and not (tmp_path / "out").exists()


@pytest.mark.r  # the preload starts each worker's R
def test_a_killed_dask_worker_leaves_no_r_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with contextlib.contextmanager(_cluster)(tmp_path / "cluster", settings={"TMPDIR": str(tmp)}) as cluster:
        with cluster.client() as watcher:

            def where(dask_worker) -> tuple[int, str, str]:
                return os.getpid(), os.environ.get("TMPDIR", ""), dask_worker.local_directory

            workers = watcher.run(where)
            assert all(tmpdir == local for _, tmpdir, local in workers.values()), workers  # R's folder in Dask's
            assert len(list(tmp.rglob("Rtmp*"))) == 2 and not list(tmp.glob("Rtmp*"))
            pid, _, killed_folder = next(iter(workers.values()))
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 120  # the nanny's new worker removes the dead one's folder
            while Path(killed_folder).exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert not Path(killed_folder).exists(), cluster.logs()
            assert not list(tmp.glob("Rtmp*"))
    assert not list(tmp.rglob("Rtmp*")), sorted(map(str, tmp.rglob("*")))
