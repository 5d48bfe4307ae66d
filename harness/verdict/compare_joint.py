"""Checks of joint inference: bootstrap t statistics, critical values, joint intervals, adjusted
p-values (rules in :mod:`harness.verdict.multiplicity`).

Compared twice, as the folds are:

1. **Shared weights** (exact tier, ``end_to_end``): both packages' own bootstrap code on the tool's
   multiplier weights must give the same t statistics per repetition, critical values, joint
   intervals and adjusted p-values, to the learner pair's tolerance. With n_rep > 1 the packages'
   rules differ on purpose (per-repetition medians in Python, pooled draws in R): each side is then
   compared with its own rule applied to the other side's numbers. Statistical tier: Python's code
   on R's predictions (``learner_free``) reproduces R's t statistics; Python against that fit
   end to end within the tier's limits.
2. **Own draws** (``monte_carlo``): each package's bootstrap with its own random stream. Exact tier:
   Python's against R's, both by R's pooled rule (so that only the draws differ), within a bound
   derived from the number of draws; statistical tier: each package's own draws against its
   shared-weight run (the learners already differ between the packages).

``rule`` checks tie every reported joint interval and adjusted p-value to the written rule on the
package's own numbers, with both kinds of draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from harness.design.table import Design
from harness.engines.result import CI_LEVEL, Bootstrap, EngineResult
from harness.language.spec import Spec
from harness.verdict.checks import (
    EXPLAINED_LIMIT,
    LEARNER_FREE_LIMIT,
    Check,
    abs_diff,
    at_least,
    at_most,
    diff_in_se,
    norm_rel_diff,
    rel_diff,
    same_significance,
)
from harness.verdict.formulas import r_aggregate, var_scaling_factor
from harness.verdict.multiplicity import (
    p_adjust_rule,
    proportion_check_can_fail,
    proportion_mc_bound,
    python_joint_ci,
    quantile_mc_bound,
    r_critical_value,
    r_joint_ci,
)

__all__ = ["JOINT_RULE_TEXT", "JointOutcome", "joint_checks"]

JOINT_RULE_TEXT = (
    "joint inference with n_rep > 1: Python takes each repetition's critical value (or adjusted p-values) "
    "and the median over repetitions; R pools all repetitions' bootstrap draws with the aggregated coef, se and t"
)


@dataclass(frozen=True)
class _JointInputs:
    """One package's numbers that joint inference is computed from."""

    coef_reps: np.ndarray  # (k, n_rep)
    se_reps: np.ndarray
    coef: np.ndarray  # (k,) as the package aggregated them
    se: np.ndarray

    @classmethod
    def of(cls, result: EngineResult) -> _JointInputs:
        per = result.per_treatment()
        return cls(
            np.array([t.coef_reps for t in per]),
            np.array([t.se_reps for t in per]),
            np.array([t.coef for t in per]),
            np.array([t.se for t in per]),
        )

    def r_aggregated(self, scaling: float) -> tuple[np.ndarray, np.ndarray]:
        """R's aggregation of these repetitions (equal to ``coef``/``se`` for R's own numbers)."""
        aggs = [r_aggregate(c, s, scaling) for c, s in zip(self.coef_reps, self.se_reps, strict=True)]
        return np.array([a.coef for a in aggs]), np.array([a.se for a in aggs])


@dataclass(frozen=True)
class JointOutcome:
    checks: list[Check]
    explained: bool
    summary: dict


def _rule_value(package: str, what: str, spec: Spec, side: _JointInputs, boot: Bootstrap, scaling: float) -> np.ndarray:
    if what == "joint_ci":
        if package == "python":
            return python_joint_ci(side.coef_reps, side.se_reps, boot.boot_t)
        return r_joint_ci(side.coef, side.se, boot.boot_t)
    coef, se = (side.coef, side.se) if package == "r" else side.r_aggregated(scaling)
    return p_adjust_rule(package, spec.p_adjust, side.coef_reps, side.se_reps, coef, se, boot.boot_t)


def _compare_values(
    name: str,
    layer: str,
    quantity: str,
    treatments: list[Optional[str]],
    a: np.ndarray,
    b: np.ndarray,
    se: np.ndarray,
    limit: float,
) -> list[Check]:
    out = []
    for i, d in enumerate(treatments):
        if quantity == "joint_ci":
            value, metric = diff_in_se(a[i], b[i], se[i]), "in se"
        else:
            value, metric = abs_diff(a[i], b[i]), "absolute"
        out.append(at_most(name, layer, quantity, None, value, limit, metric, treatment=d))
    return out


def _asked(spec: Spec) -> list[str]:
    return (["joint_ci"] if spec.joint else []) + (["p_adjust"] if spec.p_adjust else [])


def _reported(boot: Bootstrap, what: str) -> np.ndarray:
    return boot.joint_ci if what == "joint_ci" else boot.p_adjusted


def _rule_checks(spec: Spec, treatments, py: EngineResult, r: EngineResult, scaling: float) -> list[Check]:
    out = []
    for package, result in (("python", py), ("r", r)):
        side = _JointInputs.of(result)
        runs = [("", result.inference.shared)] + ([("own.", result.inference.own)] if result.inference.own else [])
        for tag, boot in runs:
            for what in _asked(spec):
                if what == "p_adjust" and tag and spec.p_adjust != "romano-wolf":
                    continue  # a deterministic adjustment does not depend on the draws
                expected = _rule_value(package, what, spec, side, boot, scaling)
                out += _compare_values(
                    f"rule.{package}.{tag}{what}",
                    "rule",
                    what,
                    treatments,
                    _reported(boot, what),
                    expected,
                    side.se,
                    EXPLAINED_LIMIT,
                )
    return out


def _shared_exact(
    spec: Spec, treatments, py: EngineResult, r: EngineResult, tol: float, scaling: float
) -> tuple[list[Check], bool]:
    P, R = py.inference.shared, r.inference.shared
    ps, rs = _JointInputs.of(py), _JointInputs.of(r)
    se = np.maximum(ps.se, rs.se)
    out: list[Check] = []
    if spec.bootstrap is not None:
        for m in range(P.boot_t.shape[2]):
            value = norm_rel_diff(P.boot_t[:, :, m], R.boot_t[:, :, m])
            out.append(at_most(f"end_to_end.boot_t.rep{m + 1}", "end_to_end", "boot_t", m + 1, value, tol, "relative (max norm)"))
        value = rel_diff(r_critical_value(P.boot_t), r_critical_value(R.boot_t))
        out.append(at_most("end_to_end.crit", "end_to_end", "crit", None, value, tol, "relative"))
    n_rep = ps.coef_reps.shape[1]
    gap = False
    for what in _asked(spec):
        reported_py, reported_r = _reported(P, what), _reported(R, what)
        if n_rep == 1:
            out += _compare_values(f"end_to_end.{what}", "end_to_end", what, treatments, reported_py, reported_r, se, tol)
            continue
        limit = max(tol, EXPLAINED_LIMIT)
        r_on_py = _rule_value("r", what, spec, _JointInputs(ps.coef_reps, ps.se_reps, *ps.r_aggregated(scaling)), P, scaling)
        py_on_r = _rule_value("python", what, spec, rs, R, scaling)
        out += _compare_values(
            f"end_to_end.r_rule_on_python.{what}", "end_to_end", what, treatments, reported_r, r_on_py, se, limit
        )
        out += _compare_values(
            f"end_to_end.python_rule_on_r.{what}", "end_to_end", what, treatments, reported_py, py_on_r, se, limit
        )
        gap = gap or any(
            not c.ok for c in _compare_values("gap", "end_to_end", what, treatments, reported_py, reported_r, se, tol)
        )
    return out, gap


def _shared_statistical(
    spec: Spec, treatments, py: EngineResult, r: EngineResult, learner_free: EngineResult, scaling: float
) -> list[Check]:
    """Python's code on R's predictions reproduces R's draws; Python against it within the tier."""
    P, R, L = py.inference.shared, r.inference.shared, learner_free.inference.shared
    c = spec.coef_tolerance_se
    out: list[Check] = []
    rs, ls, ps = _JointInputs.of(r), _JointInputs.of(learner_free), _JointInputs.of(py)
    se = 0.5 * (ps.se + ls.se)
    if spec.bootstrap is not None:
        for m in range(R.boot_t.shape[2]):
            value = norm_rel_diff(L.boot_t[:, :, m], R.boot_t[:, :, m])
            out.append(
                at_most(
                    f"learner_free.boot_t.rep{m + 1}",
                    "learner_free",
                    "boot_t",
                    m + 1,
                    value,
                    LEARNER_FREE_LIMIT,
                    "relative (max norm)",
                )
            )
        value = abs_diff(r_critical_value(P.boot_t), r_critical_value(L.boot_t))
        out.append(at_most("end_to_end.crit", "end_to_end", "crit", None, value, c, "absolute (t units)"))
    for what in _asked(spec):
        # Python's rule on R's repetitions and draws is what Python's code on R's predictions reports.
        expected = _rule_value("python", what, spec, rs, R, scaling)
        out += _compare_values(
            f"learner_free.{what}", "learner_free", what, treatments, _reported(L, what), expected, rs.se, LEARNER_FREE_LIMIT
        )
        if what == "joint_ci":
            out += _compare_values("end_to_end.joint_ci", "end_to_end", what, treatments, P.joint_ci, L.joint_ci, se, c)
        else:
            for i, d in enumerate(treatments):
                same = same_significance(P.p_adjusted[i], L.p_adjusted[i])
                name, metric = "end_to_end.p_adjust.same_significance", "1 = same at 1/5/10 %"
                out.append(at_least(name, "end_to_end", "p_adjust", None, same, 1.0, metric, treatment=d))  # NaN fails
    return out


def _pooled_max(boot_t: np.ndarray) -> np.ndarray:
    return np.abs(boot_t).max(axis=1).ravel(order="F")


def _mc_pair(
    prefix: str, spec: Spec, treatments, a: tuple[_JointInputs, np.ndarray], b: tuple[_JointInputs, np.ndarray], slack: float
) -> list[Check]:
    """Two bootstrap runs from independent draws, both by R's pooled rule, within the Monte Carlo
    bound of their number of draws (plus ``slack`` in se for the joint interval)."""
    (side_a, boot_a), (side_b, boot_b) = a, b
    max_a, max_b = _pooled_max(boot_a), _pooled_max(boot_b)
    n = len(max_a)
    crit_a, crit_b = float(np.quantile(max_a, CI_LEVEL)), float(np.quantile(max_b, CI_LEVEL))
    delta = quantile_mc_bound(CI_LEVEL, n)
    value = max(abs(float(np.mean(max_b <= crit_a)) - CI_LEVEL), abs(float(np.mean(max_a <= crit_b)) - CI_LEVEL))
    out = [
        at_most(
            f"{prefix}.crit",
            "monte_carlo",
            "crit",
            None,
            value,
            delta,
            f"|empirical CDF of the other's draws at the critical value - {CI_LEVEL:g}|",
            largest=max(CI_LEVEL, 1 - CI_LEVEL),  # too few draws make delta reach it (refused in the spec)
        )
    ]
    if spec.joint:
        pooled = np.concatenate([max_a, max_b])
        # The bound in t units: half the spread of the pooled distribution over ±delta around CI_LEVEL.
        spread = 0.5 * float(np.quantile(pooled, min(1.0, CI_LEVEL + delta)) - np.quantile(pooled, max(0.0, CI_LEVEL - delta)))
        ci_a = r_joint_ci(side_a.coef, side_a.se, boot_a)
        ci_b = r_joint_ci(side_b.coef, side_b.se, boot_b)
        se = np.maximum(side_a.se, side_b.se)
        out += _compare_values(f"{prefix}.joint_ci", "monte_carlo", "joint_ci", treatments, ci_a, ci_b, se, spread + slack)
    if spec.p_adjust == "romano-wolf":
        p_a = p_adjust_rule("r", "romano-wolf", side_a.coef_reps, side_a.se_reps, side_a.coef, side_a.se, boot_a)
        p_b = p_adjust_rule("r", "romano-wolf", side_b.coef_reps, side_b.se_reps, side_b.coef, side_b.se, boot_b)
        for i, d in enumerate(treatments):
            bound = proportion_mc_bound(p_a[i], p_b[i], n, n)
            value = abs(float(p_a[i]) - float(p_b[i]))
            can_fail = proportion_check_can_fail(n, n)
            out.append(
                at_most(
                    f"{prefix}.p_adjust",
                    "monte_carlo",
                    "p_adjust",
                    None,
                    value,
                    bound,
                    "absolute",
                    treatment=d,
                    can_fail=can_fail,
                )
            )
    return out


def _own_draws(spec: Spec, tier: str, tol: float, treatments, py: EngineResult, r: EngineResult, scaling: float) -> list[Check]:
    if spec.bootstrap is None or py.inference.own is None or r.inference.own is None:
        return []
    ps, rs = _JointInputs.of(py), _JointInputs.of(r)
    # R's rule on Python's repetitions: the aggregated coef and se R would report for them.
    ps_r = _JointInputs(ps.coef_reps, ps.se_reps, *ps.r_aggregated(scaling))
    if tier == "exact":
        return _mc_pair("monte_carlo", spec, treatments, (ps_r, py.inference.own.boot_t), (rs, r.inference.own.boot_t), tol)
    return _mc_pair(
        "monte_carlo.python", spec, treatments, (ps_r, py.inference.own.boot_t), (ps_r, py.inference.shared.boot_t), 0.0
    ) + _mc_pair("monte_carlo.r", spec, treatments, (rs, r.inference.own.boot_t), (rs, r.inference.shared.boot_t), 0.0)


def joint_checks(
    spec: Spec, design: Design, tier: str, tol: float, py: EngineResult, r: EngineResult, learner_free: EngineResult
) -> JointOutcome:
    """Every check of the spec's joint inference, whether the reported gap needs the n_rep rule to be
    explained, and a summary (critical values, Monte Carlo bounds) for the results."""
    several = len(design.d_cols) > 1
    treatments: list[Optional[str]] = list(design.d_cols) if several else [None]
    scaling = var_scaling_factor(design)
    checks = _rule_checks(spec, treatments, py, r, scaling)
    gap = False
    if tier == "exact":
        shared, gap = _shared_exact(spec, treatments, py, r, tol, scaling)
    else:
        shared = _shared_statistical(spec, treatments, py, r, learner_free, scaling)
    checks += shared + _own_draws(spec, tier, tol, treatments, py, r, scaling)
    return JointOutcome(checks, gap, _summary(spec, py, r))


def _summary(spec: Spec, py: EngineResult, r: EngineResult) -> dict:
    if spec.bootstrap is None:
        return {"p_adjust": spec.p_adjust}
    n_rep = py.inference.shared.boot_t.shape[2]
    n_draws = spec.bootstrap.n_rep_boot * n_rep
    out = {
        "method": spec.bootstrap.method,
        "n_rep_boot": spec.bootstrap.n_rep_boot,
        "p_adjust": spec.p_adjust,
        "critical_value": {
            "python_shared": [float(v) for v in np.quantile(np.abs(py.inference.shared.boot_t).max(axis=1), CI_LEVEL, axis=0)],
            "r_shared": r_critical_value(r.inference.shared.boot_t),
        },
        "monte_carlo_bound": {"crit_cdf": quantile_mc_bound(CI_LEVEL, n_draws), "n_draws": n_draws},
    }
    if py.inference.own is not None and r.inference.own is not None:
        out["critical_value"]["python_own"] = [
            float(v) for v in np.quantile(np.abs(py.inference.own.boot_t).max(axis=1), CI_LEVEL, axis=0)
        ]
        out["critical_value"]["r_own"] = r_critical_value(r.inference.own.boot_t)
    return out
