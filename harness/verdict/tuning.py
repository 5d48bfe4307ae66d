"""The tune block judged (issue 23): both packages searched the same rows on the same inner folds,
and, for deterministic learners (exact-tier pairs), chose the same grid point in every search.

Forests and the other statistical pairs may choose differently on the same folds (their criteria
carry each implementation's random stream); their choices are shown side by side and the estimate
is judged by the statistical rules as any other spec's. ``results.json`` keeps :func:`tuning_summary`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.engines.result import EngineResult
from harness.verdict.checks import Check, at_most

__all__ = ["tuning_checks", "tuning_summary"]


def _names(py: EngineResult, r: EngineResult) -> list[str]:
    return sorted(set(py.tuned) | set(r.tuned))


def _count_unequal(a: Any, b: Any) -> float:
    if a is None or b is None or np.shape(a) != np.shape(b):
        return float("nan")  # a side that did not search, or searched other sets, cannot pass
    return float(np.sum(np.asarray(a) != np.asarray(b)))


def tuning_checks(spec: Any, tier: str, py: EngineResult, r: EngineResult) -> list[Check]:
    """Per tuned nuisance: rows whose inner fold differs between the languages (both tiers); with
    an exact tier, searches whose chosen point differs."""
    if spec.tune is None:
        return []
    out = []
    for name in _names(py, r):
        p, q = py.tuned.get(name, {}), r.tuned.get(name, {})
        value = _count_unequal(p.get("folds"), q.get("folds"))
        out.append(at_most(f"tune.{name}.inner_folds", "tuning", name, None, value, 0, "rows in another inner fold"))
        if tier == "exact":
            value = _count_unequal(p.get("choice"), q.get("choice"))
            out.append(at_most(f"tune.{name}.choice", "tuning", name, None, value, 0, "searches choosing another grid point"))
    return out


def _points(tuned: dict, grid: list[dict]) -> list[list[dict]]:
    return [[grid[int(i)] for i in row] for row in np.asarray(tuned["choice"])]


def tuning_summary(spec: Any, py: EngineResult, r: EngineResult) -> dict:
    """Per tuned nuisance the grid and each engine's chosen point per repetition and fold (one
    search without ``on_folds``), whether they match, and each engine's best criterion."""
    from harness.language.tune_settings import candidates

    tune = spec.tune
    nuisances = {}
    for name in _names(py, r):
        grid_name = "ml_g" if name in ("ml_g0", "ml_g1") else name
        grid = candidates(tune.grid[grid_name])
        entry: dict[str, Any] = {"grid": grid}
        for engine, result in (("python", py), ("r", r)):
            tuned = result.tuned.get(name)
            entry[engine] = None if tuned is None else _points(tuned, grid)
            entry[f"{engine}_criterion"] = None if tuned is None else np.min(tuned["score"], axis=-1).tolist()
        same = entry["python"] is not None and entry["python"] == entry["r"]
        entry["match"] = bool(same)
        nuisances[name] = entry
    return {
        "n_folds_tune": tune.n_folds_tune,
        "on_folds": tune.on_folds,
        "criterion": "mean over inner folds of MSE (regressors) or log loss (classifiers); first best in grid order",
        "nuisances": nuisances,
        "match": all(e["match"] for e in nuisances.values()),
    }
