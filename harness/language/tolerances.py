"""The limits a spec may set itself: their bounds, checked when the spec file is read, and which
settings loosen a default, shown beside the verdict and in the report's summary.

A referee runs other people's spec files, so a spec cannot widen a limit without bound or unseen:

* ``coef_tolerance_se`` (statistical tier and replicates: |Δcoef| and |Δse| in standard errors):
  0 < c ≤ 1. One se is the coefficient's own sampling noise; two packages a whole se apart do not
  agree. Infinite, NaN, zero and negative values are refused.
* ``paper.level`` / ``papers.<d>.level`` (a claim's significance level): 0 < level ≤ 0.10, the
  levels papers print (1, 5, 10 %).
* ``tier: statistical`` on learners that make an exact pair trades the pair's tolerance (1e-10) for
  the statistical rules: allowed, and flagged as loosened.

Other spec fields (``trimming_threshold``, ``winsorize``, learner parameters) change the analysis
both packages run, not a limit the verdict applies.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator

__all__ = [
    "CLAIM_LEVEL_MAX",
    "COEF_TOLERANCE_SE_MAX",
    "ClaimLevel",
    "CoefToleranceSe",
    "DEFAULT_CLAIM_LEVEL",
    "DEFAULT_COEF_TOLERANCE_SE",
    "loosened",
]

DEFAULT_COEF_TOLERANCE_SE = 0.2
COEF_TOLERANCE_SE_MAX = 1.0
DEFAULT_CLAIM_LEVEL = 0.05  # a paper claim's significance level when its spec sets none
CLAIM_LEVEL_MAX = 0.10


def _coef_tolerance_se(value: float) -> float:
    if not (math.isfinite(value) and 0 < value <= COEF_TOLERANCE_SE_MAX):
        raise ValueError(
            f"must lie in (0, {COEF_TOLERANCE_SE_MAX:g}] standard errors (default {DEFAULT_COEF_TOLERANCE_SE:g}), got {value}"
        )
    return value


def _claim_level(value: float) -> float:
    if not (math.isfinite(value) and 0 < value <= CLAIM_LEVEL_MAX):
        raise ValueError(f"must lie in (0, {CLAIM_LEVEL_MAX:g}] (default {DEFAULT_CLAIM_LEVEL:g}), got {value}")
    return value


CoefToleranceSe = Annotated[float, AfterValidator(_coef_tolerance_se)]
ClaimLevel = Annotated[float, AfterValidator(_claim_level)]


def loosened(spec: Any) -> list[str]:
    """Each setting of ``spec`` (a :class:`harness.language.spec.Spec`) that loosens a default limit the
    verdict or a claim applies, in words; empty when it loosens none."""
    from harness.language.learners import LEARNERS, resolve_learner

    out = []
    pairs = [LEARNERS[resolve_learner(spec.learner_for(n), n, spec.model).name] for n in spec.nuisances]
    exact_pairs = all(p.tier == "exact" for p in pairs)
    if spec.tier == "statistical" and exact_pairs:
        out.append(f"tier: statistical with exact learner pairs (tolerance {max(p.tolerance for p in pairs):g} relative)")
    # As harness.verdict.compare.spec_tier decides the tier.
    tier = "statistical" if spec.tier == "statistical" or not exact_pairs else "exact"
    uses_se_band = tier == "statistical" or spec.replicates is not None
    if uses_se_band and spec.coef_tolerance_se > DEFAULT_COEF_TOLERANCE_SE:
        out.append(f"coef_tolerance_se {spec.coef_tolerance_se:g} (default {DEFAULT_COEF_TOLERANCE_SE:g})")
    claims = [("paper", spec.paper)] if spec.paper is not None else []
    claims += [(f"papers.{d}", claim) for d, claim in spec.papers.items()]
    for where, claim in claims:
        if claim.sign is not None and claim.level > DEFAULT_CLAIM_LEVEL:
            out.append(f"{where}.level {claim.level:g} (default {DEFAULT_CLAIM_LEVEL:g})")
    return out
