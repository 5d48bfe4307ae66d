"""The frozen result both engines return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["EngineResult"]


@dataclass(frozen=True)
class EngineResult:
    """One engine's estimate of one spec.

    Attributes
    ----------
    coef, se, t, p : float
        Aggregated over repetitions by the engine's own rule.
    ci : tuple of float
        95 % interval by the engine's own rule.
    coef_reps, se_reps : numpy.ndarray
        Per-repetition coefficient and standard error, shape ``(n_rep,)``.
    predictions : dict of str to numpy.ndarray
        Cross-fitted nuisance predictions, each ``(n_obs, n_rep)``, as the engine stored them.
    seconds : float
        Wall time of the fit.
    folds : numpy.ndarray or None
        ``(n_rep, n_obs)`` 0-based test fold of every row as the package used it (read back from the
        fitted object, so a package that fitted other folds is caught).
    """

    coef: float
    se: float
    t: float
    p: float
    ci: tuple[float, float]
    coef_reps: np.ndarray
    se_reps: np.ndarray
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    folds: Optional[np.ndarray] = None

    def summary(self) -> dict:
        """The JSON-ready numbers (predictions are too large for results.json)."""
        return {
            "coef": float(self.coef),
            "se": float(self.se),
            "t": float(self.t),
            "p": float(self.p),
            "ci": [float(self.ci[0]), float(self.ci[1])],
            "coef_reps": [float(v) for v in self.coef_reps],
            "se_reps": [float(v) for v in self.se_reps],
        }
