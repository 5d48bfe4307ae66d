"""Bad input ends a run before any worker starts, in one line; workers end quietly however early
the run ends them (issue 19 item 10)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli import main
from harness.running import parallel
from tests.faults import ROOT, env


def test_a_missing_data_file_is_one_line_with_workers_asked_for(tmp_path: Path) -> None:
    """The commonest mistake, five times over: before, 11-19 lines of worker tracebacks came first."""
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "dataset: {path: absent.csv}\nspecs:\n  - {id: a, model: plr, y: y, d: d, x: [x1], learner: ols}\n", encoding="utf-8"
    )
    for _ in range(5):
        proc = subprocess.run(
            [sys.executable, "-m", "harness.cli", "run", "--specs", spec, "--out", tmp_path / "out", "--jobs", "2", "--no-cache"],
            capture_output=True,
            text=True,
            env=env(),
            cwd=ROOT,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == [f"dml-parity: error: {tmp_path / 'absent.csv'}: data file not found"], proc.stderr
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{id: a, model: plr, y: y, d: dd, x: [x1], learner: ols}", "column 'dd' not found"),
        # found by the feasibility check, the last step before the fits
        ("{id: a, model: plr, y: y, d: d, x: [x1, x1c], learner: ols}", "constant or collinear"),
    ],
)
def test_no_worker_starts_for_bad_input(tmp_path: Path, generated_csv: Path, monkeypatch, entry: str, message: str) -> None:
    import pandas as pd

    frame = pd.read_csv(generated_csv)
    frame["x1c"] = 2 * frame["x1"]
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    started = []

    class Recorded(parallel._Worker):
        def __init__(self, *args, **kwargs) -> None:
            started.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parallel, "_Worker", Recorded)
    spec = tmp_path / "s.yaml"
    spec.write_text(f"dataset: {{path: {data}}}\nspecs:\n  - {entry}\n", encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", "--specs", str(spec), "--out", str(tmp_path / "out"), "--no-cache", "--quiet", "--jobs", "2"])
    assert code == 2 and message in stderr.getvalue(), stderr.getvalue()
    assert started == []


def test_a_worker_ended_as_it_starts_says_nothing() -> None:
    """Workers forked from the CLI (its SIGTERM handler installed) and ended at once, twenty times."""
    script = textwrap.dedent(
        """
        import signal
        from harness.cli import _terminate
        from harness.running.parallel import WorkerPool
        signal.signal(signal.SIGTERM, _terminate)
        for _ in range(20):
            pool = WorkerPool(1, ("python",), note=print)
            pool.start(1)
            pool.close(graceful=False)
        print("done")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    assert proc.stderr == "", proc.stderr
