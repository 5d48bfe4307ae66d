"""The tune block in Python: scikit-learn's grid search on the tool's inner folds, per training set
of :func:`harness.design.tuning_plan.tuning_plan`, the chosen points set with doubleml's
``set_ml_nuisance_params`` (fold-specific: one point per repetition and fold).

Not doubleml's ``tune``: 0.11.4 draws its inner folds inside ``_dml_tune`` with an unseeded
``KFold(shuffle=True)`` and accepts no splitter, and with ``tune_on_folds=True`` and ``n_rep > 1``
it raises an ``IndexError``. Here every repetition is searched on its own folds, so ``n_rep > 1``
works. The criterion is the mean over inner folds of each fold's mean squared error (regressors)
or log loss (classifiers), R's ``regr.mse`` / ``classif.logloss`` aggregated the same way; the
first best point in grid order wins (``GridSearchCV``'s rule, which R's side applies too).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.design.table import Design
from harness.design.tuning_plan import TuneTask
from harness.language.learners import ResolvedLearner, resolve_learner

__all__ = ["python_point", "tune_python"]


def python_point(base: ResolvedLearner, point: dict[str, Any]) -> dict[str, Any]:
    """A grid point as the scikit-learn estimator takes it (nnet's layer size as a tuple)."""
    params = ResolvedLearner(base.name, base.kind, {**base.params, **point})._python_params()
    return {k: v for k, v in params.items() if k in point}


def _search(base: ResolvedLearner, task: TuneTask, x: np.ndarray, y: np.ndarray, rows: np.ndarray, folds: np.ndarray):
    from sklearn.model_selection import GridSearchCV

    splits = [(np.flatnonzero(folds != j), np.flatnonzero(folds == j)) for j in range(int(folds.max()) + 1)]
    grid = [{k: [v] for k, v in python_point(base, point).items()} for point in task.candidates]
    scoring = "neg_log_loss" if task.classif else "neg_mean_squared_error"
    search = GridSearchCV(base.python_estimator(), grid, scoring=scoring, cv=splits, refit=False, error_score="raise")
    search.fit(x[rows], y[rows])
    return int(search.best_index_), -np.asarray(search.cv_results_["mean_test_score"], dtype=float)


def tune_python(model: Any, spec: Any, design: Design, plan: list[TuneTask], n_rep: int, n_folds: int) -> dict:
    """Search every task of ``plan``, set the chosen points on ``model``; returns per fitted
    nuisance ``choice`` (repetitions x folds, 0-based grid point; 1 x 1 without ``on_folds``),
    ``score`` (the criterion of every point, ... x points) and ``folds`` (each design row's inner
    fold per set, -1 outside it), the shape of ``EngineResult.tuned``."""
    x = design.frame[list(design.x)].to_numpy(dtype=float)
    out = {}
    for task in plan:
        base = resolve_learner(spec.learner_for(task.nuisance), task.nuisance, spec.model)
        y = design.frame[task.target].to_numpy(dtype=float)
        shape = (len(task.sets), len(task.sets[0]))
        choice = np.zeros(shape, dtype=np.int64)
        score = np.zeros((*shape, len(task.candidates)))
        labels = np.full((*shape, design.n_obs), -1, dtype=np.int8)
        for r, rep in enumerate(task.sets):
            for k, (rows, folds) in enumerate(rep):
                choice[r, k], score[r, k] = _search(base, task, x, y, rows, folds)
                labels[r, k, rows] = folds
        points = [python_point(base, p) for p in task.candidates]
        per_fold = [
            [points[choice[min(r, shape[0] - 1), min(k, shape[1] - 1)]] for k in range(n_folds)] for r in range(n_rep)
        ]
        model.set_ml_nuisance_params(task.name, design.d, per_fold)
        out[task.name] = {"choice": choice, "score": score, "folds": labels}
    return out
