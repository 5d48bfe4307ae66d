"""`check --baseline`: when estimates moved, name the package versions that changed since."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest

from harness.cli import main
from harness.regression.baseline import content_sha256, version_changes

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 11}
specs:
  - {id: ols_twin, model: plr, y: y, d: d, x: [x1, x2, x3, skew], learner: ols}
"""


@pytest.fixture()
def run_and_baseline(tmp_path: Path, generated_csv: Path) -> tuple[Path, Path]:
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    out, baseline = tmp_path / "run", tmp_path / "baseline.json"
    assert main(["run", "--specs", str(spec_path), "--engines", "python", "--out", str(out), "--no-cache", "--quiet"]) == 4
    assert main(["baseline", "save", str(out), "--to", str(baseline)]) == 0
    return out, baseline


def _edit(baseline: Path, change) -> None:
    data = json.loads(baseline.read_text(encoding="utf-8"))
    change(data)
    data["sha256"] = content_sha256(data)  # edited on purpose, to test the check on such numbers
    baseline.write_text(json.dumps(data), encoding="utf-8")


def test_moved_estimates_come_with_the_versions_that_changed(run_and_baseline, capsys) -> None:
    out, baseline = run_and_baseline

    def older_world(data: dict) -> None:
        # As if the baseline had been saved before an upgrade of scikit-learn, with R alongside.
        data["versions"]["python"]["scikit-learn"] = "1.5.2"
        data["versions"]["python"]["statsmodels"] = "0.14.0"  # no longer recorded now
        data["versions"]["r"] = {"R": "4.2.2", "DoubleML": "1.0.1"}
        data["estimates"]["ols_twin"]["python"]["coef"] *= 1 + 1e-6  # beyond ols's 1e-10

    _edit(baseline, older_world)
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "ols_twin" in printed and "moved beyond" in printed
    assert "3 package version(s) differ from the baseline's" in printed
    lines = {line.split("|")[2].strip(): line for line in printed.splitlines() if line.count("|") == 5}
    assert "1.5.2" in lines["scikit-learn"] and version("scikit-learn") in lines["scikit-learn"]
    assert "0.14.0" in lines["statsmodels"]
    # R ran for the baseline but not now: one row, not one per R package.
    assert "ran" in lines["*"] and "not run" in lines["*"] and "DoubleML" not in lines


def test_unchanged_versions_are_said_to_be_unchanged(run_and_baseline, capsys) -> None:
    out, baseline = run_and_baseline
    _edit(baseline, lambda data: data["estimates"]["ols_twin"]["python"].update(se=1.0))
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(out)]) == 1
    assert "package versions: the same as the baseline's" in capsys.readouterr().out


def test_version_changes_lists_changed_added_and_removed_packages() -> None:
    before = {"python": {"numpy": "2.3.0", "scipy": "1.16.0", "old": "1"}, "r": {"mlr3": "1.7.0", "ranger": "0.17.0"}}
    after = {"python": {"numpy": "2.4.6", "scipy": "1.16.0", "new": "2"}, "r": {"mlr3": "1.8.0", "ranger": "0.17.0"}}
    assert version_changes(before, after) == [
        {"language": "Python", "package": "new", "before": None, "after": "2"},
        {"language": "Python", "package": "numpy", "before": "2.3.0", "after": "2.4.6"},
        {"language": "Python", "package": "old", "before": "1", "after": None},
        {"language": "R", "package": "mlr3", "before": "1.7.0", "after": "1.8.0"},
    ]
    assert version_changes(before, before) == []
    assert version_changes({"python": {"a": "1"}, "r": None}, {"python": {"a": "1"}, "r": None}) == []
