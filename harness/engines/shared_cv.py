"""``lasso_cv`` in Python: scikit-learn's ``LassoCV`` on the tool's inner folds and penalty grid.

The estimator (:class:`LassoCVSharedFolds`) builds, for the rows it is fitted on, the inner folds
of :func:`harness.design.inner_folds.inner_fold_labels` and the penalty grid below, and hands both
to ``LassoCV(cv=<(train, test) index arrays>, alphas=<grid>)``. R's twin
(``r_scripts/cv_glmnet_learner.R``) hands the same folds and grid to ``cv.glmnet(foldid=,
lambda=)`` and picks the penalty by scikit-learn's rule.

A scikit-learn estimator sees the rows of its training set, not which rows of the design they are.
doubleml 0.11.4 fits learners in ``utils/_estimation.py``, through two names that module imports:
sklearn's ``cross_val_predict`` (folds that partition the rows) and its own ``_fit`` (training sets
that are subsets, e.g. IRM's treated rows). For the duration of a fit, :func:`row_ids_to_learners`
substitutes both by versions that also pass the training rows' indices to this estimator's
``fit`` (``row_ids``), and change nothing for any other learner. SSM's nonignorable score fits its
learners with plain ``.fit`` calls on sub-splits of its own, which no substitute sees: the registry
refuses ``lasso_cv`` there (``LearnerPair.refused``), and a fit without rows raises.

The grid, when the spec gives none: scikit-learn's default on the training set, ``n_alphas`` values
spaced geometrically from ``alpha_max = max_j |x_j'(y - mean y)| / n`` (columns centred) down to
``eps * alpha_max``; R computes it by the same formula (the two agree to the last bits, not bitwise).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Optional

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from harness.design.inner_folds import inner_fold_labels

__all__ = ["LassoCVSharedFolds", "default_grid", "row_ids_to_learners"]

_LOCK = threading.RLock()


def default_grid(x: np.ndarray, y: np.ndarray, n_alphas: int, eps: float) -> np.ndarray:
    """scikit-learn's default ``LassoCV`` grid on one training set, largest first."""
    xc = x - x.mean(axis=0)
    alpha_max = np.max(np.abs(xc.T @ (y - y.mean()))) / len(y)
    return np.geomspace(alpha_max, alpha_max * eps, num=n_alphas)


class LassoCVSharedFolds(RegressorMixin, BaseEstimator):
    """``LassoCV`` whose inner folds and grid the tool decides.

    ``row_order``: the tool's order of the design's rows (set by the engine); ``fit`` needs
    ``row_ids``, the design rows of ``x`` (passed by :func:`row_ids_to_learners`).
    After ``fit``: ``alpha_`` (the chosen penalty), ``alphas_`` (the grid), ``inner_rows_`` and
    ``inner_folds_`` (each training row and its 0-based inner fold).
    """

    def __init__(
        self,
        cv: int = 5,
        alphas: Optional[list] = None,
        n_alphas: int = 100,
        eps: float = 1e-3,
        tol: float = 1e-12,
        max_iter: int = 1_000_000,
        row_order: Optional[np.ndarray] = None,
    ) -> None:
        self.cv = cv
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.eps = eps
        self.tol = tol
        self.max_iter = max_iter
        self.row_order = row_order

    def fit(self, x: Any, y: Any, row_ids: Optional[np.ndarray] = None) -> LassoCVSharedFolds:
        from sklearn.linear_model import LassoCV

        if row_ids is None or self.row_order is None:
            raise RuntimeError("lasso_cv was fitted without the tool's rows (row_ids) or row order")
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        folds = inner_fold_labels(row_ids, np.asarray(self.row_order), int(self.cv))
        splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(int(self.cv))]
        if self.alphas is None:
            grid = default_grid(x, y, int(self.n_alphas), float(self.eps))
        else:
            grid = np.sort(np.asarray(self.alphas, dtype=float))[::-1]
        self.model_ = LassoCV(cv=splits, alphas=grid, tol=self.tol, max_iter=self.max_iter).fit(x, y)
        self.alpha_ = float(self.model_.alpha_)
        self.alphas_ = grid
        self.inner_rows_ = np.asarray(row_ids, dtype=np.int64)
        self.inner_folds_ = folds
        return self

    def predict(self, x: Any) -> np.ndarray:
        return self.model_.predict(np.asarray(x, dtype=float))


@contextlib.contextmanager
def row_ids_to_learners() -> Iterator[None]:
    """doubleml's fits hand :class:`LassoCVSharedFolds` the design rows of each training set."""
    import doubleml.utils._estimation as estimation

    original_cvp, original_fit = estimation.cross_val_predict, estimation._fit

    def cross_val_predict(estimator, x, y=None, **kwargs):
        if isinstance(estimator, LassoCVSharedFolds):
            # sklearn hands each fit its slice of every fit parameter the length of x.
            kwargs["params"] = {**(kwargs.get("params") or {}), "row_ids": np.arange(x.shape[0])}
        return original_cvp(estimator, x, y, **kwargs)

    def fit(estimator, x, y, train_index, idx=None, sample_weights=None):
        if isinstance(estimator, LassoCVSharedFolds) and sample_weights is None:
            estimator.fit(x[train_index, :], y[train_index], row_ids=np.asarray(train_index))
            return estimator, idx
        return original_fit(estimator, x, y, train_index, idx, sample_weights=sample_weights)

    with _LOCK:
        estimation.cross_val_predict, estimation._fit = cross_val_predict, fit
        try:
            yield
        finally:
            estimation.cross_val_predict, estimation._fit = original_cvp, original_fit
