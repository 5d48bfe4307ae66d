"""The report's "Learner settings" section: per spec and nuisance, what each engine received
(recorded by the run as ``learner_settings``, :mod:`harness.language.learner_settings`)."""

from __future__ import annotations

from harness.language.learner_settings import settings_text

__all__ = ["HEADERS", "INTRO", "learner_rows"]

HEADERS = ["Spec", "Nuisance", "Kind", "Python received", "R received"]
INTRO = (
    "What each engine was given for each nuisance: the scikit-learn estimator with the parameters that "
    "differ from its defaults, and the mlr3 learner with every parameter sent to R (the tool translates "
    "one into the other: n_estimators is ranger's num.trees, min_samples_leaf its min.bucket)."
)


def learner_rows(specs: list[dict]) -> list[list[str]]:
    rows = []
    for spec in specs:
        for nuisance, entry in (spec.get("learner_settings") or {}).items():
            python, r = entry.get("python") or {}, entry.get("r") or {}
            rows.append(
                [
                    spec["id"],
                    nuisance,
                    entry.get("kind", ""),
                    f"{python.get('estimator', '?')}({settings_text(python.get('params') or {})})",
                    f"{r.get('learner', '?')}({settings_text(r.get('params') or {})})",
                ]
            )
    return rows
