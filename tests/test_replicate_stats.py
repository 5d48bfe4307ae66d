"""The replicate statistics, without engines: the equivalence rule's size and power measured by
simulation against what the tool states, the detectable difference, the replicates that would
decide, the paired distribution test and the small exact tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.verdict.replicate_stats import (
    decide,
    equivalence,
    mcnemar,
    mde,
    n_to_decide,
    paired_ks,
    power_agree,
    power_disagree,
    wilson,
)

SIMS = 20_000
MARGIN = 0.2


def _draws(kind: str, mu: float, sigma: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return mu + sigma * rng.standard_normal((SIMS, n))
    # Student t with 3 degrees of freedom scaled to sd sigma: tails like a forest's estimates.
    return mu + sigma * rng.standard_t(3, (SIMS, n)) / math.sqrt(3.0)


def _share(kind: str, mu: float, sigma: float, n: int, verdict: str, seed: int) -> float:
    return float(np.mean(decide(_draws(kind, mu, sigma, n, seed), MARGIN)[0] == verdict))


def _mc(p: float) -> float:
    """Three Monte Carlo standard errors of a share near ``p``."""
    return 3 * math.sqrt(max(p * (1 - p), 0.01 * 0.99) / SIMS)


@pytest.mark.parametrize("kind", ["normal", "t3"])
@pytest.mark.parametrize("n, sigma", [(20, 0.3), (40, 0.3), (40, 0.45)])
def test_size_at_the_margin_is_at_most_five_percent(kind: str, n: int, sigma: float) -> None:
    # agree when the truth sits on the margin (or beyond), disagree when it sits on it (or inside).
    for mu in (MARGIN, -MARGIN):
        assert _share(kind, mu, sigma, n, "agree", seed=n) <= 0.05 + _mc(0.05)
        assert _share(kind, mu, sigma, n, "disagree", seed=n + 1) <= 0.05 + _mc(0.05)
    # Inside the margin, disagree only gets rarer; beyond it, agree does.
    assert _share(kind, 0.0, sigma, n, "disagree", seed=7) <= 0.05
    assert _share(kind, 0.5, sigma, n, "agree", seed=8) <= 0.05


@pytest.mark.parametrize("n, sigma", [(20, 0.3), (40, 0.3), (40, 0.45), (100, 0.6)])
def test_stated_power_matches_simulation(n: int, sigma: float) -> None:
    stated_agree = power_agree(0.0, sigma, n, MARGIN)
    stated_disagree = power_disagree(0.5, sigma, n, MARGIN)
    assert abs(_share("normal", 0.0, sigma, n, "agree", seed=1) - stated_agree) <= _mc(stated_agree)
    assert abs(_share("normal", 0.5, sigma, n, "disagree", seed=2) - stated_disagree) <= _mc(stated_disagree)
    # At half the margin the stated power holds too (the integral over the sample sd is exact).
    stated_half = power_agree(0.1, sigma, n, MARGIN)
    assert abs(_share("normal", 0.1, sigma, n, "agree", seed=3) - stated_half) <= _mc(stated_half)


def test_power_under_heavy_tails_is_at_least_the_normal_statement() -> None:
    # With t3 differences of the same sd the rule agrees more often than the normal-theory power
    # says (measured 0.787 against 0.736 at n = 40): the statement errs on the cautious side, and
    # the size (above) still holds. The README quotes these numbers.
    stated = power_agree(0.0, 0.45, 40, MARGIN)
    measured = _share("t3", 0.0, 0.45, 40, "agree", seed=4)
    assert stated - _mc(stated) <= measured <= stated + 0.08


def test_equivalence_agrees_with_the_vectorised_rule() -> None:
    rng = np.random.default_rng(3)
    for mu in (0.0, 0.15, 0.25, 0.6, -0.6):
        diff = mu + 0.3 * rng.standard_normal(30)
        result = equivalence(diff, MARGIN)
        verdict, low, high = decide(diff, MARGIN)
        assert result.verdict == str(verdict)
        assert result.ci90 == pytest.approx((float(low), float(high)))
        assert (result.p_equivalent < 0.05) == (result.verdict == "agree")
        assert (result.p_beyond < 0.05) == (result.verdict == "disagree")
        # The 95 % interval excludes zero exactly when the paired t-test rejects a zero mean.
        assert (result.ci95[0] > 0 or result.ci95[1] < 0) == (result.p_zero < 0.05)
        assert result.p_zero == pytest.approx(stats.ttest_1samp(diff, 0.0).pvalue)


def test_identical_estimates_agree_and_a_constant_shift_disagrees() -> None:
    assert equivalence(np.zeros(10), MARGIN).verdict == "agree"
    assert equivalence(np.full(10, 0.5), MARGIN).verdict == "disagree"
    assert equivalence(np.full(10, 0.2), MARGIN).verdict == "inconclusive"


def test_inconclusive_says_how_many_replicates_would_decide() -> None:
    rng = np.random.default_rng(11)
    diff = 0.05 + 0.5 * rng.standard_normal(12)
    result = equivalence(diff, MARGIN)
    assert result.verdict == "inconclusive"
    n = result.n_to_decide
    assert n is not None and n > 12
    assert power_agree(result.mean, result.sd, n, MARGIN) >= 0.8 > power_agree(result.mean, result.sd, n - 1, MARGIN)


def test_n_to_decide_for_a_difference_beyond_the_margin_and_at_it() -> None:
    n = n_to_decide(0.3, 0.4, MARGIN)
    assert power_disagree(0.3, 0.4, n, MARGIN) >= 0.8 > power_disagree(0.3, 0.4, n - 1, MARGIN)
    assert n_to_decide(MARGIN, 0.4, MARGIN) is None


@pytest.mark.parametrize("n, sigma", [(20, 0.3), (40, 1.0)])
def test_mde_is_found_with_80_percent_power(n: int, sigma: float) -> None:
    shift = mde(sigma, n)
    rng = np.random.default_rng(5)
    draws = shift + sigma * rng.standard_normal((SIMS, n))
    t = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / math.sqrt(n))
    rejected = np.mean(np.abs(t) > stats.t.ppf(0.975, n - 1))
    assert abs(rejected - 0.8) <= _mc(0.8)


def test_paired_ks_holds_its_size_and_finds_a_wider_distribution() -> None:
    rng = np.random.default_rng(9)
    rejections = 0
    for _ in range(300):
        common = rng.standard_normal(40)  # the replicate's data: shared by both engines
        a, b = common + 0.3 * rng.standard_normal(40), common + 0.3 * rng.standard_normal(40)
        rejections += paired_ks(a, b, seed=1, n_perm=199)[1] < 0.05
    assert rejections / 300 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)
    common = rng.standard_normal(200)
    a = common + 0.2 * rng.standard_normal(200)
    b = 1.4 * common + 0.2 * rng.standard_normal(200)  # one engine's estimates 40 % more spread out
    distance, p = paired_ks(a, b, seed=1)
    assert p < 0.01 and 0 < distance <= 1


def test_paired_ks_is_reproducible_and_handles_ties() -> None:
    a = np.array([1.0, 1.0, 2.0, 3.0])
    assert paired_ks(a, a.copy(), seed=3) == (0.0, 1.0)
    b = np.array([1.0, 2.0, 2.0, 5.0])
    assert paired_ks(a, b, seed=3) == paired_ks(a, b, seed=3)
    assert paired_ks(a, b, seed=3)[0] == pytest.approx(stats.ks_2samp(a, b).statistic)


def test_mcnemar_and_wilson_match_scipy() -> None:
    for a_only, b_only in ((0, 0), (5, 0), (3, 9), (12, 10)):
        expected = 1.0 if a_only + b_only == 0 else stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
        assert mcnemar(a_only, b_only) == pytest.approx(expected)
    low, high = wilson(95, 100)
    assert (low, high) == pytest.approx((0.8882, 0.9785), abs=1e-4)
