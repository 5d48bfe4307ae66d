"""The within transformation: remove the fixed effects of one or more factors from a column.

Alternating projections (subtract each factor's group means in turn) are exact in one sweep for
one factor or a balanced panel and converge quickly on mildly unbalanced panels, so they come
first and give those panels the same bytes as ever. On a weakly connected panel (units seen in
few, staggered periods) they crawl: the error shrinks by a factor close to 1 per sweep, and a
small change per sweep does not mean the answer is near. There the residual is finished by
conjugate gradients on the normal equations of the dummy regression (Jacobi-preconditioned, from
scipy), whose residual is exactly the group sums that must vanish. Either way the result is
checked the same way, every group mean below ``tol`` times the column's scale, and a column that
fails raises :class:`NotConverged` instead of returning a half-demeaned column.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NotConverged", "demean", "largest_group_mean"]

MAX_SWEEPS = 200


class NotConverged(ArithmeticError):
    """The fixed effects could not be removed to the requested tolerance."""

    def __init__(self, remaining: float, sweeps: int, cg_steps: int) -> None:
        super().__init__(
            f"largest group mean left {remaining:.1e} of the column's scale after {sweeps} sweeps "
            f"and {cg_steps} conjugate-gradient steps"
        )
        self.remaining = remaining
        self.sweeps = sweeps
        self.cg_steps = cg_steps


def largest_group_mean(values: np.ndarray, factors: list[np.ndarray]) -> float:
    """The largest absolute mean of ``values`` within any group of any factor."""
    return max(float(np.abs(np.bincount(codes, weights=values) / np.bincount(codes)).max()) for codes in factors)


def _sweeps(resid: np.ndarray, factors: list[np.ndarray], tol: float, max_sweeps: int) -> tuple[np.ndarray, int]:
    for sweep in range(1, max_sweeps + 1):
        before = resid.copy()
        for codes in factors:
            means = np.bincount(codes, weights=resid) / np.bincount(codes)
            resid = resid - means[codes]
        if len(factors) == 1 or np.abs(resid - before).max() < tol:
            return resid, sweep
    return resid, max_sweeps


def _conjugate_gradient(resid: np.ndarray, factors: list[np.ndarray], tol: float) -> tuple[np.ndarray, int]:
    """Project ``resid`` off the span of the factors' dummies by solving D'D theta = D'resid."""
    from scipy import sparse
    from scipy.sparse.linalg import LinearOperator, cg

    n = len(resid)
    offsets = np.cumsum([0] + [int(codes.max()) + 1 for codes in factors])
    columns = np.concatenate([codes + offset for codes, offset in zip(factors, offsets[:-1], strict=True)])
    rows = np.tile(np.arange(n), len(factors))
    dummies = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n, int(offsets[-1])))
    counts = np.asarray(dummies.sum(axis=0)).ravel()
    steps, last = 0, np.zeros(len(counts))

    def keep(theta: np.ndarray) -> None:
        # Below rounding level CG can break down (a search direction in the null space of the
        # singular D'D) and return NaN: the last finite iterate is kept instead.
        nonlocal steps, last
        steps += 1
        if np.isfinite(theta).all():
            last = theta.copy()

    normal = LinearOperator((len(counts), len(counts)), matvec=lambda v: dummies.T @ (dummies @ v), dtype=float)
    jacobi = LinearOperator((len(counts), len(counts)), matvec=lambda v: v / counts, dtype=float)
    # CG's residual D'(resid - D theta) holds each group's sum, and a group of m rows meets the
    # tolerance once its sum is below m * tol: a 2-norm below the smallest group's share suffices.
    atol = tol * float(counts.min())
    with np.errstate(divide="ignore", invalid="ignore"):  # the breakdown above is handled, not warned about
        theta, _ = cg(normal, dummies.T @ resid, rtol=0.0, atol=atol, maxiter=20 * len(counts), M=jacobi, callback=keep)
    return resid - dummies @ (theta if np.isfinite(theta).all() else last), steps


def demean(values: np.ndarray, factors: list[np.ndarray], tol: float = 1e-13, max_sweeps: int = MAX_SWEEPS) -> np.ndarray:
    """Remove the fixed effects of ``factors`` (0-based integer codes, one array per factor).

    Parameters
    ----------
    values : numpy.ndarray
        One column.
    factors : list of numpy.ndarray
        Group codes of each factor, e.g. ``[unit, time]``.
    tol : float
        Required precision relative to the column's scale (its largest absolute value, at least 1):
        afterwards every group mean of every factor is below ``tol * scale``.
    max_sweeps : int
        Alternating-projection sweeps before conjugate gradients take over.

    Returns
    -------
    numpy.ndarray
        The column with the fixed effects removed.

    Raises
    ------
    NotConverged
        When even conjugate gradients leave a group mean above the tolerance.
    """
    resid = values.astype(float).copy()
    limit = tol * max(float(np.abs(resid).max()), 1.0)
    resid, sweeps = _sweeps(resid, factors, limit, max_sweeps)
    if largest_group_mean(resid, factors) < limit:
        return resid
    resid, steps = _conjugate_gradient(resid, factors, limit)
    remaining = largest_group_mean(resid, factors)
    if not remaining < limit:
        raise NotConverged(remaining / (limit / tol), sweeps, steps)
    return resid
