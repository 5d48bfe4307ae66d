"""The frozen result both engines return."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["CI_LEVEL", "ENGINES", "Bootstrap", "EngineResult", "Inference", "distinct_warnings"]

ENGINES = ("python", "r")  # the two engines, in the order results, reports and --engines name them
CI_LEVEL = 0.95  # the confidence level of every interval an engine reports, pointwise and joint (r_scripts too)


@dataclass(frozen=True)
class Bootstrap:
    """One run of a package's multiplier bootstrap and what it reports from it.

    Attributes
    ----------
    boot_t : numpy.ndarray or None
        ``(n_rep_boot, n_treatments, n_rep)`` bootstrapped t statistics as the package stores them
        (None when only a deterministic adjustment was asked for).
    joint_ci : numpy.ndarray or None
        ``(n_treatments, 2)`` joint intervals at ``CI_LEVEL`` (``confint(joint=True)``).
    p_adjusted : numpy.ndarray or None
        ``(n_treatments,)`` adjusted p-values (``p_adjust(method)``).
    """

    boot_t: Optional[np.ndarray] = None
    joint_ci: Optional[np.ndarray] = None
    p_adjusted: Optional[np.ndarray] = None

    def summary(self) -> dict:
        out: dict = {}
        if self.joint_ci is not None:
            out["joint_ci"] = [[float(v) for v in row] for row in self.joint_ci]
        if self.p_adjusted is not None:
            out["p_adjusted"] = [float(v) for v in self.p_adjusted]
        return out


@dataclass(frozen=True)
class Inference:
    """Joint inference of one engine: with the multiplier weights the tool drew and shared
    (``shared``), and with the package's own draws (``own``, None without a bootstrap)."""

    shared: Bootstrap
    own: Optional[Bootstrap] = None

    def summary(self) -> dict:
        out = {"shared_weights": self.shared.summary()}
        if self.own is not None:
            out["own_draws"] = self.own.summary()
        return out


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
    treatments : tuple of EngineResult
        With several treatments: one single-treatment result per treatment, in the spec's order (the
        fields above then repeat the first treatment's); empty for one treatment.
    inference : Inference or None
        Bootstrap, joint intervals and adjusted p-values, when the spec asks for them.
    inner_cv : dict
        Cross-validated learners on the tool's inner folds (``lasso_cv``), read back from each
        fitted learner, per fitted nuisance (doubleml's names: IRM's ``ml_g`` is ``ml_g0`` and
        ``ml_g1``): ``alpha`` ``(n_rep, n_folds)`` the chosen penalty and ``folds`` ``(n_rep,
        n_folds, n_obs)`` each row's 0-based inner fold in that fit (-1: not in its training set).
        Not kept by the engine cache.
    tuned : dict
        The spec's tune block as this engine ran it, per fitted nuisance (``ml_g0``): ``choice``
        ``(n_rep, n_folds)`` the 0-based grid point chosen for each cross-fitting fold (``(1, 1)``
        without ``on_folds``), ``score`` ``(..., n_points)`` every point's mean inner-fold MSE or
        log loss, ``folds`` ``(..., n_obs)`` each row's 0-based inner fold (-1: not searched on).
    warnings : tuple of str
        What the learners' solvers warned during the fit (scikit-learn's ``ConvergenceWarning``, a
        solver that stopped short; scipy's ``LinAlgWarning``, an ill-conditioned system that made
        it fall back to another), each distinct first line once.
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
    treatments: tuple[EngineResult, ...] = ()
    inference: Optional[Inference] = None
    inner_cv: dict = field(default_factory=dict)
    tuned: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def per_treatment(self) -> tuple[EngineResult, ...]:
        """One single-treatment result per treatment (just this one for a single treatment)."""
        return self.treatments or (self,)

    def summary(self) -> dict:
        """The JSON-ready numbers (predictions are too large for results.json)."""
        out = self._numbers()
        if self.treatments:
            out["treatments"] = [t._numbers() for t in self.treatments]
        if self.inference is not None:
            out["inference"] = self.inference.summary()
        if self.inner_cv:
            out["inner_cv"] = self.inner_cv_summary()
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.tuned:
            out["tuned"] = {
                name: {"choice": np.asarray(v["choice"]).tolist(), "score": np.asarray(v["score"], dtype=float).tolist()}
                for name, v in sorted(self.tuned.items())
            }
        return out

    def inner_cv_summary(self) -> dict:
        """Per cross-validated nuisance, the penalty chosen in each fit (``alpha``: repetitions x
        folds; R also ``lambda_min``, glmnet's own rule): the inner folds stay in the arrays."""
        return {
            name: {key: [[float(v) for v in row] for row in values[key]] for key in ("alpha", "lambda_min") if key in values}
            for name, values in sorted(self.inner_cv.items())
        }

    def _numbers(self) -> dict:
        return {
            "coef": float(self.coef),
            "se": float(self.se),
            "t": float(self.t),
            "p": float(self.p),
            "ci": [float(self.ci[0]), float(self.ci[1])],
            "coef_reps": [float(v) for v in self.coef_reps],
            "se_reps": [float(v) for v in self.se_reps],
        }


def distinct_warnings(texts: Iterable[str], most: int = 5) -> tuple[str, ...]:
    """The distinct warnings of a fit, each by its first line, with how often it came when more
    than once (lines that differ only in their numbers, such as an iteration, are one)."""
    first: dict[str, str] = {}
    count: dict[str, int] = {}
    for text in texts:
        line = text.strip().splitlines()[0] if text.strip() else "(a warning without text)"
        key = re.sub(r"\d+", "#", line)
        first.setdefault(key, line)
        count[key] = count.get(key, 0) + 1
    return tuple(first[k] + (f" ({count[k]} times)" if count[k] > 1 else "") for k in list(first)[:most])
