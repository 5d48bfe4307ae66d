"""The nuisance layer of the verdict: each nuisance's predictions by both packages on the rows it
is fitted and judged on, compared (max-norm relative difference at the exact tier, correlation at
the statistical tier). A nuisance that cannot be compared (missing on one side, other shapes,
non-finite or, at the statistical tier, constant predictions) is a failed check, never a missing one."""

from __future__ import annotations

from typing import Optional

import numpy as np

from harness.design.table import Design
from harness.engines.result import EngineResult
from harness.language.spec import Spec
from harness.verdict.checks import Check, at_least, at_most, norm_rel_diff
from harness.verdict.propensity import propensity_extremes

__all__ = ["NUISANCE_CORR_MIN", "nuisance_checks", "nuisance_summary", "nuisance_targets"]

NUISANCE_CORR_MIN = 0.95


def nuisance_targets(spec: Spec, design: Design) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """What each nuisance predicts, and on which rows, for RMSE."""
    frame = design.frame
    y = frame[design.y].to_numpy()
    d = frame[design.d].to_numpy()
    everyone = np.ones(len(frame), dtype=bool)
    if spec.model == "plr":
        return {"ml_l": (y, everyone), "ml_m": (d, everyone), "ml_g": (y, everyone)}
    z = frame[design.z[0]].to_numpy() if design.z else None
    if spec.model == "pliv":
        # partial Z: ml_r predicts d from X and Z; XZ: ml_m does, and ml_r predicts ml_m's in-sample
        # fit (a target that differs per fold: no RMSE); X: ml_m (ml_m_<z> with several) predicts z.
        if spec.partial_name == "Z":
            return {"ml_r": (d, everyone)}
        if spec.partial_name == "XZ":
            return {"ml_l": (y, everyone), "ml_m": (d, everyone)}
        out = {"ml_l": (y, everyone), "ml_r": (d, everyone)}
        if len(design.z) == 1:
            out["ml_m"] = (z, everyone)
        for instrument in design.z if len(design.z) > 1 else ():
            out[f"ml_m_{instrument}"] = (frame[instrument].to_numpy(), everyone)
        return out
    if spec.model == "ssm":
        s = frame[design.s].to_numpy()
        return {
            "ml_pi": (s, everyone),
            "ml_m": (d, everyone),
            "ml_g_d0": (y, (d == 0) & (s == 1)),
            "ml_g_d1": (y, (d == 1) & (s == 1)),
        }
    if spec.model == "irm":
        return {"ml_g0": (y, d == 0), "ml_g1": (y, d == 1), "ml_m": (d, everyone)}
    return {"ml_g0": (y, z == 0), "ml_g1": (y, z == 1), "ml_m": (z, everyone), "ml_r0": (d, z == 0), "ml_r1": (d, z == 1)}


def _unfitted_by_design(spec: Spec, design: Design) -> set[str]:
    """Nuisances R 1.0.2 leaves unfitted (absent or all NaN): ``ml_g1`` for IRM ATTE, which R's ATTE
    score does not use, and PLIV's ``ml_m_<instrument>`` with several instruments, which it does not
    store (the tool's engine stores them: r_scripts/engine.R; another release may not). Nothing to
    compare there; any other nuisance is compared or fails."""
    if spec.model == "irm" and spec.score_name == "ATTE":
        return {"ml_g1"}
    if spec.model == "pliv" and spec.partial_name == "X" and len(design.z) > 1:
        return {f"ml_m_{instrument}" for instrument in design.z}
    return set()


def _uncomparable(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> Optional[str]:
    """Why two packages' predictions of one nuisance cannot be compared, or None."""
    for engine, x in (("python", a), ("r", b)):
        if x is None:
            return f"no {engine} predictions"
    if a.shape != b.shape:
        return f"shapes differ (python {a.shape}, r {b.shape})"
    for engine, x in (("python", a), ("r", b)):
        bad = int(np.size(x) - np.isfinite(x).sum())
        if bad:
            return f"{bad} of {np.size(x)} {engine} predictions are not finite"
    return None


def _shared_predictions(spec: Spec, design: Design, py: EngineResult, r: EngineResult) -> dict[str, tuple]:
    """Per nuisance either package reports: the two predictions, or None and why they cannot be compared."""
    out: dict[str, tuple] = {}
    unfitted = _unfitted_by_design(spec, design)
    for name in sorted(set(py.predictions) | set(r.predictions)):
        a, b = py.predictions.get(name), r.predictions.get(name)
        if name in unfitted and (b is None or np.isnan(b).all()):
            continue
        why = _uncomparable(a, b)
        if why is not None:
            out[name] = (None, why)
            continue
        if name == "ml_m" and spec.model in ("irm", "iivm", "ssm"):
            # R stores raw propensities and trims in the score; Python stores them trimmed.
            a = np.clip(a, spec.trimming_threshold, 1 - spec.trimming_threshold)
            b = np.clip(b, spec.trimming_threshold, 1 - spec.trimming_threshold)
        out[name] = (a, b)
    return out


def _correlation(a: np.ndarray, b: np.ndarray) -> tuple[Optional[float], Optional[str]]:
    flat_a, flat_b = a.ravel(), b.ravel()
    if np.array_equal(flat_a, flat_b):
        return 1.0, None
    constant = [engine for engine, x in (("python", flat_a), ("r", flat_b)) if not np.std(x) > 0]
    if constant:
        return None, f"{' and '.join(constant)} predictions constant: no correlation"
    return float(np.corrcoef(flat_a, flat_b)[0, 1]), None


def nuisance_summary(spec: Spec, design: Design, py: EngineResult, r: EngineResult) -> dict:
    """Per nuisance: max abs and relative difference, correlation, RMSE against the target; a nuisance
    that cannot be compared says why (``uncomparable``) and fails its check."""
    targets = nuisance_targets(spec, design)
    out = {}
    for name, (a, b) in _shared_predictions(spec, design, py, r).items():
        if a is None:
            out[name] = {"max_abs_diff": None, "max_rel_diff": None, "corr": None, "uncomparable": b}
            continue
        target, rows = targets.get(name, (None, None))
        size = float(np.abs(target[rows]).max(initial=0.0)) if target is not None else 0.0  # what it predicts
        entry = {"max_abs_diff": float(np.abs(a - b).max()) if a.size else None, "max_rel_diff": norm_rel_diff(a, b, size)}
        entry["corr"], why = _correlation(a, b)
        if why is not None:
            entry["corr_undefined"] = why
        if name == "ml_m" and spec.model in ("irm", "iivm"):
            # The weights the score divided by, per engine (heavy tails start there).
            assigned = design.frame[design.d if spec.model == "irm" else design.z[0]].to_numpy()
            entry["propensity"] = {
                engine: propensity_extremes(assigned, result.predictions[name], spec.trimming_threshold)
                for engine, result in (("python", py), ("r", r))
            }
        if target is not None:
            rmse_py = float(np.sqrt(np.mean((a[rows] - target[rows, None]) ** 2)))
            rmse_r = float(np.sqrt(np.mean((b[rows] - target[rows, None]) ** 2)))
            entry.update(rmse_python=rmse_py, rmse_r=rmse_r, rmse_ratio=rmse_py / rmse_r if rmse_r > 0 else None)
        out[name] = entry
    return out


def nuisance_checks(tier: str, tol: float, summary: dict) -> list[Check]:
    """One check per nuisance; one that cannot be compared (no value) fails, never goes missing."""
    out = []
    for name, entry in summary.items():
        if tier == "exact":
            value = entry["max_rel_diff"] if entry["max_rel_diff"] is not None else float("nan")
            out.append(at_most(f"nuisance.{name}.max_rel_diff", "nuisance", None, None, value, tol, "relative (max norm)"))
        else:
            value = entry["corr"] if entry["corr"] is not None else float("nan")
            out.append(at_least(f"nuisance.{name}.corr", "nuisance", None, None, value, NUISANCE_CORR_MIN, "correlation"))
    return out


# --- the verdict -----------------------------------------------------------------------------------
