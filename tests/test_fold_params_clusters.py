"""Parameters set per fold on a clustered model (doubleml's ``set_ml_nuisance_params`` per fold, as
``tune(tune_on_folds=True)`` leaves a model), the way a panel's user meets them: firms clustered one
way, and firms and years two ways, where both packages cross-fit on n_folds² cells. Until
2026-12-06 the tool refused any per-fold parameters on a clustered model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import harness
from harness.cli import main
from tests.test_api import (
    FIRM_CONTROLS,
    firms_and_years,
    folds_held,
    jtrain,
    lasso,
    ols,
    python_side_is_the_model,
    same_as_the_cli,
)


def _alphas(n_rep: int, n_folds: int, start: float) -> list[list[dict]]:
    """A different penalty in every repetition and fold, far enough apart to move the fit."""
    return [[{"alpha": start * 3.0 ** (r * n_folds + k)} for k in range(n_folds)] for r in range(n_rep)]


def _one_way(n_rep: int):
    import doubleml as dml

    data = dml.DoubleMLData(jtrain(recorded_only=True), y_col="scrap", d_cols="grant", x_cols=FIRM_CONTROLS, cluster_cols="fcode")
    np.random.seed(4)
    return dml.DoubleMLPLR(data, ml_l=lasso(0.01), ml_m=ols(), n_folds=3, n_rep=n_rep)


@pytest.mark.r
def test_per_fold_penalties_on_a_model_clustered_by_firm(tmp_path: Path) -> None:
    plr = _one_way(n_rep=2)
    per_fold = _alphas(2, 3, 0.001)
    plr.set_ml_nuisance_params("ml_l", "grant", per_fold)
    plr.fit()
    result = harness.compare(plr)
    assert result.status == "explained" and result.checks["ok"].all(), result.summary()  # n_rep > 1
    python_side_is_the_model(result, plr)  # the tool's refit with the fold parameters reproduced it
    folds_held(result)
    assert result.rows[0]["r"]["coef_reps"] == pytest.approx([float(v) for v in plr.all_coef[0]], rel=1e-8)
    spec = yaml.safe_load(result.to_spec(tmp_path / "spec").read_text(encoding="utf-8"))["specs"][0]
    assert spec["fold_params"] == {"ml_l": per_fold} and spec["cluster"] == ["fcode"]
    same_as_the_cli(result, tmp_path)


@pytest.mark.r
def test_per_fold_penalties_on_firm_and_year_clusters_cover_every_cell(tmp_path: Path) -> None:
    import doubleml as dml

    data = firms_and_years()
    np.random.seed(9)
    plr = dml.DoubleMLPLR(data, ml_l=lasso(0.01), ml_m=lasso(0.01), n_folds=2)
    assert plr.n_folds == 4  # two folds per cluster variable: four cells
    per_fold = _alphas(1, 4, 0.0005)
    plr.set_ml_nuisance_params("ml_m", "grant", per_fold)
    plr.fit()
    result = harness.compare(plr)
    assert result.status == "agree", result.summary()
    python_side_is_the_model(result, plr)
    folds_held(result)
    # doubleml numbers the cells (firm fold, year fold) with the year fastest, the tool with the
    # firm: the spec lists the model's cells 1 and 2 the other way round (read as they were, the
    # penalties of those two cells went to each other's cell, and the run ended disagree).
    spec = yaml.safe_load(result.to_spec(tmp_path / "spec").read_text(encoding="utf-8"))["specs"][0]
    [[a, b, c, d]] = per_fold
    assert spec["fold_params"] == {"ml_m": [[a, c, b, d]]}
    same_as_the_cli(result, tmp_path)


@pytest.mark.r
def test_a_cell_given_another_cells_penalty_in_r_disagrees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: R handed the folds' penalties in reverse order ends disagree."""
    from harness.engines import r_arguments

    plr = _one_way(n_rep=1)
    plr.set_ml_nuisance_params("ml_l", "grant", _alphas(1, 3, 0.001))
    plr.fit()
    spec = harness.compare(plr, engines=("python",)).to_spec(tmp_path / "spec")
    own = r_arguments._r_fold_params
    def reversed_folds(*args):
        return {d: {n: [per[::-1] for per in reps] for n, reps in by_n.items()} for d, by_n in own(*args).items()}

    monkeypatch.setattr(r_arguments, "_r_fold_params", reversed_folds)
    monkeypatch.setenv("DMLP_IN_PROCESS", "1")  # the fits in this process, where the mutation is
    code = main(["run", "--specs", str(spec), "--out", str(tmp_path / "out"), "--quiet", "--no-cache"])
    assert code == 1
    results = yaml.safe_load((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert [row["status"] for row in results["specs"]] == ["disagree"]
