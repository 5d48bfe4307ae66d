"""The statistics of replicated fits: pure functions on arrays, no engines, no spec files.

Vocabulary (all differences are Python minus R, in units of ``scale``, the typical standard error
of the spec: the median over replicates of the two engines' mean se; the median so that one
replicate with an exploding se cannot rescale every other difference):

* the **equivalence test** (:func:`equivalence`) is a two one-sided t-test (TOST) of the mean
  paired difference against the margin ``±c`` (the spec's ``coef_tolerance_se``), read from one
  90 % interval (``1 - 2 alpha``, alpha = 5 %): ``agree`` when the interval lies inside ``(-c, c)``
  (equivalence shown: size ≤ alpha when |mean| ≥ c), ``disagree`` when it lies wholly outside
  ``[-c, c]`` (a difference beyond the margin shown: size ≤ alpha when |mean| ≤ c, for margins of a
  few standard errors of the mean), ``inconclusive`` otherwise;
* its power (:func:`power_agree`, :func:`power_disagree`) for normal differences, exact (an
  integral over the sample sd, and the noncentral t), so that the report can say how likely each
  verdict was at the observed spread;
* ``mde``: the smallest mean difference a two-sided paired t-test at 5 % finds with 80 % power;
* :func:`n_to_decide`: the number of replicates at which, at the observed mean and sd, the verdict
  would be ``agree`` or ``disagree`` with 80 % power;
* :func:`paired_ks` a paired permutation test of equal distributions (the Kolmogorov–Smirnov
  distance between the two engines' estimates, labels swapped within pairs, so the pairing of
  both engines on the same data and folds is respected);
* :func:`mcnemar` an exact test of equal tail shares on paired tail indicators.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np
from scipy import integrate, optimize, stats

__all__ = [
    "ALPHA",
    "INTERVAL_LEVEL",
    "POWER",
    "QUANTILES",
    "TAIL_SE",
    "Equivalence",
    "decide",
    "engine_summary",
    "equivalence",
    "mcnemar",
    "mde",
    "mean_interval",
    "n_to_decide",
    "paired_ks",
    "power_agree",
    "power_disagree",
    "resampled_rates",
    "shift_for",
    "wilson",
]

ALPHA = 0.05  # the size of each one-sided test of the replicate verdict (equivalence, TOST)
# The two-sided intervals reported over replicates ("ci95" keys: mean gap, t difference, coverage).
INTERVAL_LEVEL = 1 - ALPHA
POWER = 0.80
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
# An estimate more than this many typical standard errors from the pooled median is in a tail:
# for normal estimates whose spread equals their se that is 0.27 % of them.
TAIL_SE = 3.0
N_MAX = 100_000
RESAMPLES = 4000


def _finite(value: float) -> Optional[float]:
    return float(value) if value is not None and math.isfinite(value) else None


def mean_interval(values: np.ndarray, level: float) -> tuple[float, float, float, float]:
    """(mean, sd, low, high): the two-sided ``level`` t interval of the mean."""
    n = len(values)
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if n > 1 else float("nan")
    if n < 2:
        return mean, sd, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


@dataclass(frozen=True)
class Equivalence:
    """The equivalence test of a mean paired difference against the margin ``±margin``."""

    verdict: str  # agree | disagree | inconclusive
    n: int
    mean: float
    sd: float
    ci90: tuple[float, float]
    ci95: tuple[float, float]
    margin: float
    p_equivalent: float  # TOST: the larger of the two one-sided p-values (agree when < alpha)
    p_beyond: float  # the one-sided p-value that the mean lies beyond the nearer margin
    p_zero: float  # two-sided paired t-test of a zero mean
    power_agree_at_zero: float  # P(agree) were the true mean 0, at the observed sd
    shift: float  # a systematic difference the report states the power for: 0.5 se (2.5 margins if larger)
    power_disagree_at_shift: float  # P(disagree) were the true mean ``shift``, at the observed sd
    mde: float  # smallest mean a 5 % two-sided test finds with 80 % power, at the observed sd
    n_to_decide: Optional[int]  # replicates that would decide at the observed mean and sd (inconclusive only)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ci90"] = [_finite(v) for v in self.ci90]
        out["ci95"] = [_finite(v) for v in self.ci95]
        for key in ("mean", "sd", "p_equivalent", "p_beyond", "p_zero", "power_agree_at_zero", "power_disagree_at_shift", "mde"):
            out[key] = _finite(out[key])
        return out


def equivalence(diff: np.ndarray, margin: float, alpha: float = ALPHA) -> Equivalence:
    """Judge the mean of paired differences ``diff`` against ``±margin``.

    Parameters
    ----------
    diff : numpy.ndarray
        One difference per replicate, in the unit of ``margin``.
    margin : float
        The tolerance (``coef_tolerance_se``), > 0.
    alpha : float
        Size of each one-sided test.
    """
    diff = np.asarray(diff, dtype=float)
    n = len(diff)
    mean, sd, low90, high90 = mean_interval(diff, 1 - 2 * alpha)
    _, _, low95, high95 = mean_interval(diff, 1 - alpha)
    if n < 2:
        nan = float("nan")
        shift = shift_for(margin)
        return Equivalence("inconclusive", n, mean, sd, (nan, nan), (nan, nan), margin, nan, nan, nan, nan, shift, nan, nan, None)
    se = sd / math.sqrt(n)
    if se == 0:  # identical differences: the interval is the point
        p_low = 0.0 if mean > -margin else 1.0
        p_high = 0.0 if mean < margin else 1.0
        p_beyond = 0.0 if abs(mean) > margin else 1.0
        p_zero = 0.0 if mean != 0 else 1.0
    else:
        df = n - 1
        p_low = float(stats.t.sf((mean + margin) / se, df))  # H0: mean <= -margin
        p_high = float(stats.t.cdf((mean - margin) / se, df))  # H0: mean >= margin
        p_beyond = float(min(stats.t.sf((mean - margin) / se, df), stats.t.cdf((mean + margin) / se, df)))
        p_zero = float(2 * stats.t.sf(abs(mean) / se, df))
    verdict = str(decide(diff, margin, alpha)[0])
    return Equivalence(
        verdict=verdict,
        n=n,
        mean=mean,
        sd=sd,
        ci90=(low90, high90),
        ci95=(low95, high95),
        margin=margin,
        p_equivalent=max(p_low, p_high),
        p_beyond=p_beyond,
        p_zero=p_zero,
        power_agree_at_zero=power_agree(0.0, sd, n, margin, alpha),
        shift=shift_for(margin),
        power_disagree_at_shift=power_disagree(shift_for(margin), sd, n, margin, alpha),
        mde=mde(sd, n),
        n_to_decide=n_to_decide(mean, sd, margin, alpha) if verdict == "inconclusive" else None,
    )


def decide(diff: np.ndarray, margin: float, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three-way verdict of each row of ``diff`` (replicates along the last axis): ``agree``
    when the ``1 - 2 alpha`` interval of the mean lies inside ``(-margin, margin)``, ``disagree``
    when it lies wholly outside ``[-margin, margin]``, ``inconclusive`` otherwise.

    Returns (verdicts, lower bounds, upper bounds); vectorised so that a simulation can judge many
    samples at once with the very rule the tool applies.
    """
    diff = np.asarray(diff, dtype=float)
    n = diff.shape[-1]
    mean = diff.mean(axis=-1)
    sd = diff.std(axis=-1, ddof=1)
    half = stats.t.ppf(1 - alpha, n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    verdict = np.where(
        (-margin < low) & (high < margin), "agree", np.where((low > margin) | (high < -margin), "disagree", "inconclusive")
    )
    return verdict, low, high


def resampled_rates(diff: np.ndarray, margin: float, seed: int, draws: int = RESAMPLES, alpha: float = ALPHA) -> dict:
    """The rule's behaviour on differences shaped like the observed ones, by resampling them.

    The observed differences are centred and moved to a chosen mean, resampled with replacement
    ``draws`` times, and judged by :func:`decide`: ``agree_at_zero`` (power to agree were the mean
    0), ``disagree_at_shift`` (power to find ``shift_for(margin)``), and the sizes at the margin,
    ``size_agree`` and ``size_disagree`` (the larger of the two signs: a skewed distribution errs on
    one side). Normal theory (:func:`power_agree`) is exact for normal differences; these say how far
    the actual shape moves it.
    """
    diff = np.asarray(diff, dtype=float)
    n = len(diff)
    centred = diff - diff.mean()
    rng = np.random.default_rng(seed)
    samples = centred[rng.integers(0, n, size=(draws, n))]

    def rate(mean: float, verdict: str) -> float:
        return float(np.mean(decide(samples + mean, margin, alpha)[0] == verdict))

    return {
        "draws": draws,
        "agree_at_zero": rate(0.0, "agree"),
        "disagree_at_shift": rate(shift_for(margin), "disagree"),
        "size_agree": max(rate(margin, "agree"), rate(-margin, "agree")),
        "size_disagree": max(rate(margin, "disagree"), rate(-margin, "disagree")),
        "skewness": float(stats.skew(diff)) if np.std(diff) > 0 else 0.0,
    }


def shift_for(margin: float) -> float:
    """The systematic difference whose detection power the report states: 0.5 se, the shift of the
    mutation test, or 2.5 margins when the margin is wider than 0.2 se."""
    return max(0.5, 2.5 * margin)


def power_agree(mu: float, sigma: float, n: int, margin: float, alpha: float = ALPHA) -> float:
    """P(the 90 % interval lies inside ±margin) for n normal differences of mean ``mu`` and sd ``sigma``.

    Exact: the interval is ``mean ± t s / sqrt(n)``; given the sample sd ``s`` the mean is normal,
    and ``(n - 1) s² / sigma²`` is chi-square with n - 1 degrees of freedom, integrated over.
    """
    if n < 2 or not sigma > 0:
        return float(abs(mu) < margin) if sigma == 0 else float("nan")
    df = n - 1
    t = stats.t.ppf(1 - alpha, df)
    se0 = sigma / math.sqrt(n)

    def given(v: float) -> float:
        half = t * sigma * math.sqrt(v / df) / math.sqrt(n)
        if half >= margin:
            return 0.0
        return float(stats.norm.cdf((margin - half - mu) / se0) - stats.norm.cdf((-margin + half - mu) / se0))

    # Beyond this v the interval is wider than the margin: no agreement possible.
    v_max = df * (margin * math.sqrt(n) / (t * sigma)) ** 2
    # Only where the chi-square has mass: quad would miss a narrow peak on a wide interval.
    low, high = stats.chi2.ppf(1e-13, df), min(v_max, stats.chi2.ppf(1 - 1e-13, df))
    if high <= low:
        return 0.0
    value, _ = integrate.quad(lambda v: given(v) * stats.chi2.pdf(v, df), low, high, limit=200)
    return float(min(max(value, 0.0), 1.0))


def _above(t: float, df: int, nc: float) -> float:
    """P(T > t) for a noncentral t; scipy's nct returns NaN far in its tails, where the answer is
    0 or 1 to double precision, so the complement and then the normal approximation stand in."""
    value = stats.nct.sf(t, df, nc)
    if not math.isfinite(value):
        value = 1.0 - stats.nct.cdf(t, df, nc)
    if not math.isfinite(value):
        value = stats.norm.sf(t - nc)
    return float(value)


def power_disagree(mu: float, sigma: float, n: int, margin: float, alpha: float = ALPHA) -> float:
    """P(the 90 % interval lies wholly outside ±margin) for normal differences (noncentral t)."""
    if n < 2 or not sigma > 0:
        return float(abs(mu) > margin) if sigma == 0 else float("nan")
    df = n - 1
    t = stats.t.ppf(1 - alpha, df)
    scale = math.sqrt(n) / sigma
    above = _above(t, df, (mu - margin) * scale)
    below = _above(t, df, -(mu + margin) * scale)  # P(T < -t) with T ~ nct(nc) is P(T > t) with -nc
    return float(min(above + below, 1.0))


def _power_nonzero(mu: float, sigma: float, n: int, alpha: float) -> float:
    df = n - 1
    t = stats.t.ppf(1 - alpha / 2, df)
    nc = mu * math.sqrt(n) / sigma
    return min(_above(t, df, nc) + _above(t, df, -nc), 1.0)


def mde(sigma: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest mean difference a two-sided paired t-test of size ``alpha`` detects with ``power``."""
    if n < 2 or not sigma > 0:
        return 0.0 if sigma == 0 else float("nan")
    upper = 10 * sigma
    while _power_nonzero(upper, sigma, n, alpha) < power:
        upper *= 2
    return float(optimize.brentq(lambda mu: _power_nonzero(mu, sigma, n, alpha) - power, 0.0, upper, xtol=1e-10))


def n_to_decide(mu: float, sigma: float, margin: float, alpha: float = ALPHA, power: float = POWER) -> Optional[int]:
    """Replicates at which, were ``mu`` and ``sigma`` the truth, the verdict would be ``agree`` (when
    |mu| < margin) or ``disagree`` (when |mu| > margin) with ``power``; None when no number up to
    100,000 would (a mean at the margin itself, or no spread to speak of)."""
    if not (sigma > 0) or not math.isfinite(mu) or abs(abs(mu) - margin) < 1e-12:
        return None
    test = power_agree if abs(mu) < margin else power_disagree

    def enough(n: int) -> bool:
        return test(mu, sigma, n, margin, alpha) >= power

    if not enough(N_MAX):
        return None
    low, high = 2, 4
    while not enough(high):
        low, high = high, high * 2
    high = min(high, N_MAX)
    while low < high:  # power grows with n: the first n that is enough
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return low


def paired_ks(a: np.ndarray, b: np.ndarray, seed: int, n_perm: int = 9999) -> tuple[float, float]:
    """(Kolmogorov–Smirnov distance between the samples ``a`` and ``b``, permutation p-value).

    ``a[i]`` and ``b[i]`` come from the same replicate (same data and folds), so the two samples are
    not independent and the textbook KS p-value does not apply. Under the null that the two engines
    are interchangeable, swapping the labels within any pair leaves the joint distribution unchanged:
    the p-value is the share of ``n_perm`` random within-pair swaps (and the observed labelling) whose
    distance is at least the observed one.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n = len(a)
    pooled = np.concatenate([a, b])
    order = np.argsort(pooled, kind="stable")
    values = pooled[order]
    pair = np.concatenate([np.arange(n), np.arange(n)])[order]
    sign = np.concatenate([np.ones(n), -np.ones(n)])[order] / n
    # The empirical CDFs are compared after the last of any tied values.
    ends = np.flatnonzero(np.append(values[1:] != values[:-1], True))

    def distance(flips: np.ndarray) -> np.ndarray:
        steps = flips[..., pair] * sign
        return np.abs(np.cumsum(steps, axis=-1)[..., ends]).max(axis=-1)

    observed = float(distance(np.ones(n)))
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, n_perm, 1000):  # in blocks: memory stays small for long runs
        size = min(1000, n_perm - start)
        flips = rng.choice(np.array([-1.0, 1.0]), size=(size, n))
        exceed += int(np.sum(distance(flips) >= observed - 1e-12))
    return observed, (1 + exceed) / (1 + n_perm)


def mcnemar(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pair counts."""
    total = a_only + b_only
    if total == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(a_only, b_only), total, 0.5)))


def wilson(successes: int, n: int, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def engine_summary(
    coef: np.ndarray,
    ci: np.ndarray,
    scale: float,
    centre: float,
    truth: Optional[float],
    with_coverage: bool,
) -> dict:
    """One engine's estimates over the replicates.

    Parameters
    ----------
    coef : numpy.ndarray
        The estimate of each replicate.
    ci : numpy.ndarray
        ``(n, 2)`` the 95 % interval each replicate reported.
    scale : float
        The typical se: tails are counted in this unit.
    centre : float
        The pooled median of both engines' estimates, from which tails are measured.
    truth : float or None
        The true effect, for bias and RMSE.
    with_coverage : bool
        Whether the replicates are independent draws of the data, the only case in which the share
        of intervals covering the truth estimates a coverage probability.
    """
    coef = np.asarray(coef, dtype=float)
    n = len(coef)
    tail = np.abs(coef - centre) > TAIL_SE * scale
    out: dict = {
        "n": n,
        "mean": float(coef.mean()),
        "sd": float(coef.std(ddof=1)) if n > 1 else None,
        "sd_in_se": float(coef.std(ddof=1) / scale) if n > 1 and scale > 0 else None,
        "min": float(coef.min()),
        "max": float(coef.max()),
        "quantiles": {f"{q:g}": float(np.quantile(coef, q)) for q in QUANTILES},
        "tail_share": float(tail.mean()),
        "tail_count": int(tail.sum()),
    }
    if truth is not None:
        out["bias"] = float(coef.mean() - truth)
        out["median_bias"] = float(np.median(coef) - truth)
        out["rmse"] = float(np.sqrt(np.mean((coef - truth) ** 2)))
        if with_coverage:
            covered = int(np.sum((ci[:, 0] <= truth) & (truth <= ci[:, 1])))
            low, high = wilson(covered, n)
            out["coverage"] = covered / n
            out["coverage_ci95"] = [low, high]
    return out
