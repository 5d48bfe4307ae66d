"""The true effects: each spec's estimand computed on a large simulated population.

A spec's estimand is the probability limit of its estimator with perfect nuisance learners. It is
computed on a simulated population (``TRUTH_REPLICATES`` independent panels drawn from a stream
separate from the data's): fixed effects are removed within the spec's sample as the harness does,
the treatment-caused part of the outcome and the treatment are partialled on a rich basis of the
demeaned controls that contains the DGP's own nonlinear shapes, and the residual-on-residual slope
is the truth. With a heterogeneous slope this is a weighted average of ``theta_it`` with weights
proportional to the squared residual treatment, which is what partialling-out PLR estimates.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
import pandas as pd

from harness.synth.layout import city_layout
from harness.synth.process import CONTROLS, DGP, simulate, within_deviations

__all__ = ["EFFECT_NOTES", "ESTIMANDS", "SAMPLES", "TRUTH_REPLICATES", "Estimand", "dev_cut_of", "truth_effects"]

TRUTH_REPLICATES = 20  # independent copies of the 279-city panel in the truth population

SAMPLES = {
    "all": "all 279 cities, 2011-2023",
    "no_municipality": "the 275 cities that are not municipalities",
    "from_2012": "all cities, 2012-2023 (the first year has no lag)",
    "east": "the 100 eastern cities",
    "central": "the 100 central cities",
    "west": "the 79 western cities",
    "low_dev": "cities with lngdppc_2011 below the split (dev_cut)",
    "high_dev": "cities with lngdppc_2011 at or above the split (dev_cut)",
    "periphery": "the 244 peripheral cities (core == 0)",
}


@dataclass(frozen=True)
class Estimand:
    """What one kind of spec estimates, in terms of the DGP.

    Attributes
    ----------
    key : str
        Its key in the truth file.
    description : str
        The spec it belongs to, in words.
    outcome : str
        The treatment-caused part of which outcome (a key of :func:`_signals`).
    treatment : str
        The spec's treatment (a key of :func:`_treatments`).
    sample : str
        A key of ``SAMPLES``.
    controls : tuple of str
        The spec's controls.
    instrument : str, optional
        PLIV instrument.
    binary : bool
        IRM with a median split of ``treatment``: the estimand is an average treatment effect.
    """

    key: str
    description: str
    outcome: str = "rcd"
    treatment: str = "dig_int"
    sample: str = "all"
    controls: tuple[str, ...] = CONTROLS
    instrument: Optional[str] = None
    binary: bool = False


ESTIMANDS: tuple[Estimand, ...] = (
    Estimand("theta_all", "rcd on dig_int, all cities (baseline, folds, learners, winsorising)"),
    Estimand("theta_digital_only", "rcd on digital alone (intel not controlled)", treatment="digital"),
    Estimand("theta_intel_only", "rcd on intel alone (digital not controlled)", treatment="intel"),
    Estimand("theta_no_municipality", "rcd on dig_int without the 4 municipalities", sample="no_municipality"),
    Estimand("theta_lag1", "rcd on dig_int lagged one year, 2012-2023", treatment="dig_int_lag1", sample="from_2012"),
    Estimand("theta_iv", "PLIV: rcd on dig_int instrumented by iv_post1984", instrument="iv_post1984"),
    Estimand("ate_dig_int_bin", "IRM: ATE of dig_int above its median on rcd", treatment="dig_int_bin", binary=True),
    Estimand("innov_effect", "innov on dig_int (a constant slope)", outcome="innov"),
    Estimand("ind_struct_effect", "ind_struct on dig_int (a constant slope)", outcome="ind_struct"),
    Estimand(
        "gov_interaction_spec",
        "rcd on dig_int_x_gov with dig_int and gov among the controls (the DGP's gov_interaction)",
        outcome="rcd_moderation",
        treatment="dig_int_x_gov",
        controls=("dig_int", *CONTROLS),
    ),
    Estimand("theta_east", "rcd on dig_int, eastern cities", sample="east"),
    Estimand("theta_central", "rcd on dig_int, central cities", sample="central"),
    Estimand("theta_west", "rcd on dig_int, western cities", sample="west"),
    Estimand("theta_low_dev", "rcd on dig_int, less developed cities", sample="low_dev"),
    Estimand("theta_high_dev", "rcd on dig_int, more developed cities", sample="high_dev"),
    Estimand("growth_effect", "growth on dig_int (a constant slope)", outcome="growth"),
    Estimand("gap_core_effect", "gap_core on dig_int, peripheral cities", outcome="gap_core", sample="periphery"),
)


def _signals(draw: dict[str, np.ndarray], p: DGP) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The part of each outcome that dig_int causes, as ``(slope, variable)`` pairs.

    The treatment-caused part of an outcome is ``sum(slope * variable)``. PLR truths use
    ``sum(slope * within(variable))``: the terms this drops, such as a heterogeneous slope times the
    national trend of dig_int, are (nearly) uncorrelated with the residual treatment in the
    population, so they would mostly add simulation noise (checked by simulation: their net pull
    is under a fifth of a standard error).
    """
    d = draw["dig_int"]
    theta = draw["theta"]
    return {
        "rcd": [(theta, d)],
        # The same part of rcd, split into its city-level slope and the dig_int x gov term, for the
        # moderation spec whose treatment is that product.
        "rcd_moderation": [(theta - p.gov_slope * draw["gov"], d), (np.full_like(d, p.gov_slope), d * draw["gov"])],
        "innov": [(np.full_like(d, p.innov_effect), d)],
        "ind_struct": [(np.full_like(d, p.ind_effect), d)],
        "growth": [(np.full_like(d, p.growth_effect), d)],
        # The capital's rcd does not respond to a peripheral city's dig_int.
        "gap_core": [(-theta, d)],
    }


def _treatments(draw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    d = draw["dig_int"]
    lag = np.full_like(d, np.nan)
    lag[:, 1:] = d[:, :-1]
    return {
        "dig_int": d,
        "digital": draw["digital"],
        "intel": draw["intel"],
        "dig_int_lag1": lag,
        "dig_int_x_gov": d * draw["gov"],
        "iv_post1984": draw["iv_post1984"],
    }


def _basis(x: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """A rich basis of demeaned controls: polynomials to degree 3 in each, all pairwise products,
    and the shapes the DGP uses (tanh, two-sided step, sine). Partialling on it stands in for the
    nuisance functions of a perfect learner."""
    z = x / scales
    n, k = z.shape
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    shapes = (z, z**2, z**3, np.tanh(1.5 * z), np.sin(2.0 * z), z > 0.5, z < -0.5)
    out = np.empty((n, 1 + len(shapes) * k + len(pairs)))
    out[:, 0] = 1.0
    for j, block in enumerate(shapes):
        out[:, 1 + j * k : 1 + (j + 1) * k] = block
    for j, (a, b) in enumerate(pairs):
        out[:, 1 + len(shapes) * k + j] = z[:, a] * z[:, b]
    return out


def _sample(layout: dict[str, np.ndarray], draw: dict[str, np.ndarray], sample: str, dev_cut: float) -> tuple[np.ndarray, slice]:
    """Cities and years of a sample; ``layout`` holds the map's columns as arrays."""
    years = slice(1, None) if sample == "from_2012" else slice(None)
    if sample in ("all", "from_2012"):
        return np.ones(len(layout["region"]), dtype=bool), years
    if sample in ("low_dev", "high_dev"):
        low = draw["lngdppc_2011"][:, 0] < dev_cut
        return (low if sample == "low_dev" else ~low), years
    if sample == "no_municipality":
        return layout["municipality"] == 0, years
    if sample == "periphery":
        return layout["core"] == 0, years
    return layout["region"] == sample, years


def _single_thread_blas() -> AbstractContextManager:
    """One BLAS thread for the truth's matrix products.

    They are small; on a busy machine a multithreaded BLAS spends seconds waiting for its threads.
    ``threadpoolctl`` comes with scikit-learn; without it the BLAS default stays.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn, a dependency, brings it
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _lstsq_gram(gram: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Least-squares coefficients from moments; the solve tolerates a basis column that is
    constant (or empty) in a subsample."""
    return np.linalg.lstsq(gram, cross, rcond=None)[0]


def _estimand_values(draws: list[dict[str, np.ndarray]], layout: pd.DataFrame, p: DGP, dev_cut: float) -> dict[str, float]:
    """Evaluate every estimand on the replicated population, one shared basis per sample."""
    groups: dict[tuple[str, tuple[str, ...]], list[Estimand]] = {}
    for est in ESTIMANDS:
        groups.setdefault((est.sample, est.controls), []).append(est)
    arrays = {col: layout[col].to_numpy() for col in ("region", "municipality", "core")}
    out: dict[str, float] = {}
    for (sample, controls), members in groups.items():
        out.update(_group_values(draws, arrays, p, dev_cut, sample, controls, members))
    return out


def _group_values(
    draws: list[dict[str, np.ndarray]],
    layout: dict[str, np.ndarray],
    p: DGP,
    dev_cut: float,
    sample: str,
    controls: tuple[str, ...],
    members: list[Estimand],
) -> dict[str, float]:
    """Estimands that share a sample and controls.

    Least squares runs on cross-products accumulated replicate by replicate (each replicate is
    demeaned on its own, as a spec demeans its one panel), so the population is never stacked.
    """
    scales = np.array([{**p.within_scale, "dig_int": 0.027}[c] for c in controls])
    plr = [est for est in members if not est.binary]
    names = [f"{kind}:{est.key}" for est in plr for kind in ("y", "d", "z") if kind != "z" or est.instrument]
    gram = cross = inner = None  # B'B, B'T and T'T of the partialled columns T
    arms: dict[float, list[np.ndarray]] = {}  # IRM: per arm, B'B and B'y
    basis_sum, n_rows = 0.0, 0
    for draw in draws:
        cities, years = _sample(layout, draw, sample, dev_cut)
        signals, treatments = _signals(draw, p), _treatments(draw)
        x = np.column_stack([within_deviations(draw[c][cities, years]).reshape(-1) for c in controls])
        basis = _basis(x, scales)
        blocks: dict[str, np.ndarray] = {}
        for est in members:
            slopes = [(s[cities, years], v[cities, years]) for s, v in signals[est.outcome]]
            if est.binary:
                # IRM: the binary treatment is not demeaned, and the estimand involves the whole
                # demeaned signal, including a heterogeneous slope times the national trend.
                d = treatments["dig_int"][cities, years].reshape(-1)
                y = within_deviations(sum(s * v for s, v in slopes)).reshape(-1)
                for arm in (1.0, 0.0):
                    rows = (d > np.median(d)) == bool(arm)
                    moments = [basis[rows].T @ basis[rows], basis[rows].T @ y[rows]]
                    arms[arm] = moments if arm not in arms else [a + m for a, m in zip(arms[arm], moments, strict=True)]
                basis_sum, n_rows = basis_sum + basis.sum(axis=0), n_rows + len(basis)
                continue
            blocks[f"y:{est.key}"] = sum(s * within_deviations(v) for s, v in slopes)
            blocks[f"d:{est.key}"] = within_deviations(treatments[est.treatment][cities, years])
            if est.instrument:
                blocks[f"z:{est.key}"] = within_deviations(treatments[est.instrument][cities, years])
        if names:
            targets = np.column_stack([blocks[k].reshape(-1) for k in names])
            parts = (basis.T @ basis, basis.T @ targets, targets.T @ targets)
            gram, cross, inner = parts if gram is None else (gram + parts[0], cross + parts[1], inner + parts[2])
    out = {}
    if names:
        # Cross-products of the residuals after partialling on the basis: T'T - T'B (B'B)^- B'T.
        resid = inner - cross.T @ _lstsq_gram(gram, cross)
        at = {name: k for k, name in enumerate(names)}
        for est in plr:
            y, d = at[f"y:{est.key}"], at[f"d:{est.key}"]
            z = at[f"z:{est.key}"] if est.instrument else d
            out[est.key] = float(resid[y, z] / resid[d, z])
    for est in members:
        if est.binary:
            # Regression adjustment: the average over all rows of E[y | d=1, x] - E[y | d=0, x].
            diff = _lstsq_gram(*arms[1.0]) - _lstsq_gram(*arms[0.0])
            out[est.key] = float(basis_sum @ diff / n_rows)
    return out


# Truth keys that are DGP parameters rather than computed estimands.
EFFECT_NOTES = {
    "gov_interaction": "DGP coefficient of dig_int x gov in rcd (gov_slope); the moderation spec's estimand",
}


def dev_cut_of(draw: dict[str, np.ndarray]) -> float:
    """The low/high development split: the city median of 2011 log GDP per capita, rounded to two
    decimals so that it reads well in a spec's ``sample`` string."""
    return round(float(np.median(draw["lngdppc_2011"][:, 0])), 2)


@lru_cache(maxsize=4)
def truth_effects(seed: int, dev_cut: float) -> tuple[tuple[str, float], ...]:
    """Estimands on the truth population of ``seed`` (cached: it is the slow part)."""
    p, layout = DGP(), city_layout()
    streams = np.random.SeedSequence([seed, 1]).spawn(TRUTH_REPLICATES)
    draws = [simulate(np.random.default_rng(s), layout, p) for s in streams]
    with _single_thread_blas():
        values = _estimand_values(draws, layout, p, dev_cut)
    arrays = {col: layout[col].to_numpy() for col in ("region", "municipality", "core")}
    means = {}
    for sample in SAMPLES:
        thetas = []
        for draw in draws:
            cities, years = _sample(arrays, draw, sample, dev_cut)
            thetas.append(draw["theta"][cities, years].reshape(-1))
        means[f"theta_mean_{sample}"] = float(np.concatenate(thetas).mean())
    return tuple({**values, **means}.items())
