"""The three-layer comparison of a Python and an R estimate: pure functions, no engines.

1. End to end: coefficient, standard error, t, p and interval, per repetition and aggregated.
2. Learner-free: Python fed R's nuisance predictions; isolates the score and inference code.
3. Nuisance: each cross-fitted prediction compared, so a gap names the learner behind it.

Where the packages differ on purpose, :mod:`harness.formulas` recomputes the other package's
rule from shared numbers; a gap the rule reproduces to 1e-10 is ``explained``, not waved through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from harness.design import Design, Folds
from harness.engines.result import EngineResult
from harness.formulas import atte_r_rule, python_aggregate, r_aggregate, var_scaling_factor
from harness.learners import LEARNERS, resolve_learner
from harness.spec import Spec

__all__ = ["EXPLAINED_LIMIT", "LEARNER_FREE_LIMIT", "Comparison", "compare", "nuisance_targets", "rel_diff", "spec_tier"]

LEARNER_FREE_LIMIT = 1e-10
EXPLAINED_LIMIT = 1e-10
NUISANCE_CORR_MIN = 0.95
SIGNIFICANCE_LEVELS = (0.01, 0.05, 0.10)


def rel_diff(a: float | np.ndarray, b: float | np.ndarray) -> float:
    """Largest ``|a - b| / max(|a|, |b|)`` (0 where both are 0, NaN where either is)."""
    a = np.atleast_1d(np.asarray(a, dtype=float))
    b = np.atleast_1d(np.asarray(b, dtype=float))
    if a.shape != b.shape or np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    out = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)
    return float(out.max()) if out.size else 0.0


def spec_tier(spec: Spec) -> tuple[str, float]:
    """The tier a spec earns from its weakest learner pair, and that pair's tolerance."""
    pairs = [LEARNERS[resolve_learner(spec.learner_for(n), n, spec.model).name] for n in spec.nuisances]
    if spec.tier == "statistical" or any(p.tier == "statistical" for p in pairs):
        return "statistical", 0.0
    return "exact", max(p.tolerance for p in pairs)


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    limit: float
    ok: bool

    def as_dict(self) -> dict:
        return {"name": self.name, "value": _num(self.value), "limit": _num(self.limit), "ok": bool(self.ok)}


def _num(value: float) -> Optional[float]:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _at_most(name: str, value: float, limit: float) -> Check:
    return Check(name, value, limit, bool(np.isfinite(value) and value <= limit))


def _at_least(name: str, value: float, limit: float) -> Check:
    return Check(name, value, limit, bool(np.isfinite(value) and value >= limit))


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


def nuisance_targets(spec: Spec, design: Design) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """What each nuisance predicts, and on which rows, for RMSE."""
    frame = design.frame
    y = frame[design.y].to_numpy()
    d = frame[design.d].to_numpy()
    everyone = np.ones(len(frame), dtype=bool)
    if spec.model == "plr":
        return {"ml_l": (y, everyone), "ml_m": (d, everyone)}
    z = frame[design.z[0]].to_numpy() if design.z else None
    if spec.model == "pliv":
        out = {"ml_l": (y, everyone), "ml_r": (d, everyone)}
        if len(design.z) == 1:
            out["ml_m"] = (z, everyone)
        return out
    if spec.model == "irm":
        return {"ml_g0": (y, d == 0), "ml_g1": (y, d == 1), "ml_m": (d, everyone)}
    return {
        "ml_g0": (y, z == 0),
        "ml_g1": (y, z == 1),
        "ml_m": (z, everyone),
        "ml_r0": (d, z == 0),
        "ml_r1": (d, z == 1),
    }


def _clip(pred: np.ndarray, threshold: float) -> np.ndarray:
    return np.clip(pred, threshold, 1 - threshold)


def compare_nuisance(spec: Spec, design: Design, py: EngineResult, r: EngineResult) -> dict:
    """Layer 3: per nuisance, max abs difference, RMSE ratio (Python / R) and correlation."""
    targets = nuisance_targets(spec, design)
    out = {}
    for name in sorted(set(py.predictions) & set(r.predictions)):
        a, b = py.predictions[name], r.predictions[name]
        if np.isnan(a).all() or np.isnan(b).all():
            continue  # a nuisance one package does not fit for this score (R's ml_g1 for ATTE)
        if name == "ml_m" and spec.model in ("irm", "iivm"):
            # R stores raw propensities and trims in the score; Python stores them trimmed.
            a, b = _clip(a, spec.trimming_threshold), _clip(b, spec.trimming_threshold)
        entry = {"max_abs_diff": _num(float(np.nanmax(np.abs(a - b)))) if a.size else None}
        flat_a, flat_b = a.ravel(), b.ravel()
        if np.std(flat_a) > 0 and np.std(flat_b) > 0:
            entry["corr"] = float(np.corrcoef(flat_a, flat_b)[0, 1])
        else:
            entry["corr"] = 1.0 if np.array_equal(flat_a, flat_b) else None
        if name in targets:
            target, rows = targets[name]
            rmse_py = float(np.sqrt(np.mean((a[rows] - target[rows, None]) ** 2)))
            rmse_r = float(np.sqrt(np.mean((b[rows] - target[rows, None]) ** 2)))
            entry.update(rmse_python=rmse_py, rmse_r=rmse_r, rmse_ratio=rmse_py / rmse_r if rmse_r > 0 else None)
        out[name] = entry
    return out


def _significance(p: float) -> int:
    """How many of the 1/5/10 % levels reject."""
    return sum(p < level for level in SIGNIFICANCE_LEVELS)


def end_to_end_diff(py: EngineResult, r: EngineResult) -> dict:
    se_mean = 0.5 * (py.se + r.se)
    return {
        "coef_abs": float(abs(py.coef - r.coef)),
        "coef_rel": rel_diff(py.coef, r.coef),
        "se_rel": rel_diff(py.se, r.se),
        "t_abs": float(abs(py.t - r.t)),
        "p_abs": float(abs(py.p - r.p)),
        "ci_rel": rel_diff(np.array(py.ci), np.array(r.ci)),
        "coef_reps_rel": rel_diff(py.coef_reps, r.coef_reps),
        "se_reps_rel": rel_diff(py.se_reps, r.se_reps),
        "coef_in_se": float(abs(py.coef - r.coef) / se_mean) if se_mean > 0 else float("nan"),
    }


def compare(
    spec: Spec,
    design: Design,
    folds: Folds,
    py: EngineResult,
    r: EngineResult,
    learner_free: Optional[EngineResult],
) -> Comparison:
    """Judge one spec from both engines' results (and Python's learner-free refit)."""
    tier, tol = spec_tier(spec)
    diff = end_to_end_diff(py, r)
    nuisance = compare_nuisance(spec, design, py, r)
    lf = None
    checks: list[Check] = []
    explained = None
    n_scale = var_scaling_factor(design)

    atte = spec.model == "irm" and spec.score_name == "ATTE"
    if learner_free is not None:
        lf = {
            "coef_rel": rel_diff(learner_free.coef_reps, r.coef_reps),
            "se_rel": rel_diff(learner_free.se_reps, r.se_reps),
        }

    if atte and not design.cluster:
        explained = atte_explanation(spec, design, folds, py, r, tol if tier == "exact" else None)
        checks.extend(explained.pop("_checks"))
    elif learner_free is not None:
        checks.append(_at_most("learner_free.coef_rel", lf["coef_rel"], LEARNER_FREE_LIMIT))
        checks.append(_at_most("learner_free.se_rel", lf["se_rel"], LEARNER_FREE_LIMIT))

    if tier == "exact" and not atte:
        checks.append(_at_most("coef_reps_rel", diff["coef_reps_rel"], tol))
        checks.append(_at_most("se_reps_rel", diff["se_reps_rel"], tol))
        aggregated_agree = diff["coef_rel"] <= tol and diff["se_rel"] <= tol
        if folds.n_rep == 1 or aggregated_agree:
            checks.append(_at_most("coef_rel", diff["coef_rel"], tol))
            checks.append(_at_most("se_rel", diff["se_rel"], tol))
        else:
            explained = aggregation_explanation(py, r, n_scale, tol)
            checks.extend(explained.pop("_checks"))
    elif tier == "statistical":
        same_sign = np.sign(py.coef) == np.sign(r.coef)
        checks.append(Check("same_sign", float(same_sign), 1.0, bool(same_sign)))
        same_sig = _significance(py.p) == _significance(r.p)
        checks.append(Check("same_significance_1_5_10", float(same_sig), 1.0, bool(same_sig)))
        checks.append(_at_most("coef_in_se", diff["coef_in_se"], spec.coef_tolerance_se))
        for name, entry in nuisance.items():
            if entry.get("corr") is not None:
                checks.append(_at_least(f"nuisance.{name}.corr", entry["corr"], NUISANCE_CORR_MIN))

    ok = all(c.ok for c in checks)
    if not ok:
        status = "disagree"
    elif explained is not None:
        status = "explained"
    else:
        status = "agree"
    return Comparison(status, tier, tol, diff, checks, lf, nuisance, explained)


def aggregation_explanation(py: EngineResult, r: EngineResult, n_scale: float, tol: float) -> dict:
    """n_rep > 1: each package's aggregate recomputed from the other's per-repetition numbers."""
    r_rule = r_aggregate(py.coef_reps, py.se_reps, n_scale)
    py_rule = python_aggregate(r.coef_reps, r.se_reps)
    checks = [
        _at_most("explained.r_rule_on_python_reps.se_rel", rel_diff(r_rule["se"], r.se), max(tol, EXPLAINED_LIMIT)),
        _at_most("explained.r_rule_on_python_reps.coef_rel", rel_diff(r_rule["coef"], r.coef), max(tol, EXPLAINED_LIMIT)),
        _at_most("explained.python_rule_on_r_reps.se_rel", rel_diff(py_rule["se"], py.se), max(tol, EXPLAINED_LIMIT)),
        _at_most("explained.python_rule_on_r_reps.p_rel", rel_diff(py_rule["p"], py.p), max(tol, EXPLAINED_LIMIT)),
    ]
    return {
        "rule": "n_rep aggregation: R se = sqrt(median(n*se_m^2 + (coef_m - median coef)^2)/n); "
        "Python se = (median(coef_m + 1.96 se_m) - median coef)/1.96, p = median p_m, CI = median of CIs",
        "gap_se_rel": rel_diff(py.se, r.se),
        "r_rule_on_python_reps": r_rule,
        "python_rule_on_r_reps": py_rule,
        "_checks": checks,
    }


def atte_explanation(spec: Spec, design: Design, folds: Folds, py: EngineResult, r: EngineResult, tol: Optional[float]) -> dict:
    """IRM ATTE: R's per-fold treated share recomputed from Python's predictions."""
    rule = atte_r_rule(design, folds, py.predictions, spec.trimming_threshold)
    checks = []
    if tol is not None:
        limit = max(tol, EXPLAINED_LIMIT)
        checks.append(
            _at_most("explained.r_rule_on_python_predictions.coef_rel", rel_diff(rule["coef_reps"], r.coef_reps), limit)
        )
        checks.append(_at_most("explained.r_rule_on_python_predictions.se_rel", rel_diff(rule["se_reps"], r.se_reps), limit))
    return {
        "rule": "IRM ATTE: R divides by the treated share of each test fold, Python by the overall treated share",
        "gap_coef_rel": rel_diff(py.coef, r.coef),
        "r_rule_on_python_predictions": {k: [float(v) for v in vals] for k, vals in rule.items()},
        "_checks": checks,
    }
