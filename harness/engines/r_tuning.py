"""The tune block's searches as R receives them (``r_scripts/tuning.R``) and R's answer shaped as
the Python engine's (``EngineResult.tuned``). Plain values only: :mod:`harness.engines.r_engine`
converts them (it is the only rpy2 user)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.design.nuisance_columns import nuisance_columns
from harness.design.table import Design
from harness.design.tuning_plan import TuneTask
from harness.language.learners import ResolvedLearner, resolve_learner

__all__ = ["r_point", "r_tune_request", "tuned_from_r"]


def r_point(base: ResolvedLearner, point: dict[str, Any], n_features: int) -> dict[str, Any]:
    """A grid point in mlr3's names and values (the pair's translation, as for fixed parameters)."""
    _, translated = ResolvedLearner(base.name, base.kind, {**base.params, **point}).r_learner(n_features)
    names = {base.pair.translate.get(k, (k, None))[0] for k in point}
    return {k: v for k, v in translated.items() if k in names}


def r_tune_request(spec: Any, plan: list[TuneTask], design: Design) -> list[dict]:
    """Per task: its learner (mlr3 key and parameters), its points in R's vocabulary and its sets
    as 1-based rows and inner folds. Two points that translate to one R value (``max_features``
    fractions giving the same ``mtry`` on the nuisance's columns) are refused."""
    out = []
    for task in plan:
        n_features = len(nuisance_columns(spec, design, task.nuisance))
        base = resolve_learner(spec.learner_for(task.nuisance), task.nuisance, spec.model)
        key, params = base.r_learner(n_features)
        points = [r_point(base, p, n_features) for p in task.candidates]
        if len({repr(sorted(p.items())) for p in points}) < len(points):
            raise ValueError(f"tune.grid.{task.nuisance}: two grid points are the same in R on {n_features} features: {points}")
        sets = [
            [{"rows": (rows + 1).astype(np.int32), "folds": (folds + 1).astype(np.int32)} for rows, folds in rep]
            for rep in task.sets
        ]
        out.append(
            {
                "name": task.name,
                "target": task.target,
                "classif": task.classif,
                "key": key,
                "params": params,
                "candidates": points,
                "sets": sets,
            }
        )
    return out


def tuned_from_r(reported: Any, n_obs: int, n_rep: int, n_folds: int) -> dict:
    """R's flat, repetition-major answer as ``choice``/``score``/``folds`` arrays (one set per
    repetition and fold, or one in all without ``on_folds``)."""
    if not isinstance(reported, dict):
        return {}
    out = {}
    for name, values in reported.items():
        choice = np.asarray(values["choice"], dtype=np.int64).ravel()
        shape = (1, 1) if choice.size == 1 else (n_rep, n_folds)
        out[name] = {
            "choice": choice.reshape(shape),
            "score": np.asarray(values["score"], dtype=float).reshape(*shape, -1),
            "folds": np.asarray(values["folds"]).reshape(*shape, n_obs).astype(np.int8),
        }
    return out
