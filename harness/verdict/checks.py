"""Checks and the verdict's coverage rule.

A check compares one quantity (of one repetition, or of the aggregate) with a limit and could fail.
The verdict rule, stated once (:func:`required_coverage`, :func:`assert_covered`): a spec is judged
only when its end-to-end checks cover every compared quantity of every repetition and of the
aggregate:

* exact tier: coef and se of each repetition; coef, se, t, p and CI of the aggregate;
* statistical tier: coef and se of each repetition; coef, se and p of the aggregate;
* with several treatments: all of that for each treatment;
* with a bootstrap: its critical value (and, exact tier, the bootstrapped t statistics of each
  repetition), with the tool's shared weights and, within a Monte Carlo bound, with each package's
  own draws (``monte_carlo`` layer); with joint intervals, each treatment's joint interval (both
  ways); with ``p_adjust``, each treatment's adjusted p-value (Romano-Wolf: both ways).

A comparison that leaves a gap raises :class:`VerdictError` instead of passing vacuously. Only a
check that could fail covers anything: one whose limit is at or beyond the worst value its metric can
take (``can_fail`` False, e.g. a Monte Carlo bound from a handful of bootstrap draws) is kept in the
results, marked, and counts for nothing.

Each difference measure is one function here, used by every layer, and NaN on either side makes it
NaN, which fails: :func:`coef_diff` (relative to max(|coef|, se): a placebo's coefficient at 0 leaves
the scale in place), :func:`t_diff`, :func:`rel_diff` (se, critical values), :func:`abs_diff`
(p-values), :func:`diff_in_se` (CI bounds), :func:`norm_rel_diff` (whole arrays), :func:`same_sign`
and :func:`same_significance` (statistical tier).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = [
    "EXPLAINED_LIMIT",
    "LEARNER_FREE_LIMIT",
    "SIGNIFICANCE_LEVELS",
    "Check",
    "VerdictError",
    "abs_diff",
    "assert_covered",
    "at_least",
    "covered_by",
    "at_most",
    "coef_diff",
    "diff_in_se",
    "norm_rel_diff",
    "rel_diff",
    "required_coverage",
    "same_sign",
    "same_significance",
    "t_diff",
]

PER_REP = ("coef", "se")
AGGREGATE = {"exact": ("coef", "se", "t", "p", "ci"), "statistical": ("coef", "se", "p")}
SIGNIFICANCE_LEVELS = (0.01, 0.05, 0.10)  # the levels a p-value's stars mark (***, **, *)
# Python's code on R's predictions reproduces R's numbers to rounding (the learner_free layer).
LEARNER_FREE_LIMIT = 1e-10
# A rule recomputed from numbers both packages share reproduces the reported value to rounding.
EXPLAINED_LIMIT = 1e-10


class VerdictError(RuntimeError):
    """The comparison left a compared quantity without a check: a defect of the tool, never a pass."""


@dataclass(frozen=True)
class Check:
    """One comparison with a limit.

    Attributes
    ----------
    name : str
        Unique within a spec, e.g. ``end_to_end.se.rep2`` or ``nuisance.ml_m.corr``.
    layer : str
        ``end_to_end``, ``learner_free``, ``rule``, ``nuisance``, ``folds`` or ``monte_carlo``.
    quantity : str or None
        ``coef``, ``se``, ``t``, ``p`` or ``ci``; with joint inference ``boot_t``, ``crit``,
        ``joint_ci`` or ``p_adjust`` (None for nuisance and fold checks).
    rep : int or None
        1-based repetition, or None for the aggregate.
    value, limit : float
    ok : bool
        ``value`` within ``limit`` (NaN never is).
    metric : str
        How ``value`` is measured, in words, for the report.
    treatment : str or None
        The treatment a check belongs to when a spec has several (its name then starts with
        ``<treatment>/``); None for one treatment and for checks of the whole fit.
    can_fail : bool
        False when no value the metric can take would fail the limit: such a check covers nothing.
    """

    name: str
    layer: str
    quantity: Optional[str]
    rep: Optional[int]
    value: float
    limit: float
    ok: bool
    metric: str
    treatment: Optional[str] = None
    can_fail: bool = True

    def as_dict(self) -> dict:
        out = {
            "name": self.name,
            "layer": self.layer,
            "quantity": self.quantity,
            "rep": self.rep,
            "value": _num(self.value),
            "limit": _num(self.limit),
            "ok": bool(self.ok),
            "metric": self.metric,
        }
        if self.treatment is not None:
            out["treatment"] = self.treatment
        if not self.can_fail:
            out["can_fail"] = False
        return out

    def for_treatment(self, treatment: str) -> Check:
        """This check as one of several treatments' (a check made on that treatment's own view)."""
        return dataclasses.replace(self, name=_named(self.name, treatment), treatment=treatment)


def _num(value: float) -> Optional[float]:
    return None if value is None or not np.isfinite(value) else float(value)


def at_most(
    name: str,
    layer: str,
    quantity: Optional[str],
    rep: Optional[int],
    value: float,
    limit: float,
    metric: str,
    largest: Optional[float] = None,
    treatment: Optional[str] = None,
    can_fail: bool = True,
) -> Check:
    """``value <= limit``; ``largest``: the largest value the metric can take (None: unbounded);
    ``treatment``: the treatment the check belongs to (its name then starts with ``<treatment>/``);
    ``can_fail`` False: the check cannot fail for a reason its limit does not show (too few draws)."""
    ok, can_fail = bool(np.isfinite(value) and value <= limit), can_fail and (largest is None or limit < largest)
    return Check(_named(name, treatment), layer, quantity, rep, float(value), float(limit), ok, metric, treatment, can_fail)


def at_least(
    name: str,
    layer: str,
    quantity: Optional[str],
    rep: Optional[int],
    value: float,
    limit: float,
    metric: str,
    smallest: Optional[float] = None,
    treatment: Optional[str] = None,
) -> Check:
    """``value >= limit``; ``smallest``: the smallest value the metric can take (None: unbounded);
    ``treatment`` as in :func:`at_most`."""
    ok, can_fail = bool(np.isfinite(value) and value >= limit), smallest is None or limit > smallest
    return Check(_named(name, treatment), layer, quantity, rep, float(value), float(limit), ok, metric, treatment, can_fail)


def _named(name: str, treatment: Optional[str]) -> str:
    return name if treatment is None else f"{treatment}/{name}"


def rel_diff(a: float | np.ndarray, b: float | np.ndarray) -> float:
    """Largest elementwise ``|a - b| / max(|a|, |b|)`` (0 where both are 0, NaN where either is)."""
    a = np.atleast_1d(np.asarray(a, dtype=float))
    b = np.atleast_1d(np.asarray(b, dtype=float))
    if a.shape != b.shape or np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    out = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)
    return float(out.max()) if out.size else 0.0


def _scaled(a: float | np.ndarray, b: float | np.ndarray, floor: float | np.ndarray) -> float:
    """Largest elementwise ``|a - b| / max(|a|, |b|, floor)``; NaN (a failed check) where any input
    is NaN or a floor is not positive."""
    a, b, floor = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, b, floor))
    if a.shape != b.shape or np.isnan(a).any() or np.isnan(b).any() or not (floor > 0).all():
        return float("nan")
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


def coef_diff(a: float | np.ndarray, b: float | np.ndarray, se: float | np.ndarray) -> float:
    """Largest ``|a - b| / max(|a|, |b|, se)`` of coefficients: relative where a coefficient is large
    against its se, in units of the se where it is near 0 (a placebo, a null subgroup), so that the
    scale of a difference never vanishes with the coefficient. ``se``: the larger of the two sides'
    standard errors of that coefficient; NaN (a failed check) when it is not positive."""
    return _scaled(a, b, se)


def t_diff(a: float | np.ndarray, b: float | np.ndarray) -> float:
    """Largest ``|a - b| / max(|a|, |b|, 1)`` of t statistics: a t statistic is a coefficient in units
    of its se, so the floor of :func:`coef_diff` is 1 here."""
    return _scaled(a, b, 1.0)


def abs_diff(a: float | np.ndarray, b: float | np.ndarray) -> float:
    """Largest ``|a - b|``, for p-values (on [0, 1]: their scale is fixed); NaN where either is NaN."""
    a, b = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, b))
    if a.shape != b.shape or np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def same_sign(a: float, b: float, band: float) -> float:
    """1.0 when two coefficients have the same sign or both lie within ``band`` (the tolerance, in
    the coefficient's units) of 0, where a sign says nothing; else 0.0; NaN when any input is NaN.
    Once |a - b| <= band holds, opposite signs occur only inside it: without the band the check
    would fail exactly at placebos."""
    if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(band)):
        return float("nan")
    return float(np.sign(a) == np.sign(b) or max(abs(a), abs(b)) <= band)


def same_significance(p_a: float, p_b: float) -> float:
    """1.0 when the same number of the 1/5/10 % levels reject for both p-values, else 0.0; NaN (a
    failed check) when either is NaN, which rejects at no level and would otherwise match."""
    if not (np.isfinite(p_a) and np.isfinite(p_b)):
        return float("nan")
    return float(sum(p_a < level for level in SIGNIFICANCE_LEVELS) == sum(p_b < level for level in SIGNIFICANCE_LEVELS))


def norm_rel_diff(a: np.ndarray, b: np.ndarray, floor: float = 0.0) -> float:
    """``max |a - b| / max(|a|, |b|, floor)`` over the whole array: for predictions, where single values
    near 0 would make an elementwise relative difference meaningless. ``floor``: the size of what
    they predict (its largest magnitude), for predictions that are all near 0 themselves (a lasso
    that keeps no coefficient predicts a demeaned target's mean, 1e-17, where rounding alone is
    tens of percent of the predictions)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    scale = max(float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)), floor)
    return float(np.abs(a - b).max(initial=0.0) / scale) if scale > 0 else 0.0


def diff_in_se(a: float | np.ndarray, b: float | np.ndarray, se: float | np.ndarray) -> float:
    """Largest ``|a - b| / se``: differences of CI bounds, which may sit near 0, in units of the se."""
    a, b, se = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, b, se))
    if np.isnan(a).any() or np.isnan(b).any() or not (se > 0).all():
        return float("nan")
    return float(np.max(np.abs(a - b) / se))


def required_coverage(
    tier: str,
    n_rep: int,
    treatments: Optional[Sequence[Optional[str]]] = None,
    bootstrap: bool = False,
    joint: bool = False,
    p_adjust: Optional[str] = None,
) -> set[tuple]:
    """What the end-to-end checks must cover; repetition None is the aggregate.

    One treatment and pointwise inference (the defaults): (quantity, repetition) pairs. Otherwise
    (quantity, repetition, treatment) triples, treatment None for one treatment and for the whole
    fit; quantities checked with each package's own bootstrap draws (layer ``monte_carlo``) are
    prefixed ``mc_``.
    """
    per_rep = {(q, rep) for q in PER_REP for rep in range(1, n_rep + 1)}
    pairs = per_rep | {(q, None) for q in AGGREGATE[tier]}
    if treatments is None and not (bootstrap or joint or p_adjust):
        return pairs
    names = list(treatments) if treatments else [None]
    out = {(q, rep, d) for d in names for q, rep in pairs}
    if bootstrap:
        out |= {("crit", None, None), ("mc_crit", None, None)}
        if tier == "exact":
            out |= {("boot_t", rep, None) for rep in range(1, n_rep + 1)}
    if joint:
        out |= {(q, None, d) for d in names for q in ("joint_ci", "mc_joint_ci")}
    if p_adjust:
        out |= {("p_adjust", None, d) for d in names}
        if p_adjust == "romano-wolf":
            out |= {("mc_p_adjust", None, d) for d in names}
    return out


def covered_by(checks: list[Check], triples: bool) -> set[tuple]:
    """What the checks cover, in :func:`required_coverage`'s form; a check that cannot fail covers nothing."""
    return _cover([c for c in checks if c.can_fail], triples)


def _cover(checks: list[Check], triples: bool) -> set[tuple]:
    if not triples:
        return {(c.quantity, c.rep) for c in checks if c.layer == "end_to_end"}
    out = {(c.quantity, c.rep, c.treatment) for c in checks if c.layer == "end_to_end"}
    return out | {(f"mc_{c.quantity}", c.rep, c.treatment) for c in checks if c.layer == "monte_carlo"}


def assert_covered(
    checks: list[Check],
    tier: str,
    n_rep: int,
    spec_id: str = "",
    treatments: Optional[Sequence[Optional[str]]] = None,
    bootstrap: bool = False,
    joint: bool = False,
    p_adjust: Optional[str] = None,
) -> None:
    """Raise :class:`VerdictError` when a compared quantity has no check."""
    required = required_coverage(tier, n_rep, treatments, bootstrap, joint, p_adjust)
    triples = bool(required) and len(next(iter(required))) == 3
    missing = required - covered_by(checks, triples)
    if missing:
        listed = ", ".join(_describe(item) for item in sorted(missing, key=str))
        hollow = missing & _cover(checks, triples)
        why = f" (checked only by checks that cannot fail: {', '.join(_describe(i) for i in sorted(hollow, key=str))})"
        raise VerdictError(f"spec '{spec_id}': no end-to-end check for {listed}; the tool cannot judge it{why if hollow else ''}")


def _describe(item: tuple) -> str:
    quantity, rep = item[0], item[1]
    where = "the aggregate" if rep is None else f"repetition {rep}"
    treatment = f" of treatment {item[2]}" if len(item) == 3 and item[2] is not None else ""
    if quantity.startswith("mc_"):
        return f"{quantity[3:]} with the packages' own draws{treatment}"
    return f"{quantity} of {where}{treatment}"
