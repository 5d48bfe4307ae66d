"""The comparison of a Python and an R estimate: pure functions on engine results, no engines.

Layers (each a list of :class:`~harness.verdict.checks.Check`):

1. ``folds``: each package fitted on the folds the tool drew.
2. ``nuisance``: the cross-fitted predictions (exact tier: within the pair's tolerance; statistical
   tier: correlated ≥ 0.95), so a gap names the learner behind it.
3. ``learner_free``: Python's code fed R's predictions reproduces R's numbers per repetition
   (after R's own rule where the packages differ), whatever the learner: the score and inference code
   are the same.
4. ``rule``: each package's aggregate recomputed from its own repetitions by the rule the tool writes
   down (:mod:`harness.verdict.formulas`), so a wrong rule cannot explain anything.
5. ``end_to_end``: Python against R, per repetition and aggregated (coverage rule in
   :mod:`harness.verdict.checks`). Where the packages differ on purpose (n_rep > 1 aggregation, IRM ATTE's
   treated share) each side is compared with its own rule applied to the other side's numbers.

Statuses: ``disagree`` if any check fails; ``explained`` if all pass but the reported numbers differ
beyond the tolerance and an intended rule accounts for it; ``agree`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from harness.design.table import Design, Folds
from harness.engines.result import EngineResult
from harness.language.learners import LEARNERS, resolve_learner
from harness.language.spec import Spec
from harness.verdict.checks import (
    EXPLAINED_LIMIT,
    LEARNER_FREE_LIMIT,
    Check,
    VerdictError,
    abs_diff,
    assert_covered,
    at_least,
    at_most,
    coef_diff,
    diff_in_se,
    rel_diff,
    same_sign,
    same_significance,
    t_diff,
)
from harness.verdict.formulas import Aggregate, atte_reps, python_aggregate, r_aggregate, var_scaling_factor
from harness.verdict.nuisances import nuisance_checks, nuisance_summary
from harness.verdict.tuning import tuning_checks

__all__ = [
    "Comparison",
    "compare",
    "compare_reported",
    "end_to_end_diff",
    "rel_diff",
    "rep_checks",
    "spec_tier",
]

# How each quantity is measured (harness.verdict.checks has one function per measure; README, "The verdict rule").
COEF_METRIC = "relative to max(|coef|, se)"
T_METRIC = "relative to max(|t|, 1)"
RULE_AGGREGATION = "n_rep aggregation"
RULE_ATTE = "IRM ATTE treated share"
RULE_TEXT = {
    RULE_AGGREGATION: "n_rep > 1: Python se = (median(coef_m + 1.96 se_m) - coef)/1.96, t and p from coef/se, "
    "CI = median of per-repetition CIs; R se = sqrt(median(n se_m^2 + (coef_m - coef)^2)/n), CI = coef ± z se",
    RULE_ATTE: "IRM ATTE: R divides by the treated share of each test fold, Python by the overall treated share",
}


def spec_tier(spec: Spec) -> tuple[str, float]:
    """The tier a spec earns from its weakest learner pair, and that pair's tolerance."""
    pairs = [LEARNERS[resolve_learner(spec.learner_for(n), n, spec.model).name] for n in spec.nuisances]
    if spec.tier == "statistical" or any(p.tier == "statistical" for p in pairs):
        return "statistical", 0.0
    return "exact", max(p.tolerance for p in pairs)


@dataclass(frozen=True)
class Comparison:
    status: str
    tier: str
    tolerance: float
    diff: dict
    checks: list[Check]
    learner_free: Optional[dict]
    nuisance: dict
    explained_gap: Optional[dict]

    def as_dict(self) -> dict:
        out = {
            "status": self.status,
            "tier": self.tier,
            "tolerance": self.tolerance,
            "diff": self.diff,
            "checks": [c.as_dict() for c in self.checks],
            "learner_free": self.learner_free,
            "nuisance": self.nuisance,
        }
        if self.explained_gap is not None:
            out["explained_gap"] = self.explained_gap
        return out


# --- what each side's rule gives on the other side's numbers --------------------------------------


@dataclass(frozen=True)
class _Reported:
    """One package's reported numbers next to its own rule applied to the other package's numbers."""

    name: str
    reported: EngineResult
    coef_reps: np.ndarray
    se_reps: np.ndarray
    aggregate: Aggregate


def _reported_aggregate(result: EngineResult) -> Aggregate:
    return Aggregate(result.coef, result.se, result.t, result.p, tuple(result.ci))


def _sides(
    spec: Spec, design: Design, folds: Folds, py: EngineResult, r: EngineResult, learner_free: EngineResult
) -> tuple[_Reported, _Reported]:
    """R's rule on Python's numbers, and Python's rule on R's numbers."""
    if _is_atte(spec):
        r_on_py = atte_reps("r", design, folds, py.predictions, spec.trimming_threshold)
        r_reps = (r_on_py["coef_reps"], r_on_py["se_reps"])
        py_reps = (learner_free.coef_reps, learner_free.se_reps)  # Python's own code on R's predictions
    else:
        r_reps = (py.coef_reps, py.se_reps)
        py_reps = (r.coef_reps, r.se_reps)
    scaling = var_scaling_factor(design)
    return (
        _Reported("python", py, *py_reps, python_aggregate(*py_reps)),
        _Reported("r", r, *r_reps, r_aggregate(*r_reps, scaling)),
    )


def _is_atte(spec: Spec) -> bool:
    return spec.model == "irm" and spec.score_name == "ATTE"


def _rules(spec: Spec, n_rep: int) -> list[str]:
    return ([RULE_ATTE] if _is_atte(spec) else []) + ([RULE_AGGREGATION] if n_rep > 1 else [])


# --- layers ---------------------------------------------------------------------------------------


def _aggregate_checks(prefix: str, layer: str, reported: Aggregate, expected: Aggregate, limit: float, quantities) -> list[Check]:
    """coef relative to max(|coef|, se) and t to max(|t|, 1) (a placebo's coefficient sits at 0: the
    scale must not vanish with it); se relative; p absolute (a relative difference of two p-values
    near 0 means nothing); CI bounds in units of the se (bounds may sit near 0)."""
    out = []
    se = float(np.maximum(reported.se, expected.se))  # NaN stays NaN (max() would drop it)
    for q in quantities:
        name = f"{prefix}.{q}"
        if q == "coef":
            out.append(at_most(name, layer, q, None, coef_diff(reported.coef, expected.coef, se), limit, COEF_METRIC))
        elif q == "t":
            out.append(at_most(name, layer, q, None, t_diff(reported.t, expected.t), limit, T_METRIC))
        elif q == "se":
            out.append(at_most(name, layer, q, None, rel_diff(reported.se, expected.se), limit, "relative"))
        elif q == "p":
            out.append(at_most(name, layer, q, None, abs_diff(reported.p, expected.p), limit, "absolute"))
        else:
            value = diff_in_se(np.array(reported.ci), np.array(expected.ci), se)
            out.append(at_most(name, layer, q, None, value, limit, "in se"))
    return out


def rep_checks(
    prefix: str, layer: str, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], limit: float
) -> list[Check]:
    out = []
    for rep in range(len(a[0])):
        se = float(np.maximum(a[1][rep], b[1][rep]))
        name = f"{prefix}.{{}}.rep{rep + 1}"
        out.append(at_most(name.format("coef"), layer, "coef", rep + 1, coef_diff(a[0][rep], b[0][rep], se), limit, COEF_METRIC))
        out.append(at_most(name.format("se"), layer, "se", rep + 1, rel_diff(a[1][rep], b[1][rep]), limit, "relative"))
    return out


def exact_checks(spec: Spec, sides: tuple[_Reported, _Reported], tol: float) -> list[Check]:
    """End to end, exact tier: every quantity within the pair's tolerance, each side against its own
    rule on the other side's numbers (the direct comparison where no rule differs)."""
    py_side, r_side = sides
    py, r = py_side.reported, r_side.reported
    rules = _rules(spec, len(py.coef_reps))
    if not rules:
        checks = rep_checks("end_to_end", "end_to_end", (py.coef_reps, py.se_reps), (r.coef_reps, r.se_reps), tol)
        return checks + _aggregate_checks(
            "end_to_end", "end_to_end", _reported_aggregate(py), _reported_aggregate(r), tol, ("coef", "se", "t", "p", "ci")
        )
    limit = max(tol, EXPLAINED_LIMIT)
    checks = []
    if _is_atte(spec):
        checks += rep_checks(
            "end_to_end.r_rule_on_python", "end_to_end", (r.coef_reps, r.se_reps), (r_side.coef_reps, r_side.se_reps), limit
        )
        checks += rep_checks(
            "end_to_end.python_rule_on_r", "end_to_end", (py.coef_reps, py.se_reps), (py_side.coef_reps, py_side.se_reps), limit
        )
    else:
        checks += rep_checks("end_to_end", "end_to_end", (py.coef_reps, py.se_reps), (r.coef_reps, r.se_reps), tol)
    quantities = ("coef", "se", "t", "p", "ci")
    checks += _aggregate_checks(
        "end_to_end.r_rule_on_python", "end_to_end", _reported_aggregate(r), r_side.aggregate, limit, quantities
    )
    checks += _aggregate_checks(
        "end_to_end.python_rule_on_r", "end_to_end", _reported_aggregate(py), py_side.aggregate, limit, quantities
    )
    return checks


def statistical_checks(spec: Spec, py: EngineResult, learner_free: EngineResult) -> list[Check]:
    """End to end, statistical tier: Python against Python's own code on R's predictions (``learner_free``), so
    that only the learners differ; the learner-free layer ties ``learner_free`` to R's reported numbers."""
    c = spec.coef_tolerance_se
    checks = []
    for rep in range(len(py.coef_reps)):
        se = 0.5 * (py.se_reps[rep] + learner_free.se_reps[rep])
        for q, a, b in (
            ("coef", py.coef_reps[rep], learner_free.coef_reps[rep]),
            ("se", py.se_reps[rep], learner_free.se_reps[rep]),
        ):
            checks.append(at_most(f"end_to_end.{q}.rep{rep + 1}", "end_to_end", q, rep + 1, diff_in_se(a, b, se), c, "in se"))
    se = 0.5 * (py.se + learner_free.se)
    sign = same_sign(py.coef, learner_free.coef, c * se)
    metric = f"1 = same sign, or both within {c:g} se of 0"
    checks.append(at_least("end_to_end.coef.same_sign", "end_to_end", "coef", None, sign, 1.0, metric))
    checks.append(at_most("end_to_end.coef", "end_to_end", "coef", None, diff_in_se(py.coef, learner_free.coef, se), c, "in se"))
    checks.append(at_most("end_to_end.se", "end_to_end", "se", None, diff_in_se(py.se, learner_free.se, se), c, "in se"))
    same_sig = same_significance(py.p, learner_free.p)
    checks.append(at_least("end_to_end.p.same_significance", "end_to_end", "p", None, same_sig, 1.0, "1 = same at 1/5/10 %"))
    return checks


def learner_free_checks(spec: Spec, design: Design, folds: Folds, r: EngineResult, learner_free: EngineResult) -> list[Check]:
    """Python's code on R's predictions against R's numbers, per repetition."""
    if not _is_atte(spec):
        return rep_checks(
            "learner_free",
            "learner_free",
            (learner_free.coef_reps, learner_free.se_reps),
            (r.coef_reps, r.se_reps),
            LEARNER_FREE_LIMIT,
        )
    # ATTE: the tool's R rule on R's predictions reproduces R, its Python rule reproduces Python's code.
    r_rule = atte_reps("r", design, folds, r.predictions, spec.trimming_threshold)
    py_rule = atte_reps("python", design, folds, r.predictions, spec.trimming_threshold)
    return rep_checks(
        "learner_free.r_rule",
        "learner_free",
        (r.coef_reps, r.se_reps),
        (r_rule["coef_reps"], r_rule["se_reps"]),
        LEARNER_FREE_LIMIT,
    ) + rep_checks(
        "learner_free.python_rule",
        "learner_free",
        (learner_free.coef_reps, learner_free.se_reps),
        (py_rule["coef_reps"], py_rule["se_reps"]),
        LEARNER_FREE_LIMIT,
    )


def rule_checks(design: Design, py: EngineResult, r: EngineResult) -> list[Check]:
    """Each package's aggregate from its own repetitions by the written-down rule."""
    quantities = ("coef", "se", "t", "p", "ci")
    py_rule = python_aggregate(py.coef_reps, py.se_reps)
    r_rule = r_aggregate(r.coef_reps, r.se_reps, var_scaling_factor(design))
    return _aggregate_checks(
        "rule.python", "rule", _reported_aggregate(py), py_rule, EXPLAINED_LIMIT, quantities
    ) + _aggregate_checks("rule.r", "rule", _reported_aggregate(r), r_rule, EXPLAINED_LIMIT, quantities)


def fold_checks(folds: Folds, py: EngineResult, r: EngineResult) -> list[Check]:
    """Rows whose fold, as each package used it, differs from the folds the tool drew."""
    out = []
    for engine, result in (("python", py), ("r", r)):
        used = result.folds
        value = float("nan") if used is None or used.shape != folds.labels.shape else float(np.sum(used != folds.labels))
        # Every fold -1: a user's fitted model whose numbers its learners on its folds do not give
        # (harness.running.fit.given_checked): which folds its fit used is unknown, not shown moved.
        unconfirmed = used is not None and used.size > 0 and bool((used == -1).all())
        metric = "rows whose fold the model's own numbers do not confirm" if unconfirmed else "rows in another fold"
        out.append(at_most(f"folds.{engine}", "folds", None, None, value, 0, metric))
    return out


# --- nuisance layer ---------------------------------------------------------------------------------


def end_to_end_diff(py: EngineResult, r: EngineResult) -> dict:
    """The reported numbers side by side, as differences (for the report; the verdict is the checks),
    each measured as its check measures it: ``coef_rel`` relative to max(|coef|, se), ``t_rel`` to
    max(|t|, 1)."""
    se_mean = 0.5 * (py.se + r.se)
    return {
        "coef_abs": abs_diff(py.coef, r.coef),
        "coef_rel": coef_diff(py.coef, r.coef, np.maximum(py.se, r.se)),
        "se_rel": rel_diff(py.se, r.se),
        "t_rel": t_diff(py.t, r.t),
        "p_abs": abs_diff(py.p, r.p),
        "ci_in_se": diff_in_se(np.array(py.ci), np.array(r.ci), np.maximum(py.se, r.se)),
        "coef_reps_rel": coef_diff(py.coef_reps, r.coef_reps, np.maximum(py.se_reps, r.se_reps)),
        "se_reps_rel": rel_diff(py.se_reps, r.se_reps),
        "coef_in_se": diff_in_se(py.coef, r.coef, se_mean),
        "coef_diff_in_se": float((py.coef - r.coef) / se_mean) if se_mean > 0 else float("nan"),
    }


def _gap_exceeds(diff: dict, tol: float) -> bool:
    values = (
        diff["coef_rel"],
        diff["se_rel"],
        diff["t_rel"],
        diff["p_abs"],
        diff["ci_in_se"],
        diff["coef_reps_rel"],
        diff["se_reps_rel"],
    )
    return any(not v <= tol for v in values)


def compare(
    spec: Spec, design: Design, folds: Folds, py: EngineResult, r: EngineResult, learner_free: EngineResult
) -> Comparison:
    """Judge one spec from both engines' results and Python's fit on R's predictions.

    One treatment with pointwise inference; :func:`harness.verdict.compare_extended.judge` sends several
    treatments and joint inference here one treatment at a time and adds the joint checks.

    Raises
    ------
    VerdictError
        When the checks leave a compared quantity uncovered (a defect of the tool).
    """
    tier, tol = spec_tier(spec)
    diff = end_to_end_diff(py, r)
    nuisance = nuisance_summary(spec, design, py, r)
    checks = fold_checks(folds, py, r) + nuisance_checks(tier, tol, nuisance)
    checks += learner_free_checks(spec, design, folds, r, learner_free)
    checks += rule_checks(design, py, r)
    checks += tuning_checks(spec, tier, py, r)
    if tier == "exact":
        checks += exact_checks(spec, _sides(spec, design, folds, py, r, learner_free), tol)
    else:
        checks += statistical_checks(spec, py, learner_free)
    assert_covered(checks, tier, folds.n_rep, spec.id)

    learner_free_summary = {
        "coef_rel": coef_diff(learner_free.coef_reps, r.coef_reps, np.maximum(learner_free.se_reps, r.se_reps)),
        "se_rel": rel_diff(learner_free.se_reps, r.se_reps),
    }
    # Python's code on R's predictions: the R side of the statistical tier, kept for replicates.
    learner_free_summary.update(
        {k: v for k, v in learner_free.summary().items() if k in ("coef", "se", "ci", "coef_reps", "se_reps")}
    )
    status, explained = _status(spec, tier, tol, diff, checks, folds.n_rep)
    return Comparison(status, tier, tol, diff, checks, learner_free_summary, nuisance, explained)


def _status(spec: Spec, tier: str, tol: float, diff: dict, checks: list[Check], n_rep: int) -> tuple[str, Optional[dict]]:
    rules = _rules(spec, n_rep)
    if not all(c.ok for c in checks):
        return "disagree", None
    if tier == "exact" and rules and _gap_exceeds(diff, tol):
        texts = [RULE_TEXT[rule] for rule in rules]
        gap = {"gap_coef_rel": diff["coef_rel"], "gap_se_rel": diff["se_rel"]}
        return "explained", {"rule": "; ".join(texts), "rules": texts, **gap}
    return "agree", None


# Layers the reported numbers alone cannot run: they read R's fit (its folds and predictions).
FIT_LAYERS = ("folds", "nuisance", "learner_free")


def compare_reported(spec: Spec, design: Design, py: EngineResult, r: EngineResult, learner_free: EngineResult) -> Comparison:
    """Judge one treatment from reported numbers only: the ``rule`` and ``end_to_end`` layers, the
    same checks and tiers as :func:`compare`, for an R side that is no fit here (the R-free check:
    ``r`` and ``learner_free`` as a baseline stored them). The layers in ``FIT_LAYERS`` are not run.

    Raises
    ------
    VerdictError
        For IRM ATTE at the exact tier (R's rule on Python's numbers reads Python's predictions),
        and when the checks leave a compared quantity uncovered.
    """
    tier, tol = spec_tier(spec)
    if tier == "exact" and _is_atte(spec):
        raise VerdictError(f"spec '{spec.id}': IRM ATTE at the exact tier reads both engines' predictions; not judged without R")
    n_rep = len(py.coef_reps)
    diff = end_to_end_diff(py, r)
    checks = rule_checks(design, py, r)
    if tier == "exact":
        r_reps = (py.coef_reps, py.se_reps)
        sides = (
            _Reported("python", py, r.coef_reps, r.se_reps, python_aggregate(r.coef_reps, r.se_reps)),
            _Reported("r", r, *r_reps, r_aggregate(*r_reps, var_scaling_factor(design))),
        )
        checks += exact_checks(spec, sides, tol)
    else:
        checks += statistical_checks(spec, py, learner_free)
    assert_covered(checks, tier, n_rep, spec.id)
    status, explained = _status(spec, tier, tol, diff, checks, n_rep)
    return Comparison(status, tier, tol, diff, checks, None, {}, explained)
