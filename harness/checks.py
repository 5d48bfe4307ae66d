"""Checks and the verdict's coverage rule.

A check compares one quantity (of one repetition, or of the aggregate) with a limit and could fail.
The verdict rule, stated once (:func:`required_coverage`, :func:`assert_covered`): a spec is judged
only when its end-to-end checks cover every compared quantity of every repetition and of the
aggregate:

* exact tier: coef and se of each repetition; coef, se, t, p and CI of the aggregate;
* statistical tier: coef and se of each repetition; coef, se and p of the aggregate.

A comparison that leaves a gap raises :class:`VerdictError` instead of passing vacuously.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = [
    "Check",
    "VerdictError",
    "assert_covered",
    "at_least",
    "at_most",
    "diff_in_se",
    "norm_rel_diff",
    "rel_diff",
    "required_coverage",
]

PER_REP = ("coef", "se")
AGGREGATE = {"exact": ("coef", "se", "t", "p", "ci"), "statistical": ("coef", "se", "p")}


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
        ``end_to_end``, ``learner_free``, ``rule``, ``nuisance`` or ``folds``.
    quantity : str or None
        ``coef``, ``se``, ``t``, ``p`` or ``ci`` (None for nuisance and fold checks).
    rep : int or None
        1-based repetition, or None for the aggregate.
    value, limit : float
    ok : bool
        ``value`` within ``limit`` (NaN never is).
    metric : str
        How ``value`` is measured, in words, for the report.
    """

    name: str
    layer: str
    quantity: Optional[str]
    rep: Optional[int]
    value: float
    limit: float
    ok: bool
    metric: str

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "layer": self.layer,
            "quantity": self.quantity,
            "rep": self.rep,
            "value": _num(self.value),
            "limit": _num(self.limit),
            "ok": bool(self.ok),
            "metric": self.metric,
        }


def _num(value: float) -> Optional[float]:
    return None if value is None or not np.isfinite(value) else float(value)


def at_most(name: str, layer: str, quantity: Optional[str], rep: Optional[int], value: float, limit: float, metric: str) -> Check:
    return Check(name, layer, quantity, rep, float(value), float(limit), bool(np.isfinite(value) and value <= limit), metric)


def at_least(
    name: str, layer: str, quantity: Optional[str], rep: Optional[int], value: float, limit: float, metric: str
) -> Check:
    return Check(name, layer, quantity, rep, float(value), float(limit), bool(np.isfinite(value) and value >= limit), metric)


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


def norm_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max(|a|, |b|)`` over the whole array: for predictions, where single values near 0
    would make an elementwise relative difference meaningless."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    scale = max(float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)))
    return float(np.abs(a - b).max(initial=0.0) / scale) if scale > 0 else 0.0


def diff_in_se(a: float | np.ndarray, b: float | np.ndarray, se: float | np.ndarray) -> float:
    """Largest ``|a - b| / se``: differences of CI bounds, which may sit near 0, in units of the se."""
    a, b, se = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, b, se))
    if np.isnan(a).any() or np.isnan(b).any() or not (se > 0).all():
        return float("nan")
    return float(np.max(np.abs(a - b) / se))


def required_coverage(tier: str, n_rep: int) -> set[tuple[str, Optional[int]]]:
    """(quantity, repetition) pairs the end-to-end checks must cover; repetition None is the aggregate."""
    per_rep = {(q, rep) for q in PER_REP for rep in range(1, n_rep + 1)}
    return per_rep | {(q, None) for q in AGGREGATE[tier]}


def assert_covered(checks: list[Check], tier: str, n_rep: int, spec_id: str = "") -> None:
    """Raise :class:`VerdictError` when an end-to-end quantity has no check."""
    covered = {(c.quantity, c.rep) for c in checks if c.layer == "end_to_end"}
    missing = required_coverage(tier, n_rep) - covered
    if missing:
        listed = ", ".join(f"{q} of {'the aggregate' if r is None else f'repetition {r}'}" for q, r in sorted(missing, key=str))
        raise VerdictError(f"spec '{spec_id}': no end-to-end check for {listed}; the tool cannot judge it")
