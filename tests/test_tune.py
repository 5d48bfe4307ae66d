"""A spec's ``tune:`` block (issue 23): both packages search the same grid on the tool's inner
folds and the run shows what each chose.

* a spec without a tune block keeps its content hash (caches and the stored baseline hold);
* bad tune blocks (an unknown nuisance, a parameter the pair lacks, a value one side cannot take,
  two values that are one value in R) are refused with one line naming the field, exit 2;
* a grid whose best point is known by construction is found by both (lasso and forest), every
  search on inner folds that are the same rows in both languages, with ``n_rep > 1`` (which
  doubleml 0.11.4's own ``tune(tune_on_folds=True)`` cannot run);
* through the command line, a tuned lasso agrees at the exact tier with the same choices, and
  results.json and the report show them side by side.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.design.inner_folds import inner_fold_labels, inner_order
from harness.design.table import build_design, draw_folds
from harness.language.spec import DatasetSpec, Spec, load_spec_file
from tests.conftest import make_tables, run_spec_text

ROOT = Path(__file__).resolve().parents[1]
X = ["x1", "x2", "x3", "skew", "near"]


def test_specs_without_tune_keep_their_content_hash() -> None:
    baseline = json.loads((ROOT / "specs" / "paper_baseline.json").read_text())
    specs = load_spec_file(ROOT / "specs" / "paper.yaml").specs
    stored = {s.id: baseline["specs"][s.id]["sha256"] for s in specs if s.id in baseline["specs"]}
    assert len(stored) > 10
    assert all(s.content_hash() == stored[s.id] for s in specs if s.id in stored)
    tuned = Spec(id="a", model="plr", y="y", d="d", x=["x1"], learner="lasso", tune={"grid": {"ml_l": {"alpha": [0.1, 1.0]}}})
    other = Spec(id="a", model="plr", y="y", d="d", x=["x1"], learner="lasso", tune={"grid": {"ml_l": {"alpha": [0.1, 2.0]}}})
    assert tuned.content_hash() != other.content_hash()  # the grid is part of the hash (and the cache key)


def _cli(tmp_path: Path, spec_text: str, *args: str) -> subprocess.CompletedProcess:
    return run_spec_text(tmp_path, spec_text, *args, timeout=900)


GENERATED = """
dataset: {{generator: {{name: make_plr_CCDDHNR2018, n_obs: 100, dim_x: 3, alpha: 0.5}}}}
defaults: {{n_folds: 2, seed: 1}}
specs:
  - {{id: bad, model: {model}, y: y, d: d, x: [X1, X2, X3], learner: {learner}, tune: {tune}}}
"""


@pytest.mark.parametrize(
    "model, learner, tune, says",
    [
        ("plr", "lasso", "{grid: {ml_g: {alpha: [0.1, 1]}}}", "tune.grid: 'ml_g' is not a nuisance of plr"),
        ("plr", "lasso", "{grid: {ml_l: {l1_ratio: [0.1, 1]}}}", "tune.grid.ml_l.l1_ratio: learner 'lasso' has no parameter"),
        ("plr", "lasso", "{grid: {ml_l: {alpha: [0.1, -1]}}}", "tune.grid.ml_l.alpha: value -1 refused in Python"),
        ("plr", "rf", "{grid: {ml_l: {random_state: [null, 1]}}}", "tune.grid.ml_l.random_state: value None has no R value"),
        ("plr", "rf", "{grid: {ml_m: {max_features: [0.4, 0.5]}}}", "values 0.4 and 0.5 are the same value in R (1)"),
        ("plr", "lasso", "{grid: {ml_l: {alpha: [0.1, 1]}}, n_folds_tune: 1}", "field 'tune.n_folds_tune': must be at least 2"),
        ("plr", "lasso", "{grid: {ml_l: {alpha: [0.1, 1]}}, search: random}", "field 'tune.search'"),
        ("plr", "lasso_cv", "{grid: {ml_l: {cv: [3, 4]}}}", "'lasso_cv' chooses its penalty itself"),
        ("pliv", "lasso", "{grid: {ml_l: {alpha: [0.1, 1]}}}", "tuning is supported for plr (partialling out) and irm"),
    ],
)
def test_a_bad_tune_block_is_refused_with_one_line(tmp_path: Path, model: str, learner: str, tune: str, says: str) -> None:
    text = GENERATED.format(model=model, learner=learner, tune=tune)
    if model == "pliv":
        text = text.replace("x: [X1, X2, X3]", "x: [X1, X2], z: X3")
    done = _cli(tmp_path, text, "--engines", "python")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "spec 'bad'" in lines[0] and says in lines[0], lines
    assert not (tmp_path / "out").exists()


def _fit_both(spec: Spec, data):
    from harness.engines.python_engine import fit_python
    from harness.engines.r_engine import fit_r

    design = build_design(spec, data, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    return design, folds, fit_python(spec, design, folds), fit_r(spec, design, folds)


@pytest.mark.r
@pytest.mark.parametrize(
    "model, learners, tune, best, on_folds",
    [
        # y and d: strong linear signals with little noise, so the smallest penalty is best (5.0 is
        # above alpha_max: every coefficient 0, the mean predicted).
        ("plr", {"learner": "lasso"}, {"ml_l": {"alpha": [5.0, 1e-4, 0.5]}, "ml_m": {"alpha": [5.0, 1e-4]}},
         {"ml_l": {"alpha": 1e-4}, "ml_m": {"alpha": 1e-4}}, True),
        # one search on all rows (on_folds: false) serves every fold
        ("plr", {"learner": "lasso"}, {"ml_l": {"alpha": [5.0, 1e-4]}}, {"ml_l": {"alpha": 1e-4}}, False),
        # a leaf of at least 200 rows in a training set of ~80 is no split at all: the mean
        ("irm", {"learners": {"ml_g": {"name": "rf", "n_estimators": 50}, "ml_m": "logit"}},
         {"ml_g": {"min_samples_leaf": [200, 3]}}, {"ml_g0": {"min_samples_leaf": 3}, "ml_g1": {"min_samples_leaf": 3}}, True),
    ],
)
def test_a_known_best_point_is_found_by_both_on_the_same_inner_folds(model, learners, tune, best, on_folds) -> None:
    rng = np.random.default_rng(8)
    data = make_tables(seed=9, n=240)
    data["y"] = 3.0 * data["x1"] - 2.0 * data["x2"] + 0.1 * rng.normal(size=len(data))
    data["d"] = 2.0 * data["x3"] + 0.1 * rng.normal(size=len(data))
    d = "db" if model == "irm" else "d"
    tune_block = {"grid": tune, "n_folds_tune": 4, "on_folds": on_folds}
    spec = Spec(id="t", model=model, y="y", d=d, x=X, n_folds=3, n_rep=2, seed=5, tune=tune_block, **learners)
    design, folds, py, r = _fit_both(spec, data)
    assert sorted(py.tuned) == sorted(r.tuned) == sorted(best)
    order, treat = inner_order(design.n_obs, spec.seed), design.frame[d].to_numpy()
    for name, point in best.items():
        grid = tune[name[:4]]
        key, value = next(iter(point.items()))
        index = grid[key].index(value)
        for result in (py, r):
            assert result.tuned[name]["choice"].shape == ((2, 3) if on_folds else (1, 1))
            assert (result.tuned[name]["choice"] == index).all(), (name, result.tuned[name]["choice"])
        # the inner folds: the same rows in both languages, and the tool's rule on each training set
        assert np.array_equal(py.tuned[name]["folds"], r.tuned[name]["folds"]), name
        training = [[train for train, _ in rep] for rep in folds.smpls(None)] if on_folds else [[np.arange(design.n_obs)]]
        for rep, sets in enumerate(training):
            for k, train in enumerate(sets):
                rows = train if name[-1] not in "01" else train[treat[train] == float(name[-1])]
                expected = np.full(design.n_obs, -1)
                expected[rows] = inner_fold_labels(rows, order, 4)
                assert np.array_equal(r.tuned[name]["folds"][rep, k], expected), (name, rep, k)


LASSO_SPEC = """
dataset: {{path: {data}}}
defaults: {{n_folds: 3, seed: 1}}
specs:
  - id: tuned_lasso
    model: plr
    y: y
    d: d
    x: [x1, x2, x3, skew, near]
    learner: lasso
    tier: exact
    tune:
      grid: {{ml_l: {{alpha: [0.001, 0.05, 0.5]}}, ml_m: {{alpha: [0.01, 0.03, 0.1, 0.2]}}}}
      n_folds_tune: 3
      on_folds: true
"""


@pytest.mark.r
def test_a_tuned_lasso_through_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    make_tables(seed=4, n=300).to_csv(data, index=False)
    done = _cli(tmp_path, LASSO_SPEC.format(data=data))
    assert done.returncode == 0, done.stderr
    spec = json.loads((tmp_path / "out" / "results.json").read_text())["specs"][0]
    assert spec["status"] == "agree" and spec["tier"] == "exact"
    tuning = spec["tuning"]
    assert tuning["match"] and set(tuning["nuisances"]) == {"ml_l", "ml_m"}
    entry = tuning["nuisances"]["ml_l"]
    assert len(entry["python"]) == 1 and len(entry["python"][0]) == 3 and entry["python"] == entry["r"]
    # folds that chose different points: each fold is fitted at its own in both languages (DoubleML
    # 1.0.2 alone fits every fold at the last fold's point, r_scripts/tuning.R), else no exact agree
    assert len({p["alpha"] for p in entry["python"][0]}) > 1
    assert len({p["alpha"] for p in tuning["nuisances"]["ml_m"]["python"][0]}) > 1
    names = {c["name"] for c in spec["checks"]}
    assert {"tune.ml_l.inner_folds", "tune.ml_l.choice", "tune.ml_m.choice"} <= names
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Tuning" in report and "alpha=0.001 / alpha=0.05 / alpha=0.5" in report
    assert 'id="tuning"' in (tmp_path / "out" / "report.html").read_text()
    # the cache key holds the tune block: another grid is fitted again, not served
    again = _cli(tmp_path, LASSO_SPEC.format(data=data).replace("0.2]", "0.3]"))
    assert again.returncode == 0, again.stderr
    spec2 = json.loads((tmp_path / "out" / "results.json").read_text())["specs"][0]
    assert spec2["cache"] == "fitted" and spec2["tuning"]["nuisances"]["ml_m"]["grid"][3] == {"alpha": 0.3}
    # and the same spec again is served from the cache with its choices (the codec keeps them)
    third = _cli(tmp_path, LASSO_SPEC.format(data=data).replace("0.2]", "0.3]"))
    assert third.returncode == 0, third.stderr
    spec3 = json.loads((tmp_path / "out" / "results.json").read_text())["specs"][0]
    assert spec3["cache"] == "served" and spec3["tuning"] == spec2["tuning"]


def test_every_cross_validated_pair_draws_the_tools_inner_folds() -> None:
    # Issue 23: a `*_cv` pair left to choose its own inner folds would compare two CVs on different
    # rows. The registry has one, lasso_cv, whose both sides take the tool's folds (tests/test_inner_cv.py).
    from harness.engines.shared_cv import LassoCVSharedFolds
    from harness.language.learners import LEARNERS

    cv_pairs = sorted(name for name in LEARNERS if name.endswith("_cv") or "cv" in LEARNERS[name].r_key.get("regr", ""))
    assert cv_pairs == ["lasso_cv"]
    assert isinstance(LEARNERS["lasso_cv"].python["regr"](), LassoCVSharedFolds)
    assert LEARNERS["lasso_cv"].r_key["regr"] == "regr.cv_glmnet_shared"
