"""The data generating process of the synthetic panel: its parameters and one draw of every
variable (``simulate``), built from bounded random blocks.

The design choices that decide what the specs can recover are listed in :mod:`harness.synth`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from harness.synth.layout import REGIONS

__all__ = ["CONTROLS", "DGP", "N_YEARS", "YEARS", "simulate", "within_deviations"]

YEARS = np.arange(2011, 2024)
N_YEARS = len(YEARS)

# CNNIC national internet penetration (share of the population), 2011-2023: the time-varying
# national series of the Nunn-Qian style instrument.
INTERNET_RATE = np.array([0.383, 0.421, 0.458, 0.479, 0.503, 0.532, 0.558, 0.596, 0.645, 0.704, 0.730, 0.756, 0.775])

# National real GDP growth (%), 2011-2023: the year effect of ``growth``.
NATIONAL_GROWTH = np.array([9.6, 7.9, 7.8, 7.4, 7.0, 6.8, 6.9, 6.7, 6.0, 2.2, 8.4, 3.0, 5.2])


@dataclass(frozen=True)
class DGP:
    """Parameters of the data generating process (effects are per unit of ``dig_int``).

    The total effect of ``dig_int`` on ``rcd`` in city ``i`` and year ``t`` is::

        theta_it = theta_region[region_i] + dev_slope * max(dev_center - lngdppc_2011_i, 0)
                   + gov_slope * (gov_it - gov_center)

    of which ``innov_b * innov_effect + ind_b * ind_effect`` runs through the two mediators.
    """

    theta_region: tuple[float, float, float] = (0.32, 0.07, 0.20)  # east, central, west
    dev_slope: float = 0.50  # per log point of 2011 GDP per capita below dev_center
    dev_center: float = 10.50
    gov_slope: float = 1.20  # the moderation: d theta / d gov
    gov_center: float = 0.20
    gov_mean: float = 0.20
    innov_effect: float = 0.25  # dig_int -> innov
    ind_effect: float = 0.20  # dig_int -> ind_struct
    innov_b: float = 0.15  # innov -> rcd
    ind_b: float = 0.20  # ind_struct -> rcd
    growth_effect: float = 6.0  # percentage points of GDP growth per unit of dig_int
    # dig_int = w_digital * digital + w_intel * intel + w_synergy * digital * intel
    w_digital: float = 0.4
    w_intel: float = 0.4
    w_synergy: float = 0.2
    iv_strength: float = 1.20  # loading of digital on (post offices - 1.1) x (internet rate - mean)
    iv_intel_share: float = 0.15  # intel's loading on the instrument, relative to digital's
    digital_intel_link: float = 0.4  # correlation of the within shocks of digital and intel
    treatment_persistence: float = 0.6  # AR(1) coefficient of the within shocks of digital and intel
    rcd_noise: float = 0.018  # standard deviation of rcd's AR(1) noise
    confounding: float = 0.80  # scales every nonlinear confounding term
    hidden_confounding: float = 1.0  # loading of the unobserved city factor in the treatment level
    control_persistence: float = 0.6  # AR(1) coefficient of the confounding controls' shocks
    control_trend: float = 1.0  # scales the city-specific trends of the confounding controls
    # Within-city standard deviations of the controls (about their realised values), which
    # standardise the within deviations before the nonlinear confounding terms apply.
    within_scale: dict[str, float] = field(
        default_factory=lambda: {
            "lngdppc": 0.036,
            "urban": 0.0125,
            "hum": 0.10,
            "fin": 0.065,
            "open": 0.021,
            "infra": 0.56,
            "lnpopden": 0.0082,
            "gov": 0.0095,
        }
    )

    def mediated(self) -> float:
        """The part of theta that runs through innov and ind_struct."""
        return self.innov_b * self.innov_effect + self.ind_b * self.ind_effect


CONTROLS = ("lngdppc", "urban", "open", "fin", "hum", "lnpopden", "infra", "gov")

# ---------------------------------------------------------------------------------------------
# Random building blocks
# ---------------------------------------------------------------------------------------------


def _cnorm(rng: np.random.Generator, size: int | tuple[int, ...], clip: float = 3.0) -> np.ndarray:
    """Standard normal draws clipped at +-clip: still symmetric with mean zero, but bounded, so
    that an extreme draw cannot push an index or a share out of its range."""
    return np.clip(rng.standard_normal(size), -clip, clip)


def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float = 0.5, shocks: Optional[np.ndarray] = None) -> np.ndarray:
    """Stationary AR(1) paths, one row per city: within-city persistence of shocks.

    ``shocks`` (``(n, N_YEARS)`` standard draws) may be given to correlate two processes.
    """
    eps = _cnorm(rng, (n, N_YEARS)) if shocks is None else shocks
    out = np.empty((n, N_YEARS))
    out[:, 0] = sd * eps[:, 0]
    innovation_sd = sd * np.sqrt(1.0 - rho**2)
    for t in range(1, N_YEARS):
        out[:, t] = rho * out[:, t - 1] + innovation_sd * eps[:, t]
    return out


def _logistic(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _soft_clip(v: np.ndarray, low: float = 0.005, high: float = 0.98, width: float = 0.015) -> np.ndarray:
    """Identity in the bulk, smooth floors at ``low`` and ``high`` (softplus on both sides), so an
    index stays inside (0, 1) whatever the draws."""
    floored = low + width * np.logaddexp(0.0, (v - low) / width)
    return high - width * np.logaddexp(0.0, (high - floored) / width)


def within_deviations(a: np.ndarray) -> np.ndarray:
    """Two-way (city and year) within deviations of a balanced ``(n_cities, n_years)`` array."""
    return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()


def _confounders(z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The nonlinear terms through which the controls' within deviations confound.

    A smooth threshold in development, a two-sided threshold in urbanisation, saturation in human
    capital and a wave in financial depth: shapes a linear learner cannot represent. All are odd
    functions of a city-demeaned deviation, so their city means, which a learner that only sees
    demeaned controls cannot reconstruct, stay small. (A product of two deviations, whose city
    mean is the city's sample covariance, would leak a bias through the fixed effects.)
    """
    return {
        "q_dev": np.tanh(1.5 * z["lngdppc"]),
        "q_urban": (z["urban"] > 0.5).astype(float) - (z["urban"] < -0.5).astype(float),
        "q_hum": np.tanh(1.5 * z["hum"]),
        "q_fin": np.sin(2.0 * z["fin"]),
    }


# ---------------------------------------------------------------------------------------------
# One draw of the panel
# ---------------------------------------------------------------------------------------------


def simulate(rng: np.random.Generator, layout: pd.DataFrame, p: DGP) -> dict[str, np.ndarray]:
    """Draw every variable of one panel as ``(n_cities, n_years)`` arrays (city-level arrays are
    ``(n_cities, 1)``), including the hidden effect ``theta`` used to compute the truth. The steps
    below draw from ``rng`` in this order, so a seed gives the same panel."""
    n = len(layout)
    region = layout["region"].map({r: k for k, r in enumerate(REGIONS)}).to_numpy()
    t = np.arange(N_YEARS)[None, :] / (N_YEARS - 1)  # 0 in 2011, 1 in 2023

    # City-level factors: observed development and an unobserved "institutions" factor that
    # raises both digital intelligence and coordinated development (confounds no-FE specs).
    muni, capital, subprov = (layout[k].to_numpy().astype(float) for k in ("municipality", "capital", "subprov"))
    dev = np.array([0.55, -0.25, -0.45])[region] + 0.8 * _cnorm(rng, n) + 1.0 * muni + 0.7 * capital + 0.6 * subprov
    hidden = _cnorm(rng, n)
    density_noise = _cnorm(rng, n)
    controls = _controls(rng, layout, p, (region, dev, density_noise), t)
    lngdppc_2011 = controls["lngdppc"][:, :1]

    z = {k: within_deviations(v) / p.within_scale[k] for k, v in controls.items()}
    q = _confounders(z)

    # Instrument: post offices per 10k people in 1984 (independent of region, development and gov;
    # sparser in dense places) times the national internet rate.
    post1984 = 1.1 * np.exp(-0.1 * density_noise + 0.2 * _cnorm(rng, n, clip=2.5))
    iv = _col(post1984) * INTERNET_RATE[None, :]
    digital, intel = _treatments(rng, p, (dev, hidden, post1984), (z, q), t)
    dig_int = p.w_digital * digital + p.w_intel * intel + p.w_synergy * digital * intel

    # Effect heterogeneity (total effect on rcd).
    theta = _col(
        np.array(p.theta_region)[region] + p.dev_slope * np.maximum(p.dev_center - lngdppc_2011[:, 0], 0.0)
    ) + p.gov_slope * (controls["gov"] - p.gov_center)
    outcomes = _outcomes(rng, p, (dig_int, theta - p.mediated()), (dev, hidden), (z, q), t)

    return {
        **controls,
        "lngdppc_2011": np.repeat(lngdppc_2011, N_YEARS, axis=1),
        "digital": digital,
        "intel": intel,
        "dig_int": dig_int,
        "rcd": outcomes["rcd"],
        "innov": outcomes["innov"],
        "ind_struct": outcomes["ind_struct"],
        "iv_post1984": iv,
        "post1984": np.repeat(_col(post1984), N_YEARS, axis=1),
        "growth": outcomes["growth"],
        "gap_core": _gap_core(layout, outcomes["rcd"]),
        "theta": theta,
    }


def _col(v: np.ndarray) -> np.ndarray:
    return v[:, None]


def _controls(rng: np.random.Generator, layout: pd.DataFrame, p: DGP, cities: tuple, t: np.ndarray) -> dict[str, np.ndarray]:
    """The eight controls: city level + common national path + a within part (city-specific trend
    and AR(1) shocks)."""
    region, dev, density_noise = cities
    n = len(layout)
    east, west = (region == 0).astype(float), (region == 2).astype(float)
    # The within part is centred in every year within each region x core group: regional
    # shocks belong to the national path, and, more to the point, a spec that keeps one region (or
    # drops core cities) then sees, after its own two-way demeaning, exactly the within deviations
    # the DGP's nonlinear confounding uses, so a flexible learner can still learn it. Openness has
    # no trend and multiplicative shocks, which keep it positive.
    group = 2 * region + layout["core"].to_numpy()

    def within_part(sd: float, rho: float, trend_sd: float = 0.0) -> np.ndarray:
        part = _col(p.control_trend * trend_sd * _cnorm(rng, n)) * (t - 0.5) + _ar1(rng, n, sd, rho)
        for g in np.unique(group):
            part[group == g] -= part[group == g].mean(axis=0)
        return part

    col, rho_c = _col, p.control_persistence
    lngdppc = col(10.35 + 0.38 * dev + 0.05 * _cnorm(rng, n)) + 0.70 * t**0.85 + within_part(0.035, rho_c, 0.06)
    urban = col(0.18 + 0.57 * _logistic(0.05 + 0.55 * dev + 0.2 * _cnorm(rng, n))) + 0.09 * t + within_part(0.012, rho_c, 0.02)
    hum = col(9.2 + 0.6 * dev + 0.3 * _cnorm(rng, n)) + 0.75 * t + within_part(0.11, rho_c, 0.12)
    fin = col(0.35 + 0.75 * np.exp(0.22 * dev + 0.2 * _cnorm(rng, n))) + 0.30 * t + within_part(0.07, rho_c, 0.06)
    open_ = col(np.exp(np.log(0.10) + 0.9 * east + 0.35 * dev + 0.45 * _cnorm(rng, n))) * np.exp(within_part(0.10, 0.6))
    lnpopden = col(5.7 + 0.25 * dev - 0.9 * west + 0.5 * density_noise) + 0.05 * t + within_part(0.010, 0.7)
    infra = col(4.0 + 7.5 * np.exp(0.15 * dev + 0.2 * _cnorm(rng, n))) + 4.0 * t + within_part(0.6, 0.6, 0.8)
    # Government intervention. A simplification: its city level is independent of region and
    # development (the other drivers of theta); otherwise the moderation spec, whose fixed effects
    # leave only within-city variation, would mix that heterogeneity into its interaction estimate.
    gov_level = p.gov_mean + 0.035 * _cnorm(rng, n, clip=2.5)
    gov = col(gov_level) + 0.02 * t + within_part(0.011, 0.6)
    return {
        "lngdppc": lngdppc,
        "urban": urban,
        "open": open_,
        "fin": fin,
        "hum": hum,
        "lnpopden": lnpopden,
        "infra": infra,
        "gov": gov,
    }


def _treatments(
    rng: np.random.Generator, p: DGP, cities: tuple, confounders: tuple, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Digitalisation and intelligence: a right-skewed city level (logistic of city factors), a
    common national path, and additive within parts (instrument, city trend, confounding terms,
    AR(1) shocks), then soft bounds that keep the index inside (0, 1). Additive within parts
    keep the within variance of the treatment about equal across cities, so the variance
    weights of PLR do not swing the heterogeneity estimands, and a common national path keeps
    city-specific trends of the treatment independent of theta. The within shocks of the two
    are correlated (same infrastructure), so "digital alone" picks up part of intel."""
    (dev, hidden, post1984), (z, q) = cities, confounders
    n, col, c = len(dev), _col, p.confounding
    rho, rest = p.digital_intel_link, np.sqrt(1.0 - p.digital_intel_link**2)
    shared_shock = _cnorm(rng, (n, N_YEARS))
    shared_trend = _cnorm(rng, n)
    # Only the instrument's differential trend moves the indices (its level is a city effect).
    iv_trend = col(post1984 - 1.1) * (INTERNET_RATE - INTERNET_RATE.mean())[None, :]
    raw_dg = (
        col(0.06 + 0.55 * _logistic(-2.6 + 0.9 * dev + 0.5 * p.hidden_confounding * hidden + 0.35 * _cnorm(rng, n)))
        + 0.20 * t**1.2
        + p.iv_strength * iv_trend
        + col(0.02 * (rho * shared_trend + rest * _cnorm(rng, n))) * (t - 0.5)
        + c * (0.022 * q["q_dev"] + 0.018 * q["q_urban"] + 0.010 * q["q_hum"] + 0.012 * q["q_fin"])
        + 0.006 * z["open"]
        + 0.004 * z["infra"]
        + _ar1(rng, n, 0.024, p.treatment_persistence, np.clip(rho * shared_shock + rest * _cnorm(rng, (n, N_YEARS)), -3, 3))
    )
    raw_it = (
        col(0.05 + 0.45 * _logistic(-2.9 + 0.95 * dev + 0.45 * p.hidden_confounding * hidden + 0.4 * _cnorm(rng, n)))
        + 0.22 * t**1.5
        + p.iv_intel_share * p.iv_strength * iv_trend
        + col(0.02 * (rho * shared_trend + rest * _cnorm(rng, n))) * (t - 0.5)
        + c * (0.016 * q["q_dev"] + 0.013 * q["q_urban"] + 0.012 * q["q_hum"] + 0.009 * q["q_fin"])
        + 0.005 * z["hum"]
        + 0.003 * z["infra"]
        + _ar1(rng, n, 0.024, p.treatment_persistence, np.clip(rho * shared_shock + rest * _cnorm(rng, (n, N_YEARS)), -3, 3))
    )
    return _soft_clip(raw_dg), _soft_clip(raw_it)


def _outcomes(
    rng: np.random.Generator, p: DGP, treatment: tuple, cities: tuple, confounders: tuple, t: np.ndarray
) -> dict[str, np.ndarray]:
    """The mediators (linear in dig_int; their other parts are city and year effects, confounding
    terms and noise), coordinated development ``rcd`` and growth."""
    (dig_int, theta_direct), (dev, hidden), (z, q) = treatment, cities, confounders
    n, col, c = len(dev), _col, p.confounding
    innov = (
        p.innov_effect * dig_int
        + col(0.06 + 0.30 * _logistic(-2.6 + 0.9 * dev + 0.3 * hidden + 0.3 * _cnorm(rng, n)))
        + 0.04 * t
        + c * (0.006 * q["q_dev"] + 0.005 * q["q_hum"] + 0.004 * q["q_fin"])
        + 0.003 * z["hum"]
        + _ar1(rng, n, 0.012, 0.5)
    )
    ind_struct = (
        p.ind_effect * dig_int
        + col(0.22 + 0.40 * _logistic(-2.2 + 0.7 * dev + 0.3 * _cnorm(rng, n)))
        + 0.06 * t
        + c * (0.006 * q["q_dev"] + 0.006 * q["q_urban"] + 0.004 * q["q_fin"])
        + 0.002 * z["urban"]
        + _ar1(rng, n, 0.012, 0.5)
    )
    rcd = (
        theta_direct * dig_int
        + p.innov_b * innov
        + p.ind_b * ind_struct
        + col(0.10 + 0.40 * _logistic(-1.8 + 0.7 * dev + 0.5 * hidden + 0.3 * _cnorm(rng, n)))
        + 0.05 * t
        + c * (0.010 * q["q_dev"] + 0.009 * q["q_urban"] + 0.006 * q["q_hum"] + 0.006 * q["q_fin"])
        + 0.003 * z["lngdppc"]
        + 0.002 * z["gov"]
        + _ar1(rng, n, p.rcd_noise, 0.5)
    )
    growth = (
        p.growth_effect * (dig_int - 0.15)
        + NATIONAL_GROWTH[None, :]
        + col(-0.4 * dev + 0.6 * _cnorm(rng, n))
        + c * (0.35 * q["q_dev"] + 0.25 * q["q_urban"] + 0.20 * q["q_fin"])
        + 0.15 * z["lngdppc"]
        + _ar1(rng, n, 0.9, 0.4)
    )
    return {"innov": innov, "ind_struct": ind_struct, "rcd": rcd, "growth": growth}


def _gap_core(layout: pd.DataFrame, rcd: np.ndarray) -> np.ndarray:
    """Core-periphery gap: the provincial capital's rcd minus the city's own (core cities: NaN)."""
    capital_of = {prov: pos for pos, (prov, cap) in enumerate(zip(layout["province"], layout["capital"], strict=True)) if cap}
    capital_pos = layout["province"].map(capital_of).to_numpy()
    gap_core = rcd[capital_pos] - rcd
    core = layout["core"].to_numpy().astype(bool)
    gap_core[core] = np.nan
    return gap_core
