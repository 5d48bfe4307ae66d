"""The pytest plugin the way a team uses it, run by pytest's own ``pytester``: a test file with the
``dml_parity`` fixture, its baseline beside it, ``--dml-parity-regen``, a moved number, a tampered
baseline, and a process where R cannot be loaded. The plugin is loaded with ``-p`` (an installed
dml-parity loads it through its ``pytest11`` entry point: the last test checks that)."""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.conftest import make_tables

pytest_plugins = ["pytester"]


def _installed() -> bool:
    return any(ep.name == "dml_parity" for ep in entry_points(group="pytest11"))


# Installed, pytest loads the plugin by itself (and `-p` with its module path would register it a
# second time under another name, which pytest refuses); from a source tree it is named with `-p`.
PLUGIN = ("-p", "no:cacheprovider") if _installed() else ("-p", "harness.api.pytest_plugin", "-p", "no:cacheprovider")
SPEC = """
dataset: {path: data.csv}
defaults: {model: plr, y: y, d: d, x: [x1, x2, x3], n_folds: 3, seed: 1}
specs:
  - {id: effect_ols, learner: ols}
"""
TEST_FILE = """
from pathlib import Path

def test_effect(dml_parity):
    dml_parity.assert_unchanged(Path(__file__).parent / "analysis.yaml")
"""
# Beside the user's test in the R-free process: proof that R really cannot be loaded there.
NO_R_TEST = """
import pytest
from harness.engines.r_engine import r_session
from harness.errors import EnvironmentProblem

def test_r_cannot_be_loaded_here():
    with pytest.raises(EnvironmentProblem):
        r_session()
"""
BASELINE = Path("test_estimates") / "test_effect.dml.json"


@pytest.fixture()
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's folder: a spec file, its data (300 rows) and a test that keeps its estimate."""
    make_tables(seed=5, n=300).to_csv(pytester.path / "data.csv", index=False)
    (pytester.path / "analysis.yaml").write_text(SPEC, encoding="utf-8")
    pytester.makepyfile(test_estimates=TEST_FILE)
    return pytester


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every module a fixture call imports, imported here once (a run, a save and a check, with R):
    pytester drops the modules an in-process run imported, and numpy's and rpy2's compiled parts
    cannot be loaded twice in one process."""
    from harness.api.parity_fixture import _cli, r_unavailable

    folder = tmp_path_factory.mktemp("warm")
    make_tables(seed=5, n=300).to_csv(folder / "data.csv", index=False)
    (folder / "analysis.yaml").write_text(SPEC, encoding="utf-8")
    assert r_unavailable() is None
    assert _cli("run", "--specs", str(folder / "analysis.yaml"), "--out", str(folder / "run"), "--quiet")[0] == 0
    assert _cli("baseline", "save", str(folder / "run"), "--to", str(folder / "b.json"))[0] == 0
    assert _cli("check", "--baseline", str(folder / "b.json"), "--run", str(folder / "run"))[0] == 0


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*PLUGIN, *args)


def _move_the_data(pytester: pytest.Pytester) -> None:
    """What a user meets when an upstream data step changes: other outcomes, so the estimate moves."""
    frame = make_tables(seed=5, n=300)
    frame["y"] = frame["y"] + 0.3 * frame["d"]
    frame.to_csv(pytester.path / "data.csv", index=False)


@pytest.mark.r
def test_regen_writes_a_clean_run_passes_a_move_fails_with_the_table(project: pytest.Pytester, warm) -> None:
    baseline = project.path / BASELINE
    first = _run(project)
    first.assert_outcomes(failed=1)  # a written baseline is never taken for a pass
    assert baseline.is_file()
    first.stdout.fnmatch_lines(["*dml-parity baseline not found, created:*", f"*{BASELINE}*"])
    stored = json.loads(baseline.read_text(encoding="utf-8"))
    assert stored["engines"] == ["python", "r"] and stored["estimates"]["effect_ols"]["r"]["coef"]

    _run(project).assert_outcomes(passed=1)
    regen_unchanged = _run(project, "--dml-parity-regen")
    regen_unchanged.assert_outcomes(passed=1)  # as pytest-regressions: nothing differs, nothing written
    assert baseline.read_bytes() == json.dumps(stored, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"

    _move_the_data(project)
    moved = _run(project)
    moved.assert_outcomes(failed=1)
    text = moved.stdout.str()
    assert "data: DIFFER from the baseline's" in text
    assert "| spec " in text and "| number " in text and "| baseline " in text and "| now " in text
    assert "| effect_ols | python   | coef " in text and "| effect_ols | r        | coef " in text
    assert "package versions: the same as the baseline's" in text
    assert "number(s) moved beyond their tier's tolerance" in text
    assert "pytest --dml-parity-regen rewrites" in text

    regen = _run(project, "--dml-parity-regen")
    regen.assert_outcomes(failed=1)
    regen.stdout.fnmatch_lines(["*baseline differed and --dml-parity-regen is set, rewrote:*", f"*{BASELINE}*"])
    assert json.loads(baseline.read_text(encoding="utf-8"))["estimates"] != stored["estimates"]
    _run(project).assert_outcomes(passed=1)


@pytest.mark.r
def test_a_tampered_baseline_is_refused_naming_the_file(project: pytest.Pytester, warm) -> None:
    _run(project).assert_outcomes(failed=1)
    baseline = project.path / BASELINE
    stored = json.loads(baseline.read_text(encoding="utf-8"))
    stored["estimates"]["effect_ols"]["python"]["coef"] += 1e-3  # by hand, in an editor
    baseline.write_text(json.dumps(stored, indent=2), encoding="utf-8")
    result = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*dml-parity: error: {baseline}: its content does not match its sha256*"])
    # The way back a plugin user has, not only the command line's (an outside user, 2026-12-07).
    result.stdout.fnmatch_lines(["*(one the pytest plugin wrote: pytest --dml-parity-regen)*"])
    # Until 2026-12-06: "the baseline was refused since <baseline>".
    result.stdout.fnmatch_lines([f"*dml-parity: the check against {baseline} was refused (exit 2)*"])
    # ... and that way works: regen rewrites it, and the next run passes.
    _run(project, "--dml-parity-regen").stdout.fnmatch_lines(["*--dml-parity-regen is set, rewrote:*"])
    _run(project).assert_outcomes(passed=1)


BASENAME_TEST = """
import pytest

def test_a_basename_is_a_file_name(dml_parity):
    for path in ("../../escaped", "sub/name", ".."):
        with pytest.raises(ValueError, match="basename: a file name, not a path"):
            dml_parity.baseline_path(path)
    assert dml_parity.baseline_path("mine").name == "mine.dml.json"
"""


def test_a_basename_cannot_put_the_baseline_elsewhere(pytester: pytest.Pytester) -> None:
    """Until 2026-12-06 basename="../../escaped" wrote the baseline two folders above the test's."""
    pytester.makepyfile(test_basename=BASENAME_TEST)
    pytester.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=1)


def _without_r(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process pytester starts finds no R: no R on PATH, no R_HOME (rpy2 then cannot find R)."""
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    monkeypatch.delenv("R_HOME", raising=False)
    monkeypatch.delenv("DMLP_REQUIRE_R", raising=False)  # the suite's own CI setting: the user's test asks nothing
    pytester.makepyfile(test_no_r=NO_R_TEST)


@pytest.mark.r
def test_without_r_python_is_compared_with_both_as_stored_and_says_so(project: pytest.Pytester, monkeypatch, warm) -> None:
    _run(project).assert_outcomes(failed=1)  # the baseline, written where R loads
    created = json.loads((project.path / BASELINE).read_text(encoding="utf-8"))["created"][:10]
    _without_r(project, monkeypatch)
    result = project.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=2)
    line = f"test_effect.dml.json: R not run: compared with DoubleML 1.0.2 results stored on {created}"
    result.stdout.fnmatch_lines(["*- dml-parity -*", line])
    # Under pytest-xdist too: the worker's lines reach the controller's summary (until 2026-12-07 not).
    parallel = project.runpytest_subprocess(*PLUGIN, "-n", "2")
    parallel.assert_outcomes(passed=2)
    parallel.stdout.fnmatch_lines(["*- dml-parity -*", line])

    _move_the_data(project)  # without R, a move is still caught (Python now against both as stored)
    moved = project.runpytest_subprocess(*PLUGIN)
    moved.assert_outcomes(passed=1, failed=1)
    assert "| effect_ols | python   | coef " in moved.stdout.str()
    moved.stdout.fnmatch_lines(["*R not run: compared with DoubleML 1.0.2 results stored on*", "*effect_ols*exact*disagree*"])

    before = (project.path / BASELINE).read_bytes()
    regen = project.runpytest_subprocess(*PLUGIN, "--dml-parity-regen")
    regen.assert_outcomes(passed=1, failed=1)
    regen.stdout.fnmatch_lines(["*--dml-parity-regen: R cannot be loaded here*would drop R's stored numbers*"])
    assert (project.path / BASELINE).read_bytes() == before


AGREE_TEST = """
from pathlib import Path

def test_agree(dml_parity):
    dml_parity.assert_agree(Path(__file__).parent / "analysis.yaml")
"""


def _agree_project(pytester: pytest.Pytester) -> None:
    """A user's folder whose test asks that Python and R agree on its spec file."""
    make_tables(seed=5, n=300).to_csv(pytester.path / "data.csv", index=False)
    (pytester.path / "analysis.yaml").write_text(SPEC, encoding="utf-8")
    pytester.makepyfile(test_agree=AGREE_TEST)


def test_assert_agree_without_r_compared_nothing_and_fails(pytester: pytest.Pytester, monkeypatch) -> None:
    _agree_project(pytester)
    _without_r(pytester, monkeypatch)
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*R cannot be loaded*assert_agree needs both engines and compared nothing*"])


def test_a_ci_that_requires_r_fails_where_r_cannot_be_loaded(project: pytest.Pytester, monkeypatch) -> None:
    """A team's CI that must compare with R asks for it (until 2026-12-07 no switch did; the R-free
    path passed quietly)."""
    _without_r(project, monkeypatch)
    result = project.runpytest_subprocess(*PLUGIN, "--dml-parity-require-r")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*dml-parity: R is required here (--dml-parity-require-r or DMLP_REQUIRE_R=1)*"])
    assert not (project.path / BASELINE).exists()  # no R-free baseline written either
    monkeypatch.setenv("DMLP_REQUIRE_R", "1")
    project.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=1, failed=1)


def test_an_r_home_pointing_nowhere_takes_the_r_free_path(project: pytest.Pytester, monkeypatch) -> None:
    """R started on it would end the session ("Fatal error: unable to open the base package"):
    until 2026-12-06 pytest stopped after the first file with exit 2, no failure and no summary."""
    monkeypatch.setenv("R_HOME", str(project.path / "nowhere"))
    monkeypatch.delenv("DMLP_REQUIRE_R", raising=False)
    project.makepyfile(test_no_r=NO_R_TEST)
    result = project.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1, failed=1)  # R cannot be loaded; the first run writes the baseline
    result.stdout.fnmatch_lines(["*dml-parity baseline not found, created (R not loadable here*"])


@pytest.mark.r
def test_assert_agree_on_a_spec_file_passes(pytester: pytest.Pytester, warm) -> None:
    _agree_project(pytester)
    _run(pytester).assert_outcomes(passed=1)


# A doubleml model the way its docs build one, kept by the fixture: the model path goes through
# harness.compare (Python-only for the spec it writes) and then the spec-file path.
MODEL_TESTS = """
from pathlib import Path

import doubleml as dml
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression


def _model(shift=0.0):
    np.random.seed(3141)  # doubleml draws its folds from numpy's global stream, as its docs seed it
    frame = pd.read_csv(Path(__file__).parent / "data.csv")
    frame["y"] = frame["y"] + shift * frame["d"]
    data = dml.DoubleMLData(frame, y_col="y", d_cols="d", x_cols=["x1", "x2", "x3"])
    model = dml.DoubleMLPLR(data, ml_l=LinearRegression(), ml_m=LinearRegression(), n_folds=3)
    return model.fit()


def test_model_unchanged(dml_parity):
    dml_parity.assert_unchanged(_model(SHIFT))


def test_model_agrees(dml_parity):
    dml_parity.assert_agree(_model())
"""


@pytest.mark.r
def test_a_doubleml_model_is_kept_and_checked_through_the_python_api(pytester: pytest.Pytester, warm) -> None:
    make_tables(seed=5, n=300).to_csv(pytester.path / "data.csv", index=False)
    pytester.makepyfile(test_model=MODEL_TESTS.replace("SHIFT", "0.0"))
    first = _run(pytester)  # no baseline yet: written, and the test fails naming it
    first.assert_outcomes(passed=1, failed=1)
    first.stdout.fnmatch_lines(["*dml-parity baseline not found, created:*", "*test_model*test_model_unchanged.dml.json"])
    baseline = pytester.path / "test_model" / "test_model_unchanged.dml.json"
    stored = json.loads(baseline.read_text(encoding="utf-8"))
    assert stored["engines"] == ["python", "r"]  # golden: R's numbers kept for a run without R
    (row,) = stored["estimates"].values()
    assert row["r"]["coef"] is not None and abs(row["python"]["coef"] - row["r"]["coef"]) < 1e-10
    # The model's spec and data were temporary files: the baseline names the model and its test, so
    # a regenerated baseline does not differ by a temporary path (until 2026-12-07 it held pytest's).
    model = "DoubleMLPLR of test_model.py::test_model_unchanged"
    assert (stored["spec_file"], stored["data"]["path"]) == (
        f"(not a file: the spec harness.compare wrote for {model})",
        f"({model}'s data)",
    )
    assert "pytest-of" not in baseline.read_text(encoding="utf-8")
    from harness.cli import main

    assert main(["check", "--baseline", str(baseline), "--out", str(pytester.path / "c")]) == 2  # said in one line
    _run(pytester).assert_outcomes(passed=2)  # the model's spec lands in a new folder each time
    pytester.makepyfile(test_model=MODEL_TESTS.replace("SHIFT", "0.3"))
    moved = _run(pytester)
    moved.assert_outcomes(passed=1, failed=1)
    moved.stdout.fnmatch_lines(["*coef*"])
    # Its data is named as the baseline names it, not by a temporary file's path (until 2026-12-07).
    moved.stdout.fnmatch_lines([f"*data: DIFFER from the baseline's: ({model}'s data), the columns the model uses*"])
    assert "pytest-of" not in moved.stdout.str().split("data: DIFFER")[1].splitlines()[0]


ADJUSTED_TESTS = """
from pathlib import Path

import doubleml as dml
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression


def _model():
    np.random.seed(3141)
    frame = pd.read_csv(Path(__file__).parent / "data.csv")
    data = dml.DoubleMLData(frame, y_col="y", d_cols=["d", "zc"], x_cols=["x1", "x2", "x3"])
    return dml.DoubleMLPLR(data, ml_l=LinearRegression(), ml_m=LinearRegression(), n_folds=3).fit()


def test_holm_agrees(dml_parity):
    dml_parity.assert_agree(_model(), p_adjust="holm")


def test_holm_unchanged(dml_parity):
    dml_parity.assert_unchanged(_model(), p_adjust="holm")


def test_a_spec_file_says_its_own(dml_parity):
    dml_parity.assert_agree(Path(__file__).parent / "analysis.yaml", p_adjust="holm")
"""


@pytest.mark.r
def test_adjusted_p_values_of_a_model_through_the_fixture(pytester: pytest.Pytester, warm) -> None:
    """``p_adjust`` as in harness.compare: asked of a model (doubleml keeps no record of it), kept in
    the spec of the baseline the model is checked against; a spec file says its own."""
    _agree_project(pytester)
    pytester.makepyfile(test_adjusted=ADJUSTED_TESTS)
    first = _run(pytester, "test_adjusted.py")
    first.assert_outcomes(passed=1, failed=2)  # the baseline is written; the spec file's p_adjust is its own
    first.stdout.fnmatch_lines(["*p_adjust is asked of a doubleml model; the spec file*says its own (p_adjust:)*"])
    stored = json.loads((pytester.path / "test_adjusted" / "test_holm_unchanged.dml.json").read_text(encoding="utf-8"))
    assert [spec["fields"]["p_adjust"] for spec in stored["specs"].values()] == ["holm"]
    _run(pytester, "test_adjusted.py", "-k", "holm").assert_outcomes(passed=2)


@pytest.mark.r
def test_an_unseeded_model_fits_other_folds_each_run_and_the_failure_says_how_to_seed_it(pytester: pytest.Pytester, warm) -> None:
    make_tables(seed=5, n=300).to_csv(pytester.path / "data.csv", index=False)
    unseeded = MODEL_TESTS.replace("SHIFT", "0.0").replace("    np.random.seed(3141)", "    np.random.seed(None)")
    assert "np.random.seed(None)" in unseeded
    pytester.makepyfile(test_model=unseeded)
    _run(pytester, "-k", "unchanged").assert_outcomes(failed=1)  # the baseline is written
    again = _run(pytester, "-k", "unchanged")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(
        [
            "*data: the same as the baseline's apart from its fold columns (dmlp_fold_1), which hold other folds*",
            "*rows and folds: differ*",
            "*seed it (np.random.seed) before building the model*",
        ]
    )
    assert "DIFFER" not in again.stdout.str()  # the user's data did not change; only the folds written beside it


REFUSED_TESTS = """
from pathlib import Path

import doubleml as dml
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor


def _model():
    frame = pd.read_csv(Path(__file__).parent / "data.csv")
    data = dml.DoubleMLData(frame, y_col="y", d_cols="d", x_cols=["x1", "x2", "x3"])
    return dml.DoubleMLPLR(data, ml_l=KNeighborsRegressor(), ml_m=LinearRegression(), n_folds=3)


def test_refused_agrees(dml_parity):
    dml_parity.assert_agree(_model())


def test_refused_unchanged(dml_parity):
    dml_parity.assert_unchanged(_model())
"""


@pytest.mark.r
def test_a_model_the_tool_refuses_fails_the_test_in_one_line(pytester: pytest.Pytester, warm) -> None:
    """A learner with no R twin: both assertions fail with the command line's one line, and no
    traceback through the tool's code (before, harness.compare's ModelError reached the user as one)."""
    make_tables(seed=5, n=300).to_csv(pytester.path / "data.csv", index=False)
    pytester.makepyfile(test_refused=REFUSED_TESTS)
    result = _run(pytester, "test_refused.py")
    result.assert_outcomes(failed=2)
    said = [line for line in result.stdout.lines if line.startswith("dml-parity: error: ml_l: KNeighborsRegressor has no R twin")]
    assert len(said) == 2, result.stdout.str()
    assert "harness/api/compare.py" not in result.stdout.str() and "ModelError" not in result.stdout.str()
    assert not (pytester.path / "test_refused").exists()  # no baseline written for a model never compared


def test_the_entry_point_resolves_to_the_plugin() -> None:
    """Installing dml-parity registers the plugin: pytest loads every ``pytest11`` entry point."""
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "dml_parity"]
    if not found and os.environ.get("CI"):
        pytest.fail("CI installs dml-parity (make setup), yet no pytest11 entry point dml_parity is registered")
    if not found:
        pytest.skip("not installed from this tree")
    assert found[0].value == "harness.api.pytest_plugin"
    module = found[0].load()
    assert module.__name__ == "harness.api.pytest_plugin" and hasattr(module, "dml_parity")


INTERRUPTED_TESTS = """
from pathlib import Path

def test_first(dml_parity):
    dml_parity.assert_agree(Path(__file__).parent / "analysis.yaml")

def test_second():
    Path("second_ran").write_text("yes")
"""


@pytest.mark.parametrize(("signal_name", "code"), [("SIGINT", 2), ("SIGTERM", 143)])
def test_an_interrupted_run_ends_the_session(pytester: pytest.Pytester, signal_name: str, code: int) -> None:
    """Ctrl-C, or a CI job's cancel (SIGTERM), while the fixture's run reads its data: pytest stops,
    as it would without the fixture (until 2026-12-07 the run's exit 130/143 was one failed test and
    the session went on). The data file is a FIFO, so the run is certainly inside it when signalled."""
    import signal
    import subprocess
    import time

    (pytester.path / "analysis.yaml").write_text(SPEC, encoding="utf-8")
    os.mkfifo(pytester.path / "data.csv")
    pytester.makepyfile(test_interrupted=INTERRUPTED_TESTS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *PLUGIN, "-q", "-p", "no:randomly"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    deadline = time.monotonic() + 120
    while True:  # a writer can open the FIFO once the run has it open for reading
        try:
            writer = os.open(pytester.path / "data.csv", os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
            time.sleep(0.1)
    try:  # held open: the run waits for data, not an end of file
        proc.send_signal(getattr(signal, signal_name))
        output = proc.communicate(timeout=120)[0]
    finally:
        os.close(writer)
    assert proc.returncode == code, output
    assert not (pytester.path / "second_ran").exists(), output


BROKEN_TEST = """
from pathlib import Path

import harness.engines.python_engine as engine


def test_effect(dml_parity, monkeypatch, tmp_path):
    monkeypatch.setenv("DMLP_IN_PROCESS", "1")  # the fit runs here, where the learner is broken
    monkeypatch.setenv("DMLP_CACHE_DIR", str(tmp_path))  # and is not served from an earlier test's cache

    def broken(*args, **kwargs):
        raise RuntimeError("the learner broke")

    monkeypatch.setattr(engine, "fit_python", broken)
    dml_parity.assert_unchanged(Path(__file__).parent / "analysis.yaml")
"""


def test_a_spec_in_error_says_its_message_and_where_the_report_is(project: pytest.Pytester) -> None:
    """Until 2026-12-07 the failure said 'the report gives the message' and named no report."""
    project.makepyfile(test_estimates=BROKEN_TEST)
    result = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*the run of*analysis.yaml failed (exit 3)*", "*effect_ols: error: *the learner broke*", "*report: *report.html*"]
    )
