"""What the pytest fixture ``dml_parity`` does (:mod:`harness.api.pytest_plugin` registers it).

Every step goes the way a user goes: the command line (``run``, ``baseline save``, ``check --run``)
called in-process, its output captured for the failure message. A doubleml model goes through
``harness.api.compare`` (imported when a model is given). Where R cannot be loaded, ``assert_unchanged``
runs Python only and the check judges it against Python and R as the baseline stored them, and says
so in one line; ``assert_agree`` fails, since it would compare nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from contextlib import redirect_stderr, redirect_stdout
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Union

import pytest

__all__ = ["NOTES", "ParityFixture", "r_unavailable"]

NOTES = pytest.StashKey[list]()  # lines for the terminal summary ("R not run: ...")
BASELINE_SUFFIX = ".dml.json"
PASSING = ("agree", "explained")


@lru_cache(maxsize=1)
def r_unavailable() -> Optional[str]:
    """Why R cannot be loaded in this process (None when it can)."""
    from harness.errors import EnvironmentProblem

    try:
        from harness.engines.r_engine import r_session

        r_session()
    except EnvironmentProblem as err:
        return str(err)
    return None


def _cli(*args: str) -> tuple[int, str]:
    """``dml-parity ARGS`` in this process: its exit code and what it printed."""
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    # The packages' own warnings (pandas deprecations inside doubleml) are no finding of the
    # user's test: the command's output and exit code are what the fixture reports.
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(list(args))
    # The command caught the user's Ctrl-C or a CI job's SIGTERM to end its run cleanly (130, 143):
    # the session ends too, as it would have without the fixture, not with one failed test.
    if code == 130:
        raise KeyboardInterrupt
    if code == 143:
        pytest.exit("dml-parity: terminated (SIGTERM)", returncode=143)
    return code, out.getvalue() + err.getvalue()


def _fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


def _compared(model: Any, engines: tuple[str, ...], p_adjust: Optional[str]) -> Any:
    """``harness.compare`` of a user's model; a model the tool refuses (no R twin, a fold no package
    can fit) fails the test with the one line the command line would print, not a traceback."""
    from harness.api import compare  # the Python API; imported only for a model
    from harness.errors import EnvironmentProblem, HarnessError

    try:
        return compare(model, engines=engines, p_adjust=p_adjust)
    except EnvironmentProblem:
        raise
    except HarnessError as err:
        refused = str(err)
    _fail(f"dml-parity: error: {refused}")  # outside the handler: no chained traceback


def _model_only(model_or_spec: Union[str, Path, Any], p_adjust: Optional[str]) -> None:
    if p_adjust is not None and isinstance(model_or_spec, (str, Path)):
        _fail(f"dml-parity: p_adjust is asked of a doubleml model; the spec file {model_or_spec} says its own (p_adjust:)")


class ParityFixture:
    """``dml_parity``: ``assert_agree`` and ``assert_unchanged`` on a doubleml model or a spec file."""

    def __init__(self, request: pytest.FixtureRequest, workdir: Path) -> None:
        self._request = request
        self._workdir = workdir
        self._calls = 0

    # --- paths ---------------------------------------------------------------------------------------

    def baseline_path(self, basename: Optional[str] = None) -> Path:
        """``<test dir>/<test module>/[<class>/]<basename or test name>.dml.json``: a test in a class
        has its class's folder (nested classes one each); the test name has every character that is not
        a letter, digit or underscore made ``_`` (as pytest-regressions does), and where that changed it,
        ``-`` and 8 hex digits of its sha256 follow. A ``basename`` is taken as it is, beside the module."""
        module = Path(self._request.path)
        if basename is not None and (Path(basename).name != basename or basename in ("", ".", "..")):
            raise ValueError(f"basename: a file name, not a path ({basename!r}): the baseline stays beside the test")
        if basename is not None:  # the user's own name: two tests given one share it, as they asked
            return module.parent / module.stem / f"{basename}{BASELINE_SUFFIX}"
        classes = [_file_name(node.name) for node in self._request.node.listchain() if isinstance(node, pytest.Class)]
        return module.parent.joinpath(module.stem, *classes, f"{_file_name(self._request.node.name)}{BASELINE_SUFFIX}")

    def _earlier_baseline(self, basename: Optional[str], spec: Path, model: Optional[str]) -> Optional[Path]:
        """The file this test's baseline had until 2026-12-07 (no class folder, no digest), where it
        exists and was saved from this test's spec file (a model's: by this test): still read, so that
        baselines saved then keep working; one of two tests that shared it is told apart by what it saved."""
        if basename is not None:
            return None
        module = Path(self._request.path)
        earlier = module.parent / module.stem / f"{_sanitised(self._request.node.name)}{BASELINE_SUFFIX}"
        return earlier if earlier.is_file() and _saved_from(earlier, spec, model) else None

    def _folder(self, what: str) -> Path:
        self._calls += 1
        return self._workdir / f"{what}-{self._calls}"

    def _requires_r(self) -> bool:
        return bool(self._request.config.getoption("dml_parity_require_r") or os.environ.get("DMLP_REQUIRE_R") == "1")

    def _note(self, line: str) -> None:
        print(line)
        self._request.config.stash.setdefault(NOTES, []).append(line)

    # --- assert_agree ----------------------------------------------------------------------------

    def assert_agree(self, model_or_spec: Union[str, Path, Any], p_adjust: Optional[str] = None) -> None:
        """Fail unless Python and R agree (or differ only where the packages differ on purpose).
        ``p_adjust`` (a model only; a spec file says its own) as in ``harness.compare``."""
        _model_only(model_or_spec, p_adjust)
        why = r_unavailable()
        if why is not None:
            _fail(
                f"dml-parity: R cannot be loaded ({why}); assert_agree needs both engines and compared nothing "
                "(assert_unchanged compares with R results stored in a baseline)"
            )
        if not isinstance(model_or_spec, (str, Path)):
            result = _compared(model_or_spec, ("python", "r"), p_adjust)
            if result.status not in PASSING:
                folder = self._folder("report")
                result.save(folder)
                _fail(f"dml-parity: Python and R: {result.status} (report: {folder})")
            return
        out = self._folder("run")
        code, text = _cli("run", "--specs", str(model_or_spec), "--out", str(out), "--quiet")
        if code != 0:
            _fail(f"dml-parity: Python and R not shown to agree (exit {code})\n{_statuses(out) or text}")

    # --- assert_unchanged ---------------------------------------------------------------------------

    def assert_unchanged(
        self, model_or_spec: Union[str, Path, Any], basename: Optional[str] = None, p_adjust: Optional[str] = None
    ) -> None:
        """Fail when a number moved beyond its tier's tolerance since the baseline beside the test,
        or the inputs changed; without a baseline, write it and fail naming it."""
        _model_only(model_or_spec, p_adjust)
        spec = self._spec_file(model_or_spec, p_adjust)
        baseline = self.baseline_path(basename)
        no_r = r_unavailable()
        if no_r and self._requires_r():
            _fail(f"dml-parity: R is required here (--dml-parity-require-r or DMLP_REQUIRE_R=1) and cannot be loaded: {no_r}")
        run = self._folder("run")
        engines = "python" if no_r else "python,r"
        code, text = _cli("run", "--specs", str(spec), "--engines", engines, "--out", str(run), "--quiet")
        if not (run / "results.json").is_file() or code == 3:  # a spec in error: its message, and where the report is
            _fail(f"dml-parity: the run of {spec} failed (exit {code})\n{text}{_statuses(run)}")
        # A model's spec and data were temporary files: its baseline names the model and its test.
        model = (
            None if isinstance(model_or_spec, (str, Path)) else f"{type(model_or_spec).__name__} of {self._request.node.nodeid}"
        )
        stored = baseline if baseline.is_file() else self._earlier_baseline(basename, spec, model)
        if stored is None:
            self._save(run, baseline, model)
            without_r = " (R not loadable here: Python's numbers only)" if no_r else ""
            _fail(f"dml-parity baseline not found, created{without_r}:\n- {baseline}")
        code, text = _cli("check", "--baseline", str(stored), "--run", str(run))
        if text.startswith(("R not run:", PYTHON_ONLY_START)):
            self._note(f"{stored.name}: {text.splitlines()[0]}")
        if not no_r and text.startswith(PYTHON_ONLY_START):  # saved where R did not load, checked where it does
            if self._request.config.getoption("dml_parity_regen"):
                self._regenerate(run, stored, baseline, no_r, text, model)
            if self._requires_r():
                _fail(
                    f"dml-parity: R is required here (--dml-parity-require-r or DMLP_REQUIRE_R=1) and {stored} holds "
                    f"Python's numbers only (saved where R did not load): pytest --dml-parity-regen writes R's too\n\n{text}"
                )
        if code == 0:
            return
        if self._request.config.getoption("dml_parity_regen"):
            self._regenerate(run, stored, baseline, no_r, text, model)
        writes = f"rewrites {baseline}" if stored == baseline else f"writes {baseline} (read until then: {stored})"
        hint = f"\nif the change is intended: pytest --dml-parity-regen {writes}" if code in (1, 2) else ""
        if code == 2 and "not a dml-parity baseline" in text:  # regen would refuse it too: it is the user's file
            hint = f"\n{stored} is a file dml-parity did not write: move it away, and the next run writes the baseline there"
        elif code == 2 and "cannot read" in text:  # damaged (cut short, say): regen refuses to overwrite it, as any unread file
            hint = f"\n{stored} cannot be read as a baseline: move it away, and the next run writes a new one there"
        if not isinstance(model_or_spec, (str, Path)) and "\nrows and folds: differ" in text:
            hint = f"\n{UNSEEDED_FOLDS}{hint}"
        _fail(f"dml-parity: {_outcome(code, stored)} (exit {code})\n\n{text}{hint}")

    def _spec_file(self, model_or_spec: Union[str, Path, Any], p_adjust: Optional[str] = None) -> Path:
        if isinstance(model_or_spec, (str, Path)):
            return Path(model_or_spec).resolve()
        # Python only: to_spec needs the model's analysis written down, not a comparison; the
        # spec file is then run like any other, with R where R loads.
        folder = self._folder("spec")
        _compared(model_or_spec, ("python",), p_adjust).to_spec(folder)
        return folder / "spec.yaml"

    def _save(self, run: Path, baseline: Path, model: Optional[str] = None) -> None:
        if model is None:
            code, text = _cli("baseline", "save", str(run), "--to", str(baseline))
        else:  # baseline save as the command does it, with the model named for the temporary files
            from harness.errors import HarnessError
            from harness.regression.baseline import save_baseline

            try:
                save_baseline(run, baseline, model=model)
                code, text = 0, ""
            except HarnessError as err:
                code, text = 2, f"dml-parity: error: {err}"
        if code != 0:
            _fail(f"dml-parity: could not write the baseline {baseline} (exit {code})\n{text}")

    def _regenerate(
        self, run: Path, stored: Path, baseline: Path, no_r: Optional[str], text: str, model: Optional[str] = None
    ) -> None:
        """Write ``baseline`` anew; ``stored``, the file checked, is the same or its name until 2026-12-07."""
        if no_r and _keeps_r(stored):
            _fail(
                f"dml-parity: --dml-parity-regen: R cannot be loaded here ({no_r}); rewriting {stored} "
                f"would drop R's stored numbers: regenerate where R loads\n\n{text}"
            )
        self._save(run, baseline, model)
        # The earlier file is left: another test of the same spec file may still read it.
        earlier = "" if stored == baseline else f" (this test no longer reads {stored})"
        _fail(f"dml-parity baseline differed and --dml-parity-regen is set, rewrote:\n- {baseline}{earlier}\n\n{text}")


# A doubleml model draws its folds from numpy's global random stream when it is built, so a test
# that builds one without seeding that stream fits other folds on every run.
UNSEEDED_FOLDS = (
    "the model's folds differ from the baseline's: doubleml draws them from numpy's global random state when the "
    "model is built; unless its seed changed on purpose, seed it (np.random.seed) before building the model, or "
    "give it fixed splits (set_sample_splitting), so that every run fits the same folds"
)


# How a check of a baseline without R numbers begins (harness.regression.stored_r.PYTHON_ONLY).
PYTHON_ONLY_START = "R not in the baseline:"


def _sanitised(name: str) -> str:
    """Every character that is not a letter, digit or underscore made ``_`` (pytest-regressions' rule)."""
    return re.sub(r"\W", "_", name)


def _file_name(name: str) -> str:
    """A test's or class's name as a file name. Sanitising is lossy (``[a.b]`` and ``[a_b]`` both give
    ``_a_b_``), so a changed name gets 8 hex digits of the original's sha256 after ``-``, which no
    sanitised name holds: distinct names, distinct files; a name sanitising keeps is kept as it is."""
    safe = _sanitised(name)
    return safe if safe == name else f"{safe}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


def _saved_from(baseline: Path, spec: Path, model: Optional[str]) -> bool:
    """Whether ``baseline`` was saved from the spec file ``spec`` (for a model: from this model of this test)."""
    try:
        stored = json.loads(baseline.read_text(encoding="utf-8")).get("spec_file")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(stored, str):
        return False
    from harness.regression.baseline import MODEL_SOURCE

    if model is not None:
        return stored == f"({MODEL_SOURCE}{model})"
    return (baseline.parent / stored).resolve() == spec.resolve()


def _keeps_r(baseline: Path) -> bool:
    try:
        return "r" in json.loads(baseline.read_text(encoding="utf-8")).get("engines", [])
    except (OSError, ValueError, AttributeError):
        return False


def _outcome(code: int, baseline: Path) -> str:
    from harness.regression.baseline_check import CHECK_OUTCOMES

    if code == 1:
        return f"{CHECK_OUTCOMES[1]} since {baseline}"
    if code in CHECK_OUTCOMES:
        return f"{CHECK_OUTCOMES[code]} in the check against {baseline}"
    return f"the check against {baseline} {'was refused' if code == 2 else 'failed'}"


def _statuses(run: Path) -> str:
    """Each row's status from a run's results.json, and where its report is ('' without one)."""
    try:
        results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    from harness.report.cells import terminal_reason

    rows = [f"  {row['id']}: {terminal_reason(row) or _status(row)}" for row in results.get("specs", [])]
    return "\n".join([*rows, f"report: {run / 'report.html'}"])


def _status(row: dict) -> str:
    """A row's status, and an error's message with it."""
    status = str(row.get("status"))
    return f"{status}: {row['error']}" if status == "error" and row.get("error") else status
