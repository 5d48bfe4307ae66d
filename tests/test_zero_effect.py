"""A zero effect at the exact tier, without R: a placebo whose estimate sits at 0 must agree when the
packages match to rounding, and a real difference must still disagree (issue 19, item 2).

The data: the generated tables with the outcome moved by ``c * d``, where ``c`` is Python's first
repetition's estimate. With linear outcome learners (ols) every model here is linear in the outcome,
so the first repetition's estimate becomes ``c - c``: 0 up to rounding, exactly as a placebo outcome
or a null subgroup can land. R's result is built as in test_compare.py (R's rules on Python's
predictions) with a rounding-sized difference (1e-14 se) added to every repetition: two packages
that agree to machine precision. The relative measure |a - b| / max(|a|, |b|) made that ``disagree``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.design.table import build_design, draw_folds
from harness.engines.python_engine import fit_python
from harness.engines.result import EngineResult
from harness.language.spec import DatasetSpec, Spec
from harness.verdict.compare import compare
from harness.verdict.formulas import r_aggregate, var_scaling_factor
from tests.conftest import make_tables
from tests.test_compare import _as_r

CASES = {
    # id: spec fields, n_rep, clusters
    "plr": (dict(model="plr", d="d", learners={"ml_l": "ols", "ml_m": "ols"}), 1, None),
    "plr_iv_type": (dict(model="plr", d="d", score="IV-type", learners={"ml_l": "ols", "ml_m": "ols", "ml_g": "ols"}), 2, None),
    "pliv": (dict(model="pliv", d="d", z=["zc"], learners={"ml_l": "ols", "ml_m": "ols", "ml_r": "ols"}), 1, None),
    "irm_ate": (dict(model="irm", d="db", learners={"ml_g": "ols", "ml_m": "logit"}), 2, None),
    # The case: IRM ATTE, ols/logit, clustered, n_rep 2.
    "irm_atte": (dict(model="irm", d="db", score="ATTE", learners={"ml_g": "ols", "ml_m": "logit"}), 2, ["g"]),
}  # fmt: skip
ROUNDING = 1e-14  # in se: how far two packages that agree to machine precision may sit apart


def _fit(case: str, frame):
    fields, n_rep, cluster = CASES[case]
    spec = Spec(id=case, y="y", x=["x1", "x2", "x3"], n_folds=3, n_rep=n_rep, seed=4, cluster=cluster, **fields)
    design = build_design(spec, frame, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    return spec, design, folds, fit_python(spec, design, folds)


def _moved_r(design, folds, r: EngineResult, share_of_se: np.ndarray) -> EngineResult:
    """R's result with each repetition's coefficient moved by ``share_of_se`` of its se, re-aggregated."""
    coef_reps = r.coef_reps + share_of_se * r.se_reps
    agg = r_aggregate(coef_reps, r.se_reps, var_scaling_factor(design))
    return dataclasses.replace(r, coef=agg.coef, se=agg.se, t=agg.t, p=agg.p, ci=agg.ci, coef_reps=coef_reps)


@pytest.fixture(scope="module")
def placebo() -> dict:
    out = {}
    for case, (fields, _, _) in CASES.items():
        frame = make_tables(seed=11, n=400)
        _, _, _, first = _fit(case, frame)
        frame["y"] = frame["y"] - first.coef_reps[0] * frame[fields["d"]]
        spec, design, folds, py = _fit(case, frame)
        out[case] = (spec, design, folds, py, _as_r(spec, design, folds, py))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_a_zero_effect_that_matches_to_rounding_agrees(placebo: dict, case: str) -> None:
    spec, design, folds, py, r = placebo[case]
    # The placebo is at zero: far inside its se, a coefficient no relative measure can scale by.
    assert abs(py.coef_reps[0]) < 1e-12 * py.se_reps[0], (py.coef_reps, py.se_reps)
    signs = np.where(np.arange(folds.n_rep) % 2 == 0, 1.0, -1.0)
    rounded = _moved_r(design, folds, r, ROUNDING * signs)
    result = compare(spec, design, folds, py, rounded, py)
    failed = [(c.name, c.value) for c in result.checks if not c.ok]
    assert result.status in ("agree", "explained") and not failed, failed
    rep1 = [c for c in result.checks if c.quantity == "coef" and c.rep == 1 and c.layer in ("end_to_end", "learner_free")]
    assert rep1 and all(c.value <= 10 * ROUNDING for c in rep1), [(c.name, c.value) for c in rep1]
    assert all("max(|coef|, se)" in c.metric for c in rep1)


@pytest.mark.parametrize("case", list(CASES))
def test_a_real_difference_at_zero_still_disagrees(placebo: dict, case: str) -> None:
    """A difference 100 times the pair's tolerance, in se, on the repetition at zero."""
    spec, design, folds, py, r = placebo[case]
    shift = np.zeros(folds.n_rep)
    shift[0] = 1e-8  # 100 × the ols/logit tolerance (1e-10)
    result = compare(spec, design, folds, py, _moved_r(design, folds, r, shift), py)
    failed = {c.name for c in result.checks if not c.ok}
    assert result.status == "disagree"
    assert any(name.endswith("coef.rep1") and name.startswith("end_to_end") for name in failed), failed
    assert any(name.endswith("coef.rep1") and name.startswith("learner_free") for name in failed), failed


def _moved_py(py: EngineResult, share_of_se: float) -> EngineResult:
    from harness.verdict.formulas import python_aggregate

    coef_reps = py.coef_reps + share_of_se * py.se_reps
    agg = python_aggregate(coef_reps, py.se_reps)
    return dataclasses.replace(py, coef=agg.coef, se=agg.se, t=agg.t, p=agg.p, ci=agg.ci, coef_reps=coef_reps)


def test_statistical_tier_a_sign_inside_the_band_around_zero_is_no_disagreement(placebo: dict) -> None:
    """Statistical tier: Python at +0.01 se, Python's code on R's predictions at -0.01 se. Two signs
    within the tolerance of 0 say nothing (and once |Δcoef| ≤ c se holds, opposite signs can only
    occur there): the same-sign check failed exactly at placebos."""
    spec, design, folds, py, r = placebo["plr"]
    stat = spec.model_copy(update={"tier": "statistical"})
    above, below = _moved_py(py, 0.01), _moved_py(py, -0.01)
    assert np.sign(above.coef) != np.sign(below.coef)
    result = compare(stat, design, folds, above, below, below)  # n_rep 1: R reports what Python's code does
    assert result.status == "agree", [(c.name, c.value) for c in result.checks if not c.ok]
    # Away from zero opposite signs are beyond the band and still disagree.
    far = compare(stat, design, folds, _moved_py(py, 0.3), _moved_py(py, -0.3), _moved_py(py, -0.3))
    assert {"end_to_end.coef.same_sign", "end_to_end.coef"} <= {c.name for c in far.checks if not c.ok}
