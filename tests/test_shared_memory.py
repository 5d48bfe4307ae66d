"""Designs and folds reach the run's workers as references to memory the run holds (issue 14):
one copy of the design in Python, whatever the number of processes, and results equal to a run
whose workers received copies."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from harness.design import shared_memory
from harness.language.spec import load_spec_file
from harness.running.dask_cluster import Cluster
from harness.running.parallel import InProcess, WorkerPool, fork_is_safe
from harness.running.runner import RunOptions, prepare, run, stable_view
from tests.conftest import ROOT, make_tables
from tests.faults import Run, worker_of

SPECS = """
dataset: {path: data.csv}
defaults: {n_folds: 5, n_rep: 2, seed: 4}
specs:
  - {id: plr_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: irm_cl, model: irm, y: y, d: db, x: [x1, x2], cluster: [g], learners: {ml_g: ols, ml_m: logit}}
"""


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shared")
    make_tables(n=6000).to_csv(folder / "data.csv", index=False)
    (folder / "s.yaml").write_text(SPECS, encoding="utf-8")
    return folder / "s.yaml"


def _prepared(spec_file: Path, share: bool):
    return prepare(load_spec_file(spec_file, None), spec_file.parent / "data.csv", share=share)


def _digest(prepared) -> dict:
    """What a worker needs of a prepared spec, as plain values."""
    design, folds = prepared.design, prepared.folds
    return {
        "columns": list(design.frame.columns),
        "frame": hashlib.sha256(design.frame.to_numpy().tobytes()).hexdigest(),
        "rows": design.rows.tolist(),
        "labels": folds.labels.tolist(),
        "cluster": design.cluster,
    }


def _child(conn) -> None:
    """In another process: unpickle what the run sent, say what arrived and where it lives, then
    write into it."""
    prepared = conn.recv()
    with open("/proc/self/maps", encoding="utf-8") as maps:
        mapped = sum("memfd:dml-parity" in line for line in maps)
    digest = _digest(prepared)
    prepared.design.rows[...] = -1  # mapped copy-on-write: the run's copy must not change
    prepared.folds.labels[...] = -7
    conn.send((digest, mapped))


def test_a_shared_design_travels_as_a_reference_and_arrives_whole(spec_file: Path) -> None:
    shared = _prepared(spec_file, share=True)
    copied = _prepared(spec_file, share=False)
    n_bytes = shared[0].design.frame.to_numpy().nbytes
    # The message to a worker: the spec and references, not the numbers.
    assert len(pickle.dumps(shared[0])) < 20_000 < n_bytes < len(pickle.dumps(copied[0]))
    before = [_digest(p) for p in shared]
    assert before == [_digest(p) for p in copied]

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited
    for prepared, expected in zip(shared, before, strict=True):
        parent_end, child_end = context.Pipe()
        child = context.Process(target=_child, args=(child_end,))
        child.start()
        parent_end.send(prepared)
        digest, mapped = parent_end.recv()
        child.join(30)
        assert child.exitcode == 0
        assert digest == expected
        assert mapped >= 3  # frame, rows and labels mapped from the run's memory files, not copied
    # The child wrote into its rows and labels: the run's own copy is as it was.
    assert [_digest(p) for p in shared] == before


def test_a_stale_reference_is_refused() -> None:
    array = shared_memory.shared_copy(np.arange(10.0))
    ref = shared_memory.reference(array)
    assert ref is not None
    assert shared_memory.attach(ref).tolist() == list(range(10))
    del array  # the run drops the array: its memory file is closed
    with pytest.raises((FileNotFoundError, RuntimeError)):
        shared_memory.attach(ref)
    # A process-local array is not shared: it pickles by value.
    assert shared_memory.reference(np.arange(3)) is None


def test_only_the_runs_own_workers_get_references() -> None:
    assert WorkerPool.shares_memory is shared_memory.available()
    assert InProcess.shares_memory is False
    assert Cluster.shares_memory is False  # Dask workers may be other machines


# Python alone is the `slow` half's: with R (every `make test` on a set-up machine) the second case
# checks the same path and more.
@pytest.mark.parametrize(
    "engines", [pytest.param(("python",), marks=pytest.mark.slow), pytest.param(("python", "r"), marks=pytest.mark.r)]
)
def test_results_equal_a_run_whose_fits_received_copies(spec_file: Path, tmp_path: Path, engines: tuple) -> None:
    options = dict(specs=spec_file, engines=engines, use_cache=False, cache_dir=tmp_path / "cache")
    in_process = run(RunOptions(**options, in_process=True))  # copies: nothing leaves the process
    workers = run(RunOptions(**options, jobs=2))
    assert json.dumps(stable_view(workers), sort_keys=True) == json.dumps(stable_view(in_process), sort_keys=True)
    assert all(s["python"]["coef"] is not None for s in workers["specs"])
    if "r" in engines:
        assert {s["status"] for s in workers["specs"]} <= {"agree", "explained"}  # n_rep = 2: R aggregates otherwise


def test_workers_fork_from_a_run_with_one_thread_and_no_r() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert fork_is_safe() is False  # a lock another thread holds would stay locked in the child
    finally:
        stop.set()
        other.join()
    fresh = subprocess.run(
        [sys.executable, "-c", "from harness.running.parallel import fork_is_safe; print(fork_is_safe())"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
    )
    assert fresh.stdout.strip() == "True"


@pytest.mark.r
def test_no_fork_from_a_process_holding_r() -> None:
    code = (
        "from harness.engines.r_engine import r_session; r_session()\n"
        "from harness.running.parallel import fork_is_safe; print(fork_is_safe())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_the_cli_forks_its_workers_from_itself(spec_file: Path, tmp_path: Path) -> None:
    parents: dict[int, int] = {}

    def on_line(run: Run, line: str) -> None:
        pid = worker_of(line, "plr_ols") or worker_of(line, "irm_cl")
        if pid is not None:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                parents[pid] = int(stat.read().rsplit(")", 1)[1].split()[1])

    cli = Run(["run", "--specs", spec_file, "--engines", "python", "--out", tmp_path / "out",
               "--cache-dir", tmp_path / "cache", "--no-cache"], on_line=on_line)
    assert cli.wait() == 4, "".join(cli.lines)
    assert parents and set(parents.values()) == {cli.proc.pid}


R_FIT_ALONE = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    from harness.running.fit import warm_up
    from harness.design.table import build_design, draw_folds
    from harness.engines.r_engine import fit_r
    from harness.language.spec import DatasetSpec, Spec
    from tests.conftest import make_tables

    spec = Spec(id="m", model="plr", y="y", d="d", x=["x1", "x2"], learner="ols")
    design = build_design(spec, make_tables(n=500), DatasetSpec(), "generated")
    warm_up(("python", "r"))  # what a new worker does first
    fit_r(spec, design, draw_folds(design, 3, 1, 2))
    print("doubleml" in sys.modules)
    """
)


@pytest.mark.r
def test_a_workers_r_fit_runs_without_doubleml() -> None:
    """What a worker holds during its first R fit: the tool's modules and R, not doubleml (60 MB
    at the run's peak), which its first Python fit imports afterwards."""
    proc = subprocess.run([sys.executable, "-c", R_FIT_ALONE], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_specs_with_the_same_table_hold_one_copy(spec_file: Path, tmp_path: Path) -> None:
    """Robustness checks that change only the learner or the seed keep one copy of the table."""
    (tmp_path / "data.csv").write_bytes((spec_file.parent / "data.csv").read_bytes())
    (tmp_path / "s.yaml").write_text(
        SPECS
        + "  - {id: plr_lasso, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: lasso, alpha: 0.01}, seed: 9}\n"
        + "  - {id: plr_two, model: plr, y: y, d: d, x: [x1, x2], learner: ols}\n",
        encoding="utf-8",
    )
    for share in (False, True):
        ols, irm, lasso, two = _prepared(tmp_path / "s.yaml", share=share)
        assert lasso.design.frame is ols.design.frame and lasso.design.rows is ols.design.rows
        assert not np.array_equal(lasso.folds.labels, ols.folds.labels)  # its own folds
        assert two.design.frame is not ols.design.frame and irm.design.frame is not ols.design.frame
        if share:  # both specs' messages name the same memory file
            refs = [shared_memory.portable_frame(p.design.frame).values for p in (ols, lasso)]
            assert refs[0] == refs[1]


FEW_FDS = textwrap.dedent(
    """
    import os, pickle, resource
    from pathlib import Path
    from harness.running.runner import prepare
    from harness.language.spec import load_spec_file

    spec_file = Path(os.environ["SPEC_FILE"])
    open_now = len(os.listdir("/proc/self/fd"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 6, hard))  # room for about two arrays
    prepared = prepare(load_spec_file(spec_file, None), spec_file.parent / "data.csv", share=True)
    sizes = [len(pickle.dumps(p)) for p in prepared]
    print(min(sizes) < 20_000 < max(sizes), all(p.folds.labels.shape[1] == 6000 for p in prepared))
    """
)


def test_a_run_without_file_descriptors_left_sends_copies(spec_file: Path) -> None:
    """A real limit (RLIMIT_NOFILE), not a mock: the first arrays are shared, the rest travel as
    copies, and nothing fails."""
    proc = subprocess.run([sys.executable, "-c", FEW_FDS], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "SPEC_FILE": str(spec_file)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]


NOTEBOOK = textwrap.dedent(
    """
    import os, tempfile, threading
    from pathlib import Path
    from harness.running.runner import RunOptions, run

    # A notebook's kernel runs threads: its workers come from the fork server, which (unlike the
    # test session's) has not imported doubleml; the first Python fit of each worker imports it.
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    from harness.running.parallel import fork_is_safe
    assert not fork_is_safe()
    with tempfile.TemporaryDirectory() as scratch:
        results = run(RunOptions(specs=Path(os.environ["SPEC_FILE"]), engines=("python",), jobs=2,
                                 use_cache=False, cache_dir=Path(scratch)))
    print(" ".join(str(s["python"]["coef"] is not None and s["error"] is None) for s in results["specs"]))
    """
)


def test_a_process_with_threads_runs_its_fits_in_fork_server_workers(spec_file: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", NOTEBOOK], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "SPEC_FILE": str(spec_file)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
