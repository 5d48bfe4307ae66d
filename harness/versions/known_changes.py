"""Behaviour changes of the packages that move estimates on purpose, each with its old rule.

A change's ``old_rule`` takes the newer release's estimate (coef, se, p, CI and the per-repetition
coef and se) and gives what the older release computed from the same per-repetition numbers. A
move between two releases is explained by a change between them when this reproduces the older
release's number within the tier's tolerance (``harness.versions.moves``).

Read from the releases' source (``pip download doubleml==X --no-deps``):

- doubleml 0.9.3, ``utils/_estimation.py::_aggregate_coefs_and_ses``: coef = median(θ_m), se =
  sqrt(median(se_m² + (θ_m − θ̃)² / n)) with n the variance scaling factor (``_var_est``: the rows;
  with one cluster variable the number of clusters, with two the smaller of the two numbers).
  0.10.0 (after DoubleML/doubleml-for-py#314, in 0.10.1 the same): se = (median(θ_m + 1.96 se_m)
  − θ̃) / 1.96. In both, ``pval`` is 2Φ(−|θ̃/se|) of the aggregated se and ``confint`` the median
  of the per-repetition intervals, so p moves with se and the CI does not move. With one
  repetition both rules give se_1: nothing moves.
- The IRM trimming default (0.6.0: 1e-2; R 1e-12) cannot move an estimate here: the tool always
  sends the spec's ``trimming_threshold`` (default 0.01) to both packages, and releases before
  0.8.0 are refused (``harness.versions.releases``).
- ``trimming_threshold`` became ``ps_processor_config`` (0.11.0): a renamed argument, same clipping;
  ``py_fit.py`` sends whichever the release takes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

__all__ = ["KNOWN_CHANGES", "KnownChange", "old_python_aggregation"]


@dataclass(frozen=True)
class KnownChange:
    id: str
    engine: str  # "python" (doubleml) or "r" (DoubleML)
    release: str  # the first release with the new behaviour
    what: str
    # (newer release's estimate, variance scaling n) -> the older release's numbers, or None when
    # the rule cannot be applied to this estimate.
    old_rule: Callable[[dict, Optional[int]], Optional[dict]]


def _normal_p(t: float) -> float:
    return math.erfc(abs(t) / math.sqrt(2.0))  # 2Φ(−|t|)


def old_python_aggregation(estimate: dict, scaling: Optional[int]) -> Optional[dict]:
    """doubleml before 0.10.0: se = sqrt(median(se_m² + (θ_m − θ̃)²/n)); p from it; CI unchanged."""
    coefs, ses = estimate.get("coef_reps"), estimate.get("se_reps")
    if not coefs or not ses or not scaling:
        return None
    median = statistics.median(coefs)
    se = math.sqrt(statistics.median(s * s + (c - median) ** 2 / scaling for c, s in zip(coefs, ses, strict=True)))
    out = {"coef": median, "se": se, "p": _normal_p(median / se) if se > 0 else float("nan")}
    if estimate.get("ci") is not None:
        out["ci"] = list(estimate["ci"])
    out["coef_reps"], out["se_reps"] = list(coefs), list(ses)
    return out


KNOWN_CHANGES: tuple[KnownChange, ...] = (
    KnownChange(
        id="doubleml-0.10.0-nrep-aggregation",
        engine="python",
        release="0.10.0",
        what="n_rep > 1: se aggregated as (median(θ_m + 1.96·se_m) − median θ_m)/1.96 instead of "
        "sqrt(median(se_m² + (θ_m − median θ)²/n)); p follows the se (DoubleML/doubleml-for-py#314)",
        old_rule=old_python_aggregation,
    ),
)
