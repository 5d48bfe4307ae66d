"""A spec's ``tune:`` block (issue 23): a grid per nuisance, searched by both packages on the same
inner folds.

``tune: {grid: {ml_l: {alpha: [...]}}, n_folds_tune: 3, on_folds: true, search: grid}``. Values are
written in scikit-learn's vocabulary, like fixed learner parameters, and each is translated for R
by the learner pair's own translation (:mod:`harness.language.learner_params`); a value that one
side cannot take, or two values that become the same R value, are refused before anything runs.
"""

from __future__ import annotations

from itertools import product
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.language.learners import ResolvedLearner, parse_learner

__all__ = ["TUNABLE_MODELS", "TuneSpec", "candidates", "tune_rules"]

# The models whose nuisances the tool knows how to tune like the packages do: each nuisance's
# target and training rows (harness/design/tuning_plan.py).
TUNABLE_MODELS = {("plr", "partialling out"), ("irm", "ATE"), ("irm", "ATTE")}


class TuneSpec(BaseModel):
    """What to tune and how: ``grid`` nuisance -> parameter -> values; ``n_folds_tune`` inner folds;
    ``on_folds`` one search per cross-fitting training set (else one on all rows); ``search``: grid."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    grid: dict[str, dict[str, list[Any]]] = Field(min_length=1)
    n_folds_tune: int = 3
    on_folds: bool = True
    search: Literal["grid"] = "grid"

    @field_validator("n_folds_tune")
    @classmethod
    def _folds(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"must be at least 2, got {value}")
        return value


def candidates(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The grid's points in scikit-learn's ``ParameterGrid`` order (parameters sorted by name, the
    last varying fastest): both engines take the first best point in this order."""
    names = sorted(grid)
    return [dict(zip(names, values, strict=True)) for values in product(*(grid[n] for n in names))]


def tune_rules(spec: Any) -> None:
    """Refuse a tune block the tool cannot run the same way in both packages (``ValueError``,
    one line naming the field)."""
    tune = spec.tune
    if tune is None:
        return
    if (spec.model, spec.score_name) not in TUNABLE_MODELS:
        raise ValueError(
            f"tune: tuning is supported for plr (partialling out) and irm, not {spec.model} with score {spec.score_name}"
        )
    if spec.cluster or spec.several_treatments:
        raise ValueError("tune: one treatment without clusters only (the inner folds would split clusters)")
    for nuisance, params in tune.grid.items():
        if nuisance not in spec.nuisances:
            raise ValueError(f"tune.grid: '{nuisance}' is not a nuisance of {spec.model} (it has {spec.nuisances})")
        base = parse_learner(spec.learner_for(nuisance), nuisance, spec.model, spec.score_name)
        if base.name == "lasso_cv":
            raise ValueError(f"tune.grid.{nuisance}: 'lasso_cv' chooses its penalty itself; tune the 'lasso' pair instead")
        if not params:
            raise ValueError(f"tune.grid.{nuisance}: no parameter to tune")
        for name, values in params.items():
            _check_values(spec, nuisance, base, name, values)


def _check_values(spec: Any, nuisance: str, base: ResolvedLearner, name: str, values: list[Any]) -> None:
    where = f"tune.grid.{nuisance}.{name}"
    translation = base.pair.translate.get(name)
    if name not in base.python_estimator().get_params(deep=False) or (base.pair.translate and translation is None):
        raise ValueError(f"{where}: learner '{base.name}' has no parameter '{name}' that both languages take")
    if not values:
        raise ValueError(f"{where}: an empty grid")
    if translation is not None and translation[0] is None:
        raise ValueError(f"{where}: '{base.name}' has no R counterpart of '{name}', so R could not try its values")
    seen: dict[Any, Any] = {}
    for value in values:
        choice = {**base.params, "name": base.name, name: value}
        try:
            resolved = parse_learner(choice, nuisance, spec.model, spec.score_name)
        except ValueError as err:
            raise ValueError(f"{where}: value {value!r} refused in Python: {str(err).split(': ', 2)[-1]}") from None
        try:
            r_value = resolved.r_learner(max(len(spec.x), 1))[1].get(translation[0] if translation else name)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: value {value!r} has no R value ({err})") from None
        key = repr(r_value)
        if key in seen:
            raise ValueError(f"{where}: values {seen[key]!r} and {value!r} are the same value in R ({r_value!r})")
        seen[key] = value
