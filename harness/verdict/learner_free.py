"""The learner-free fit: Python's inference on R's cross-fitted predictions.

Where doubleml takes given predictions (``fit(external_predictions=...)``, keyed by treatment), it
is doubleml's own code on R's predictions; for SSM and PLIV partialling out Z or XZ, which doubleml
fits only with its own learners, it is the tool's written-out score (:mod:`harness.verdict.scores`). With a
bootstrap it uses the tool's shared weights, never its own draws.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from harness.design.splits import SampleSplits
from harness.design.table import Design, Folds
from harness.engines.python_engine import fit_python
from harness.engines.result import EngineResult
from harness.language.spec import Spec
from harness.verdict.scores import formula_fit, needs_written_score

__all__ = ["learner_free_fit"]


def learner_free_fit(
    spec: Spec, design: Design, folds: Folds, r: EngineResult, splits: Optional[SampleSplits] = None
) -> EngineResult:
    """Python's inference on ``r``'s predictions.

    A nuisance R leaves unfitted (``ml_g1`` for IRM ATTE, which the ATTE score does not use; PLIV's
    ``ml_m_<instrument>`` with several instruments where a DoubleML release does not store them:
    the engine stores 1.0.2's, r_scripts/engine.R) is left to Python's own learner, and so is one
    with any non-finite prediction, which doubleml refuses (the nuisance layer fails that
    nuisance's check). The written-out score takes R's predictions
    as they are: a NaN there gives NaN numbers, which fail their checks. ``splits``: the validated
    folds of the spec's fits (built from ``folds`` when not given).
    """
    if needs_written_score(spec):
        return formula_fit(spec, design, folds, [dict(t.predictions) for t in r.per_treatment()])
    fitted = [{name: p for name, p in t.predictions.items() if np.isfinite(p).all()} for t in r.per_treatment()]
    external = dict(zip(design.d_cols, fitted, strict=True)) if design.treatments else fitted[0]
    return fit_python(spec, design, folds, external_predictions=external, own_draws=False, splits=splits)
