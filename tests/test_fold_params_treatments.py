"""Parameters set per fold and per treatment on a model of several treatments: doubleml's
``set_ml_nuisance_params(learner, treatment, ...)`` per fold, as ``tune(tune_on_folds=True)`` leaves
a model of several treatments. Each treatment's nuisances are fitted apart, and both packages take
their parameters per treatment. Until 2026-12-06 the tool refused such a model ("compared with one
treatment") and a spec that tried ("fold_params: one treatment only")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import harness
from harness.cli import main
from tests.test_api import CONTROLS, catholic, lasso, same_as_the_cli

TREATMENTS = ["cathhs", "female"]


def _two_treatments():
    import doubleml as dml

    data = dml.DoubleMLData(catholic(400), y_col="math12", d_cols=TREATMENTS, x_cols=CONTROLS[1:])
    np.random.seed(10)
    return dml.DoubleMLPLR(data, ml_l=lasso(0.01), ml_m=lasso(0.01), n_folds=3)


def _rising(start: float) -> list[list[dict]]:
    return [[{"alpha": start * 3.0**k} for k in range(3)]]


def _falling(start: float) -> list[list[dict]]:
    return [[{"alpha": start / 3.0**k} for k in range(3)]]


def _as_fitted(result: harness.ParityResult, model) -> None:
    """The tool's Python fit with the spec's parameters is the user's model, treatment by treatment."""
    assert [row["python"]["coef"] for row in result.rows] == [float(c) for c in model.coef]
    assert [row["python"]["se"] for row in result.rows] == [float(s) for s in model.se]


@pytest.mark.r
def test_each_treatment_its_own_penalties_per_fold(tmp_path: Path) -> None:
    plr = _two_treatments()
    plr.set_ml_nuisance_params("ml_l", "cathhs", _rising(0.002))
    plr.set_ml_nuisance_params("ml_l", "female", _falling(0.05))
    plr.set_ml_nuisance_params("ml_m", "female", _rising(0.002))  # cathhs's ml_m keeps the learner's own
    plr.fit()
    result = harness.compare(plr)
    assert result.status == "agree" and result.checks["ok"].all(), result.summary()
    assert [row["d"] for row in result.rows] == TREATMENTS
    _as_fitted(result, plr)
    folds = result.checks[result.checks["layer"] == "folds"]  # both packages' folds, read back, per treatment
    assert len(folds) == 4 and folds["ok"].all() and (folds["value"] == 0).all()
    spec = yaml.safe_load(result.to_spec(tmp_path / "spec").read_text(encoding="utf-8"))["specs"][0]
    assert spec["fold_params"] == {
        "ml_l": {"cathhs": _rising(0.002), "female": _falling(0.05)},
        "ml_m": {"female": _rising(0.002)},
    }
    same_as_the_cli(result, tmp_path)


@pytest.mark.r
def test_every_treatment_alike_is_written_once(tmp_path: Path) -> None:
    plr = _two_treatments()
    for d in TREATMENTS:
        plr.set_ml_nuisance_params("ml_m", d, _falling(0.05))
    plr.fit()
    result = harness.compare(plr)
    assert result.status == "agree", result.summary()
    _as_fitted(result, plr)
    spec = yaml.safe_load(result.to_spec(tmp_path / "spec").read_text(encoding="utf-8"))["specs"][0]
    assert spec["fold_params"] == {"ml_m": _falling(0.05)}


@pytest.mark.r
def test_one_treatments_penalties_given_to_the_other_in_r_disagrees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: R handed each treatment the other's per-fold penalties ends disagree."""
    from harness.engines import r_arguments

    plr = _two_treatments()
    plr.set_ml_nuisance_params("ml_l", "cathhs", _rising(0.002))
    plr.set_ml_nuisance_params("ml_l", "female", _falling(0.05))
    plr.fit()
    spec = harness.compare(plr, engines=("python",)).to_spec(tmp_path / "spec")
    own = r_arguments._r_fold_params

    def swapped(*args):
        given = own(*args)
        first, second = list(given)
        return {first: given[second], second: given[first]}

    monkeypatch.setattr(r_arguments, "_r_fold_params", swapped)
    monkeypatch.setenv("DMLP_IN_PROCESS", "1")  # the fits in this process, where the mutation is
    code = main(["run", "--specs", str(spec), "--out", str(tmp_path / "out"), "--quiet", "--no-cache"])
    assert code == 1
    results = yaml.safe_load((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert "disagree" in [row["status"] for row in results["specs"]]
