"""The settings each engine received for each nuisance, as the run recorded them (issue 25): a user
without a paper should see that the forest had 500 trees in both languages, what ranger got as
``num.trees`` and ``min.bucket``, and which nuisances were classifiers, without opening
results.json. The same registry translation the engines use builds it (harness.language.learners)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.language.learners import resolve_learner
from harness.language.spec import Spec

__all__ = ["learner_settings", "settings_text"]


def learner_settings(spec: Spec, n_features: Callable[[str], int]) -> dict[str, dict]:
    """Per nuisance: ``kind`` (classifier or regressor), ``python`` (the estimator class and the
    parameters that differ from its own defaults) and ``r`` (the mlr3 key and every parameter sent,
    translated for the ``n_features(nuisance)`` columns it learns from)."""
    out = {}
    for nuisance in spec.nuisances:
        resolved = resolve_learner(spec.learner_for(nuisance), nuisance, spec.model)
        estimator = resolved.python_estimator()
        try:
            defaults = type(estimator)().get_params(deep=False)
        except TypeError:  # an estimator without a no-argument constructor: show every parameter
            defaults = {}
        params = estimator.get_params(deep=False)
        set_here = {k: _plain(v) for k, v in sorted(params.items()) if k not in defaults or _differs(v, defaults[k])}
        key, r_params = resolved.r_learner(n_features(nuisance))
        out[nuisance] = {
            "kind": "classifier" if resolved.kind == "classif" else "regressor",
            "python": {"estimator": type(estimator).__name__, "params": set_here},
            "r": {"learner": key, "params": {k: _plain(v) for k, v in sorted(r_params.items())}},
        }
    return out


def _differs(a: Any, b: Any) -> bool:
    try:
        return bool(a != b)
    except (TypeError, ValueError):  # arrays and the like
        return True


def _plain(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def settings_text(params: dict) -> str:
    """``name=value, ...`` (``defaults`` when nothing differs)."""
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
