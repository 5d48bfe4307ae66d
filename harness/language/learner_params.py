"""The parameters of learner pairs: how a scikit-learn parameter is named and converted for mlr3,
and the checks a spec's values must pass before either engine sees them (split out of
``learners.py``, which keeps the registry itself)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

__all__ = [
    "LASSO_CV_TRANSLATE",
    "LGBM_PY_FIXED",
    "LGBM_R_FIXED",
    "LGBM_TRANSLATE",
    "RF_TRANSLATE",
    "SVR_TRANSLATE",
    "Translation",
    "check_lasso_cv",
    "check_nnet",
    "check_rf",
    "check_lgbm",
    "check_svr",
    "convert_float",
    "convert_int",
    "convert_same",
    "rpart_depth",
]

# scikit-learn name -> (mlr3 name, translation of (value, number of features)).
Translation = dict[str, tuple[Optional[str], Callable[[Any, int], Any]]]


def convert_same(value: Any, n_features: int) -> Any:
    return value


def convert_int(value: Any, n_features: int) -> int:
    return int(value)


def convert_float(value: Any, n_features: int) -> float:
    return float(value)


def _mtry(value: Any, n_features: int) -> int:
    """scikit-learn's ``max_features`` as the count it draws (``BaseDecisionTree._fit``): "sqrt"
    and "log2" of p floored (the classifier's default is "sqrt"), None all, an integer that many,
    a float that share of p floored (mlr3's mtry.ratio would take the ceiling); at least 1."""
    if value is None:
        return n_features
    if value in ("sqrt", "log2"):
        return max(1, int(math.sqrt(n_features) if value == "sqrt" else math.log2(n_features)))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"max_features {value!r}")
    return int(value) if isinstance(value, int) else max(1, int(float(value) * n_features))


def _split_minimum(value: Any, n_features: int) -> int:
    # scikit-learn splits a node that holds at least min_samples_split rows; ranger one that holds
    # more than min.node.size (TreeRegression.cpp and TreeProbability.cpp: a node of num_samples <=
    # min.node.size is a leaf). One tree on every row once: 0 apart this way, 150 apart with equal
    # values (bench/learner_pairs/forest_leaf_rule.py).
    return int(value) - 1


def _ranger_depth(value: Any, n_features: int) -> Optional[int]:
    return None if value is None else int(value)  # None: unlimited in both, so not sent


def rpart_depth(value: Any, n_features: int) -> int:
    return 30 if value is None else int(value)  # rpart's deepest tree (its maxdepth is at most 30)


RF_TRANSLATE: Translation = {
    "n_estimators": ("num.trees", convert_int),
    "max_features": ("mtry", _mtry),
    # scikit-learn's leaf minimum is ranger's min.bucket (both count a leaf's rows: scikit-learn the
    # distinct rows of the bootstrap sample, ranger its draws); ranger's min.node.size is the split minimum.
    "min_samples_leaf": ("min.bucket", convert_int),
    "min_samples_split": ("min.node.size", _split_minimum),
    "max_depth": ("max.depth", _ranger_depth),
    "random_state": ("seed", convert_int),
}


def _gamma(value: Any, n_features: int) -> float:
    # scikit-learn's "auto" is 1/p, e1071's own default; "scale" is refused in check_svr.
    return 1.0 / n_features if value == "auto" else float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _only(params: dict[str, Any], translate: Translation, why: str) -> Optional[str]:
    for key in params:
        if key not in translate:
            return f"parameter '{key}' {why} (supported: {', '.join(sorted(translate))})"
    return None


# LightGBM in the scikit-learn wrapper's vocabulary, named as lgb.train knows them. The wrapper's
# defaults equal LightGBM's core defaults, and all are sent to R explicitly so neither side falls back.
LGBM_TRANSLATE: Translation = {
    "n_estimators": ("num_iterations", convert_int),
    "learning_rate": ("learning_rate", convert_float),
    "num_leaves": ("num_leaves", convert_int),
    "max_depth": ("max_depth", convert_int),
    "min_child_samples": ("min_data_in_leaf", convert_int),
    "min_child_weight": ("min_sum_hessian_in_leaf", convert_float),
    "min_split_gain": ("min_gain_to_split", convert_float),
    "subsample": ("bagging_fraction", convert_float),
    "subsample_freq": ("bagging_freq", convert_int),
    "colsample_bytree": ("feature_fraction", convert_float),
    "reg_lambda": ("lambda_l2", convert_float),
    "reg_alpha": ("lambda_l1", convert_float),
    "subsample_for_bin": ("bin_construct_sample_cnt", convert_int),
    "random_state": ("seed", convert_int),
}

# (name, integer?, lowest allowed, lowest is allowed?, highest allowed)
_LGBM_RANGES: list[tuple[str, bool, float, bool, float]] = [
    ("n_estimators", True, 1, True, np.inf),
    ("learning_rate", False, 0, False, np.inf),
    ("num_leaves", True, 2, True, 131072),
    ("max_depth", True, -np.inf, True, np.inf),
    ("min_child_samples", True, 0, True, np.inf),
    ("min_child_weight", False, 0, True, np.inf),
    ("min_split_gain", False, 0, True, np.inf),
    ("subsample", False, 0, False, 1),
    ("subsample_freq", True, 0, True, np.inf),
    ("colsample_bytree", False, 0, False, 1),
    ("reg_lambda", False, 0, True, np.inf),
    ("reg_alpha", False, 0, True, np.inf),
    ("subsample_for_bin", True, 1, True, np.inf),
    ("random_state", True, 0, True, 2**31 - 1),
]

# Settings both sides always get: one thread, deterministic histograms and column-wise layout make
# a fit a pure function of data and seed; the rest pin values the two front ends could default apart.
_LGBM_FIXED: dict[str, Any] = {
    "deterministic": True,
    "force_col_wise": True,
    "boost_from_average": True,
    "min_data_in_bin": 3,
    "max_bin": 255,
}
LGBM_PY_FIXED: dict[str, Any] = {**_LGBM_FIXED, "n_jobs": 1, "verbosity": -1}
LGBM_R_FIXED: dict[str, Any] = {**_LGBM_FIXED, "num_threads": 1, "verbose": -1}


def check_rf(params: dict[str, Any]) -> Optional[str]:
    for name in ("min_samples_leaf", "min_samples_split"):
        if name in params and not _is_int(params[name]):
            return f"{name} must be an integer (a share of each training set's rows has no ranger setting), got {params[name]!r}"
    return None


def check_nnet(params: dict[str, Any]) -> Optional[str]:
    # R's nnet has one hidden layer of `size` units: scikit-learn's tuple of layer sizes has one entry.
    size = params.get("hidden_layer_sizes")
    if isinstance(size, (list, tuple)):
        fix = f"write hidden_layer_sizes: {size[0]}" if len(size) == 1 else "R's nnet has one hidden layer"
        return f"hidden_layer_sizes is one layer's number of units, got {list(size)!r} ({fix})"
    if not (_is_int(size) and size >= 1):
        return f"hidden_layer_sizes is one layer's number of units, a whole number of at least 1, got {size!r}"
    return None


def check_lgbm(params: dict[str, Any]) -> Optional[str]:
    problem = _only(params, LGBM_TRANSLATE, "is fixed by the pair or has no R translation")
    if problem:
        return problem
    for name, integer, low, low_ok, high in _LGBM_RANGES:
        if name not in params:
            continue
        value = params[name]
        if not (_is_int(value) if integer else _is_num(value)):
            return f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}"
        if not ((value >= low if low_ok else value > low) and value <= high):
            lo = "[" if low_ok else "("
            return f"{name} must lie in {lo}{low:g}, {high:g}], got {value!r}"
    return None


SVR_TRANSLATE: Translation = {
    "C": ("cost", convert_float),
    "gamma": ("gamma", _gamma),
    "epsilon": ("epsilon", convert_float),
    "tol": ("tolerance", convert_float),
    "shrinking": ("shrinking", convert_same),
    "cache_size": ("cachesize", convert_float),
}


def check_svr(params: dict[str, Any]) -> Optional[str]:
    problem = _only(params, SVR_TRANSLATE, "has no e1071 translation (kernel is rbf)")
    if problem:
        return problem
    gamma = params.get("gamma")
    if not (gamma == "auto" or (_is_num(gamma) and gamma > 0)):
        # "scale" is 1/(p var(X)) of each training fold, which mlr3's regr.svm cannot see.
        why = " (1/(n_features var(X)) of each training fold, which R's svm cannot be given)" if gamma == "scale" else ""
        return f"gamma must be a positive number or 'auto' (1/n_features), got {gamma!r}{why}"
    return None


def _grid(value: Any, n_features: int) -> list[float]:
    # A list reaches R as a list of numbers (the learner takes as.numeric of it) and reads well in
    # the learner settings of results.json.
    return [float(v) for v in value]


LASSO_CV_TRANSLATE: Translation = {
    "cv": ("nfolds", convert_int),
    "alphas": ("lambda", _grid),
    "n_alphas": ("nlambda", convert_int),
    "eps": ("eps", convert_float),
}


def check_lasso_cv(params: dict[str, Any]) -> Optional[str]:
    problem = _only(params, LASSO_CV_TRANSLATE, "is fixed by the pair (the tool draws the inner folds)")
    if problem:
        return problem
    cv = params.get("cv")
    if not (_is_int(cv) and cv >= 3):
        return f"cv must be a number of inner folds, an integer >= 3 (R's cv.glmnet refuses fewer), got {cv!r}"
    for name in ("n_alphas",):
        if name in params and not (_is_int(params[name]) and params[name] >= 2):
            return f"{name} must be an integer >= 2, got {params[name]!r}"
    if "eps" in params and not (_is_num(params["eps"]) and 0 < params["eps"] < 1):
        return f"eps must lie in (0, 1), got {params['eps']!r}"
    grid = params.get("alphas")
    if grid is None:
        return None
    if not isinstance(grid, (list, tuple)) or not all(_is_num(a) for a in grid):
        return f"alphas must be a list of numbers, got {grid!r}"
    if len(set(grid)) < 2:
        return f"alphas needs at least two distinct values (R's cv.glmnet refuses a single lambda), got {list(grid)!r}"
    if len(set(grid)) != len(grid):
        return f"alphas has a repeated value (glmnet's lambda sequence must decrease strictly), got {list(grid)!r}"
    bad = [a for a in grid if not (np.isfinite(a) and a > 0)]
    if bad:
        return f"alphas must be positive and finite (glmnet's lambda and a lasso penalty), got {bad[0]!r}"
    return None
