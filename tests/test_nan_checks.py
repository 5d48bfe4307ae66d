"""NaN never passes a check (issue 19, item 5): each difference measure is one function in
harness/verdict/checks.py, and every layer of the verdict calls it.

Found before: the written-out score's check (SSM; PLIV partial Z/XZ) had its own relative difference
in which NaN became 0.0 and passed, and two NaN p-values were "the same significance" (neither
rejects at any level)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.design.generated import generate
from harness.design.table import build_design, draw_folds
from harness.engines.python_engine import fit_python
from harness.language.spec import DatasetSpec, Spec
from harness.verdict.checks import (
    abs_diff,
    at_least,
    at_most,
    coef_diff,
    diff_in_se,
    norm_rel_diff,
    rel_diff,
    same_significance,
    t_diff,
)
from harness.verdict.compare import compare
from harness.verdict.compare_extended import judge
from harness.verdict.scores import formula_fit
from tests.conftest import make_tables

NAN = float("nan")


@pytest.mark.parametrize(
    "value",
    [
        coef_diff(NAN, 1.0, 0.1),
        coef_diff(1.0, NAN, 0.1),
        coef_diff(1.0, 1.0, NAN),
        coef_diff(0.0, 0.0, 0.0),  # no scale at all: cannot be judged
        t_diff(NAN, NAN),
        rel_diff(NAN, NAN),
        abs_diff(NAN, 0.5),
        abs_diff(NAN, NAN),
        diff_in_se(1.0, 1.0, NAN),
        norm_rel_diff(np.array([1.0, NAN]), np.array([1.0, 2.0])),
    ],
)
def test_every_measure_of_nan_is_nan_and_fails(value: float) -> None:
    assert np.isnan(value)
    assert not at_most("x", "end_to_end", "coef", None, value, 1e300, "m").ok


def test_two_nan_p_values_are_not_the_same_significance() -> None:
    assert np.isnan(same_significance(NAN, NAN)) and np.isnan(same_significance(0.2, NAN))
    assert not at_least("x", "end_to_end", "p", None, same_significance(NAN, NAN), 1.0, "m").ok
    assert same_significance(0.2, 0.3) == 1.0 and same_significance(0.04, 0.06) == 0.0


def test_statistical_tier_with_nan_p_values_disagrees() -> None:
    spec = Spec(id="s", model="plr", y="y", d="d", x=["x1", "x2"], learner="ols", tier="statistical", n_folds=3)
    design = build_design(spec, make_tables(seed=5, n=300), DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    py = fit_python(spec, design, folds)
    blind = dataclasses.replace(py, p=NAN)
    result = compare(spec, design, folds, blind, py, blind)  # Python, and Python's code on R's predictions: NaN p
    failed = {c.name for c in result.checks if not c.ok}
    assert result.status == "disagree" and "end_to_end.p.same_significance" in failed, failed


@pytest.mark.parametrize("reported", ["finite", "nan"])
def test_a_nan_in_the_written_score_fails_its_check(reported: str) -> None:
    """SSM: the tool's written-out score on Python's predictions must reproduce Python's numbers. A
    NaN prediction makes the score NaN; whether Python reported a number or NaN, the check fails."""
    spec = Spec(id="ssm", model="ssm", y="y", d="d", s="s", x=["X1", "X2", "X3"], n_folds=3, seed=2,
                learners={"ml_g": "ols", "ml_pi": "logit", "ml_m": "logit"})  # fmt: skip
    frame = generate({"name": "make_ssm_data", "n_obs": 300, "dim_x": 3, "mar": True}, 7)
    design = build_design(spec, frame, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    py = fit_python(spec, design, folds)
    lf = formula_fit(spec, design, folds, [py.predictions])
    predictions = {k: v.copy() for k, v in py.predictions.items()}
    predictions["ml_pi"][0, 0] = NAN
    coef_reps = py.coef_reps.copy() if reported == "finite" else np.full_like(py.coef_reps, NAN)
    broken = dataclasses.replace(py, predictions=predictions, coef_reps=coef_reps)
    result = judge(spec, design, folds, broken, py, lf)
    failed = {c.name for c in result.checks if not c.ok}
    assert "learner_free.python_score.coef.rep1" in failed, failed


def test_a_check_of_one_treatment_is_named_and_marked_by_the_constructor() -> None:
    check = at_most("end_to_end.crit", "end_to_end", "crit", None, 0.5, 1.0, "m", treatment="d1")
    assert (check.name, check.treatment, check.ok) == ("d1/end_to_end.crit", "d1", True)
    assert at_least("x", "end_to_end", "p", None, 1.0, 1.0, "m").as_dict().get("treatment") is None
    # a check that cannot fail for a reason its limit does not show (too few draws) says so
    assert not at_most("x", "monte_carlo", "p_adjust", None, 0.0, 0.5, "m", can_fail=False).can_fail
    assert at_most("x", "end_to_end", "coef", None, 0.0, 0.5, "m").for_treatment("d2").name == "d2/x"
