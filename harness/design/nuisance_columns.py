"""Which columns each nuisance's learner learns from, as both packages build them.

A forest's ``max_features`` is a share of these columns (ranger's ``mtry`` a count of them), and
glmnet needs two of them or more, so the translation for R and the checks before any fit count them
here, per nuisance, rather than the controls alone:

* every model: the controls ``x``; with several treatments (plr, pliv) each treatment's nuisances
  also learn from the other treatments (doubleml's ``use_other_treat_as_covariate``, R's
  ``other_treat_cols``), unless the spec sets ``use_other_treat_as_covariate: false``;
* PLIV partialling out Z: ``ml_r`` learns from x and the instruments; XZ: ``ml_m`` does;
* SSM: ``ml_pi`` learns from x, d (and z, nonignorable); nonignorable ``ml_m`` and ``ml_g`` from x
  and the predicted selection (doubleml ``irm/ssm.py``, DoubleML ``double_ml_ssm.R``).
"""

from __future__ import annotations

from typing import Any, Optional

from harness.design.table import Design

__all__ = ["PREDICTED_SELECTION", "nuisance_columns"]

PREDICTED_SELECTION = "the predicted selection"  # SSM nonignorable: a column of the fit, not of the data


def nuisance_columns(spec: Any, design: Design, nuisance: str, treatment: Optional[str] = None) -> list[str]:
    """The columns the learner of ``nuisance`` (a spec learner key: ``ml_g``, not ``ml_g0``) learns
    from, in the view of ``treatment`` (default: the first; with several, the others are columns)."""
    controls = list(design.x)
    if spec.model == "ssm":
        if nuisance == "ml_pi":
            return [*controls, design.d, *design.z]
        return [*controls, PREDICTED_SELECTION] if spec.score_name == "nonignorable" else controls
    # The treatment's view (Design.for_treatment): with several treatments, the others as the spec says.
    columns = list(design.for_treatment(treatment or design.d).x)
    if spec.model == "pliv" and (spec.partial_name, nuisance) in (("Z", "ml_r"), ("XZ", "ml_m")):
        columns += list(design.z)
    return columns
