"""Joint inference by each package's rule, written out: critical values, joint intervals,
Romano-Wolf, Bonferroni and Holm, and the Monte Carlo bounds for independent bootstrap draws.

Sources (read, not copied): doubleml 0.11.4 ``double_ml_framework.py`` (``bootstrap``: per
repetition ``weights @ scaled_psi / (n se)``; ``confint(joint=True)``: per repetition the
``level`` quantile of max_k |t*_k|, interval theta_m ± c_m se_m, median over repetitions;
``p_adjust``: per repetition Romano-Wolf step-down with ``>=`` on that repetition's draws, or
``statsmodels`` ``multipletests`` on that repetition's p-values, then the median over repetitions).
DoubleML for R 1.0.2 ``R/double_ml.R`` (``bootstrap``: the same t statistics, stored side by side for
all repetitions; ``confint(joint = TRUE)``: one quantile of max_k |t*_k| over all repetitions' draws
pooled, interval coef ± c se with the aggregated coef and se; ``p_adjust``: Romano-Wolf on the pooled
draws with the aggregated t and ``>``, or ``stats::p.adjust`` on the aggregated p-values).

With one repetition the two rules coincide (ties between a draw and |t| have probability zero); with
several they differ on purpose, and the tool compares each package with its own rule applied to the
other package's numbers, as for the aggregation of coef and se.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.stats import norm

from harness.engines.result import CI_LEVEL

__all__ = [
    "MC_Z",
    "bonferroni",
    "holm",
    "p_adjust_rule",
    "proportion_mc_bound",
    "python_critical_values",
    "python_joint_ci",
    "proportion_check_can_fail",
    "python_romano_wolf",
    "quantile_check_can_fail",
    "quantile_mc_bound",
    "r_critical_value",
    "r_joint_ci",
    "r_romano_wolf",
    "romano_wolf",
    "too_few_draws",
]

# Monte Carlo bounds are z standard deviations of the difference of two independent bootstrap
# estimates: P(|N(0,1)| > 4) = 6e-5, so a suite of hundreds of such checks raises no false alarm.
MC_Z = 4.0


def _max_abs(boot_t: np.ndarray) -> np.ndarray:
    """max_k |t*_k| of each draw: ``(n_rep_boot, n_rep)`` from ``(n_rep_boot, k, n_rep)``."""
    return np.abs(boot_t).max(axis=1)


def python_critical_values(boot_t: np.ndarray, level: float = CI_LEVEL) -> np.ndarray:
    """doubleml: one critical value per repetition from that repetition's draws (quantile type 7)."""
    return np.quantile(_max_abs(boot_t), level, axis=0)


def r_critical_value(boot_t: np.ndarray, level: float = CI_LEVEL) -> float:
    """DoubleML for R: one critical value from all repetitions' draws pooled (``quantile``, type 7)."""
    return float(np.quantile(_max_abs(boot_t).ravel(order="F"), level))


def python_joint_ci(coef_reps: np.ndarray, se_reps: np.ndarray, boot_t: np.ndarray, level: float = CI_LEVEL) -> np.ndarray:
    """doubleml: median over repetitions of theta_m ± c_m se_m; ``coef_reps``/``se_reps`` are
    ``(k, n_rep)``; returns ``(k, 2)``."""
    crit = python_critical_values(boot_t, level)
    lower = np.median(coef_reps - se_reps * crit, axis=1)
    upper = np.median(coef_reps + se_reps * crit, axis=1)
    return np.column_stack([lower, upper])


def r_joint_ci(coef: np.ndarray, se: np.ndarray, boot_t: np.ndarray, level: float = CI_LEVEL) -> np.ndarray:
    """DoubleML for R: aggregated coef ± c se with the pooled critical value; returns ``(k, 2)``."""
    crit = r_critical_value(boot_t, level)
    return np.column_stack([coef - crit * se, coef + crit * se])


def romano_wolf(t: np.ndarray, draws: np.ndarray, strict: bool) -> np.ndarray:
    """Romano-Wolf step-down p-values of ``t`` (``(k,)``) from bootstrap draws ``(n_draws, k)``.

    Hypotheses in decreasing order of |t|; the j-th is compared with max |t*| over the hypotheses
    not yet rejected before it; monotone by a running maximum. ``strict``: R counts draws ``>`` |t|,
    doubleml ``>=``.
    """
    abs_t = np.abs(np.asarray(t, dtype=float))
    abs_draws = np.abs(np.asarray(draws, dtype=float))
    order = np.argsort(-abs_t, kind="stable")
    initial = np.empty(len(abs_t))
    for j, hypothesis in enumerate(order):
        remaining = order[j:]
        sim = abs_draws[:, remaining].max(axis=1)
        exceed = sim > abs_t[hypothesis] if strict else sim >= abs_t[hypothesis]
        initial[j] = min(1.0, float(np.mean(exceed)))
    adjusted_sorted = np.maximum.accumulate(initial)
    out = np.empty(len(abs_t))
    out[order] = adjusted_sorted
    return out


def python_romano_wolf(coef_reps: np.ndarray, se_reps: np.ndarray, boot_t: np.ndarray) -> np.ndarray:
    """doubleml: per repetition on that repetition's t and draws, then the median."""
    per_rep = [romano_wolf(coef_reps[:, m] / se_reps[:, m], boot_t[:, :, m], strict=False) for m in range(boot_t.shape[2])]
    return np.median(np.column_stack(per_rep), axis=1)


def r_romano_wolf(coef: np.ndarray, se: np.ndarray, boot_t: np.ndarray) -> np.ndarray:
    """DoubleML for R: the aggregated t against all repetitions' draws pooled."""
    pooled = np.concatenate([boot_t[:, :, m] for m in range(boot_t.shape[2])], axis=0)
    return romano_wolf(np.asarray(coef) / np.asarray(se), pooled, strict=True)


def bonferroni(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.minimum(1.0, len(p) * p)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down: the j-th smallest p times (k - j), running maximum, at most 1."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
    out = np.empty(len(p))
    out[order] = scaled
    return out


_DETERMINISTIC = {"bonferroni": bonferroni, "holm": holm}


def _two_sided(t: np.ndarray) -> np.ndarray:
    return 2 * norm.sf(np.abs(t))


def p_adjust_rule(
    package: str, method: str, coef_reps: np.ndarray, se_reps: np.ndarray, coef: np.ndarray, se: np.ndarray, boot_t
) -> np.ndarray:
    """One package's adjusted p-values from given numbers: ``coef_reps``/``se_reps`` ``(k, n_rep)``,
    the package's aggregated ``coef``/``se`` ``(k,)`` and, for Romano-Wolf, the draws."""
    if method == "romano-wolf":
        if package == "python":
            return python_romano_wolf(coef_reps, se_reps, boot_t)
        return r_romano_wolf(coef, se, boot_t)
    adjust = _DETERMINISTIC[method]
    if package == "python":
        p_reps = _two_sided(coef_reps / se_reps)
        return np.median(np.column_stack([adjust(p_reps[:, m]) for m in range(p_reps.shape[1])]), axis=1)
    return adjust(_two_sided(np.asarray(coef) / np.asarray(se)))


def quantile_mc_bound(level: float, n_draws: int, z: float = MC_Z) -> float:
    """Bound on |F_a(c_b) - level|: one package's empirical CDF of max|t*| at the other's critical
    value. Each side's empirical CDF deviates from the common one by variance level(1-level)/n, so
    the difference has variance 2 level(1-level)/n; 1/n covers the quantile's interpolation."""
    return z * float(np.sqrt(2 * level * (1 - level) / n_draws)) + 1.0 / n_draws


def proportion_mc_bound(p_a: float, p_b: float, n_a: int, n_b: int, z: float = MC_Z) -> float:
    """Bound on |p_a - p_b| for two bootstrap proportions (Romano-Wolf p-values) from independent
    draws: z sqrt(p(1-p)(1/n_a + 1/n_b)) at the p between the two closest to 1/2 (the largest
    variance either could have), plus one draw's step of each."""
    low, high = sorted((float(p_a), float(p_b)))
    p = min(max(0.5, low), high)
    return z * float(np.sqrt(p * (1 - p) * (1.0 / n_a + 1.0 / n_b))) + 1.0 / n_a + 1.0 / n_b


# --- when a Monte Carlo check can fail at all ---------------------------------------------------------


def quantile_check_can_fail(n_draws: int, level: float = CI_LEVEL) -> bool:
    """|F_a(c_b) - level| is at most max(level, 1 - level) (F is a share of draws); a bound at or
    beyond that passes whatever the draws (1 to 3 draws at the 95 % level)."""
    return quantile_mc_bound(level, n_draws) < max(level, 1 - level)


def proportion_check_can_fail(n_a: int, n_b: int) -> bool:
    """|p_a - p_b| of two proportions is at most 1, reached at p_a = 0, p_b = 1, where the bound takes
    its largest value (at p = 1/2): the check can fail exactly when that bound is below 1 (12 or more
    draws each; tests/test_can_fail.py checks every pair of proportions for small counts)."""
    return proportion_mc_bound(0.5, 0.5, n_a, n_b) < 1.0


def too_few_draws(n_rep_boot: int, n_rep: int, p_adjust: Optional[str]) -> Optional[str]:
    """Why ``n_rep_boot`` draws per repetition leave an own-draws check that cannot fail, or None.
    The own-draws checks pool every repetition's draws (R's rule): ``n_rep_boot * n_rep`` in all."""
    n = n_rep_boot * n_rep
    if not quantile_check_can_fail(n):
        what, bound, largest = "the critical value", quantile_mc_bound(CI_LEVEL, n), max(CI_LEVEL, 1 - CI_LEVEL)
        fewest = next(k for k in range(1, 1000) if quantile_check_can_fail(k))
    elif p_adjust == "romano-wolf" and not proportion_check_can_fail(n, n):
        what, bound, largest = "the Romano-Wolf p-values", proportion_mc_bound(0.5, 0.5, n, n), 1.0
        fewest = next(k for k in range(1, 1000) if proportion_check_can_fail(k, k))
    else:
        return None
    return (
        f"{n} draws in all (n_rep_boot {n_rep_boot} x n_rep {n_rep}): the Monte Carlo bound of {what} with each "
        f"package's own draws, {bound:.3g}, is at or beyond {largest:g}, the largest value that check measures, so it "
        f"cannot fail; give at least {fewest} draws in all"
    )
