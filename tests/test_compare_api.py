"""The verdict of several treatments, joint inference, PLIV variants and SSM, without R.

As in test_compare.py, R's result is built from a real Python fit as R reports it: the same
repetitions, R's aggregation (harness.verdict.formulas) and R's joint-inference rules
(harness.verdict.multiplicity) on the same shared draws; R's own draws are doubleml's with another seed.
One quantity is then perturbed at a time and the verdict must turn to ``disagree`` naming that
check. Whether the written rules are R's own is tested against R in test_api_matrix_r.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.design.generated import generate
from harness.design.table import build_design, draw_folds
from harness.engines.python_engine import fit_python
from harness.engines.result import Bootstrap, EngineResult, Inference
from harness.language.spec import DatasetSpec, Spec
from harness.verdict import compare_extended as extended_module
from harness.verdict.checks import VerdictError, covered_by, required_coverage
from harness.verdict.compare_extended import judge
from harness.verdict.formulas import r_aggregate, var_scaling_factor
from harness.verdict.learner_free import learner_free_fit
from harness.verdict.multiplicity import p_adjust_rule, r_joint_ci
from harness.verdict.treatment_rows import treatment_rows
from tests.conftest import make_tables

DATA = make_tables(seed=21, n=300)
SSM_MAR = generate({"name": "make_ssm_data", "n_obs": 400, "dim_x": 4, "mar": True}, 5)
SSM_NONIGNORABLE = generate({"name": "make_ssm_data", "n_obs": 400, "dim_x": 4, "mar": False}, 5)
X = ["x1", "x2", "x3"]
SSM_X = ["X1", "X2", "X3", "X4"]
SSM_LEARNERS = {"ml_g": "ols", "ml_pi": "logit", "ml_m": "logit"}
BOOT = {"bootstrap": {"method": "normal", "n_rep_boot": 199}, "joint": True, "p_adjust": "romano-wolf"}

CASES = {
    "two_treatments": (DATA, dict(model="plr", y="y", d=["d", "zc"], x=X, learner="ols", **BOOT)),
    "three_treatments_wild": (
        DATA,
        dict(
            model="plr",
            y="y",
            d=["d", "zc", "skew"],
            x=X,
            learner="ols",
            bootstrap={"method": "wild", "n_rep_boot": 149},
            joint=True,
            p_adjust="romano-wolf",
        ),
    ),  # fmt: skip
    "holm": (DATA, dict(model="plr", y="y", d=["d", "zc"], x=X, learner="ols", p_adjust="holm")),
    "pliv_iv_type_bayes": (
        DATA,
        dict(
            model="pliv",
            score="IV-type",
            y="y",
            d="d",
            z=["zc"],
            x=X,
            learner="ols",
            bootstrap={"method": "Bayes", "n_rep_boot": 199},
            joint=True,
            p_adjust="bonferroni",
        ),
    ),  # fmt: skip
    "pliv_partial_z": (DATA, dict(model="pliv", partial="Z", y="y", d="d", z=["zc", "z"], x=X, learner="ols")),
    "pliv_partial_xz_two": (
        DATA,
        dict(model="pliv", partial="XZ", y="y", d=["d", "skew"], z=["zc", "z"], x=X, learner="ols", **BOOT),
    ),
    "ssm_mar": (SSM_MAR, dict(model="ssm", y="y", d="d", s="s", x=SSM_X, learners=SSM_LEARNERS)),
    "ssm_nonignorable": (
        SSM_NONIGNORABLE,
        dict(model="ssm", score="nonignorable", y="y", d="d", s="s", z=["z"], x=SSM_X, learners=SSM_LEARNERS, **BOOT),
    ),
}


def _spec(case: str, n_rep: int) -> tuple:
    frame, fields = CASES[case]
    spec = Spec(id=case, n_folds=3, n_rep=n_rep, seed=4, **fields)
    design = build_design(spec, frame, DatasetSpec(), "generated")
    return spec, design, draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)


def _r_like(spec: Spec, design, py: EngineResult, own: EngineResult) -> EngineResult:
    """What R reports for Python's repetitions and the shared draws, and with ``own``'s draws."""
    scaling = var_scaling_factor(design)
    per = []
    for t in py.per_treatment():
        agg = r_aggregate(t.coef_reps, t.se_reps, scaling)
        per.append(EngineResult(agg.coef, agg.se, agg.t, agg.p, agg.ci, t.coef_reps.copy(), t.se_reps.copy(),
                                {k: v.copy() for k, v in t.predictions.items()}, 0.0, t.folds.copy()))  # fmt: skip
    inference = None
    if py.inference is not None:
        coef_reps = np.array([t.coef_reps for t in per])
        se_reps = np.array([t.se_reps for t in per])
        coef, se = np.array([t.coef for t in per]), np.array([t.se for t in per])

        def reported(boot_t):
            return Bootstrap(
                boot_t=None if boot_t is None else boot_t.copy(),
                joint_ci=r_joint_ci(coef, se, boot_t) if spec.joint else None,
                p_adjusted=p_adjust_rule("r", spec.p_adjust, coef_reps, se_reps, coef, se, boot_t) if spec.p_adjust else None,
            )

        shared = reported(py.inference.shared.boot_t)
        own_draws = reported(own.inference.own.boot_t) if spec.bootstrap is not None else None
        inference = Inference(shared=shared, own=own_draws)
    first = per[0]
    return EngineResult(
        **{f: getattr(first, f) for f in ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps", "predictions")},
        folds=first.folds,
        treatments=tuple(per) if len(per) > 1 else (),
        inference=inference,
    )


@pytest.fixture(scope="module")
def fitted() -> dict:
    out = {}
    for case in CASES:
        for n_rep in (1, 2):
            spec, design, folds = _spec(case, n_rep)
            py = fit_python(spec, design, folds)
            # R's own draws: doubleml's, from another seed (the shared weights are not used from it).
            other = fit_python(spec.model_copy(update={"seed": 99}), design, folds) if spec.bootstrap else py
            r = _r_like(spec, design, py, other)
            out[(case, n_rep)] = (spec, design, folds, py, r)
    return out


def _judge(entry, py=None, r=None):
    spec, design, folds, py0, r0 = entry
    py, r = py or py0, r or r0
    return judge(spec, design, folds, py, r, learner_free_fit(spec, design, folds, r))


def _failed(comparison) -> set[str]:
    return {c.name for c in comparison.checks if not c.ok}


KEYS = [(case, n_rep) for case in CASES for n_rep in (1, 2)]


def _ids(key) -> str:
    return f"{key[0]}-nrep{key[1]}"


@pytest.mark.parametrize("key", KEYS, ids=_ids)
def test_same_numbers_agree_or_are_explained_with_every_quantity_covered(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    result = _judge(fitted[key])
    assert not _failed(result), _failed(result)
    assert result.status == ("explained" if key[1] > 1 else "agree")
    several = spec.several_treatments
    required = required_coverage(
        "exact", key[1], list(spec.treatments) if several else None, spec.bootstrap is not None, spec.joint, spec.p_adjust
    )
    assert required <= covered_by(result.checks, triples=len(next(iter(required))) == 3)
    if several:
        assert {c.treatment for c in result.checks} == {None, *spec.treatments}
        assert all(c.name.startswith(f"{c.treatment}/") for c in result.checks if c.treatment)


def _with_treatment(result: EngineResult, i: int, **changes) -> EngineResult:
    per = list(result.per_treatment())
    per[i] = dataclasses.replace(per[i], **changes)
    if not result.treatments:
        return dataclasses.replace(result, **changes)
    first = per[0]
    return dataclasses.replace(result, treatments=tuple(per), **{f: getattr(first, f) for f in ("coef", "coef_reps", "se_reps")})


@pytest.mark.parametrize("key", KEYS, ids=_ids)
def test_one_treatments_coef_times_one_plus_1e6_disagrees_on_that_treatment(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    i = len(spec.treatments) - 1
    t = py.per_treatment()[i]
    bumped = _with_treatment(py, i, coef=t.coef * (1 + 1e-6), coef_reps=t.coef_reps * (1 + 1e-6))
    result = _judge(fitted[key], py=bumped)
    failed = _failed(result)
    prefix = f"{spec.treatments[i]}/" if spec.several_treatments else ""
    assert any(n.startswith(f"{prefix}end_to_end") and ".coef" in n for n in failed), failed
    if spec.several_treatments:
        # Only that treatment's row turns: the others keep their own verdict.
        rows = {d: row for _, d, row in treatment_rows(spec, {**result.as_dict(), "python": py.summary(), "r": r.summary()})}
        assert rows[spec.treatments[i]]["status"] == "disagree"
        assert {rows[d]["status"] for d in spec.treatments[:i]} <= {"agree", "explained"}


def _with_inference(result: EngineResult, part: str, **changes) -> EngineResult:
    inference = result.inference
    return dataclasses.replace(
        result, inference=dataclasses.replace(inference, **{part: dataclasses.replace(getattr(inference, part), **changes)})
    )


BOOTSTRAPPED = [k for k in KEYS if CASES[k[0]][1].get("bootstrap")]


@pytest.mark.parametrize("key", BOOTSTRAPPED, ids=_ids)
def test_one_repetitions_bootstrap_draws_disagree(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    boot_t = r.inference.shared.boot_t.copy()
    boot_t[17, 0, -1] *= 1 + 1e-6
    failed = _failed(_judge(fitted[key], r=_with_inference(r, "shared", boot_t=boot_t)))
    assert f"end_to_end.boot_t.rep{key[1]}" in failed, failed


@pytest.mark.parametrize("key", [k for k in KEYS if CASES[k[0]][1].get("joint")], ids=_ids)
def test_a_joint_interval_moved_by_1e6_se_disagrees(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    joint_ci = r.inference.shared.joint_ci.copy()
    joint_ci[-1, 1] += 1e-6 * r.per_treatment()[-1].se
    failed = _failed(_judge(fitted[key], r=_with_inference(r, "shared", joint_ci=joint_ci)))
    prefix = f"{spec.treatments[-1]}/" if spec.several_treatments else ""
    direct = f"{prefix}end_to_end.joint_ci" if key[1] == 1 else f"{prefix}end_to_end.r_rule_on_python.joint_ci"
    assert {direct, f"{prefix}rule.r.joint_ci"} <= failed, failed


@pytest.mark.parametrize("key", [k for k in KEYS if CASES[k[0]][1].get("p_adjust")], ids=_ids)
def test_an_adjusted_p_value_one_draw_off_disagrees(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    p_adjusted = r.inference.shared.p_adjusted.copy()
    p_adjusted[0] = min(1.0, p_adjusted[0] + 1.0 / 199)
    failed = _failed(_judge(fitted[key], r=_with_inference(r, "shared", p_adjusted=p_adjusted)))
    prefix = f"{spec.treatments[0]}/" if spec.several_treatments else ""
    direct = f"{prefix}end_to_end.p_adjust" if key[1] == 1 else f"{prefix}end_to_end.r_rule_on_python.p_adjust"
    assert {direct, f"{prefix}rule.r.p_adjust"} <= failed, failed


@pytest.mark.parametrize("key", BOOTSTRAPPED, ids=_ids)
def test_own_draws_from_another_distribution_fail_the_monte_carlo_bound(fitted: dict, key) -> None:
    spec, design, folds, py, r = fitted[key]
    # Draws whose spread is 30 % wider: the critical value moves far beyond the Monte Carlo bound.
    failed = _failed(_judge(fitted[key], r=_with_inference(r, "own", boot_t=r.inference.own.boot_t * 1.3)))
    assert "monte_carlo.crit" in failed, failed


@pytest.mark.parametrize("key", BOOTSTRAPPED, ids=_ids)
def test_own_draws_of_the_same_distribution_pass_the_monte_carlo_bound(fitted: dict, key) -> None:
    result = _judge(fitted[key])
    mc = [c for c in result.checks if c.layer == "monte_carlo"]
    assert mc and all(c.ok for c in mc), [(c.name, c.value, c.limit) for c in mc if not c.ok]


def test_joint_intervals_by_pythons_rule_are_not_rs(fitted: dict) -> None:
    spec, design, folds, py, r = fitted[("two_treatments", 2)]
    # R reporting Python's per-repetition rule: the written R rule no longer reproduces it.
    wrong = _with_inference(r, "shared", joint_ci=py.inference.shared.joint_ci.copy())
    failed = _failed(_judge(fitted[("two_treatments", 2)], r=wrong))
    assert {"d/rule.r.joint_ci", "d/end_to_end.r_rule_on_python.joint_ci"} <= failed, failed


@pytest.mark.parametrize("case", ["ssm_mar", "ssm_nonignorable", "pliv_partial_z"])
def test_written_score_catches_a_changed_python_repetition(fitted: dict, case: str) -> None:
    spec, design, folds, py, r = fitted[(case, 1)]
    changed = _with_treatment(py, 0, coef_reps=py.per_treatment()[0].coef_reps * (1 + 1e-7))
    failed = _failed(_judge(fitted[(case, 1)], py=changed))
    assert "learner_free.python_score.coef.rep1" in failed, failed


@pytest.mark.parametrize("case,nuisance", [("ssm_mar", "ml_pi"), ("ssm_nonignorable", "ml_g_d1"), ("pliv_partial_z", "ml_r")])
def test_one_prediction_of_a_new_nuisance_disagrees(fitted: dict, case: str, nuisance: str) -> None:
    spec, design, folds, py, r = fitted[(case, 1)]
    predictions = {k: v.copy() for k, v in r.predictions.items()}
    predictions[nuisance][np.flatnonzero(~np.isnan(predictions[nuisance][:, 0]))[3], 0] += 1e-3
    failed = _failed(_judge(fitted[(case, 1)], r=dataclasses.replace(r, predictions=predictions)))
    assert f"nuisance.{nuisance}.max_rel_diff" in failed, failed


def test_a_comparison_without_joint_checks_raises(fitted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.verdict.compare_joint import JointOutcome

    monkeypatch.setattr(extended_module, "joint_checks", lambda *a, **k: JointOutcome([], False, {}))
    with pytest.raises(VerdictError, match="joint_ci of the aggregate of treatment d"):
        _judge(fitted[("two_treatments", 1)])


def test_a_missing_treatment_raises(fitted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    original = extended_module.compare

    def drop_second(spec, design, *args):
        result = original(spec, design, *args)
        return dataclasses.replace(result, checks=[]) if design.d == "zc" else result

    monkeypatch.setattr(extended_module, "compare", drop_second)
    with pytest.raises(VerdictError, match="of treatment zc"):
        _judge(fitted[("holm", 1)])


def test_single_treatment_rows_keep_their_form(fitted: dict) -> None:
    spec, design, folds, py, r = fitted[("pliv_partial_z", 1)]
    result = {"id": spec.id, "python": py.summary(), "r": r.summary(), **_judge(fitted[("pliv_partial_z", 1)]).as_dict()}
    assert treatment_rows(spec, result) == [(spec.id, "d", result)]
    assert "treatment" not in {k for c in result["checks"] for k in c}


def test_an_adjusted_claim_is_judged_on_the_adjusted_p() -> None:
    from harness.verdict.claims import judge_spec

    paper = {"claim": "c", "sign": "positive", "level": 0.05, "p": "adjusted"}
    row = {
        "id": "s[d]",
        "paper": paper,
        "python": {"coef": 0.3, "p": 0.01, "p_adjusted": 0.08},
        "r": {"coef": 0.3, "p": 0.01, "p_adjusted": 0.04},
    }
    judged = judge_spec(row, {})
    assert judged["claim_verdict"] == {"python": "not-reproduced", "r": "reproduced"}
    assert "adjusted p = 0.08" in judged["claim_reasons"]["python"][0]
    pointwise = judge_spec({**row, "paper": {**paper, "p": "pointwise"}}, {})
    assert pointwise["claim_verdict"] == {"python": "reproduced", "r": "reproduced"}
