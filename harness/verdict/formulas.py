"""Each package's own rules, written out, where the two differ on purpose or where the tool must
recompute what a package reports.

Sources (read, not copied): doubleml 0.11.4 — ``utils/_estimation.py`` (``_aggregate_coefs_and_ses``,
``_var_est``), ``double_ml.py`` (``DoubleML.pval``/``t_stat`` from the aggregated coef and se),
``double_ml_framework.py`` (``confint``: median of the per-repetition intervals), ``irm/irm.py``
(``_get_weights``: ATTE weights from the overall treated share). DoubleML for R 1.0.2 —
``R/double_ml.R`` (``agg_cross_fit``, ``fit``: t and p from the aggregated coef and se, ``confint``:
coef ± q·se, ``var_est``, ``var_est_cluster_data``) and ``R/double_ml_irm.R`` (ATTE: the treated share
of each test fold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from harness.design.table import Design, Folds, cluster_codes

__all__ = [
    "Aggregate",
    "atte_reps",
    "python_aggregate",
    "r_aggregate",
    "score_coef",
    "score_se",
    "var_scaling_factor",
]

Z975 = float(norm.ppf(0.975))
# doubleml turns the aggregated upper bound back into an se with the rounded 1.96, not the quantile.
PY_SE_CRITICAL = 1.96


@dataclass(frozen=True)
class Aggregate:
    """An estimate over all repetitions, as one package reports it."""

    coef: float
    se: float
    t: float
    p: float
    ci: tuple[float, float]

    def as_dict(self) -> dict:
        return {"coef": self.coef, "se": self.se, "t": self.t, "p": self.p, "ci": list(self.ci)}


def _two_sided_p(t: float) -> float:
    return float(2 * norm.sf(abs(t)))


def python_aggregate(coef_reps: np.ndarray, se_reps: np.ndarray) -> Aggregate:
    """doubleml 0.11.4: median coef; se = (median(coef_m + 1.96 se_m) - coef) / 1.96; t = coef / se and
    p = 2 Φ(-|t|) from those two (``DoubleML.pval``; the framework's median of per-repetition p-values
    is a different number and not what a fitted model reports); CI = median over repetitions of
    coef_m ∓ z·se_m with the exact quantile z."""
    coef_reps = np.asarray(coef_reps, dtype=float)
    se_reps = np.asarray(se_reps, dtype=float)
    coef = float(np.median(coef_reps))
    se = float((np.median(coef_reps + PY_SE_CRITICAL * se_reps) - coef) / PY_SE_CRITICAL)
    with np.errstate(divide="ignore", invalid="ignore"):  # se 0 (a perfect fit): inf or nan, as doubleml's numpy gives
        t = float(np.float64(coef) / se)
    ci = (float(np.median(coef_reps - Z975 * se_reps)), float(np.median(coef_reps + Z975 * se_reps)))
    return Aggregate(coef, se, t, _two_sided_p(t), ci)


def r_aggregate(coef_reps: np.ndarray, se_reps: np.ndarray, scaling: float) -> Aggregate:
    """DoubleML for R 1.0.2: median coef; se = sqrt(median(n se_m² + (coef_m - coef)²) / n) with n the
    variance scaling factor (rows, or clusters); t = coef / se, p = 2 Φ(-|t|), CI = coef ± z·se."""
    coef_reps = np.asarray(coef_reps, dtype=float)
    se_reps = np.asarray(se_reps, dtype=float)
    coef = float(np.median(coef_reps))
    se = float(np.sqrt(np.median(scaling * se_reps**2 + (coef_reps - coef) ** 2) / scaling))
    t = coef / se
    return Aggregate(coef, se, t, _two_sided_p(t), (coef - Z975 * se, coef + Z975 * se))


def var_scaling_factor(design: Design) -> float:
    """The n both packages divide the variance by: rows, clusters, or the smaller cluster count."""
    if not design.cluster:
        return float(design.n_obs)
    return float(min(design.frame[c].nunique() for c in design.cluster))


def _test_cluster_counts(folds: Folds, rep: int, k: int) -> list[int]:
    """Clusters of each variable dealt to cell ``k``'s test fold, whether or not they have rows there."""
    per_var = folds.cluster_folds[rep]
    n_per_cluster = folds.n_folds_per_cluster
    return [int(np.sum(per_var[v] == (k // n_per_cluster**v) % n_per_cluster)) for v in range(len(per_var))]


def score_coef(psi_a: np.ndarray, psi_b: np.ndarray, folds: Folds, rep: int) -> float:
    """The root of the mean score, as both packages solve it (dml2).

    With clusters, each test cell's sums are weighted by 1 / (product of its test clusters' counts)
    (Chiang et al. 2021, as both packages implement it).
    """
    if folds.cluster_folds is None:
        return float(-np.mean(psi_b) / np.mean(psi_a))
    labels = folds.labels[rep]
    weight = np.array([1.0 / np.prod(_test_cluster_counts(folds, rep, k)) for k in range(folds.n_folds)])[labels]
    return float(-np.sum(weight * psi_b) / np.sum(weight * psi_a))


def score_se(psi: np.ndarray, psi_a: np.ndarray, design: Design, folds: Folds, rep: int) -> float:
    """Standard error of one repetition from the score, as both packages compute it.

    Without clusters: sqrt(mean(psi²) / mean(psi_a)² / n). With one- or two-way clusters, the
    fold-wise cluster-robust variance both packages implement (per test cell: squared cluster sums of
    psi, weighted by the number of test clusters; psi_a summed per test cell).
    """
    if not design.cluster:
        return float(np.sqrt(np.mean(psi**2) / np.mean(psi_a) ** 2 / len(psi)))
    codes = cluster_codes(design)
    labels = folds.labels[rep]
    n_vars = codes.shape[1]
    gamma = 0.0
    j_hat = 0.0
    for k in range(folds.n_folds):
        test = labels == k
        n_test_clusters = _test_cluster_counts(folds, rep, k)
        sums = [np.bincount(codes[test, v], weights=psi[test]) for v in range(n_vars)]
        if n_vars == 1:
            weight = 1.0 / n_test_clusters[0]
            j_hat += np.sum(psi_a[test]) / n_test_clusters[0]
        else:
            product = n_test_clusters[0] * n_test_clusters[1]
            weight = min(n_test_clusters) / product**2
            j_hat += np.sum(psi_a[test]) / product
        gamma += weight * sum(float(np.sum(s**2)) for s in sums)
    divisor = folds.n_folds_per_cluster**n_vars
    gamma /= divisor
    j_hat /= divisor
    return float(np.sqrt(gamma / j_hat**2 / var_scaling_factor(design)))


def atte_reps(rule: str, design: Design, folds: Folds, predictions: dict[str, np.ndarray], trimming_threshold: float) -> dict:
    """IRM ATTE coefficient and se per repetition by one package's rule, from given predictions.

    ``rule="r"`` divides by the treated share of each test fold (R's ``p_hat``); ``rule="python"`` by
    the treated share of the whole sample (doubleml's ATTE weights). The rest of the score is the same
    in both; ``ml_g1`` cancels from the ATTE score and is not needed.
    """
    y = design.frame[design.y].to_numpy()
    d = design.frame[design.d].to_numpy()
    coefs, ses = [], []
    for rep in range(folds.n_rep):
        g0 = predictions["ml_g0"][:, rep]
        m = np.clip(predictions["ml_m"][:, rep], trimming_threshold, 1 - trimming_threshold)
        if rule == "r":
            labels = folds.labels[rep]
            share = (np.bincount(labels, weights=d) / np.bincount(labels))[labels]
        else:
            share = np.full_like(d, d.mean())
        u0 = y - g0
        psi_b = d * u0 / share - m * (1 - d) * u0 / (share * (1 - m))
        psi_a = -d / share
        theta = score_coef(psi_a, psi_b, folds, rep)
        coefs.append(theta)
        ses.append(score_se(psi_a * theta + psi_b, psi_a, design, folds, rep))
    return {"coef_reps": np.array(coefs), "se_reps": np.array(ses)}
