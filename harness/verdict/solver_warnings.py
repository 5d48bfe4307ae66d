"""What the learners' solvers warned during a fit that the verdict did not earn, in either language.

An exact pair agrees only when both solvers reach the same optimum. When scikit-learn's solver
stops short (a ``ConvergenceWarning``: a lasso out of iterations) or falls back to another (a
``LinAlgWarning``: ``newton-cholesky`` meeting an ill-conditioned Hessian on columns of very
different scales), the two packages fit different problems and the nuisance check fails; the warning is the likely
reason, so a record that did not agree carries it to the reader (the engine result keeps it in
any case: ``python.warnings`` in results.json). R's learners warn too: glm that "fitted
probabilities numerically 0 or 1 occurred" (separated or nearly separated training rows, where no
maximum-likelihood fit exists and each solver stops where its own rule says), or that its
algorithm "did not converge" (``r.warnings``).
"""

from __future__ import annotations

import math

__all__ = ["label", "terminal_lines"]

_EARNED = ("agree", "explained")
STOPS_SHORT = "a solver that stops short fits another problem"
SEPARATED_SAID = "fitted probabilities numerically 0 or 1"  # glm.fit's words
SEPARATED = (
    "a logit whose training rows are nearly separated has no maximum-likelihood fit: each package's solver stops "
    "where its own rule says, and their predictions differ"
)


def label(spec: dict) -> list[str]:
    """The lines under a spec's status (report and terminal): none when its verdict was earned."""
    if spec.get("status") in _EARNED:
        return []
    return _no_estimate(spec) + _warned(spec)


def _no_estimate(spec: dict) -> list[str]:
    """A package that returned NaN for the coefficient (the table shows a dash): its score divided by
    zero or overflowed on some nuisance prediction, such as an untrimmed probability of 0 or 1."""
    out = []
    for engine, package in (("python", "doubleml"), ("r", "DoubleML")):
        coef = (spec.get(engine) or {}).get("coef")
        if isinstance(coef, float) and math.isnan(coef):
            out.append(
                f"{package} returned no estimate (coef NaN): its score divided by zero or overflowed on a "
                "nuisance prediction (an untrimmed probability of 0 or 1, say)"
            )
    return out


def _warned(spec: dict) -> list[str]:
    python = (spec.get("python") or {}).get("warnings") or []
    r = (spec.get("r") or {}).get("warnings") or []
    return [f"scikit-learn warned during Python's fit ({STOPS_SHORT}): {w}" for w in python] + [
        f"R warned during its fit ({SEPARATED if SEPARATED_SAID in w else STOPS_SHORT}): {w}" for w in r
    ]


def terminal_lines(results: dict) -> list[str]:
    """One line per warning of a spec that did not agree, after the run's summary line."""
    return [f"  {spec['id']}: {line}" for spec in results.get("specs", []) for line in label(spec)]
