"""Each exit code means one thing (harness/verdict/exit_codes.py; README, "Exit codes"), every one is
provoked through the command line as a user meets it, and the help says what a user needs."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.verdict.exit_codes import run_exit_code, worst
from tests.faults import ROOT, Run, env, read_results, worker_of, write_specs


def dml(*args, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env(), cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory, generated_csv: Path) -> Path:
    return write_specs(tmp_path_factory.mktemp("exit"), generated_csv)


# -- help and discovery ------------------------------------------------------------------------


def test_version_is_an_option_not_a_missing_command() -> None:
    proc = dml("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("dml-parity 0.1.0 (Python doubleml 0.11.4;"), proc.stdout


def test_run_help_gives_defaults_the_out_folder_and_the_exit_codes() -> None:
    text = " ".join(dml("run", "--help").stdout.split())  # argparse wraps at the terminal's width
    assert "specs fitted in parallel worker processes (default 1)" in text
    assert "relative to the current folder" in text
    for line in ("0 every spec compared", "1 a finding", "2 bad input", "3 the tool failed", "4 nothing compared"):
        assert line in text, line
    assert "exit codes:" in dml("--help").stdout


def test_baseline_and_check_arguments_are_described() -> None:
    save = " ".join(dml("baseline", "save", "--help").stdout.split())
    assert "run_dir a run's output folder" in save and "--to TO the baseline file to write" in save
    check = " ".join(dml("check", "--help").stdout.split())
    assert "--baseline BASELINE a baseline file written by `dml-parity baseline save`" in check


# -- one meaning per code ------------------------------------------------------------------------


def test_bad_input_is_2_in_one_line(spec_path: Path, tmp_path: Path) -> None:
    # An empty --only or --engines is no value (until 2026-12-07: every spec, the default engines).
    for args in (["--jobs", "0"], ["--engines", "julia"], ["--only", "no_such_spec"], ["--only", ""], ["--engines", ""]):
        proc = dml("run", "--specs", spec_path, "--out", tmp_path / "out", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert dml("run", "--specs", tmp_path / "missing.yaml", "--out", tmp_path / "out").returncode == 2
    assert dml("run", "--jobs", "two").returncode == 2  # argparse's own refusals are bad input too
    assert not (tmp_path / "out").exists()


def test_one_engine_compares_nothing_and_exits_4(spec_path: Path, tmp_path: Path) -> None:
    args = ["run", "--specs", spec_path, "--engines", "python", "--only", "a_ols", "--no-cache"]
    proc = dml(*args, "--out", tmp_path / "out")
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "dml-parity: exit 4: nothing compared for a_ols: both engines are needed for a verdict (--engines python,r)"
    )
    assert read_results(tmp_path / "out")["summary"]["r-not-run"] == 1  # the report is written all the same
    quiet = dml(*args, "--out", tmp_path / "quiet", "--quiet")
    assert quiet.returncode == 4 and quiet.stderr == ""


def test_the_summary_counts_a_spec_of_two_treatments_as_two_estimates(tmp_path: Path, generated_csv: Path) -> None:
    """Until 2026-12-07: "4 specs" for two specs of two treatments each (an outside user)."""
    spec = tmp_path / "two.yaml"
    spec.write_text(
        f"dataset: {{path: {generated_csv}}}\ndefaults: {{model: plr, y: y, x: [x1, x2], learner: ols, n_folds: 3}}\n"
        "specs:\n  - {id: a, d: [d, x3]}\n  - {id: b, d: [d, skew]}\n  - {id: c, d: d}\n",
        encoding="utf-8",
    )
    proc = dml("run", "--specs", spec, "--engines", "python", "--out", tmp_path / "out", "--no-cache")
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout.splitlines()[0] == f"5 estimates of 3 specs: 5 r-not-run -> {tmp_path / 'out'}/report.html"


def test_a_spec_whose_worker_died_is_the_tool_failing_3(spec_path: Path, tmp_path: Path) -> None:
    """A real crash: the worker fitting b_slow is killed, and so is the one retrying it."""
    killed: list[int] = []

    def on_line(run: Run, line: str) -> None:
        pid = worker_of(line, "b_slow")
        if pid is not None and len(killed) < 2:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    out = tmp_path / "out"
    run = Run(["run", "--specs", spec_path, "--engines", "python", "--only", "a_ols,b_slow", "--out", out, "--no-cache"], on_line)
    assert run.wait() == 3, run.stderr  # not 1 (a finding), not 4 (a_ols compared nothing): 3 first
    assert len(killed) == 2
    assert "dml-parity: exit 3: the tool failed on b_slow" in run.stderr.strip().splitlines()[-1]
    assert read_results(out)["summary"]["error"] == 1


@pytest.mark.parametrize("error", ["VerdictError", "RuntimeError"])
def test_a_defect_of_the_tool_is_3_in_one_line(error: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception the tool did not expect (a comparison left unchecked, a bug) ends the run with
    3 and one line, never with Python's 1 and a traceback."""
    from harness.running import runner
    from harness.verdict import checks

    kind = checks.VerdictError if error == "VerdictError" else RuntimeError

    def broken(options):
        raise kind("spec 'x': no end-to-end check for se; the tool cannot judge it")

    monkeypatch.setattr(runner, "run", broken)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(["run", "--specs", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")])
    assert code == 3
    assert stderr.getvalue().splitlines() == [
        f"dml-parity: the tool failed: {error}: spec 'x': no end-to-end check for se; the tool cannot judge it "
        "(DMLP_DEBUG=1 shows the traceback)"
    ]


def test_precedence_failure_then_input_then_finding_then_nothing() -> None:
    assert worst() == 0 and worst(0, 4) == 4 and worst(4, 1, 0) == 1 and worst(1, 2) == 2 and worst(2, 3, 1) == 3

    def spec(status: str, r: dict | None = None) -> dict:
        return {"id": status, "status": status, "python": {}, "r": {} if r is None else r}

    assert run_exit_code({"specs": []}) == 4  # nothing run is nothing compared
    assert run_exit_code({"specs": [spec("agree"), spec("explained")]}) == 0
    assert run_exit_code({"specs": [spec("agree"), spec("inconclusive")]}) == 1
    assert run_exit_code({"specs": [spec("disagree"), spec("error")]}) == 3
    one_sided = {"id": "s", "status": "agree", "python": {}, "r": None}  # a status that says agree without R
    assert run_exit_code({"specs": [spec("agree"), one_sided]}) == 4
    assert run_exit_code({"specs": [spec("disagree"), one_sided]}) == 1


def test_make_run_passes_a_finding_and_fails_everything_else(tmp_path: Path) -> None:
    """`make run` ends 0 when the only finding is a disagreement, and fails on 2, 3 and 4."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    fake = tmp_path / ".venv" / "bin" / "dml-parity"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit $FAKE_RC\n", encoding="utf-8")
    fake.chmod(0o755)
    codes = {}
    for rc in (0, 1, 2, 3, 4):
        fake_env = {**os.environ, "FAKE_RC": str(rc)}
        proc = subprocess.run([make, "-s", "-o", "setup", "run"], cwd=tmp_path, capture_output=True, text=True, env=fake_env)
        codes[rc] = proc.returncode
    assert codes == {0: 0, 1: 0, 2: 2, 3: 2, 4: 2}, codes  # make's own 2 for a failed recipe


# -- with R --------------------------------------------------------------------------------------

AGREE_AND_DISAGREE = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  # Two forests never match to a thousandth of an se in one draw: a disagreement by construction.
  - {id: rf_tight, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 50}, coef_tolerance_se: 0.001}
"""


@pytest.mark.r
def test_agree_is_0_and_a_disagreement_is_1(tmp_path: Path, generated_csv: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(AGREE_AND_DISAGREE.replace("DATA", str(generated_csv)), encoding="utf-8")
    agree = dml("run", "--specs", spec, "--only", "a_ols", "--out", tmp_path / "agree", "--no-cache", "--quiet")
    assert agree.returncode == 0, agree.stderr
    both = dml("run", "--specs", spec, "--out", tmp_path / "both", "--no-cache")
    assert both.returncode == 1, both.stderr
    assert both.stderr.strip().splitlines()[-1] == "dml-parity: exit 1: not shown to agree: rf_tight"
    # --quiet hides the progress, not a finding (until 2026-12-07 a disagreement under it said nothing at all).
    quiet = dml("run", "--specs", spec, "--out", tmp_path / "quiet", "--quiet")
    assert quiet.returncode == 1 and quiet.stderr == "dml-parity: exit 1: not shown to agree: rf_tight\n"
    assert {s["id"]: s["status"] for s in read_results(tmp_path / "both")["specs"]} == {"a_ols": "agree", "rf_tight": "disagree"}


# -- doctor ------------------------------------------------------------------------------------


def test_doctor_ends_with_what_is_missing_and_shows_every_tolerance(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor"],
        capture_output=True, text=True, cwd=ROOT, env={**env(), "DMLP_RLIB": str(tmp_path / "empty")},
    )  # fmt: skip
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines()[-1].startswith("not ready: R is not usable (R package(s) missing: DoubleML")
    pairs = [line for line in proc.stdout.splitlines() if line.startswith("|") and line.count("|") == 8]
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): line for line in pairs}
    assert "| ±0.2 se (coef_tolerance_se)" in rows[("rf", "regr", "statistical")]
    assert "| 1e-10 relative" in rows[("ols", "regr", "exact")]
    assert " - " not in "".join(line.split("|")[4] for line in rows.values())


def test_doctor_with_r_home_pointing_nowhere_says_so(tmp_path: Path) -> None:
    """R started on such an R_HOME ends the process ("Fatal error: unable to open the base
    package"): until 2026-12-06 the doctor, and a pytest session using the plugin, ended there with
    exit 2 and no word of why."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor"],
        capture_output=True, text=True, cwd=ROOT, env={**env(), "R_HOME": str(tmp_path / "nowhere")},
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    said = f"R_HOME={tmp_path / 'nowhere'}: no R there (no library/base); unset R_HOME or set it to `R RHOME`"
    assert last == f"not ready: R is not usable ({said})"


@pytest.mark.r
def test_doctor_says_ready() -> None:
    proc = dml("doctor")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "ready: both engines and every learner pair are usable"
