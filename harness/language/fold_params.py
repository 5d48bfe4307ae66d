"""The spec's ``fold_params``: learner parameters given per repetition and fold, as doubleml's
``set_ml_nuisance_params(learner, d, [[...], ...])`` and DoubleML's ``set_ml_nuisance_params(...,
set_fold_specific = TRUE)`` take them (doubleml's ``tune(tune_on_folds=True)`` leaves a model so).

Keyed by the packages' own nuisance names (IRM's ``ml_g0`` and ``ml_g1``, SSM's ``ml_g_d0``), which
are the same in both; each value is ``n_rep`` lists of ``n_folds`` mappings of scikit-learn's
parameter names, laid over the nuisance's spec learner in that fold (``n_folds``² cells with two
cluster variables, numbered as ``harness.design.table`` numbers them: the first variable fastest).
A nuisance left out keeps its spec learner in every fold.

With several treatments each treatment's nuisances are fitted apart, and both packages take their
parameters per treatment (``set_ml_nuisance_params(learner, treatment, ...)``): a nuisance's value
is then either those lists, for every treatment alike, or a mapping from treatment to its lists (a
treatment left out keeps the spec learner).
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

from harness.language.learners import CLASSIFIER_OPTIONAL, ResolvedLearner, parse_learner

__all__ = [
    "FOLD_PARAMS_FORMS",
    "FoldParams",
    "fitted_nuisances",
    "fold_learner",
    "fold_params_of",
    "fold_params_rules",
    "learner_key",
    "per_fold_keys",
]

SPEC_LEARNERS = ("ml_l", "ml_m", "ml_r", "ml_g", "ml_pi")

PerRepetition = list[list[dict[str, Any]]]
# A nuisance's value is one of two forms, told apart by its type, so that a mistake is reported in
# the form given (a smart union reported a treatment mapping's mistake as "is not a list"). The
# forms' names are dropped from the error's field (harness.language.spec_messages).
FOLD_PARAMS_FORMS = ("for every treatment", "per treatment")
FoldParams = dict[
    str,
    Annotated[
        Union[
            Annotated[PerRepetition, Tag(FOLD_PARAMS_FORMS[0])],
            Annotated[dict[str, PerRepetition], Tag(FOLD_PARAMS_FORMS[1])],
        ],
        Discriminator(lambda value: FOLD_PARAMS_FORMS[isinstance(value, dict)]),
    ],
]


def fitted_nuisances(spec: Any) -> list[str]:
    """The nuisances a spec's model fits, named as both packages' ``params_names`` name them."""
    iv_type = ["ml_g"] if spec.score_name == "IV-type" else []
    if spec.model == "plr":
        return ["ml_l", "ml_m", *iv_type]
    if spec.model == "pliv":
        if spec.partial_name == "Z":
            return ["ml_r"]
        if spec.partial_name == "XZ":
            return ["ml_l", "ml_m", "ml_r"]
        instruments = ["ml_m"] if len(spec.z) == 1 else [f"ml_m_{z}" for z in spec.z]
        return ["ml_l", "ml_r", *instruments, *iv_type]
    if spec.model == "irm":
        return ["ml_g0", "ml_g1", "ml_m"]
    if spec.model == "iivm":
        return ["ml_g0", "ml_g1", "ml_m", "ml_r0", "ml_r1"]
    return ["ml_g_d0", "ml_g_d1", "ml_pi", "ml_m"]


def learner_key(nuisance: str) -> str:
    """The spec learner a fitted nuisance uses: ``ml_g0`` -> ``ml_g``, ``ml_m_z1`` -> ``ml_m``."""
    return max((k for k in SPEC_LEARNERS if nuisance.startswith(k)), key=len)


def fold_params_of(spec: Any, treatment: str) -> dict[str, list[list[dict[str, Any]]]]:
    """The ``fold_params`` of one treatment's nuisances: per nuisance, n_rep lists of per-fold mappings."""
    out = {}
    for nuisance, given in (spec.fold_params or {}).items():
        per_rep = given.get(treatment) if isinstance(given, dict) else given
        if per_rep is not None:
            out[nuisance] = per_rep
    return out


def per_fold_keys(spec: Any, learner: str) -> list[str]:
    """The parameters that ``fold_params`` sets per fold on the nuisances of spec learner ``learner``."""
    return sorted(
        {
            key
            for treatment in spec.treatments
            for nuisance, per_rep in fold_params_of(spec, treatment).items()
            if learner_key(nuisance) == learner
            for per_fold in per_rep
            for params in per_fold
            for key in params
        }
    )


def fold_learner(spec: Any, nuisance: str, params: dict[str, Any]) -> ResolvedLearner:
    """The learner ``nuisance`` fits in a fold whose ``fold_params`` are ``params``."""
    key = learner_key(nuisance)
    base = parse_learner(spec.learner_for(key), key, spec.model, spec.score_name)
    choice: dict[str, Any] = {**base.params, **params, "name": base.name}
    if base.kind == "classif" and key in CLASSIFIER_OPTIONAL.get(spec.model, set()):
        choice["classifier"] = True
    return parse_learner(choice, key, spec.model, spec.score_name)


def fold_params_rules(spec: Any) -> None:
    """Refuse ``fold_params`` the tool cannot hand both packages alike (``ValueError``, one line
    naming the field)."""
    given = spec.fold_params
    if given is None:
        return
    if spec.tune is not None:
        raise ValueError("fold_params: a tune block sets each fold's parameters itself; give one or the other")
    if spec.model == "ssm" and spec.score_name == "nonignorable":
        # Found by running it: its learners are built with get_params(), which is then the per-fold list.
        raise ValueError(
            "fold_params: DoubleML for R 1.0.2's nonignorable SSM takes one setting per learner "
            "(it hands the per-fold list to one learner and stops)"
        )
    fitted = fitted_nuisances(spec)
    # With clusters both packages cross-fit on n_folds ** (cluster variables) cells, in the order the
    # tool's folds give them (harness.design.table), and take one mapping for each.
    n_folds = spec.n_cells
    folds_are = "n_folds squared: two cluster variables" if n_folds != spec.n_folds else "n_folds"
    for nuisance, value in given.items():
        where = f"fold_params.{nuisance}"
        if nuisance not in fitted:
            raise ValueError(f"{where}: not a nuisance {spec.model} fits here (it fits {fitted})")
        if fold_learner(spec, nuisance, {}).name == "lasso_cv":
            raise ValueError(f"{where}: 'lasso_cv' chooses its penalty itself; give the 'lasso' pair its penalties")
        by_treatment = value if isinstance(value, dict) else {"": value}
        for treatment, per_rep in by_treatment.items():
            at = f"{where}.{treatment}" if treatment else where
            if treatment and treatment not in spec.treatments:
                raise ValueError(f"{at}: not a treatment of this spec (its treatments: {', '.join(spec.treatments)})")
            _check_lists(spec, nuisance, per_rep, at, n_folds, folds_are)


def _check_lists(spec: Any, nuisance: str, per_rep: list, where: str, n_folds: int, folds_are: str) -> None:
    if len(per_rep) != spec.n_rep or any(len(per_fold) != n_folds for per_fold in per_rep):
        raise ValueError(f"{where}: {spec.n_rep} list(s) (n_rep) of {n_folds} mappings ({folds_are}) each")
    for r, per_fold in enumerate(per_rep):
        for k, params in enumerate(per_fold):
            try:
                fold_learner(spec, nuisance, params)
            except ValueError as err:
                raise ValueError(f"{where}[{r}][{k}]: {str(err).split(': ', 1)[-1]}") from None
