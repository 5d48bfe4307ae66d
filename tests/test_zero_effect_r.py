"""A zero effect through both packages (issue 19, item 2), as the issue found it: a real clustered
panel (the NLS wage panel ``wagepan``, 545 men × 8 years), IRM ATTE, ols/logit, n_rep 2, one
repetition's coefficient at zero. The outcome is moved by ``c * union`` so that Python's first
repetition estimates 0 to rounding — a placebo outcome, as a user checks one. Through the command
line it must not be ``disagree``; with R's zero-effect repetition moved by 1e-8 se (100 × the pair's
tolerance), it must be."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.engines import r_engine
from tests.faults import env
from tests.matrix_cases import MatrixCase, effect_frame
from tests.test_matrix_r import _run

pytestmark = pytest.mark.r

CASE = MatrixCase("wagepan", "irm_atte", "oneway", 2, 5, "large", "zero")


def _spec_file(folder: Path) -> Path:
    fields = CASE.spec_fields()
    data = folder / "placebo.csv"
    effect_frame(CASE).to_csv(data, index=False)
    spec = {
        "dataset": {"path": str(data)},
        "specs": [
            {
                "id": "placebo",
                **{k: fields[k] for k in ("model", "score", "y", "d", "x", "learners", "cluster", "n_rep", "n_folds", "seed")},
            }
        ],
    }
    path = folder / "placebo.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    return path


def test_a_placebo_on_a_clustered_panel_agrees_through_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--specs", _spec_file(tmp_path), "--out", out, "--no-cache", "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env())
    spec = json.loads((out / "results.json").read_text())["specs"][0]
    failed = [(c["name"], c["value"]) for c in spec["checks"] if not c["ok"]]
    assert proc.returncode == 0 and spec["status"] in ("agree", "explained") and not failed, (proc.stderr, failed)
    python = spec["python"]
    # The placebo's first repetition is at zero (where |a - b| / max(|a|, |b|) had no scale left).
    assert abs(python["coef_reps"][0]) < 1e-12 * python["se_reps"][0]
    coef_rep1 = [c for c in spec["checks"] if c["quantity"] == "coef" and c["rep"] == 1]
    assert coef_rep1 and all(c["metric"] == "relative to max(|coef|, se)" for c in coef_rep1)


def test_a_real_difference_at_zero_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    original = r_engine.fit_r

    def moved(*args, **kwargs):
        result = original(*args, **kwargs)
        coef_reps = result.coef_reps.copy()
        coef_reps[0] += 1e-8 * result.se_reps[0]
        return dataclasses.replace(result, coef_reps=coef_reps)

    monkeypatch.setattr(r_engine, "fit_r", moved)
    result = _run(CASE)
    failed = {c["name"] for c in result["checks"] if not c["ok"]}
    assert result["status"] == "disagree"
    assert "end_to_end.r_rule_on_python.coef.rep1" in failed and "learner_free.r_rule.coef.rep1" in failed, failed
    assert np.isfinite([c["value"] for c in result["checks"] if c["name"] == "end_to_end.r_rule_on_python.coef.rep1"]).all()
