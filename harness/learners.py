"""The learner registry: one table that pairs each scikit-learn estimator with its mlr3 twin.

Parameters are written in scikit-learn's vocabulary and translated for R here, so a spec never
speaks mlr3. Each pair has a tier: ``exact`` pairs solve the same problem to solver precision and are
compared with a tolerance; ``statistical`` pairs use different algorithms or random streams and are
compared with the statistical rules in :mod:`harness.compare`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

import numpy as np

__all__ = [
    "LEARNERS",
    "LearnerChoice",
    "LearnerPair",
    "ResolvedLearner",
    "is_classifier_nuisance",
    "nuisances_of",
    "parse_learner",
    "resolve_learner",
]

Kind = Literal["regr", "classif"]
Tier = Literal["exact", "statistical"]
LearnerChoice = Union[str, dict]

# scikit-learn name -> (mlr3 name, translation of (value, number of features)).
Translation = dict[str, tuple[Optional[str], Callable[[Any, int], Any]]]


def _same(value: Any, n_features: int) -> Any:
    return value


def _int(value: Any, n_features: int) -> int:
    return int(value)


def _float(value: Any, n_features: int) -> float:
    return float(value)


def _mtry(value: Any, n_features: int) -> int:
    # scikit-learn floors max_features * p; mlr3's mtry.ratio would take the ceiling.
    return max(1, int(float(value) * n_features))


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


def _sk(module: str, cls: str, **fixed: Any) -> Callable[..., Any]:
    def make(**params: Any) -> Any:
        import importlib

        estimator = getattr(importlib.import_module(module), cls)
        return estimator(**{**fixed, **params})

    make.__name__ = cls
    return make


_RF_TRANSLATE: Translation = {
    "n_estimators": ("num.trees", _int),
    "max_features": ("mtry", _mtry),
    # scikit-learn's leaf minimum is ranger's min.bucket; ranger's min.node.size is the split minimum.
    "min_samples_leaf": ("min.bucket", _int),
    "min_samples_split": ("min.node.size", _int),
    "max_depth": ("max.depth", _int),
    "random_state": ("seed", _int),
}

LEARNERS: dict[str, LearnerPair] = {
    pair.name: pair
    for pair in [
        LearnerPair(
            name="ols",
            tier="exact",
            tolerance=1e-10,
            python={"regr": _sk("sklearn.linear_model", "LinearRegression")},
            r_key={"regr": "regr.lm"},
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
            translate={"alpha": ("lambda", _float)},
            r_fixed={"regr": {"alpha": 1, "standardize": False, "thresh": 1e-14, "maxit": 10_000_000}},
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
            translate=_RF_TRANSLATE,
            r_fixed={"regr": {"num.threads": 1}, "classif": {"num.threads": 1}},
            note="different implementations and random streams: never exact",
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
                "max_depth": ("maxdepth", _int),
                "min_samples_leaf": ("minbucket", _int),
                "min_samples_split": ("minsplit", _int),
                "random_state": (None, _same),
            },
            r_fixed={"regr": {"cp": 0, "xval": 0, "maxsurrogate": 0}, "classif": {"cp": 0, "xval": 0, "maxsurrogate": 0}},
            note="CART on both sides; tie-breaking between equal splits differs",
        ),
        LearnerPair(
            name="nnet",
            tier="statistical",
            tolerance=0.0,
            python={
                "regr": _sk("sklearn.neural_network", "MLPRegressor", solver="lbfgs"),
                "classif": _sk("sklearn.neural_network", "MLPClassifier", solver="lbfgs"),
            },
            r_key={"regr": "regr.nnet", "classif": "classif.nnet"},
            defaults={"hidden_layer_sizes": 5, "alpha": 0.01, "max_iter": 500, "random_state": 1},
            translate={
                "hidden_layer_sizes": ("size", _int),
                "alpha": ("decay", _float),
                "max_iter": ("maxit", _int),
                "random_state": (None, _same),
            },
            r_fixed={"regr": {"trace": False, "linout": True}, "classif": {"trace": False}},
            note="one hidden layer; random starting weights differ",
        ),
        LearnerPair(
            name="lasso_cv",
            tier="statistical",
            tolerance=0.0,
            python={"regr": _sk("sklearn.linear_model", "LassoCV", max_iter=100_000)},
            r_key={"regr": "regr.cv_glmnet"},
            defaults={"cv": 5},
            translate={"cv": ("nfolds", _int)},
            r_fixed={"regr": {"alpha": 1, "standardize": False, "s": "lambda.min"}},
            note="inner cross-validation folds are drawn independently",
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
            r_name, convert = pair.translate.get(key, (key, _same))
            if r_name is not None:
                out[r_name] = convert(value, n_features)
        return pair.r_key[self.kind], out


CLASSIFIER_NUISANCES = {"irm": {"ml_m"}, "iivm": {"ml_m", "ml_r"}}


def is_classifier_nuisance(model: str, nuisance: str) -> bool:
    return nuisance in CLASSIFIER_NUISANCES.get(model, set())


def nuisances_of(model: str, score: str, subgroups: Optional[dict[str, bool]] = None) -> list[str]:
    """Nuisance names as both DoubleML packages call them."""
    if model == "plr":
        return ["ml_l", "ml_m", "ml_g"] if score == "IV-type" else ["ml_l", "ml_m"]
    if model == "pliv":
        return ["ml_l", "ml_m", "ml_r"]
    if model == "irm":
        return ["ml_g", "ml_m"]
    return ["ml_g", "ml_m", "ml_r"]


def parse_learner(choice: Optional[LearnerChoice], nuisance: str, model: str) -> ResolvedLearner:
    """Turn a spec's learner entry into a resolved learner; ``ValueError`` names what is wrong."""
    if choice is None:
        raise ValueError(f"learners.{nuisance}: no learner given")
    if isinstance(choice, str):
        name, given = choice, {}
    elif isinstance(choice, dict) and isinstance(choice.get("name"), str):
        name = choice["name"]
        given = {k: v for k, v in choice.items() if k != "name"}
    else:
        raise ValueError(f"learners.{nuisance}: a learner name or a mapping with 'name'")
    if name not in LEARNERS:
        raise ValueError(f"learners.{nuisance}: unknown learner '{name}' (known: {', '.join(sorted(LEARNERS))})")
    pair = LEARNERS[name]
    kind: Kind = "classif" if is_classifier_nuisance(model, nuisance) else "regr"
    if kind not in pair.python:
        need = "classifier" if kind == "classif" else "regressor"
        raise ValueError(f"learners.{nuisance}: '{name}' has no {need}, and {model}'s {nuisance} needs one")
    params = {**pair.defaults, **given}
    estimator = pair.python[kind]()
    known = set(estimator.get_params(deep=False))
    for key in params:
        if key not in known:
            raise ValueError(f"learners.{nuisance}: learner '{name}' has no parameter '{key}'")
    resolved = ResolvedLearner(name=name, kind=kind, params=params)
    _validate_values(resolved, nuisance)
    return resolved


def _validate_values(resolved: ResolvedLearner, nuisance: str) -> None:
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        resolved.python_estimator()._validate_params()
    except (InvalidParameterError, ValueError, TypeError) as err:
        first = str(err).splitlines()[0]
        raise ValueError(f"learners.{nuisance}: learner '{resolved.name}': {first}") from None


def resolve_learner(choice: LearnerChoice, nuisance: str, model: str) -> ResolvedLearner:
    """Like :func:`parse_learner` for a spec already validated."""
    return parse_learner(choice, nuisance, model)
