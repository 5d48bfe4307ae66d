"""Each package's own rule where the two differ on purpose, written out to explain their gap.

Sources: DoubleML for R 1.0.2 (``agg_cross_fit``, ``DoubleMLIRM$score_elements``, ``var_est``)
and doubleml 0.11.4 (``_aggregate_coefs_and_ses``, ``DoubleMLFramework.pval``/``confint``).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from harness.design import Design, Folds

__all__ = ["atte_r_rule", "python_aggregate", "r_aggregate", "var_scaling_factor"]

_Z975 = norm.ppf(0.975)


def var_scaling_factor(design: Design) -> float:
    """The n both packages divide the variance by: rows, clusters, or the smaller cluster count."""
    if not design.cluster:
        return float(design.n_obs)
    counts = [design.frame[c].nunique() for c in design.cluster]
    return float(min(counts))


def r_aggregate(coef_reps: np.ndarray, se_reps: np.ndarray, n: float) -> dict:
    """R: median coefficient; se = sqrt(median(n se_m^2 + (theta_m - theta)^2) / n); t-based p and CI."""
    coef = float(np.median(coef_reps))
    se = float(np.sqrt(np.median(n * se_reps**2 + (coef_reps - coef) ** 2) / n))
    t = coef / se
    return {"coef": coef, "se": se, "p": float(2 * norm.sf(abs(t))), "ci": [coef - _Z975 * se, coef + _Z975 * se]}


def python_aggregate(coef_reps: np.ndarray, se_reps: np.ndarray) -> dict:
    """Python: median coefficient; se from the median upper bound; p and CI as medians over repetitions."""
    coef = float(np.median(coef_reps))
    # doubleml uses the rounded 1.96 for the se and the exact quantile for intervals.
    se = float((np.median(coef_reps + 1.96 * se_reps) - coef) / 1.96)
    p = float(np.median(2 * norm.sf(np.abs(coef_reps / se_reps))))
    ci = [float(np.median(coef_reps - _Z975 * se_reps)), float(np.median(coef_reps + _Z975 * se_reps))]
    return {"coef": coef, "se": se, "p": p, "ci": ci}


def atte_r_rule(design: Design, folds: Folds, predictions: dict[str, np.ndarray], trimming_threshold: float) -> dict:
    """R's IRM ATTE estimate and se per repetition, from given predictions.

    R divides by the treated share of each test fold (``p_hat``), Python by the overall share;
    everything else in the two scores is the same.
    """
    y = design.frame[design.y].to_numpy()
    d = design.frame[design.d].to_numpy()
    coefs, ses = [], []
    for rep in range(folds.n_rep):
        g0 = predictions["ml_g0"][:, rep]
        m = np.clip(predictions["ml_m"][:, rep], trimming_threshold, 1 - trimming_threshold)
        labels = folds.labels[rep]
        p_hat = np.empty_like(y)
        for k in range(folds.n_folds):
            rows = labels == k
            p_hat[rows] = d[rows].mean()
        u0 = y - g0
        psi_b = d * u0 / p_hat - m * (1 - d) * u0 / (p_hat * (1 - m))
        psi_a = -d / p_hat
        theta = -np.mean(psi_b) / np.mean(psi_a)
        psi = psi_a * theta + psi_b
        coefs.append(theta)
        ses.append(np.sqrt(np.mean(psi**2) / np.mean(psi_a) ** 2 / len(y)))
    return {"coef_reps": np.array(coefs), "se_reps": np.array(ses)}
