"""What the Python learners' solvers warned during a fit that the verdict did not earn.

An exact pair agrees only when both solvers reach the same optimum. When scikit-learn's solver
stops short (a ``ConvergenceWarning``: a lasso out of iterations) or falls back to another (a
``LinAlgWarning``: ``newton-cholesky`` meeting an ill-conditioned Hessian on columns of very
different scales), the two packages fit different problems and the nuisance check fails; the warning is the likely
reason, so a record that did not agree carries it to the reader (the engine result keeps it in
any case: ``python.warnings`` in results.json).
"""

from __future__ import annotations

__all__ = ["label", "terminal_lines"]

_EARNED = ("agree", "explained")


def label(spec: dict) -> list[str]:
    """The lines under a spec's status (report and terminal): none when its verdict was earned."""
    if spec.get("status") in _EARNED:
        return []
    said = (spec.get("python") or {}).get("warnings") or []
    return [f"scikit-learn warned during Python's fit (a solver that stops short fits another problem): {w}" for w in said]


def terminal_lines(results: dict) -> list[str]:
    """One line per warning of a spec that did not agree, after the run's summary line."""
    return [f"  {spec['id']}: {line}" for spec in results.get("specs", []) for line in label(spec)]
