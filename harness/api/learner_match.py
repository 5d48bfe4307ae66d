"""A user's scikit-learn estimator as a learner of the registry (:mod:`harness.language.learners`):
the pair whose scikit-learn side is the same class with the same settings, and the parameters the
spec then gives it. An estimator with no twin, or a setting its twin cannot take, is a one-line
:class:`~harness.errors.ModelError` naming the nuisance, the estimator and the known ones."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.language.learners import CLASSIFIER_OPTIONAL, LEARNERS, LearnerChoice, is_classifier_nuisance, parse_learner

__all__ = ["known_estimators", "learner_choice", "same_setting"]

# Settings that do not change a fit's numbers.
IGNORED = {"n_jobs", "verbose", "copy_X"}
# The tool's own cross-validated pair (its inner folds are the tool's): no user estimator is it.
NOT_MATCHED = {"lasso_cv"}


def _reference(name: str, kind: str) -> Any:
    """The pair's scikit-learn estimator with its fixed settings and no spec parameters."""
    return LEARNERS[name].python[kind]()


def known_estimators() -> str:
    """``LinearRegression (ols), LogisticRegression (logit), ...``: every estimator with a twin."""
    out = []
    for name, pair in LEARNERS.items():
        if name not in NOT_MATCHED:
            classes = "/".join(dict.fromkeys(type(_reference(name, kind)).__name__ for kind in pair.python))
            out.append(f"{classes} ({name})")
    # LassoCV's twin is a spec's lasso_cv, the tool's own class on inner folds it draws for both languages.
    return ", ".join(out) + "; LassoCV only in a spec (learner lasso_cv)"


def same_setting(a: Any, b: Any) -> bool:
    """Equal settings (NaN equals NaN; an array or an object without ``==`` is never equal)."""
    if a is b:
        return True
    try:
        equal = a == b
    except Exception:
        return False
    if not isinstance(equal, (bool, np.bool_)):
        return False
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return bool(equal) or both_nan


def _as_the_twin_spells_it(estimator: Any, given: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """``given`` with settings that make the same fit as the twin's spelled the twin's way.

    LogisticRegression: ``penalty=None`` (``'none'`` before scikit-learn 1.2) is no penalty, which
    scikit-learn 1.8 spells ``C=inf`` and deprecates ``penalty`` for; ``penalty='l2'`` is what C
    scales by default. Scripts written for earlier releases use both spellings. LightGBM's
    estimators: ``objective=None`` is the estimator's own objective (``regression``; ``binary`` for
    a classifier of two classes, which every classifier nuisance is). MLPs: one hidden layer's
    tuple ``(5,)``, scikit-learn's own spelling, is the nnet pair's ``5``."""
    kind = type(estimator).__name__
    layers = given.get("hidden_layer_sizes")
    if kind in ("MLPRegressor", "MLPClassifier") and isinstance(layers, (tuple, list)) and len(layers) == 1:
        return {**given, "hidden_layer_sizes": layers[0]}
    if kind in ("LGBMRegressor", "LGBMClassifier") and given.get("objective", "") is None:
        return {**given, "objective": "regression" if kind == "LGBMRegressor" else "binary"}
    if kind != "LogisticRegression" or "penalty" not in given or "penalty" not in fixed:
        return given
    spelled = dict(given)
    if given["penalty"] is None or given["penalty"] == "none":
        spelled |= {"C": np.inf, "penalty": fixed["penalty"], "l1_ratio": fixed.get("l1_ratio")}
    elif given["penalty"] == "l2" and given.get("l1_ratio") in (None, 0, 0.0):
        spelled |= {"penalty": fixed["penalty"], "l1_ratio": fixed.get("l1_ratio")}
    return spelled


def _describe(estimator: Any) -> str:
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return "Pipeline(" + " -> ".join(type(step).__name__ for _, step in estimator.steps) + ")"
    return type(estimator).__name__


def learner_choice(estimator: Any, nuisance: str, model: str, score: str) -> LearnerChoice:
    """The spec entry (``{"name": ..., params...}``) whose pair reproduces ``estimator``."""
    from sklearn.base import is_classifier

    optional = nuisance in CLASSIFIER_OPTIONAL.get(model, set())  # PLR's ml_m: whichever the model holds
    kind = "classif" if is_classifier_nuisance(model, nuisance) or (optional and is_classifier(estimator)) else "regr"
    candidates = [
        name
        for name, pair in LEARNERS.items()
        if name not in NOT_MATCHED and kind in pair.python and type(estimator) is type(_reference(name, kind))
    ]
    if not candidates:
        from sklearn.linear_model import LassoCV

        if isinstance(estimator, LassoCV):  # the lasso_cv pair's Python side is the tool's own class
            raise ModelError(
                f"{nuisance}: {_describe(estimator)} picks its penalty on inner folds of its own, which harness.compare "
                "cannot hand to R's cv.glmnet: give the penalty it chose as Lasso(alpha=...), or write a spec with "
                "learner lasso_cv (the tool draws the inner folds and the grid for both languages)"
            )
        raise ModelError(
            f"{nuisance}: {_describe(estimator)} has no R twin in the learner registry (known: {known_estimators()})"
        )
    name = candidates[0]
    pair, reference = LEARNERS[name], _reference(name, kind)
    fixed = reference.get_params(deep=False)
    given = _as_the_twin_spells_it(estimator, estimator.get_params(deep=False), fixed)
    params: dict[str, Any] = {}
    wrong = []
    for key, value in given.items():
        if key in pair.defaults or (key in pair.translate and not same_setting(value, fixed.get(key))):
            params[key] = value
        elif key not in IGNORED and not same_setting(value, fixed.get(key)):
            wrong.append(key)
    if wrong:  # every setting at once, so one edit fixes them all
        have = ", ".join(f"{key}={given[key]!r}" for key in wrong)
        default = type(estimator)().get_params(deep=False)  # a deprecated setting's default is a sentinel
        needs = ", ".join(
            f"{key} left at its default" if same_setting(fixed.get(key), default.get(key)) else f"{key}={fixed.get(key)!r}"
            for key in wrong
        )
        raise ModelError(
            f"{nuisance}: {type(estimator).__name__}({have}): its R twin '{name}' ({pair.r_key[kind]}) "
            f"needs {needs}; {'change that setting' if len(wrong) == 1 else 'change those settings'}, "
            f"or use a learner with a twin (known: {known_estimators()})"
        )
    for key, value in params.items():
        convert = pair.translate.get(key, (key, lambda v, _n: v))[1]
        try:
            convert(value, 1)
        except (TypeError, ValueError):
            why = pair.check(params) if pair.check is not None else None  # the pair's own reason, when it has one
            seed = (
                " (give an integer seed: the tool refits your learners to confirm your numbers, and unseeded each fit draws anew)"
            )
            hint = seed if key == "random_state" else f": {why}" if why else ""
            raise ModelError(
                f"{nuisance}: {type(estimator).__name__}({key}={value!r}): its R twin '{name}' ({pair.r_key[kind]}) "
                f"cannot take this value{hint}"
            ) from None
    if optional and kind == "classif" and "regr" in pair.python:
        params["classifier"] = True
    choice: LearnerChoice = {"name": name, **params} if params else name
    try:
        resolved = parse_learner(choice, nuisance, model, score)
        resolved.r_learner(1)  # a value R cannot take (random_state=None as a seed) fails here
    except (ValueError, TypeError) as err:
        raise ModelError(f"{nuisance}: {type(estimator).__name__}: {' '.join(str(err).split())}") from None
    return choice
