"""What a spec's ``tune:`` block asks both engines to search (issue 23): per fitted nuisance, the
training sets the packages would tune on, their inner folds, and the grid's points.

doubleml 0.11.4's ``tune`` draws its inner folds with an unseeded ``KFold(shuffle=True)`` inside
``_dml_tune`` and takes no splitter; DoubleML 1.0.2's ``tune`` takes one ``Resampling`` for every
training set, and a custom resampling is instantiated on one task only. Neither can be handed the
tool's inner folds per training set, so the tool runs the same search in each language itself
(:mod:`harness.engines.python_tuning`, ``r_scripts/tuning.R``) on the sets built here, and sets the
chosen values with each package's ``set_ml_nuisance_params``. The training sets are the ones the
packages tune on: PLR's ``ml_l`` (outcome) and ``ml_m`` (treatment) on each cross-fitting training
set; IRM's ``ml_g`` as ``ml_g0`` and ``ml_g1`` on the untreated and treated rows of it, ``ml_m`` on
all of it. Without ``on_folds`` one search on all rows serves every fold. The inner folds are the
tool's (:mod:`harness.design.inner_folds`): the same rule as ``lasso_cv``'s, from the spec seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.design.inner_folds import inner_fold_labels, inner_order
from harness.design.splits import SampleSplits
from harness.design.table import Design
from harness.language.learners import resolve_learner
from harness.language.tune_settings import candidates

__all__ = ["TuneTask", "tuning_plan"]


@dataclass(frozen=True)
class TuneTask:
    """One fitted nuisance's searches.

    ``name``: the packages' nuisance name (``ml_g0``); ``nuisance``: the spec's (``ml_g``);
    ``target``: the design column it predicts; ``candidates``: the grid's points (scikit-learn
    names) in search order; ``sets``: per repetition, per cross-fitting fold, ``(rows, folds)``, the
    0-based design rows searched on and each one's 0-based inner fold (one set for all folds
    without ``on_folds``: ``[[(rows, folds)]]``)."""

    name: str
    nuisance: str
    target: str
    classif: bool
    candidates: list[dict[str, Any]]
    sets: list[list[tuple[np.ndarray, np.ndarray]]]


def _targets(model: str, nuisance: str, design: Design) -> list[tuple[str, str, Any]]:
    """(fitted name, target column, which rows of a training set: None all, else the treatment value)."""
    if model == "irm" and nuisance == "ml_g":
        return [("ml_g0", design.y, 0.0), ("ml_g1", design.y, 1.0)]
    if nuisance == "ml_l" or nuisance == "ml_g":
        return [(nuisance, design.y, None)]
    return [(nuisance, design.d, None)]


def tuning_plan(spec: Any, design: Design, splits: SampleSplits) -> list[TuneTask]:
    """The searches of ``spec.tune`` on this design and these folds (empty without a tune block)."""
    tune = spec.tune
    if tune is None:
        return []
    order = inner_order(design.n_obs, spec.seed)
    treatment = design.frame[design.d].to_numpy(dtype=float)
    tasks = []
    for nuisance, grid in tune.grid.items():
        for name, target, arm in _targets(spec.model, nuisance, design):
            training = [[train for train, _ in rep] for rep in splits.smpls] if tune.on_folds else [[np.arange(design.n_obs)]]
            sets = []
            for rep in training:
                per_fold = []
                for rows in rep:
                    rows = np.asarray(rows, dtype=np.int64)
                    if arm is not None:
                        rows = rows[treatment[rows] == arm]
                    per_fold.append((rows, inner_fold_labels(rows, order, tune.n_folds_tune)))
                sets.append(per_fold)
            tasks.append(
                TuneTask(
                    name=name,
                    nuisance=nuisance,
                    target=target,
                    classif=resolve_learner(spec.learner_for(nuisance), nuisance, spec.model).kind == "classif",
                    candidates=candidates(grid),
                    sets=sets,
                )
            )
    return tasks
