"""Inner cross-validation folds the tool draws once and both packages use (issue 23).

A cross-validated learner (``lasso_cv``) chooses its penalty on folds inside each training set it
is fitted on. Left to themselves, scikit-learn's ``LassoCV`` and glmnet's ``cv.glmnet`` draw those
folds from their own random streams, and the two languages choose different penalties on the same
rows. Instead, the tool draws one random order of all rows from the spec seed; the inner folds of
any training set are its rows taken in that order and dealt round-robin into ``k`` folds (sizes
differ by at most one). The rule needs nothing but the rows a learner is fitted on, so it holds for
every training set a package forms (a cross-fitting fold, or its treated or untreated part), and
R computes the same folds from the same order (``r_scripts/cv_glmnet_learner.R``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["INNER_FOLD_STREAM", "inner_fold_labels", "inner_order"]

# The shared-draws streams are 1 (bootstrap weights) and 2 (SSM inner split).
INNER_FOLD_STREAM = 3


def inner_order(n_obs: int, seed: int) -> np.ndarray:
    """Every row's place in the tool's random order: a permutation of ``0..n_obs-1``."""
    return np.random.default_rng([seed, INNER_FOLD_STREAM]).permutation(n_obs).astype(np.int64)


def inner_fold_labels(rows: np.ndarray, order: np.ndarray, n_folds: int) -> np.ndarray:
    """The 0-based inner fold of each of ``rows`` (0-based row indices of the design, in the order
    the learner sees them): the rows sorted by ``order`` and dealt into ``n_folds`` folds."""
    rows = np.asarray(rows, dtype=np.int64)
    ranks = np.empty(len(rows), dtype=np.int64)
    ranks[np.argsort(order[rows], kind="stable")] = np.arange(len(rows))
    return ranks % n_folds
