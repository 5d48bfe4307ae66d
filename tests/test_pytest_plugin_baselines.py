"""What the plugin says of the file at a test's baseline path, as a team meets it.

- A baseline written where R did not load (Python's numbers only), then checked where R loads: the
  summary says parity was never judged, a CI that requires R fails, and ``--dml-parity-regen``
  writes R's numbers in. Until 2026-12-07 such a baseline passed quietly for ever.
- A file there that dml-parity did not write: the failure says to move it away. Until 2026-12-07 it
  said ``--dml-parity-regen`` rewrites it, which then refused to (an outside team)."""

from __future__ import annotations

import json

import pytest

from harness.api.parity_fixture import PYTHON_ONLY_START
from harness.regression.stored_r import PYTHON_ONLY
from tests.test_pytest_plugin import BASELINE, PLUGIN, _without_r, project, warm  # noqa: F401 (fixtures, used by name)

pytest_plugins = ["pytester"]


def test_the_plugin_knows_how_such_a_check_begins() -> None:
    assert PYTHON_ONLY.startswith(PYTHON_ONLY_START)


@pytest.mark.r
def test_a_baseline_without_r_is_said_required_and_regenerated_where_r_loads(project, monkeypatch, warm) -> None:  # noqa: F811
    with monkeypatch.context() as hidden:
        _without_r(project, hidden)
        first = project.runpytest_subprocess(*PLUGIN)
        first.assert_outcomes(passed=1, failed=1)
        first.stdout.fnmatch_lines(["*dml-parity baseline not found, created (R not loadable here*"])
    assert json.loads((project.path / BASELINE).read_text(encoding="utf-8"))["engines"] == ["python"]
    (project.path / "test_no_r.py").unlink()

    monkeypatch.delenv("DMLP_REQUIRE_R", raising=False)
    quiet = project.runpytest_subprocess(*PLUGIN)
    quiet.assert_outcomes(passed=1)  # Python did not move: as a regression test it passes, and says what it is
    said = "test_effect.dml.json: R not in the baseline: it holds Python's numbers only*"
    quiet.stdout.fnmatch_lines(["*- dml-parity -*", said])

    required = project.runpytest_subprocess(*PLUGIN, "--dml-parity-require-r")
    required.assert_outcomes(failed=1)
    required.stdout.fnmatch_lines(["*R is required here*test_effect.dml.json holds Python's numbers only*--dml-parity-regen*"])

    regen = project.runpytest_subprocess(*PLUGIN, "--dml-parity-regen")
    regen.assert_outcomes(failed=1)
    regen.stdout.fnmatch_lines(["*--dml-parity-regen is set, rewrote:*"])
    assert json.loads((project.path / BASELINE).read_text(encoding="utf-8"))["engines"] == ["python", "r"]
    after = project.runpytest_subprocess(*PLUGIN, "--dml-parity-require-r")
    after.assert_outcomes(passed=1)
    assert "R not in the baseline" not in after.stdout.str()


def test_a_file_dml_parity_did_not_write_is_named_with_what_to_do(project, monkeypatch) -> None:  # noqa: F811
    _without_r(project, monkeypatch)
    foreign = project.path / BASELINE
    foreign.parent.mkdir(parents=True)
    foreign.write_text(json.dumps({"notes": "the team's own file"}), encoding="utf-8")
    result = project.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_effect.dml.json is a file dml-parity did not write: move it away*"])
    assert "--dml-parity-regen rewrites" not in result.stdout.str()
    assert json.loads(foreign.read_text(encoding="utf-8")) == {"notes": "the team's own file"}


def test_a_damaged_baseline_is_named_with_what_to_do(project, monkeypatch) -> None:  # noqa: F811
    """Cut short: until 2026-12-07 the failure advised --dml-parity-regen, which then refused to
    overwrite a file it could not read (an outside user)."""
    _without_r(project, monkeypatch)
    project.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=1, failed=1)  # the first run saves it
    saved = project.path / BASELINE
    saved.write_bytes(saved.read_bytes()[:500])
    result = project.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_effect.dml.json cannot be read as a baseline: move it away*"])
    assert "--dml-parity-regen" not in result.stdout.str()
    saved.unlink()  # as advised
    project.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=1, failed=1)
    project.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=2)
