"""The verdict rules without R: compare() on engine results built from real Python fits.

The R result is constructed as R would report it for the same predictions (R's aggregation and R's
ATTE rule, from harness.verdict.formulas), so every rule of the verdict runs in any test environment; one
quantity is then perturbed at a time and the verdict must turn to ``disagree`` naming that check.
Whether the formulas are R's own is tested against R itself in test_matrix_r.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import harness.verdict.compare as compare_module
from harness.design.table import build_design, draw_folds
from harness.engines.python_engine import fit_python
from harness.engines.result import EngineResult
from harness.language.spec import DatasetSpec, Spec
from harness.verdict.checks import VerdictError, assert_covered, required_coverage
from harness.verdict.compare import compare
from harness.verdict.formulas import atte_reps, python_aggregate, r_aggregate, var_scaling_factor
from tests.conftest import make_tables

EXACT = {"ml_l": "ols", "ml_m": "ols", "ml_g": "ols", "ml_r": "ols"}
CASES = {
    "plr_po": dict(model="plr", d="d", learners={"ml_l": "ols", "ml_m": "ols"}),
    "plr_iv": dict(model="plr", d="d", score="IV-type", learners={"ml_l": "ols", "ml_m": "ols", "ml_g": "ols"}),
    "pliv": dict(model="pliv", d="d", z=["zc"], learners={"ml_l": "ols", "ml_m": "ols", "ml_r": "ols"}),
    "irm_ate": dict(model="irm", d="db", learners={"ml_g": "ols", "ml_m": "logit"}),
    "irm_atte": dict(model="irm", d="db", score="ATTE", learners={"ml_g": "ols", "ml_m": "logit"}),
    "iivm": dict(model="iivm", d="db", z=["z"], learners={"ml_g": "ols", "ml_m": "logit", "ml_r": "logit"}),
}
DATA = make_tables(seed=11, n=400)


def _spec(case: str, n_rep: int = 1, cluster=None, **extra) -> Spec:
    fields = {"id": case, "y": "y", "x": ["x1", "x2", "x3"], "n_folds": 3, "n_rep": n_rep, "seed": 4, **CASES[case], **extra}
    return Spec(**fields, cluster=cluster)


def _as_r(spec: Spec, design, folds, py: EngineResult) -> EngineResult:
    """What R reports for Python's predictions: the same repetitions (ATTE: R's per-fold share) and R's
    aggregation."""
    if spec.model == "irm" and spec.score_name == "ATTE":
        reps = atte_reps("r", design, folds, py.predictions, spec.trimming_threshold)
        coef_reps, se_reps = reps["coef_reps"], reps["se_reps"]
    else:
        coef_reps, se_reps = py.coef_reps.copy(), py.se_reps.copy()
    agg = r_aggregate(coef_reps, se_reps, var_scaling_factor(design))
    predictions = {k: v.copy() for k, v in py.predictions.items()}
    return EngineResult(agg.coef, agg.se, agg.t, agg.p, agg.ci, coef_reps, se_reps, predictions, 0.0, folds.labels.copy())


@pytest.fixture(scope="module")
def fitted() -> dict:
    """Real Python fits: one per case, n_rep 1 and 4, with and without one-way clusters."""
    out = {}
    for case in CASES:
        for n_rep in (1, 4):
            for cluster in (None, ["g"]):
                spec = _spec(case, n_rep, cluster)
                design = build_design(spec, DATA, DatasetSpec(), "generated")
                folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
                py = fit_python(spec, design, folds)
                out[(case, n_rep, bool(cluster))] = (spec, design, folds, py, _as_r(spec, design, folds, py))
    return out


def _judge(entry, py=None, r=None, lf=None):
    spec, design, folds, py0, r0 = entry
    py, r = py or py0, r or r0
    # Python's code on R's predictions: with identical predictions, Python's own numbers.
    return compare(spec, design, folds, py, r, lf or py0)


def _failed(comparison) -> set[str]:
    return {c.name for c in comparison.checks if not c.ok}


KEYS = [(case, n_rep, cl) for case in CASES for n_rep in (1, 4) for cl in (False, True)]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-nrep{k[1]}-{'cluster' if k[2] else 'plain'}")
def test_same_predictions_agree_or_are_explained(fitted: dict, key) -> None:
    result = _judge(fitted[key])
    case, n_rep, _ = key
    assert not _failed(result), _failed(result)
    intended = n_rep > 1 or case == "irm_atte"
    assert result.status == ("explained" if intended else "agree")
    # Every compared quantity of every repetition and of the aggregate has an end-to-end check.
    covered = {(c.quantity, c.rep) for c in result.checks if c.layer == "end_to_end"}
    assert required_coverage("exact", n_rep) <= covered


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-nrep{k[1]}-{'cluster' if k[2] else 'plain'}")
def test_coef_times_one_plus_1e6_disagrees(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    bumped = dataclasses.replace(py, coef=py.coef * (1 + 1e-6), coef_reps=py.coef_reps * (1 + 1e-6))
    failed = _failed(_judge(fitted[key], py=bumped))
    assert any(".coef" in name and name.startswith("end_to_end") for name in failed), failed


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-nrep{k[1]}-{'cluster' if k[2] else 'plain'}")
def test_one_repetitions_se_disagrees(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    rep = folds.n_rep - 1
    se_reps = r.se_reps.copy()
    se_reps[rep] *= 1 + 1e-7
    result = _judge(fitted[key], r=dataclasses.replace(r, se_reps=se_reps))
    assert result.status == "disagree"
    assert any(name.endswith(f"se.rep{rep + 1}") for name in _failed(result)), _failed(result)


@pytest.mark.parametrize("case", list(CASES))
def test_one_nuisance_prediction_disagrees(fitted: dict, case: str) -> None:
    spec, design, folds, py, r = fitted[(case, 1, False)]
    name = next(iter(sorted(k for k, v in r.predictions.items() if not np.isnan(v).all())))
    predictions = {k: v.copy() for k, v in r.predictions.items()}
    predictions[name][7, 0] += 1e-3
    result = _judge(fitted[(case, 1, False)], r=dataclasses.replace(r, predictions=predictions))
    assert result.status == "disagree"
    assert f"nuisance.{name}.max_rel_diff" in _failed(result)


@pytest.mark.parametrize("case", list(CASES))
def test_a_swapped_fold_disagrees(fitted: dict, case: str) -> None:
    spec, design, folds, py, r = fitted[(case, 1, False)]
    labels = r.folds.copy()
    a, b = np.flatnonzero(labels[0] == 0)[0], np.flatnonzero(labels[0] == 1)[0]
    labels[0, [a, b]] = labels[0, [b, a]]
    result = _judge(fitted[(case, 1, False)], r=dataclasses.replace(r, folds=labels))
    assert "folds.r" in _failed(result)


def test_even_n_rep_p_value_is_the_models_not_the_median_of_p(fitted: dict) -> None:
    spec, design, folds, py, r = fitted[("plr_po", 4, False)]
    agg = python_aggregate(py.coef_reps, py.se_reps)
    # doubleml's model reports p from the aggregated coef and se ...
    assert agg.p == pytest.approx(py.p, rel=0, abs=1e-15)
    # ... which is not the framework's median of per-repetition p-values.
    from scipy.stats import norm

    median_p = float(np.median(2 * norm.sf(np.abs(py.coef_reps / py.se_reps))))
    assert abs(np.log(median_p) - np.log(py.p)) > 1e-3


def test_tiny_p_values_compare_absolutely() -> None:
    # Two p-values from t statistics 1e-14 apart differ relatively by ~1e-12 at t = 15, yet mean the same.
    from scipy.stats import norm

    from harness.verdict.checks import rel_diff

    t = 15.0
    p1, p2 = 2 * norm.sf(t), 2 * norm.sf(t * (1 + 1e-14))
    assert rel_diff(p1, p2) > 1e-13
    assert abs(p1 - p2) < 1e-40


def test_a_comparison_without_checks_raises(fitted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare_module, "exact_checks", lambda *args, **kwargs: [])
    with pytest.raises(VerdictError, match="no end-to-end check"):
        _judge(fitted[("plr_po", 1, False)])


def test_a_missing_repetition_check_raises() -> None:
    checks = [c for c in _judge_cache() if c.rep != 2]
    with pytest.raises(VerdictError, match="repetition 2"):
        assert_covered(checks, "exact", 4, "x")


def _judge_cache():
    spec = _spec("plr_po", 4)
    design = build_design(spec, DATA, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    py = fit_python(spec, design, folds)
    return compare(spec, design, folds, py, _as_r(spec, design, folds, py), py).checks


def test_a_wrong_rule_is_not_an_explanation(fitted: dict) -> None:
    spec, design, folds, py, r = fitted[("plr_po", 4, False)]
    # R aggregated by Python's rule: the written-down R rule no longer reproduces R.
    wrong = python_aggregate(r.coef_reps, r.se_reps)
    result = _judge(fitted[("plr_po", 4, False)], r=dataclasses.replace(r, se=wrong.se, t=wrong.t, p=wrong.p, ci=wrong.ci))
    assert result.status == "disagree"
    assert "end_to_end.r_rule_on_python.se" in _failed(result) and "rule.r.se" in _failed(result)


def _shifted(py: EngineResult, share_of_se: float) -> EngineResult:
    """Python's result with every repetition moved by a share of its se, aggregated by Python's rule."""
    coef_reps = py.coef_reps + share_of_se * py.se_reps
    agg = python_aggregate(coef_reps, py.se_reps)
    return dataclasses.replace(py, coef=agg.coef, se=agg.se, t=agg.t, p=agg.p, ci=agg.ci, coef_reps=coef_reps)


def test_statistical_tier_compares_with_pythons_code_on_rs_predictions(fitted: dict) -> None:
    spec, design, folds, py, r = fitted[("plr_po", 1, False)]
    stat = spec.model_copy(update={"tier": "statistical"})
    small = _shifted(py, 0.05)
    agreed = compare(stat, design, folds, small, r, py)
    assert agreed.status == "agree", _failed(agreed)
    large = _shifted(py, 0.5)
    failed = _failed(compare(stat, design, folds, large, r, py))
    assert {"end_to_end.coef", "end_to_end.coef.rep1"} <= failed
    covered = {(c.quantity, c.rep) for c in agreed.checks if c.layer == "end_to_end"}
    assert required_coverage("statistical", 1) <= covered


def test_statistical_learner_free_layer_catches_a_score_difference(fitted: dict) -> None:
    spec, design, folds, py, r = fitted[("irm_ate", 1, False)]
    stat = spec.model_copy(update={"tier": "statistical"})
    lf = dataclasses.replace(py, coef_reps=py.coef_reps * (1 + 1e-8))
    assert "learner_free.coef.rep1" in _failed(compare(stat, design, folds, py, r, lf))
