"""The learner registry: one table that pairs each scikit-learn estimator with its mlr3 twin.

Parameters are written in scikit-learn's vocabulary and translated for R here, so a spec never
speaks mlr3. Each pair has a tier: ``exact`` pairs solve the same problem to solver precision and are
compared with a tolerance; ``statistical`` pairs use different algorithms or random streams and are
compared with the statistical rules in :mod:`harness.verdict.compare`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

import numpy as np

from harness.language.learner_params import (
    LASSO_CV_TRANSLATE,
    LGBM_PY_FIXED,
    LGBM_R_FIXED,
    LGBM_TRANSLATE,
    RF_TRANSLATE,
    SVR_TRANSLATE,
    Translation,
    check_lasso_cv,
    check_lgbm,
    check_nnet,
    check_rf,
    check_svr,
    convert_float,
    convert_int,
    convert_same,
    rpart_depth,
)
from harness.language.spec_messages import did_you_mean

__all__ = [
    "CLASSIFIER_OPTIONAL",
    "LEARNERS",
    "LearnerChoice",
    "LearnerPair",
    "ResolvedLearner",
    "draws_at_random",
    "is_classifier_nuisance",
    "nuisances_of",
    "parse_learner",
    "resolve_learner",
]

Kind = Literal["regr", "classif"]
Tier = Literal["exact", "statistical"]
LearnerChoice = Union[str, dict]


@dataclass(frozen=True)
class LearnerPair:
    """A named learner: its scikit-learn factories, its mlr3 keys and how parameters translate."""

    name: str
    tier: Tier
    tolerance: float
    python: dict[Kind, Callable[..., Any]]
    r_key: dict[Kind, str]
    defaults: dict[str, Any] = field(default_factory=dict)
    translate: Translation = field(default_factory=dict)
    # Settings sent to R whatever the spec says: they make the pair solve the same problem.
    r_fixed: dict[Kind, dict[str, Any]] = field(default_factory=dict)
    note: str = ""
    # Extra checks of a spec's parameters (all of them, defaults included); returns the first problem.
    check: Optional[Callable[[dict[str, Any]], Optional[str]]] = None
    # (model, score) -> why the pair cannot serve it.
    refused: dict[tuple[str, str], str] = field(default_factory=dict)


def _sk(module: str, cls: str, **fixed: Any) -> Callable[..., Any]:
    def make(**params: Any) -> Any:
        import importlib

        estimator = getattr(importlib.import_module(module), cls)
        return estimator(**{**fixed, **params})

    make.__name__ = cls
    return make


LEARNERS: dict[str, LearnerPair] = {
    pair.name: pair
    for pair in [
        LearnerPair(
            name="ols",
            tier="exact",
            tolerance=1e-10,
            python={"regr": _sk("sklearn.linear_model", "LinearRegression")},
            r_key={"regr": "regr.lm"},
            # tol is scikit-learn's alone (lm has none). From scikit-learn 1.9 it is lstsq's cutoff on
            # dense data (default 1e-6), which drops directions of columns of different scales that
            # lm keeps: the design check refuses such a fold and names tol=2.22e-16 (lstsq's own).
            translate={"tol": (None, convert_float)},
            note="least squares; lm drops aliased columns, sklearn does not (full-rank designs only)",
        ),
        LearnerPair(
            name="logit",
            tier="exact",
            tolerance=1e-10,
            python={
                "classif": _sk(
                    "sklearn.linear_model",
                    "LogisticRegression",
                    C=np.inf,
                    solver="newton-cholesky",
                    tol=1e-14,
                    max_iter=1000,
                )
            },
            r_key={"classif": "classif.log_reg"},
            r_fixed={"classif": {"epsilon": 1e-14, "maxit": 100}},
            note="unpenalised logistic regression; default tolerances only agree to ~5e-6",
        ),
        LearnerPair(
            name="lasso",
            tier="exact",
            tolerance=1e-6,
            python={"regr": _sk("sklearn.linear_model", "Lasso", tol=1e-12, max_iter=1_000_000)},
            r_key={"regr": "regr.glmnet"},
            defaults={"alpha": 0.01},
            translate={"alpha": ("lambda", convert_float)},
            # glmnet stops on a change relative to the null deviance: 1e-14 left the moderation twin
            # (collinear dig_int, gov, dig_int x gov) 4e-9 apart; 1e-18 gives 4e-11 (measured).
            r_fixed={"regr": {"alpha": 1, "standardize": False, "thresh": 1e-18, "maxit": 10_000_000}},
            note="(1/2n)RSS + alpha*|b|_1 on both sides; coordinate descent on unscaled columns converges slowly, so 1e-6",
        ),
        LearnerPair(
            name="rf",
            tier="statistical",
            tolerance=0.0,
            python={
                "regr": _sk("sklearn.ensemble", "RandomForestRegressor", n_jobs=1),
                "classif": _sk("sklearn.ensemble", "RandomForestClassifier", n_jobs=1),
            },
            r_key={"regr": "regr.ranger", "classif": "classif.ranger"},
            defaults={
                "n_estimators": 200,
                "max_features": 0.5,
                "min_samples_leaf": 5,
                "min_samples_split": 2,
                "random_state": 1,
            },
            translate=RF_TRANSLATE,
            r_fixed={"regr": {"num.threads": 1}, "classif": {"num.threads": 1}},
            note="different implementations and random streams: never exact",
            check=check_rf,
        ),
        LearnerPair(
            name="tree",
            tier="statistical",
            tolerance=0.0,
            python={
                "regr": _sk("sklearn.tree", "DecisionTreeRegressor"),
                "classif": _sk("sklearn.tree", "DecisionTreeClassifier"),
            },
            r_key={"regr": "regr.rpart", "classif": "classif.rpart"},
            defaults={"max_depth": 5, "min_samples_leaf": 10, "min_samples_split": 20, "random_state": 1},
            translate={
                "max_depth": ("maxdepth", rpart_depth),
                "min_samples_leaf": ("minbucket", convert_int),
                "min_samples_split": ("minsplit", convert_int),
                "random_state": (None, convert_same),
            },
            r_fixed={"regr": {"cp": 0, "xval": 0, "maxsurrogate": 0}, "classif": {"cp": 0, "xval": 0, "maxsurrogate": 0}},
            note="CART on both sides; tie-breaking between equal splits differs",
        ),
        LearnerPair(
            name="nnet",
            tier="statistical",
            tolerance=0.0,
            python={
                "regr": _sk("sklearn.neural_network", "MLPRegressor", solver="lbfgs", activation="logistic"),
                "classif": _sk("sklearn.neural_network", "MLPClassifier", solver="lbfgs", activation="logistic"),
            },
            r_key={"regr": "regr.nnet", "classif": "classif.nnet"},
            defaults={"hidden_layer_sizes": 5, "alpha": 0.01, "max_iter": 500, "random_state": 1},
            translate={
                "hidden_layer_sizes": ("size", convert_int),
                "alpha": ("decay", convert_float),
                "max_iter": ("maxit", convert_int),
                "random_state": (None, convert_same),
            },
            r_fixed={"regr": {"trace": False}, "classif": {"trace": False}},  # mlr3 sets linout for regression
            check=check_nnet,
            note="one hidden layer; random starting weights differ",
        ),
        LearnerPair(
            name="lasso_cv",
            # The tool draws the inner folds (harness/design/inner_folds.py) and the grid, and R
            # picks the penalty by scikit-learn's rule: then both choose the same grid value and
            # refit the lasso pair's problem, so the lasso pair's tolerance holds.
            tier="exact",
            tolerance=1e-6,
            python={"regr": _sk("harness.engines.shared_cv", "LassoCVSharedFolds")},
            r_key={"regr": "regr.cv_glmnet_shared"},
            defaults={"cv": 5},
            translate=LASSO_CV_TRANSLATE,
            r_fixed={"regr": {"thresh": 1e-18, "maxit": 10_000_000}},
            note="LassoCV / cv.glmnet on the tool's inner folds and grid, penalty by scikit-learn's rule "
            "(mean of the folds' MSE, first minimum); then the lasso pair's problem",
            check=check_lasso_cv,
            refused={
                ("ssm", "nonignorable"): "doubleml fits ssm's nonignorable learners on its own sub-splits, where "
                "a learner is not told which rows it has, so the inner folds cannot be shared"
            },
        ),
        LearnerPair(
            name="lgbm",
            tier="exact",
            # bench/learner_pairs/learner_pairs.py: predictions bit-identical, DML coef/se within 1e-15.
            tolerance=1e-10,
            python={
                "regr": _sk("lightgbm", "LGBMRegressor", objective="regression", **LGBM_PY_FIXED),
                "classif": _sk("lightgbm", "LGBMClassifier", objective="binary", **LGBM_PY_FIXED),
            },
            r_key={"regr": "regr.lgbm", "classif": "classif.lgbm"},
            defaults={
                "n_estimators": 100,
                "learning_rate": 0.1,
                "num_leaves": 31,
                "max_depth": -1,
                "min_child_samples": 20,
                "min_child_weight": 1e-3,
                "min_split_gain": 0.0,
                "subsample": 1.0,
                "subsample_freq": 0,
                "colsample_bytree": 1.0,
                "reg_lambda": 0.0,
                "reg_alpha": 0.0,
                "subsample_for_bin": 200_000,
                "random_state": 1,
            },
            translate=LGBM_TRANSLATE,
            r_fixed={"regr": dict(LGBM_R_FIXED), "classif": dict(LGBM_R_FIXED)},
            note="one LightGBM core (same version both sides); seed, 1 thread, deterministic sent to both; "
            "R keeps the data's column order (mlr3 sorts features; LightGBM breaks gain ties by position)",
            check=check_lgbm,
        ),
        LearnerPair(
            name="svr",
            # Not exact: mlr3's regr.svm hands libsvm the columns in alphabetical order, the kernel
            # sums round differently, and the solver stops on another path within `tol`. Measured on
            # the city panel (C=10, gamma=0.5): predictions 1e-3 apart with tol 1e-3, 7e-9 with
            # tol 1e-9 (nine times slower); on generated data often bit-identical.
            tier="statistical",
            tolerance=0.0,
            python={"regr": _sk("sklearn.svm", "SVR", kernel="rbf")},
            r_key={"regr": "regr.svm"},
            defaults={"C": 1.0, "gamma": "auto", "epsilon": 0.1, "tol": 1e-3, "shrinking": True, "cache_size": 200.0},
            translate=SVR_TRANSLATE,
            r_fixed={"regr": {"type": "eps-regression", "kernel": "radial", "scale": False, "fitted": False}},
            note="eps-SVR, RBF kernel, unscaled, numeric gamma ('auto' = 1/p); libsvm's solver on both sides, "
            "but mlr3 reorders the columns alphabetically, so the solver's path differs within tol; regression only",
            check=check_svr,
        ),
    ]
}


@dataclass(frozen=True)
class ResolvedLearner:
    """A learner as one nuisance of one spec uses it."""

    name: str
    kind: Kind
    params: dict[str, Any]

    @property
    def pair(self) -> LearnerPair:
        return LEARNERS[self.name]

    def python_estimator(self) -> Any:
        return self.pair.python[self.kind](**self._python_params())

    def _python_params(self) -> dict[str, Any]:
        params = dict(self.params)
        if self.name == "nnet":
            params["hidden_layer_sizes"] = (int(params["hidden_layer_sizes"]),)
        return params

    def r_learner(self, n_features: int) -> tuple[str, dict[str, Any]]:
        """The mlr3 key and its parameters for a design with ``n_features`` columns."""
        pair = self.pair
        out: dict[str, Any] = dict(pair.r_fixed.get(self.kind, {}))
        for key, value in self.params.items():
            r_name, convert = pair.translate.get(key, (key, convert_same))
            converted = convert(value, n_features) if r_name is not None else None
            if converted is not None:  # None: not sent, R's learner default is the same (an unlimited depth)
                out[r_name] = converted
        return pair.r_key[self.kind], out


CLASSIFIER_NUISANCES = {"irm": {"ml_m"}, "iivm": {"ml_m", "ml_r"}, "ssm": {"ml_m", "ml_pi"}}


def is_classifier_nuisance(model: str, nuisance: str) -> bool:
    return nuisance in CLASSIFIER_NUISANCES.get(model, set())


# Both packages also take a classifier for PLR's ml_m when every treatment is 0/1, and for the
# outcome's ml_g of IRM, IIVM and SSM when the outcome is 0/1 (doubleml's _check_learner(...,
# classifier=True) and predict_proba; DoubleML's assert_learner(..., Classif = TRUE) and "prob"):
# it predicts the probability. A learner with only a classifier (logit) is one there; any other
# says ``classifier: true``.
CLASSIFIER_OPTIONAL = {"plr": {"ml_m"}, "irm": {"ml_g"}, "iivm": {"ml_g"}, "ssm": {"ml_g"}}


def _kind(name: str, nuisance: str, model: str, classifier: object) -> Kind:
    if classifier not in (None, True, False):
        raise ValueError(f"learners.{nuisance}: learner '{name}': classifier is true or false, got {classifier!r}")
    if is_classifier_nuisance(model, nuisance):
        return "classif"
    if nuisance not in CLASSIFIER_OPTIONAL.get(model, set()):
        if classifier:
            raise ValueError(
                f"learners.{nuisance}: {model}'s {nuisance} is a regression; only plr's ml_m (0/1 treatment) and the "
                "ml_g of irm, iivm and ssm (0/1 outcome) take a classifier"
            )
        return "regr"
    only_classifier = "regr" not in LEARNERS[name].python
    return "classif" if classifier or (classifier is None and only_classifier) else "regr"


def nuisances_of(model: str, score: str, subgroups: Optional[dict[str, bool]] = None, partial: str = "X") -> list[str]:
    """Nuisance names as both DoubleML packages call them.

    PLIV: partialling out X has ``ml_l``, ``ml_m`` (instrument on X), ``ml_r`` (treatment on X) and,
    for IV-type, ``ml_g``; partialling out Z only ``ml_r`` (treatment on X and Z); XZ has ``ml_l``,
    ``ml_m`` (treatment on X and Z) and ``ml_r`` (that prediction on X). SSM: ``ml_g`` (outcome),
    ``ml_pi`` (selection) and ``ml_m`` (treatment propensity).
    """
    if model == "plr":
        return ["ml_l", "ml_m", "ml_g"] if score == "IV-type" else ["ml_l", "ml_m"]
    if model == "pliv":
        if partial == "Z":
            return ["ml_r"]
        return ["ml_l", "ml_m", "ml_r", "ml_g"] if score == "IV-type" else ["ml_l", "ml_m", "ml_r"]
    if model == "irm":
        return ["ml_g", "ml_m"]
    if model == "ssm":
        return ["ml_g", "ml_pi", "ml_m"]
    return ["ml_g", "ml_m", "ml_r"]


def parse_learner(choice: Optional[LearnerChoice], nuisance: str, model: str, score: str = "") -> ResolvedLearner:
    """Turn a spec's learner entry into a resolved learner; ``ValueError`` names what is wrong."""
    if choice is None:
        raise ValueError(f"learners.{nuisance}: no learner given")
    if isinstance(choice, str):
        name, given = choice, {}
    elif isinstance(choice, dict) and isinstance(choice.get("name"), str):
        name = choice["name"]
        given = {k: v for k, v in choice.items() if k not in ("name", "classifier")}
    else:
        raise ValueError(f"learners.{nuisance}: a learner name or a mapping with 'name'")
    if name not in LEARNERS:
        hint = did_you_mean(name, LEARNERS) or f" (known: {', '.join(sorted(LEARNERS))})"
        raise ValueError(f"learners.{nuisance}: unknown learner '{name}'{hint}")
    pair = LEARNERS[name]
    if (model, score) in pair.refused:
        raise ValueError(f"learners.{nuisance}: '{name}' cannot serve {model} with score {score}: {pair.refused[model, score]}")
    kind = _kind(name, nuisance, model, choice.get("classifier") if isinstance(choice, dict) else None)
    if kind not in pair.python:
        need = "classifier" if kind == "classif" else "regressor"
        raise ValueError(f"learners.{nuisance}: '{name}' has no {need}, and {model}'s {nuisance} needs one")
    params = {**pair.defaults, **given}
    estimator = pair.python[kind]()
    known = estimator.get_params(deep=False)
    for key, value in params.items():
        if key not in known:
            raise ValueError(f"learners.{nuisance}: learner '{name}' has no parameter '{key}'{did_you_mean(key, known)}")
        # scikit-learn and R both read true as 1: `alpha: true` would fit a penalty nobody wrote.
        if isinstance(value, bool) and not isinstance(known[key], bool):
            raise ValueError(f"learners.{nuisance}: learner '{name}': parameter '{key}' is {str(value).lower()}, not a number")
    resolved = ResolvedLearner(name=name, kind=kind, params=params)
    _validate_values(resolved, nuisance)  # a pair's own check first: its words for what it fixes
    for key in params:
        if key not in pair.translate:  # R would stop on a name its learner lacks, after Python's fit
            translated = ", ".join(sorted(pair.translate)) or "none"
            raise ValueError(
                f"learners.{nuisance}: learner '{name}': parameter '{key}' has no R translation (translated: {translated})"
            )
    return resolved


def _validate_values(resolved: ResolvedLearner, nuisance: str) -> None:
    from sklearn.utils._param_validation import InvalidParameterError

    check = resolved.pair.check
    problem = check(resolved.params) if check is not None else None
    if problem:
        raise ValueError(f"learners.{nuisance}: learner '{resolved.name}': {problem}")
    try:
        estimator = resolved.python_estimator()
        # LightGBM's estimators have no scikit-learn parameter constraints; their check is above.
        if hasattr(estimator, "_parameter_constraints"):
            estimator._validate_params()
    except (InvalidParameterError, ValueError, TypeError) as err:
        first = str(err).splitlines()[0]
        raise ValueError(f"learners.{nuisance}: learner '{resolved.name}': {first}") from None


def resolve_learner(choice: LearnerChoice, nuisance: str, model: str) -> ResolvedLearner:
    """Like :func:`parse_learner` for a spec already validated."""
    return parse_learner(choice, nuisance, model)


def draws_at_random(spec: Any) -> bool:
    """Whether a fit of ``spec`` (a validated :class:`harness.language.spec.Spec`) is one draw: some
    nuisance learner has a random stream of its own (``random_state``), which another seed moves.
    Without one (ols, logit, lasso, svr), the same folds give the same fits in each package."""
    names = (resolve_learner(spec.learner_for(n), n, spec.model).name for n in spec.nuisances)
    return any("random_state" in LEARNERS[name].defaults for name in names)
